"""The code-sender seam: views call `verifier()`; the provider is chosen by VERIFY_PROVIDER."""
from flask import current_app

from app.verification.base import CheckResult, Sent, VerificationError  # noqa: F401


def init_app(app):
    provider = app.config["VERIFY_PROVIDER"]
    if provider == "twilio":
        from app.twilio_verify_api import create_client
        from app.verification.twilio import TwilioVerifier

        app.extensions["twilio_client"] = create_client(app.config)
        app.extensions["verifier"] = TwilioVerifier()
    elif provider == "console":
        from app.verification.console import ConsoleVerifier

        app.extensions["verifier"] = ConsoleVerifier()
    else:
        raise SystemExit(f"VERIFY_PROVIDER must be 'twilio' or 'console', not {provider!r}")


def verifier():
    return current_app.extensions["verifier"]
