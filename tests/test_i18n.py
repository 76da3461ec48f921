"""The person's language (issue "Languages", parts 1, 3 and 4): which language a page is in (the
menu's choice, on the account or in a cookie; else Accept-Language among the complete catalogs;
else English), <html lang> and dir, the menu itself, the code's Verify Locale, the phone form's
country names, the catalogs, and that none of it costs a SQL statement or a second catalog load."""
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.locales import (
    TRANSLATIONS, complete_languages, language, offered_languages, request_locale, shipped_languages,
)
from app.models import User
from tests.conftest import PHONE_NATIONAL, build_app, csrf_token, dispose_app, make_config, page_text
from tests.support import NO_SEND_LIMITS, new_browser, production_config, text

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

COOKIE = "locale"
SPANISH_BROWSER = "es-MX,es;q=0.9,en;q=0.5"
EVERY_OTHER_LANGUAGE = [("ar", "", "العربية"), ("de", "", "Deutsch"), ("es", "", "Español"), ("fr", "", "Français"),
                        ("pt-BR", "", "Português (Brasil)")]
HTML_TAG = re.compile(r'<html lang="([^"]*)" dir="([^"]*)">')


def html_lang(response):
    match = HTML_TAG.search(page_text(response))
    assert match, page_text(response)[:300]
    return match.groups()


def speaks(client, header=None):
    if header is None:
        client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    else:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header


def choose(client, tag, next_url="/auth/login", form_url="/auth/login", token=None):
    """The language menu, as a person sends it from the page at `form_url`."""
    data = {"language": tag, "next": next_url, "csrf_token": token or csrf_token(client, form_url)}
    return client.post("/language", data=data)


def menu_options(response):
    return re.findall(r'<option value="([^"]+)" lang="[^"]+" dir="[^"]+"( selected)?>([^<]+)</option>',
                      page_text(response))


def saved_locale(app, username="alice"):
    with app.app_context():
        return db.session.scalar(sa.select(User.locale).where(User.username_key == username))


# -- which language: English, the browser's, the cookie's, the account's -------------------------

def test_english_by_default(client):
    response = client.get("/auth/login")
    assert html_lang(response) == ("en", "ltr")
    assert "<label for=\"language-menu\" class=\"visually-hidden\">Language</label>" in page_text(response)
    assert menu_options(response) == [("en", " selected", "English"), *EVERY_OTHER_LANGUAGE]


@pytest.mark.parametrize("header", [SPANISH_BROWSER, "es", "ES-es", "es_AR", "it;q=0.9, es;q=0.8", "xx, es-419"])
def test_a_browser_asking_for_spanish_gets_spanish(client, header):
    speaks(client, header)
    response = client.get("/auth/login")
    assert html_lang(response) == ("es", "ltr")
    assert ("es", " selected", "Español") in menu_options(response)
    assert ">Idioma</label>" in page_text(response) and ">Cambiar idioma</button>" in page_text(response)
    assert "Accept-Language" in response.headers["Vary"] and "Cookie" in response.headers["Vary"]


def test_words_not_translated_yet_stay_english(client, monkeypatch):
    """A catalog missing a word (a release with a new sentence not yet translated) shows that
    word in English: nothing is missing or garbled."""
    from app import i18n

    speaks(client, SPANISH_BROWSER)
    assert "Remember me" not in text(client.get("/auth/login"))
    spanish = i18n.catalog("es")
    missing = spanish.__class__()
    missing._catalog = {key: value for key, value in spanish._catalog.items() if key != "Remember me"}
    missing.plural = spanish.plural
    monkeypatch.setitem(i18n._CATALOGS, "es", missing)
    page = text(client.get("/auth/login"))
    assert "Remember me" in page and "Idioma" in page and "<h1 class=\"h3 mb-3\">Log in</h1>" not in page


@pytest.mark.parametrize("header", ["it-IT,it;q=0.9", "tlh", "*", "", "es;q=0, en;q=0.5", "!!, ;;"])
def test_a_language_without_a_catalog_gets_english(client, header):
    speaks(client, header)
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")


JUNK = "x-aa;q=0.1, "


@pytest.mark.parametrize("header", [JUNK * 30 + "es", ", ".join(f"x-{n:03d}" for n in range(12)) + ", es"],
                         ids=["after-256-characters", "thirteenth-entry"])
