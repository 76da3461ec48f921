"""The journeys in a real browser, 375 px wide, with and without JavaScript.

Every step (a `Person` method in conftest.py) saves a screenshot under test-artifacts/browser/ and
checks labels, the single h1, errors tied to fields and sideways scrolling. A new feature's
journey is a new Person method plus a test here that strings the steps together.
"""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_sign_up_enable_2fa_log_out_log_in_with_wrong_then_right_code(page, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    person.enter_wrong_code()
    person.enter_code()
    expect(person.alert()).to_have_text("You are logged in.")
    expect(page.get_by_text("Logged in (with a code)")).to_be_visible()


def test_resend_and_call_me_instead(page, person_factory, fake):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    person.resend_code()
    person.call_me_instead()
    person.enter_code()
    assert [s["channel"] for s in fake.sends] == ["sms", "sms", "sms", "call"]


def test_turn_2fa_off_asks_for_password_and_code(page, person_factory, sudo_clock, live_server):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    # The login's own confirmation lasts SUDO_MINUTES; after that, a sensitive change asks again.
    sudo_clock.advance(live_server.app.config["SUDO_MINUTES"] * 60 + 1)
    person.disable_2fa()
    person.log_out()
    person.log_in(expect_code=False)


def test_core_journey_without_javascript(new_context, person_factory):
    page = new_context(java_script_enabled=False).new_page()
    page.set_content("<title>before</title><script>document.title = 'scripts ran'</script>")
    assert page.title() == "before"  # page scripts are really off in this context
    person = person_factory(page, scripts=False)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    person.enter_wrong_code()
    person.enter_code()
    person.log_out()


def test_form_errors_are_tied_to_their_fields(page, person_factory):
    person = person_factory(page)
    person.open("/auth/register")
    page.get_by_label("Username").fill("a b")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD + "!")
    person.submit("Sign up", 400)
    expect(page.get_by_label("Username")).to_have_accessible_description(
        "3 to 32 characters: letters, digits, dots (.), dashes (-) and underscores (_). "
        "Your username can only have letters, digits, dots (.), dashes (-) and underscores (_).")
    expect(page.get_by_label("Repeat password")).to_have_accessible_description("The passwords don't match.")
    person.snap("sign up errors", field_errors=2)

    person.open("/auth/login")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill(PASSWORD)
    person.submit("Log in", 401)
    expect(person.alert()).to_have_text("There is a problem Invalid username or password.")
    person.snap("wrong password")

    person.sign_up()
    page.get_by_role("link", name="Enable 2FA").click()
    person.confirm_password_to("turn on two-factor authentication (2FA)")
    page.get_by_label("Phone number").fill("12")
    person.submit("Send code", 400)
    phone = page.get_by_label("Phone number")
    expect(phone).to_have_attribute("aria-invalid", "true")
    hint, error = page.locator("#phone-hint").inner_text(), page.locator("#phone-error").inner_text()
    assert error.strip()
    expect(phone).to_have_accessible_description(f"{hint} {error}".strip())
    person.snap("phone number error", field_errors=1)


def test_log_in_with_a_recovery_code_once(page, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.open("/profile/recovery-codes")  # shown once: after "I have saved my recovery codes" they are gone
    person.at_profile()
    expect(page.get_by_role("list", name="Recovery codes")).to_have_count(0)
    person.log_out()
    person.log_in()
    code = person.recovery_codes[0]
    person.log_in_with_recovery_code(code.upper().replace("-", " "))  # typed loosely, still accepted
    expect(person.alert()).to_have_text("You are logged in with a recovery code. You have 9 left.")
    expect(page.get_by_text("Logged in (with a recovery code)")).to_be_visible()
    two_factor = page.get_by_role("region", name="Two-factor authentication (2FA)")
    expect(two_factor.get_by_text("You have 9 recovery codes left.")).to_be_visible()
    person.log_out()
    person.log_in()
    person.log_in_with_recovery_code(code, accepted=False)
    # The refused code used up nothing: the text-message code still logs in, 9 codes are left.
    page.get_by_role("link", name="Use a code sent to your phone instead").click()
    person.at("/auth/verify", "code")
    person.enter_code()
    expect(page.get_by_text("You have 9 recovery codes left.")).to_be_visible()


def test_remember_this_browser_then_forget_it(page, new_context, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    person.enter_code(remember_browser=True)
    cookie = next(c for c in page.context.cookies() if c["name"] == "trusted_device")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
    assert 29 * 86400 < cookie["expires"] - time.time() <= 30 * 86400, cookie
    person.log_out()
    person.log_in(expect_code=False)  # this browser is remembered: no code asked, none sent
    remembered = page.get_by_role("region", name="Remembered browsers")
    expect(remembered.get_by_role("listitem")).to_have_count(1)
    expect(remembered.get_by_role("listitem")).to_contain_text("Chrome on Linux")
    expect(remembered.get_by_role("button", name=re.compile("^Forget this browser, Chrome on Linux, last used "))).to_be_visible()

    other = person_factory(new_context().new_page(), subfolder="other browser")
    other.log_in()  # another browser is still asked for the code
    other.enter_code()
    assert not [c for c in other.page.context.cookies() if c["name"] == "trusted_device"]

    person.open("/profile")
    expect(remembered.get_by_role("listitem")).to_have_count(1)  # the other browser was not remembered
    forget = remembered.get_by_role("button", name=re.compile("^Forget this browser, "))
    expect(forget).to_have_count(1)
    with page.expect_navigation():
        forget.click()
    expect(person.alert()).to_have_text("That browser will be asked for a code again.")
    expect(page.get_by_role("region", name="Remembered browsers")).to_have_count(0)
    person.snap("browser forgotten")
    person.log_out()
    assert [c for c in page.context.cookies() if c["name"] == "trusted_device"]  # the cookie stays, unheeded
    person.log_in()  # asked again
    person.enter_code()


def test_change_the_phone(page, person_factory, fake, sudo_clock, live_server):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    # Turning 2FA on confirmed it's you for SUDO_MINUTES; a phone change after that asks again.
    sudo_clock.advance(live_server.app.config["SUDO_MINUTES"] * 60 + 1)
    person.change_phone("07400 654321", "+447400654321", masked="+44 ••• ••• •321", whole="+44 7400 654321")
    person.log_out()
    person.log_in()
    assert fake.sends[-1]["to"] == "+447400654321"
    person.enter_code("+447400654321")
