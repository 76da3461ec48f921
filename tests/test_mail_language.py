"""Mails in their recipient's language (the one saved on the account, else the page's that caused
them), written in it even outside a request; and moments written out with Babel in the page's
language, in UTC (issue "Languages": mails, dates and times)."""
import re
from datetime import datetime

import pytest
import sqlalchemy as sa
from babel.support import Translations
from flask import g

from app import i18n
from app.dates import _patterns, long_date, short_time, utc_text
from app.extensions import db
from app.i18n import in_language
from app.models import User
from tests.conftest import PASSWORD, AuthActions
from tests.mail_support import mails_to
from tests.support import NO_SEND_LIMITS, text

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

ALICE = "alice@example.test"
MOMENT = datetime(2026, 12, 3, 14, 5)
SPANISH = {
    "Confirm your email address": "Confirma tu dirección de correo",
    "Your email address was given for another account": "Tu dirección se dio para otra cuenta",
    "Hello %(username)s,": "Hola, %(username)s:",
    "Security notice: %(headline)s": "Aviso de seguridad: %(headline)s",
    "Your password was changed": "Tu contraseña ha cambiado",
    "%(date)s at %(time)s UTC": "%(date)s a las %(time)s UTC",
}


class Catalog(Translations):
    """A catalog of a few words, the committed one behind it."""

    def __init__(self, words, fallback):
        super().__init__()
        self._catalog = dict(words)
        self.plural = lambda n: int(n != 1)
        self.add_fallback(fallback)


@pytest.fixture
def spanish(app, monkeypatch):
    from babel.support import NullTranslations

    # Only the test's words: any other word stays English, as a catalog missing it shows it.
    monkeypatch.setitem(i18n._CATALOGS, "es", Catalog(SPANISH, NullTranslations()))


def sign_up(auth, email=""):
    response = auth.post("/auth/register", {"username": "alice", "password": PASSWORD, "password2": PASSWORD,
                                            "email": email})
    assert response.status_code == 302, text(response)


def save_locale(app, tag):
    with app.app_context():
        db.session.execute(sa.update(User).where(User.username_key == "alice").values(locale=tag))
        db.session.commit()


def confirmed(app, auth, address=ALICE):
    sign_up(auth, email=address)
    [link] = mails_to(app, address)
    path = link.link_path("/auth/confirm-email")
    auth.client.get(path)
    auth.post("/auth/confirm-email", {"token": path.split("token=", 1)[1]}, form_url=path)


def test_a_mail_is_in_the_language_saved_on_the_account(app, auth, spanish):
    sign_up(auth)
    save_locale(app, "es")
    auth.open_sudo_page("/profile/email")
    response = auth.post("/profile/email", {"email": ALICE})
    assert response.status_code == 302, text(response)
    [mail] = mails_to(app, ALICE)
    assert mail.subject == "Confirma tu dirección de correo"
    assert mail.text.startswith("Hola, alice:\n") and "<p>Hola, alice:</p>" in mail.html
    assert '<html lang="es">' in mail.html


def test_a_mail_to_another_account_is_in_its_language_not_the_sender_s(app, auth, fake, spanish):
    confirmed(app, auth)
    save_locale(app, "es")
    bob = AuthActions(app.test_client(), fake)
    response = bob.post("/auth/register", {"username": "bob", "password": PASSWORD, "password2": PASSWORD,
                                           "email": ALICE})
    assert response.status_code == 302
    assert '<html lang="en"' in text(bob.client.get("/profile")), "bob reads English"
    mail = mails_to(app, ALICE)[-1]
    assert mail.subject == "Tu dirección se dio para otra cuenta" and '<html lang="es">' in mail.html


def test_without_a_saved_language_a_mail_is_in_the_page_s(app, auth, spanish):
    auth.client.set_cookie("locale", "es")
    sign_up(auth, email=ALICE)
    with app.app_context():
        assert User.by_username("alice").locale is None
    [mail] = mails_to(app, ALICE)
    assert mail.subject == "Confirma tu dirección de correo" and '<html lang="es">' in mail.html


def test_a_notice_written_outside_a_request_is_in_the_account_s_language(app, auth, spanish, runner):
    confirmed(app, auth)
    save_locale(app, "es")
    with app.app_context():
        from app import events

        user = User.by_username("alice")
        events.record(events.PASSWORD_CHANGED, user)
        assert "ui_language" not in g, "the mail's language was the mail's only"
    notice = mails_to(app, ALICE)[-1]
    assert notice.subject == "Aviso de seguridad: Tu contraseña ha cambiado"
    assert re.search(r"\d{1,2} de \w+ de \d{4} a las \d{1,2}:\d\d UTC", notice.text), notice.text
    assert "Password changed" in notice.text, "a word the catalog lacks stays English"


def test_in_language_sets_the_words_and_dates_then_restores_the_page_s(app, spanish):
    with app.test_request_context("/", headers={"Cookie": "locale=en"}):
        assert i18n._("Confirm your email address") == "Confirm your email address"
        with in_language("es"):
            assert i18n._("Confirm your email address") == "Confirma tu dirección de correo"
            assert utc_text(MOMENT) == "3 dic 2026, 14:05 UTC"
        assert i18n._("Confirm your email address") == "Confirm your email address"
        assert utc_text(MOMENT) == "3 Dec 2026, 14:05 UTC"
    with app.app_context():  # a command: English, no request
        with in_language("es"):
            assert long_date(MOMENT) == "3 de diciembre de 2026" and short_time(MOMENT) == "14:05"
        assert "ui_language" not in g and "ui_translations" not in g
        assert utc_text(MOMENT) == "3 Dec 2026, 14:05 UTC"


def test_english_moments_are_written_as_before(app):
    with app.app_context():
        assert utc_text(datetime(2026, 1, 9, 4, 7)) == "9 Jan 2026, 04:07 UTC"
        assert f"{long_date(MOMENT)} at {short_time(MOMENT)}" == "3 December 2026 at 14:05"


def test_a_language_s_patterns_are_parsed_once(app):
    with app.app_context():
        utc_text(MOMENT)
        before = _patterns.cache_info()
        for _ in range(3):
            utc_text(MOMENT)
        after = _patterns.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3
