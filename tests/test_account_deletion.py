"""Deleting one's own account: sudo mode, the username typed to confirm, then nothing is left."""
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import RecoveryCode, SecurityEvent, TrustedDevice, User
from tests.conftest import PASSWORD, PHONE, page_text
from tests.support import (
    NO_SEND_LIMITS,
    assert_sudo_needed,
    expire_sudo,
    logged_in,
    new_browser,
)

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)  # several logins per test

BOB_PHONE, BOB_NATIONAL = "+447400123457", "07400 123457"


def rows_of(app, owner):
    """How many rows of each kind belong to the user with this id."""

    def count(model, column):
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(column == owner))

    with app.app_context():
        return {
            "user": count(User, User.id),
            "codes": count(RecoveryCode, RecoveryCode.user_id),
            "devices": count(TrustedDevice, TrustedDevice.user_id),
            "events": count(SecurityEvent, SecurityEvent.user_id),
        }


def user_id(app, username):
    with app.app_context():
        user = User.by_username(username)
        return user.id if user else None


def alice_with_everything(auth):
    """alice: 2FA on, recovery codes, a remembered browser (this one), events; logged in here."""
    auth.signup_with_2fa("alice")
    auth.login_with_code(remember_device=True)
    return user_id(auth.client.application, "alice")


# -- Sudo mode and the typed username -----------------------------------------------------------

def test_deleting_needs_sudo(app, auth, client):
    auth.register("carol")
    assert_sudo_needed(auth, "/profile/delete", {"username": "carol"})
    assert user_id(app, "carol") is not None
    assert logged_in(client)


def test_a_wrong_username_is_refused_and_nothing_is_deleted(app, auth, client, fake):
    alice = alice_with_everything(auth)
    new_browser(app, fake).register("bob")
    before = rows_of(app, alice)
    page = auth.open_sudo_page("/profile/delete")
    assert "Type your username to confirm" in page_text(page)
    for typed in ("bob", "alic", ""):
        response = auth.post("/profile/delete", {"username": typed})
        assert response.status_code == 400, typed
        assert "Delete your account" in page_text(response)
        assert rows_of(app, alice)["user"] == 1
    assert "That is not your username." in page_text(auth.post("/profile/delete", {"username": "bob"}))
    after = rows_of(app, alice)
    assert after["codes"] == before["codes"] == 10
    assert after["devices"] == before["devices"] == 1
    assert after["events"] >= before["events"]
    assert user_id(app, "bob") is not None
    assert logged_in(client)


# -- What deletion removes ----------------------------------------------------------------------

def test_deleting_removes_the_user_number_codes_devices_and_events(app, auth, client, fake):
    alice = alice_with_everything(auth)
    laptop = new_browser(app, fake)
    laptop.login_with_code(remember=True)
    bob = new_browser(app, fake)
    bob.register("bob")
    bob.start_enrolment(BOB_NATIONAL)
    assert bob.confirm(phone=BOB_PHONE).status_code == 302
    bob_id = user_id(app, "bob")
    bob_before = rows_of(app, bob_id)
    before = rows_of(app, alice)
    assert before["codes"] == 10 and before["devices"] == 1 and before["events"] > 0

    auth.open_sudo_page("/profile/delete")
    response = auth.post("/profile/delete", {"username": "alice"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=account-deleted"
    assert "Your account is deleted." in page_text(client.get(response.headers["Location"]))

    assert rows_of(app, alice) == {"user": 0, "codes": 0, "devices": 0, "events": 0}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.phone == PHONE)) == 0
        assert User.by_username("alice") is None
    # This browser and every other one are logged out.
    assert not logged_in(client)
    assert not logged_in(laptop.client)
    assert not logged_in(new_browser(app, fake).client)
    # bob is untouched.
    assert rows_of(app, bob_id) == bob_before
    assert logged_in(bob.client)
    # The password no longer opens anything.
    response = auth.login("alice")
    assert response.status_code == 401
    assert "Invalid username or password." in page_text(response)


def test_a_2fa_user_confirms_with_the_code_before_deleting(app, auth, client, fake):
    alice = alice_with_everything(auth)
    expire_sudo(client)
    response = client.get("/profile/delete")
    assert response.headers["Location"].startswith("/auth/reauthenticate")
    step = auth.post(response.headers["Location"], {"password": PASSWORD})
    assert step.headers["Location"].startswith("/auth/reauthenticate/code")
    assert client.get("/profile/delete").status_code == 302  # the password alone is not enough
    done = auth.post(step.headers["Location"], {"code": fake.last_code(PHONE)})
    assert done.headers["Location"] == "/profile/delete"
    assert auth.post("/profile/delete", {"username": "alice"}).status_code == 302
    assert rows_of(app, alice)["user"] == 0


def test_the_username_can_be_registered_again_and_starts_empty(app, auth, client, fake):
    old = alice_with_everything(auth)
    old_device_cookie = client.get_cookie("trusted_device").value
    auth.open_sudo_page("/profile/delete")
    assert auth.post("/profile/delete", {"username": "alice"}).status_code == 302

    response = auth.register("alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    new = user_id(app, "alice")
    assert rows_of(app, new)["codes"] == 0 and rows_of(app, new)["devices"] == 0
    with app.app_context():
        kinds = db.session.scalars(sa.select(SecurityEvent.kind).where(SecurityEvent.user_id == new)).all()
    assert kinds == ["signed_up"]
    page = page_text(client.get("/profile"))
    assert "Off" in page and "Enable 2FA" in page
    assert "Remembered browsers" not in page
    assert "Logged in" not in page  # none of the old account's events

    # The new alice turns 2FA on: the old account's remembered-browser cookie does not skip her code,
    # even if the database gave the new row the old id.
    auth.open_sudo_page("/profile/2fa/enable")
    auth.start_enrolment()
    assert auth.confirm().status_code == 302
    auth.logout()
    assert client.get_cookie("trusted_device").value == old_device_cookie
    response = auth.login()
    assert response.headers["Location"] == "/auth/verify", (old, new)
