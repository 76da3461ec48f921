"""Remember this device: a signed random token in its own cookie, only its hash in the database."""
import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.extensions import db
from app.i18n import N_, _
from app.models import TrustedDevice, utcnow
from app.security import BROWSERS, PLATFORMS, client_ip, short_user_agent


# Translators: a browser whose name is not known, on a known system: "Browser on Android".
SOME_BROWSER = N_("Browser")
_BROWSER_NAMES = {name for _token, name in BROWSERS} | {SOME_BROWSER}
_SYSTEM_NAMES = {name for _token, name in PLATFORMS}
# What is stored, or shown, when nothing better is known about a browser or its network.
UNKNOWN_BROWSER = N_("Unknown browser")
# Translators: where a session was last used from, in place of a network address ("from an unknown network").
UNKNOWN_NETWORK = N_("an unknown network")
UNKNOWN = frozenset({N_("Unknown"), UNKNOWN_BROWSER, UNKNOWN_NETWORK, N_("command line")})


def in_words(description):
    """A browser as stored in English ("Chrome on Windows", app.security.short_user_agent), in the
    page's language: the names of browsers and systems stay, the words around them change."""
    browser, on, system = description.partition(" on ")
    if on and browser in _BROWSER_NAMES and system in _SYSTEM_NAMES:
        # Translators: a browser and the system it runs on, as in "Chrome on Windows".
        return _("%(browser)s on %(system)s", browser=_(browser) if browser == SOME_BROWSER else browser, system=system)
    return _(description) if description in UNKNOWN else description


def cookie_name():
    """`__Host-trusted_device` in production: only this exact https origin may set or read it."""
    return current_app.config["TRUSTED_DEVICE_COOKIE"]


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="trusted-device")


def _lifetime():
    return timedelta(days=current_app.config["TRUSTED_DEVICE_DAYS"])


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def remember(user, response):
    """Stores a new trusted device for `user` and sets its cookie on `response`."""
    token = secrets.token_urlsafe(32)
    db.session.add(TrustedDevice(
        user_id=user.id, token_hash=_hash(token), description=short_user_agent(), ip=client_ip()[:45],
    ))
    db.session.commit()
    response.set_cookie(
        cookie_name(),
        _serializer().dumps({"user": user.id, "token": token}),
        max_age=int(_lifetime().total_seconds()),
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        path="/",
        httponly=True,
        samesite="Lax",
    )


def _cookie_token(user):
    """The token in this browser's cookie when the cookie is valid and is `user`'s, else None."""
    raw = request.cookies.get(cookie_name())
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=int(_lifetime().total_seconds()))
        user_id, token = int(data["user"]), str(data["token"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return token if user_id == user.id else None


def remembered(user):
    """Whether this browser is one of `user`'s remembered browsers; changes nothing."""
    token = _cookie_token(user)
    if token is None:
        return False
    return db.session.scalar(sa.select(sa.exists().where(
        TrustedDevice.user_id == user.id, TrustedDevice.token_hash == _hash(token),
        TrustedDevice.created_at >= utcnow() - _lifetime(),
    )))


def recognised(user):
    """The id of the user's trusted device for this browser's cookie, marked used; else None.

    Found and marked in one UPDATE: a browser forgotten (in another tab) a moment before simply
    isn't found, where a read, then a write of the row read, would fail on the row gone."""
    token = _cookie_token(user)
    if token is None:
        return None
    now = utcnow()
    return db.session.execute(
        sa.update(TrustedDevice)
        .where(TrustedDevice.user_id == user.id, TrustedDevice.token_hash == _hash(token),
               TrustedDevice.created_at >= now - _lifetime())
        .values(last_used_at=now, ip=client_ip()[:45])
        .returning(TrustedDevice.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def this_browser(user, devices):
    """The id of the one in `devices` that is this browser, without touching it; else None."""
    token = _cookie_token(user)
    token_hash = _hash(token) if token else None
    return next((device.id for device in devices if device.token_hash == token_hash), None)


def listed(user):
    query = sa.select(TrustedDevice).where(TrustedDevice.user_id == user.id).order_by(TrustedDevice.last_used_at.desc())
    return db.session.scalars(query).all()


def forget(user, device_id):
    result = db.session.execute(
        sa.delete(TrustedDevice).where(TrustedDevice.user_id == user.id, TrustedDevice.id == device_id)
    )
    db.session.commit()
    return result.rowcount == 1
