"""Starting and ending an authenticated session."""
import time

from flask import session
from flask_login import login_user, logout_user

from app.security import AUTH_AT, PASSWORD_AT, start_fresh_session

REMEMBERED = "remembered"


def complete_login(user, remember):
    """The last step of every login: a fresh session, then Flask-Login, then our timestamps."""
    start_fresh_session()
    login_user(user, remember=remember)
    session[AUTH_AT] = session[PASSWORD_AT] = time.time()
    session[REMEMBERED] = bool(remember)


def refresh_login(user):
    """After the user's session token rotates, keep this session (and its remember cookie)."""
    login_user(user, remember=session.get(REMEMBERED, False))


def end_session():
    start_fresh_session()
    logout_user()