def test_accept_language_is_read_within_its_safety_cap(client, header):
    """The same cap as for the country and the code's language: 256 characters, 12 entries."""
    speaks(client, header)
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")
    speaks(client, "es, " + JUNK * 30)
    assert html_lang(client.get("/auth/login")) == ("es", "ltr")


def test_the_menu_keeps_a_visitors_choice_in_a_cookie(app, client, statements):
    speaks(client, "en-GB,en;q=0.9")
    token = csrf_token(client)
    statements.clear()
    response = choose(client, "es", next_url="/auth/register?from=menu", token=token)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/register?from=menu"
    assert statements == [], "a visitor's choice writes nothing on the server"
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert len(cookie) == 1 and cookie[0].startswith(f"{COOKIE}=es;")
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie[0].split(";")[1:]}
    assert {"max-age", "path", "httponly", "samesite"} <= set(attributes)
    assert "Max-Age=31536000" in attributes["max-age"] and "Lax" in attributes["samesite"]
    assert html_lang(client.get("/auth/register")) == ("es", "ltr")
    # The choice beats the browser's language, both ways.
    choose(client, "en")
    speaks(client, SPANISH_BROWSER)
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")


@pytest.mark.parametrize("value", ["xx", "it", "es-ES-x-" + "a" * 40, "", "../es"])
def test_a_cookie_naming_no_offered_language_is_ignored(client, value):
    client.set_cookie(COOKIE, value)
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")


@pytest.mark.parametrize("value", ["xx", "it", "", "es" * 20])
def test_the_menu_refuses_a_language_it_does_not_offer(client, value):
    response = choose(client, value)
    assert response.status_code == 400
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]


def test_the_menu_refuses_a_form_without_its_token(client):
    client.get("/auth/login")
    response = client.post("/language", data={"language": "es", "next": "/auth/login"})
    assert response.status_code == 400
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")


def test_the_menu_is_post_only(client):
    assert client.get("/language?language=es").status_code == 405


@pytest.mark.parametrize("next_url", ["//evil.example/", "https://evil.example/", "/\\evil", "", "javascript:alert(1)"])
def test_the_menu_goes_back_only_to_a_page_of_this_site(client, next_url):
    response = choose(client, "es", next_url=next_url)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_menu_says_where_to_come_back_to(auth, client):
    auth.register()
    html = page_text(client.get("/profile?events=more"))
    assert '<input name="next" type="hidden" value="/profile?events=more">' in html
    assert '<form method="post" action="/language"' in html


def test_a_choice_while_logged_in_is_saved_on_the_account(app, auth, client, fake):
    auth.register()
    assert saved_locale(app) is None
    response = choose(client, "es", next_url="/profile", form_url="/profile")
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert saved_locale(app) == "es"
    assert html_lang(client.get("/profile")) == ("es", "ltr")
    # Another browser, English and without the cookie: the account's language once logged in.
    other = new_browser(app, fake)
    speaks(other.client, "en-US")
    assert html_lang(other.client.get("/auth/login")) == ("en", "ltr")
    assert other.login().status_code == 302
    assert html_lang(other.client.get("/profile")) == ("es", "ltr")
    # The account's choice beats a cookie left by an earlier visitor's choice in that browser.
    other.client.set_cookie(COOKIE, "en")
    assert html_lang(other.client.get("/profile")) == ("es", "ltr")
    # Logged out, the browser's own cookie and language are back.
    other.logout()
    assert html_lang(other.client.get("/auth/login")) == ("en", "ltr")


def test_english_chosen_on_the_account_beats_a_spanish_browser(app, auth, client):
    speaks(client, SPANISH_BROWSER)
    auth.register()
    assert html_lang(client.get("/profile")) == ("es", "ltr")
    choose(client, "en", next_url="/profile", form_url="/profile")
    assert saved_locale(app) == "en"
    client.delete_cookie(COOKIE)
    assert html_lang(client.get("/profile")) == ("en", "ltr")


def test_error_pages_follow_the_cookie_and_the_browser(client):
    speaks(client, SPANISH_BROWSER)
    response = client.get("/no-such-page")
    assert response.status_code == 404 and html_lang(response) == ("es", "ltr")
    assert 'name="description" content="Tu cuenta' in page_text(response)
    client.set_cookie(COOKIE, "en")
    assert html_lang(client.get("/no-such-page")) == ("en", "ltr")


