from flask import Blueprint

bp = Blueprint("profile", __name__)

from app.profile import account, email, methods, phone, required, routes  # noqa: E402,F401
from app.methods.totp import views  # noqa: E402,F401
