"""Starting and ending an authenticated session."""
import time

from flask import session
from flask_login import login_user, logout_user

from app import events
from app.security import AUTH_AT, FINGERPRINT, PASSWORD_AT, REMEMBERED, client_fingerprint, start_fresh_session



def complete_login(user, remember):
    """The last step of every login: a fresh session, then Flask-Login, then our timestamps.

    "Remember me" makes this server-side session long-lived instead of setting Flask-Login's
    remember cookie, so every way of ending a session (logout, a rotated token) ends it too.
    """
    start_fresh_session()
    login_user(user)
    session.permanent = bool(remember)
    session[AUTH_AT] = session[PASSWORD_AT] = time.time()
    session[REMEMBERED] = bool(remember)
    session[FINGERPRINT] = client_fingerprint()


def refresh_login(user):
    """After the user's session token rotated (ending every other session), keep this one."""
    login_user(user)
    events.record(events.SESSIONS_REVOKED, user)


def end_session():
    start_fresh_session()
    logout_user()
