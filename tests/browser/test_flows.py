"""The 2FA lifecycle in a real browser (issue 12): the lost phone end to end, the enrolment order,
the resend countdown with and without JavaScript, the tries left and the locked page, confirming
it's you, and an expired form. Every step is screenshotted at 1280 and 375 px and checked by axe.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.live]

NEW_PHONE, NEW_NATIONAL, NEW_WHOLE = "+447400654321", "07400 654321", "+44 7400 654321"


def test_a_lost_phone_recovery_code_at_login_then_to_confirm_then_a_new_number(page, person_factory, fake):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    checks_before = len(fake.checks)

    person.log_in()
    person.log_in_with_recovery_code(person.recovery_codes[0])
    lost = page.get_by_role("status").filter(has_text="Lost your phone?")
    expect(lost).to_contain_text("You used a recovery code. Lost your phone? Change your number")
    expect(lost).to_contain_text("You have 9 recovery codes left.")
    person.snap("profile says lost your phone")

    lost.get_by_role("link", name="Change your number").click()
    person.confirm_its_me_with_a_recovery_code(person.recovery_codes[1], "change your phone number")
    person.at("/profile/2fa/phone", "^Change your phone number$")
    expect(person.alert()).to_have_text("You confirmed it's you with a recovery code. You have 8 left.")
    expect(page.get_by_text("Your codes now go to")).to_contain_text("+44 ••• ••• •456")
    expect(page.get_by_label("Country")).to_have_value("GB")
    person.snap("change phone without the old one")

    page.get_by_label("Phone number").fill(NEW_NATIONAL)
    person.submit("Send code", 200)
    person.at("/profile/2fa/confirm", "^Confirm your new number$")
    expect(page.get_by_text(f"We sent a code by text message to {NEW_WHOLE}.")).to_be_visible()
    person.snap("new number code sent")
    page.get_by_label("Verification code").fill(fake.last_code(NEW_PHONE))
    person.submit("Verify", 200)
    person.at_profile()
    expect(person.alert()).to_contain_text("Your phone number is changed")
    expect(page.get_by_text("Lost your phone?")).to_have_count(0)
    expect(page.get_by_text("+44 ••• ••• •321", exact=True)).to_be_visible()
    person.snap("new number on the profile")
    assert [check["to"] for check in fake.checks[checks_before:]] == [NEW_PHONE], "the lost phone was never needed"


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_enrolment_order_number_code_codes_then_on(new_context, person_factory, fake, scripts):
    context = new_context(java_script_enabled=scripts)
    if scripts:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    person = person_factory(page, scripts=scripts)
    person.sign_up()
    page.get_by_role("link", name="Enable 2FA").click()
    person.confirm_password_to("turn on two-factor authentication (2FA)")
    expect(page.get_by_text("Step 1 of 3")).to_be_visible()
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Phone number").fill("07400 123456")
    person.submit("Send code", 200)
    expect(page.get_by_text("Step 2 of 3")).to_be_visible()
    expect(page.get_by_text("We sent a code by text message to +44 7400 123456.")).to_be_visible()
    page.get_by_label("Verification code").fill(fake.last_code(PHONE))
    person.submit("Verify", 200)
    person.at("/profile/recovery-codes", "^Save your recovery codes$")
    expect(page.get_by_text("Step 3 of 3")).to_be_visible()
    expect(person.alert()).to_have_text("Your number is confirmed. One last step: save your recovery codes.")
    expect(page.get_by_text("Two-factor authentication is on")).to_have_count(0)

    # Leaving before saving: the profile links back to the codes.
    person.open("/profile")
    reminder = page.get_by_role("status").filter(has_text="You haven't confirmed that you saved")
    expect(reminder).to_be_visible()
    person.snap("profile reminds of the codes")
    reminder.get_by_role("link", name="See your recovery codes").click()
    person.at("/profile/recovery-codes", "^Save your recovery codes$")

    if scripts:
        codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem").all_inner_texts()
        page.get_by_role("button", name="Copy", exact=True).click()
        expect(page.get_by_role("status").filter(has_text="copied")).to_have_text(
            "The codes are copied. Paste them somewhere safe.")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert re.findall(r"\b[a-z2-9]{4}-[a-z2-9]{4}\b", copied) == [code.strip() for code in codes], copied
        page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
        page.get_by_role("button", name="Print", exact=True).click()
        assert page.evaluate("window.printed") == 1
        page.emulate_media(media="print")
        assert page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(el => getComputedStyle(el).visibility === 'visible' && el.getClientRects().length)
            .every(el => el.closest('[data-recovery-codes]'))""")  # only the codes are printed
        page.emulate_media(media="screen")
    person.save_recovery_codes(saved_message="Two-factor authentication is on.")
    person.at_profile()
    expect(page.get_by_text("You haven't confirmed that you saved")).to_have_count(0)
    person.snap("2fa on after saving the codes")


