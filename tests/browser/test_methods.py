"""Authenticator apps in a real browser (issue 17): setting one up from its QR page, logging in with
its code, and the choice of another way at login. Each step (a `Person` method in conftest.py) is
screenshotted at 1280 and 375 px and checked by axe; the app's codes come from pyotp and the key
read off the setup page, and a second code from the app waits for the next 30-second step."""
import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.live]

APP_WHAT = "Authenticator app 'Tablet'"


def test_set_up_an_authenticator_app_then_log_in_with_its_code(page, person_factory, fake):
    person = person_factory(page)
    person.sign_up()
    person.set_up_authenticator("Tablet")  # the first way to log in: 2FA on, without a phone
    expect(page.get_by_role("link", name="Add your phone")).to_be_visible()
    person.log_out()
    person.log_in(app="Tablet")  # nothing sent
    expect(page.get_by_role("link", name="Use another way")).to_have_count(0)  # one way only
    person.enter_app_code("Tablet")
    expect(person.ways_to_log_in().get_by_role("listitem")).to_have_count(1)
    expect(person.ways_to_log_in().get_by_text(APP_WHAT, exact=True)).to_be_visible()
    assert fake.sends == [], "an authenticator app needs no text message"


def test_another_way_at_login_without_javascript(new_context, person_factory, sudo_clock, live_server):
    page = new_context(java_script_enabled=False).new_page()
    person = person_factory(page, scripts=False)
    person.sign_up()
    person.enable_2fa()
    # Turning 2FA on confirmed it's you for SUDO_MINUTES; past them, adding an app asks again.
    sudo_clock.advance(live_server.app.config["SUDO_MINUTES"] * 60 + 1)
    person.set_up_authenticator("Tablet", phone=PHONE)  # confirming it's you: password and a text
    person.log_out()
    person.log_in(app="Tablet")  # the app was used last
    person.use_another_way("Text message to your phone ending in 56", [
        APP_WHAT, "Text message to your phone ending in 56", "Call your phone ending in 56", "Recovery code"])
    expect(person.alert()).to_have_text("We sent a code by text message to your phone.")
    person.enter_code()
    person.remove_method(APP_WHAT)
    expect(person.ways_to_log_in().get_by_role("listitem")).to_have_count(1)


@pytest.mark.app_settings(REQUIRE_TWO_FACTOR=True)
def test_required_two_factor_leads_to_setting_one_up(new_context, person_factory):
    """REQUIRE_TWO_FACTOR=1, without JavaScript: after sign-up every page leads to "Set up
    two-factor authentication" until a way to log in is on; then the profile says it can't go."""
    page = new_context(java_script_enabled=False).new_page()
    person = person_factory(page, scripts=False)
    person.open("/auth/register")
    page.get_by_label("Username").fill(person.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    person.submit("Sign up", 200)
    person.at("/profile/2fa/required", "^Set up two-factor authentication$")
    expect(page.get_by_text("Your organisation requires two-factor authentication (2FA)")).to_be_visible()
    person.snap("2fa required")
    person.open("/profile/password")
    person.at("/profile/2fa/required", "^Set up two-factor authentication$")
    person.set_up_authenticator("Tablet")  # from the required page's own link
    expect(page.get_by_role("link", name="Disable 2FA")).to_have_count(0)
    expect(page.get_by_text("your last way to log in can't be removed")).to_be_visible()
    person.snap("2fa required and on")
