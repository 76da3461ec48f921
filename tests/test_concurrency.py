"""Two simultaneous submissions of one correct code: exactly one login, a clear answer for the other.

A live server (werkzeug, threaded, on 127.0.0.1) and a database that both threads really share:
a temporary SQLite file, or PostgreSQL when TEST_DATABASE_URL is set. Two clients hold the same
session cookie, as two tabs or a double click would; a barrier releases both requests together,
and the code check is slowed down so that each has read the pending login before either ends.
"""
import html
import os
import re
import threading
import time

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from app import recovery
from app.extensions import db
from app.verification import console
from tests.conftest import PASSWORD, PHONE, page_text

pytestmark = pytest.mark.live

CODE_EXPIRED = "This code expired or is no longer valid. Request a new code."
RECOVERY_REFUSED = "That recovery code is not valid or was already used."
LOGIN_EXPIRED = "Your login expired or was not started. Please log in again."
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RECOVERY_CODE = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}$", re.M)
SLOW = 0.3  # seconds each code check takes, so that the two requests overlap


@pytest.fixture(params=["twilio", "console"])
def provider(request):
    return request.param


@pytest.fixture
def app_overrides(tmp_path, provider):
    overrides = {"VERIFY_PROVIDER": provider}
    if not os.environ.get("TEST_DATABASE_URL"):
        # In-memory SQLite gives every thread one shared connection; a file is a real database.
        overrides["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'live.db'}"
    return overrides


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def browser():
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever proxy the environment names
    return session


def alerts(response):
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip()
            for m in re.findall(r'<div class="alert[^"]*" role="alert">(.*?)</div>', response.text, re.S)]


def enrol_alice(auth, client, fake, caplog, provider):
    """alice with 2FA on, through the test client; returns her recovery codes."""
    assert auth.register("alice").status_code == 302
    assert auth.start_enrolment().status_code == 302
    response = auth.confirm(last_code(fake, caplog, provider))
    assert response.status_code == 302, page_text(response)
    codes = RECOVERY_CODE.findall(page_text(client.get("/profile/recovery-codes.txt")))
    auth.logout()
    return codes


def last_code(fake, caplog, provider):
    if provider == "twilio":
        return fake.last_code(PHONE)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DEVELOPMENT CODE")]
    assert lines, "the console provider logged no code"
    return lines[-1].rsplit(" ", 1)[1]


def start_login(live_url):
    """Password accepted over HTTP: returns the session cookies and the code form's CSRF token (the
    password step starts a new session, so the login form's token is no longer good)."""
    first = browser()
    token = CSRF.search(first.get(f"{live_url}/auth/login").text).group(1)
    response = first.post(f"{live_url}/auth/login", allow_redirects=False,
                          data={"csrf_token": token, "username": "alice", "password": PASSWORD, "next": ""})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text
    token = CSRF.search(first.get(f"{live_url}/auth/verify").text).group(1)
    return first.cookies, token


def submit_together(live_url, cookies, path, data):
    """Two browsers sharing one session cookie post the same form at the same moment."""
    barrier = threading.Barrier(2, timeout=10)
    responses = [None, None]

    def post(index):
        tab = browser()
        tab.cookies.update(cookies)
        barrier.wait()
        responses[index] = tab.post(f"{live_url}{path}", data=data, allow_redirects=False, timeout=20)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert None not in responses, "a request did not finish"
    return responses


def after(live_url, cookies, response):
    """The browser that got `response`, with the cookies it would hold afterwards."""
    tab = browser()
    tab.cookies.update(cookies)
    tab.cookies.update(response.cookies)
    return tab


def logged_in(live_url, cookies, response):
    """Is the browser that got `response` logged in afterwards?"""
    return after(live_url, cookies, response).get(f"{live_url}/profile", allow_redirects=False).status_code == 200


def successful_logins(app):
    with app.app_context():
        return db.session.scalar(sa.text("SELECT count(*) FROM security_events WHERE kind = 'login_succeeded'"))


def assert_one_login(app, live_url, cookies, responses, loser_message):
    winners = [r for r in responses if r.status_code == 302 and r.headers["Location"].startswith("/profile")]
    losers = [r for r in responses if r not in winners]
    assert len(winners) == 1, [(r.status_code, r.headers.get("Location"), alerts(r)) for r in responses]
    assert successful_logins(app) == 1
    assert [logged_in(live_url, cookies, r) for r in responses].count(True) == 1
    (loser,) = losers
    # The other one is told plainly what happened: the code was already used, or the login
    # it belonged to is finished (a redirect to log in, with that sentence flashed).
    if loser.status_code == 302:
        assert loser.headers["Location"] == "/auth/login?notice=login-expired"
        assert LOGIN_EXPIRED in alerts(after(live_url, cookies, loser).get(f"{live_url}/auth/login"))
    else:
        assert loser.status_code in (400, 401), loser.text
        assert loser_message in html.unescape(loser.text), loser.text  # as an alert or a field error


def slow_checks(provider, fake, monkeypatch):
    """Each code check takes SLOW seconds, so both requests read the pending login first."""
    if provider == "twilio":
        fake.inject("check", 200, delay=SLOW, times=2)
        return
    real_hash = console._hash

    def slow_hash(phone, code):
        time.sleep(SLOW)
        return real_hash(phone, code)

    monkeypatch.setattr(console, "_hash", slow_hash)


def test_one_code_twice_at_once_logs_in_once(provider, app, client, auth, fake, live_url, caplog, monkeypatch):
    enrol_alice(auth, client, fake, caplog, provider)
    cookies, token = start_login(live_url)
    code = last_code(fake, caplog, provider)
    slow_checks(provider, fake, monkeypatch)

    responses = submit_together(live_url, cookies, "/auth/verify", {"csrf_token": token, "code": code})

    assert_one_login(app, live_url, cookies, responses, CODE_EXPIRED)
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text


@pytest.mark.parametrize("provider", ["twilio"])  # recovery codes never reach the provider
def test_one_recovery_code_twice_at_once_logs_in_once(provider, app, client, auth, fake, live_url, caplog,
                                                      monkeypatch):
    codes = enrol_alice(auth, client, fake, caplog, provider)
    assert len(codes) == 10
    cookies, token = start_login(live_url)
    # Recovery codes are checked in the database only: slow the hash so both requests overlap.
    real_hash = recovery._hash

    def slow_hash(code, salt):
        time.sleep(SLOW)
        return real_hash(code, salt)

    monkeypatch.setattr(recovery, "_hash", slow_hash)

    responses = submit_together(live_url, cookies, "/auth/recovery", {"csrf_token": token, "code": codes[0]})

    assert_one_login(app, live_url, cookies, responses, RECOVERY_REFUSED)
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text
    with app.app_context():
        used = db.session.scalar(sa.text("SELECT count(*) FROM recovery_codes WHERE used_at IS NOT NULL"))
    assert used == 1
