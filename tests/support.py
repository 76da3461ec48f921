"""Plain helpers shared by the test modules (the fixtures and AuthActions are in conftest.py)."""
import html
import http.cookies
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from app.codes import clear_cooldown
from app.extensions import db
from app.models import SecurityEvent, TwoFactorMethod, User
from app.security import REAUTH_KEY
from config import ProductionConfig
from tests.conftest import CSRF_INPUT, PHONE, AuthActions, page_text, twilio_settings

# For modules with many logins per test: `pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)`
# keeps the send limits out of the way (they have their own tests in test_rate_limits).
NO_SEND_LIMITS = {
    "SEND_LIMIT_PER_ACCOUNT": "100/minute",
    "SEND_LIMIT_PER_NUMBER": "100/minute",
    "SEND_LIMIT_PER_IP": "100/minute",
}


# -- Pages and codes ----------------------------------------------------------------------------

def text(response):
    """The page with HTML entities decoded, as a person reads it."""
    return html.unescape(page_text(response))


def wrong(code):
    """A well-formed code that is not `code`."""
    return "000000" if code != "000000" else "111111"


def wrong_code(fake, phone=PHONE):
    """A well-formed code that is not the last one sent to `phone`."""
    return wrong(fake.last_code(phone))


def recovery_codes_on(response):
    """The recovery codes a page shows."""
    return re.findall(r'<li class="col">([^<]*)</li>', page_text(response))


def two_factor_user(auth, username="alice", national="07400 123456", phone=PHONE):
    """Sign up, turn 2FA on and save the recovery codes; logged in still. Returns the codes."""
    assert auth.register(username).status_code == 302
    assert auth.start_enrolment(national, "GB").status_code == 302
    assert auth.confirm(phone=phone).headers["Location"] == "/profile/recovery-codes"
    codes = recovery_codes_on(auth.client.get("/profile/recovery-codes"))
    assert len(codes) == 10
    assert auth.post("/profile/recovery-codes").status_code == 302
    return codes


SETUP_KEY = re.compile(r'id="setup-key">([A-Z2-7 ]+)<')


def add_authenticator(auth, name="Phone"):
    """Set up an authenticator app through its page (confirming it's you first when asked);
    returns (its key, the answer to the code that confirmed it)."""
    page = auth.open_sudo_page("/profile/authenticator-app")
    key = SETUP_KEY.search(page.get_data(as_text=True)).group(1).replace(" ", "")
    return key, auth.post("/profile/authenticator-app", {"name": name, "code": pyotp.TOTP(key).now()})


def method_id(app, username="alice", kind="phone"):
    with app.app_context():
        user = User.by_username(username)
        return db.session.scalar(sa.select(TwoFactorMethod.id).where(
            TwoFactorMethod.user_id == user.id, TwoFactorMethod.kind == kind).order_by(TwoFactorMethod.id.desc()))


def start_with(app_env, tmp_path, **settings):
    """`from main import app` in a process of its own, with Twilio set up and `settings`: how a
    refusal at start is seen (its exit status and what it printed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "VERIFY_", "TEST_", "PYTEST_"))}
    env.update({
        "APP_ENV": app_env, "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "SECRET_KEY": secrets.token_hex(32), "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TRUSTED_HOSTS": "localhost", "VERIFY_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token", "TWILIO_VERIFY_SERVICE_ID": "VA" + "0" * 32,
        "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ALLOW_MEMORY": "1", "MAIL_DISABLED": "1",
        "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": "https://localhost", **settings,
    })
    return subprocess.run([sys.executable, "-c", "from main import app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


# -- Browsers -----------------------------------------------------------------------------------

def new_browser(app, fake, user_agent=None, ip=None, cookies=None):
    """Another browser (optionally with its User-Agent, its own address, and copies of cookies)."""
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    if ip:
        client.environ_base["REMOTE_ADDR"] = ip
    for name, value in (cookies or {}).items():
        client.set_cookie(name, value)
    return AuthActions(client, fake)


def logged_in(client):
    return client.get("/profile").status_code == 200


def long_lived_cookies(app, client):
    """Login cookies that outlive an idle session: what "Remember me" leaves in the browser,
    whether as a remember-me cookie or as a session cookie with a far expiry date."""
    limit = datetime.now(UTC) + app.permanent_session_lifetime + timedelta(minutes=1)
    names = (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    cookies = [client.get_cookie(name) for name in names]
    return [c.key for c in cookies if c is not None and c.expires is not None and c.expires > limit]


def restart_browser(app, client):
    """What closing the browser does: cookies without an expiry date are gone."""
    for name in (app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        cookie = client.get_cookie(name)
        if cookie is not None and cookie.expires is None:
            client.delete_cookie(name, domain=cookie.domain, path=cookie.path)


# -- Time ---------------------------------------------------------------------------------------

class ShiftedClock:
    """Stands in for one app module's `time`: its clock runs `offset` seconds ahead."""

    def __init__(self, offset):
        self.offset = offset

    def time(self):
        return time.time() + self.offset


