"""Turning 2FA on (number, code) and off (sudo: password, then code), through the real forms."""
import re

import pytest

from app import security
from app.methods.phone import views as profile_phone
from tests.conftest import PASSWORD, PHONE, PHONE_NATIONAL, page_text
from tests.support import (
    ShiftedClock,
    assert_resent,
    phone_of,
    text,
    wait_out_cooldown,
    wrong,
)

MASKED = "+44 ••• ••• •456"
ENROLMENT_EXPIRED = "Your code request expired or was not started. Please enter your number again."


def selected_country(response):
    match = re.search(r'<option selected value="([A-Z]{2})"', page_text(response))
    return match and match.group(1)


@pytest.fixture
def alice(auth):
    """A logged-in user without 2FA who has confirmed it's you (the password) to turn it on."""
    assert auth.register("alice").status_code == 302
    auth.confirm_its_you_to("/profile/2fa/enable")


# -- the phone form ---------------------------------------------------------------------------

@pytest.mark.parametrize(("accept_language", "country"), [
    ("en-GB,en;q=0.9", "GB"),
    ("fr-CA,fr;q=0.8", "CA"),
    ("de", "US"),  # no region: DEFAULT_COUNTRY
    (None, "US"),
])
def test_country_defaults_from_accept_language(alice, client, accept_language, country):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    client.set_cookie("locale", "en")  # the page in English, the browser's region still counts
    response = client.get("/profile/2fa/enable", headers=headers)
    assert response.status_code == 200
    assert selected_country(response) == country
    for label in ("Country", "Phone number", "Send code"):
        assert label in text(response)


