"""Two gunicorn instances on one PostgreSQL and one Redis behave as one app.

Each instance is started as production starts it (`gunicorn -c gunicorn.conf.py main:app`,
APP_ENV=production, two workers) after `flask db upgrade` on a fresh database; only FORCE_HTTPS is
off, because the test speaks plain http on loopback. Twilio Verify is the fake from
tests/fake_verify.py over HTTPS, reached through the real twilio client.

The session cookie is `__Host-session` and Secure, which no cookie jar sends over http, so
`Visitor` keeps cookies by hand, as a browser behind a TLS-terminating load balancer would.
"""
import hashlib
import os
import secrets
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from cryptography.fernet import Fernet

from tests.conftest import PASSWORD, redis_url
from tests.fake_verify import FakeVerifyServer
from tests.support import (ROOT, SESSION_COOKIE, START_TIMEOUT, Instance, Visitor, production_twilio_environment,
                           random_gb_mobile)


def on_two_servers(test):
    """A test on instances A and B: it needs PostgreSQL and Redis (the checks of gunicorn.conf.py
    at the end of this module need neither)."""
    for mark in (pytest.mark.postgres, pytest.mark.redis, pytest.mark.live):
        test = mark(test)
    return test


# The instances share this Redis database, emptied before each test so counts from earlier runs
# (rate limits are per IP, per number and per account id) cannot leak in.
REDIS_DB = 13


def shared_redis_url():
    parts = urlsplit(redis_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", "", ""))


@pytest.fixture(scope="module")
def fake_server():
    """This module's fake Verify speaks HTTPS, as production requires of TWILIO_API_BASE_URL."""
    with FakeVerifyServer(https=True) as server:
        yield server


@pytest.fixture(scope="module")
def servers(fake_server, fresh_postgres_database, tmp_path_factory):
    """Instances A and B, sharing a freshly migrated PostgreSQL database and one Redis database."""
    shared_redis = shared_redis_url()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "PYTEST_"))}
    env.update({
        "APP_ENV": "production",
        "FORCE_HTTPS": "false",
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": fresh_postgres_database(),
        "RATELIMIT_STORAGE_URI": shared_redis,
        "SESSION_REDIS_URL": shared_redis,
        **production_twilio_environment(fake_server),
        "TWILIO_TIMEOUT": "5",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ORIGINS": "https://localhost",
        "NO_PROXY": "127.0.0.1,localhost",
        # The defaults, pinned: a developer's .env (read in production mode) must not move them.
        "LOGIN_LIMIT_PER_USERNAME": "10/minute;50/hour",
        "LOGIN_LIMIT_PER_IP": "20/minute;100/hour",
        "TRUSTED_PROXIES": "0",
        "SMS_ALLOWED_COUNTRIES": "",
        "MAIL_DISABLED": "1",  # no mail server here: the site says it sends no mail
    })
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "main", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    redis.Redis.from_url(shared_redis).flushdb()

    log_dir = tmp_path_factory.mktemp("gunicorn")
    instances = [Instance("A", env, log_dir), Instance("B", env, log_dir)]
    try:
        for instance in instances:
            instance.start()
        deadline = time.monotonic() + START_TIMEOUT
        for instance in instances:
            instance.wait_ready(deadline)
        yield instances
    finally:
        for instance in instances:
            instance.stop()
    redis.Redis.from_url(shared_redis).flushdb()


@pytest.fixture
def a_and_b(servers, fake):
    redis.Redis.from_url(shared_redis_url()).flushdb()
    return servers


