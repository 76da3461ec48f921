"""The code-sender seam: views call `verifier()`; the provider is chosen by VERIFY_PROVIDER.

Every provider has `send(phone, channel="sms", locale=None) -> Sent` and
`check(phone, code) -> CheckResult`, and raises VerificationError for anything that is not the
person's mistake.
"""
from flask import current_app

from app.locales import default_locale
from app.verification.base import CheckResult, Sent, VerificationError  # noqa: F401

# Twilio Verify's codes are 4 to 10 digits (the service's CodeLength).
CODE_LENGTHS = range(4, 11)
# The channels a code page can offer (VERIFY_CHANNELS); the first code of every step is a text.
CHANNELS = ("sms", "call", "whatsapp")


def verify_channels(raw):
    """VERIFY_CHANNELS as a tuple of channels; SystemExit naming the variable when it lists one
    the app can't send by, or leaves out sms."""
    items = raw.split(",") if isinstance(raw, str) else raw or ()
    names = [str(item).strip().lower() for item in items]
    channels = tuple(dict.fromkeys(name for name in names if name))
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if unknown or "sms" not in channels:
        raise SystemExit(
            f"VERIFY_CHANNELS must be a comma-separated list of {', '.join(CHANNELS)} that includes sms "
            f"(the first code of every step is a text message), not {raw!r}."
        )
    return channels


def check_settings(config):
    """Refuses to start, in any environment, with a code length, language or channel Verify can't use."""
    raw = config["VERIFY_CODE_LENGTH"]
    length = int(raw) if str(raw).strip().isdigit() else None
    if length not in CODE_LENGTHS:
        raise SystemExit(
            f"VERIFY_CODE_LENGTH must be a whole number from 4 to 10 (your Verify service's code "
            f"length), not {raw!r}."
        )
    config["VERIFY_CODE_LENGTH"] = length
    default_locale(config.get("VERIFY_DEFAULT_LOCALE"))
    config["VERIFY_CHANNELS"] = verify_channels(config["VERIFY_CHANNELS"])


def init_app(app):
    check_settings(app.config)
    provider = app.config["VERIFY_PROVIDER"]
    if provider == "twilio":
        from app.twilio_verify_api import create_client
        from app.verification.breaker import make_breaker
        from app.verification.twilio import TwilioVerifier

        app.extensions["twilio_client"] = create_client(app.config)
        app.extensions["twilio_breaker"] = make_breaker(app.config)
        app.extensions["verifier"] = TwilioVerifier()
    elif provider == "console":
        from app.verification.console import ConsoleVerifier

        app.extensions["verifier"] = ConsoleVerifier()
    else:
        raise SystemExit(f"VERIFY_PROVIDER must be 'twilio' or 'console', not {provider!r}")


def verifier():
    return current_app.extensions["verifier"]
