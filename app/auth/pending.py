"""The half-finished login between the password and the code, kept in a server-side session.

Its code attempts are counted under the login's own random id (app.auth.attempts).
"""
import secrets
import time
from dataclasses import dataclass

from flask import current_app, session

from app.auth.attempts import CodeAttempts
from app.auth.session import start_server_session
from app.extensions import db
from app.models import User

PREFIX = "pending_login_"


@dataclass
class PendingLogin:
    user_id: int
    remember: bool
    next: str
    created_at: float
    session_token: str = ""  # the user's token when the password was checked
    id: str = ""  # names this login's attempt counter
    way: str = ""  # the key of the way chosen (app.methods.Way); "" for the one used last

    @classmethod
    def start(cls, user, remember, next_url, way=""):
        """A new server-side session holding the login, under a new id."""
        start_server_session(user)
        pending = cls(user.id, bool(remember), next_url, time.time(),
                      session_token=user.session_token, id=secrets.token_urlsafe(16), way=way)
        pending.save()
        return pending

    @classmethod
    def load(cls):
        """The pending login, or None if there is none, it is stale, or its user is gone."""
        try:
            pending = cls(
                user_id=int(session[PREFIX + "user_id"]),
                remember=bool(session[PREFIX + "remember"]),
                next=str(session[PREFIX + "next"]),
                created_at=float(session[PREFIX + "created_at"]),
                session_token=str(session[PREFIX + "session_token"]),
                id=str(session[PREFIX + "id"]),
                way=str(session.get(PREFIX + "way", "")),
            )
        except (KeyError, TypeError, ValueError):
            clear()
            return None
        age = time.time() - pending.created_at
        if not 0 <= age <= current_app.config["CODE_TTL"].total_seconds():
            clear()
            return None
        return pending

    def save(self):
        for name, value in vars(self).items():
            session[PREFIX + name] = value

    def user(self):
        user = session.user if getattr(session, "user", None) is not None else db.session.get(User, self.user_id)
        if user is None or user.id != self.user_id or not user.two_factor_enabled:
            return None
        # A new password, a new phone or 2FA turned off rotates the token: a login begun before ends.
        return user if secrets.compare_digest(user.session_token, self.session_token) else None

    def attempts(self):
        return CodeAttempts("login-attempts", self.id)

    def take_attempt(self):
        """Takes one of this login's code attempts (see CodeAttempts.take)."""
        return self.attempts().take()

    def attempts_left(self):
        return self.attempts().left()


def clear():
    for key in [key for key in session if key.startswith(PREFIX)]:
        session.pop(key)
