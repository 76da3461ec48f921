"""Issue 17: an authenticator app as a second factor, through the real forms: setting it up, logging
in and confirming it's you with it, a code accepted once, wrong codes counted like SMS codes, the
choice between methods ("Use another way"), and removing one. The clock is the test's own
(time_machine), so time steps are known."""
import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import ServerSession, TwoFactorMethod, User
from tests.conftest import PASSWORD, PHONE, page_text
from tests.support import SETUP_KEY, add_authenticator, event_kinds, method_id, text, two_factor_user, wait_out_cooldown

SETUP = "/profile/authenticator-app"
STEP_START = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)  # a multiple of 30 s


@pytest.fixture
def clock():
    """The test's clock, stopped at the start of a time step; `clock.shift(seconds)` moves it."""
    with time_machine.travel(STEP_START, tick=False) as traveller:
        yield traveller


def code_at(key, moment):
    return pyotp.TOTP(key).at(moment)


def app_only_user(auth, name="Phone"):
    """alice, with 2FA on through an authenticator app only, codes saved, logged out. Returns the key."""
    assert auth.register("alice").status_code == 302
    key, response = add_authenticator(auth, name)
    assert response.headers["Location"] == "/profile/recovery-codes", page_text(response)
    assert auth.post("/profile/recovery-codes").status_code == 302
    auth.logout()
    return key


def logged_in_with_the_app(auth, fake, clock, key):
    """alice logs in with the app's code, then the clock moves to the next step (for another code)."""
    clock.shift(60)
    log_in_to_code_page(auth, fake)
    auth.post("/auth/verify", {"code": code_at(key, datetime.now(UTC))})
    clock.shift(30)


def log_in_to_code_page(auth, fake):
    sends = len(fake.sends)
    response = auth.login()
    assert response.headers["Location"] == "/auth/verify"
    return sends


# -- Setting it up ------------------------------------------------------------------------------

def test_setup_asks_for_the_password_typed_now(auth, client):
    auth.register("alice")
    response = client.get(SETUP)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate?next=")


def test_setup_page_shows_a_qr_code_the_key_and_its_link_and_is_never_stored(app, auth, client, clock):
    auth.register("alice")
    page = auth.open_sudo_page(SETUP)
    body = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in body
    key = SETUP_KEY.search(body).group(1)
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key), key
    uri = re.search(r'href="(otpauth://totp/[^"]+)"', body).group(1).replace("&amp;", "&")
    parsed = pyotp.parse_uri(uri)
    assert (parsed.issuer, parsed.name, parsed.secret) == ("SMS 2FA", "alice", key.replace(" ", ""))
    assert "Verification code" in text(page)
    # The same key until it is confirmed (a reload doesn't make the app's entry useless).
    assert SETUP_KEY.search(client.get(SETUP).get_data(as_text=True)).group(1) == key


@pytest.mark.app_settings(APP_NAME="Acme Intranet")
def test_the_issuer_comes_from_app_name(auth):
    auth.register("alice")
    body = auth.open_sudo_page(SETUP).get_data(as_text=True)
    uri = re.search(r'href="(otpauth://totp/[^"]+)"', body).group(1).replace("&amp;", "&")
    assert pyotp.parse_uri(uri).issuer == "Acme Intranet"


def test_a_wrong_or_malformed_code_keeps_the_setup_and_adds_nothing(app, auth, client, clock):
    auth.register("alice")
    key = SETUP_KEY.search(auth.open_sudo_page(SETUP).get_data(as_text=True)).group(1).replace(" ", "")
    right = code_at(key, STEP_START)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    response = auth.post(SETUP, {"name": "Phone", "code": wrong})
    assert response.status_code == 401
    assert "That code doesn't match" in text(response)
    response = auth.post(SETUP, {"name": "Phone", "code": "12a456"})
    assert response.status_code == 400 and "The code is 6 digits." in text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TwoFactorMethod)) == 0
        assert User.by_username("alice").code_failures == 0  # a typo at setup guesses nothing
    assert auth.post(SETUP, {"name": "Phone", "code": right}).headers["Location"] == "/profile/recovery-codes"


def test_first_app_turns_2fa_on_through_the_recovery_codes(app, auth, client, clock):
    auth.register("alice")
    key, response = add_authenticator(auth, "Phone")
    assert response.headers["Location"] == "/profile/recovery-codes"
    response = auth.post("/profile/recovery-codes")
    shown = text(client.get(response.headers["Location"]))
    assert "Each login will now ask for a code from your authenticator app." in shown
    assert "Authenticator app 'Phone'" in shown
    assert ("2fa_enabled", "Authenticator app 'Phone'") in event_kinds(app)


