"""The attack harness: the app as production runs it, and plain threads sending requests at once.

Each server is `python -m gunicorn -c gunicorn.conf.py main:app` with APP_ENV=production, the
gthread worker (4 threads) so requests race inside a worker and, with Redis, across two workers.
Its database is a fresh PostgreSQL database when TEST_DATABASE_URL names PostgreSQL, else an
SQLite file, migrated with `flask db upgrade`. With REDIS_URL set the limits (and, where a test
asks, the sessions) live in Redis databases of their own; without it one worker counts in memory.
Only FORCE_HTTPS is off (plain http on loopback); the app sits behind one trusted proxy, so each
simulated client is an X-Forwarded-For address. Twilio Verify is tests/fake_verify.py, reached
through the real twilio client.

After every test the server log is read: no Traceback, no 500, and never a session id, a phone
number or a code that the test saw.
"""
import html
import itertools
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.conftest import ABUSE_FIGURE, PASSWORD, postgres_url, redis_url
from tests.fake_verify import FakeVerifyServer
from tests.support import ROOT, START_TIMEOUT, Instance, Visitor, production_twilio_environment, random_gb_mobile

THREADS = 4
# Redis databases for the servers' limits and sessions: 0 is the other tests', 13 test_multi_instance's.
FREE_REDIS_DATABASES = list(range(1, 13))
RACE_TIMEOUT = 90  # seconds for every thread of a race to finish
APP_PAGE = "SMS 2FA"  # the navbar of every page the app renders
RECOVERY_CODE = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}$", re.M)

# Settings the attacks depend on. Empty means "the app's default", and keeps a developer's .env
# (which production mode reads) from changing it; a test or module sets what it needs.
AT_DEFAULT = (
    "SMS_DAILY_LIMIT", "SMS_DAILY_RESERVED_PERCENT", "SMS_ALLOWED_COUNTRIES",
    "SEND_COOLDOWN_SECONDS", "SEND_LIMIT_PER_ACCOUNT", "SEND_LIMIT_PER_IP", "SEND_LIMIT_PER_NUMBER",
    "SEND_LIMIT_PER_NEW_NUMBER", "CODE_CHECK_LIMIT_PER_IP", "CODE_ATTEMPTS_PER_LOGIN",
    "CODE_FAILURES_BEFORE_LOCK", "CODE_LOCK_MINUTES", "LOGIN_LIMIT_PER_IP", "LOGIN_LIMIT_PER_USERNAME",
    "LOGIN_LIMIT_PER_ACCOUNT", "REAUTH_LIMIT_PER_USER", "SIGNUP_LIMIT_PER_IP", "SIGNUP_LIMIT_GLOBAL",
    "SUDO_MINUTES", "SESSION_IDLE_MINUTES", "SESSION_ABSOLUTE_HOURS", "REMEMBER_DAYS", "TRUSTED_DEVICE_DAYS",
    "SESSION_CLEANUP_N_REQUESTS", "RATELIMIT_ENABLED",
)


@pytest.fixture(scope="session")
def fake_server():
    """The fake Verify of these tests speaks HTTPS, as production requires of TWILIO_API_BASE_URL."""
    with FakeVerifyServer(https=True) as server:
        yield server


