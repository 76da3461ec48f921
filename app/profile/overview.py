"""What the profile page lists, the second-factor methods, the remembered browsers and the latest
security events, read in one statement: with the session (which loads the user and its recovery
codes left) and at most the session's own write, the page people land on after every login costs
three statements.
"""
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.methods.webauthn.models import WebAuthnCredential
from app.models import SecurityEvent, TrustedDevice, TwoFactorMethod, UTCDateTime


@dataclass(frozen=True)
class Browser:
    id: int
    description: str
    ip: str
    last_used_at: datetime
    token_hash: str


@dataclass(frozen=True)
class Method:
    id: int
    kind: str
    name: str
    phone: str
    created_at: datetime
    last_used_at: datetime
    backup: str = ""  # a passkey's: "synced", "not synced" (but could be) or "device" (never)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    detail: str
    ip: str
    user_agent: str
    created_at: datetime


def profile_lists(user, events_limit, with_2fa=True):
    """(methods, oldest first; remembered browsers, most recently used first; the latest
    `events_limit` events). Without 2FA there are no methods or browsers to read."""
    no_time = sa.cast(sa.null(), UTCDateTime())  # typed: PostgreSQL reads a bare NULL as text in a UNION
    latest = (
        sa.select(
            sa.literal("event").label("row"), SecurityEvent.id, SecurityEvent.kind.label("text"),
            SecurityEvent.detail.label("more"), SecurityEvent.ip, SecurityEvent.user_agent.label("agent"),
            SecurityEvent.created_at.label("at"), no_time.label("since"),
        )
        .where(SecurityEvent.user_id == user.id)
        .order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
        .limit(events_limit)
        .subquery()
    )
    query = sa.select(latest)
    if with_2fa:
        browsers = sa.select(
            sa.literal("browser"), TrustedDevice.id, TrustedDevice.description, TrustedDevice.token_hash,
            TrustedDevice.ip, sa.literal(""), TrustedDevice.last_used_at, no_time,
        ).where(TrustedDevice.user_id == user.id)
        backup = sa.case((WebAuthnCredential.backed_up, "synced"), (WebAuthnCredential.backup_eligible, "not synced"),
                         (WebAuthnCredential.method_id.is_not(None), "device"), else_="")
        methods = sa.select(
            sa.literal("method"), TwoFactorMethod.id, TwoFactorMethod.kind, TwoFactorMethod.name,
            sa.func.coalesce(TwoFactorMethod.phone, ""), backup, TwoFactorMethod.last_used_at,
            TwoFactorMethod.created_at,
        ).outerjoin(WebAuthnCredential, WebAuthnCredential.method_id == TwoFactorMethod.id
                    ).where(TwoFactorMethod.user_id == user.id)
        query = sa.union_all(query, browsers, methods)
    found_methods, found_browsers, found_events = [], [], []
    for row in db.session.execute(query):
        if row.row == "method":
            found_methods.append(Method(row.id, row.text, row.more, row.ip, row.since, row.at, row.agent))
        elif row.row == "browser":
            found_browsers.append(Browser(row.id, row.text, row.ip, row.at, row.more))
        else:
            found_events.append(Event(row.id, row.text, row.more, row.ip, row.agent, row.at))
    newest_first = lambda items, key: sorted(items, key=key, reverse=True)
    return (sorted(found_methods, key=lambda m: m.id),
            newest_first(found_browsers, lambda b: b.last_used_at),
            newest_first(found_events, lambda e: (e.created_at, e.id)))