def test_the_key_is_encrypted_at_rest(app, auth, client, clock):
    auth.register("alice")
    key, _ = add_authenticator(auth)
    with app.app_context():
        stored = db.session.scalar(sa.select(TwoFactorMethod.secret))
        sessions = [bytes(data) for data in db.session.scalars(sa.select(ServerSession.data))]
    assert key not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert not any(key.encode() in data for data in sessions)


# -- Logging in with it ---------------------------------------------------------------------------

def test_login_with_an_app_sends_nothing_and_a_code_works_once(app, auth, client, fake, clock):
    key = app_only_user(auth)
    clock.shift(60)  # two steps on from the setup's code
    requests_before = len(fake.requests)
    sends = log_in_to_code_page(auth, fake)
    page = text(client.get("/auth/verify"))
    assert "Enter the 6-digit code that your authenticator app 'Phone' shows now." in page
    assert "Resend code" not in page and "Call me instead" not in page
    assert len(fake.sends) == sends, "an authenticator app's login sends nothing"
    code = code_at(key, datetime.now(UTC))
    assert auth.post("/auth/verify", {"code": code}).headers["Location"] == "/profile"
    assert len(fake.requests) == requests_before, "an app's code is checked without calling Twilio"
    auth.logout()

    # The same code again, in the same 30 seconds: refused, without counting as a wrong guess.
    log_in_to_code_page(auth, fake)
    response = auth.post("/auth/verify", {"code": code})
    assert response.status_code == 401
    assert "This code was already used. Wait for the next one." in text(response)
    with app.app_context():
        assert User.by_username("alice").code_failures == 0
    clock.shift(30)
    assert auth.post("/auth/verify", {"code": code_at(key, datetime.now(UTC))}).headers["Location"] == "/profile"


@pytest.mark.parametrize(("offset", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)],
                         ids=["previous-step", "next-step", "two-back", "two-ahead"])
def test_one_step_of_clock_drift_either_way(auth, client, fake, clock, offset, accepted):
    key = app_only_user(auth)
    clock.shift(300)
    log_in_to_code_page(auth, fake)
    response = auth.post("/auth/verify", {"code": code_at(key, datetime.now(UTC) + timedelta(seconds=offset))})
    assert (response.status_code == 302) is accepted, response.status_code


def test_wrong_app_codes_count_toward_the_accounts_lock(app, auth, client, fake, clock):
    key = app_only_user(auth)
    clock.shift(60)
    log_in_to_code_page(auth, fake)
    right = code_at(key, datetime.now(UTC))
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    response = auth.post("/auth/verify", {"code": wrong})
    assert response.status_code == 401 and "Incorrect code." in text(response)
    response = auth.post("/auth/verify", {"code": "abcdef"})
    assert response.status_code == 400  # malformed: a form error, not a check
    with app.app_context():
        assert User.by_username("alice").code_failures == 1
    assert event_kinds(app)[-1] == ("code_failed", "")


@pytest.mark.app_settings(CODE_FAILURES_BEFORE_LOCK=3, CODE_ATTEMPTS_PER_LOGIN=10)
def test_the_lock_is_shared_by_every_method(app, auth, client, fake, clock):
    """Two wrong SMS codes and one wrong app code lock the code step: one count for all."""
    two_factor_user(auth)
    add_authenticator(auth)
    auth.logout()
    clock.shift(60)
    wait_out_cooldown(app)
    log_in_to_code_page(auth, fake)  # the app: used last
    phone_way = "phone:sms"
    assert auth.post("/auth/verify/another", {"way": phone_way}).headers["Location"] == "/auth/verify"
    for _ in range(2):
        assert auth.post("/auth/verify", {"code": "000000" if fake.last_code(PHONE) != "000000" else "111111"}).status_code == 401
    app_way = f"{method_id(app, kind='totp')}:app"
    auth.post("/auth/verify/another", {"way": app_way})
    response = auth.post("/auth/verify", {"code": "000000"})
    assert response.status_code == 429
    assert "entering codes on this account is locked" in text(response)


# -- The choice: "Use another way" ------------------------------------------------------------------

def test_the_method_used_last_comes_first_and_another_way_can_be_chosen(app, auth, client, fake, clock):
    two_factor_user(auth)
    key, _ = add_authenticator(auth, "Tablet")  # confirming it counts as its use
    auth.logout()
    clock.shift(60)
    sends = log_in_to_code_page(auth, fake)
    assert len(fake.sends) == sends
    assert "authenticator app 'Tablet'" in text(client.get("/auth/verify"))

    choice = text(client.get("/auth/verify/another"))
    for words in ("Text message to your phone ending in 56", "Call your phone ending in 56",
                  "Authenticator app 'Tablet'", "Recovery code"):
        assert words in choice, words
    assert "WhatsApp" not in choice  # not in VERIFY_CHANNELS
    wait_out_cooldown(app)
    response = auth.post("/auth/verify/another", {"way": "phone:call"})
    assert response.headers["Location"] == "/auth/verify"
    assert [s["channel"] for s in fake.sends[sends:]] == ["call"]
    assert "We sent a code by phone call to your phone number ending in 56." in text(client.get("/auth/verify"))
    assert auth.post("/auth/verify", {"code": fake.last_code(PHONE)}).headers["Location"] == "/profile"
    auth.logout()

    # The phone was used last now: the next login texts it.
    clock.shift(60)
    wait_out_cooldown(app)
    sends = log_in_to_code_page(auth, fake)
    assert [s["channel"] for s in fake.sends[sends:]] == ["sms"]


