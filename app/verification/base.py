"""The verification seam: what every code sender promises the views."""
import enum
from dataclasses import dataclass

from app.i18n import N_, _, ngettext


class CheckResult(enum.Enum):
    """The outcome of checking a code; only APPROVED is truthy."""

    APPROVED = "approved"
    WRONG = "wrong"  # the code did not match; the verification is still open
    EXPIRED = "expired"  # expired, already used, or never sent
    MAX_ATTEMPTS = "max_attempts"  # too many wrong codes: a new code is needed
    ALREADY_USED = "already_used"  # an authenticator app's code of a time step already used

    def __bool__(self):
        return self is CheckResult.APPROVED


@dataclass(frozen=True)
class Sent:
    channel: str  # the channel that carries the code: "sms", "call", or another Verify channel
    fell_back: bool = False  # True when an SMS could not be delivered and a call was placed


class VerificationError(Exception):
    """Anything that stops a send or check that is not a wrong code.

    `message` is shown to the person as it is (already in the page's language), `reason` is for
    logs and tests, `status` is the HTTP status of the page that shows it, `field` names the form
    field it belongs to, if any.
    """

    def __init__(self, reason, message, status=503, field=None, retry_after=None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after  # seconds, for a 429's Retry-After header


# Marked here, translated where an error is made (during the request whose page shows it).
UNAVAILABLE = N_("The verification service is unavailable. Please try again shortly.")
CODE_EXPIRED = N_("This code expired or is no longer valid. Request a new code.")
TOO_MANY_WRONG_CODES = N_("Too many incorrect codes. Request a new code.")
# Twilio's own rate limit (20429) without a usable Retry-After: a pause long enough to matter.
BUSY_RETRY_AFTER = 30


def unavailable(reason="unavailable"):
    return VerificationError(reason, _(UNAVAILABLE), status=503)


def busy(retry_after):
    """Twilio's own rate limit: a 429 that says how long to wait, not an outage."""
    return VerificationError(
        "busy", ngettext("The verification service is busy. Try again in %(num)d second.",
                         "The verification service is busy. Try again in %(num)d seconds.", retry_after),
        status=429, retry_after=retry_after,
    )


# What a verification's status means for a check, as Verify's API description lists them; any
# other status (`failed`, null, or one the description does not know) is an outage.
CHECK_RESULT_BY_STATUS = {
    "pending": CheckResult.WRONG,
    "approved": CheckResult.APPROVED,
    "canceled": CheckResult.EXPIRED,
    "expired": CheckResult.EXPIRED,
    "deleted": CheckResult.EXPIRED,
    "max_attempts_reached": CheckResult.MAX_ATTEMPTS,
}


def error_for_unsent(status):
    """A new verification whose status is not `pending` sent nothing: why, for the person."""
    result = CHECK_RESULT_BY_STATUS.get(status)
    if result is CheckResult.EXPIRED:
        return VerificationError("expired", _(CODE_EXPIRED), status=409)
    if result is CheckResult.MAX_ATTEMPTS:
        return VerificationError("max_attempts", _(TOO_MANY_WRONG_CODES), status=429)
    return unavailable(f"status {status!r}")


TOO_MANY_SENDS = N_("Too many codes were requested. Try again in 10 minutes.")

# Twilio error codes and what a person sees for each: reason, sentence, status, field, Retry-After.
ERRORS_BY_TWILIO_CODE = {
    60200: ("invalid_number", N_("This phone number is not valid. Check it and try again."), 400, "phone", None),
    60203: ("too_many_sends", TOO_MANY_SENDS, 429, None, 600),
    60205: ("cannot_receive_sms", N_("This number can't receive text messages. Use a mobile number."), 400, "phone",
            None),
    60212: ("too_many_sends", N_("Too many codes were requested at once. Try again in a minute."), 429, None, 60),
    60410: ("blocked", N_("We can't send a code to this number right now."), 403, "phone", None),
    60605: ("blocked", N_("We can't send a code to this number right now."), 403, "phone", None),
}


def error_for_twilio_code(code, retry_after=None):
    if code == 20429:
        return busy(retry_after or BUSY_RETRY_AFTER)
    if code in ERRORS_BY_TWILIO_CODE:
        reason, message, status, field, retry_after = ERRORS_BY_TWILIO_CODE[code]
        return VerificationError(reason, _(message), status=status, field=field, retry_after=retry_after)
    return unavailable()
