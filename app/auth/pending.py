"""The half-finished login between the password and the code, kept in the server-side session."""
import secrets
import time
from dataclasses import dataclass

from flask import current_app, session

from app.extensions import db
from app.models import User

PREFIX = "pending_login_"


@dataclass
class PendingLogin:
    user_id: int
    remember: bool
    next: str
    created_at: float
    attempts: int = 0
    session_token: str = ""  # the user's token when the password was checked

    @classmethod
    def start(cls, user, remember, next_url):
        clear()
        pending = cls(user.id, bool(remember), next_url, time.time(), session_token=user.session_token)
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
                attempts=int(session.get(PREFIX + "attempts", 0)),
                session_token=str(session[PREFIX + "session_token"]),
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
        user = db.session.get(User, self.user_id)
        if user is None or not user.two_factor_enabled:
            return None
        # A new password, a new phone or 2FA turned off rotates the token: a login begun before ends.
        return user if secrets.compare_digest(user.session_token, self.session_token) else None

    def count_wrong_code(self):
        """Returns True while more attempts are allowed for this pending login."""
        self.attempts += 1
        self.save()
        return self.attempts < current_app.config["CODE_ATTEMPTS_PER_LOGIN"]


def clear():
    for key in [key for key in session if key.startswith(PREFIX)]:
        session.pop(key)
