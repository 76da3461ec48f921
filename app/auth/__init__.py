from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import email_links, login_code, reauthenticate, routes  # noqa: E402,F401
from app.methods.webauthn import signin  # noqa: E402,F401