def test_country_falls_back_to_the_configured_default(alice, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_COUNTRY", "DE")
    assert selected_country(client.get("/profile/2fa/enable", headers={"Accept-Language": "fr"})) == "DE"


@pytest.mark.parametrize(("country", "number"), [
    ("GB", PHONE_NATIONAL),
    ("GB", "07400123456"),
    ("GB", "07400-123-456"),
    ("GB", "+44 7400 123456"),
    ("US", "+44 7400 123456"),  # international input wins over the country
    ("KE", PHONE),
])
def test_enrol_national_and_international_numbers(alice, app, auth, client, fake, country, number):
    response = auth.start_enrolment(number, country)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/confirm"
    assert [(s["to"], s["channel"]) for s in fake.sends] == [(PHONE, "sms")]
    page = text(client.get("/profile/2fa/confirm"))
    assert "We sent a code by text message to your phone." in page
    # The whole number just typed, grouped, so a typo can be seen (issue 12); never raw E.164.
    assert "We sent a code by text message to +44 7400 123456." in page and "7400123456" not in page
    assert phone_of(app) is None  # nothing saved before the code
    response = auth.confirm()
    assert response.status_code == 302
    assert phone_of(app) == PHONE


@pytest.mark.parametrize(("country", "number", "message"), [
    ("GB", "+44 909 879 0000", "Premium-rate numbers can't be used for 2FA."),
    ("GB", "+44 800 123 4567", "Toll-free numbers can't be used for 2FA."),
    ("GB", "020 7946 0018", "This looks like a landline, which can't receive texts."),
    ("GB", "07400 123", "This phone number is not valid."),
    ("US", PHONE_NATIONAL, "This phone number is not valid."),
    ("GB", "call me", "This doesn't look like a phone number."),
    ("GB", "", "Enter your phone number."),
    ("GB", "0" * 33, "A phone number is at most 32 characters."),
    ("XX", PHONE_NATIONAL, "Not a valid choice."),
])
def test_invalid_numbers_are_refused_and_nothing_is_sent(alice, app, auth, client, fake, country, number, message):
    response = auth.start_enrolment(number, country)
    assert response.status_code == 400
    assert message in text(response)
    assert fake.sends == []
    assert phone_of(app) is None
    assert client.get("/profile/2fa/confirm").headers["Location"] == "/profile/2fa/enable"


def test_enrol_without_csrf_token_sends_nothing(alice, client, fake):
    response = client.post("/profile/2fa/enable", data={"country": "GB", "phone": PHONE_NATIONAL})
    assert response.status_code == 400
    assert fake.sends == []


# -- the code ---------------------------------------------------------------------------------

def test_wrong_code_keeps_2fa_off(alice, app, auth, client, fake):
    auth.start_enrolment()
    response = auth.confirm(wrong(fake.last_code(PHONE)))
    assert response.status_code == 401
    assert "Incorrect code" in text(response)
    assert phone_of(app) is None
    assert "Enable 2FA" in text(client.get("/profile"))
    assert auth.confirm().status_code == 302  # the right code still works afterwards
    assert phone_of(app) == PHONE


@pytest.mark.parametrize("code", ["abcdef", "12345", "1234567", "12345a", ""])
def test_malformed_codes_are_refused_before_twilio(alice, app, auth, fake, code):
    auth.start_enrolment()
    response = auth.confirm(code)
    assert response.status_code == 400
    assert fake.checks == []
    assert phone_of(app) is None


def test_right_code_turns_2fa_on(alice, app, auth, client, fake):
    auth.start_enrolment()
    response = auth.confirm()
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/profile")
    assert [(c["to"], c["status"]) for c in fake.checks] == [(PHONE, "approved")]
    assert phone_of(app) == PHONE
    profile = client.get("/profile")
    assert profile.status_code == 200  # still logged in
    page = text(profile)
    assert MASKED in page and "Disable 2FA" in page
    assert "7400123456" not in page and PHONE_NATIONAL not in page


def test_the_number_confirmed_is_the_one_the_code_was_sent_to(alice, app, auth, fake):
    auth.start_enrolment()
    other = "+447400999888"
    response = auth.post("/profile/2fa/confirm", {"code": fake.last_code(PHONE), "phone": other, "to": other})
    assert response.status_code == 302
    assert [check["to"] for check in fake.checks] == [PHONE]
    assert phone_of(app) == PHONE


def test_confirm_after_2fa_is_on_has_nothing_pending(alice, auth, client, fake):
    auth.start_enrolment()
    code = fake.last_code(PHONE)
    auth.confirm(code)
    response = client.get("/profile/2fa/confirm")
    assert response.status_code == 302
    assert response.headers["Location"] in ("/profile/2fa/enable", "/profile/2fa/phone")  # enter a number
    response = auth.post("/profile/2fa/confirm", {"code": code}, form_url="/profile")
    assert response.status_code == 302
    assert len(fake.checks) == 1


@pytest.mark.parametrize(("seconds", "expired"), [(9 * 60 + 50, False), (10 * 60 + 1, True), (3600, True)])
def test_pending_number_expires_after_ten_minutes(alice, app, auth, client, fake, monkeypatch, seconds, expired):
    auth.start_enrolment()
    code = fake.last_code(PHONE)
    monkeypatch.setattr(profile_phone, "time", ShiftedClock(seconds))
    if not expired:
        assert client.get("/profile/2fa/confirm").status_code == 200
        assert auth.confirm(code).status_code == 302
        assert phone_of(app) == PHONE
        return
    response = client.get("/profile/2fa/confirm")
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/enable"
    assert ENROLMENT_EXPIRED in text(client.get("/profile/2fa/enable"))
    response = auth.post("/profile/2fa/confirm", {"code": code}, form_url="/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/enable"
    assert fake.checks == []
    assert phone_of(app) is None


@pytest.mark.parametrize("url", ["/profile/2fa/confirm", "/profile/2fa/confirm/resend", "/profile/2fa/confirm/call"])
def test_confirm_without_a_pending_number_redirects_with_a_message(alice, auth, client, fake, url):
    if url.endswith("confirm"):
        response = client.get(url)
    else:
        response = auth.post(url, form_url="/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/enable"
    assert ENROLMENT_EXPIRED in text(client.get("/profile/2fa/enable"))
    assert fake.sends == []


@pytest.mark.parametrize(("button", "channel", "message"), [
    ("/profile/2fa/confirm/resend", "sms", "We sent a code by text message to your phone."),
    ("/profile/2fa/confirm/call", "call", "We are calling your phone now with your code."),
])
def test_resend_and_call_me_on_the_confirm_page(alice, app, auth, client, fake, button, channel, message):
    auth.start_enrolment()
    confirm_page = text(client.get("/profile/2fa/confirm"))
    assert "Resend code" in confirm_page and "Call me instead" in confirm_page
    assert f'action="{button}"' in confirm_page
    assert_resent(auth, button, "/profile/2fa/confirm", channel, message)
    assert auth.confirm().status_code == 302
    assert phone_of(app) == PHONE


@pytest.mark.parametrize("button", ["/profile/2fa/confirm/resend", "/profile/2fa/confirm/call"])
def test_resend_without_csrf_token_sends_nothing(alice, app, auth, client, fake, button):
    auth.start_enrolment()
    wait_out_cooldown(app)
    response = client.post(button)
    assert response.status_code == 400
    assert len(fake.sends) == 1


def test_resend_by_get_is_not_allowed(alice, auth, client, fake):
    auth.start_enrolment()
    assert client.get("/profile/2fa/confirm/call").status_code == 405
    assert len(fake.sends) == 1


# -- sudo mode and disabling ------------------------------------------------------------------

@pytest.fixture
def alice_with_2fa(alice, auth, app):
    """Logged in with 2FA on."""
    auth.start_enrolment()
    assert auth.confirm().status_code == 302
    assert phone_of(app) == PHONE


def let_sudo_expire(monkeypatch):
    monkeypatch.setattr(security, "time", ShiftedClock(11 * 60))


def test_enable_needs_a_recent_password(auth, client, fake, monkeypatch, alice):
    let_sudo_expire(monkeypatch)
    response = client.get("/profile/2fa/enable")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/reauthenticate?next=/profile/2fa/enable"
    response = auth.post(response.headers["Location"], {"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/enable"
    assert client.get("/profile/2fa/enable").status_code == 200
    assert fake.sends == []  # no 2FA yet: the password alone is enough


def test_disable_via_sudo_password_and_code(alice_with_2fa, app, auth, client, fake, monkeypatch):
    let_sudo_expire(monkeypatch)
    response = client.get("/profile/2fa/disable")
    assert response.status_code == 302
    reauth_url = response.headers["Location"]
    assert reauth_url == "/auth/reauthenticate?next=/profile/2fa/disable"

    sends_before = len(fake.sends)
    response = auth.post(reauth_url, {"password": PASSWORD})
    assert response.status_code == 302
    code_url = response.headers["Location"]
    assert code_url.startswith("/auth/reauthenticate/code")
    assert [(s["to"], s["channel"]) for s in fake.sends[sends_before:]] == [(PHONE, "sms")]

    response = auth.post(code_url, {"code": wrong(fake.last_code(PHONE))})
    assert response.status_code == 401 and "Incorrect code" in text(response)
    response = auth.post(code_url, {"code": fake.last_code(PHONE)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile/2fa/disable"

    page = client.get("/profile/2fa/disable")
    assert page.status_code == 200
    assert MASKED in text(page) and "7400123456" not in text(page)
    response = auth.post("/profile/2fa/disable", form_url="/profile/2fa/disable")
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert phone_of(app) is None
    profile = text(client.get("/profile"))
    assert "Enable 2FA" in profile and "Codes are sent to" not in profile


def test_disable_with_the_wrong_password_keeps_2fa(alice_with_2fa, app, auth, client, fake, monkeypatch):
    let_sudo_expire(monkeypatch)
    sends_before = len(fake.sends)
    url = "/auth/reauthenticate?next=/profile/2fa/disable"
    response = auth.post(url, {"password": "wrong password"})
    assert response.status_code == 401
    assert "That password is not correct." in text(response)
    assert len(fake.sends) == sends_before  # no code for a wrong password
    assert client.get("/profile/2fa/disable").status_code == 302
    assert phone_of(app) == PHONE


def test_disable_password_without_the_code_is_not_enough(alice_with_2fa, app, auth, client, monkeypatch):
    let_sudo_expire(monkeypatch)
    response = auth.post("/auth/reauthenticate?next=/profile/2fa/disable", {"password": PASSWORD})
    assert response.headers["Location"].startswith("/auth/reauthenticate/code")
    response = client.get("/profile/2fa/disable")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/reauthenticate")
    assert phone_of(app) == PHONE


def test_disable_post_without_sudo_changes_nothing(alice_with_2fa, app, auth, client, monkeypatch):
    let_sudo_expire(monkeypatch)
    response = auth.post("/profile/2fa/disable", form_url="/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/reauthenticate")
    assert phone_of(app) == PHONE


def test_disable_without_csrf_token_changes_nothing(alice_with_2fa, app, client):
    response = client.post("/profile/2fa/disable")
    assert response.status_code == 400
    assert phone_of(app) == PHONE


def reauthenticate_for(auth, fake, url):
    """Sudo for `url`: the password, then the code; returns where it leads."""
    response = auth.post(f"/auth/reauthenticate?next={url}", {"password": PASSWORD})
    response = auth.post(response.headers["Location"], {"code": fake.last_code(PHONE)})
    assert response.status_code == 302
    return response.headers["Location"]


def test_after_disable_login_needs_no_code(alice_with_2fa, app, auth, client, fake):
    assert reauthenticate_for(auth, fake, "/profile/2fa/disable") == "/profile/2fa/disable"
    assert auth.post("/profile/2fa/disable", form_url="/profile/2fa/disable").status_code == 302
    assert phone_of(app) is None
    auth.logout()
    sends_before = len(fake.sends)
    response = auth.login()
    assert response.headers["Location"] == "/profile"
    assert client.get("/profile").status_code == 200
    assert len(fake.sends) == sends_before
