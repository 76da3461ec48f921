"""Where you're logged in: the account's live sessions as the person sees them.

Everything shown comes from what each session already stores, read with the per-user index both
stores keep (one statement for the database, two Redis round trips): the browser in words and the
network (`BROWSER`, `NETWORK` in its data), when the login completed (`AUTH_AT`), and when the store
last heard of it (its `last_seen`, kept to within a minute).

A session is named in addresses by `ref`: an HMAC of its store key under SECRET_KEY. It can't be
turned back into the store key, let alone the cookie's id, and it only ever finds a session among
the current user's own, so knowing another account's refs ends nothing.
"""
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app

from app.devices import UNKNOWN_BROWSER, UNKNOWN_NETWORK
from app.security import AUTH_AT, BROWSER, NETWORK, REMEMBERED
from app.session_store import store_key

REF_LENGTH = 32  # hex characters: 128 bits
REF = re.compile(rf"[0-9a-f]{{{REF_LENGTH}}}")


@dataclass(frozen=True)
class LiveSession:
    ref: str
    browser: str
    network: str
    started_at: datetime
    last_seen_at: datetime
    this_browser: bool
    key: str = field(repr=False, compare=False)  # the store key: acted on, never shown


def ref_of(key):
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"session-ref:{key}".encode(), hashlib.sha256).hexdigest()[:REF_LENGTH]


def listed(user, current):
    """`user`'s logged-in sessions (pending logins aside), this browser's first, then the most
    recently seen. `current` is this request's session."""
    current_key = store_key(current.session_id) if current.on_server else None
    found = [
        live for live in (_live(user, item, current_key) for item in current_app.session_interface.list_for_user(user.id))
        if live is not None
    ]
    return sorted(found, key=lambda live: (live.this_browser, live.last_seen_at), reverse=True)


def find(user, current, ref):
    """The session of `user` that `ref` names, or None."""
    if not REF.fullmatch(ref):
        return None
    return next((live for live in listed(user, current) if hmac.compare_digest(live.ref, ref)), None)


def _live(user, item, current_key):
    """The session as shown, or None when it holds no completed login of `user` as the account
    is now (a pending login, a token rotated since, a login past its absolute lifetime)."""
    data = item.data
    started = data.get(AUTH_AT)
    if data.get("_user_id") != user.session_token or not isinstance(started, (int, float)):
        return None
    started_at = datetime.fromtimestamp(started, timezone.utc)
    lifetime = current_app.config["REMEMBER_LIFETIME" if data.get(REMEMBERED) else "SESSION_ABSOLUTE_LIFETIME"]
    if datetime.now(timezone.utc) - started_at > lifetime:
        return None
    return LiveSession(
        ref=ref_of(item.key),
        # In English, as stored: pages and events put them in words (devices.in_words).
        browser=str(data.get(BROWSER) or UNKNOWN_BROWSER),
        network=str(data.get(NETWORK) or UNKNOWN_NETWORK),
        started_at=started_at,
        last_seen_at=max(item.last_seen or started_at, started_at),
        this_browser=item.key == current_key,
        key=item.key,
    )
