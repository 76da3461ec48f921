"""WhatsApp as a third channel (VERIFY_CHANNELS): "Send by WhatsApp instead" on every code page when
listed, sending to the same number through the same budgets and cooldown, never falling back to a
call; absent, with addresses that answer 404, when not listed; a setting it can't use refuses to start."""
import html
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import create_app
from tests.conftest import PASSWORD, PHONE, dispose_app, make_config
from tests.support import NO_SEND_LIMITS, text, two_factor_user, wait_out_cooldown

ROOT = Path(__file__).resolve().parent.parent
ALL_CHANNELS = pytest.mark.app_settings(VERIFY_CHANNELS="sms,call,whatsapp")
WHATSAPP_BUTTON = "Send by WhatsApp instead"
WHATSAPP_SENT = "We sent a code by WhatsApp message to your phone."
EARLY_CLICK = "You can ask for a new code after"

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)


def button_actions(response):
    """{label: address} of the code page's buttons (Resend code, Call me instead, ...)."""
    page = response.get_data(as_text=True)
    buttons = page[page.index("data-countdown="):]
    found = re.findall(r'<form method="post" action="([^"]*)" class="d-inline">.*?<button[^>]*>([^<]+)</button>',
                       buttons, re.S)
    return {label: html.unescape(action) for action, label in found}


def send_channels(fake):
    """The Channel of every send request that reached the fake, accepted or not."""
    return [r["form"].get("Channel") for r in fake.requests if r["path"].endswith("/Verifications")]


def press(auth, page, label):
    """Presses the button labelled `label` on `page`, as a browser would."""
    return auth.post(button_actions(auth.client.get(page))[label], form_url=page)


# -- the three code pages --------------------------------------------------------------------------

def at_login_code_page(auth):
    two_factor_user(auth)
    auth.logout()
    wait_out_cooldown(auth.client.application)
    assert auth.login().headers["Location"] == "/auth/verify"
    return "/auth/verify"


def at_reauthentication_code_page(auth):
    two_factor_user(auth)
    wait_out_cooldown(auth.client.application)
    response = auth.post("/auth/reauthenticate?next=/profile", {"password": PASSWORD})
    assert response.headers["Location"].startswith("/auth/reauthenticate/code")
    return response.headers["Location"]


def at_enrolment_code_page(auth):
    auth.register()
    assert auth.start_enrolment().headers["Location"] == "/profile/2fa/confirm"
    return "/profile/2fa/confirm"


# name: (set up, the number as the page names it, the WhatsApp button's address, where the code leads)
PAGES = {
    "login": (at_login_code_page, "your phone number ending in 56", "/auth/verify/whatsapp", "/profile"),
    "reauthenticate": (at_reauthentication_code_page, "your phone number ending in 56",
                       "/auth/reauthenticate/whatsapp", "/profile"),
    "enrolment": (at_enrolment_code_page, "+44 7400 123456", "/profile/2fa/confirm/whatsapp", "/profile/recovery-codes"),
}


@ALL_CHANNELS
@pytest.mark.parametrize("page_name", PAGES)
def test_each_code_page_sends_by_whatsapp_to_the_number_and_says_so(app, auth, client, fake, page_name):
    set_up, named, address, done = PAGES[page_name]
    page = set_up(auth)
    buttons = button_actions(client.get(page))
    assert list(buttons) == ["Resend code", "Call me instead", WHATSAPP_BUTTON]
    assert buttons[WHATSAPP_BUTTON].split("?")[0] == address
    sends = len(fake.sends)

    wait_out_cooldown(app)
    response = press(auth, page, WHATSAPP_BUTTON)
    assert response.status_code == 302 and response.headers["Location"] == page
    assert [(s["to"], s["channel"]) for s in fake.sends[sends:]] == [(PHONE, "whatsapp")]
    assert send_channels(fake)[-1] == "whatsapp"
    shown = text(client.get(page))
    assert f'<div class="alert alert-info" role="alert">{WHATSAPP_SENT}</div>' in shown
    assert f"We sent a code by WhatsApp message to {named}. It is valid for 10 minutes." in shown

    # The code that went by WhatsApp completes the step.
    finished = auth.post(page, {"code": fake.last_code(PHONE)})
    assert finished.status_code == 302 and finished.headers["Location"] == done


