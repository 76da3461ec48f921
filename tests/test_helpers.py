"""Small shared helpers: masking numbers, safe `next`, parsing phones, countries, user agents."""
import pytest

from app.phones import InvalidPhone, default_country, parse_phone
from app.security import is_safe_next, mask_phone, short_user_agent
from tests.conftest import build_app, dispose_app, make_config


@pytest.fixture(scope="module")
def app(fake_server):
    """One app for the module: these helpers only read its settings (changed per test with monkeypatch)."""
    app = build_app(make_config(fake_server))
    yield app
    dispose_app(app)


# -- mask_phone -------------------------------------------------------------------------------

@pytest.mark.parametrize(("phone", "masked"), [
    ("+447400123456", "+44 ••• ••• •456"),
    ("+254722000222", "+254 ••• ••• 222"),
    ("+14155552671", "+1 ••• ••• •671"),
])
def test_mask_phone_keeps_country_and_last_three_digits(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(("phone", "masked"), [
    ("", ""),
    (None, ""),
    ("hello", "•••lo"),
    ("12", "•••12"),
    ("+999123456789", "•••89"),  # no such country code
    ("07400123456", "•••56"),  # national form: no country to parse it with
])
def test_mask_phone_garbage_shows_at_most_two_characters(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_phone_never_shows_the_middle_of_the_number():
    masked = mask_phone("+447400123456")
    assert "7400" not in masked and "123" not in masked


# -- is_safe_next -----------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/profile",
    "/profile?tab=1",
    "/profile/2fa/enable",
    "/a/b?c=d#e",
    "/search?q=a+b",
])
def test_is_safe_next_accepts_same_origin_paths(target):
    assert is_safe_next(target) is True


@pytest.mark.parametrize("target", [
    None,
    "",
    "profile",  # relative to the current path, not a path
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "http://evil.example",
    "https://evil.example/profile",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "/%09/evil.example",  # browsers drop the tab: //evil.example
    "/\t/evil.example",
    "/%2F/evil.example",  # decodes to //evil.example
    "/%5Cevil.example",  # decodes to /\evil.example
    "/\n/evil.example",
    " /profile",
    "/profile\x00",
    "/" + "a" * 2000,
    ["/profile"],
])
def test_is_safe_next_refuses_what_a_browser_could_follow_off_site(target):
    assert is_safe_next(target) is False


# -- parse_phone ------------------------------------------------------------------------------

@pytest.mark.parametrize(("number", "country", "e164"), [
    ("07400 123456", "GB", "+447400123456"),
    ("07400123456", "GB", "+447400123456"),
    ("+44 7400 123456", "GB", "+447400123456"),
    ("+44 7400 123456", "US", "+447400123456"),  # an international number ignores the country
    ("+447400123456", None, "+447400123456"),
    ("(0)7400-123-456", "GB", "+447400123456"),
    ("+1 415 555 2671", "US", "+14155552671"),  # fixed line or mobile: can be a mobile
    ("415 555 2671", "US", "+14155552671"),
    ("+254 722 000222", "KE", "+254722000222"),
])
def test_parse_phone_returns_e164(app, number, country, e164):
    with app.app_context():
        assert parse_phone(number, country) == e164


@pytest.mark.parametrize(("number", "country", "message"), [
    ("+44 909 879 0000", "GB", "Premium-rate numbers can't be used for 2FA."),
    ("+44 800 123 4567", "GB", "Toll-free numbers can't be used for 2FA."),
    ("0800 123 4567", "GB", "Toll-free numbers can't be used for 2FA."),
    ("+44 20 7946 0018", "GB", "This looks like a landline"),
    ("hello", "GB", "This doesn't look like a phone number."),
    ("", "GB", "This doesn't look like a phone number."),
    ("07400 123", "GB", "This phone number is not valid."),
    ("+44 7400 1234567890", "GB", "This phone number is not valid."),
    ("7400 123456", None, "This doesn't look like a phone number."),  # national, no country
    ("07400 123456", "US", "This phone number is not valid."),  # GB number read as a US one
])
def test_parse_phone_refuses(app, number, country, message):
    with app.app_context(), pytest.raises(InvalidPhone) as raised:
        parse_phone(number, country)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("number", "country", "allowed"), [
    ("+1 415 555 2671", "US", False),
    ("+254 722 000222", "KE", False),
    ("07400 123456", "GB", True),
    ("+353 85 123 4567", "GB", True),
])
def test_parse_phone_sms_allowed_countries(app, monkeypatch, number, country, allowed):
    monkeypatch.setitem(app.config, "SMS_ALLOWED_COUNTRIES", ["GB", "IE"])
    with app.app_context():
        if allowed:
            assert parse_phone(number, country).startswith(("+44", "+353"))
        else:
            with pytest.raises(InvalidPhone, match="We can't send codes to numbers in this country."):
                parse_phone(number, country)


# -- default_country --------------------------------------------------------------------------

@pytest.mark.parametrize(("accept_language", "country"), [
    ("en-GB,en;q=0.9", "GB"),
    ("en-gb", "GB"),
    ("fr-CA,fr;q=0.8,en;q=0.5", "CA"),
    ("pt-BR", "BR"),
    ("zh-Hans-CN", "CN"),
    ("de,en-IE;q=0.5", "IE"),  # the first language that names a country we serve
    ("de", "US"),  # no region: the configured default
    ("es-419", "US"),  # a region that is not a country
    ("", "US"),
    (None, "US"),
])
def test_default_country_from_accept_language(app, accept_language, country):
    headers = {"Accept-Language": accept_language} if accept_language is not None else {}
    with app.test_request_context(headers=headers):
        assert default_country() == country


def test_default_country_falls_back_to_the_configured_country(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_COUNTRY", "DE")
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert default_country() == "DE"


@pytest.mark.parametrize(("accept_language", "country"), [
    ("en-US", "GB"),  # US is not allowed, nor is the configured default: first allowed one
    ("en-IE", "IE"),
])
def test_default_country_only_offers_allowed_countries(app, monkeypatch, accept_language, country):
    monkeypatch.setitem(app.config, "SMS_ALLOWED_COUNTRIES", ["GB", "IE"])
    with app.test_request_context(headers={"Accept-Language": accept_language}):
        assert default_country() == country


# -- short_user_agent -------------------------------------------------------------------------

CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36")
EDGE_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0")
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Mobile Safari/537.36")


@pytest.mark.parametrize(("agent", "short"), [
    (CHROME_LINUX, "Chrome on Linux"),
    (EDGE_WINDOWS, "Edge on Windows"),
    (FIREFOX_MAC, "Firefox on macOS"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    (CHROME_ANDROID, "Chrome on Android"),
    ("Mozilla/5.0 (X11; Linux x86_64)", "Browser on Linux"),
    ("Firefox/125.0", "Firefox"),
    ("curl/8.5.0", "curl/8.5.0"),
    ("x" * 100, "x" * 60),
    ("", "Unknown"),
])
def test_short_user_agent(agent, short):
    assert short_user_agent(agent) == short


def test_short_user_agent_reads_the_request(app):
    with app.test_request_context(headers={"User-Agent": FIREFOX_MAC}):
        assert short_user_agent() == "Firefox on macOS"

