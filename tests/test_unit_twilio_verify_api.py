"""Unit tests of app/twilio_verify_api.py with a mocked twilio Client, plus its HTTP client."""
import logging
import time
from types import SimpleNamespace
from unittest import mock

import pytest
import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient

from app import twilio_verify_api
from app.twilio_verify_api import (
    RedirectingHttpClient,
    ThreadSafeHttpClient,
    check_verification_token,
    create_client,
    request_verification_token,
)
from app.verification import CheckResult, Sent, VerificationError
from app.verification.base import UNAVAILABLE
from tests.conftest import PHONE, build_app, dispose_app, make_config

URI = "https://verify.twilio.com/v2/Services/VA0/Verifications"


def rest_error(status, code):
    return TwilioRestException(status, URI, msg="Injected", code=code, method="POST")


def service_error(status=503, code=20503):
    return TwilioServiceException(f"https://www.twilio.com/docs/errors/{code}", "Service Unavailable",
                                  status, code, method="POST", uri=URI)


@pytest.fixture(scope="module")
def app(fake_server):
    """One app for the module: the tests below swap its client per test (monkeypatch undoes it)."""
    app = build_app(make_config(fake_server))
    yield app
    dispose_app(app)


@pytest.fixture
def twilio(app, monkeypatch):
    """A mocked twilio Client in place of the app's one, inside an app context."""
    client = mock.Mock(name="twilio_client")
    # The deprecated accessor warns (an error under filterwarnings); using it must fail here too.
    client.verify.services.side_effect = AssertionError("client.verify.services is deprecated")
    service = client.verify.v2.services.return_value
    service.verifications.create.return_value = SimpleNamespace(channel="sms", status="pending")
    service.verification_checks.create.return_value = SimpleNamespace(status="approved")
    monkeypatch.setitem(app.extensions, "twilio_client", client)
    app.extensions["twilio_breaker"].reset()  # the module's app is shared: no outages carried over
    with app.app_context():
        yield SimpleNamespace(client=client, service=service, sid=app.config["TWILIO_VERIFY_SERVICE_ID"],
                              send=service.verifications.create, check=service.verification_checks.create)


# -- the v2 service ---------------------------------------------------------------------------

def test_send_uses_the_v2_service(twilio):
    assert request_verification_token(PHONE) == Sent(channel="sms")
    twilio.client.verify.v2.services.assert_called_once_with(twilio.sid)
    twilio.send.assert_called_once_with(to=PHONE, channel="sms")
    twilio.client.verify.services.assert_not_called()


def test_check_uses_the_v2_service(twilio):
    assert check_verification_token(PHONE, "123456") is CheckResult.APPROVED
    twilio.client.verify.v2.services.assert_called_once_with(twilio.sid)
    twilio.check.assert_called_once_with(to=PHONE, code="123456")
    twilio.client.verify.services.assert_not_called()


def test_send_by_call(twilio):
    twilio.send.return_value = SimpleNamespace(channel="call", status="pending")
    assert request_verification_token(PHONE, "call") == Sent(channel="call")
    twilio.send.assert_called_once_with(to=PHONE, channel="call")


# -- SMS -> call fallback ---------------------------------------------------------------------

def test_sms_to_a_landline_falls_back_to_a_call(twilio):
    twilio.send.side_effect = [rest_error(400, 60205), SimpleNamespace(channel="call", status="pending")]
    assert request_verification_token(PHONE) == Sent(channel="call", fell_back=True)
    assert twilio.send.call_args_list == [mock.call(to=PHONE, channel="sms"), mock.call(to=PHONE, channel="call")]


@pytest.mark.parametrize(("status", "code"), [(400, 60200), (429, 60203), (403, 60410), (500, None)])
def test_no_fallback_for_other_errors(twilio, status, code):
    twilio.send.side_effect = rest_error(status, code)
    with pytest.raises(VerificationError):
        request_verification_token(PHONE)
    twilio.send.assert_called_once_with(to=PHONE, channel="sms")


def test_no_fallback_when_the_call_itself_fails_with_60205(twilio):
    twilio.send.side_effect = rest_error(400, 60205)
    with pytest.raises(VerificationError) as raised:
        request_verification_token(PHONE, "call")
    twilio.send.assert_called_once_with(to=PHONE, channel="call")
    assert (raised.value.reason, raised.value.status, raised.value.field) == ("cannot_receive_sms", 400, "phone")