def expire_sudo(client):
    """As if the last re-authentication was 11 minutes ago."""
    with client.session_transaction() as session:
        if REAUTH_KEY in session:
            session[REAUTH_KEY] = time.time() - 11 * 60


def assert_sent_to_reauthenticate(response, next_url):
    """A redirect to the re-authentication page, which is to lead back to `next_url`."""
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/reauthenticate"
    assert parse_qs(location.query).get("next") == [next_url]


def assert_sudo_needed(auth, url, data=None):
    """With the last password entry 11 minutes ago, the page at `url`, and its form posted anyway,
    send the person to re-authenticate. Returns the page's redirect."""
    expire_sudo(auth.client)
    response = auth.client.get(url)
    assert_sent_to_reauthenticate(response, url)
    assert_sent_to_reauthenticate(auth.post(url, data, form_url="/profile"), url)
    return response


def wait_out_cooldown(app, phone=PHONE):
    """What waiting out the resend cooldown (30 s) does, without the wait."""
    with app.app_context():
        clear_cooldown(phone)


def assert_resent(auth, button, page, channel, message):
    """After the cooldown, `button` on `page` sends a second code, by `channel`, to PHONE, and
    leads back to `page`, which says so."""
    wait_out_cooldown(auth.client.application)
    response = auth.post(button, form_url=page)
    assert response.status_code == 302
    assert response.headers["Location"] == page
    assert [(s["to"], s["channel"]) for s in auth.fake.sends] == [(PHONE, "sms"), (PHONE, channel)]
    assert message in text(auth.client.get(page))


# -- The database -------------------------------------------------------------------------------

def phone_of(app, username="alice"):
    with app.app_context():
        return User.by_username(username).phone


def event_kinds(app, username="alice"):
    """(kind, detail) of the user's security events, oldest first."""
    with app.app_context():
        user = User.by_username(username)
        query = sa.select(SecurityEvent.kind, SecurityEvent.detail).where(SecurityEvent.user_id == user.id)
        return db.session.execute(query.order_by(SecurityEvent.id)).all()


# -- Production settings ------------------------------------------------------------------------

def production_config(fake, **overrides):
    """ProductionConfig with safe settings and a throwaway database, served as https://localhost.
    No Twilio call is made: production refuses a plain-http TWILIO_API_BASE_URL such as the fake's."""
    settings = {
        **twilio_settings(fake),
        "TWILIO_API_BASE_URL": None,
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "SESSION_REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ALLOW_MEMORY": True,
        "TRUSTED_HOSTS": ["localhost"],
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ORIGINS": ["https://localhost"],
        "TRUSTED_PROXIES": 0,
        "FORCE_HTTPS": True,
        "SMS_ALLOWED_COUNTRIES": [],
        "MAIL_DISABLED": True,  # a test of mail in production sets MAIL_SERVER (and MAIL_DISABLED=False)
    }
    settings.update(overrides)
    return type("P", (ProductionConfig,), settings)