def test_a_way_of_someone_else_cannot_be_chosen(app, auth, client, fake, clock):
    two_factor_user(auth, "bob", national="07400 654321", phone="+447400654321")
    add_authenticator(auth)
    auth.logout()
    two_factor_user(auth, "alice")
    add_authenticator(auth)
    auth.logout()
    clock.shift(60)
    log_in_to_code_page(auth, fake)
    response = auth.post("/auth/verify/another", {"way": f"{method_id(app, 'bob', 'totp')}:app"})
    assert response.status_code == 400 and "Not a valid choice" in text(response)


def test_recovery_code_is_a_way_too(auth, client, fake, clock):
    app_only_user(auth)
    log_in_to_code_page(auth, fake)
    assert auth.post("/auth/verify/another", {"way": "recovery"}).headers["Location"] == "/auth/recovery"


# -- Confirming it's you --------------------------------------------------------------------------

def test_confirm_its_you_with_the_app(app, auth, client, fake, clock):
    key = app_only_user(auth)
    logged_in_with_the_app(auth, fake, clock, key)
    sends = len(fake.sends)
    response = auth.post("/auth/reauthenticate?next=/profile/2fa/disable", {"password": PASSWORD})
    code_page = response.headers["Location"]
    assert code_page.startswith("/auth/reauthenticate/code")
    assert "authenticator app 'Phone'" in text(client.get(code_page))
    assert auth.post(code_page, {"code": code_at(key, datetime.now(UTC))}).headers["Location"] == "/profile/2fa/disable"
    assert len(fake.sends) == sends
    assert ("reauthenticated", "with a code") in event_kinds(app)


# -- Managing methods -------------------------------------------------------------------------------

def test_removing_one_of_two_methods_ends_other_sessions_and_is_an_event(app, auth, client, fake, clock):
    two_factor_user(auth)
    add_authenticator(auth, "Tablet")
    profile = text(client.get("/profile"))
    assert "Phone +44 ••• ••• •456" in profile and "Authenticator app 'Tablet'" in profile
    app_id = method_id(app, kind="totp")
    page = client.get(f"/profile/methods/{app_id}/remove")
    assert page.status_code == 200 and "Remove Authenticator app 'Tablet'" in text(page)
    response = auth.post(f"/profile/methods/{app_id}/remove")
    assert response.headers["Location"] == "/profile"
    assert "Authenticator app 'Tablet' is removed" in text(client.get("/profile"))
    assert ("method_removed", "Authenticator app 'Tablet'") in event_kinds(app)
    with app.app_context():
        assert User.by_username("alice").method_count == 1


def test_removing_the_last_method_is_turning_2fa_off(app, auth, client, fake, clock):
    key = app_only_user(auth)
    logged_in_with_the_app(auth, fake, clock, key)
    remove = f"/profile/methods/{method_id(app, kind='totp')}/remove"
    assert client.get(remove).headers["Location"].startswith("/auth/reauthenticate")
    code_page = auth.post(f"/auth/reauthenticate?next={remove}", {"password": PASSWORD}).headers["Location"]
    assert auth.post(code_page, {"code": code_at(key, datetime.now(UTC))}).headers["Location"] == remove
    assert client.get(remove).headers["Location"] == "/profile/2fa/disable"
    page = text(client.get("/profile/2fa/disable"))
    assert "your authenticator app (1): its codes stop working here" in page
    assert auth.post("/profile/2fa/disable").headers["Location"] == "/profile"
    with app.app_context():
        assert User.by_username("alice").method_count == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TwoFactorMethod)) == 0


def test_another_users_method_is_not_found(app, auth, client, fake, clock):
    two_factor_user(auth, "bob", national="07400 654321", phone="+447400654321")
    add_authenticator(auth)
    bobs = method_id(app, "bob", "totp")
    auth.logout()
    two_factor_user(auth, "alice")
    add_authenticator(auth)
    assert client.get(f"/profile/methods/{bobs}/remove").status_code == 404
    assert auth.post(f"/profile/methods/{bobs}/remove", form_url="/profile").status_code == 404
    assert client.get(f"/profile/methods/{2**63}/remove").status_code == 404