def app_environment(fake, database_url, limits_url, sessions_url="", **settings):
    """The environment of a production start against the fake Twilio: the one place it is built.

    `settings` override or add variables; an empty value means unset (the app's default)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "PYTEST_"))}
    env.update({name: "" for name in AT_DEFAULT})
    env.update({
        "APP_ENV": "production",
        "FORCE_HTTPS": "false",
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": limits_url,
        "RATELIMIT_ALLOW_MEMORY": "1" if limits_url.startswith("memory://") else "",
        "SESSION_REDIS_URL": sessions_url,
        **production_twilio_environment(fake),
        "TWILIO_TIMEOUT": "5",
        "NO_PROXY": "127.0.0.1,localhost",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ORIGINS": "https://localhost",
        "TRUSTED_PROXIES": "1",
        "FORWARDED_ALLOW_IPS": "",
        "WEB_CONCURRENCY": "",
        "GUNICORN_BIND": "",
        "PORT": "",
        # No mail server unless a test gives one (tests/abuse/test_password_reset.py does).
        "MAIL_DISABLED": "1",
        "MAIL_SERVER": "",
    })
    env.update({name: str(value) for name, value in settings.items()})
    if int(env["TRUSTED_PROXIES"] or 0) > 0 and "FORWARDED_ALLOW_IPS" not in settings:
        env["FORWARDED_ALLOW_IPS"] = "127.0.0.1"  # gunicorn believes forwarded headers from the proxy only
    return env


def redis_database(number):
    parts = urlsplit(redis_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", "", ""))


_addresses = itertools.count(1)


def new_address():
    """A client address no other simulated client has had in this test run."""
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


def new_username(prefix="user"):
    return f"{prefix}{secrets.token_hex(4)}"


# -- One live server ----------------------------------------------------------------------------

@dataclass
class LiveApp:
    """A running production app, its database and Redis databases, and what its log must not show."""

    instance: Instance
    env: dict
    database_url: str
    redis_urls: list
    engine: sa.Engine
    visitors: list = field(default_factory=list)
    personal: set = field(default_factory=set)  # phone numbers typed into this app's forms
    log_checked: int = 0
    release: object = lambda: None  # gives its Redis databases back

    @property
    def url(self):
        return self.instance.url

    @property
    def sessions_in_redis(self):
        return bool(self.env.get("SESSION_REDIS_URL"))

    def visitor(self, address=None):
        """A new browser behind the proxy, from its own address unless one is given."""
        visitor = Visitor(address or new_address(), timeout=30)
        self.visitors.append(visitor)
        return visitor

    def scalar(self, query, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar()

    def rows(self, query, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(query), params).all()

    def redis_clients(self):
        return [redis.Redis.from_url(url) for url in self.redis_urls]

    def redis_keys(self):
        keys = []
        for client in self.redis_clients():
            keys.extend(client.scan_iter(count=1000))
            client.close()
        return keys

    def stored_sessions(self):
        """(id, data) of every server-side session, wherever the app keeps them (in Redis: every
        string value; the index of a user's sessions is a set of another type)."""
        if self.sessions_in_redis:
            client = redis.Redis.from_url(self.env["SESSION_REDIS_URL"])
            try:
                return [(key.decode(), client.get(key) or b"") for key in client.scan_iter(count=1000, _type="STRING")]
            finally:
                client.close()
        return [(row.id, bytes(row.data)) for row in self.rows("SELECT id, data FROM sessions")]

    def worker_memory_kib(self, field="VmRSS"):
        """A field of each gunicorn worker's /proc/<pid>/status, in KiB: VmRSS is the resident
        memory now, VmHWM its peak since the worker started or since reset_memory_peaks()."""
        sizes = {}
        for pid in self.instance.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    sizes[pid] = int(line.split()[1])
        return sizes

    def reset_memory_peaks(self):
        for pid in self.instance.worker_pids():
            with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # VmHWM starts again from the current VmRSS

    def new_log(self):
        """The log written since the last check."""
        text = self.instance.log_text()
        new, self.log_checked = text[self.log_checked:], len(text)
        return new

    def stop(self):
        self.instance.stop()
        self.engine.dispose()
        for client in self.redis_clients():
            client.flushdb()
            client.close()


def assert_log_clean(log, sids, phones, codes):
    """No stack trace, no 500, and nothing secret or personal in the server log."""
    lines = log.splitlines()
    problems = []
    if "Traceback" in log:
        # The line each traceback ends with names the exception.
        raised = [line for before, line in zip(lines, lines[1:])
                  if before.startswith(" ") and line[:1].isalpha() and not line.startswith(("Traceback", "The above"))]
        problems.append(f"{log.count('Traceback')} tracebacks: {sorted(set(raised))[:3]}")
    errors = [line for line in lines if re.search(r'HTTP/1\.[01]" 500 ', line)]
    if errors:
        problems.append(f"{len(errors)} answers with status 500: {errors[:3]}")
    leaked = [line for line in lines if any(sid in line for sid in sids)]
    if leaked:
        problems.append(f"{len(leaked)} lines with a session id: {leaked[:3]}")
    leaked = [phone for phone in phones if phone[-9:] in log]
    if leaked:
        problems.append(f"phone numbers: {leaked}")
    without_pids = re.sub(r"\[\d+\]|pid:? \d+", "", log)
    leaked = [code for code in codes if re.search(rf"(?<!\d){code}(?!\d)", without_pids)]
    if leaked:
        problems.append(f"codes: {leaked}")
    assert not problems, "the server log shows:\n" + "\n".join(problems)


_running = []  # every LiveApp started and not yet checked for the last time


@pytest.fixture(scope="session")
def start_live_app(request, fake_server, tmp_path_factory):
    """start(sessions="database" | "redis", **settings) -> a migrated, running LiveApp."""
    free_redis = list(FREE_REDIS_DATABASES)
    names = itertools.count(1)

    def start(sessions="database", **settings):
        name = f"app{next(names)}"
        if postgres_url():
            database_url = request.getfixturevalue("fresh_postgres_database")()
        else:
            database_url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'app.db'}"
        redis_numbers, redis_urls = [], []
        if redis_url():
            redis_numbers = [free_redis.pop(0), free_redis.pop(0)]
            redis_urls = [redis_database(number) for number in redis_numbers]
            for url in redis_urls:
                redis.Redis.from_url(url).flushdb()
            limits_url, workers = redis_urls[0], 2
        else:
            assert sessions == "database", "sessions in Redis need REDIS_URL"
            limits_url, workers = "memory://", 1
        env = app_environment(fake_server, database_url, limits_url,
                              redis_urls[1] if sessions == "redis" else "", **settings)
        migrate = subprocess.run([sys.executable, "-m", "flask", "--app", "main", "db", "upgrade"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        instance = Instance(name, env, tmp_path_factory.mktemp(f"{name}-log"), workers=workers,
                            args=["--worker-class", "gthread", "--threads", str(THREADS), "--no-control-socket"])
        instance.start()
        live = LiveApp(instance, env, database_url, redis_urls, sa.create_engine(database_url, poolclass=sa.NullPool),
                       release=lambda: free_redis.extend(redis_numbers))
        try:
            instance.wait_ready(time.monotonic() + START_TIMEOUT)
        except BaseException:
            stop_live_app(live)
            raise
        _running.append(live)
        return live

    return start


def stop_live_app(live):
    live.stop()
    live.release()


# The shared servers' settings: a cooldown tests can wait out, and no global sign-up limit in the
# way of the many accounts the tests make (each test has its own addresses, names and numbers, so
# tests can share a server; what counts for everyone is tested on a server of its own).
SHARED_SETTINGS = {"SEND_COOLDOWN_SECONDS": 1, "SIGNUP_LIMIT_GLOBAL": "1000/minute"}


@pytest.fixture(scope="package")
def shared_live_apps(start_live_app):
    """One server per session store, started when a test first needs it, stopped after the
    last test of this package."""
    started = {}

    def get(sessions):
        if sessions not in started:
            started[sessions] = start_live_app(sessions, **SHARED_SETTINGS)
        return started[sessions]

    yield get
    for live in started.values():
        stop_live_app(live)


@pytest.fixture
def live_app(request, shared_live_apps):
    """The shared server: sessions in the database, or in Redis when parametrized indirectly
    with "redis"."""
    return shared_live_apps(getattr(request, "param", "database"))


@pytest.fixture
def fresh_live_app(start_live_app):
    """start(**settings): a server of the test's own, for state that must not leak (global limits)."""
    started = []

    def start(sessions="database", **settings):
        live = start_live_app(sessions, **settings)
        started.append(live)
        return live

    yield start
    for live in started:
        stop_live_app(live)


SESSION_STORES = ["database", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(autouse=True)
def server_logs_are_clean(fake):
    """After each test, every server it used has a clean log (the fake still holds the codes)."""
    yield
    phones = ({send["to"] for send in fake.sends} | {r["form"].get("To", "") for r in fake.requests}) - {""}
    codes = {send["code"] for send in fake.sends}
    for live in list(_running):
        phones |= live.personal
        sids = {value for visitor in live.visitors for name, value in visitor.received if "session" in name}
        log = live.new_log()
        if live.instance.process.poll() is not None:
            _running.remove(live)
        assert_log_clean(log, sids, phones, codes)


# -- Races ----------------------------------------------------------------------------------------

def at_once(actions, timeout=RACE_TIMEOUT):
    """Runs each callable in a thread of its own, all released together by a barrier; returns
    their results in order. Every thread must finish within `timeout` seconds."""
    barrier = threading.Barrier(len(actions), timeout=30)
    results, errors = [None] * len(actions), []

    def run(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, action), daemon=True) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], f"requests still running after {timeout} s"
    if errors:
        raise errors[0]
    return results


# -- What a person does -------------------------------------------------------------------------

def sign_up(live, visitor, username=None):
    username = username or new_username()
    response = visitor.post_form(live.url + "/auth/register",
                                 {"username": username, "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302, (response.status_code, response.text[-2000:])
    return username


def log_in(live, visitor, username, password=PASSWORD, **extra):
    return visitor.post_form(live.url + "/auth/login", {"username": username, "password": password, **extra})


def log_out(live, visitor):
    response = visitor.post_form(live.url + "/auth/logout", {}, form_url=live.url + "/profile")
    assert response.status_code == 302
    return response


def is_logged_in(live, visitor):
    return visitor.get(live.url + "/profile").status_code == 200


def enrolment_form(live, phone):
    live.personal.add(phone)
    return {"country": "GB", "phone": phone}


def start_enrolment(live, visitor, phone):
    confirm_its_you(live, visitor, "/profile/2fa/enable")
    return visitor.post_form(live.url + "/profile/2fa/enable", enrolment_form(live, phone))


def confirm_its_you(live, visitor, next_path):
    """The password typed again (no 2FA yet): what every factor change asks first."""
    response = visitor.post_form(live.url + "/auth/reauthenticate?next=" + next_path, {"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == next_path, (
        response.status_code, response.headers.get("Location"), response.text[-1500:])


def enter_code(live, visitor, path, code):
    return visitor.post_form(live.url + path, {"code": code})


@dataclass
class TwoFactorUser:
    visitor: Visitor  # the browser that signed up, logged out afterwards
    username: str
    phone: str
    recovery_codes: list


def two_factor_user(live, fake, logged_out=True):
    """A new account with 2FA on (through the real forms); returns its browser, name, number and
    recovery codes."""
    visitor = live.visitor()
    username = sign_up(live, visitor)
    phone = random_gb_mobile()
    response = start_enrolment(live, visitor, phone)
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/confirm", response.text[-2000:]
    response = enter_code(live, visitor, "/profile/2fa/confirm", fake.last_code(phone))
    assert response.status_code == 302, response.text[-2000:]
    codes = RECOVERY_CODE.findall(visitor.get(live.url + "/profile/recovery-codes.txt").text)
    assert len(codes) == 10
    if logged_out:
        log_out(live, visitor)
    return TwoFactorUser(visitor, username, phone, codes)


def sends_to(fake, phone):
    """Codes the fake accepted to send to `phone`."""
    return [send for send in fake.sends if send["to"] == phone]


def send_requests_to(fake, phone):
    """Every send request that reached the fake for `phone`, accepted or refused."""
    return [r for r in fake.requests if r["path"].endswith("/Verifications") and r["form"].get("To") == phone]


def user_id(live, username):
    return live.scalar("SELECT id FROM users WHERE username = :name", name=username)


def events_of(live, username, kind):
    return live.scalar(
        "SELECT count(*) FROM security_events WHERE kind = :kind AND user_id = :uid",
        kind=kind, uid=user_id(live, username),
    )


# -- What every answer must be ------------------------------------------------------------------

def assert_app_page(response, status=None):
    """The app's own page (not an empty answer or a server's bare error), with `status`."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.headers.get("Location"), response.text[-1500:])
    assert APP_PAGE in response.text, (response.status_code, response.text[:500])


def text(response):
    """The page as a person reads it: HTML entities decoded."""
    return html.unescape(response.text)


def assert_retry_after(response, at_most=None):
    value = response.headers.get("Retry-After")
    assert value is not None and value.isdigit() and int(value) > 0, dict(response.headers)
    if at_most is not None:
        assert int(value) <= at_most, value
    return int(value)


# -- What the attacks achieved, for the record ---------------------------------------------------
# Each test notes the figure it holds to its bound (e.g. how many of 12 parallel sends reached
# Twilio); they are shown at the end of the run and kept in test-artifacts/abuse/figures.json
# (tests/conftest.py gathers them from the test reports, which pytest-xdist's workers send back).

@pytest.fixture
def figure(request):
    def note(what, value):
        request.node.user_properties.append((ABUSE_FIGURE, (f"{request.node.name}: {what}", value)))
    return note
