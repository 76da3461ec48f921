"""Starting and ending a session: a login (or a pending one) lives on the server, under a new id."""
import time

from flask import current_app, session
from flask_login import login_user, logout_user

from app import events
from app.security import (AUTH_AT, BROWSER, FINGERPRINT, NETWORK, REMEMBERED, client_fingerprint, client_network,
                          short_user_agent)


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
    session[AUTH_AT] = time.time()
    session[REMEMBERED] = bool(remember)
    session[FINGERPRINT] = client_fingerprint()
    session[NETWORK] = client_network()
    session[BROWSER] = short_user_agent()[:60]


def refresh_login(user, *changes):
    """After a change that rotated the user's session token: keep this session, end every other
    one, and commit, with `changes` ((kind, detail) events) and the sessions ended recorded in one
    statement. Returns the flash's last sentence: whether other sessions were logged out."""
    login_user(user)
    ended = current_app.session_interface.end_for_user(user.id, except_session=session._get_current_object())
    events.record_all([*changes, *([(events.SESSIONS_REVOKED, str(ended))] if ended else [])], user)
    return OTHER_SESSIONS_ENDED if ended else ""


OTHER_SESSIONS_ENDED = " Your other sessions have been logged out."


def end_session():
    current_app.session_interface.end(session._get_current_object(), keep=())
    logout_user()