@pytest.mark.parametrize(("call_error", "reason", "status", "field"), [
    (rest_error(400, 60205), "cannot_receive_sms", 400, "phone"),
    (rest_error(403, 60410), "blocked", 403, "phone"),
    (rest_error(503, None), "unavailable", 503, None),
    (requests.exceptions.Timeout("read timed out"), "unavailable", 503, None),
])
def test_fallback_call_that_also_fails(twilio, call_error, reason, status, field):
    twilio.send.side_effect = [rest_error(400, 60205), call_error]
    with pytest.raises(VerificationError) as raised:
        request_verification_token(PHONE)
    assert twilio.send.call_count == 2
    assert (raised.value.reason, raised.value.status, raised.value.field) == (reason, status, field)


# -- error mapping ----------------------------------------------------------------------------

SEND_ERRORS = [
    (rest_error(400, 60200), "invalid_number", 400, "phone"),
    (rest_error(429, 60203), "too_many_sends", 429, None),
    (rest_error(429, 60212), "too_many_sends", 429, None),
    (rest_error(403, 60410), "blocked", 403, "phone"),
    (rest_error(403, 60605), "blocked", 403, "phone"),
    (rest_error(429, 20429), "busy", 429, None),
    (service_error(429, 20429), "busy", 429, None),
    (service_error(400, 60200), "invalid_number", 400, "phone"),
    (rest_error(500, None), "unavailable", 503, None),
    (rest_error(503, 20503), "unavailable", 503, None),
    (rest_error(401, 20003), "unavailable", 503, None),
    (rest_error(404, 20404), "unavailable", 503, None),  # wrong service SID: our fault, not theirs
    (requests.exceptions.Timeout("read timed out"), "unavailable", 503, None),
    (requests.exceptions.ConnectionError("refused"), "unavailable", 503, None),
    (service_error(), "unavailable", 503, None),
]


@pytest.mark.parametrize(("error", "reason", "status", "field"), SEND_ERRORS)
def test_send_error_mapping(twilio, error, reason, status, field):
    twilio.send.side_effect = error
    with pytest.raises(VerificationError) as raised:
        request_verification_token(PHONE)
    assert (raised.value.reason, raised.value.status, raised.value.field) == (reason, status, field)
    assert raised.value.__cause__ is error
    if reason == "unavailable":
        assert raised.value.message == UNAVAILABLE


@pytest.mark.parametrize("error", [
    rest_error(500, None),
    rest_error(401, 20003),
    requests.exceptions.Timeout("read timed out"),
    requests.exceptions.ConnectionError("refused"),
    service_error(),
])
def test_check_outages_are_unavailable(twilio, error):
    twilio.check.side_effect = error
    with pytest.raises(VerificationError) as raised:
        check_verification_token(PHONE, "123456")
    assert (raised.value.reason, raised.value.status, raised.value.message) == ("unavailable", 503, UNAVAILABLE)


@pytest.mark.parametrize(("answer", "result"), [
    (SimpleNamespace(status="approved"), CheckResult.APPROVED),
    (SimpleNamespace(status="pending"), CheckResult.WRONG),
    (SimpleNamespace(status="canceled"), CheckResult.EXPIRED),
    (SimpleNamespace(status="expired"), CheckResult.EXPIRED),
    (SimpleNamespace(status="deleted"), CheckResult.EXPIRED),
    (SimpleNamespace(status="max_attempts_reached"), CheckResult.MAX_ATTEMPTS),
    (rest_error(404, 20404), CheckResult.EXPIRED),
    (rest_error(429, 60202), CheckResult.MAX_ATTEMPTS),
    (service_error(404, 20404), CheckResult.EXPIRED),
    (service_error(429, 60202), CheckResult.MAX_ATTEMPTS),
])
def test_check_results(twilio, answer, result):
    if isinstance(answer, Exception):
        twilio.check.side_effect = answer
    else:
        twilio.check.return_value = answer
    assert check_verification_token(PHONE, "123456") is result


@pytest.mark.parametrize("status", ["failed", None, "something-new"])
def test_a_check_status_that_means_nothing_known_is_an_outage(twilio, status, caplog):
    twilio.check.return_value = SimpleNamespace(status=status)
    with caplog.at_level(logging.WARNING), pytest.raises(VerificationError) as raised:
        check_verification_token(PHONE, "123456")
    assert (raised.value.status, raised.value.message) == (503, UNAVAILABLE)
    assert f"status={status!r}" in caplog.text and "+44 ••• ••• •456" in caplog.text
    assert "123456" not in caplog.text


