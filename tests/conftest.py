"""Fixtures: an app wired to a fake Twilio Verify server, a client, and person-like actions."""
import os
import re

os.environ["APP_ENV"] = "testing"  # before config is imported: a developer's .env stays out

import pytest

from app import create_app
from app.extensions import db, limiter
from config import TestingConfig
from tests.fake_verify import FakeVerifyServer

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

PASSWORD = "correct horse battery"
PHONE = "+447400123456"  # a valid GB mobile
PHONE_NATIONAL = "07400 123456"
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def make_config(fake, **overrides):
    settings = {
        "VERIFY_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_VERIFY_SERVICE_ID": fake.service_sid,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_TIMEOUT": 2.0,
    }
    settings.update(overrides)
    return type("TestConfig", (TestingConfig,), settings)


def build_app(config):
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
    limiter.reset()
    return app


def dispose_app(app):
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    client = app.extensions.get("twilio_client")
    if client is not None:
        client.http_client.session.close()


@pytest.fixture(scope="session")
def fake_server():
    with FakeVerifyServer() as server:
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def app_overrides():
    """Override in a test module (or parametrize) to change settings for its app."""
    return {}


@pytest.fixture
def app(fake, app_overrides):
    app = build_app(make_config(fake, **app_overrides))
    yield app
    dispose_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, url="/auth/login"):
    """The token a browser would find in the form on `url`."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token in the form at {url}"
    return match.group(1)


class AuthActions:
    """What a person does in the browser, through the real forms (CSRF on)."""

    def __init__(self, client, fake):
        self.client = client
        self.fake = fake

    def post(self, url, data=None, form_url=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(self.client, form_url or url))
        return self.client.post(url, data=data, **kwargs)

    def register(self, username="alice", password=PASSWORD, password2=None):
        return self.post("/auth/register", {
            "username": username, "password": password, "password2": password2 or password,
        })

    def login(self, username="alice", password=PASSWORD, remember=False, next=""):
        data = {"username": username, "password": password, "next": next}
        if remember:
            data["remember_me"] = "y"
        return self.post("/auth/login", data)

    def logout(self):
        return self.post("/auth/logout", form_url="/profile")

    def verify(self, code=None, phone=PHONE):
        code = code if code is not None else self.fake.last_code(phone)
        return self.post("/auth/verify", {"code": code})

    def start_enrolment(self, phone=PHONE_NATIONAL, country="GB"):
        return self.post("/profile/2fa/enable", {"country": country, "phone": phone})

    def confirm(self, code=None, phone=PHONE):
        code = code if code is not None else self.fake.last_code(phone)
        return self.post("/profile/2fa/confirm", {"code": code})

    def reauthenticate(self, password=PASSWORD, phone=PHONE):
        """Sudo mode: the password, then (with 2FA) the code."""
        response = self.post("/auth/reauthenticate", {"password": password})
        if "/auth/reauthenticate/code" in response.headers.get("Location", ""):
            response = self.post(response.headers["Location"], {"code": self.fake.last_code(phone)})
        return response

    def signup_with_2fa(self, username="alice", phone=PHONE_NATIONAL, country="GB"):
        """A user with 2FA on, logged out afterwards."""
        self.register(username)
        self.start_enrolment(phone, country)
        response = self.confirm()
        assert response.status_code == 302, response.get_data(as_text=True)
        self.logout()


@pytest.fixture
def auth(client, fake):
    return AuthActions(client, fake)


def page_text(response):
    return response.get_data(as_text=True)
