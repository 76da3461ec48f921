"""Development code sender: behaves like Verify, but writes the code to the server log.

State is kept in the database (only a hash of the code), so several workers agree on it.
"""
import hashlib
import hmac
import logging
import secrets

import sqlalchemy as sa

from flask import current_app

from app.extensions import db
from app.i18n import _
from app.models import ConsoleVerification, utcnow
from app.security import mask_phone
from app.verification.base import TOO_MANY_SENDS, CheckResult, Sent, VerificationError

log = logging.getLogger(__name__)

MAX_CHECKS = 5
MAX_SENDS = 5


def _hash(phone, code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _live(phone):
    row = db.session.get(ConsoleVerification, phone)
    if row is not None and row.expires_at <= utcnow():
        db.session.delete(row)
        db.session.commit()
        return None
    return row


class ConsoleVerifier:
    name = "console"

    def send(self, phone, channel="sms", locale=None):
        row = _live(phone)
        if row is not None and row.checks >= MAX_CHECKS:
            # Like Verify: a verification that ran out of checks is gone; a send starts afresh.
            db.session.delete(row)
            db.session.flush()
            row = None
        if row is not None and row.sends >= MAX_SENDS:
            raise VerificationError("too_many_sends", _(TOO_MANY_SENDS), 429, retry_after=600)
        length = current_app.config["VERIFY_CODE_LENGTH"]
        code = f"{secrets.randbelow(10**length):0{length}d}"
        if row is None:
            ttl = current_app.config["CODE_TTL"]
            row = ConsoleVerification(phone=phone, expires_at=utcnow() + ttl, checks=0, sends=0)
            db.session.add(row)
        row.code_hash = _hash(phone, code)
        row.sends += 1
        db.session.commit()
        # The one place a code is logged: development only, refused in production.
        log.warning("DEVELOPMENT CODE for %s by %s: %s", mask_phone(phone), channel, code)
        return Sent(channel=channel)

    def check(self, phone, code):
        row = _live(phone)
        if row is None:
            return CheckResult.EXPIRED
        if row.checks >= MAX_CHECKS:
            db.session.delete(row)
            db.session.commit()
            return CheckResult.MAX_ATTEMPTS
        if hmac.compare_digest(row.code_hash, _hash(phone, code)):
            # A conditional DELETE: of two simultaneous checks of one code, only one removes it.
            used = db.session.execute(
                sa.delete(ConsoleVerification).where(
                    ConsoleVerification.phone == phone, ConsoleVerification.code_hash == row.code_hash
                )
            )
            db.session.commit()
            return CheckResult.APPROVED if used.rowcount == 1 else CheckResult.EXPIRED
        row.checks += 1
        db.session.commit()
        return CheckResult.WRONG


def forget_codes_for(phone):
    """Deletes the development codes of `phone` (an account that is deleted leaves none behind)."""
    db.session.execute(sa.delete(ConsoleVerification).where(ConsoleVerification.phone == phone))