def sign_up(visitor, instance, username):
    response = visitor.post_form(instance.url + "/auth/register",
                                 {"username": username, "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302, response.text
    assert visitor.get(instance.url + "/profile").status_code == 200


@on_two_servers
def test_login_password_on_a_code_on_b(a_and_b, fake):
    a, b = a_and_b
    username, phone = "multi" + secrets.token_hex(3), random_gb_mobile()
    visitor = Visitor()

    # Sign up on A, enrol the phone on B, confirm the code on A.
    sign_up(visitor, a, username)
    response = visitor.post_form(a.url + "/auth/reauthenticate?next=/profile/2fa/enable", {"password": PASSWORD})
    assert response.headers["Location"] == "/profile/2fa/enable", response.text  # confirmed on A, valid on B
    response = visitor.post_form(b.url + "/profile/2fa/enable", {"country": "GB", "phone": phone})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/profile/2fa/confirm"
    response = visitor.post_form(a.url + "/profile/2fa/confirm", {"code": fake.last_code(phone)})
    assert response.status_code == 302, response.text
    assert "Codes are sent to" in visitor.get(b.url + "/profile").text
    response = visitor.post_form(b.url + "/auth/logout", {}, form_url=b.url + "/profile")
    assert response.status_code == 302

    # The password on A ...
    response = visitor.post_form(a.url + "/auth/login", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/auth/verify"
    assert len([s for s in fake.sends if s["to"] == phone]) == 2
    # ... the pending login is visible on B, and the code typed there logs in.
    page = visitor.get(b.url + "/auth/verify")
    assert page.status_code == 200 and "Enter your code" in page.text
    response = visitor.post_form(b.url + "/auth/verify", {"code": fake.last_code(phone)})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/profile"
    for instance in (a, b):
        profile = visitor.get(instance.url + "/profile")
        assert profile.status_code == 200 and f"You are logged in as {username}." in profile.text


@on_two_servers
def test_rate_limit_counted_on_a_blocks_on_b(a_and_b):
    a, b = a_and_b
    username = "limited" + secrets.token_hex(3)
    visitor = Visitor()
    wrong = {"username": username, "password": "not the password"}

    # LOGIN_LIMIT_PER_USERNAME is 10/minute in production: ten tries on A use it up ...
    for _ in range(10):
        assert visitor.post_form(a.url + "/auth/login", wrong).status_code == 401
    # ... and B refuses the eleventh.
    blocked = visitor.post_form(b.url + "/auth/login", wrong)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # Only that username is held back, on both instances.
    other = visitor.post_form(b.url + "/auth/login", dict(wrong, username="other" + secrets.token_hex(3)))
    assert other.status_code == 401
    assert visitor.post_form(a.url + "/auth/login", wrong).status_code == 429


@on_two_servers
def test_logout_on_a_ends_the_session_on_b(a_and_b):
    a, b = a_and_b
    username = "leaver" + secrets.token_hex(3)
    visitor = Visitor()
    sign_up(visitor, b, username)
    logged_in_cookie = visitor.cookies[SESSION_COOKIE]
    assert f"You are logged in as {username}." in visitor.get(a.url + "/profile").text
    store = redis.Redis.from_url(shared_redis_url())
    stored_as = "session:" + hashlib.sha256(logged_in_cookie.encode()).hexdigest()
    assert store.exists(stored_as)  # the instances keep sessions in Redis, under a hash of the id

    response = visitor.post_form(a.url + "/auth/logout", {}, form_url=a.url + "/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=logged-out"
    assert visitor.get(b.url + "/profile").headers.get("Location", "").startswith("/auth/login")

    # The cookie from before the logout is worthless everywhere: its session is gone from Redis.
    assert not store.exists(stored_as)
    copied = Visitor()
    copied.cookies[SESSION_COOKIE] = logged_in_cookie
    for instance in (b, a):
        response = copied.get(instance.url + "/profile")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")


@on_two_servers
def test_access_log_leaves_out_query_strings(a_and_b):
    a, _ = a_and_b
    response = Visitor().get(a.url + "/auth/login?next=%2Fprofile%3Ftoken%3Dsecret123")
    assert response.status_code == 200
    log = a.log_path.read_text(errors="replace")
    assert '"GET /auth/login HTTP/1.1" 200' in log
    assert "secret123" not in log and "token" not in log


# -- gunicorn.conf.py ---------------------------------------------------------------------------

def gunicorn_settings(monkeypatch, **environ):
    """gunicorn.conf.py's settings under `environ`, checked by gunicorn's own validators."""
    import runpy

    from gunicorn.config import Config

    for name in ("WEB_CONCURRENCY", "GUNICORN_BIND", "PORT", "TWILIO_TIMEOUT", "TRUSTED_PROXIES",
                 "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    values = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    for name, value in values.items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_gunicorn_defaults(monkeypatch):
    config = gunicorn_settings(monkeypatch)
    assert config.workers == 2
    assert config.address == [("127.0.0.1", 8000)]
    assert config.timeout >= 30 and config.graceful_timeout >= 30
    assert config.forwarded_allow_ips == []  # no proxy declared: forwarded headers are not believed
    assert "%(U)s" in config.access_log_format
    for leaky in ("%(r)s", "%(q)s", "%(f)s"):  # request line with query, query, referrer
        assert leaky not in config.access_log_format
    assert config.accesslog == "-"


def test_gunicorn_settings_follow_the_environment(monkeypatch):
    config = gunicorn_settings(monkeypatch, WEB_CONCURRENCY="5", GUNICORN_BIND="127.0.0.1:9001,[::1]:9002",
                               TWILIO_TIMEOUT="25")
    assert config.workers == 5
    assert config.address == [("127.0.0.1", 9001), ("::1", 9002)]
    assert config.timeout == 75 > 25  # a login may wait for Twilio more than once

    config = gunicorn_settings(monkeypatch, PORT="8080", TRUSTED_PROXIES="2", FORWARDED_ALLOW_IPS="10.0.0.0/8")
    assert config.address == [("0.0.0.0", 8080)]
    assert config.forwarded_allow_ips == ["10.0.0.0/8"]


def test_gunicorn_refuses_a_proxy_without_its_address(monkeypatch):
    """Believing X-Forwarded-* from any peer ("*") would let anyone who reaches the port choose
    their address for the rate limits and the security log."""
    with pytest.raises(SystemExit, match="FORWARDED_ALLOW_IPS"):
        gunicorn_settings(monkeypatch, TRUSTED_PROXIES="1")
