"""The only module that imports twilio: send and check codes with Twilio Verify.

One client per app (its requests.Session keeps connections open), shared by the threads of a
worker; an explicit timeout on every call; SMS failures that a phone call can fix retried as a
call. Every answer Verify's API description allows is mapped to something the views know: a
CheckResult, a Sent, or a VerificationError with a sentence for the person.
"""
import logging
import threading
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.util import Timeout

from app.security import mask_phone
from app.verification.breaker import BreakerOpen
from app.verification.base import (
    BUSY_RETRY_AFTER,
    CHECK_RESULT_BY_STATUS,
    CheckResult,
    Sent,
    error_for_twilio_code,
    error_for_unsent,
    unavailable,
)

log = logging.getLogger(__name__)

# Twilio error codes for an SMS that could not be delivered but a voice call might be.
CALL_CAN_FIX = {60205}
EXPIRED = 20404
MAX_CHECK_ATTEMPTS = 60202
# Both shapes of a Twilio error answer; twilio 9.x raises the second for RFC 9457 bodies, and it
# is not a subclass of the first. Both carry `.status` (HTTP) and `.code` (Twilio's).
TWILIO_ERRORS = (TwilioRestException, TwilioServiceException)
LONGEST_RETRY_AFTER = 3600


class ThreadSafeHttpClient(TwilioHttpClient):
    """TwilioHttpClient whose last request and response are kept per thread, and whose timeout
    bounds the whole call.

    The client records both on itself; with one client shared by a worker's threads, a thread
    reading the Retry-After of its own 429 could otherwise read another thread's response.
    (requests.Session itself is shared between threads in practice: its connection pool is
    thread-safe.)
    """

    def __init__(self, timeout=None, **kwargs):
        self._per_thread = threading.local()
        super().__init__(timeout=timeout, **kwargs)
        if timeout is not None:
            # requests applies a number to connecting (TLS included) and to the answer separately,
            # up to twice it in all; urllib3's `total` makes it the deadline of the whole call.
            self.timeout = Timeout(total=timeout)

    @property
    def _test_only_last_request(self):
        return getattr(self._per_thread, "request", None)

    @_test_only_last_request.setter
    def _test_only_last_request(self, value):
        self._per_thread.request = value

    @property
    def _test_only_last_response(self):
        return getattr(self._per_thread, "response", None)

    @_test_only_last_response.setter
    def _test_only_last_response(self, value):
        self._per_thread.response = value

    @property
    def last_response(self):
        """This thread's last answer from Twilio (None before the first, or after a timeout)."""
        return self._test_only_last_response


class RedirectingHttpClient(ThreadSafeHttpClient):
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
        RedirectingHttpClient(base_url, **http_options) if base_url else ThreadSafeHttpClient(**http_options)
    )
    return Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client)


def _client():
    return current_app.extensions["twilio_client"]


def _service():
    return _client().verify.v2.services(current_app.config["TWILIO_VERIFY_SERVICE_ID"])


def is_outage(error):
    """Twilio did not answer, or answered that it is broken: what the circuit breaker counts."""
    if isinstance(error, requests.RequestException):
        return True
    if isinstance(error, TWILIO_ERRORS):
        try:
            return int(error.status) >= 500
        except (TypeError, ValueError):
            return True
    return False


def _call(function, **kwargs):
    """One HTTP call to Twilio, through the circuit breaker (BreakerOpen when it is open)."""
    with current_app.extensions["twilio_breaker"].guard(is_outage):
        return function(**kwargs)


def _log_failure(action, phone, error):
    code = getattr(error, "code", None)
    status = getattr(error, "status", None)
    log.warning(
        "twilio %s failed to=%s code=%s status=%s error=%s",
        action, mask_phone(phone), code, status, type(error).__name__,
    )


def _log_status(action, phone, status):
    log.warning("twilio %s answered an unusable status=%r to=%s", action, status, mask_phone(phone))


def retry_after_seconds(headers, default=BUSY_RETRY_AFTER):
    """Seconds from a Retry-After header (a number or an HTTP date); `default` when absent or
    unusable, and never more than an hour, whatever the header says."""
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    if value is None:
        return default
    value = str(value).strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            seconds = int(parsedate_to_datetime(value).timestamp() - time.time() + 0.999)
        except (TypeError, ValueError, OverflowError):
            return default
    return min(seconds, LONGEST_RETRY_AFTER) if seconds > 0 else default


def _error_for(error):
    """The VerificationError for a Twilio error answer (the 429's Retry-After passed on)."""
    retry_after = None
    if error.code == 20429:
        response = getattr(_client().http_client, "last_response", None)
        retry_after = retry_after_seconds(getattr(response, "headers", None))
    return error_for_twilio_code(error.code, retry_after)


def _create_verification(phone, channel, locale):
    options = {"locale": locale} if locale else {}
    return _call(_service().verifications.create, to=phone, channel=channel, **options)


def _sent(verification, phone, channel, fell_back=False):
    if verification.status != "pending":
        error = error_for_unsent(verification.status)
        if error.status == 503:
            _log_status("send", phone, verification.status)
        raise error
    return Sent(channel=verification.channel or channel, fell_back=fell_back)


def _create_with_locale(phone, channel, locale):
    """Creates a verification in `locale`; Verify answers 404 for a locale it does not support,
    and its documentation says to ask again without one (the number's own language, or English)."""
    try:
        return _create_verification(phone, channel, locale)
    except TWILIO_ERRORS as error:
        if not locale or error.status != 404:
            raise
        log.warning("twilio refused locale=%s; sending without one to=%s", locale, mask_phone(phone))
        return _create_verification(phone, channel, None)


def request_verification_token(phone, channel="sms", locale=None):
    """Sends a code to `phone` by `channel` in `locale`; returns Sent, raises VerificationError."""
    try:
        try:
            return _sent(_create_with_locale(phone, channel, locale), phone, channel)
        except TWILIO_ERRORS as error:
            if channel != "sms" or error.code not in CALL_CAN_FIX:
                raise
            _log_failure("sms", phone, error)
            return _sent(_create_with_locale(phone, "call", locale), phone, "call", fell_back=True)
    except TWILIO_ERRORS as error:
        _log_failure("send", phone, error)
        raise _error_for(error) from error
    except (TwilioException, requests.RequestException) as error:
        _log_failure("send", phone, error)
        raise unavailable() from error
    except BreakerOpen:
        raise unavailable("breaker_open") from None


def check_verification_token(phone, code):
    """Checks `code` for `phone`; returns a CheckResult, raises VerificationError on outages."""
    try:
        check = _call(_service().verification_checks.create, to=phone, code=code)
    except BreakerOpen:
        raise unavailable("breaker_open") from None
    except TWILIO_ERRORS as error:
        if error.code == EXPIRED:
            return CheckResult.EXPIRED
        if error.code == MAX_CHECK_ATTEMPTS:
            return CheckResult.MAX_ATTEMPTS
        _log_failure("check", phone, error)
        raise _error_for(error) from error
    except (TwilioException, requests.RequestException) as error:
        _log_failure("check", phone, error)
        raise unavailable() from error
    result = CHECK_RESULT_BY_STATUS.get(check.status)
    if result is None:
        _log_status("check", phone, check.status)
        raise unavailable(f"status {check.status!r}")
    return result
