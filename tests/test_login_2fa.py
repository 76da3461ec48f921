"""Logging in with 2FA on: password, then the code sent to the phone (CSRF on throughout)."""
import pytest

from app.auth import pending as pending_module
from tests.conftest import PHONE, AuthActions
from tests.support import (
    ShiftedClock,
    assert_resent,
    logged_in,
    long_lived_cookies,
    restart_browser,
    text,
    wait_out_cooldown,
    wrong,
)

LOGIN_EXPIRED = "Your login expired or was not started. Please log in again."
OTHER_PHONE = "+447400999888"  # another valid GB mobile


@pytest.fixture
def alice(auth, fake):
    """A user with 2FA on, logged out, and a clean record of sends and checks."""
    auth.signup_with_2fa("alice")
    fake.reset()
    return "alice"


@pytest.fixture
def at_code_step(alice, auth, fake):
    """Alice has typed the right password; a code is on its way."""
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    assert [(s["to"], s["channel"]) for s in fake.sends] == [(PHONE, "sms")]
    return fake.last_code(PHONE)


# -- the password step ------------------------------------------------------------------------

@pytest.mark.parametrize("remember", [False, True])
def test_right_password_alone_does_not_log_in(alice, app, auth, client, fake, remember):
    response = auth.login(remember=remember)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/verify"
    assert long_lived_cookies(app, client) == []
    profile = client.get("/profile")
    assert profile.status_code == 302
    assert profile.headers["Location"].startswith("/auth/login")
    assert client.get("/").headers["Location"] == "/auth/login"
    assert long_lived_cookies(app, client) == []


def test_wrong_password_sends_no_code(alice, auth, client, fake):
    response = auth.login(password="wrong password")
    assert response.status_code == 401
    assert "Invalid username or password." in text(response)
    assert fake.sends == []
    assert client.get("/auth/verify").headers["Location"] == "/auth/login?notice=login-expired"


def test_code_page(at_code_step, client):
    response = client.get("/auth/verify")
    assert response.status_code == 200
    page = text(response)
    assert "We sent a code by text message to your phone." in page
    for item in ("Verification code", "Verify", "Resend code", "Call me instead",
                 'autocomplete="one-time-code"', 'inputmode="numeric"'):
        assert item in page
    assert "7400123456" not in page


# -- the code step ----------------------------------------------------------------------------

def test_wrong_code(at_code_step, auth, client, fake):
    response = auth.verify(wrong(at_code_step))
    assert response.status_code == 401
    assert "Incorrect code" in text(response)
    assert not logged_in(client)
    assert [(c["to"], c["status"]) for c in fake.checks] == [(PHONE, "pending")]


def test_right_code_logs_in(at_code_step, auth, client):
    response = auth.verify(at_code_step)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    profile = client.get("/profile")
    assert profile.status_code == 200
    assert "You are logged in." in text(profile) and "You are logged in as alice." in text(profile)


def test_right_code_after_a_wrong_one(at_code_step, auth, client):
    assert auth.verify(wrong(at_code_step)).status_code == 401
    assert auth.verify(at_code_step).status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("spaced", ["{0} {1}", " {0}-{1} "])
def test_code_typed_with_spaces_or_a_dash(at_code_step, auth, client, fake, spaced):
    response = auth.verify(spaced.format(at_code_step[:3], at_code_step[3:]))
    assert response.status_code == 302
    assert fake.checks[-1]["code"] == at_code_step
    assert logged_in(client)


@pytest.mark.parametrize("remember", [True, False])
def test_remember_me_is_carried_and_set_only_after_the_code(alice, app, auth, client, remember):
    auth.login(remember=remember)
    assert long_lived_cookies(app, client) == []
    assert client.get("/auth/verify").status_code == 200
    assert long_lived_cookies(app, client) == []
    assert auth.verify().status_code == 302
    assert bool(long_lived_cookies(app, client)) is remember
    restart_browser(app, client)
    assert logged_in(client) is remember


@pytest.mark.parametrize(("button", "channel", "message"), [
    ("/auth/verify/resend", "sms", "We sent a code by text message to your phone."),
    ("/auth/verify/call", "call", "We are calling your phone now with your code."),
])
def test_resend_and_call_me(at_code_step, app, auth, client, fake, button, channel, message):
    assert_resent(auth, button, "/auth/verify", channel, message)
    assert not logged_in(client)
    assert auth.verify().status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("button", ["/auth/verify/resend", "/auth/verify/call"])
def test_resend_needs_post_and_csrf(at_code_step, app, client, fake, button):
    wait_out_cooldown(app)
    assert client.get(button).status_code == 405
    assert client.post(button).status_code == 400
    assert client.post(button, data={"csrf_token": "forged"}).status_code == 400
    assert len(fake.sends) == 1


# -- missing or stale pending login -----------------------------------------------------------

def post_code(auth, url, code):
    return auth.post(url, {"code": code}, form_url="/auth/login")


ENDPOINTS = [
    ("GET", "/auth/verify"),
    ("POST", "/auth/verify"),
    ("POST", "/auth/verify/resend"),
    ("POST", "/auth/verify/call"),
]


