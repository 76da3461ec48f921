"""The person's language: Locale on every send, from Accept-Language, matched against the
languages Verify supports; VERIFY_DEFAULT_LOCALE and VERIFY_CODE_LENGTH checked at start."""
import re

import pytest

from app import create_app
from app.locales import VERIFY_LOCALES, match_locale
from tests.conftest import PHONE, PHONE_NATIONAL, dispose_app, make_config
from tests.support import NO_SEND_LIMITS, start_with, text, wait_out_cooldown

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

SPANISH_BROWSER = "es-MX,es;q=0.9,en;q=0.5"


# -- the data -----------------------------------------------------------------------------------

def test_the_locale_table_is_well_formed():
    """Tags as Verify writes them (language, optionally an upper-case region), each once, each
    with a language name; tags of one language share the name's first word."""
    assert len(VERIFY_LOCALES) == 43
    tags = list(VERIFY_LOCALES)
    assert all(re.fullmatch(r"[a-z]{2,3}(-[A-Z]{2})?", tag) for tag in tags), tags
    assert len({tag.lower() for tag in tags}) == len(tags)
    assert all(name and name[0].isupper() for name in VERIFY_LOCALES.values())
    by_language = {}
    for tag, name in VERIFY_LOCALES.items():
        by_language.setdefault(tag.split("-")[0], set()).add(name.split()[0])
    assert all(len(names) == 1 for names in by_language.values()), by_language
    # Every regional tag has its language on its own too, so a browser's language alone matches.
    assert all(tag.split("-")[0] in VERIFY_LOCALES for tag in tags)


@pytest.mark.parametrize(("tag", "name"), [
    ("en", "English"), ("en-GB", "English (British)"), ("es", "Spanish"), ("pt-BR", "Portuguese (Brazil)"),
    ("zh-HK", "Chinese (Cantonese)"), ("nb", "Norwegian"), ("tl", "Tagalog"), ("uk", "Ukrainian"),
])
def test_entries_from_the_documentation(tag, name):
    assert VERIFY_LOCALES[tag] == name


# -- matching a browser's languages -------------------------------------------------------------

def accept(header):
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize(("header", "locale"), [
    ("es-MX,es;q=0.9,en;q=0.5", "es"),
    ("es-MX, en;q=0.5", "es"),  # the preferred language's own tag, not an exact match further down
    ("pt-BR,pt;q=0.9", "pt-BR"),
    ("pt-PT", "pt"),
    ("en-US,en;q=0.9", "en"),
    ("en-GB", "en-GB"),
    ("EN-gb", "en-GB"),
    ("en_GB", "en-GB"),
    ("zh-HK", "zh-HK"),
    ("zh-TW", "zh"),
    ("no", "nb"),
    ("nb-NO", "nb"),
    ("fil-PH", "tl"),
    ("xx-YY, de;q=0.1", "de"),
    ("fr;q=0, it;q=0.2", "it"),
    ("*", "en"),
    ("", "en"),
    ("tlh", "en"),  # Klingon: not one of Verify's
    ("!!, ;;", "en"),
])
def test_match_locale(header, locale):
    assert match_locale(accept(header), default="en") == locale


# -- through the pages --------------------------------------------------------------------------

def browser_language(auth, header):
    auth.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header


def sent_locales(fake):
    return [(send["channel"], send["locale"]) for send in fake.sends]


def test_a_browser_preferring_spanish_gets_the_sms_and_the_call_in_spanish(auth, fake):
    browser_language(auth, SPANISH_BROWSER)
    auth.signup_with_2fa()
    assert sent_locales(fake) == [("sms", "es")]  # enrolment
    assert auth.login().headers["Location"] == "/auth/verify"
    wait_out_cooldown(auth.client.application)
    assert auth.post("/auth/verify/call", form_url="/auth/verify").status_code == 302
    assert sent_locales(fake) == [("sms", "es"), ("sms", "es"), ("call", "es")]
    sends = [r["form"] for r in fake.requests if r["path"].endswith("/Verifications")]
    assert [form.get("Locale") for form in sends] == ["es", "es", "es"]
    assert auth.verify().headers["Location"] == "/profile"


def test_the_language_of_the_browser_that_asks_for_the_code(auth, fake):
    browser_language(auth, "de-DE,de;q=0.9")
    auth.signup_with_2fa()
    browser_language(auth, "pt-BR")
    auth.login()
    assert sent_locales(fake) == [("sms", "de"), ("sms", "pt-BR")]


def test_a_browser_without_a_language_verify_speaks_gets_the_default(auth, fake):
    browser_language(auth, "tlh, x-klingon")
    auth.register()
    auth.start_enrolment()
    assert sent_locales(fake) == [("sms", "en")]


