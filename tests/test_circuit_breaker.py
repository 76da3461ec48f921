"""The circuit breaker around Twilio: closed, open (fail fast), half-open (one probe).

First the breaker on its own (memory, then Redis shared by two breakers as two processes would),
then through the app's pages with the fake Verify server hanging or refusing.
"""
import contextlib
import secrets
import threading
import time

import pybreaker
import pytest
import redis
import requests

from app.verification.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, TwilioBreaker
from tests.conftest import PHONE, build_app, dispose_app, make_config, redis_url
from tests.support import NO_SEND_LIMITS, new_browser, text, wait_out_cooldown

UNAVAILABLE = "The verification service is unavailable. Please try again shortly."


class Outage(Exception):
    pass


class Refusal(Exception):
    pass


def is_outage(error):
    return isinstance(error, Outage)


@contextlib.contextmanager
def probe_under_way(breaker):
    """A probing call through `breaker`, in a thread, held until the block ends (then it succeeds)."""
    probing, release = threading.Event(), threading.Event()

    def probe():
        with breaker.guard(is_outage):
            probing.set()
            release.wait(5)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        assert probing.wait(5)
        yield
    finally:
        release.set()
        thread.join(5)


def run(breaker, outcome=None):
    """One guarded call; `outcome` is raised inside it (None: it succeeds). True if it ran."""
    ran = []
    try:
        with breaker.guard(is_outage):
            ran.append(True)
            if outcome is not None:
                raise outcome
    except (Outage, Refusal):
        pass
    return bool(ran)


def memory_breaker(failures=3, window=60, cooldown=30):
    return TwilioBreaker(failures=failures, window=window, cooldown=cooldown, probe_ttl=10)


# -- on its own, in memory ----------------------------------------------------------------------

def test_outages_in_a_row_open_it_and_then_nothing_is_called():
    breaker = memory_breaker(failures=3)
    assert run(breaker, Outage()) and run(breaker, Outage())
    assert breaker.state == CLOSED and breaker.failures == 2
    assert run(breaker, Outage())
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpen):
        run(breaker)
    assert 29 <= breaker.cooldown_left() <= 30


def test_refusals_and_successes_are_answers_and_break_the_row():
    breaker = memory_breaker(failures=3)
    for outcome in [Outage(), Outage(), Refusal(), Outage(), Outage(), None, Outage(), Outage()]:
        assert run(breaker, outcome)
    assert breaker.state == CLOSED and breaker.failures == 2
    for _ in range(10):
        assert run(breaker, Refusal())
    assert breaker.state == CLOSED and breaker.failures == 0


def test_failures_further_apart_than_the_window_do_not_add_up(monkeypatch):
    from app.verification import breaker as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    breaker = memory_breaker(failures=3, window=60)
    run(breaker, Outage())
    clock[0] += 40
    run(breaker, Outage())
    clock[0] += 40  # 80 s after the first: the count starts again
    run(breaker, Outage())
    assert breaker.state == CLOSED and breaker.failures == 1
    run(breaker, Outage())
    run(breaker, Outage())
    assert breaker.state == OPEN


def opened(breaker):
    while breaker.state == CLOSED:
        run(breaker, Outage())
    return breaker


def test_after_the_cool_down_one_call_probes_and_an_answer_closes_it():
    breaker = opened(memory_breaker(failures=2, cooldown=1))
    with pytest.raises(BreakerOpen):
        run(breaker)
    time.sleep(1.05)
    assert breaker.state == HALF_OPEN  # the next call probes
    with probe_under_way(breaker):
        started = time.monotonic()
        with pytest.raises(BreakerOpen):  # only one probe: the others still fail fast
            run(breaker)
        assert time.monotonic() - started < 0.1
    assert breaker.state == CLOSED and breaker.failures == 0
    assert run(breaker)


def test_a_failed_probe_opens_it_for_another_cool_down():
    breaker = opened(memory_breaker(failures=2, cooldown=1))
    time.sleep(1.05)
    assert run(breaker, Outage())  # the probe ran, and failed
    assert breaker.state == OPEN and breaker.cooldown_left() > 0.5
    with pytest.raises(BreakerOpen):
        run(breaker)


