from flask import Blueprint

bp = Blueprint("profile", __name__)

from app.profile import account, phone, routes  # noqa: E402,F401
