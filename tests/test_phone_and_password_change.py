"""Changing the phone number (confirmed before it replaces the old one) and changing the password."""
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import TrustedDevice, User
from tests.conftest import PASSWORD, PHONE, page_text
from tests.support import (
    NO_SEND_LIMITS,
    assert_sudo_needed,
    event_kinds,
    logged_in,
    new_browser,
    restart_browser,
    text,
    wrong,
)

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)  # several logins per test

NEW_PHONE, NEW_NATIONAL = "+447400654321", "07400 654321"
NEW_PASSWORD = "a different horse staple"
OLD_MASKED, NEW_MASKED = "+44 ••• ••• •456", "+44 ••• ••• •321"
CODE_ITEM = re.compile(r'<li class="col">([^<]*)</li>')


# -- Helpers ------------------------------------------------------------------------------------

def profile_phone(client):
    """The masked number the profile says codes are sent to."""
    match = re.search(r'Codes are sent to <span class="text-nowrap">([^<]*)</span>', page_text(client.get("/profile")))
    assert match, "the profile shows no number"
    return match.group(1)


def snapshot(app, username="alice"):
    """What a failed or cancelled change must leave as it was."""
    with app.app_context():
        user = User.by_username(username)
        hashes = sorted(db.session.scalars(sa.select(TrustedDevice.token_hash).where(TrustedDevice.user_id == user.id)))
        return {"phone": user.phone, "session_token": user.session_token, "devices": hashes}


def alice_with_2fa(auth, remember_device=False):
    """alice with 2FA on PHONE, logged in on this browser."""
    auth.signup_with_2fa("alice")
    auth.login_with_code(remember_device=remember_device)


def assert_login_code_goes_to(browser, phone):
    """A full login on `browser`: its code is sent to `phone`, and nowhere else."""
    sends = len(browser.fake.sends)
    browser.login_with_code(phone=phone)
    assert [send["to"] for send in browser.fake.sends[sends:]] == [phone]


def start_change(auth, national=NEW_NATIONAL):
    auth.open_sudo_page("/profile/2fa/phone")
    return auth.post("/profile/2fa/phone", {"country": "GB", "phone": national})


# -- Changing the phone -------------------------------------------------------------------------

def test_changing_the_phone_needs_sudo(app, auth, client, fake):
    alice_with_2fa(auth)
    sends = len(fake.sends)
    response = assert_sudo_needed(auth, "/profile/2fa/phone", {"country": "GB", "phone": NEW_NATIONAL})
    assert not [send for send in fake.sends[sends:] if send["to"] == NEW_PHONE]
    assert snapshot(app)["phone"] == PHONE

    done = auth.reauthenticate(url=response.headers["Location"])
    assert done.headers["Location"] == "/profile/2fa/phone"
    page = client.get("/profile/2fa/phone")
    assert page.status_code == 200
    assert "Change your phone number" in page_text(page)


def test_without_2fa_there_is_no_phone_to_change(app, auth, client):
    auth.register("carol")
    assert auth.reauthenticate(url="/auth/reauthenticate?next=/profile/2fa/phone").headers["Location"] == "/profile/2fa/phone"
    response = client.get("/profile/2fa/phone")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/enable"


def test_an_invalid_new_number_is_refused(app, auth, client, fake):
    alice_with_2fa(auth)
    auth.open_sudo_page("/profile/2fa/phone")
    sends = len(fake.sends)
    response = auth.post("/profile/2fa/phone", {"country": "GB", "phone": "12345"})
    assert response.status_code == 400
    assert len(fake.sends) == sends
    assert snapshot(app)["phone"] == PHONE


