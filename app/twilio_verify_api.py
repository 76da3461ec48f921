"""The only module that imports twilio: send and check codes with Twilio Verify.

One client per app (its requests.Session keeps connections open), an explicit timeout on every
call, and SMS failures that a phone call can fix retried as a call.
"""
import logging
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.security import mask_phone
from app.verification.base import CheckResult, Sent, error_for_twilio_code, unavailable

log = logging.getLogger(__name__)

# Twilio error codes for an SMS that could not be delivered but a voice call might be.
CALL_CAN_FIX = {60205}
EXPIRED = 20404
MAX_CHECK_ATTEMPTS = 60202


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every call to another base URL (a fake or an emulator).

    Rewriting each final URL works with TWILIO_REGION / TWILIO_EDGE too, which splice the
    region into the host after `client.verify.base_url` is read.
    """

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self._base = urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def create_client(config):
    """Builds the app's one Twilio client from its config."""
    http_options = {"timeout": config["TWILIO_TIMEOUT"]}
    base_url = config.get("TWILIO_API_BASE_URL")
    http_client = (
        RedirectingHttpClient(base_url, **http_options) if base_url else TwilioHttpClient(**http_options)
    )
    return Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client)


def _service():
    client = current_app.extensions["twilio_client"]
    return client.verify.v2.services(current_app.config["TWILIO_VERIFY_SERVICE_ID"])


def _timeout():
    return current_app.config["TWILIO_TIMEOUT"]


def _log_failure(action, phone, error):
    code = getattr(error, "code", None)
    status = getattr(error, "status", None)
    log.warning(
        "twilio %s failed to=%s code=%s status=%s error=%s",
        action, mask_phone(phone), code, status, type(error).__name__,
    )


def _create_verification(phone, channel):
    return _service().verifications.create(to=phone, channel=channel)


def request_verification_token(phone, channel="sms"):
    """Sends a code to `phone` by `channel`; returns Sent, raises VerificationError."""
    try:
        try:
            verification = _create_verification(phone, channel)
            return Sent(channel=verification.channel or channel)
        except TwilioRestException as error:
            if channel != "sms" or error.code not in CALL_CAN_FIX:
                raise
            _log_failure("sms", phone, error)
            verification = _create_verification(phone, "call")
            return Sent(channel=verification.channel or "call", fell_back=True)
    except TwilioRestException as error:
        _log_failure("send", phone, error)
        raise error_for_twilio_code(error.code) from error
    except (TwilioException, requests.RequestException) as error:
        _log_failure("send", phone, error)
        raise unavailable() from error


def check_verification_token(phone, code):
    """Checks `code` for `phone`; returns a CheckResult, raises VerificationError on outages."""
    try:
        check = _service().verification_checks.create(to=phone, code=code)
    except TwilioRestException as error:
        if error.code == EXPIRED:
            return CheckResult.EXPIRED
        if error.code == MAX_CHECK_ATTEMPTS:
            return CheckResult.MAX_ATTEMPTS
        _log_failure("check", phone, error)
        raise error_for_twilio_code(error.code) from error
    except (TwilioException, requests.RequestException) as error:
        _log_failure("check", phone, error)
        raise unavailable() from error
    return CheckResult.APPROVED if check.status == "approved" else CheckResult.WRONG
