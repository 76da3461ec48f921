"""Resetting a forgotten password through a link sent to the account's confirmed address.

The link carries a token signed with SECRET_KEY over the user's id and a fingerprint of the
account's current password hash and address: nothing is stored. It lives 30 minutes, and dies as
soon as the password changes (its first use changes it) or the address does. Setting the new
password is one conditional UPDATE on the old hash: of two uses of a link at once, one wins.
A reset ends every session and forgets remembered browsers; it never skips 2FA.
"""
import hashlib
import hmac
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app import events
from app.emails import mask_email, parse_email, InvalidEmail
from app.extensions import db
from app.i18n import N_
from app.mail import compose, link
from app.models import TrustedDevice, User, new_session_token

LIFETIME = timedelta(minutes=30)
SALT = "password-reset"


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def fingerprint(user):
    """Changes whenever the password or the address does, so a link made before dies."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"reset:{user.password_hash}:{user.email}".encode(), hashlib.sha256).hexdigest()[:32]


def make_token(user):
    return _serializer().dumps([user.id, fingerprint(user)])


def user_for(token):
    """The user a valid link is for; None when it is forged, expired, used, or the account is gone."""
    if not isinstance(token, str) or not 0 < len(token) <= 300:
        return None
    try:
        user_id, print_ = _serializer().loads(token, max_age=int(LIFETIME.total_seconds()))
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(user_id, int) or not isinstance(print_, str):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.email or not hmac.compare_digest(fingerprint(user), print_):
        return None
    return user


def find_account(typed):
    """The account a "Username or email address" names, if it has a confirmed address."""
    typed = (typed or "").strip()
    if "@" in typed:
        try:
            address = parse_email(typed)
        except InvalidEmail:
            return None
        return db.session.scalar(sa.select(User).where(User.email == address))
    user = User.by_username(typed)
    return user if user is not None and user.email else None


def send_link(user):
    """Queues the reset link to the account's address, with its event, and commits."""
    events.record(events.PASSWORD_RESET_REQUESTED, user, detail=f"to {mask_email(user.email)}", commit=False)
    compose.send(user.email, "reset_password", N_("Reset your password"), recipient=user, username=user.username,
                 url=link("auth.reset_password", token=make_token(user)),
                 minutes=int(LIFETIME.total_seconds() // 60))
    db.session.commit()


def reset(token, password):
    """Sets the new password if the link is still good; returns the user, or None. Every session
    of the account ends and its remembered browsers are forgotten; the event and its notice are
    committed with the new password."""
    user = user_for(token)
    if user is None:
        return None
    scratch = User()  # the app's own hashing, whatever it is, without touching `user` yet
    scratch.set_password(password)
    changed = db.session.execute(
        sa.update(User)
        .where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=scratch.password_hash, session_token=new_session_token())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:  # the same link, used a moment before
        db.session.rollback()
        return None
    db.session.execute(sa.delete(TrustedDevice).where(TrustedDevice.user_id == user.id))
    events.record(events.PASSWORD_RESET, user, commit=False)
    db.session.commit()
    current_app.session_interface.end_for_user(user.id)
    return user