@pytest.mark.parametrize(("header", "seconds"), [
    ("17", 17), ("0", 30), ("-3", 30), ("soon", 30), (None, 30), ("99999", 3600), (" 5 ", 5),
])
def test_twilio_rate_limit_passes_its_retry_after_on(twilio, header, seconds):
    twilio.check.side_effect = rest_error(429, 20429)
    headers = {} if header is None else {"Retry-After": header}
    twilio.client.http_client.last_response = SimpleNamespace(headers=headers)
    with pytest.raises(VerificationError) as raised:
        check_verification_token(PHONE, "123456")
    assert (raised.value.reason, raised.value.status, raised.value.retry_after) == ("busy", 429, seconds)
    assert raised.value.message == f"The verification service is busy. Try again in {seconds} seconds."


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    assert 40 <= twilio_verify_api.retry_after_seconds({"Retry-After": formatdate(time.time() + 45, usegmt=True)}) <= 46


def test_only_approved_is_truthy():
    assert [bool(result) for result in CheckResult] == [r is CheckResult.APPROVED for r in CheckResult]


def test_failures_are_logged_with_the_number_masked(twilio, caplog):
    twilio.send.side_effect = [rest_error(400, 60205), rest_error(503, None)]
    with caplog.at_level(logging.WARNING, logger="app.twilio_verify_api"), pytest.raises(VerificationError):
        request_verification_token(PHONE)
    assert "+44 ••• ••• •456" in caplog.text
    assert "code=60205" in caplog.text
    assert "7400123456" not in caplog.text


# -- the HTTP client --------------------------------------------------------------------------

def settings(**overrides):
    base = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "token", "TWILIO_TIMEOUT": 3.5,
            "TWILIO_API_BASE_URL": None}
    base.update(overrides)
    return base


@pytest.mark.parametrize(("base_url", "kind"), [
    (None, ThreadSafeHttpClient),
    ("http://127.0.0.1:9", RedirectingHttpClient),
])
def test_create_client_passes_the_timeout(base_url, kind):
    client = create_client(settings(TWILIO_API_BASE_URL=base_url, TWILIO_TIMEOUT=3.5))
    try:
        assert type(client.http_client) is kind
        assert client.http_client.timeout.total == 3.5  # the whole call, not each of its steps
        assert client.username == "AC" + "1" * 32
    finally:
        client.http_client.session.close()


def test_the_app_client_has_the_configured_timeout(app):
    http_client = app.extensions["twilio_client"].http_client
    assert isinstance(http_client, TwilioHttpClient)
    assert http_client.timeout.total == app.config["TWILIO_TIMEOUT"] == 2.0


def test_a_slow_twilio_times_out_within_the_setting(fake):
    app = build_app(make_config(fake, TWILIO_TIMEOUT=0.3))
    try:
        fake.inject("send", 200, delay=3.0)
        started = time.monotonic()
        with app.app_context(), pytest.raises(VerificationError) as raised:
            request_verification_token(PHONE)
        assert time.monotonic() - started < 2.0
        assert (raised.value.reason, raised.value.status) == ("unavailable", 503)
        assert isinstance(raised.value.__cause__, requests.exceptions.Timeout)
    finally:
        fake.reset()  # drops the sleeping request
        dispose_app(app)


@pytest.mark.parametrize("url", [
    "https://verify.twilio.com/v2/Services/VA0/Verifications",
    "https://verify.ie1.twilio.com/v2/Services/VA0/Verifications",
    "https://verify.dublin.ie1.twilio.com/v2/Services/VA0/Verifications",
    "https://verify.dublin.ie1.twilio.com/v2/Services/VA0/Verifications?Page=1",
])
def test_redirecting_client_swaps_scheme_and_host_and_keeps_the_path(url):
    with mock.patch.object(TwilioHttpClient, "request", return_value="response") as parent:
        http_client = RedirectingHttpClient("http://127.0.0.1:8123", timeout=1.0)
        try:
            answer = http_client.request("POST", url, data={"To": PHONE})
        finally:
            http_client.session.close()
    expected = "http://127.0.0.1:8123/v2/Services/VA0/Verifications" + ("?Page=1" if "?" in url else "")
    parent.assert_called_once_with("POST", expected, data={"To": PHONE})
    assert answer == "response"


