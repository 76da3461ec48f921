"""The phone: one verified number; codes go to it by text, call or WhatsApp (VERIFY_CHANNELS)
through the verification seam. Its pages (add, confirm, change) are in views.py, on the profile's blueprint."""
from flask import current_app

from app.codes import check_code
from app.i18n import N_, _
from app.methods import Way
from app.phones import last_digits
from app.security import mask_phone

KEY_PREFIX = "phone:"  # a user has one phone: its ways are named without the method's id
WAY_WORDS = {
    "sms": N_("Text message to your phone ending in %(digits)s"),
    "call": N_("Call your phone ending in %(digits)s"),
    "whatsapp": N_("WhatsApp message to your phone ending in %(digits)s"),
}


class PhoneWay(Way):
    @property
    def key(self):
        return KEY_PREFIX + self.channel


def ways(method):
    digits = last_digits(method.phone)
    return [PhoneWay(method.id, channel, _(words, digits=digits)) for channel, words in WAY_WORDS.items()
            if channel in current_app.config["VERIFY_CHANNELS"]]


def describe(method, words=_):
    return words(N_("Phone %(phone)s"), phone=mask_phone(method.phone))


def challenge(method, channel):
    return PhoneChallenge(method.phone, channel)


class PhoneChallenge:
    """A code sent to `phone` (first by `channel`), checked by the verification seam."""

    sends_codes = True
    code_length = None  # the Verify service's, VERIFY_CODE_LENGTH

    def __init__(self, phone, channel="sms"):
        self.phone = phone
        self.channel = channel

    def check(self, user, code):
        return check_code(user, self.phone, code)