def test_calls_wait_on_twilio_side_by_side_not_one_after_another():
    """pybreaker's own call() holds a lock for the whole call; the guard must not."""
    breaker = memory_breaker()
    together = threading.Barrier(4, timeout=2)
    errors = []

    def call():
        try:
            with breaker.guard(is_outage):
                together.wait()  # only passes if all four are inside at once
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert errors == []

    # What the guard avoids: the same four through pybreaker's call() cannot meet.
    serial = pybreaker.CircuitBreaker()
    together = threading.Barrier(2, timeout=0.5)
    results = []

    def through_pybreaker():
        try:
            serial.call(together.wait)
            results.append("met")
        except threading.BrokenBarrierError:
            results.append("alone")

    threads = [threading.Thread(target=through_pybreaker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert "met" not in results


# -- shared through Redis -----------------------------------------------------------------------

@pytest.fixture
def shared_pair():
    client = redis.Redis.from_url(redis_url(), socket_timeout=2)
    namespace = "test-breaker-" + secrets.token_hex(4)

    def make():
        return TwilioBreaker(failures=3, window=2, cooldown=1, probe_ttl=10, redis_client=client, namespace=namespace)

    yield make(), make()
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)


@pytest.mark.redis
def test_processes_sharing_redis_share_one_breaker(shared_pair):
    a, b = shared_pair
    run(a, Outage())
    run(b, Outage())
    assert a.failures == b.failures == 2
    run(a, Outage())
    assert a.state == b.state == OPEN
    with pytest.raises(BreakerOpen):
        run(b)
    time.sleep(1.1)
    assert b.state == HALF_OPEN
    with probe_under_way(a):
        with pytest.raises(BreakerOpen):  # one probe across the processes
            run(b)
    assert a.state == b.state == CLOSED


@pytest.mark.redis
def test_the_shared_count_expires_with_the_window(shared_pair):
    a, b = shared_pair
    run(a, Outage())
    run(b, Outage())
    time.sleep(2.2)  # the window is 2 s
    run(a, Outage())
    assert a.state == CLOSED and b.failures == 1


def test_redis_down_leaves_the_breaker_closed_and_calls_going_through_quickly(caplog):
    from app.verification.breaker import make_breaker

    config = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0", "TWILIO_BREAKER_FAILURES": 2,
              "TWILIO_BREAKER_WINDOW_SECONDS": 60, "TWILIO_BREAKER_COOLDOWN_SECONDS": 30, "TWILIO_TIMEOUT": 1}
    started = time.monotonic()
    breaker = make_breaker(config)
    assert breaker.shared
    for _ in range(3):
        assert run(breaker) and run(breaker, Outage())
    assert time.monotonic() - started < 2  # no retries with back-off on every lookup
    assert breaker.status()["state"] in (CLOSED, "unknown")


# -- through the app ----------------------------------------------------------------------------

TIMEOUT = 0.4
SETTINGS = {**NO_SEND_LIMITS, "TWILIO_TIMEOUT": TIMEOUT, "TWILIO_BREAKER_FAILURES": 3,
            "TWILIO_BREAKER_COOLDOWN_SECONDS": 2}


@pytest.fixture
def people(app, fake):
    """Four people with 2FA, each in their own browser."""
    browsers = []
    for n in range(4):
        person = new_browser(app, fake)
        person.register(f"person{n}")
        person.start_enrolment(f"07400 12345{n}")
        assert person.confirm(phone=number(n)).status_code == 302
        person.logout()
        browsers.append((person, f"person{n}"))
    fake.reset()
    return browsers


def number(n):
    return f"+44740012345{n}"


def timed_login(person, username):
    started = time.monotonic()
    response = person.login(username)
    return response, time.monotonic() - started


