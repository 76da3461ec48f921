"""Twilio Verify failing at each step of enrolment and login: the page, the status, the database.

Every fault is injected through the fake Verify server (or a refused connection), at the send step
and the check step of enrolment and of login. For each, the person gets one plain sentence and
the status of issue 2 item 8, never a 500 and never an ERROR in the log; the database is as it
was (no number saved, no session token rotated, nothing half-written); a failed login step leaves
the person logged out; and once the fault has passed, doing the same thing again works.
"""
import hashlib
import html
import logging
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from app.extensions import db, limiter
from app.twilio_verify_api import create_client
from tests.conftest import PHONE, build_app, dispose_app, make_config, page_text
from tests.support import wait_out_cooldown

UNAVAILABLE = "The verification service is unavailable. Please try again shortly."
INVALID_NUMBER = "This phone number is not valid. Check it and try again."
TOO_MANY_SENDS = "Too many codes were requested. Try again in 10 minutes."
TOO_MANY_AT_ONCE = "Too many codes were requested at once. Try again in a minute."
CANNOT_RECEIVE = "This number can't receive text messages. Use a mobile number."
BLOCKED = "We can't send a code to this number right now."
WRONG_CODE = "Incorrect code. Please try again."
CODE_EXPIRED = "This code expired or is no longer valid. Request a new code."
BUSY = "The verification service is busy. Try again in 30 seconds."  # 20429 without Retry-After
TOO_MANY_WRONG = "Too many incorrect codes. Request a new code."
CALLING = "We couldn't text this number, so we are calling it with your code instead."

TIMEOUT = 0.5  # TWILIO_TIMEOUT for this module; a hang lasts three times as long
HANG = 1.5


@pytest.fixture(scope="module")
def module_app(fake_server):
    """One app for the module (its templates compiled once), emptied before every test."""
    app = build_app(make_config(fake_server, TWILIO_TIMEOUT=TIMEOUT))
    yield app
    dispose_app(app)


@pytest.fixture
def app(module_app, fake):
    with module_app.app_context():
        db.session.remove()
        db.drop_all()
        db.create_all()
    limiter.reset()
    module_app.extensions["twilio_breaker"].reset()  # each fault starts with Twilio trusted
    yield module_app
    with module_app.app_context():
        db.session.remove()


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch):
    """Password and recovery-code hashing at a token cost: these tests are about Twilio, and the
    full cost (about 0.1 s a hash, a dozen per journey) would make this file take minutes."""
    real = hashlib.scrypt

    def scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64):
        return real(password, salt=salt, n=2, r=1, p=1, dklen=dklen)

    monkeypatch.setattr(hashlib, "scrypt", scrypt)


# -- the faults ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    status: int
    message: str
    where: str = "alert"  # "alert" (a flash message), or the id of the form field it belongs to
    retry_after: int | None = None  # a 429's Retry-After, agreeing with the sentence on the page


@dataclass(frozen=True)
class Fault:
    name: str
    send: Expect | None  # what the send step answers; None: not a send-step fault
    check: Expect | None  # what the check step answers; None: not a check-step fault
    status: int = 0  # HTTP status of the injected Twilio answer
    code: int | None = None  # Twilio error code of the injected answer
    delay: float = 0.0
    times: int = 1
    refused: bool = False
    wrong_code: bool = False  # submit a wrong code instead of injecting anything
    counts_as_failure: bool = False  # at the check step, the wrong-code counter goes up by one


def unavailable():
    return Expect(503, UNAVAILABLE)