def test_region_and_edge_from_the_environment_still_reach_the_base_url(fake, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    app = build_app(make_config(fake))
    try:
        client = app.extensions["twilio_client"]
        assert (client.region, client.edge) == ("ie1", "dublin")  # so the host does get the region
        with app.app_context():
            assert request_verification_token(PHONE) == Sent(channel="sms")
            assert check_verification_token(PHONE, fake.last_code(PHONE)) is CheckResult.APPROVED
        assert [r["path"] for r in fake.requests] == [
            f"/v2/Services/{fake.service_sid}/Verifications",
            f"/v2/Services/{fake.service_sid}/VerificationCheck",
        ]
        assert all(r["auth_ok"] for r in fake.requests)
    finally:
        dispose_app(app)


def test_one_client_per_app_reused_across_requests(fake, monkeypatch):
    built = []
    real_create_client = twilio_verify_api.create_client

    def counting_create_client(config):
        built.append(real_create_client(config))
        return built[-1]

    monkeypatch.setattr(twilio_verify_api, "create_client", counting_create_client)
    app = build_app(make_config(fake))
    try:
        assert len(built) == 1 and app.extensions["twilio_client"] is built[0]
        used = []
        real_service = twilio_verify_api._service

        def recording_service():
            from flask import current_app
            used.append(current_app.extensions["twilio_client"])
            return real_service()

        monkeypatch.setattr(twilio_verify_api, "_service", recording_service)
        for _ in range(3):  # three separate requests
            with app.test_request_context():
                request_verification_token(PHONE)
        assert len(built) == 1
        assert len(used) == 3 and all(client is built[0] for client in used)
        assert len(fake.sends) == 3
        assert fake.connections_opened == 1  # the client's connection pool is kept
    finally:
        dispose_app(app)


@pytest.mark.parametrize(("kind", "each_sees_its_own"), [(TwilioHttpClient, False), (ThreadSafeHttpClient, True)])
def test_the_shared_client_keeps_each_threads_last_response(fake, kind, each_sees_its_own):
    """One client serves a worker's threads: the Retry-After a thread reads must be its own. The
    plain TwilioHttpClient shows why the app does not use it as it is."""
    import threading

    url = f"{fake.base_url}/v2/Services/{fake.service_sid}/Verifications"
    http_client = kind(timeout=5)
    first_answered, second_answered = threading.Event(), threading.Event()
    seen = {}

    def first():
        http_client.request("POST", url, data={"To": PHONE, "Channel": "sms"}, auth=(fake.account_sid, fake.auth_token))
        first_answered.set()
        second_answered.wait(5)
        seen["first"] = http_client._test_only_last_response.headers["Retry-After"]

    fake.rate_limit("send", retry_after=11)
    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert first_answered.wait(5)
        fake.rate_limit("send", retry_after=22)
        http_client.request("POST", url, data={"To": PHONE, "Channel": "sms"}, auth=(fake.account_sid, fake.auth_token))
        seen["second"] = http_client._test_only_last_response.headers["Retry-After"]
    finally:
        second_answered.set()
        thread.join(5)
        http_client.session.close()
    assert seen["second"] == "22"
    assert (seen["first"] == "11") is each_sees_its_own


def test_the_app_client_trusts_the_certificates_in_requests_ca_bundle(monkeypatch):
    """Production refuses a plain-http TWILIO_API_BASE_URL; a fake or emulator over https with its
    own certificate is trusted through REQUESTS_CA_BUNDLE in the app's environment."""
    from tests.fake_verify import FakeVerifyServer

    with FakeVerifyServer(https=True) as server:
        app = build_app(make_config(server))
        try:
            with app.app_context():
                monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
                monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
                with pytest.raises(VerificationError) as raised:
                    request_verification_token(PHONE)
                assert isinstance(raised.value.__cause__, requests.exceptions.SSLError)
                assert server.sends == []
                monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
                app.extensions["twilio_breaker"].reset()
                assert request_verification_token(PHONE, locale="es") == Sent(channel="sms")
                assert server.sends[-1]["locale"] == "es"
        finally:
            dispose_app(app)


@pytest.mark.parametrize(("kind", "bounded"), [(TwilioHttpClient, False), (ThreadSafeHttpClient, True)])
def test_twilio_timeout_bounds_the_whole_call(kind, bounded, monkeypatch):
    """A Twilio that is slow to shake hands and then slow to answer, each a little under the
    timeout: requests alone waits for both (up to twice TWILIO_TIMEOUT); the app's client gives up
    when TWILIO_TIMEOUT is over."""
    from tests.fake_verify import FakeVerifyServer

    with FakeVerifyServer(https=True) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
        server.connection_delay = 0.7
        server.inject("send", 200, delay=0.7)
        http_client = kind(timeout=1.0)
        url = f"{server.base_url}/v2/Services/{server.service_sid}/Verifications"
        started = time.monotonic()
        try:
            if bounded:
                with pytest.raises(requests.exceptions.Timeout):
                    http_client.request("POST", url, data={"To": PHONE, "Channel": "sms"},
                                        auth=(server.account_sid, server.auth_token))
                assert time.monotonic() - started < 1.3
            else:
                response = http_client.request("POST", url, data={"To": PHONE, "Channel": "sms"},
                                               auth=(server.account_sid, server.auth_token))
                assert response.status_code == 201 and time.monotonic() - started >= 1.4
        finally:
            http_client.session.close()
