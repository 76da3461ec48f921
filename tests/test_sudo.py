"""Sudo mode: turning 2FA off needs a recent re-authentication (password, then code with 2FA)."""
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app import security
from tests.conftest import PHONE, page_text
from tests.support import assert_sent_to_reauthenticate, new_browser, phone_of, wrong_code

DISABLE = "/profile/2fa/disable"
ENABLE = "/profile/2fa/enable"
REAUTH = "/auth/reauthenticate"


class Clock:
    """Stands in for the time module inside app.security: the sudo window reads only this."""

    def __init__(self):
        self.offset = 0.0
        self._real = time.time

    def time(self):
        return self._real() + self.offset

    def advance(self, minutes):
        self.offset += minutes * 60


@pytest.fixture
def sudo_clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(security, "time", clock)
    return clock


@pytest.fixture
def logged_in_2fa_user(auth, fake):
    auth.signup_with_2fa()
    auth.login_with_code()
    return auth


def test_disable_without_recent_reauthentication_redirects_to_it(app, logged_in_2fa_user, client):
    auth = logged_in_2fa_user
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)
    # Posting the confirm form directly is refused the same way and changes nothing.
    assert_sent_to_reauthenticate(auth.post(DISABLE, form_url="/profile"), DISABLE)
    assert phone_of(app) == PHONE


def test_wrong_password_is_401_and_still_not_allowed(app, logged_in_2fa_user, client, fake):
    auth = logged_in_2fa_user
    sends = len(fake.sends)
    response = auth.post(f"{REAUTH}?next={DISABLE}", {"password": "wrong password"})
    assert response.status_code == 401
    assert "That password is not correct." in page_text(response)
    assert len(fake.sends) == sends  # no code for a wrong password
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)
    assert phone_of(app) == PHONE


def test_for_a_2fa_user_the_password_alone_is_not_enough(app, logged_in_2fa_user, client, fake):
    auth = logged_in_2fa_user
    sends = len(fake.sends)
    response = auth.post(f"{REAUTH}?next={DISABLE}", {"password": "correct horse battery"})
    assert response.status_code == 302
    code_url = response.headers["Location"]
    assert urlsplit(code_url).path == REAUTH + "/code"
    assert parse_qs(urlsplit(code_url).query).get("next") == [DISABLE]
    assert len(fake.sends) == sends + 1
    assert fake.sends[-1]["to"] == PHONE
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)

    response = auth.post(code_url, {"code": wrong_code(fake)})
    assert response.status_code == 401
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)

    response = auth.post(code_url, {"code": fake.last_code(PHONE)})
    assert response.status_code == 302
    assert response.headers["Location"] == DISABLE
    assert client.get(DISABLE).status_code == 200
    response = auth.post(DISABLE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert phone_of(app) is None


def test_the_code_step_cannot_be_reached_without_the_password(logged_in_2fa_user, client, fake):
    auth = logged_in_2fa_user
    checks = len(fake.checks)
    response = auth.post(f"{REAUTH}/code?next={DISABLE}", {"code": "123456"}, form_url="/profile")
    assert_sent_to_reauthenticate(response, DISABLE)
    assert len(fake.checks) == checks
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)


def test_after_reauthentication_the_disable_works(app, logged_in_2fa_user, client):
    auth = logged_in_2fa_user
    auth.reauthenticate()
    response = client.get(DISABLE)
    assert response.status_code == 200
    assert "Disable 2FA" in page_text(response)
    assert auth.post(DISABLE).headers["Location"] == "/profile"
    assert phone_of(app) is None


def test_reauthentication_expires_after_sudo_minutes(app, logged_in_2fa_user, client, sudo_clock):
    auth = logged_in_2fa_user
    assert app.config["SUDO_MINUTES"] == 10
    auth.reauthenticate()
    sudo_clock.advance(9)
    assert client.get(DISABLE).status_code == 200
    sudo_clock.advance(2)  # 11 minutes after re-authenticating
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)
    assert_sent_to_reauthenticate(auth.post(DISABLE, form_url="/profile"), DISABLE)
    assert phone_of(app) == PHONE


@pytest.mark.parametrize("app_overrides", [{"SUDO_MINUTES": 2}], indirect=True, ids=["2min"])
def test_sudo_minutes_is_a_setting(logged_in_2fa_user, client, sudo_clock):
    logged_in_2fa_user.reauthenticate()
    sudo_clock.advance(1.5)
    assert client.get(DISABLE).status_code == 200
    sudo_clock.advance(1)
    assert_sent_to_reauthenticate(client.get(DISABLE), DISABLE)


def test_without_2fa_the_password_alone_reopens_sudo(auth, client, sudo_clock):
    auth.register()
    # Security review row 3: a fresh sign-up or login is not enough to add a first factor.
    assert_sent_to_reauthenticate(client.get(ENABLE), ENABLE)
    auth.confirm_its_you_to(ENABLE)
    assert client.get(ENABLE).status_code == 200
    sudo_clock.advance(11)
    assert_sent_to_reauthenticate(client.get(ENABLE), ENABLE)
    response = auth.post(f"{REAUTH}?next={ENABLE}", {"password": "correct horse battery"})
    assert response.status_code == 302
    assert response.headers["Location"] == ENABLE
    assert client.get(ENABLE).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"REAUTH_LIMIT_PER_USER": "3/minute"}], indirect=True, ids=["limits"])
def test_reauthentication_password_guesses_are_rate_limited(auth, client):
    auth.register()
    for n in range(3):
        assert auth.post(REAUTH, {"password": f"guess {n}"}).status_code == 401
    response = auth.post(REAUTH, {"password": "correct horse battery"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "try again in" in page_text(response)
    # The throttled right password did not open sudo mode.
    assert_sent_to_reauthenticate(client.get("/profile/password"), "/profile/password")