@pytest.mark.app_settings(VERIFY_DEFAULT_LOCALE="fr")
def test_verify_default_locale_is_the_fallback(auth, fake):
    auth.register()
    auth.start_enrolment()
    browser_language(auth, "es")
    wait_out_cooldown(auth.client.application)
    auth.post("/profile/2fa/confirm/resend", form_url="/profile/2fa/confirm")
    assert sent_locales(fake) == [("sms", "fr"), ("sms", "es")]


@pytest.mark.app_settings(VERIFY_DEFAULT_LOCALE="auto")
def test_verify_default_locale_auto_leaves_the_language_to_verify(auth, fake):
    auth.register()
    auth.start_enrolment()
    assert sent_locales(fake) == [("sms", None)]
    assert "Locale" not in fake.requests[-1]["form"]


def test_a_locale_verify_refuses_is_retried_without_one(auth, fake, caplog):
    """Verify answers 404 to a Locale it doesn't support; its documentation says to send again
    without one. The code goes out, and the page says so."""
    fake.locales = set(VERIFY_LOCALES) - {"es"}
    browser_language(auth, "es")
    auth.register()
    response = auth.start_enrolment()
    assert response.headers.get("Location") == "/profile/2fa/confirm", text(response)
    assert sent_locales(fake) == [("sms", None)]
    assert [r["form"].get("Locale") for r in fake.requests] == ["es", None]
    assert "Enviamos un código por mensaje de texto (SMS)" in text(auth.client.get("/profile/2fa/confirm"))
    assert "refused locale=es" in caplog.text and PHONE not in caplog.text


def test_every_locale_in_the_table_is_sent_as_it_is(app, fake):
    from app.locales import request_locale
    from app.verification import verifier

    fake.locales = set(VERIFY_LOCALES)
    for number, tag in enumerate(VERIFY_LOCALES):
        with app.test_request_context(headers={"Accept-Language": tag.lower()}):
            assert request_locale() == tag
            verifier().send(f"+447400{number:06d}", "sms", locale=request_locale())
    assert [send["locale"] for send in fake.sends] == list(VERIFY_LOCALES)


# -- settings checked at start -------------------------------------------------------------------

@pytest.mark.parametrize("value", ["3", "11", "0", "six", "6.5", "", " ", "-6"])
def test_a_code_length_verify_does_not_allow_refuses_to_start(fake, value):
    with pytest.raises(SystemExit) as raised:
        create_app(make_config(fake, VERIFY_CODE_LENGTH=value))
    assert "VERIFY_CODE_LENGTH" in str(raised.value) and "4 to 10" in str(raised.value)


@pytest.mark.parametrize("value", ["4", "10", 6, " 8 "])
def test_code_lengths_verify_allows_start(fake, value):
    app = create_app(make_config(fake, VERIFY_CODE_LENGTH=value))
    try:
        assert app.config["VERIFY_CODE_LENGTH"] == int(str(value).strip())
    finally:
        dispose_app(app)


@pytest.mark.parametrize("value", ["xx", "english", "es_ES", "fr-FR"])
def test_a_default_locale_verify_does_not_know_refuses_to_start(fake, value):
    with pytest.raises(SystemExit) as raised:
        create_app(make_config(fake, VERIFY_DEFAULT_LOCALE=value))
    assert "VERIFY_DEFAULT_LOCALE" in str(raised.value)


@pytest.mark.parametrize("app_env", ["development", "production"])
@pytest.mark.parametrize("value", ["3", "11", "six"])
def test_the_process_exits_naming_verify_code_length(app_env, value, tmp_path):
    result = start_with(app_env, tmp_path, VERIFY_CODE_LENGTH=value)
    assert result.returncode != 0
    assert "VERIFY_CODE_LENGTH" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.app_settings(VERIFY_PROVIDER="console", VERIFY_CODE_LENGTH="8")
def test_an_eight_digit_code_logs_in(auth, caplog):
    """With VERIFY_CODE_LENGTH=8 the form asks for, and takes, eight digits (the console provider
    makes codes of that length, as a Verify service set to 8 would)."""
    def last_code():
        codes = re.findall(r"DEVELOPMENT CODE for .+ by \w+: (\d+)$", caplog.text, re.M)
        return codes[-1]

    caplog.set_level("INFO")
    auth.register()
    auth.start_enrolment(PHONE_NATIONAL)
    assert len(last_code()) == 8
    assert "The code is 8 digits." in text(auth.confirm(last_code()[:6]))
    assert auth.confirm(last_code()).status_code == 302
