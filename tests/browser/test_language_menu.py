"""The language menu in the footer, in a real browser with and without JavaScript: a visitor's
choice (a cookie) and a logged-in person's (saved on the account), each back on the same page."""
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live]


def choose_language(person, language, button, path):
    """Pick `language` in the footer's menu and press its button: the same page comes back."""
    person.page.get_by_role("combobox", name=("Language", "Idioma")[button == "Cambiar idioma"]).select_option(
        label=language)
    person.submit(button, 200)
    expect(person.page).to_have_url(person.server.url + path)


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_the_language_menu_with_and_without_javascript(new_context, person_factory, live_server, scripts):
    page = new_context(java_script_enabled=scripts).new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    person = person_factory(page, scripts=scripts)
    html = page.locator("html")

    person.open("/auth/login")
    expect(html).to_have_attribute("lang", "en")  # the context's en-GB browser
    choose_language(person, "Español", "Change language", "/auth/login")
    expect(html).to_have_attribute("lang", "es")
    expect(html).to_have_attribute("dir", "ltr")
    expect(page.get_by_role("combobox", name="Idioma")).to_have_value("es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    person.snap("login page in spanish")
    choose_language(person, "English", "Cambiar idioma", "/auth/login")
    expect(html).to_have_attribute("lang", "en")

    person.sign_up()  # then, logged in, the choice is saved on the account
    choose_language(person, "Español", "Change language", "/profile")
    expect(html).to_have_attribute("lang", "es")
    with live_server.app.app_context():
        from app.models import User

        assert User.by_username(person.username).locale == "es"
    person.snap("profile in spanish")
    choose_language(person, "English", "Cambiar idioma", "/profile")
    expect(html).to_have_attribute("lang", "en")
    with live_server.app.app_context():
        assert User.by_username(person.username).locale == "en"
    # The menu's select draws its arrow from an image the CSP allows (no console error, as
    # Lighthouse counts them); and no page asked for a favicon that isn't there.
    assert console_errors == []
