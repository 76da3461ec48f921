"""A lost phone is not a dead end (issue 12): a recovery code works wherever a code is asked, so a
person without their phone can log in, confirm it's them, and change the number or turn 2FA off,
without a code ever being checked against the lost phone."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD, PHONE
from tests.support import (
    NO_SEND_LIMITS,
    event_kinds,
    logged_in,
    phone_of,
    text,
    two_factor_user,
    wait_out_cooldown,
    wrong_code,
)

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

NEW_PHONE, NEW_NATIONAL = "+447400654321", "07400 654321"
CHANGE_PHONE, DISABLE = "/profile/2fa/phone", "/profile/2fa/disable"
NOT_VALID = "That recovery code is not valid or was already used."
LOST_PHONE = "Lost your phone? Change your number"


def plain(response):
    """The page's words without markup, as a person reads them."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def code_step_url(auth, next_url):
    """The password step of confirming it's you, done: the address of the code step."""
    response = auth.post(f"/auth/reauthenticate?next={next_url}", {"password": PASSWORD})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/reauthenticate/code"
    assert parse_qs(location.query)["next"] == [next_url]
    return response.headers["Location"]


def recovery_step_url(auth, next_url):
    """The code step's "Use a recovery code instead" link."""
    page = text(auth.client.get(code_step_url(auth, next_url)))
    assert "Lost your phone?" in page and "Use a recovery code instead" in page
    link = f"/auth/reauthenticate/recovery?next={next_url}"
    assert f'href="{link}"' in page
    return link


def recovery_codes_left(app):
    from app import recovery

    with app.test_request_context():
        return recovery.remaining(User.by_username("alice"))


def test_without_the_phone_log_in_confirm_it_is_you_and_change_the_number(app, auth, client, fake):
    codes = two_factor_user(auth)
    auth.logout()
    checks_before = len(fake.checks)

    # Log in with a recovery code: the profile says plainly what to do next.
    auth.login()
    assert auth.post("/auth/recovery", {"code": codes[0]}).headers["Location"] == "/profile"
    profile = text(client.get("/profile"))
    assert LOST_PHONE in plain(client.get("/profile"))
    assert "You have 9 recovery codes left." in profile
    assert 'href="/profile/2fa/phone">Change your number</a>' in profile

    # "Change your number" asks to confirm it's you: password, then a recovery code instead.
    response = client.get(CHANGE_PHONE)
    assert response.headers["Location"] == f"/auth/reauthenticate?next={CHANGE_PHONE}"
    link = recovery_step_url(auth, CHANGE_PHONE)
    response = auth.post(link, {"code": codes[1]})
    assert response.status_code == 302 and response.headers["Location"] == CHANGE_PHONE
    page = text(client.get(CHANGE_PHONE))
    assert "You confirmed it's you with a recovery code. You have 8 left." in page
    assert "You don't need your current phone for this." in page

    # The new number is confirmed with a code sent to the new number.
    assert auth.post(CHANGE_PHONE, {"country": "GB", "phone": NEW_NATIONAL}).headers["Location"] == "/profile/2fa/confirm"
    assert fake.sends[-1]["to"] == NEW_PHONE
    assert auth.confirm(phone=NEW_PHONE).headers["Location"] == "/profile"
    assert phone_of(app) == NEW_PHONE
    assert [check["to"] for check in fake.checks[checks_before:]] == [NEW_PHONE]  # never the lost phone
    profile = plain(client.get("/profile"))
    assert LOST_PHONE not in profile  # the number is changed: nothing left to say
    assert "Your phone number is changed." in profile
    assert recovery_codes_left(app) == 8

    kinds = event_kinds(app)
    assert ("recovery_code_used", "9 left") in kinds
    assert ("recovery_code_used", "to confirm it's you, 8 left") in kinds
    assert ("reauthenticated", "with a recovery code") in kinds
    assert "Recovery code used (to confirm it's you, 8 left)" in plain(client.get("/profile"))


def test_turn_2fa_off_with_a_recovery_code(app, auth, client):
    codes = two_factor_user(auth)
    auth.logout()
    auth.login_with_code()
    response = client.get(DISABLE)
    assert response.status_code == 302  # the fresh login does not count for turning a factor off
    link = recovery_step_url(auth, DISABLE)
    assert auth.post(link, {"code": codes[0]}).headers["Location"] == DISABLE
    assert auth.post(DISABLE).headers["Location"] == "/profile"
    assert phone_of(app) is None


def test_a_recovery_code_used_to_confirm_it_is_you_is_used_up(app, auth, client):
    codes = two_factor_user(auth)
    link = recovery_step_url(auth, CHANGE_PHONE)
    assert auth.post(link, {"code": codes[0]}).status_code == 302
    assert recovery_codes_left(app) == 9
    # Again, later: the same code is refused, at re-authentication and at login.
    link = recovery_step_url(auth, CHANGE_PHONE)
    response = auth.post(link, {"code": codes[0]})
    assert response.status_code == 401
    assert NOT_VALID in text(response)
    auth.logout()
    auth.login()
    assert auth.post("/auth/recovery", {"code": codes[0]}).status_code == 401
    assert recovery_codes_left(app) == 9
    assert not logged_in(client)


