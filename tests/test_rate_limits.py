"""Rate limits at the HTTP level: logins, code checks, the lock across resends, sends and resends.

Every test runs with the in-memory limiter storage and, when REDIS_URL is set, with Redis too.
Time moves through a patched time.time for memory:// (the storage reads time.time); Redis keeps
its own clock, so there the send cooldown is 1 second and time passes for real.
"""
import logging
import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import SecurityEvent, User, utcnow
from tests.conftest import PASSWORD, PHONE, page_text
from tests.support import new_browser, text, wrong_code

REDIS_URL = os.environ.get("REDIS_URL")
OTHER_IP = "198.51.100.23"
NUMBERS = {  # national form -> E.164, all valid GB mobiles
    "07400 123456": "+447400123456",
    "07400 123457": "+447400123457",
    "07400 123458": "+447400123458",
    "07400 123459": "+447400123459",
}
X, Y, Z, W = NUMBERS


def with_settings(**settings):
    """Extra app settings for one test, on top of the storage under test."""
    return pytest.mark.parametrize("app_overrides", [settings], indirect=True, ids=["settings"])


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request):
    """memory:// always; Redis when REDIS_URL is set (skipped with the reason otherwise, failed in CI)."""
    return request.param


@pytest.fixture
def app_overrides(request, storage):
    settings = {"RATELIMIT_STORAGE_URI": "memory://"}
    if storage == "redis":  # Redis keeps its own clock: a short cooldown that can pass for real
        settings.update(RATELIMIT_STORAGE_URI=REDIS_URL, SEND_COOLDOWN_SECONDS=1)
    settings.update(getattr(request, "param", {}))
    return settings


@pytest.fixture
def cooldown(app, storage):
    seconds = app.config["SEND_COOLDOWN_SECONDS"]
    assert seconds == (1 if storage == "redis" else 30)  # the default is 30 seconds
    return seconds


@pytest.fixture
def pass_time(storage, monkeypatch):
    """Moves the clock the limiter reads: patched time.time for memory://, a real wait for Redis."""
    offset = [0.0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])

    def advance(seconds):
        if storage == "redis":
            assert seconds <= 3, "Redis tests only wait for the 1-second cooldown"
            time.sleep(seconds)
        else:
            offset[0] += seconds

    return advance


def send_requests(fake):
    """Every send request that reached the fake, refused or not."""
    return [r for r in fake.requests if r["path"].endswith("/Verifications")]


def retry_after(response):
    value = response.headers.get("Retry-After")
    assert value is not None and value.isdigit(), f"no numeric Retry-After: {response.headers}"
    return int(value)


def user_state(app, username="alice"):
    with app.app_context():
        user = User.by_username(username)
        return user.code_failures, user.code_locked_until


def login_via(auth, username, forwarded_for):
    """A wrong-password login POST carrying an X-Forwarded-For header."""
    data = {"username": username, "password": "wrong password", "next": ""}
    return auth.post("/auth/login", data, headers={"X-Forwarded-For": forwarded_for})


def two_enrol_then_carol_tries(app, fake):
    """alice and bob, in browsers of their own on this address, turn 2FA on with X and Y; then
    carol asks for a code to Z. Returns the answer to carol."""
    for name, number in (("alice", X), ("bob", Y)):
        someone = new_browser(app, fake)
        someone.register(name)
        assert someone.start_enrolment(number).status_code == 302
    carol = new_browser(app, fake)
    carol.register("carol")
    return carol.start_enrolment(Z)


def resend(auth):
    return auth.post("/auth/verify/resend", form_url="/auth/verify")


# --- login POSTs -------------------------------------------------------------------------------