@ALL_CHANNELS
def test_a_whatsapp_send_is_a_security_event_that_says_whatsapp(app, auth, client, fake):
    at_login_code_page(auth)
    wait_out_cooldown(app)
    assert press(auth, "/auth/verify", WHATSAPP_BUTTON).status_code == 302
    assert auth.verify().headers["Location"] == "/profile"
    assert "Code sent (by WhatsApp to +44 ••• ••• •456)" in " ".join(
        re.sub(r"<[^>]+>", " ", text(client.get("/profile"))).split())


@ALL_CHANNELS
def test_whatsapp_waits_for_the_same_cooldown_as_a_text_or_a_call(app, auth, client, fake):
    """Right after the login's text, WhatsApp is paced like a resend; right after a WhatsApp code,
    a resend and a call are paced in turn."""
    at_login_code_page(auth)
    sends = len(fake.sends)
    response = press(auth, "/auth/verify", WHATSAPP_BUTTON)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    assert EARLY_CLICK in text(client.get("/auth/verify"))
    assert len(fake.sends) == sends

    wait_out_cooldown(app)
    assert press(auth, "/auth/verify", WHATSAPP_BUTTON).status_code == 302
    assert len(fake.sends) == sends + 1
    for label in ("Resend code", "Call me instead", WHATSAPP_BUTTON):
        response = press(auth, "/auth/verify", label)
        assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
        assert EARLY_CLICK in text(client.get("/auth/verify"))
    assert len(fake.sends) == sends + 1


@pytest.mark.app_settings(VERIFY_CHANNELS="sms,call,whatsapp", SEND_LIMIT_PER_NUMBER="4/10 minutes")
def test_whatsapp_codes_count_against_the_same_per_number_limit(app, auth, client, fake):
    """Four codes to the number in mixed channels (the login's text, WhatsApp, a call, WhatsApp)
    use up SEND_LIMIT_PER_NUMBER: the fifth is refused, whatever its channel."""
    at_login_code_page(auth)
    for label in (WHATSAPP_BUTTON, "Call me instead", WHATSAPP_BUTTON):
        wait_out_cooldown(app)
        assert press(auth, "/auth/verify", label).status_code == 302
    assert send_channels(fake)[-4:] == ["sms", "whatsapp", "call", "whatsapp"]
    sends = len(fake.requests)
    wait_out_cooldown(app)
    for label in (WHATSAPP_BUTTON, "Resend code", "Call me instead"):
        refused = press(auth, "/auth/verify", label)
        assert refused.status_code == 429, label
        assert int(refused.headers["Retry-After"]) > app.config["SEND_COOLDOWN_SECONDS"]
        assert EARLY_CLICK in text(refused)
    assert len(fake.requests) == sends


@pytest.mark.app_settings(VERIFY_CHANNELS="sms,call,whatsapp", SEND_LIMIT_PER_NEW_NUMBER="2/10 minutes")
def test_whatsapp_at_enrolment_counts_against_the_new_number_limit(app, auth, client, fake):
    at_enrolment_code_page(auth)
    wait_out_cooldown(app)
    assert press(auth, "/profile/2fa/confirm", WHATSAPP_BUTTON).status_code == 302
    wait_out_cooldown(app)
    assert press(auth, "/profile/2fa/confirm", WHATSAPP_BUTTON).status_code == 429
    assert send_channels(fake) == ["sms", "whatsapp"]


@ALL_CHANNELS
def test_a_whatsapp_send_twilio_refuses_is_not_retried_as_a_call(app, auth, client, fake):
    """Only a text that can't reach the number falls back to a call (60205); WhatsApp never does."""
    at_login_code_page(auth)
    wait_out_cooldown(app)
    fake.inject("send", 400, code=60205)
    response = press(auth, "/auth/verify", WHATSAPP_BUTTON)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    assert send_channels(fake)[-2:] == ["sms", "whatsapp"]  # the login's text, then WhatsApp only
    assert fake.sends[-1]["channel"] == "sms"
    page = text(client.get("/auth/verify"))
    assert 'class="alert alert-danger"' in page and "calling" not in page


# -- left out ---------------------------------------------------------------------------------

WHATSAPP_ADDRESSES = {"login": "/auth/verify/whatsapp", "reauthenticate": "/auth/reauthenticate/whatsapp?next=/profile",
                      "enrolment": "/profile/2fa/confirm/whatsapp"}