FAULTS = [
    Fault("http-500", unavailable(), unavailable(), status=500, code=20500),
    Fault("http-503", unavailable(), unavailable(), status=503, code=20503),
    # The connection stalls past TWILIO_TIMEOUT; the late answer is never read.
    Fault("hang", unavailable(), unavailable(), status=504, delay=HANG),
    Fault("refused", unavailable(), unavailable(), refused=True),
    # Twilio's own rate limit is a wait, not an outage (with its Retry-After: test_verify_answers).
    Fault("20429-too-many-requests", Expect(429, BUSY, retry_after=30), Expect(429, BUSY, retry_after=30),
          status=429, code=20429),
    Fault("20003-bad-credentials", unavailable(), unavailable(), status=401, code=20003),
    Fault("60200-invalid-number", Expect(400, INVALID_NUMBER, "phone"), Expect(400, INVALID_NUMBER),
          status=400, code=60200),
    # 60202 and 20404 belong to the check endpoint; at the send endpoint 20404 means the service
    # SID is unknown (a configuration fault) and 60202 cannot happen: both are an outage there.
    Fault("60202-max-check-attempts", unavailable(), Expect(400, TOO_MANY_WRONG), status=429, code=60202,
          counts_as_failure=True),
    # A 404 at a send is also how Verify refuses a Locale, which the app then drops and asks
    # again: a wrong service SID answers 404 to both.
    Fault("20404-not-found", unavailable(), Expect(400, CODE_EXPIRED), status=404, code=20404, times=2),
    Fault("60203-max-send-attempts", Expect(429, TOO_MANY_SENDS, retry_after=600),
          Expect(429, TOO_MANY_SENDS, retry_after=600), status=429, code=60203),
    # Both the text and the call fallback refused: the number can't take a code.
    Fault("60205-landline-call-fails-too", Expect(400, CANNOT_RECEIVE, "phone"), Expect(400, CANNOT_RECEIVE),
          status=400, code=60205, times=2),
    Fault("60212-concurrent-requests", Expect(429, TOO_MANY_AT_ONCE, retry_after=60),
          Expect(429, TOO_MANY_AT_ONCE, retry_after=60), status=429, code=60212),
    Fault("60410-fraud-guard", Expect(403, BLOCKED, "phone"), Expect(403, BLOCKED), status=403, code=60410),
    Fault("60605-geo-permissions", Expect(403, BLOCKED, "phone"), Expect(403, BLOCKED), status=403, code=60605),
    Fault("wrong-code", None, Expect(401, WRONG_CODE, "code"), wrong_code=True, counts_as_failure=True),
]


def closed_loopback_url():
    """A loopback port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def twilio_base_url(app, base_url):
    """The app's Twilio client rebuilt for `base_url`, as if TWILIO_API_BASE_URL said so."""
    saved_url, saved_client = app.config["TWILIO_API_BASE_URL"], app.extensions["twilio_client"]
    app.config["TWILIO_API_BASE_URL"] = base_url
    app.extensions["twilio_client"] = client = create_client(app.config)
    try:
        yield
    finally:
        client.http_client.session.close()
        app.config["TWILIO_API_BASE_URL"] = saved_url
        app.extensions["twilio_client"] = saved_client


@contextmanager
def injected(fault, endpoint, app, fake):
    if fault.refused:
        with twilio_base_url(app, closed_loopback_url()):
            yield
        return
    if not fault.wrong_code:
        times = fault.times if endpoint == "send" else 1  # only a send has a fallback to refuse
        fake.inject(endpoint, fault.status, code=fault.code, delay=fault.delay, times=times)
    yield


# -- the places ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    name: str
    endpoint: str  # "send" or "check"
    login: bool  # the login journey (True) or enrolment (False)
    new_events: frozenset = field(default_factory=frozenset)  # events a failed step may add


PLACES = [
    Place("enrol-send", "send", login=False),
    Place("enrol-check", "check", login=False),
    Place("login-send", "send", login=True, new_events=frozenset({"password_verified"})),
    Place("login-check", "check", login=True),
]


def prepare(place, auth, client):
    """Everything before the step under test, done for real against the working fake."""
    if place.login:
        auth.signup_with_2fa()
    else:
        assert auth.register().status_code == 302
        auth.confirm_its_you_to("/profile/2fa/enable")
    if place.name == "enrol-check":
        response = auth.start_enrolment()
        assert response.headers.get("Location") == "/profile/2fa/confirm", page_text(response)
    if place.name == "login-check":
        response = auth.login()
        assert response.headers.get("Location") == "/auth/verify", page_text(response)
    if place.endpoint == "check":
        # Open the form before the fault is armed, as a person would have.
        client.get("/auth/verify" if place.login else "/profile/2fa/confirm")


