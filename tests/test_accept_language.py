"""Security review row 6, "Accept-Language parsed whole": the app reads at most the first 256
characters and the first 12 entries of a browser's Accept-Language, for the country the phone
form preselects (phones.default_country) and for the language a code is sent in
(locales.request_locale). A language further on is ignored, so a long list costs nothing. (gunicorn's
limit on the number of header fields is tested in tests/abuse/test_accept_language_flood.py.)"""
import re

import pytest

from tests.conftest import page_text
from tests.support import NO_SEND_LIMITS

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

ENABLE = "/profile/2fa/enable"
JUNK = "x-aa;q=0.1, "  # a language of no country we serve, nor one Verify speaks
LONG_JUNK = JUNK * 30  # 360 characters, 30 entries
MANY_SHORT = ", ".join(f"x-{n:03d}" for n in range(12)) + ", "  # 12 entries in 84 characters


def selected_country(response):
    match = re.search(r'<option selected value="([A-Z]{2})"', page_text(response))
    return match and match.group(1)


@pytest.fixture
def phone_form(auth, client):
    """GET the phone form of a newly signed-up user with the browser's Accept-Language `header`
    (re-authenticating first when the page asks for it)."""
    assert auth.register("alice").status_code == 302

    def get(header):
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
        return auth.open_sudo_page(ENABLE)

    return get


def test_spanish_first_preselects_spain(phone_form):
    assert selected_country(phone_form("es-ES, " + LONG_JUNK)) == "ES"


@pytest.mark.parametrize("header", [LONG_JUNK + "es-ES", MANY_SHORT + "es-ES"],
                         ids=["after-256-characters", "thirteenth-entry"])
def test_a_language_past_the_limit_is_ignored(phone_form, header):
    country = selected_country(phone_form(header))
    assert country == "US", (
        f"the phone form preselects {country} from an Accept-Language whose only country, es-ES, comes "
        f"after {header.index('es-ES')} characters and {header.count(',')} entries (expected DEFAULT_COUNTRY, US)")


@pytest.mark.parametrize(("header", "locale"), [
    ("es-ES, " + LONG_JUNK, "es"),
    (LONG_JUNK + "es-ES", "en"),
    (MANY_SHORT + "es-ES", "en"),
], ids=["spanish-first", "after-256-characters", "thirteenth-entry"])
def test_the_code_is_sent_in_a_language_within_the_limit(auth, client, fake, header, locale):
    assert auth.register("alice").status_code == 302
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
    auth.open_sudo_page(ENABLE)
    assert auth.start_enrolment().status_code == 302
    sent = [send["locale"] for send in fake.sends]
    assert sent == [locale], f"the enrolment code was sent with Locale {sent} (expected {locale!r}: VERIFY_DEFAULT_LOCALE)"
