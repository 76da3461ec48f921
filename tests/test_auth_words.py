"""The login side in the page's language: its templates, forms, flashes, error pages and waits
look their words up in the page's catalog, and the scripts' sentences come from the page."""
import io
import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations

from app import i18n
from app.waits import wait_in_words
from tests.conftest import csrf_token, page_text
from tests.support import NO_SEND_LIMITS, two_factor_user

SPANISH = {
    "Log in": "Iniciar sesión",
    "Username": "Nombre de usuario",
    "Enter your username.": "Escribe tu nombre de usuario.",
    "Page not found": "Página no encontrada",
    "Didn't get it? You can ask for a new code in %(wait)s.": "¿No te llegó? Puedes pedir otro código en %(wait)s.",
    ("Incorrect code. You have %(num)d try left.", "Incorrect code. You have %(num)d tries left."):
        ("Código incorrecto. Te queda %(num)d intento.", "Código incorrecto. Te quedan %(num)d intentos."),
}


def fake_catalog(words):
    catalog = Catalog(locale="es")
    for english, spanish in words.items():
        catalog.add(english, spanish)
    data = io.BytesIO()
    write_mo(data, catalog)
    data.seek(0)
    return Translations(data)


@pytest.fixture
def spanish(client, monkeypatch):
    monkeypatch.setitem(i18n._CATALOGS, "es", fake_catalog(SPANISH))
    client.set_cookie("locale", "es")
    return client


def test_the_login_page_its_form_and_its_errors_are_in_the_page_language(spanish):
    page = page_text(spanish.get("/auth/login"))
    assert '<h1 class="h3 mb-3">Iniciar sesión</h1>' in page and ">Nombre de usuario</label>" in page
    assert "Remember me" in page  # a word without a translation stays English
    form = {"username": "", "password": "", "csrf_token": csrf_token(spanish)}
    answer = page_text(spanish.post("/auth/login", data=form))
    assert "Escribe tu nombre de usuario." in answer


def test_error_pages_use_the_visitors_language(spanish):
    page = page_text(spanish.get("/no-such-page"))
    assert "<title>Página no encontrada</title>" in page


def test_waits_are_written_in_the_page_language(app):
    assert wait_in_words(45) == "45 seconds"  # outside a request: English
    with app.test_request_context(headers={"Cookie": "locale=es"}):
        assert wait_in_words(45) == "45 segundos"
        assert wait_in_words(120) == "2 minutos"


@pytest.mark.app_settings(**NO_SEND_LIMITS)
def test_the_countdown_sentences_come_from_the_page(app, auth, client):
    from app.auth.code_step import wrong_code_message

    two_factor_user(auth)
    auth.logout()
    auth.login()
    page = page_text(client.get("/auth/verify"))
    waiting = re.search(r'data-countdown-waiting="([^"]*)"', page).group(1)
    assert waiting == "Didn&#39;t get it? You can ask for a new code in %(wait)s."
    assert 'data-countdown-now="You can ask for a new code now."' in page
    with app.test_request_context():
        assert wrong_code_message(1) == "Incorrect code. You have 1 try left."
        assert wrong_code_message(2) == "Incorrect code. You have 2 tries left."


def test_the_scripts_carry_no_english():
    from pathlib import Path

    static = Path(i18n.__file__).parent / "static"
    for name in ("countdown.js", "webauthn.js", "recovery-codes.js"):
        code = re.sub(r"//[^\n]*", "", (static / name).read_text())
        sentences = re.findall(r'"([A-Z][a-z]+ [^"]*)"', code)
        assert not sentences, (name, sentences)
