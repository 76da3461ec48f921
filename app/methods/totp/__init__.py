"""The authenticator-app (TOTP) second factor: its rules (rules.py), its setup pages (views.py)
and the challenge the login and "confirm it's you" steps ask it for."""
import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app

from app import encryption
from app.codes import record_wrong_code
from app.extensions import db
from app.i18n import N_, _
from app.methods import Way
from app.methods.totp import rules
from app.models import TwoFactorMethod, utcnow
from app.verification import CheckResult

DEFAULT_NAME = N_("Authenticator app")  # the name field's first value, in the page's language


def ways(method):
    return [Way(method.id, "app", describe(method))]


def describe(method, words=_):
    return words(N_("Authenticator app '%(name)s'"), name=method.name)


def challenge(method, channel):
    return AppChallenge(method)


def lookup_of(secret):
    """A keyed hash of the secret, unique among methods: a setup confirmed twice at once adds one."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"totp:{secret}".encode(), hashlib.sha256).hexdigest()


def new_method(secret, name, step):
    """The method for a confirmed setup; the step of the code that confirmed it counts as used."""
    return TwoFactorMethod(kind="totp", name=name, secret=encryption.encrypt(secret), lookup=lookup_of(secret),
                           counter=step, last_used_at=utcnow())


def claim_step(method, step):
    """Takes `step` as the method's last used one, in one conditional UPDATE: of two requests with
    the same code, only one changes the row. False when that step (or a later one) was used."""
    result = db.session.execute(
        sa.update(TwoFactorMethod)
        .where(TwoFactorMethod.id == method.id,
               sa.or_(TwoFactorMethod.counter.is_(None), TwoFactorMethod.counter < step))
        .values(counter=step, last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


class AppChallenge:
    """A code from an authenticator app: nothing is sent, nothing leaves the server to check it."""

    sends_codes = False
    code_length = rules.DIGITS

    def __init__(self, method):
        self.method = method

    def prompt(self):
        return _("Enter the %(digits)d-digit code that your authenticator app '%(name)s' shows now.",
                 digits=rules.DIGITS, name=self.method.name)

    def check(self, user, code):
        step = rules.matching_step(encryption.decrypt(self.method.secret), code)
        if step is None:
            record_wrong_code(user)
            return CheckResult.WRONG
        if not claim_step(self.method, step):
            return CheckResult.ALREADY_USED
        user.reset_code_failures()
        return CheckResult.APPROVED
