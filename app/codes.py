"""Sending and checking codes for a person: the send budget, the lock across resends, events.

Views call these; they call the verification seam. Phone numbers always come from server
state (the user row or the session), never from the form that carries the code.

Every limit on sending is taken in one step before Twilio is called, and kept when Twilio refused
(a refused send costs an attacker as much as an accepted one); only an outage gives it back. Codes to
a number the asking account has verified (logins, re-authentication) and codes to any other number
(enrolment, a phone change) are counted apart, so strangers who try to enrol your number cannot use
up your login codes; and the app-wide daily cap keeps a share for the former.
"""
import logging
from datetime import datetime, timedelta, timezone

from flask import current_app

from app import events
from app.i18n import N_, _
from app.locales import request_locale
from app.models import utcnow
from app.security import client_network, hashed_key, mask_phone
from app.throttle import Throttled, clear, take, wait_for
from app.verification import CheckResult, VerificationError, verifier

log = logging.getLogger(__name__)

DAILY_CAP_MESSAGE = N_("We can't send codes right now. Please try again later.")
VERIFIED, NEW = "verified", "new"  # the two send budgets of a number
# How a code went, in the profile's list of security events: "Code sent (by WhatsApp to +44 …)".
EVENT_CHANNEL_WORDS = {"sms": "text", "call": "voice call", "whatsapp": "WhatsApp"}


def too_many_codes(wait):
    return _("Too many codes were requested. Try again in %(wait)s.", wait=wait)


def phone_key(phone):
    """What limits count a number by: an HMAC, so the limit storage never holds the number."""
    return hashed_key("phone", phone)


def purpose_of(phone, user):
    return VERIFIED if user is not None and user.phone == phone else NEW


def _cooldown_spec():
    return f"1/{current_app.config['SEND_COOLDOWN_SECONDS']} second"


def _cooldown_key(phone, purpose):
    return ("send-cooldown", purpose, phone_key(phone))


def _send_limits(phone, user, purpose):
    config = current_app.config
    per_number = config["SEND_LIMIT_PER_NUMBER" if purpose == VERIFIED else "SEND_LIMIT_PER_NEW_NUMBER"]
    return [
        (_cooldown_spec(), _cooldown_key(phone, purpose)),
        (per_number, ("send-number", purpose, phone_key(phone))),
        (config["SEND_LIMIT_PER_ACCOUNT"], ("send-account", str(user.id))),
        (config["SEND_LIMIT_PER_IP"], ("send-ip", client_network())),
    ]


def _daily_limits(purpose):
    """The app-wide cap for today (UTC), and the smaller share new numbers may use of it."""
    config = current_app.config
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    limits = [(f"{config['SMS_DAILY_LIMIT']}/day", ("sms-day", day))]
    if purpose == NEW:
        share = config["SMS_DAILY_LIMIT"] * (100 - config["SMS_DAILY_RESERVED_PERCENT"]) // 100
        limits.append((f"{max(share, 0)}/day", ("sms-day-new", day)))
    return limits


# Twilio busy (its own rate limit), or a new verification it reported as already ended: no code
# went out and it was not the person's doing.
OUTAGE_REASONS = {"busy", "expired"}


def sends_given_back(error):
    """Twilio down, slow, busy or confused: not the person's doing, so their sends are given back.
    A refusal (a bad or blocked number, too many codes) keeps them. (Wider than what the circuit
    breaker counts as an outage: Twilio busy is an answer to the breaker, yet no code went out.)"""
    return error.status >= 500 or error.reason in OUTAGE_REASONS


def clear_cooldown(phone):
    """A confirmed number may get its next code at once (enrol, then log in straight away)."""
    for purpose in (VERIFIED, NEW):
        clear(_cooldown_spec(), *_cooldown_key(phone, purpose))


def resend_wait(phone, user):
    """Seconds before another code may go to `phone` for `user`: the longest wait among the limits
    a send would take (the cooldown, the number's, the account's and the address's), so a page
    never offers a button that can only be refused."""
    limits = _send_limits(phone, user, purpose_of(phone, user))
    return int(max((wait_for(spec, *key) for spec, key in limits), default=0) + 0.999)


def cooldown_wait(phone, user):
    """Seconds left of the pause between two codes alone (a wait longer than this means a send
    limit is used up, not just that a code went out a moment ago)."""
    return int(wait_for(_cooldown_spec(), *_cooldown_key(phone, purpose_of(phone, user))) + 0.999)


def send_code(phone, user, channel="sms"):
    """Sends a code unless a limit says no; raises Throttled or VerificationError."""
    purpose = purpose_of(phone, user)
    budget = take(_send_limits(phone, user, purpose), too_many_codes)
    try:
        today = take(_daily_limits(purpose), lambda wait: _(DAILY_CAP_MESSAGE))
    except Throttled:
        budget.refund()
        log.warning("SMS_DAILY_LIMIT reached for %s numbers: no more such codes are sent today", purpose)
        raise VerificationError("daily_limit", _(DAILY_CAP_MESSAGE), status=503) from None
    try:
        sent = verifier().send(phone, channel, locale=request_locale(user))
    except VerificationError as error:
        today.refund()  # the daily cap counts codes Twilio accepted
        if sends_given_back(error):
            budget.refund()
        raise
    except Exception:
        today.refund()
        budget.refund()
        raise
    detail = f"by {EVENT_CHANNEL_WORDS.get(sent.channel, sent.channel)} to {mask_phone(phone)}"
    events.record(events.CODE_SENT, user, detail=detail)
    return sent


SENT_MESSAGES = {
    "sms": N_("We sent a code by text message to your phone."),
    "call": N_("We are calling your phone now with your code."),
    "whatsapp": N_("We sent a code by WhatsApp message to your phone."),
    "rcs": N_("We sent a code by RCS message to your phone."),
    "email": N_("We sent a code by email."),
    "sna": N_("We are confirming your number through your mobile network."),
}


def sent_message(sent):
    """What the page says once a code is on its way, naming the channel it goes by (every
    channel Verify can send a code through has its own words)."""
    if sent.fell_back:
        return _("We couldn't text this number, so we are calling it with your code instead.")
    return _(SENT_MESSAGES.get(sent.channel, N_("We sent you a code.")))


def code_step_wait(user):
    """Seconds the user's code step stays locked; 0 when open."""
    now = utcnow()
    if not user.code_step_locked(now):
        return 0
    return max(1, int((user.code_locked_until - now).total_seconds()))


def check_code(user, phone, code):
    """Checks `code` for `phone` and keeps the user's failure count; returns a CheckResult.

    An approved code resets the count in the caller's transaction (the step it completes commits
    it, with its own changes to the user, in one statement)."""
    result = verifier().check(phone, code)
    if result is CheckResult.APPROVED:
        clear_cooldown(phone)
        user.reset_code_failures()
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
    events.record_all([(kind, ""), *([(events.CODE_STEP_LOCKED, "")] if locked else [])], user)