def test_the_old_number_keeps_working_until_the_new_one_is_confirmed(app, auth, client, fake):
    alice_with_2fa(auth)
    laptop = new_browser(app, fake)
    laptop.login_with_code(remember=True)
    before = snapshot(app)

    response = start_change(auth)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/confirm"
    assert fake.sends[-1]["to"] == NEW_PHONE
    assert "to +44 7400 654321." in text(client.get("/profile/2fa/confirm"))  # the number just typed, whole
    assert snapshot(app) == before  # nothing changed yet
    assert profile_phone(client) == OLD_MASKED

    # Meanwhile a login elsewhere still gets its code on the old number, and it works.
    phone_browser = new_browser(app, fake)
    assert_login_code_goes_to(phone_browser, PHONE)
    assert logged_in(phone_browser.client)

    response = auth.confirm(phone=NEW_PHONE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    after = snapshot(app)
    assert after["phone"] == NEW_PHONE
    assert after["session_token"] != before["session_token"]
    assert ("phone_changed", f"to {NEW_MASKED}") in event_kinds(app)

    # This browser stays logged in; the other sessions (and remember cookies) end.
    page = page_text(client.get("/profile"))
    assert "Your phone number is changed. Codes now go to the new number." in page
    assert profile_phone(client) == NEW_MASKED
    assert "Phone number changed" in page
    assert not logged_in(laptop.client)
    assert not logged_in(phone_browser.client)

    # From now on, login codes go to the new number.
    auth.logout()
    assert_login_code_goes_to(auth, NEW_PHONE)


def test_a_wrong_code_leaves_the_account_as_it_was(app, auth, client, fake):
    alice_with_2fa(auth, remember_device=True)
    laptop = new_browser(app, fake)
    laptop.login_with_code()
    before = snapshot(app)
    assert len(before["devices"]) == 1
    start_change(auth)
    response = auth.confirm(code=wrong(fake.last_code(NEW_PHONE)), phone=NEW_PHONE)
    assert response.status_code == 401
    assert "Incorrect code. Please try again." in page_text(response)
    assert snapshot(app) == before
    assert logged_in(client) and logged_in(laptop.client)
    assert "phone_changed" not in [kind for kind, _ in event_kinds(app)]
    # The remembered browser is still remembered; another one gets its code on the old number.
    auth.logout()
    response = auth.login()
    assert response.headers["Location"] == "/profile"
    laptop.logout()
    assert_login_code_goes_to(laptop, PHONE)


def test_an_expired_change_leaves_the_account_as_it_was(app, auth, client, fake):
    alice_with_2fa(auth, remember_device=True)
    before = snapshot(app)
    start_change(auth)
    code = fake.last_code(NEW_PHONE)
    # Eleven minutes later: the pending change (and the code) have expired.
    fake.advance(11 * 60)
    with client.session_transaction() as session:
        session["enrol_phone_at"] -= 11 * 60
    response = auth.post("/profile/2fa/confirm", {"code": code}, form_url="/profile")
    assert response.status_code == 302
    assert response.headers["Location"] != "/profile"
    assert snapshot(app) == before
    assert logged_in(client)
    assert "phone_changed" not in [kind for kind, _ in event_kinds(app)]


def test_an_expired_change_sends_the_person_back_to_the_change_page(app, auth, client, fake):
    alice_with_2fa(auth)
    start_change(auth)
    with client.session_transaction() as session:
        session["enrol_phone_at"] -= 11 * 60
    response = client.get("/profile/2fa/confirm")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/phone"


def test_the_confirm_page_of_a_change_speaks_of_the_change(app, auth, client):
    alice_with_2fa(auth)
    start_change(auth)
    page = page_text(client.get("/profile/2fa/confirm"))
    assert "Two-factor authentication turns on" not in page
    assert 'href="/profile/2fa/phone"' in page


def test_a_cancelled_change_leaves_the_account_as_it_was(app, auth, client, fake):
    alice_with_2fa(auth, remember_device=True)
    laptop = new_browser(app, fake)
    laptop.login_with_code()
    before = snapshot(app)
    change_page = page_text(auth.open_sudo_page("/profile/2fa/phone"))
    assert 'href="/profile">Cancel</a>' in change_page
    start_change(auth)
    # The person leaves the code page for the profile instead of entering the code.
    assert profile_phone(client) == OLD_MASKED
    assert snapshot(app) == before
    assert logged_in(client) and logged_in(laptop.client)
    laptop.logout()
    assert_login_code_goes_to(laptop, PHONE)
    assert snapshot(app)["phone"] == PHONE
    # Logging out drops the half-finished change with the rest of the session.
    auth.logout()
    assert auth.login().headers["Location"] == "/profile"  # still a remembered browser
    assert client.get("/profile/2fa/confirm").status_code == 302
    assert snapshot(app)["phone"] == PHONE


# -- Changing the password ----------------------------------------------------------------------

def login_remembered(app, fake, username="carol", password=PASSWORD):
    """A browser logged in with "Remember me" ticked."""
    browser = new_browser(app, fake)
    response = browser.login(username, password=password, remember=True)
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    return browser


def test_with_no_other_session_nothing_is_said_of_other_sessions(app, auth):
    auth.register("carol")
    auth.open_sudo_page("/profile/password")
    response = auth.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    page = page_text(auth.client.get("/profile"))
    assert "Your password is changed." in page
    assert "other sessions" not in page and "Other sessions ended" not in page


def test_changing_the_password_needs_sudo(app, auth, client):
    auth.register("carol")
    assert_sudo_needed(auth, "/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    with app.app_context():
        assert User.by_username("carol").check_password(PASSWORD)


def test_the_new_password_is_typed_twice_and_checked(app, auth, client):
    auth.register("carol")
    auth.open_sudo_page("/profile/password")
    mismatch = auth.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400
    assert "The passwords don&#39;t match." in page_text(mismatch) or "The passwords don't match." in page_text(mismatch)
    short = auth.post("/profile/password", {"password": "short", "password2": "short"})
    assert short.status_code == 400
    assert "Your password must be at least 8 characters." in page_text(short)
    with app.app_context():
        assert User.by_username("carol").check_password(PASSWORD)
    assert "password_changed" not in [kind for kind, _ in event_kinds(app, "carol")]


def test_changing_the_password_ends_other_sessions_and_remember_cookies(app, auth, client, fake):
    auth.register("carol")
    auth.logout()
    me = login_remembered(app, fake)
    other_session = login_remembered(app, fake)
    other_remembered = login_remembered(app, fake)
    restart_browser(app, other_remembered.client)
    assert logged_in(other_remembered.client)  # control: "Remember me" outlives a browser restart
    with app.app_context():
        token_before = User.by_username("carol").session_token

    me.open_sudo_page("/profile/password")
    response = me.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"

    page = page_text(me.client.get("/profile"))
    assert "Your password is changed. Your other sessions have been logged out." in page
    assert "Password changed" in page
    assert not logged_in(other_session.client)
    assert not logged_in(other_remembered.client)
    # This browser keeps its session, and stays remembered across a restart.
    assert logged_in(me.client)
    restart_browser(app, me.client)
    assert logged_in(me.client)
    with app.app_context():
        user = User.by_username("carol")
        assert user.session_token != token_before
        assert user.check_password(NEW_PASSWORD)
    assert "password_changed" in [kind for kind, _ in event_kinds(app, "carol")]

    fresh = new_browser(app, fake)
    old = fresh.login("carol", password=PASSWORD)
    assert old.status_code == 401
    assert "Invalid username or password." in page_text(old)
    new = fresh.login("carol", password=NEW_PASSWORD)
    assert new.status_code == 302 and new.headers["Location"] == "/profile"


def test_a_2fa_user_changing_the_password_stays_logged_in_here_only(app, auth, client, fake):
    alice_with_2fa(auth)
    laptop = new_browser(app, fake)
    laptop.login_with_code(remember=True)
    auth.open_sudo_page("/profile/password")
    response = auth.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(laptop.client)
    assert snapshot(app)["phone"] == PHONE  # 2FA stays on
    auth.logout()
    response = auth.login(password=NEW_PASSWORD)
    assert response.headers["Location"] == "/auth/verify"


def test_a_login_half_done_with_the_old_password_ends_with_the_change(app, auth, client, fake):
    auth.register("alice")
    auth.open_sudo_page("/profile/2fa/enable")
    auth.start_enrolment()
    assert auth.confirm().status_code == 302
    codes = CODE_ITEM.findall(page_text(client.get("/profile/recovery-codes")))
    assert len(codes) == 10
    # Someone who has the password (and, say, a photo of the recovery codes) does the password step...
    intruder = new_browser(app, fake)
    assert intruder.login().headers["Location"] == "/auth/verify"
    # ...then alice changes her password.
    auth.open_sudo_page("/profile/password")
    assert auth.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code == 302
    response = intruder.post("/auth/recovery", {"code": codes[0]}, form_url="/auth/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"
    assert not logged_in(intruder.client)
