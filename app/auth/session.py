"""Starting and ending a session: a login (or a pending one) lives on the server, under a new id."""
import time

from flask import current_app, session
from flask_login import login_user, logout_user

from app import events
from app.security import AUTH_AT, FINGERPRINT, NETWORK, PASSWORD_AT, REMEMBERED, client_fingerprint, client_network


def start_server_session(user):
    """A new server-side session for `user` under a new id: nothing planted before survives it."""
    current_app.session_interface.start(session, user.id)


def complete_login(user, remember):
    """The last step of every login: a fresh session, then Flask-Login, then our timestamps.

    "Remember me" makes this server-side session long-lived instead of setting Flask-Login's
    remember cookie, so every way of ending a session (logout, a rotated token) ends it too.
    """
    start_server_session(user)
    login_user(user)
    session.permanent = bool(remember)
    session[AUTH_AT] = session[PASSWORD_AT] = time.time()
    session[REMEMBERED] = bool(remember)
    session[FINGERPRINT] = client_fingerprint()
    session[NETWORK] = client_network()


def refresh_login(user):
    """After the user's session token rotated, keep this session and end every other one."""
    login_user(user)
    end_other_sessions(user)


def end_other_sessions(user):
    ended = current_app.session_interface.end_for_user(user.id, except_session=session._get_current_object())
    if ended:
        events.record(events.SESSIONS_REVOKED, user, detail=str(ended))
    return ended


def end_session():
    current_app.session_interface.end(session._get_current_object(), keep=())
    logout_user()