def test_the_countdown_holds_back_resend_then_lets_it_send(page, person_factory, fake):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    area = person.resend_area()
    expect(area).to_contain_text(re.compile(r"You can ask for a new code in (2\d|30) seconds\."))
    page.clock.fast_forward(10_000)
    expect(area).to_contain_text(re.compile(r"You can ask for a new code in (1\d|20) seconds\."))
    person.resend_code()
    assert page.url.endswith("/auth/verify")
    sends = len(fake.sends)
    page.reload()  # a reload of the code page sends nothing
    assert len(fake.sends) == sends


def test_without_javascript_the_wait_is_a_time_and_an_early_click_is_told_it(new_context, person_factory, fake):
    page = new_context(java_script_enabled=False).new_page()
    person = person_factory(page, scripts=False)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    person.resend_code()
    sends = len(fake.sends)
    page.reload()
    assert page.url.endswith("/auth/verify") and len(fake.sends) == sends


@pytest.mark.app_settings(CODE_FAILURES_BEFORE_LOCK=5)
def test_tries_left_then_the_locked_page(page, person_factory, fake):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    person.log_out()
    person.log_in()
    code = page.get_by_label("Verification code")
    wrong = f"{(int(fake.last_code(PHONE)) + 1) % 10**6:06d}"
    for expected in ("Incorrect code. Please try again.", "Incorrect code. Please try again.",
                     "Incorrect code. You have 2 tries left.", "Incorrect code. You have 1 try left."):
        code.fill(wrong)
        person.submit("Verify", 401)
        expect(code).to_have_accessible_description(expected)
    person.snap("one try left", field_errors=1)
    code.fill(wrong)
    person.submit("Verify", 429)  # the fifth wrong code in a row locks entering codes
    expect(person.heading()).to_have_text("Too many incorrect codes")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"entering codes on this account is locked for 15 minutes\. "
                                            r"You can try again after \d\d:\d\d UTC\."))
    expect(main.get_by_role("button")).to_have_count(0)
    expect(main.get_by_role("textbox")).to_have_count(0)
    expect(main).not_to_contain_text("valid for")
    person.snap("locked")


def test_confirming_it_is_you_says_why_and_can_be_cancelled(page, person_factory, sudo_clock, live_server):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    sudo_clock.advance(live_server.app.config["SUDO_MINUTES"] * 60 + 1)
    person.open("/profile")
    page.get_by_role("link", name="Disable 2FA").click()
    person.at("/auth/reauthenticate", "^Confirm it's you$")
    expect(page.get_by_text("You are confirming it's you to turn off two-factor authentication (2FA). "
                            "After that, you won't be asked again for 10 minutes.")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    person.submit("Confirm", 200)
    person.at("/auth/reauthenticate/code", "^Enter your code to confirm it's you$")
    expect(page.get_by_text("You are confirming it's you to turn off")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    person.at_profile()
    expect(page.get_by_text("+44 ••• ••• •456", exact=True)).to_be_visible()  # nothing changed


def test_an_expired_login_form_comes_back_filled_in_with_the_focus_on_the_problem(page, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.log_out()
    page.context.clear_cookies()  # the form's token is gone with its cookie
    page.get_by_label("Username").fill(person.username)
    page.get_by_label("Password").fill(PASSWORD)
    person.submit("Log in", 400)
    expect(page).to_have_title("Error: Log in")
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("This form had expired, so nothing was done. Please check it and send it again.")
    expect(page.get_by_label("Username")).to_have_value(person.username)
    expect(page.get_by_label("Password")).to_have_value("")
    person.snap("expired login form")
    page.get_by_label("Password").fill(PASSWORD)
    person.submit("Log in", 200)
    person.at_profile()
