"""Passkeys and security keys (WebAuthn): a person may have any number, each named. The ceremonies
(challenges, options, checks) are in ceremony.py; the profile's pages in views.py; signing in with a
passkey alone, and the options the code pages' script asks for, in signin.py.

As a second factor every credential of a person is one way, "Passkey or security key": the browser
offers whichever of them is at hand. It resists phishing (a passkey answers only this site), so it
is offered first. Its challenge is answered by the browser, not typed: the code page shows a button
that the script (static/webauthn.js) turns into navigator.credentials.get() and a form post.
"""
import sqlalchemy as sa

from app.codes import record_wrong_code
from app.extensions import db
from app.i18n import N_, _
from app.methods import Way
from app.methods.webauthn.names import DEFAULT_NAME
from app.models import WEBAUTHN, TwoFactorMethod
from app.verification import CheckResult

KEY = "passkey"  # a person's passkeys and security keys are one way: its key names no method
WORDS = N_("Passkey or security key")
PHISHING_RESISTANT = True  # offered first at login and when confirming it's you


class PasskeyWay(Way):
    @property
    def key(self):
        return KEY


def ways(method):
    return [PasskeyWay(method.id, "passkey", _(WORDS))]


def describe(method, words=_):
    """`words`: gettext, or app.methods.english (see app.methods.describe). A passkey still named
    DEFAULT_NAME (stored as is) is called "Passkey" in the page's language."""
    if method.name and method.name != DEFAULT_NAME:
        return words(N_("Passkey '%(name)s'"), name=method.name)
    return words(N_("Passkey"))


def has_passkey(user):
    return db.session.scalar(sa.select(sa.exists().where(
        TwoFactorMethod.user_id == user.id, TwoFactorMethod.kind == WEBAUTHN)))


def challenge(method, channel):
    return PasskeyChallenge()


class PasskeyChallenge:
    """The second step answered by any of the person's passkeys or security keys: the code page
    shows a button instead of a code field; the answer comes back in a hidden field."""

    sends_codes = False
    code_length = None
    passkey = True
    how = "with a passkey or security key"  # the event's detail, kept in English

    def __init__(self):
        self.answered_by = None  # the method whose credential answered
        self.message = None  # why an answer was refused, in words

    def prompt(self):
        return _("Use your passkey or security key: your browser will ask for it.")

    def form_class(self, form_class):
        from app.methods.webauthn.forms import with_passkey_answer

        return with_passkey_answer(form_class)

    def check(self, user, answer):
        from app.methods.webauthn import ceremony

        try:
            _owner, self.answered_by = ceremony.check_assertion(ceremony.parse_answer(answer, "webauthn.get"),
                                                           ceremony.SECOND_STEP, user=user)
        except ceremony.Malformed:
            self.message = _(ceremony.NOT_VERIFIED)
            return CheckResult.WRONG  # (the form's own check lets none through)
        except ceremony.Refused as refusal:
            self.message = _(refusal.message)
            if not refusal.guess:
                return CheckResult.EXPIRED
            record_wrong_code(user)
            return CheckResult.WRONG
        user.reset_code_failures()
        return CheckResult.APPROVED
