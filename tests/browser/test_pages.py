"""Pages in a real browser: visible focus, the error summary, local times, the profile on a
phone, the error pages, and a screenshot of every page not met on the journeys.

Each `snap` also runs axe-core at 1280 and 375 px (see conftest.py).
"""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MOBILE
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.live]

# -- visible focus ------------------------------------------------------------------------------

# For the focused element: its outline, and the colour behind the outline (the ancestors'
# backgrounds composited from the page down; the outline sits outside the element, 2 px clear).
FOCUS_INDICATOR = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const rgba = value => {
    const parts = value.match(/[\\d.]+/g).map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
  });
  const luminance = c => {
    const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  };
  const layers = [];
  for (let node = el.parentElement; node; node = node.parentElement) layers.unshift(node);
  let behind = {r: 255, g: 255, b: 255, a: 1};
  for (const node of layers) behind = over(rgba(getComputedStyle(node).backgroundColor), behind);
  const style = getComputedStyle(el);
  const outline = over(rgba(style.outlineColor), behind);
  const [light, dark] = [luminance(outline), luminance(behind)].sort((x, y) => y - x);
  return {
    element: el.outerHTML.slice(0, 200),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    ratio: (light + 0.05) / (dark + 0.05),
  };
}"""


def focus_indicators_by_tab(page, limit=80):
    """Tabs through the whole page once, reading the focus indicator of each stop."""
    seen, stops = set(), []
    page.locator("body").focus()
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS_INDICATOR)
        if stop is None or stop["element"] in seen:
            break
        seen.add(stop["element"])
        stops.append(stop)
    return stops


def assert_focus_visible(stops):
    assert stops, "nothing took the focus"
    weak = [stop for stop in stops if stop["style"] in ("none", "hidden") or stop["width"] < 2 or stop["ratio"] < 3]
    assert weak == [], weak


def test_focus_is_visible_on_every_control(page, person_factory):
    person = person_factory(page)
    kinds = set()

    def check(where):
        stops = focus_indicators_by_tab(page)
        assert_focus_visible(stops)
        kinds.update(re.match(r"<(\w+)", stop["element"]).group(1) for stop in stops)
        kinds.update("navbar" for stop in stops if "nav-link" in stop["element"] or "navbar-brand" in stop["element"])
        return stops

    person.open("/auth/login")
    check("login, logged out")  # navbar links, inputs, a checkbox, a button, a link
    person.open("/auth/register")
    person.submit("Sign up", 400)
    summary = page.evaluate(FOCUS_INDICATOR)  # the error summary, focused on load
    assert "data-error-summary" in summary["element"]
    assert_focus_visible([summary])
    check("sign-up errors")  # links on the red summary
    person.sign_up()
    check("profile without 2FA")  # the navbar's Log out button, a primary button
    person.open("/profile/2fa/enable")
    person.confirm_password_to("turn on two-factor authentication (2FA)")
    check("phone number")  # a select
    person.open("/profile")
    person.enable_2fa()
    person.log_out()
    person.log_in()
    check("code")  # code field, remember checkbox, outline buttons
    person.enter_code(remember_browser=True)
    check("profile with 2FA")  # small danger buttons, outline buttons, links, Show more
    person.open("/no-such-page")
    check("404")
    assert {"a", "button", "input", "select", "navbar"} <= kinds, kinds


# -- the error summary --------------------------------------------------------------------------

def test_error_summary_takes_the_focus_and_leads_to_each_field(page, person_factory):
    person = person_factory(page)
    person.open("/auth/register")
    page.get_by_label("Username").fill("a")
    person.submit("Sign up", 400)
    expect(page).to_have_title("Error: Sign up")
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    expect(links).to_have_text([
        "Your username must be 3 to 32 characters.", "Enter a password.", "Type the password again."])
    person.snap("sign-up errors in a summary", field_errors=3)
    links.nth(1).click()
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    links.nth(0).click()
    expect(page.get_by_label("Username")).to_be_focused()
    expect(page.get_by_label("Username")).to_have_value("a")


def test_error_summary_without_javascript_comes_first_and_is_announced(new_context, person_factory):
    page = new_context(java_script_enabled=False).new_page()
    person = person_factory(page, scripts=False)
    person.open("/auth/login")
    person.submit("Log in", 400)
    expect(page).to_have_title("Error: Log in")
    main_first = page.locator("main .col-12 > *").first
    expect(main_first).to_have_attribute("role", "alert")
    expect(main_first).to_contain_text("There is a problem")
    expect(main_first.get_by_role("link")).to_have_text(["Enter your username.", "Enter your password."])
    expect(page.locator("[autofocus]")).to_have_count(0)
    person.snap("login errors without javascript", field_errors=2)


# -- times and the profile on a phone ------------------------------------------------------------

@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_event_times_are_utc_until_javascript_shows_them_locally(new_context, person_factory, scripts):
    context = new_context(java_script_enabled=scripts, timezone_id="America/New_York")
    person = person_factory(context.new_page(), scripts=scripts)
    person.sign_up()
    moment = person.page.locator("time[datetime]").first
    stamp = moment.get_attribute("datetime")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    shown = moment.inner_text()
    if scripts:
        assert "UTC" not in shown and re.search(r"GMT-[45]|E[SD]T", shown), shown
        assert moment.get_attribute("title").endswith(" UTC")
    else:
        assert shown.endswith(" UTC"), shown


@pytest.mark.app_settings(SEND_LIMIT_PER_ACCOUNT="100/minute", SEND_LIMIT_PER_NUMBER="100/minute",
                          SEND_LIMIT_PER_IP="100/minute")
def test_the_profile_on_a_phone_lists_ten_events_then_shows_more(page, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.enable_2fa()
    for _ in range(2):
        person.log_out()
        person.log_in()
        person.enter_code()
    assert page.viewport_size == MOBILE
    events = page.get_by_role("region", name="Recent security events")
    expect(events.get_by_role("table")).to_have_count(0)
    expect(events.get_by_role("listitem")).to_have_count(10)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2400, f"the profile is {height} px tall on a phone"
    with page.expect_navigation():
        events.get_by_role("link", name="Show more security events").click()
    expect(events.get_by_role("listitem")).not_to_have_count(10)
    assert events.get_by_role("listitem").count() > 10
    expect(events.get_by_role("link", name="Show more security events")).to_have_count(0)
    person.snap("more security events")


# -- every other page, and the error pages ------------------------------------------------------

def test_tour_of_the_remaining_pages(page, person_factory):
    person = person_factory(page)
    person.sign_up()
    person.open("/profile/password")
    person.at("/auth/reauthenticate", "^Confirm it's you$")
    page.get_by_label("Password").fill(PASSWORD)
    person.submit("Confirm", 200)
    person.at("/profile/password", "^Change your password$")
    person.snap("change password")
    person.submit("Change password", 400)
    person.snap("change password errors", field_errors=2)
    person.open("/profile")
    person.enable_2fa()
    person.open("/profile/recovery-codes/regenerate")
    person.at("/profile/recovery-codes/regenerate", "^Create new recovery codes$")
    person.snap("create new recovery codes")
    person.open("/profile/2fa/disable")
    person.at("/profile/2fa/disable", "^Disable two-factor authentication \\(2FA\\)$")
    expect(page.get_by_role("listitem").filter(has_text="your recovery codes (10 left)")).to_be_visible()
    person.snap("disable 2fa lists what goes")
    person.open("/profile/delete")
    person.at("/profile/delete", "^Delete your account$")
    person.snap("delete account")
    person.submit("Delete my account", 400)
    person.snap("delete account errors", field_errors=1)
    person.log_out()
    person.log_in()
    person.page.get_by_role("link", name="Use a recovery code").click()
    person.at("/auth/recovery", "^Use a recovery code$")
    person.snap("recovery code page")


@pytest.mark.app_settings(PROPAGATE_EXCEPTIONS=False)
def test_error_pages(page, person_factory, live_server, monkeypatch):
    person = person_factory(page)
    for path, status, heading in (
        ("/no-such-page", 404, "Page not found"),
        ("/auth/logout", 405, "This page can't be opened like that"),
    ):
        assert person.open(path).status == status
        person.at(path, f"^{re.escape(heading)}$")
        person.snap(f"{status} page")
    person.open("/auth/login")
    page.get_by_label("Username").evaluate("field => field.removeAttribute('maxlength')")  # as a crafted request
    page.get_by_label("Username").fill("a" * 70_000)
    person.submit("Log in", 413)
    expect(person.heading()).to_have_text("What you sent is too large")
    person.snap("413 page")

    # A button whose page is gone (its session and token with it) has no form to show again.
    person.sign_up()
    page.context.clear_cookies()
    person.submit("Log out", 400)
    expect(person.heading()).to_have_text("Your form expired")
    person.snap("expired form page")

    def store_down(*args, **kwargs):
        raise ConnectionError("session store unreachable")

    monkeypatch.setattr(live_server.app.session_interface, "open_session", store_down)
    assert person.open("/profile").status == 500
    expect(person.heading()).to_have_text("Something went wrong")
    person.snap("500 page")


@pytest.mark.app_settings(LOGIN_LIMIT_PER_IP="2/hour", LOGIN_LIMIT_PER_USERNAME="100/minute")
def test_too_many_logins_leave_the_form_usable(page, person_factory):
    person = person_factory(page)
    person.open("/auth/login")
    for status in (401, 401, 429):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        person.submit("Log in", status)
    expect(page).to_have_title("Error: Log in")
    expect(person.alert()).to_contain_text(re.compile(r"Too many attempts to log in\. Please try again in 6[01] minutes\."))
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_enabled()
    person.snap("too many logins")


@pytest.mark.app_settings(REAUTH_LIMIT_PER_USER="2/hour")
def test_too_many_attempts_elsewhere(page, person_factory):
    """Re-authentication has a budget of its own; past it, the 429 page."""
    person = person_factory(page)
    person.sign_up()
    person.open("/auth/reauthenticate")
    for status in (401, 401, 429):
        page.get_by_label("Password").fill("wrong password")
        person.submit("Confirm", status)
    expect(person.heading()).to_have_text("Too many attempts")
    expect(page.get_by_text(re.compile(r"Please try again in 6[01] minutes\."))).to_be_visible()
    person.snap("429 page")