def test_production_keeps_the_choice_in_a_host_only_secure_cookie(fake):
    app = build_app(production_config(fake))
    try:
        client = app.test_client()
        base = "https://localhost"
        page = page_text(client.get("/auth/login", base_url=base))
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/language", base_url=base, headers={"Referer": base + "/auth/login"},
                               data={"language": "es", "next": "/auth/login", "csrf_token": token})
        assert response.status_code == 302
        cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-locale=")]
        assert cookie and "Secure" in cookie[0] and "Path=/" in cookie[0] and "Domain" not in cookie[0]
        assert html_lang(client.get("/auth/login", base_url=base)) == ("es", "ltr")
    finally:
        dispose_app(app)


# -- the languages offered: LANGUAGES, catalogs, completeness -------------------------------------

def test_the_shipped_languages_are_english_and_each_catalog():
    assert shipped_languages() == ("en", "ar", "de", "es", "fr", "pt-BR")
    assert offered_languages("") == ("en", "ar", "de", "es", "fr", "pt-BR")
    assert offered_languages("es") == ("en", "es")
    assert offered_languages(" EN , ES ") == ("en", "es")


@pytest.mark.parametrize("value", ["it", "es,xx", "english"])
def test_languages_without_a_catalog_refuse_to_start(fake, value):
    with pytest.raises(SystemExit) as raised:
        build_app(make_config(fake, LANGUAGES=value))
    assert "LANGUAGES" in str(raised.value)


@pytest.mark.app_settings(LANGUAGES="en")
def test_languages_en_offers_english_only(client):
    speaks(client, SPANISH_BROWSER)
    response = client.get("/auth/login")
    assert html_lang(response) == ("en", "ltr")
    assert menu_options(response) == [("en", " selected", "English")]
    client.set_cookie(COOKIE, "es")
    assert html_lang(client.get("/auth/login")) == ("en", "ltr")


