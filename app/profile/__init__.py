from flask import Blueprint

bp = Blueprint("profile", __name__)

from app.profile import account, email, methods, required, routes, sessions  # noqa: E402,F401
from app.methods.phone import views as phone_views  # noqa: E402,F401
from app.methods.totp import views as totp_views  # noqa: E402,F401
from app.methods.webauthn import views as passkey_views  # noqa: E402,F401