@pytest.mark.app_settings(**SETTINGS)
def test_a_hanging_twilio_opens_the_breaker_and_then_pages_come_at_once(app, fake, people):
    fake.hang(3)
    for person, username in people[:3]:  # three wait TWILIO_TIMEOUT each, and open the breaker
        response, took = timed_login(person, username)
        assert response.status_code == 503 and UNAVAILABLE in text(response)
        assert TIMEOUT <= took < TIMEOUT + 1
    assert app.extensions["twilio_breaker"].state == OPEN
    calls = len(fake.requests)
    person, username = people[3]
    response, took = timed_login(person, username)
    assert response.status_code == 503 and UNAVAILABLE in text(response)
    assert took < TIMEOUT / 2  # no wait on Twilio
    assert len(fake.requests) == calls  # not called

    fake.hang(0)  # Twilio is back; after the cool-down one login probes it and closes the breaker
    time.sleep(2.05)
    response, _ = timed_login(person, username)
    assert response.headers.get("Location") == "/auth/verify", text(response)
    assert app.extensions["twilio_breaker"].state == CLOSED
    assert person.verify(phone=number(3)).headers["Location"] == "/profile"


@pytest.mark.app_settings(**SETTINGS)
@pytest.mark.parametrize(("status", "code"), [(403, 60410), (400, 60200), (429, 20429), (429, 60203)])
def test_refusals_never_open_it(app, fake, people, status, code):
    person, username = people[0]
    fake.inject("send", status, code=code, times=10)
    sends = len(fake.requests)
    for _ in range(5):
        wait_out_cooldown(app, number(0))  # a refused send holds the cooldown like a sent one
        assert person.login(username).status_code in (400, 403, 429)
    assert len(fake.requests) - sends == 5  # every refusal came from Twilio
    assert app.extensions["twilio_breaker"].state == CLOSED
    fake.reset()
    wait_out_cooldown(app, number(0))
    assert person.login(username).headers.get("Location") == "/auth/verify"


@pytest.mark.app_settings(**SETTINGS)
def test_5xx_answers_open_it_like_timeouts(app, fake, people):
    fake.inject("any", 503, code=20503, times=3)
    for person, username in people[:3]:
        assert person.login(username).status_code == 503
    assert app.extensions["twilio_breaker"].state == OPEN


@pytest.mark.app_settings(**SETTINGS)
def test_a_code_check_is_guarded_too(app, fake, people):
    person, username = people[0]
    assert person.login(username).headers["Location"] == "/auth/verify"
    code = fake.last_code(number(0))
    fake.inject("any", 500, times=3)
    for person_, name in people[1:]:
        person_.login(name)
    assert app.extensions["twilio_breaker"].state == OPEN
    checks = len(fake.checks)
    response = person.verify(code, phone=number(0))
    assert response.status_code == 503 and UNAVAILABLE in text(response)
    assert len(fake.checks) == checks


@pytest.mark.redis
def test_two_app_processes_on_one_redis_share_the_breaker(fake):
    """A and B stand for two gunicorn workers (or hosts) with the rate limits in Redis."""
    settings = {**SETTINGS, "RATELIMIT_STORAGE_URI": redis_url(), "RATELIMIT_KEY_PREFIX": "t" + secrets.token_hex(4),
                "RATELIMIT_ENABLED": False}
    a, b = build_app(make_config(fake, **settings)), build_app(make_config(fake, **settings))
    try:
        with a.app_context():
            from app.verification import verifier

            fake.hang(2)
            for _ in range(3):
                with pytest.raises(Exception):
                    verifier().send(PHONE)
        assert b.extensions["twilio_breaker"].state == OPEN
        with b.test_request_context():
            started = time.monotonic()
            with pytest.raises(Exception) as raised:
                b.extensions["verifier"].send(PHONE)
            assert time.monotonic() - started < 0.2
            assert raised.value.reason == "breaker_open"
    finally:
        fake.hang(0)
        a.extensions["twilio_breaker"].reset()
        dispose_app(a)
        dispose_app(b)


def test_a_timeout_is_an_outage_and_a_refusal_is_not():
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException

    from app.twilio_verify_api import is_outage

    uri = "https://verify.twilio.com/v2/Services/VA0/Verifications"
    assert is_outage(requests.exceptions.ReadTimeout())
    assert is_outage(requests.exceptions.ConnectionError())
    assert is_outage(requests.exceptions.SSLError())
    assert is_outage(TwilioRestException(503, uri, code=20503))
    assert is_outage(TwilioServiceException("t", "Unavailable", 500, 20500))
    for status, code in [(400, 60200), (403, 60410), (429, 20429), (404, 20404), (401, 20003)]:
        assert not is_outage(TwilioRestException(status, uri, code=code))
    assert not is_outage(ValueError())