def test_a_catalog_with_words_left_to_translate_is_offered_but_never_guessed(tmp_path):
    """Accept-Language alone picks only complete catalogs, so nobody gets a page half in another
    language without asking; the menu still offers it (its missing words show in English)."""
    translations = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, translations)
    italian = translations / "it" / "LC_MESSAGES"
    italian.mkdir(parents=True)
    po = (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").read_text()
    po = po.replace('msgstr "Idioma"', 'msgstr "Lingua"').replace('msgstr "Cambiar idioma"', 'msgstr ""')
    (italian / "messages.po").write_text(po.replace("Language: es", "Language: it"))
    everything = ("en", "ar", "de", "es", "fr", "pt-BR")
    assert shipped_languages(translations) == (*everything[:5], "it", "pt-BR")
    assert offered_languages("", translations) == (*everything[:5], "it", "pt-BR")
    assert complete_languages(translations) == everything


def test_directions_and_names_come_from_babel():
    assert (language("es").tag, language("es").name, language("es").dir) == ("es", "Español", "ltr")
    assert (language("pt_BR").tag, language("pt-BR").name) == ("pt-BR", "Português (Brasil)")
    assert language("ar").dir == "rtl" and language("he").dir == "rtl" and language("fa").dir == "rtl"
    with pytest.raises(ValueError):
        language("xx-not-a-language")


def test_each_catalog_is_compiled_from_its_current_po():
    """The .mo files are committed (any checkout or deploy serves them as they are): each must
    say what its .po says. After editing a .po: make translations-compile."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    catalogs = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert catalogs, "no catalog under app/translations"
    for po_file in catalogs:
        mo_file = po_file.with_suffix(".mo")
        assert mo_file.is_file(), f"{mo_file} is missing: run make translations-compile"
        with po_file.open("rb") as po, mo_file.open("rb") as mo:
            def entries(messages):
                return {m.id if isinstance(m.id, str) else tuple(m.id): m.string if isinstance(m.string, str)
                        else tuple(m.string) for m in messages if m.id and m.string and not m.fuzzy}
            wanted, compiled = entries(read_po(po)), entries(read_mo(mo))
        assert compiled == wanted, f"{mo_file} is older than its .po: run make translations-compile"


def test_every_word_in_the_catalogs_is_in_the_template():
    """messages.pot lists what the code asks to translate; every catalog is updated from it."""
    from babel.messages.pofile import read_po

    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        template = {m.id for m in read_po(file) if m.id}
    assert {"Language", "Change language"} <= template
    for po_file in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with po_file.open("rb") as file:
            live = {m.id for m in read_po(file) if m.id}
        assert live == template, f"{po_file}: run make translations-update"


def test_a_catalog_is_loaded_once_per_process(app, client, monkeypatch):
    """The app's catalog for each language, and WTForms' for its built-in words, each read from
    disk once per process: never per request."""
    from babel import support

    from app import i18n

    i18n._CATALOGS.clear()
    i18n._WTFORMS.clear()
    i18n._menu_parts.cache_clear()
    loads = []
    original = support.Translations.load.__func__

    def counting_load(cls, *args, **kwargs):
        loads.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(support.Translations, "load", classmethod(counting_load))
    for header in (SPANISH_BROWSER, "en", SPANISH_BROWSER, "es", "en-GB"):
        speaks(client, header)
        client.get("/auth/login")
    assert sorted(f"{Path(args[0]).name}:{args[1][0]}" for args in loads) == [
        "locale:es", "translations:en", "translations:es"], loads


def render(app, source, language="es", autoescape=True):
    with app.test_request_context("/", headers={"Accept-Language": language}):
        return app.jinja_env.from_string(
            source if autoescape else f"{{% autoescape false %}}{source}{{% endautoescape %}}").render()


def test_template_words_are_translated_and_formatted_as_jinjas_newstyle_gettext(app):
    """The templates' _, ngettext and pgettext (app/i18n.py) answer as Jinja's own newstyle ones:
    the page's language; values escaped in HTML and left alone in text (the .txt mails); always a
    format string, so "%%" is "%" with or without values."""
    assert render(app, '{{ _("Log in") }}') == "Iniciar sesión"
    assert render(app, '{{ _("Log in") }}', language="en") == "Log in"
    assert render(app, '{{ pgettext("two-factor authentication is", "On") }}') == "Activada"
    assert render(app, '{{ _("Hello %(name)s", name="<b>") }}') == "Hello &lt;b&gt;"
    assert render(app, '{{ _("Hello %(name)s", name="<b>") }}', autoescape=False) == "Hello <b>"
    assert render(app, '{{ _("100%% sure") }}') == "100% sure"
    assert render(app, '{{ _("a <i>word</i>") }}') == "a <i>word</i>"  # the catalog's markup is the page's
    tries = '"Incorrect code. You have %(num)d try left.", "Incorrect code. You have %(num)d tries left."'
    assert render(app, f'{{{{ ngettext({tries}, 1) }}}}') == "Código incorrecto. Te queda 1 intento."
    assert render(app, f'{{{{ ngettext({tries}, 3) }}}}') == "Código incorrecto. Te quedan 3 intentos."
    assert render(app, '{{ ngettext("%(num)s day", "%(num)s days", 3, num="<3>") }}') == "&lt;3&gt; days"
    assert render(app, '{% trans who="<i>" %}Hello {{ who }}{% endtrans %}') == "Hello &lt;i&gt;"


def test_a_scripts_words_are_attributes_in_the_pages_language(app, client):
    html = page_text(client.get("/auth/login", headers={"Accept-Language": "es"}))
    found = dict(re.findall(r'data-passkey-(waiting|cancelled|exists|bad-address|failed)="([^"]*)"', html))
    assert set(found) == {"waiting", "cancelled", "exists", "bad-address", "failed"}
    assert found["waiting"] == "Esperando tu llave de acceso o llave de seguridad…"
    assert found["bad-address"].startswith("Las llaves de acceso no funcionan")


# -- nothing slower: no statement added ----------------------------------------------------------

def test_an_anonymous_page_in_any_language_runs_no_statement(client, statements):
    for header, cookie in ((SPANISH_BROWSER, None), ("en", "es"), (None, None)):
        speaks(client, header)
        if cookie:
            client.set_cookie(COOKIE, cookie)
        statements.clear()
        response = client.get("/auth/login")
        assert response.status_code == 200
        assert statements == [], statements


def test_a_logged_in_page_in_a_chosen_language_runs_no_more_statements(app, auth, client, statements):
    auth.register()
    client.get("/profile")
    statements.clear()
    assert client.get("/profile").status_code == 200
    before = len(statements)
    choose(client, "es", next_url="/profile", form_url="/profile")
    client.get("/profile")
    statements.clear()
    response = client.get("/profile")
    assert html_lang(response) == ("es", "ltr")
    assert len(statements) == before <= 3, statements


# -- the code's language (Twilio Verify's Locale) --------------------------------------------------

def sent_locales(fake):
    return [send["locale"] for send in fake.sends]


def test_the_code_follows_the_language_chosen_in_the_menu(auth, client, fake):
    speaks(client, "de-DE,de;q=0.9")
    choose(client, "es")
    auth.register()
    assert auth.start_enrolment().status_code == 302
    assert sent_locales(fake) == ["es"], "the menu's Spanish beats the browser's German"


def test_the_login_code_follows_the_account_in_a_new_browser(app, auth, client, fake):
    auth.register()
    choose(client, "es", next_url="/profile", form_url="/profile")
    auth.start_enrolment()
    auth.confirm()
    auth.logout()
    other = new_browser(app, fake)
    speaks(other.client, "de-DE")
    assert other.login().headers["Location"] == "/auth/verify"
    assert sent_locales(fake) == ["es", "es"]


def test_a_chosen_language_takes_the_browsers_region(auth, client, fake):
    """English chosen, an en-GB browser: Verify's British English."""
    speaks(client, "en-GB,en;q=0.9")
    choose(client, "en")
    auth.register()
    auth.start_enrolment()
    assert sent_locales(fake) == ["en-GB"]


def test_without_a_choice_the_code_follows_the_browser_as_before(auth, client, fake):
    speaks(client, "pt-BR")
    auth.register()
    auth.start_enrolment()
    assert sent_locales(fake) == ["pt-BR"]


def test_request_locale_order(app):
    """Chosen (if Verify speaks it), else the browser's, else VERIFY_DEFAULT_LOCALE."""
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert request_locale(SimpleNamespace(locale="es")) == "es"
        assert request_locale(SimpleNamespace(locale="tlh")) == "de"  # a language Verify doesn't speak
        assert request_locale(SimpleNamespace(locale=None)) == "de"
        assert request_locale() == "de"
    with app.test_request_context(headers={"Accept-Language": "tlh"}):
        assert request_locale(SimpleNamespace(locale="xx")) == "en"
    with app.app_context():
        assert request_locale(SimpleNamespace(locale="es")) == "es"
        assert request_locale() == "en"


# -- the phone form's countries: Babel's names in the page's language, sorted by collation --------

def countries(response):
    return re.findall(r'<option(?: selected)? value="([A-Z]{2})">([^<]+)</option>', page_text(response))


@pytest.fixture
def phone_form(auth, client):
    auth.register()

    def get():
        return auth.open_sudo_page("/profile/2fa/enable")

    return get


def test_the_country_list_is_in_spanish_for_a_spanish_page(client, phone_form):
    choose(client, "es", next_url="/profile", form_url="/profile")
    names = dict(countries(phone_form()))
    assert names["DE"] == "Alemania (+49)" and names["GB"] == "Reino Unido (+44)"
    assert names["US"] == "Estados Unidos (+1)" and names["CI"] == "Côte d’Ivoire (+225)"


def test_the_country_list_is_in_english_for_an_english_page(client, phone_form):
    names = dict(countries(phone_form()))
    assert names["DE"] == "Germany (+49)" and names["GB"] == "United Kingdom (+44)"


def order_of(names, *wanted):
    listed = [name.rsplit(" (+", 1)[0] for name in names]
    return [listed.index(name) for name in wanted]


def test_countries_are_sorted_by_the_languages_collation_not_by_code_points(client, phone_form):
    """Accented initials sort with their letter (Åland beside Albania), not after Z; case and
    accents only break ties."""
    english = [name for _, name in countries(phone_form())]
    first, second, third = order_of(english, "Afghanistan", "Åland Islands", "Albania")
    assert first < second < third
    first, second, third = order_of(english, "Costa Rica", "Côte d’Ivoire", "Croatia")
    assert first < second < third
    assert english[-1].startswith("Zimbabwe")
    choose(client, "es", next_url="/profile", form_url="/profile")
    spanish = [name for _, name in countries(phone_form())]
    first, second, third = order_of(spanish, "Costa Rica", "Côte d’Ivoire", "Croacia")
    assert first < second < third
    first, second = order_of(spanish, "Albania", "Alemania")
    assert first < second
    assert len(spanish) == len(english) == len(set(spanish))


def test_every_region_phonenumbers_knows_is_named_in_every_shipped_language():
    import phonenumbers

    for tag in shipped_languages():
        territories = language(tag).locale.territories
        missing = [region for region in phonenumbers.SUPPORTED_REGIONS if not territories.get(region)]
        assert missing == [], (tag, missing)


@pytest.mark.app_settings(SMS_ALLOWED_COUNTRIES=["ES", "DE", "GB"])
def test_allowed_countries_in_the_pages_language(client, phone_form):
    choose(client, "es", next_url="/profile", form_url="/profile")
    assert [name for _, name in countries(phone_form())] == ["Alemania (+49)", "España (+34)", "Reino Unido (+44)"]


def test_the_phone_form_still_sends_in_spanish(auth, client, fake):
    choose(client, "es")
    auth.register()
    assert auth.start_enrolment(PHONE_NATIONAL, "GB").status_code == 302
    assert auth.confirm().status_code == 302
    assert sent_locales(fake) == ["es"]


def test_the_right_to_left_stylesheet_is_the_same_bootstrap_as_the_left_to_right_one(app):
    """Bootstrap's RTL build is vendored (Bootstrap-Flask ships the LTR one only): after upgrading
    Bootstrap-Flask, fetch the same version's dist/css/bootstrap.rtl.min.css."""
    version = re.compile(rb"Bootstrap\s+v(\d+\.\d+\.\d+)")
    ltr = Path(app.blueprints["bootstrap"].static_folder, "css", "bootstrap.min.css").read_bytes()[:300]
    rtl = Path(app.static_folder, "vendor", "bootstrap", "bootstrap.rtl.min.css").read_bytes()[:300]
    assert version.search(ltr) and version.search(ltr).group(1) == version.search(rtl).group(1)


@pytest.mark.parametrize("tag, stylesheet", [("en", "/bootstrap/static/css/bootstrap.min.css"),
                                              ("ar", "/static/vendor/bootstrap/bootstrap.rtl.min.css")])
def test_a_right_to_left_page_gets_the_right_to_left_stylesheet(client, tag, stylesheet, monkeypatch):
    from app import locales

    monkeypatch.setattr(locales, "chosen_language", lambda account=True: tag)
    page = page_text(client.get("/auth/login"))
    assert html_lang(client.get("/auth/login"))[1] == ("rtl" if tag == "ar" else "ltr")
    assert f'href="{stylesheet}?v=' in page and len(re.findall(r'rel="stylesheet" href="[^"]*bootstrap', page)) == 1


# -- security events: stored in English, shown in the page's language --------------------------

def stored_details():
    """A detail of each shape app/ stores, made by the code that stores it where it can be called."""
    from app.auth.recovery_step import used_event
    from app.codes import EVENT_CHANNEL_WORDS

    sent = [f"by {words} to +44 ••• ••• •789" for words in EVENT_CHANNEL_WORDS.values()]
    return [*sent, used_event(3)[1], used_event(1, "to confirm it's you")[1], "on a remembered browser",
            "to a•••@e•••.test", "with a passkey ('Laptop'), without a password", "Phone +44 ••• ••• •789, by an operator",
            "Passkey 'Laptop': signature count 4, after 9", "Chrome on Windows, 203.0.113.7",
            "Unknown browser, an unknown network", "Unknown, 2001:db8::/64", "Passkey 'Laptop', by an operator"]


SPANISH_DETAILS = [
    "por SMS a +44 ••• ••• •789", "por llamada a +44 ••• ••• •789", "por WhatsApp a +44 ••• ••• •789",
    "quedan 3", "al confirmar que eres tú, queda 1", "en un navegador recordado", "a a•••@e•••.test",
    "con una llave de acceso («Laptop»), sin contraseña", "Teléfono +44 ••• ••• •789, por un operador",
    "Llave de acceso «Laptop»: contador de firmas 4, después de 9", "Chrome en Windows, 203.0.113.7",
    "Navegador desconocido, una red desconocida", "Desconocido, 2001:db8::/64", "Llave de acceso «Laptop», por un operador",
]


def test_every_shape_of_event_detail_is_shown_in_the_pages_language(app):
    from app import events

    details = stored_details()
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        assert [events.detail_in_words(detail) for detail in details] == SPANISH_DETAILS
        assert events.detail_in_words("12") == "12"  # a count alone: shown as stored
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert [events.detail_in_words(detail) for detail in details] == details