@with_settings(LOGIN_LIMIT_PER_IP="3/minute", LOGIN_LIMIT_PER_USERNAME="100/minute")
def test_login_posts_per_ip_get_429_with_retry_after(app, auth, fake):
    for name in ("u1", "u2", "u3"):
        assert auth.login(name, "wrong password").status_code == 401
    response = auth.login("u4", "wrong password")
    assert response.status_code == 429
    wait = retry_after(response)
    assert 1 <= wait <= 61  # the 1-minute window, rounded up
    assert f"Please try again in {wait} seconds" in page_text(response)
    # Another address is not affected.
    assert new_browser(app, fake, ip=OTHER_IP).login("u5", "wrong password").status_code == 401


@with_settings(LOGIN_LIMIT_PER_IP="3/minute", LOGIN_LIMIT_PER_USERNAME="100/minute")
def test_spoofed_forwarded_for_does_not_escape_the_ip_limit(auth):
    for i in range(3):
        response = login_via(auth, f"u{i}", f"203.0.113.{i}")
        assert response.status_code == 401
    response = login_via(auth, "u9", "203.0.113.99")
    assert response.status_code == 429


@with_settings(LOGIN_LIMIT_PER_IP="3/minute", LOGIN_LIMIT_PER_USERNAME="100/minute", TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_each_client_address_is_counted_alone(auth):
    for i in range(5):
        response = login_via(auth, f"u{i}", f"203.0.113.{i}")
        assert response.status_code == 401
    for _ in range(3):
        assert login_via(auth, "u9", "203.0.113.50").status_code == 401
    response = login_via(auth, "u9", "203.0.113.50")
    assert response.status_code == 429


@with_settings(LOGIN_LIMIT_PER_IP="100/minute", LOGIN_LIMIT_PER_USERNAME="3/minute")
def test_login_posts_per_username_get_429_even_with_the_right_password(app, auth, client, fake, storage, pass_time):
    auth.register("alice")
    auth.logout()
    for _ in range(3):
        assert auth.login("alice", "wrong password").status_code == 401
    response = auth.login(" ALICE ", PASSWORD)  # spelled differently, still the same username
    assert response.status_code == 429
    wait = retry_after(response)
    assert 1 <= wait <= 61  # the 1-minute window, rounded up
    assert f"Please try again in {wait} seconds" in page_text(response)
    assert client.get("/profile").status_code == 302
    # Another account from the first address is not limited.
    assert auth.login("bob", "wrong password").status_code == 401
    # Nor is alice from another address: guesses from one place don't lock her out everywhere.
    elsewhere = new_browser(app, fake, ip=OTHER_IP).login("alice", PASSWORD)
    assert elsewhere.status_code == 302 and elsewhere.headers["Location"] == "/profile"
    if storage == "memory":  # Redis expires its own keys; a minute is too long to wait for real
        pass_time(61)
        response = auth.login("alice", PASSWORD)
        assert response.status_code == 302
        assert response.headers["Location"] == "/profile"


@with_settings(LOGIN_LIMIT_PER_IP="100/minute", LOGIN_LIMIT_PER_USERNAME="100/minute", LOGIN_LIMIT_PER_ACCOUNT="4/minute")
def test_guesses_at_one_username_from_many_addresses_only_ask_for_a_short_wait(app, auth, fake):
    auth.register("alice")
    auth.logout()
    for n in range(4):
        assert new_browser(app, fake, ip=f"198.51.100.{n + 1}").login("alice", "wrong").status_code == 401
    response = new_browser(app, fake, ip="203.0.113.9").login("alice", PASSWORD)
    assert response.status_code == 429
    assert 1 <= retry_after(response) <= 61  # a minute at most, never an hour
    assert "Too many login attempts for this account" in text(response)
    assert new_browser(app, fake, ip="203.0.113.9").login("bob", "wrong").status_code == 401


def test_five_wrong_codes_void_the_pending_login(auth, client, fake):
    auth.signup_with_2fa()
    assert auth.login().headers["Location"] == "/auth/verify"
    bad = wrong_code(fake)
    for _ in range(4):
        assert auth.verify(bad).status_code == 401
    response = auth.verify(bad)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=too-many-codes"
    # The right code no longer completes this login: the person starts again.
    response = auth.post("/auth/verify", {"code": fake.last_code(PHONE)}, form_url="/auth/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"
    assert client.get("/profile").status_code == 302


# --- the lock across resends ----------------------------------------------------------------------

@with_settings(CODE_ATTEMPTS_PER_LOGIN=2, CODE_FAILURES_BEFORE_LOCK=5)
def test_wrong_codes_across_logins_lock_the_code_step(app, auth, client, fake, cooldown, pass_time):
    auth.signup_with_2fa()
    for _ in range(2):  # two logins, each voided after two wrong codes
        assert auth.login().headers["Location"] == "/auth/verify"
        bad = wrong_code(fake)
        assert auth.verify(bad).status_code == 401
        assert auth.verify(bad).headers["Location"] == "/auth/login?notice=too-many-codes"
    assert user_state(app) == (4, None)  # the count outlives the pending logins: it is in the DB

    assert auth.login().headers["Location"] == "/auth/verify"
    response = auth.verify(bad)  # the fifth in a row
    assert response.status_code == 429
    assert 60 < retry_after(response) <= 15 * 60
    assert "locked" in page_text(response)
    _, locked_until = user_state(app)
    assert locked_until is not None and locked_until > utcnow() + timedelta(minutes=14)

    # Locked: a new login sends nothing, and even the right code is not checked.
    sends, checks = len(send_requests(fake)), len(fake.checks)
    assert auth.login().headers["Location"] == "/auth/verify"
    # The locked page has no form: the code is posted with a token from another page.
    response = auth.post("/auth/verify", {"code": fake.last_code(PHONE)}, form_url="/auth/login")
    assert response.status_code == 429
    assert retry_after(response) > 60
    # Resend (a button from a page opened before) leads back to the locked page, which has no
    # buttons; nothing is sent.
    response = auth.post("/auth/verify/resend", form_url="/auth/login")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    locked_page = page_text(client.get("/auth/verify"))
    assert "locked" in locked_page and "Resend code" not in locked_page
    assert len(send_requests(fake)) == sends
    assert len(fake.checks) == checks
    assert client.get("/profile").status_code == 302
    with app.app_context():
        kinds = db.session.scalars(sa.select(SecurityEvent.kind)).all()
    assert kinds.count("code_failed") == 5
    assert "code_step_locked" in kinds

    # When the lock has run out, the right code logs in and the counter is cleared.
    with app.app_context():
        User.by_username("alice").code_locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    pass_time(cooldown + 0.2)
    assert auth.login().headers["Location"] == "/auth/verify"
    assert len(send_requests(fake)) == sends + 1
    response = auth.verify()
    assert response.status_code == 302, page_text(response)
    assert client.get("/profile").status_code == 200
    assert user_state(app) == (0, None)


@with_settings(CODE_FAILURES_BEFORE_LOCK=3)
def test_failure_counter_resets_on_success(app, auth, client, fake):
    auth.signup_with_2fa()
    auth.login()
    bad = wrong_code(fake)
    assert auth.verify(bad).status_code == 401
    assert auth.verify(bad).status_code == 401
    assert user_state(app)[0] == 2
    assert auth.verify().status_code == 302
    assert user_state(app) == (0, None)
    auth.logout()
    # Two more wrong codes would lock at 4 if the count had not been cleared.
    assert auth.login().headers["Location"] == "/auth/verify"
    bad = wrong_code(fake)
    assert auth.verify(bad).status_code == 401
    assert auth.verify(bad).status_code == 401
    assert user_state(app) == (2, None)
    assert auth.verify().status_code == 302


# --- sends and resends -----------------------------------------------------------------------------

RESEND_AFTER = re.compile(r"You can ask for a new code after (\d\d):(\d\d) UTC\.")
COUNTDOWN = re.compile(r'data-countdown="(\d+)"')


def countdown(page):
    """The seconds the code page counts down before Resend / Call me instead can send."""
    match = COUNTDOWN.search(page)
    assert match, page
    return int(match.group(1))


def early_click_refused(auth, url="/auth/verify/resend"):
    """A button pressed before the wait is over: back to the code page, which says until when."""
    response = auth.post(url, form_url="/auth/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    page = page_text(auth.client.get("/auth/verify"))
    assert '<div class="alert alert-warning" role="alert">You can ask for a new code after' in page
    return page


def test_resend_right_after_a_send_waits_for_the_cooldown(auth, fake, cooldown, pass_time):
    auth.signup_with_2fa()
    auth.login()
    sends = len(send_requests(fake))
    for url in ("/auth/verify/resend", "/auth/verify/call"):
        page = early_click_refused(auth, url)
        assert 1 <= countdown(page) <= cooldown
    assert len(send_requests(fake)) == sends
    pass_time(cooldown + 0.2)
    response = resend(auth)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/verify"
    assert len(send_requests(fake)) == sends + 1


def test_verify_page_shows_the_resend_cooldown(auth, client, cooldown, pass_time):
    auth.signup_with_2fa()
    auth.login()
    before = datetime.now(timezone.utc)
    text = page_text(client.get("/auth/verify"))
    assert 1 <= countdown(text) <= cooldown
    match = RESEND_AFTER.search(text)  # the wait, written as a time for a browser without JavaScript
    assert match, text
    ready = before.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
    assert timedelta(0) < (ready - before) % timedelta(days=1) <= timedelta(seconds=cooldown + 60)
    pass_time(cooldown + 0.2)
    text = page_text(client.get("/auth/verify"))
    assert countdown(text) == 0
    assert "ask for a new code after" not in text
    assert "Resend code" in text


def test_resend_posts_get_429_before_the_sixth_send(auth, fake, cooldown, pass_time):
    """Default limits: however the resends are spaced, the fake never sees a sixth send. A click
    within the cooldown leads back to the code page (no POST address left to reload), which says
    until when; once a send limit is used up the answer is a 429 with Retry-After."""
    auth.signup_with_2fa()  # send 1 (enrolment)
    auth.login()  # send 2
    for _ in range(5):  # hammering: the cooldown refuses them all
        early_click_refused(auth)
    assert len(send_requests(fake)) == 2
    for expected in (3, 4, 5):
        pass_time(cooldown + 0.2)
        assert resend(auth).status_code == 302
        assert len(send_requests(fake)) == expected
    pass_time(cooldown + 0.2)
    for url in ("/auth/verify/resend", "/auth/verify/call"):
        refused = auth.post(url, form_url="/auth/verify")
        assert refused.status_code == 429
        assert retry_after(refused) > cooldown  # the 10-minute window, not the cooldown
        assert "You can ask for a new code after" in page_text(refused)
    assert countdown(page_text(auth.client.get("/auth/verify"))) > cooldown
    assert len(send_requests(fake)) == 5
    assert len(fake.sends) == 5


@with_settings(SEND_LIMIT_PER_NEW_NUMBER="2/10 minutes", SEND_LIMIT_PER_ACCOUNT="100/day", SEND_LIMIT_PER_IP="100/day")
def test_sends_per_number_are_limited_across_accounts(app, fake, cooldown, pass_time):
    for name in ("alice", "bob"):
        someone = new_browser(app, fake)
        someone.register(name)
        assert someone.start_enrolment(X).status_code == 302
        pass_time(cooldown + 0.2)
    carol = new_browser(app, fake)
    carol.register("carol")
    response = carol.start_enrolment(X)
    assert response.status_code == 429
    assert retry_after(response) > cooldown
    assert "Too many codes were requested" in page_text(response)
    assert len(send_requests(fake)) == 2
    # Another number is fine.
    assert carol.start_enrolment(Y).status_code == 302
    assert [s["to"] for s in fake.sends] == [NUMBERS[X], NUMBERS[X], NUMBERS[Y]]


@with_settings(SEND_LIMIT_PER_NUMBER="100/day", SEND_LIMIT_PER_ACCOUNT="2/10 minutes", SEND_LIMIT_PER_IP="100/day")
def test_sends_per_account_are_limited_across_numbers(app, auth, fake):
    auth.register("alice")
    assert auth.start_enrolment(X).status_code == 302
    assert auth.start_enrolment(Y).status_code == 302
    response = auth.start_enrolment(Z)
    assert response.status_code == 429
    assert retry_after(response) >= 60
    assert len(send_requests(fake)) == 2
    bob = new_browser(app, fake)
    bob.register("bob")
    assert bob.start_enrolment(Z).status_code == 302
    assert len(send_requests(fake)) == 3


@with_settings(SEND_LIMIT_PER_NUMBER="100/day", SEND_LIMIT_PER_ACCOUNT="100/day", SEND_LIMIT_PER_IP="2/10 minutes")
def test_sends_per_ip_are_limited_across_accounts(app, fake):
    response = two_enrol_then_carol_tries(app, fake)
    assert response.status_code == 429
    assert retry_after(response) >= 60
    assert len(send_requests(fake)) == 2
    dave = new_browser(app, fake, ip=OTHER_IP)
    dave.register("dave")
    assert dave.start_enrolment(W).status_code == 302
    assert len(send_requests(fake)) == 3


@with_settings(SMS_DAILY_LIMIT=2, SMS_DAILY_RESERVED_PERCENT=0)
def test_daily_sms_cap_stops_sending_with_a_plain_message(app, fake, caplog):
    caplog.set_level(logging.WARNING)
    response = two_enrol_then_carol_tries(app, fake)
    assert response.status_code == 503
    assert "We can&#39;t send codes right now. Please try again later." in page_text(response)
    assert len(send_requests(fake)) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "SMS_DAILY_LIMIT" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]


@with_settings(SMS_DAILY_LIMIT=4, SMS_DAILY_RESERVED_PERCENT=50, SEND_LIMIT_PER_IP="100/day")
def test_half_the_daily_cap_is_kept_for_numbers_already_verified(app, auth, fake):
    auth.signup_with_2fa("alice")  # one code to a new number: 1 of the 2 enrolments may have
    bob = new_browser(app, fake)
    bob.register("bob")
    assert bob.start_enrolment(X).status_code == 302  # the second
    carol = new_browser(app, fake)
    carol.register("carol")
    refused = carol.start_enrolment(Y)
    assert refused.status_code == 503
    assert "We can&#39;t send codes right now" in page_text(refused)
    # alice's logins still get codes from the kept half, up to the whole cap.
    assert auth.login("alice").headers["Location"] == "/auth/verify"
    assert [s["to"] for s in fake.sends] == [PHONE, NUMBERS[X], PHONE]


@with_settings(SMS_DAILY_LIMIT=3, SMS_DAILY_RESERVED_PERCENT=0, SEND_LIMIT_PER_IP="100/day",
               SEND_LIMIT_PER_NEW_NUMBER="100/day")
def test_sends_twilio_refused_use_no_daily_cap_but_the_senders_budget(app, auth, fake, cooldown, pass_time):
    fake.blocked_numbers[NUMBERS[X]] = 60410
    auth.register("mallory")
    for _ in range(8):
        assert auth.start_enrolment(X).status_code in (403, 429)
        pass_time(cooldown + 0.2)
    assert len(send_requests(fake)) == 5  # SEND_LIMIT_PER_ACCOUNT: refused sends count too
    alice = new_browser(app, fake)
    alice.register("alice")
    assert alice.start_enrolment(Y).status_code == 302  # the day's cap is untouched
