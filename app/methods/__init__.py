"""A person's second factors ("methods"), and the ways each offers to prove it's you.

The login's second step and "confirm it's you" work with a Way: one method and how it is used (a
phone by text, call or WhatsApp; an authenticator app). They ask the method's kind for a challenge,
which sends a code or sends nothing and checks what was typed; they never ask which kind it is.
Each kind lives in its own package (app/methods/phone, app/methods/totp, app/methods/webauthn) with
its rules and pages. A kind may offer one way for all its methods (every passkey of a person is one
way: the browser picks the one at hand), and may say it resists phishing: its way is offered first.
"""
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.i18n import gettext
from app.models import AUTHENTICATOR_APP, PHONE, WEBAUTHN, TwoFactorMethod, utcnow


@dataclass(frozen=True)
class Way:
    method_id: int
    channel: str  # "sms", "call", "whatsapp" (a phone), "app" (an authenticator app) or "passkey"
    words: str  # "Text message to your phone ending in 56"

    @property
    def key(self):
        return f"{self.method_id}:{self.channel}"


def _kinds():
    from app.methods import phone, totp, webauthn

    return {PHONE: phone, AUTHENTICATOR_APP: totp, WEBAUTHN: webauthn}


def kind_of(method):
    """The package that knows this method's kind: its ways, challenge and words."""
    return _kinds()[method.kind]


def methods_of(user):
    query = sa.select(TwoFactorMethod).where(TwoFactorMethod.user_id == user.id).order_by(TwoFactorMethod.id)
    return db.session.scalars(query).all()


def ways(methods):
    """Every way the methods offer, each once (a kind's way shared by its methods comes once)."""
    offered = {}
    for method in methods:
        for way in kind_of(method).ways(method):
            offered.setdefault(way.key, way)
    return list(offered.values())


def _last_used(method):
    return method.last_used_at or method.created_at, method.id  # at the same moment, the newer


def default_way(methods):
    """The first way of the method used last (or added last, if it has not been used yet), among
    the methods that resist phishing when there are any."""
    if not methods:
        return None
    safest = [method for method in methods if getattr(kind_of(method), "PHISHING_RESISTANT", False)]
    latest = max(safest or methods, key=_last_used)
    return kind_of(latest).ways(latest)[0]


@dataclass(frozen=True)
class Chosen:
    way: Way
    method: TwoFactorMethod
    has_others: bool  # whether "Use another way" has more than a recovery code to offer

    def challenge(self):
        return kind_of(self.method).challenge(self.method, self.way.channel)


def choose(user, key=None):
    """The way `key` names among the user's (else the default one), with its method; None when
    the user has no method left."""
    quick = _phone_way(user, key)
    if quick is not None:
        return quick
    methods = methods_of(user)
    offered = ways(methods)
    way = next((way for way in offered if way.key == key), None) or default_way(methods)
    if way is None:
        return None
    method = next(method for method in methods if method.id == way.method_id)
    return Chosen(way, method, len(offered) > 1)


def _phone_way(user, key):
    """A phone's way, built from the user row alone (its number loads with the user): a code page
    of the most common kind reads no method. The page that lists the other ways reads them all
    (`every_way`)."""
    from app.methods import phone

    if user.phone is None or not key or not key.startswith(phone.KEY_PREFIX):
        return None
    channel = key[len(phone.KEY_PREFIX):]
    method = TwoFactorMethod(kind=PHONE, phone=user.phone, user_id=user.id)
    way = next((way for way in phone.ways(method) if way.channel == channel), None)
    if way is None:
        return None
    return Chosen(way, method, user.method_count > 1 or len(phone.ways(method)) > 1)


def every_way(user, key):
    """The way chosen, then every other way of the user's methods (for "Use another way")."""
    methods = methods_of(user)
    offered = ways(methods)
    chosen = next((way for way in offered if way.key == key), None) or default_way(methods)
    return [chosen, *[way for way in offered if way != chosen]]


def mark_used(method):
    """The method proved it's you just now (committed with the step it completes)."""
    which = (TwoFactorMethod.id == method.id if method.id is not None else
             sa.and_(TwoFactorMethod.user_id == method.user_id, TwoFactorMethod.kind == method.kind))
    db.session.execute(
        sa.update(TwoFactorMethod).where(which).values(last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def describe(method, words=gettext):
    """What the profile calls the method: "Phone +44 ••• ••• •456", "Authenticator app 'Phone'", in
    the page's language; `words=english` for an event's detail, which is stored and logged."""
    return kind_of(method).describe(method, words)


def english(string, **variables):
    """gettext's stand-in for words kept in English (an event's detail)."""
    return string % variables if variables else string