def act(place, auth, code=None):
    """The step under test, as a person does it."""
    if place.name == "enrol-send":
        return auth.start_enrolment()
    if place.name == "enrol-check":
        return auth.confirm(code)
    if place.name == "login-send":
        return auth.login()
    return auth.verify(code)


def finish_after_retry(place, auth, client, fake, refused=False):
    """Once the fault has passed, doing the step again completes the journey: at once after an
    outage (the send was given back), after the resend cooldown when Twilio refused the send (a
    refused send counts like one that went out)."""
    if refused:
        if place.name == "enrol-send":
            assert auth.start_enrolment().status_code == 429  # straight away, the cooldown holds
        wait_out_cooldown(client.application)
    if place.name == "enrol-send":
        response = auth.start_enrolment()
        assert response.headers.get("Location") == "/profile/2fa/confirm", page_text(response)
        place = PLACES[1]
    if place.name == "enrol-check":
        response = auth.confirm()
        assert response.status_code == 302, page_text(response)
        assert response.headers["Location"].startswith("/profile")
        return
    if place.name == "login-send":
        response = auth.login()
        assert response.headers.get("Location") == "/auth/verify", page_text(response)
    response = auth.verify()
    assert response.status_code == 302, page_text(response)
    assert response.headers["Location"] == "/profile"
    assert client.get("/profile").status_code == 200


# -- what the page says and what the database holds ---------------------------------------------
def alerts(text):
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(r'<div class="alert[^"]*" role="alert">(.*?)</div>', text, re.S)]


def field_error(text, field_id):
    match = re.search(rf'id="{field_id}-error"[^>]*>(.*?)</div>', text, re.S)
    return html.unescape(match.group(1)).strip() if match else None


def table_rows(app):
    """Every row of every table except the session store and the event log, by table."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            if table.name in ("sessions", "security_events"):
                continue
            rows[table.name] = sorted(
                (dict(row._mapping) for row in db.session.execute(sa.select(table))), key=repr
            )
        return rows


def event_kinds(app):
    with app.app_context():
        return db.session.scalars(sa.text("SELECT kind FROM security_events ORDER BY id")).all()


def user_row(app, username="alice"):
    """The user's row, with the number of their phone method as `phone`."""
    with app.app_context():
        return dict(db.session.execute(sa.text(
            "SELECT users.*, (SELECT phone FROM two_factor_methods WHERE user_id = users.id AND kind = 'phone') AS phone"
            " FROM users WHERE username = :name"), {"name": username}
        ).mappings().one())


def assert_unchanged(before, after, counts_as_failure):
    if counts_as_failure:
        # A wrong code (or Twilio's "too many wrong codes") is counted against the account.
        (old_user,), (new_user,) = before["users"], after["users"]
        assert new_user["code_failures"] == old_user["code_failures"] + 1
        old_user = {k: v for k, v in old_user.items() if not k.startswith("code_failures")}
        new_user = {k: v for k, v in new_user.items() if not k.startswith("code_failures")}
        assert new_user == old_user
        before = {k: v for k, v in before.items() if k != "users"}
        after = {k: v for k, v in after.items() if k != "users"}
    assert after == before


def cases():
    for place in PLACES:
        for fault in FAULTS:
            expected = getattr(fault, place.endpoint)
            if expected is not None:
                yield pytest.param(place, fault, expected, id=f"{place.name}-{fault.name}")


