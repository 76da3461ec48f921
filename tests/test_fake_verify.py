"""Tests for the fake Verify server, driven through the real twilio client so
the fake is proven compatible with what the app actually sends and parses."""

import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

sys.path.insert(0, str(Path(__file__).parent))
from fake_verify import CHANNELS, STATUSES, FakeVerifyServer  # noqa: E402

NUMBER = "+447400123456"


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every Twilio request to the fake, keeping path and query."""

    def __init__(self, base_url, **kw):
        super().__init__(**kw)
        self._base = urllib.parse.urlsplit(base_url)

    def request(self, method, url, *args, **kwargs):
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def fake():
    with FakeVerifyServer() as server:
        yield server


@pytest.fixture
def make_service(fake):
    """Build Verify service handles; closes their HTTP sessions (no ResourceWarning)."""
    http_clients = []

    def make(timeout=2, auth_token=None):
        http = RedirectingHttpClient(fake.base_url, timeout=timeout)
        http_clients.append(http)
        client = Client(fake.account_sid, auth_token or fake.auth_token, http_client=http)
        return client.verify.v2.services(fake.service_sid)

    yield make
    for http in http_clients:
        http.session.close()


@pytest.fixture
def svc(make_service):
    return make_service()


def send(svc, to=NUMBER, channel="sms"):
    return svc.verifications.create(to=to, channel=channel)


def check(svc, code, to=NUMBER):
    return svc.verification_checks.create(to=to, code=code)


def twilio_error(call, *args, **kwargs):
    with pytest.raises(TwilioRestException) as info:
        call(*args, **kwargs)
    return info.value


def wrong(code):
    return "%06d" % ((int(code) + 1) % 10**6)


def test_send_and_approve(fake, svc):
    v = send(svc)
    assert (v.status, v.to, v.channel, v.valid) == ("pending", NUMBER, "sms", False)
    assert v.sid.startswith("VE") and len(v.sid) == 34
    assert v.send_code_attempts[0]["attempt_sid"].startswith("VL")
    code = fake.last_code(NUMBER)
    assert len(code) == 6 and code.isdigit()
    assert fake.sends == [{"to": NUMBER, "channel": "sms", "code": code, "sid": v.sid, "locale": None}]
    c = check(svc, code)
    assert (c.status, c.valid, c.sid) == ("approved", True, v.sid)
    assert fake.checks == [{"to": NUMBER, "code": code, "status": "approved"}]
    assert fake.requests[0]["form"] == {"To": NUMBER, "Channel": "sms"} and fake.requests[0]["auth_ok"]


def test_check_by_verification_sid(fake, svc):
    v = send(svc)
    c = svc.verification_checks.create(verification_sid=v.sid, code=fake.last_code(NUMBER))
    assert c.status == "approved"


def test_wrong_code_stays_pending(fake, svc):
    send(svc)
    c = check(svc, wrong(fake.last_code(NUMBER)))
    assert (c.status, c.valid) == ("pending", False)
    assert check(svc, fake.last_code(NUMBER)).status == "approved"


def test_five_wrong_codes_then_max_attempts_then_gone(fake, svc):
    send(svc)
    bad = wrong(fake.last_code(NUMBER))
    for _ in range(5):
        assert check(svc, bad).status == "pending"
    err = twilio_error(check, svc, bad)
    assert (err.status, err.code) == (429, 60202)
    err = twilio_error(check, svc, bad)
    assert (err.status, err.code) == (404, 20404)
    assert [c["status"] for c in fake.checks] == ["pending"] * 5 + [429, 404]


def test_resend_within_ten_minutes_reuses_code(fake, svc):
    first = send(svc)
    code = fake.last_code(NUMBER)
    fake.advance(300)
    second = send(svc, channel="call")
    assert second.sid == first.sid and fake.last_code(NUMBER) == code
    assert second.channel == "call" and len(second.send_code_attempts) == 2
    assert [s["code"] for s in fake.sends] == [code, code]


def test_sixth_send_is_rejected(fake, svc):
    for _ in range(5):
        send(svc)
    err = twilio_error(send, svc)
    assert (err.status, err.code) == (429, 60203)
    assert len(fake.sends) == 5


def test_expiry_after_ten_minutes(fake, svc):
    old = send(svc)
    old_code = fake.last_code(NUMBER)
    fake.advance(601)
    with pytest.raises(KeyError):
        fake.last_code(NUMBER)
    err = twilio_error(check, svc, old_code)
    assert (err.status, err.code) == (404, 20404)
    new = send(svc)
    assert new.sid != old.sid and fake.sends[-1]["sid"] == new.sid
    assert check(svc, fake.last_code(NUMBER)).status == "approved"


def test_approved_verification_is_gone(fake, svc):
    send(svc)
    code = fake.last_code(NUMBER)
    assert check(svc, code).status == "approved"
    err = twilio_error(check, svc, code)
    assert (err.status, err.code) == (404, 20404)
    assert "VerificationCheck was not found" in err.msg


def test_bad_auth(fake, make_service):
    err = twilio_error(send, make_service(auth_token="wrong"))
    assert (err.status, err.code) == (401, 20003)
    assert fake.sends == [] and fake.requests[0]["auth_ok"] is False


def test_invalid_number_and_unknown_service(fake, make_service, svc):
    err = twilio_error(send, svc, to="07400123456")
    assert (err.status, err.code) == (400, 60200)
    http = RedirectingHttpClient(fake.base_url, timeout=2)
    try:
        other = Client(fake.account_sid, fake.auth_token, http_client=http).verify.v2.services("VA" + "1" * 32)
        err = twilio_error(send, other)
    finally:
        http.session.close()
    assert (err.status, err.code) == (404, 20404)


def test_landline_rejects_sms_but_accepts_call(fake, svc):
    fake.landline_numbers.add(NUMBER)
    err = twilio_error(send, svc)
    assert (err.status, err.code) == (400, 60205)
    assert send(svc, channel="call").status == "pending"
    assert [s["channel"] for s in fake.sends] == ["call"]


def test_blocked_number(fake, svc):
    fake.blocked_numbers[NUMBER] = 60410
    err = twilio_error(send, svc)
    assert (err.status, err.code) == (403, 60410)


def test_injected_errors_are_consumed_in_order(fake, svc):
    fake.inject("send", 503, code=20503, message="Service unavailable")
    fake.inject("any", 500, body=b"not json")
    err = twilio_error(send, svc)
    assert (err.status, err.code) == (503, 20503) and "Service unavailable" in err.msg
    err = twilio_error(check, svc, "123456")
    assert err.status == 500  # unparsable body: the client falls back to the HTTP status
    assert send(svc).status == "pending"


def test_injected_delay_times_out_client_without_blocking_others(fake, make_service):
    fake.inject("send", 200, delay=3)
    slow, fast = make_service(timeout=1), make_service()
    errors = []

    def slow_send():
        try:
            send(slow)
        except Exception as exc:  # collected and asserted in the main thread
            errors.append(exc)

    thread = threading.Thread(target=slow_send)
    started = time.monotonic()
    thread.start()
    time.sleep(0.1)
    assert send(fast, to="+447400999999").status == "pending"  # answered during the hang
    thread.join(5)
    assert time.monotonic() - started < 2
    assert len(errors) == 1 and isinstance(errors[0], requests.exceptions.Timeout)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1


def test_short_delay_is_a_slow_but_normal_answer(fake, svc):
    fake.inject("check", 200, delay=0.2)
    send(svc)
    started = time.monotonic()
    assert check(svc, fake.last_code(NUMBER)).status == "approved"
    assert time.monotonic() - started >= 0.2


def test_keep_alive_reuses_one_connection(fake, svc):
    send(svc)
    bad = wrong(fake.last_code(NUMBER))
    for i in range(9):
        assert (send(svc) if i % 2 else check(svc, bad)).status == "pending"
    assert len(fake.requests) == 10
    assert fake.connections_opened == 1


def test_reset_clears_state(fake, svc):
    send(svc)
    fake.inject("send", 500)
    fake.advance(100)
    fake.reset()
    assert (fake.sends, fake.checks, fake.requests) == ([], [], [])
    assert abs(fake.now() - time.time()) < 1
    with pytest.raises(AssertionError, match="no pending verification"):
        fake.last_code(NUMBER)
    assert send(svc).status == "pending"


# -- what the OpenAPI description says --------------------------------------------------------

@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_the_description_allows_is_accepted(fake, svc, channel):
    to = "someone@example.com" if channel == "email" else NUMBER
    v = send(svc, to=to, channel=channel)
    assert v.status == "pending"
    # The answer's channel is from the response enum, which has no "auto": Verify picks one.
    assert v.channel == ("sms" if channel == "auto" else channel)
    assert fake.sends[-1]["channel"] == channel


@pytest.mark.parametrize(("to", "channel"), [
    (NUMBER, "fax"), (NUMBER, "SMS"), (NUMBER, "voice"), (NUMBER, ""),
    ("someone@example.com", "sms"), (NUMBER, "email"),
])
def test_channels_and_addresses_outside_the_description_are_refused(fake, svc, to, channel):
    err = twilio_error(send, svc, to=to, channel=channel)
    assert (err.status, err.code) == (400, 60200)
    assert fake.sends == []


def test_locale_is_recorded(fake, svc):
    svc.verifications.create(to=NUMBER, channel="call", locale="es")
    assert fake.sends[-1]["locale"] == "es"
    assert fake.requests[-1]["form"] == {"To": NUMBER, "Channel": "call", "Locale": "es"}


@pytest.mark.parametrize("locale", ["xx", "es_ES", "EN", "english"])
def test_an_unsupported_locale_is_a_404(make_service, fake, locale):
    fake.locales = {"en", "es", "pt-BR"}
    err = twilio_error(make_service().verifications.create, to=NUMBER, channel="sms", locale=locale)
    assert (err.status, err.code) == (404, 20404)
    assert fake.sends == []


def test_fields_the_description_does_not_list_are_refused(fake, svc):
    """Twilio would ignore a misspelt field; the fake refuses it, so a typo cannot pass silently."""
    err = twilio_error(svc.verifications.create, to=NUMBER, channel="sms", locale="es", custom_code="12")
    assert (err.status, err.code) == (400, 60200)  # CustomCode is 4-10 characters
    http = requests.post(f"{fake.base_url}/v2/Services/{fake.service_sid}/Verifications",
                         data={"To": NUMBER, "Channel": "sms", "locale": "es"},
                         auth=(fake.account_sid, fake.auth_token), timeout=5)
    assert http.status_code == 400 and "Unknown parameter: locale" in http.json()["message"]
    err = twilio_error(svc.verifications.create, to=NUMBER, channel="sms", risk_check="maybe")
    assert (err.status, err.code) == (400, 60200)
    assert fake.sends == []


def test_check_fields_follow_the_description(fake, svc):
    send(svc)
    for kwargs in ({"to": NUMBER, "code": "123"}, {"to": NUMBER, "code": "12345678901"},
                   {"verification_sid": "VE123", "code": "123456"}):
        err = twilio_error(svc.verification_checks.create, **kwargs)
        assert (err.status, err.code) == (400, 60200), kwargs
    assert check(svc, fake.last_code(NUMBER)).status == "approved"


@pytest.mark.parametrize("status", [*STATUSES, None, "paused"])
@pytest.mark.parametrize("http_status", [200, 201])
def test_every_check_status_is_reachable(fake, svc, status, http_status):
    send(svc)
    code = fake.last_code(NUMBER)
    fake.inject_status("check", status, http_status=http_status)
    c = check(svc, code)
    assert c.status == status
    assert fake.checks[-1]["status"] == status
    if status == "pending":  # counted as a wrong code; the verification is still open
        assert fake.last_code(NUMBER) == code
    else:  # approved, or ended some other way: gone
        with pytest.raises(KeyError):
            fake.last_code(NUMBER)


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "pending"] + [None])
def test_a_send_can_be_answered_with_any_status_and_then_delivers_nothing(fake, svc, status):
    fake.inject_status("send", status)
    v = send(svc)
    assert v.status == status
    assert fake.sends == []
    assert send(svc).status == "pending"  # the switch is used up


@pytest.mark.parametrize("endpoint", ["send", "check"])
def test_twilio_rate_limit_has_the_documented_headers(fake, make_service, endpoint):
    http = RedirectingHttpClient(fake.base_url, timeout=2)
    try:
        svc = Client(fake.account_sid, fake.auth_token, http_client=http).verify.v2.services(fake.service_sid)
        fake.rate_limit(endpoint, retry_after=17)
        call = (lambda: send(svc)) if endpoint == "send" else (lambda: check(svc, "123456"))
        err = twilio_error(call)
        assert (err.status, err.code) == (429, 20429)
        headers = http._test_only_last_response.headers
        assert headers["Retry-After"] == "17"
        assert headers["Twilio-Reached-Rate-Limit"]
    finally:
        http.session.close()


def test_rate_limit_without_retry_after(fake):
    fake.rate_limit("send", retry_after=None)
    response = requests.post(f"{fake.base_url}/v2/Services/{fake.service_sid}/Verifications",
                             data={"To": NUMBER, "Channel": "sms"}, auth=(fake.account_sid, fake.auth_token),
                             timeout=5)
    assert (response.status_code, response.json()["code"]) == (429, 20429)
    assert "Retry-After" not in response.headers and response.headers["Twilio-Reached-Rate-Limit"]


def test_problem_details_bodies_raise_twilio_service_exception(fake, svc):
    fake.inject("send", 503, code=20503, message="Service Unavailable", problem=True)
    with pytest.raises(TwilioServiceException) as raised:
        send(svc)
    assert (raised.value.status, raised.value.code) == (503, 20503)


def test_hang_switch_delays_every_request_until_switched_off(fake, make_service):
    fake.hang(3)
    slow = make_service(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        send(slow)
    with pytest.raises(requests.exceptions.Timeout):
        check(slow, "123456")
    assert time.monotonic() - started < 2.5
    fake.hang(0)
    assert send(make_service()).status == "pending"


def test_a_request_waiting_in_a_hang_is_answered_when_it_ends(fake, make_service):
    fake.hang(10)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(send(make_service(timeout=5)).status))
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    fake.hang(0)
    thread.join(5)
    assert answers == ["pending"] and time.monotonic() - started < 1.5


def test_https_with_a_certificate_made_at_start(monkeypatch):
    with FakeVerifyServer(https=True) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        http = RedirectingHttpClient(server.base_url, timeout=5)
        try:
            svc = Client(server.account_sid, server.auth_token, http_client=http).verify.v2.services(server.service_sid)
            with pytest.raises(requests.exceptions.SSLError):  # not trusted by default
                send(svc)
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)  # TwilioHttpClient honours it
            assert send(svc).status == "pending"
            assert check(svc, server.last_code(NUMBER)).status == "approved"
        finally:
            http.session.close()
        ca_file = server.ca_file
    assert not Path(ca_file).exists()