def hit(auth, client, method, url, code="123456"):
    return client.get(url) if method == "GET" else post_code(auth, url, code)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_no_pending_login_goes_back_to_login(alice, auth, client, fake, method, url):
    response = hit(auth, client, method, url)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"
    assert LOGIN_EXPIRED in text(client.get(response.headers["Location"]))
    assert fake.sends == [] and fake.checks == []
    assert not logged_in(client)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_stale_pending_login_goes_back_to_login(at_code_step, app, auth, client, fake, monkeypatch, method, url):
    wait_out_cooldown(app)
    monkeypatch.setattr(pending_module, "time", ShiftedClock(10 * 60 + 1))
    response = hit(auth, client, method, url, at_code_step)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"
    assert LOGIN_EXPIRED in text(client.get(response.headers["Location"]))
    assert fake.checks == [] and len(fake.sends) == 1
    assert not logged_in(client)
    monkeypatch.undo()  # back to now: the stale login was cleared, not just ignored
    assert client.get("/auth/verify").headers["Location"] == "/auth/login?notice=login-expired"


def test_pending_login_is_still_good_just_before_ten_minutes(at_code_step, auth, client, monkeypatch):
    monkeypatch.setattr(pending_module, "time", ShiftedClock(9 * 60 + 50))
    assert client.get("/auth/verify").status_code == 200
    assert auth.verify(at_code_step).status_code == 302
    assert logged_in(client)


def test_pending_login_of_a_user_who_turned_2fa_off_goes_back_to_login(at_code_step, app, auth, client):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        User.by_username("alice").disable_two_factor()
        db.session.commit()
    response = auth.post("/auth/verify", {"code": at_code_step}, form_url="/auth/login")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login?notice=login-expired"
    assert not logged_in(client)


# -- the code is bound to this login ----------------------------------------------------------

@pytest.mark.parametrize("extra", [
    {"to": OTHER_PHONE},
    {"to": OTHER_PHONE, "To": OTHER_PHONE, "phone": OTHER_PHONE, "user_id": "2", "username": "mallory"},
])
def test_extra_form_fields_do_not_change_the_number_checked(at_code_step, auth, client, fake, extra):
    response = auth.post("/auth/verify", {"code": wrong(at_code_step), **extra})
    assert response.status_code == 401
    response = auth.post(f"/auth/verify?to={OTHER_PHONE}", {"code": at_code_step, **extra})
    assert response.status_code == 302
    assert [check["to"] for check in fake.checks] == [PHONE, PHONE]
    assert "You are logged in as alice." in text(client.get("/profile"))


def test_a_code_sent_to_another_account_does_not_work(alice, app, auth, client, fake):
    mallory = AuthActions(app.test_client(), fake)
    mallory.register("mallory")
    mallory.start_enrolment(OTHER_PHONE)
    assert mallory.confirm(phone=OTHER_PHONE).status_code == 302
    mallory.logout()
    mallory.login("mallory")
    mallory_code = fake.last_code(OTHER_PHONE)

    auth.login("alice")  # the attacker knows alice's password, not her phone
    alice_code = fake.last_code(PHONE)
    if mallory_code == alice_code:
        pytest.xfail("the two random codes happen to be equal")  # one chance in a million
    response = auth.post("/auth/verify", {"code": mallory_code, "to": OTHER_PHONE})
    assert response.status_code == 401
    assert fake.checks[-1] == {"to": PHONE, "code": mallory_code, "status": "pending"}
    assert not logged_in(client)
    # and mallory's own code still works for her: alice's login did not consume it
    assert mallory.verify(mallory_code, phone=OTHER_PHONE).status_code == 302


@pytest.mark.parametrize("query", ["code={code}", "code={code}&submit=Verify&to=" + OTHER_PHONE])
def test_a_code_in_the_url_does_nothing(at_code_step, client, fake, query):
    response = client.get("/auth/verify?" + query.format(code=at_code_step))
    assert response.status_code == 200
    assert fake.checks == []
    assert not logged_in(client)


@pytest.mark.parametrize("code", ["abcdef", "12345", "1234567", "12345a", "", "１２３４５６", "123456789012"])
def test_malformed_codes_are_refused_before_twilio(at_code_step, auth, client, fake, code):
    response = auth.verify(code)
    assert response.status_code == 400
    assert fake.checks == []
    assert not logged_in(client)


def test_code_without_csrf_token_is_refused(at_code_step, client, fake):
    response = client.post("/auth/verify", data={"code": at_code_step})
    assert response.status_code == 400
    assert fake.checks == []
    assert not logged_in(client)


def test_code_reused_after_success(at_code_step, auth, client, fake):
    assert auth.verify(at_code_step).status_code == 302
    # the same POST again, in the logged-in session: the pending login is gone
    response = auth.post("/auth/verify", {"code": at_code_step}, form_url="/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login?notice=login-expired"
    auth.logout()
    # and after logging out, replaying it starts nothing either
    response = auth.post("/auth/verify", {"code": at_code_step}, form_url="/auth/login")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login?notice=login-expired"
    assert not logged_in(client)
    assert len(fake.checks) == 1