# -- Live servers: gunicorn processes and browsers that speak HTTP to them ----------------------

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30
SESSION_COOKIE = "__Host-session"  # production's session cookie


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_gb_mobile():
    return "+447400" + "".join(secrets.choice("0123456789") for _ in range(6))


class Instance:
    """One `gunicorn -c gunicorn.conf.py main:app` process and its log. `args` are extra
    command-line options (e.g. the worker class)."""

    def __init__(self, name, env, log_dir, workers=2, args=()):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}", WEB_CONCURRENCY=str(workers))
        self.args = list(args)
        self.process = None

    def start(self):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *self.args, "main:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, deadline):
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn {self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:  # the port opens before the workers have imported the app
                # Any answer but a 5xx means a worker runs the app (with FORCE_HTTPS it redirects).
                if requests.get(self.url + "/auth/login", timeout=5, allow_redirects=False).status_code < 500:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn {self.name} did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # quick shutdown of master and workers
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def worker_pids(self):
        """The worker processes the gunicorn master has forked."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry))
        return sorted(pids)

    def log(self):
        return self.log_text()[-4000:]

    def log_text(self):
        return self.log_path.read_text(errors="replace")


class Visitor:
    """One person's browser: any instance, one set of cookies. With `address`, it sits behind the
    app's trusted proxy, which names that address in X-Forwarded-For."""

    def __init__(self, address=None, user_agent=None, timeout=15):
        self.cookies = {}
        self.address = address
        self.user_agent = user_agent
        self.timeout = timeout
        self.received = []  # every (name, value) of a cookie the app set, for checks of its logs
        self.http = requests.Session()
        self.http.trust_env = False

    def tab(self):
        """Another tab of this browser: the same cookies and address, its own connection, so
        tabs can send requests at the same moment."""
        tab = Visitor(self.address, self.user_agent, self.timeout)
        tab.cookies = dict(self.cookies)
        tab.received = self.received
        return tab

    def request(self, method, url, headers=None, **kwargs):
        headers = dict(headers or {})
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if cookie:
            headers.setdefault("Cookie", cookie)
        if self.address:
            headers.setdefault("X-Forwarded-For", self.address)
        if self.user_agent:
            headers.setdefault("User-Agent", self.user_agent)
        kwargs.setdefault("timeout", self.timeout)
        response = self.http.request(method, url, headers=headers, allow_redirects=False, **kwargs)
        self.http.cookies.clear()  # only our own jar decides what is sent
        for header in response.raw.headers.getlist("Set-Cookie"):
            self.take_cookie(header)
        return response

    def take_cookie(self, header):
        jar = http.cookies.SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            if name == SESSION_COOKIE:
                # What production promises for the session cookie.
                assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/", header
                assert not morsel["domain"], header
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
                self.received.append((name, morsel.value))

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def csrf_token(self, form_url):
        page = self.get(form_url)
        match = CSRF_INPUT.search(page.text)
        assert match, f"no CSRF token on {form_url} ({page.status_code})"
        return match.group(1)

    def post_form(self, url, data, form_url=None):
        """Fetch the form (for its CSRF token) and submit it, like a person on that page."""
        token = self.csrf_token(form_url or url)
        return self.request("POST", url, data=dict(data, csrf_token=token))


def production_twilio_environment(fake):
    """The variables that point a production process at the fake Verify server, which must then
    serve HTTPS (`FakeVerifyServer(https=True)`): production refuses a plain-http base URL."""
    assert fake.https, "production refuses a plain-http TWILIO_API_BASE_URL: start the fake with https=True"
    settings = {name: str(value) for name, value in twilio_settings(fake).items() if name != "TWILIO_TIMEOUT"}
    # REQUESTS_CA_BUNDLE: how the app trusts the fake's certificate.
    return {**settings, "ALLOW_TWILIO_BASE_URL": "1", "REQUESTS_CA_BUNDLE": fake.ca_file}
