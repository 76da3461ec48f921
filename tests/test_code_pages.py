"""Code pages say where the code went and what to do next (issue 12): the number, the channel, the
wait before another code, the tries left, a locked state that offers nothing it would refuse; and
re-authentication says what it is for, for how long, with a way out."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.auth.code_step import clock_time_after, locked_sentence, resend_sentence, wrong_code_message
from tests.conftest import PASSWORD, page_text
from tests.support import NO_SEND_LIMITS, text, two_factor_user, wait_out_cooldown, wrong_code

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

UNAVAILABLE = "The verification service is unavailable. Please try again shortly."


def plain(response):
    return " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())


def h1(response):
    return " ".join(re.search(r"<h1[^>]*>(.*?)</h1>", text(response), re.S).group(1).split())


def pending_login(auth):
    two_factor_user(auth)
    auth.logout()
    assert auth.login().headers["Location"] == "/auth/verify"


# -- where the code went ------------------------------------------------------------------------

def test_login_code_page_names_the_last_digits_and_the_channel(app, auth, client):
    pending_login(auth)
    page = plain(client.get("/auth/verify"))
    assert "We sent a code by text message to your phone number ending in 56. It is valid for 10 minutes." in page
    assert "+44 7400 123456" not in page and "the phone number on your account" not in page
    wait_out_cooldown(app)
    assert auth.post("/auth/verify/call", form_url="/auth/verify").headers["Location"] == "/auth/verify"
    assert "We sent a code by phone call to your phone number ending in 56." in plain(client.get("/auth/verify"))


def test_enrolment_code_page_shows_the_whole_number_just_typed(auth, client):
    auth.register()
    auth.start_enrolment("07400 123456", "GB")
    page = plain(client.get("/profile/2fa/confirm"))
    assert "We sent a code by text message to +44 7400 123456." in page
    assert "Step 2 of 3" in page
    assert "Wrong number? Use a different number" in page


def test_reauthentication_code_page_names_the_last_digits(auth, client):
    two_factor_user(auth)
    response = auth.post("/auth/reauthenticate?next=/profile/2fa/phone", {"password": PASSWORD})
    page = plain(client.get(response.headers["Location"]))
    assert "to your phone number ending in 56." in page


# -- the wait before another code -------------------------------------------------------------

def test_an_early_click_is_answered_in_the_words_the_page_uses(app, auth, client, fake):
    pending_login(auth)
    page = text(client.get("/auth/verify"))
    sentence = re.search(r"You can ask for a new code after \d\d:\d\d UTC\.", page).group(0)
    assert re.search(r'src="/static/countdown\.js\?v=[0-9a-f]+"', page)
    for button in ("/auth/verify/resend", "/auth/verify/call"):
        response = auth.post(button, form_url="/auth/verify")
        assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
        answer = text(client.get("/auth/verify"))
        assert f'<div class="alert alert-warning" role="alert">{sentence}</div>' in answer
    assert len(fake.sends) == 2  # enrolment and login: the early clicks sent nothing


def test_a_resend_twilio_refuses_ends_back_on_the_page(app, auth, client, fake):
    pending_login(auth)
    wait_out_cooldown(app)
    fake.inject("send", 503, code=20503)
    response = auth.post("/auth/verify/resend", form_url="/auth/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    assert UNAVAILABLE in text(client.get("/auth/verify"))


def test_waits_are_written_as_a_time_on_the_minute():
    now = datetime.now(timezone.utc)
    shown = clock_time_after(29)
    hours, minutes = map(int, re.search(r"(\d\d):(\d\d) UTC$", shown).groups())  # after midnight, a date comes first
    ready = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    if ready < now:
        ready += timedelta(days=1)
    assert now + timedelta(seconds=29) <= ready <= now + timedelta(seconds=29 + 60)
    assert resend_sentence(29) == f"You can ask for a new code after {shown}."
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}, \d\d:\d\d UTC", clock_time_after(2 * 86400))  # another day


@pytest.mark.parametrize(("seconds", "words"), [(45, "45 seconds"), (90, "90 seconds"), (91, "2 minutes"),
                                                (517, "9 minutes"), (15 * 60, "15 minutes")])
def test_long_waits_are_in_minutes(seconds, words):
    assert locked_sentence(seconds).startswith(
        f"For your security, entering codes on this account is locked for {words}. You can try again after ")


# -- tries left, and the locked state ------------------------------------------------------------

def test_tries_left_are_said_before_the_last_attempts(app, auth, client, fake):
    assert app.config["CODE_ATTEMPTS_PER_LOGIN"] == 5
    pending_login(auth)
    bad = wrong_code(fake)
    messages = []
    for _ in range(4):
        response = auth.post("/auth/verify", {"code": bad})
        assert response.status_code == 401
        messages.append(re.search(r'id="code-error"[^>]*>(.*?)</div>', page_text(response), re.S).group(1).strip())
    assert messages == ["Incorrect code. Please try again.", "Incorrect code. Please try again.",
                        "Incorrect code. You have 2 tries left.", "Incorrect code. You have 1 try left."]
    assert auth.post("/auth/verify", {"code": bad}).headers["Location"] == "/auth/login?notice=too-many-codes"


def test_wrong_code_message():
    assert [wrong_code_message(n) for n in (None, 4, 3, 2, 1)] == [
        "Incorrect code. Please try again."] * 3 + ["Incorrect code. You have 2 tries left.",
                                                   "Incorrect code. You have 1 try left."]


@pytest.mark.app_settings(CODE_FAILURES_BEFORE_LOCK=2)
def test_the_locked_page_offers_nothing_it_would_refuse(app, auth, client, fake):
    pending_login(auth)
    bad = wrong_code(fake)
    assert auth.post("/auth/verify", {"code": bad}).status_code == 401
    locked = auth.post("/auth/verify", {"code": bad})
    assert locked.status_code == 429
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    page = plain(locked)
    assert h1(locked) == "Too many incorrect codes"
    assert re.search(r"For your security, entering codes on this account is locked for 15 minutes\. "
                     r"You can try again after \d\d:\d\d UTC\.", page), page
    for absent in ("code step", "valid for", "Resend code", "Call me instead", "Verify", "Use a recovery code"):
        assert absent not in page, absent
    main = page_text(locked).split("<main", 1)[1].split("</main>", 1)[0]
    assert "<form" not in main and "<button" not in main and "countdown.js" not in main
    assert "Back to log in" in page


# -- confirming it's you ------------------------------------------------------------------------

@pytest.mark.parametrize(("next_url", "purpose"), [
    ("/profile/2fa/phone", "change your phone number"),
    ("/profile/2fa/disable", "turn off two-factor authentication (2FA)"),
    ("/profile/recovery-codes/regenerate", "create new recovery codes"),
    ("/profile/password", "change your password"),
    ("/profile/delete", "delete your account"),
    ("/profile", "change your security settings"),
    ("//evil.example/profile/password", "change your security settings"),
])
def test_reauthentication_says_what_it_is_for_and_for_how_long(auth, client, next_url, purpose):
    two_factor_user(auth)
    page = plain(client.get(f"/auth/reauthenticate?next={next_url}"))
    assert f"You are confirming it's you to {purpose}. After that, you won't be asked again for 10 minutes." in page
    assert '<a href="/profile">Cancel</a>' in text(client.get(f"/auth/reauthenticate?next={next_url}"))


@pytest.mark.app_settings(SUDO_MINUTES=5)
def test_each_step_of_reauthentication_has_its_own_heading_and_a_way_out(app, auth, client):
    two_factor_user(auth)
    steps = ["/auth/reauthenticate?next=/profile/2fa/phone"]
    response = auth.post(steps[0], {"password": PASSWORD})
    steps.append(response.headers["Location"])
    steps.append(steps[1].replace("/code?", "/recovery?"))
    headings = []
    for url in steps:
        response = client.get(url)
        assert response.status_code == 200
        headings.append(h1(response))
        assert "for 5 minutes" in plain(response)
        assert '<a href="/profile">Cancel</a>' in text(response)
    assert headings == ["Confirm it's you", "Enter your code to confirm it's you",
                        "Use a recovery code to confirm it's you"]


# -- changing the phone ---------------------------------------------------------------------------

def test_change_phone_shows_the_current_number_and_preselects_its_country(auth, client, fake):
    two_factor_user(auth, national="+1 415 555 2671", phone="+14155552671")
    response = auth.open_sudo_page("/profile/2fa/phone", phone="+14155552671")
    page = plain(response)
    assert "Your codes now go to +1 ••• ••• •671" in page
    assert re.search(r'<option selected value="US"', page_text(response))
    # The browser's language does not win over the number's own country.
    response = client.get("/profile/2fa/phone", headers={"Accept-Language": "en-GB"})
    assert re.search(r'<option selected value="US"', page_text(response))
    assert "You don't need your current phone for this." in plain(response)