def test_the_recovery_step_needs_the_password_first(app, auth, client):
    codes = two_factor_user(auth)
    for url in (f"/auth/reauthenticate/recovery?next={CHANGE_PHONE}", f"/auth/reauthenticate/code?next={CHANGE_PHONE}"):
        response = client.get(url)
        assert response.headers["Location"] == f"/auth/reauthenticate?next={CHANGE_PHONE}"
        response = auth.post(url, {"code": codes[0]}, form_url="/profile")
        assert response.headers["Location"] == f"/auth/reauthenticate?next={CHANGE_PHONE}"
    assert recovery_codes_left(app) == 10


@pytest.mark.app_settings(CODE_ATTEMPTS_PER_LOGIN=3)
def test_wrong_codes_and_recovery_codes_share_the_attempts_of_one_confirmation(app, auth, client, fake):
    codes = two_factor_user(auth)
    code_url = code_step_url(auth, CHANGE_PHONE)
    recovery_url = code_url.replace("/code?", "/recovery?")
    response = auth.post(code_url, {"code": wrong_code(fake)})
    assert response.status_code == 401
    assert "Incorrect code. You have 2 tries left." in text(response)
    response = auth.post(recovery_url, {"code": "zzzz-zzzz"})
    assert response.status_code == 401
    assert NOT_VALID in text(response)
    # The third wrong one ends this confirmation: back to the password, which sends a new code.
    response = auth.post(recovery_url, {"code": "yyyy-yyyy"})
    assert response.headers["Location"] == f"/auth/reauthenticate?next={CHANGE_PHONE}"
    assert "Too many incorrect codes. Enter your password again to get a new code." in text(
        client.get(response.headers["Location"]))
    # Even a right recovery code is not taken now, and not used up.
    response = auth.post(recovery_url, {"code": codes[0]}, form_url="/profile")
    assert response.headers["Location"] == f"/auth/reauthenticate?next={CHANGE_PHONE}"
    assert recovery_codes_left(app) == 10
    kinds = [kind for kind, _ in event_kinds(app)]
    assert kinds.count("code_failed") == 1 and kinds.count("recovery_code_failed") == 2
    with app.app_context():
        assert User.by_username("alice").code_failures == 3  # toward the account's lock too
    # A new confirmation starts with all its attempts.
    wait_out_cooldown(app)
    recovery_url = code_step_url(auth, CHANGE_PHONE).replace("/code?", "/recovery?")
    assert auth.post(recovery_url, {"code": codes[0]}).headers["Location"] == CHANGE_PHONE


@pytest.mark.app_settings(CODE_FAILURES_BEFORE_LOCK=2)
def test_wrong_recovery_codes_lock_entering_codes_on_the_account(app, auth, client):
    codes = two_factor_user(auth)
    recovery_url = code_step_url(auth, CHANGE_PHONE).replace("/code?", "/recovery?")
    assert auth.post(recovery_url, {"code": "zzzz-zzzz"}).status_code == 401
    locked = auth.post(recovery_url, {"code": "yyyy-yyyy"})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 60
    page = text(locked)
    assert "Too many incorrect codes" in page and "locked for 15 minutes" in page
    assert 'name="code"' not in page and "Resend code" not in page
    with app.app_context():
        assert User.by_username("alice").code_locked_until is not None
    # Locked: a right recovery code is not taken, at re-authentication or at login.
    recovery_url = code_step_url(auth, CHANGE_PHONE).replace("/code?", "/recovery?")
    assert auth.post(recovery_url, {"code": codes[0]}, form_url="/profile").status_code == 429
    auth.logout()
    auth.login()
    assert auth.post("/auth/recovery", {"code": codes[0]}, form_url="/auth/login").status_code == 429
    assert recovery_codes_left(app) == 10


def test_the_lost_phone_note_is_only_for_the_session_that_used_a_code(app, auth, client, fake):
    codes = two_factor_user(auth)
    assert LOST_PHONE not in plain(client.get("/profile"))
    auth.logout()
    auth.login()
    auth.post("/auth/recovery", {"code": codes[0]})
    assert LOST_PHONE in plain(client.get("/profile"))
    auth.logout()
    wait_out_cooldown(app)
    auth.login_with_code()  # the phone turned up: a login with a code says nothing of it
    assert LOST_PHONE not in plain(client.get("/profile"))


def test_turning_2fa_off_ends_the_lost_phone_note(app, auth, client):
    codes = two_factor_user(auth)
    auth.logout()
    auth.login()
    auth.post("/auth/recovery", {"code": codes[0]})
    link = recovery_step_url(auth, DISABLE)
    auth.post(link, {"code": codes[1]})
    auth.post(DISABLE)
    assert LOST_PHONE not in plain(client.get("/profile"))
    with app.app_context():
        assert db.session.get(User, 1).phone is None
    assert PHONE not in text(client.get("/profile"))
