"""Production sends mail by SMTP, or says plainly it sends none (MAIL_DISABLED=1)."""
import pytest

from app import create_app
from app.settings_check import UnsafeSettings
from tests.conftest import dispose_app
from tests.support import production_config, text

SMTP = {"MAIL_DISABLED": False, "MAIL_SERVER": "smtp.example.test", "MAIL_DELIVERY_THREAD": False,
        "MAIL_DEFAULT_SENDER": "SMS 2FA <no-reply@sms2fa.example>"}


def refusal(config):
    with pytest.raises(UnsafeSettings) as raised:
        create_app(config)
    return str(raised.value)


def test_production_without_a_mail_server_is_refused(fake):
    message = refusal(production_config(fake, MAIL_DISABLED=False, MAIL_SERVER=None))
    assert "MAIL_SERVER must be set in production" in message and "MAIL_DISABLED=1" in message


def test_tls_and_ssl_at_once_are_refused(fake):
    assert "MAIL_USE_TLS and MAIL_USE_SSL" in refusal(production_config(fake, **SMTP, MAIL_USE_TLS=True, MAIL_USE_SSL=True))


@pytest.mark.parametrize("sender", ["", None, "SMS 2FA <no-reply@localhost>"])
def test_a_sender_is_required(fake, sender):
    assert "MAIL_DEFAULT_SENDER" in refusal(production_config(fake, **dict(SMTP, MAIL_DEFAULT_SENDER=sender)))


def test_production_with_a_mail_server_sends_by_smtp_with_links_to_its_own_host(fake):
    app = create_app(production_config(fake, **SMTP, TRUSTED_HOSTS=["sms2fa.example", "www.sms2fa.example"]))
    try:
        assert app.config["MAIL_BACKEND"] == "smtp"
        with app.app_context():
            from app.mail import link

            assert link("auth.forgot_password") == "https://sms2fa.example/auth/forgot-password"
    finally:
        dispose_app(app)


def test_production_with_mail_disabled_starts_and_says_so(fake):
    app = create_app(production_config(fake))
    try:
        assert app.config["MAIL_BACKEND"] is None
        page = app.test_client().get("/auth/login", base_url="https://localhost")
        assert "Forgot your password? Ask your administrator to reset it." in text(page)
    finally:
        dispose_app(app)
