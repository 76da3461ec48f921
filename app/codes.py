"""Sending and checking codes for a person: throttles, the lock across resends, events.

Views call these; they call the verification seam. Phone numbers always come from server
state (the user row or the session), never from the form that carries the code.
"""
import logging
from datetime import timedelta

from flask import current_app
from limits import parse_many

from app import events
from app.extensions import db
from app.locales import request_locale
from app.models import utcnow
from app.security import client_ip, mask_phone
from app.throttle import Throttled, consume, hit, seconds_until_allowed, strategy, wait_for
from app.verification import CheckResult, VerificationError, verifier

log = logging.getLogger(__name__)

DAILY_CAP_MESSAGE = "We can't send codes right now. Please try again later."


def _cooldown_spec():
    return f"1/{current_app.config['SEND_COOLDOWN_SECONDS']} second"


def _send_limits(phone, user):
    config = current_app.config
    checks = [
        (_cooldown_spec(), ("send-cooldown", phone)),
        (config["SEND_LIMIT_PER_NUMBER"], ("send-number", phone)),
        (config["SEND_LIMIT_PER_IP"], ("send-ip", client_ip())),
    ]
    if user is not None:
        checks.append((config["SEND_LIMIT_PER_ACCOUNT"], ("send-account", str(user.id))))
    return checks


def clear_cooldown(phone):
    """A confirmed number may get its next code at once (enrol, then log in straight away)."""
    for item in parse_many(_cooldown_spec()):
        strategy().clear(item, "send-cooldown", phone)


def resend_wait(phone):
    """Seconds before another code may go to `phone` (the cooldown the page shows)."""
    return int(seconds_until_allowed(_cooldown_spec(), "send-cooldown", phone) + 0.999)


def send_code(phone, user=None, channel="sms"):
    """Sends a code unless a limit says no; raises Throttled or VerificationError."""
    checks = _send_limits(phone, user)
    wait = wait_for(checks)
    if wait > 0:
        raise Throttled(f"Too many codes were requested. Try again in {int(wait + 0.999)} seconds.", wait)
    try:
        consume([(f"{current_app.config['SMS_DAILY_LIMIT']}/day", ("sms-daily",))], DAILY_CAP_MESSAGE)
    except Throttled:
        log.warning("SMS_DAILY_LIMIT reached: no more codes are sent today")
        raise VerificationError("daily_limit", DAILY_CAP_MESSAGE, status=503) from None
    sent = verifier().send(phone, channel, locale=request_locale())
    # Counted only once a code is out, so an outage does not lock people out of retrying.
    hit(checks)
    detail = f"by {'voice call' if sent.channel == 'call' else 'text'} to {mask_phone(phone)}"
    events.record(events.CODE_SENT, user, detail=detail)
    return sent


def sent_message(sent):
    """What the page says once a code is on its way, naming the channel it goes by (every
    channel Verify can send a code through has its own words)."""
    if sent.fell_back:
        return "We couldn't text this number, so we are calling it with your code instead."
    return {
        "sms": "We sent a code by text message to your phone.",
        "call": "We are calling your phone now with your code.",
        "whatsapp": "We sent a code by WhatsApp message to your phone.",
        "rcs": "We sent a code by RCS message to your phone.",
        "email": "We sent a code by email.",
        "sna": "We are confirming your number through your mobile network.",
    }.get(sent.channel, "We sent you a code.")


def code_step_wait(user):
    """Seconds the user's code step stays locked; 0 when open."""
    now = utcnow()
    if not user.code_step_locked(now):
        return 0
    return max(1, int((user.code_locked_until - now).total_seconds()))


def check_code(user, phone, code):
    """Checks `code` for `phone` and keeps the user's failure count; returns a CheckResult."""
    result = verifier().check(phone, code)
    if result is CheckResult.APPROVED:
        clear_cooldown(phone)
        user.reset_code_failures()
        db.session.commit()
        return result
    if result in (CheckResult.WRONG, CheckResult.MAX_ATTEMPTS):
        record_wrong_code(user)
    return result


def record_wrong_code(user, kind=events.CODE_FAILED):
    """Counts a wrong code or recovery code against the account; may lock the code step."""
    config = current_app.config
    locked = user.record_code_failure(
        utcnow(),
        window=timedelta(hours=1),
        threshold=config["CODE_FAILURES_BEFORE_LOCK"],
        lock_for=timedelta(minutes=config["CODE_LOCK_MINUTES"]),
    )
    events.record(kind, user, commit=False)
    if locked:
        events.record(events.CODE_STEP_LOCKED, user, commit=False)
    db.session.commit()
