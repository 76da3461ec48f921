"""Each language in a real browser (issue "Languages", Tests): the login, code and profile pages
at 375 px (screenshots under test-artifacts/browser/<test>/<language>/), with the page checks
(labels, one h1, no sideways scroll) in every language, `dir="rtl"` in Arabic at 375 and
1280 px with Bootstrap's right-to-left stylesheet, and axe-core's rules in Arabic and in Spanish.
The person is found by the fields' names, not their words, so one walk serves every language."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, DESKTOP, MOBILE, check_axe, check_page, slug
from tests.conftest import PASSWORD, PHONE, AuthActions
from tests.support import NO_SEND_LIMITS, two_factor_user

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.app_settings(**NO_SEND_LIMITS)]

LANGUAGES = ["en", "es", "fr", "de", "pt-BR", "ar"]
AXE_CHECKED = {"es", "ar"}  # one left-to-right language and the right-to-left one


def submit(page, form):
    with page.expect_navigation():
        page.locator(f"{form} [type=submit]").first.click()


def look(page, folder, name, tag):
    """The page as a phone shows it (a screenshot), checked at both widths; Arabic also at 1280."""
    widths = [MOBILE, DESKTOP] if tag in AXE_CHECKED else [MOBILE]
    for size in reversed(widths):
        page.set_viewport_size(size)
        assert check_page(page) == 0, f"{tag} {name}"
        if tag in AXE_CHECKED:
            check_axe(page)
        if size == DESKTOP and tag == "ar":
            page.screenshot(path=str(folder / f"{name}-1280.png"), full_page=True)
    page.screenshot(path=str(folder / f"{name}-375.png"), full_page=True)


@pytest.fixture
def person(live_server, fake):
    """alice, with 2FA on by text message, logged out."""
    two_factor_user(AuthActions(live_server.app.test_client(), fake))
    return live_server


@pytest.mark.parametrize("tag", LANGUAGES)
def test_login_code_and_profile_pages_in_each_language(new_context, person, fake, request, tag):
    server = person
    folder = ARTIFACTS / slug(request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    context = new_context()  # (phone-sized, as every context here)
    context.add_cookies([{"name": "locale", "value": tag, "url": server.url}])
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    html = page.locator("html")
    rtl = tag == "ar"

    page.goto(server.url + "/auth/login")
    expect(html).to_have_attribute("lang", tag)
    expect(html).to_have_attribute("dir", "rtl" if rtl else "ltr")
    stylesheet = page.locator("link[rel=stylesheet]").first
    expect(stylesheet).to_have_attribute("href", re.compile(r"bootstrap\.rtl\.min\.css" if rtl else r"/bootstrap\.min\.css"))
    look(page, folder, "1-login", tag)

    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    submit(page, "form[action$='/auth/login']")
    expect(page).to_have_url(server.url + "/auth/verify")
    look(page, folder, "2-code", tag)

    page.fill("input[name=code]", fake.last_code(PHONE))
    submit(page, "form:has(input[name=code])")
    expect(page).to_have_url(server.url + "/profile")
    expect(html).to_have_attribute("lang", tag)
    look(page, folder, "3-profile", tag)
    if rtl:
        # Right to left: the menu's button sits left of its select, the page's text starts right.
        box = page.locator("#language-menu").bounding_box()
        button = page.locator("footer button").bounding_box()
        assert button["x"] < box["x"], "the footer is not laid out right to left"
    assert errors == []
    context.close()