@pytest.mark.parametrize("place, fault, expected", list(cases()))
def test_fault_gives_a_plain_answer_and_changes_nothing(place, fault, expected, app, client, auth, fake, caplog):
    prepare(place, auth, client)
    code = fake.last_code(PHONE) if place.endpoint == "check" else None
    if fault.wrong_code:
        code = "%06d" % ((int(code) + 1) % 10**6)
    rows_before, events_before = table_rows(app), event_kinds(app)
    user_before = user_row(app)
    caplog.clear()

    with caplog.at_level(logging.WARNING), injected(fault, place.endpoint, app, fake):
        response = act(place, auth, code)

    text = page_text(response)
    assert response.status_code == expected.status, text
    if expected.where == "alert" or (place.login and expected.where == "phone"):
        # At login there is no number field: a number problem is a message at the top.
        assert expected.message in alerts(text), text
    else:
        assert field_error(text, expected.where) == expected.message, text
    if expected.retry_after:
        assert response.headers.getlist("Retry-After") == [str(expected.retry_after)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

    # The database: nothing saved, nothing rotated, nothing half-written.
    counted = fault.counts_as_failure and place.endpoint == "check"
    assert_unchanged(rows_before, table_rows(app), counted)
    new_events = set(event_kinds(app)[len(events_before):])
    allowed = place.new_events | ({"code_failed"} if counted else set())
    assert new_events <= allowed, new_events
    user_after = user_row(app)
    assert user_after["session_token"] == user_before["session_token"]
    assert user_after["phone"] == user_before["phone"] == (PHONE if place.login else None)

    # Where the person stands: logged out mid-login, or still enrolling with the number unsaved.
    profile = client.get("/profile")
    if place.login:
        assert profile.status_code == 302 and profile.headers["Location"].startswith("/auth/login")
    else:
        assert profile.status_code == 200 and "Enable 2FA" in page_text(profile)
    if place.name == "enrol-send":
        assert client.get("/profile/2fa/confirm").headers.get("Location") == "/profile/2fa/enable"

    # The injection is used up: the same action now goes through.
    # Twilio down or busy gives the send back; a refusal keeps it.
    refused = place.endpoint == "send" and expected.status != 503 and fault.code != 20429
    finish_after_retry(place, auth, client, fake, refused=refused)
    assert user_row(app)["phone"] == PHONE


@pytest.mark.parametrize("place", [PLACES[0], PLACES[2]], ids=lambda p: p.name)
def test_landline_gets_a_call_instead(place, app, client, auth, fake):
    """60205 on the text: the code goes by a voice call, and the person is told so."""
    prepare(place, auth, client)
    fake.landline_numbers.add(PHONE)
    response = act(place, auth)
    assert response.status_code == 302, page_text(response)
    target = "/auth/verify" if place.login else "/profile/2fa/confirm"
    assert response.headers["Location"] == target
    channels = [r["form"].get("Channel") for r in fake.requests if r["path"].endswith("/Verifications")]
    assert channels[-2:] == ["sms", "call"]  # the text was refused, then the call placed
    assert fake.sends[-1]["channel"] == "call"
    assert CALLING in alerts(page_text(client.get(target)))
    if place.login:
        assert client.get("/profile").status_code == 302  # not logged in before the code
        response = auth.verify()
    else:
        response = auth.confirm()
    assert response.status_code == 302, page_text(response)
    assert response.headers["Location"].startswith("/profile")
    assert user_row(app)["phone"] == PHONE


def test_late_answer_after_timeout_is_never_used(app, client, auth, fake):
    """A check that times out but is approved by Twilio later must not log anyone in."""
    prepare(PLACES[3], auth, client)
    code = fake.last_code(PHONE)
    checks_before = len(fake.checks)
    fake.inject("check", 200, delay=HANG)  # slow, then processed normally: Twilio approves it
    response = auth.verify(code)
    assert response.status_code == 503
    assert UNAVAILABLE in alerts(page_text(response))
    assert client.get("/profile").status_code == 302
    # The code was spent at Twilio while nobody listened: the person is told to ask for a new one.
    deadline = time.monotonic() + HANG + 2
    while not any(check["status"] == "approved" for check in fake.checks[checks_before:]):
        assert time.monotonic() < deadline, fake.checks
        time.sleep(0.05)
    response = auth.verify(code)
    assert response.status_code == 400, page_text(response)
    assert CODE_EXPIRED in alerts(page_text(response))
    assert client.get("/profile").status_code == 302