@pytest.mark.parametrize("page_name", PAGES)
def test_by_default_there_is_no_whatsapp_button_and_its_address_is_not_found(app, auth, client, fake, page_name):
    assert app.config["VERIFY_CHANNELS"] == ("sms", "call")
    page = PAGES[page_name][0](auth)
    assert list(button_actions(client.get(page))) == ["Resend code", "Call me instead"]
    assert WHATSAPP_BUTTON not in text(client.get(page))
    wait_out_cooldown(app)
    sends = len(fake.requests)
    address = WHATSAPP_ADDRESSES[page_name]
    assert auth.post(address, form_url=page).status_code == 404
    assert client.post(address).status_code == 404  # not an expired form: there is no such button
    assert len(fake.requests) == sends


@pytest.mark.app_settings(VERIFY_CHANNELS="sms,whatsapp")
def test_call_can_be_left_out_too(app, auth, client, fake):
    at_login_code_page(auth)
    assert list(button_actions(client.get("/auth/verify"))) == ["Resend code", WHATSAPP_BUTTON]
    wait_out_cooldown(app)
    sends = len(fake.requests)
    assert auth.post("/auth/verify/call", form_url="/auth/verify").status_code == 404
    assert len(fake.requests) == sends
    assert press(auth, "/auth/verify", WHATSAPP_BUTTON).status_code == 302
    assert send_channels(fake)[-1] == "whatsapp"


# -- the setting, checked at start ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["sms,fax", "call,whatsapp", "whatsapp", "call", " , ", "sms,call,telegram"])
def test_a_channel_list_the_app_cant_use_refuses_to_start(fake, value):
    with pytest.raises(SystemExit) as raised:
        create_app(make_config(fake, VERIFY_CHANNELS=value))
    assert "VERIFY_CHANNELS" in str(raised.value) and "sms" in str(raised.value)


@pytest.mark.parametrize(("value", "channels"), [
    ("sms", ("sms",)),
    ("sms,call", ("sms", "call")),
    (" SMS , WhatsApp ", ("sms", "whatsapp")),
    ("sms,call,whatsapp,sms", ("sms", "call", "whatsapp")),
])
def test_channel_lists_the_app_can_use_start(fake, value, channels):
    app = create_app(make_config(fake, VERIFY_CHANNELS=value))
    try:
        assert app.config["VERIFY_CHANNELS"] == channels
    finally:
        dispose_app(app)


@pytest.mark.parametrize(("app_env", "value"), [("development", "sms,fax"), ("production", "call,whatsapp")])
def test_the_process_exits_naming_verify_channels(app_env, value, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "VERIFY_", "TEST_", "PYTEST_"))}
    env.update({
        "APP_ENV": app_env, "VERIFY_CHANNELS": value, "DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "SECRET_KEY": secrets.token_hex(32), "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TRUSTED_HOSTS": "localhost", "WEBAUTHN_RP_ID": "localhost", "WEBAUTHN_ORIGINS": "https://localhost",
        "VERIFY_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token", "TWILIO_VERIFY_SERVICE_ID": "VA" + "0" * 32,
        "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ALLOW_MEMORY": "1",
    })
    result = subprocess.run([sys.executable, "-c", "from main import app"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "VERIFY_CHANNELS" in result.stderr and "Traceback" not in result.stderr


# -- the console sender -------------------------------------------------------------------------

@pytest.mark.app_settings(VERIFY_PROVIDER="console", VERIFY_CHANNELS="sms,call,whatsapp")
def test_the_console_sender_logs_a_whatsapp_code_like_the_others(app, auth, client, fake, caplog):
    caplog.set_level(logging.INFO)
    auth.register()
    auth.start_enrolment()
    wait_out_cooldown(app)
    assert press(auth, "/profile/2fa/confirm", WHATSAPP_BUTTON).status_code == 302
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DEVELOPMENT CODE")]
    assert [line.rsplit(": ", 1)[0] for line in lines] == [
        "DEVELOPMENT CODE for +44 ••• ••• •456 by sms", "DEVELOPMENT CODE for +44 ••• ••• •456 by whatsapp"]
    code = re.fullmatch(r"DEVELOPMENT CODE for \+44 ••• ••• •456 by whatsapp: (\d{6})", lines[-1]).group(1)
    assert auth.confirm(code).headers["Location"] == "/profile/recovery-codes"
    assert fake.requests == []  # the console sender never calls Twilio
