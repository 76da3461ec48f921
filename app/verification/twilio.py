"""The Twilio Verify provider: a thin adapter over app.twilio_verify_api."""
from app import twilio_verify_api


class TwilioVerifier:
    name = "twilio"

    def send(self, phone, channel="sms", locale=None):
        return twilio_verify_api.request_verification_token(phone, channel, locale)

    def check(self, phone, code):
        return twilio_verify_api.check_verification_token(phone, code)
