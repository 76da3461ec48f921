"""An expired form (a CSRF failure) is shown again with what was typed, never a password, and one
sentence, status 400 (issue 12); and every POST route of the URL map stays CSRF-protected: without
a token, or with another browser's, it answers 400 and changes nothing, where the same request with
its token does change something."""
import re

import pyotp
import pytest
import sqlalchemy as sa

from app.expired_forms import FORM_EXPIRED
from app.extensions import db
from app.models import TrustedDevice
from tests.conftest import CSRF_INPUT, PASSWORD, csrf_token, page_text
from tests.support import (
    NO_SEND_LIMITS, SETUP_KEY, add_authenticator, method_id, new_browser, text, two_factor_user, wait_out_cooldown,
)

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)


def title(response):
    return re.search(r"<title>(.*?)</title>", text(response), re.S).group(1).strip()


def summary(response):
    found = re.search(r"<div [^>]*data-error-summary>(.*?)</div>", text(response), re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else None


def field_value(response, name):
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page_text(response))
    value = found and re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else None


def test_an_expired_login_form_comes_back_with_the_username_and_a_new_token(app, auth, client):
    auth.register("alice")
    auth.logout()
    response = client.post("/auth/login", data={"username": "alice", "password": PASSWORD, "remember_me": "y"})
    assert response.status_code == 400
    assert title(response) == "Error: Log in"
    assert summary(response) == f"There is a problem {FORM_EXPIRED}"
    assert field_value(response, "username") == "alice"
    assert PASSWORD not in page_text(response)
    assert 'checked' in re.search(r'<input[^>]*name="remember_me"[^>]*>', page_text(response)).group(0)
    token = CSRF_INPUT.search(page_text(response)).group(1)
    again = client.post("/auth/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"] == "/profile"


def test_an_expired_sign_up_form_keeps_the_username_not_the_passwords(client):
    response = client.post("/auth/register", data={"username": "carol", "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 400
    assert title(response) == "Error: Sign up"
    assert field_value(response, "username") == "carol"
    assert PASSWORD not in page_text(response)
    assert summary(response) == f"There is a problem {FORM_EXPIRED}"
    assert page_text(response).count(str(FORM_EXPIRED)) == 1  # one sentence, not one per field


def test_an_expired_phone_form_keeps_the_country_and_number(auth, client, fake):
    auth.register("alice")
    auth.confirm_its_you_to("/profile/2fa/enable")
    response = client.post("/profile/2fa/enable", data={"country": "KE", "phone": "0712 123456"})
    assert response.status_code == 400
    assert field_value(response, "phone") == "0712 123456"
    assert re.search(r'<option selected value="KE"', page_text(response))
    assert fake.sends == []


def test_a_form_sent_from_another_browser_is_an_expired_form(app, auth, client):
    auth.register("alice")
    auth.reauthenticate()
    other = new_browser(app, auth.fake)
    token = csrf_token(other.client, "/auth/login")
    response = client.post("/profile/password", data={"password": "new password 1", "password2": "new password 1",
                                                      "csrf_token": token})
    assert response.status_code == 400
    assert summary(response) == f"There is a problem {FORM_EXPIRED}"


# -- every POST route ---------------------------------------------------------------------------

class Scenario:
    """A browser in the state where `url` would act, and the form a person would send there."""

    def __init__(self, browser, url, data=None, form_url=None):
        self.browser, self.url, self.data, self.form_url = browser, url, data or {}, form_url or url


def mobile(index):
    return f"+447400{index:06d}"


def user_without_2fa(app, fake, name):
    browser = new_browser(app, fake)
    assert browser.register(name).status_code == 302
    assert browser.reauthenticate().status_code == 302
    return browser


def user_with_2fa(app, fake, name, phone, **login):
    """Logged in with 2FA on, just re-authenticated; returns (browser, recovery codes)."""
    browser = new_browser(app, fake)
    codes = two_factor_user(browser, name, national=phone, phone=phone)
    if login:
        browser.logout()
        wait_out_cooldown(app, phone)
        browser.login_with_code(name, phone=phone, **login)
    wait_out_cooldown(app, phone)
    browser.reauthenticate(phone=phone)
    return browser, codes


def pending_login(app, fake, name, phone):
    browser, codes = user_with_2fa(app, fake, name, phone)
    browser.logout()
    wait_out_cooldown(app, phone)
    assert browser.login(name).headers["Location"] == "/auth/verify"
    return browser, codes


def reauth_code_step(app, fake, name, phone):
    browser, codes = user_with_2fa(app, fake, name, phone)
    wait_out_cooldown(app, phone)
    response = browser.post("/auth/reauthenticate?next=/profile", {"password": PASSWORD})
    return browser, codes, response.headers["Location"]


def enrolling(app, fake, name, phone):
    browser = new_browser(app, fake)
    browser.register(name)
    assert browser.start_enrolment(phone).headers["Location"] == "/profile/2fa/confirm"
    return browser


def device_id(app, name):
    from app.models import User

    with app.app_context():
        user = User.by_username(name)
        return db.session.scalar(sa.select(TrustedDevice.id).where(TrustedDevice.user_id == user.id))


def scenario(endpoint, app, fake, n):
    """The scenario for one POST endpoint; `n` keeps names and numbers apart."""
    name, phone = f"user{n}", mobile(n)
    if endpoint == "auth.register":
        return Scenario(new_browser(app, fake), "/auth/register",
                        {"username": name, "password": PASSWORD, "password2": PASSWORD})
    if endpoint == "auth.login":
        user_without_2fa(app, fake, name)
        return Scenario(new_browser(app, fake), "/auth/login", {"username": name, "password": PASSWORD})
    if endpoint == "auth.logout":
        return Scenario(user_without_2fa(app, fake, name), "/auth/logout", form_url="/profile")
    if endpoint == "choose_language":  # the footer's menu: saved on the account when logged in
        return Scenario(user_without_2fa(app, fake, name), "/language", {"language": "es", "next": "/profile"},
                        form_url="/profile")
    if endpoint in ("auth.verify", "auth.resend", "auth.call", "auth.whatsapp", "auth.recovery_login"):
        browser, codes = pending_login(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        url, data = {
            "auth.verify": ("/auth/verify", {"code": fake.last_code(phone)}),
            "auth.resend": ("/auth/verify/resend", {}),
            "auth.call": ("/auth/verify/call", {}),
            "auth.whatsapp": ("/auth/verify/whatsapp", {}),
            "auth.recovery_login": ("/auth/recovery", {"code": codes[0]}),
        }[endpoint]
        return Scenario(browser, url, data, form_url="/auth/verify")
    if endpoint == "auth.another_way":
        browser, _ = pending_login(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        return Scenario(browser, "/auth/verify/another", {"way": "phone:call"})
    if endpoint == "auth.reauthenticate_another_way":
        browser, _, code_url = reauth_code_step(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        return Scenario(browser, code_url.replace("/code?", "/another?"), {"way": "phone:call"})
    if endpoint == "profile.add_authenticator":
        browser = user_without_2fa(app, fake, name)
        page = browser.client.get("/profile/authenticator-app").get_data(as_text=True)
        key = SETUP_KEY.search(page).group(1).replace(" ", "")
        return Scenario(browser, "/profile/authenticator-app", {"name": "Phone", "code": pyotp.TOTP(key).now()})
    if endpoint == "profile.remove_method":
        browser, _ = user_with_2fa(app, fake, name, phone)
        add_authenticator(browser)
        return Scenario(browser, f"/profile/methods/{method_id(app, name, 'totp')}/remove", {})
    if endpoint == "auth.reauthenticate":
        browser, _ = user_with_2fa(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        return Scenario(browser, "/auth/reauthenticate?next=/profile", {"password": PASSWORD})
    passkeys = passkey_scenario(endpoint, app, fake, name, phone)
    if passkeys is not None:
        return passkeys
    if endpoint.startswith("auth.reauthenticate_"):
        browser, codes, code_url = reauth_code_step(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        url, data = {
            "auth.reauthenticate_code": (code_url, {"code": fake.last_code(phone)}),
            "auth.reauthenticate_recovery": (code_url.replace("/code?", "/recovery?"), {"code": codes[0]}),
            "auth.reauthenticate_resend": (code_url.replace("/code?", "/resend?"), {}),
            "auth.reauthenticate_call": (code_url.replace("/code?", "/call?"), {}),
            "auth.reauthenticate_whatsapp": (code_url.replace("/code?", "/whatsapp?"), {}),
        }[endpoint]
        return Scenario(browser, url, data, form_url=code_url)
    if endpoint == "profile.enable_2fa":
        browser = new_browser(app, fake)
        browser.register(name)
        browser.confirm_its_you_to("/profile/2fa/enable")
        return Scenario(browser, "/profile/2fa/enable", {"country": "GB", "phone": phone})
    if endpoint in ("profile.confirm_2fa", "profile.confirm_resend", "profile.confirm_call", "profile.confirm_whatsapp"):
        browser = enrolling(app, fake, name, phone)
        wait_out_cooldown(app, phone)
        url, data = {
            "profile.confirm_2fa": ("/profile/2fa/confirm", {"code": fake.last_code(phone)}),
            "profile.confirm_resend": ("/profile/2fa/confirm/resend", {}),
            "profile.confirm_call": ("/profile/2fa/confirm/call", {}),
            "profile.confirm_whatsapp": ("/profile/2fa/confirm/whatsapp", {}),
        }[endpoint]
        return Scenario(browser, url, data, form_url="/profile/2fa/confirm")
    if endpoint == "profile.recovery_codes":
        browser = enrolling(app, fake, name, phone)
        browser.confirm(phone=phone)
        return Scenario(browser, "/profile/recovery-codes")
    if endpoint in ("profile.change_phone", "profile.disable_2fa", "profile.regenerate_recovery_codes"):
        browser, _ = user_with_2fa(app, fake, name, phone)
        url, data = {
            "profile.change_phone": ("/profile/2fa/phone", {"country": "GB", "phone": mobile(n + 500)}),
            "profile.disable_2fa": ("/profile/2fa/disable", {}),
            "profile.regenerate_recovery_codes": ("/profile/recovery-codes/regenerate", {}),
        }[endpoint]
        return Scenario(browser, url, data)
    if endpoint in ("profile.forget_device", "profile.forget_all_devices"):
        browser, _ = user_with_2fa(app, fake, name, phone, remember_device=True)
        url = (f"/profile/devices/{device_id(app, name)}/forget" if endpoint == "profile.forget_device"
               else "/profile/devices/forget-all")
        return Scenario(browser, url, form_url="/profile")
    if endpoint in ("profile.end_session", "profile.end_other_sessions"):
        browser = user_without_2fa(app, fake, name)
        assert new_browser(app, fake).login(name).status_code == 302  # a session to end
        page = browser.client.get("/profile/sessions").get_data(as_text=True)
        url = (re.search(r'action="(/profile/sessions/[0-9a-f]{32}/end)"', page)[1]
               if endpoint == "profile.end_session" else "/profile/sessions/end-others")
        return Scenario(browser, url, form_url="/profile/sessions")
    if endpoint == "profile.change_password":
        return Scenario(user_without_2fa(app, fake, name), "/profile/password",
                        {"password": "a new password", "password2": "a new password"})
    if endpoint == "profile.delete_account":
        return Scenario(user_without_2fa(app, fake, name), "/profile/delete", {"username": name})
    if endpoint.endswith(("_email", ".email", "forgot_password", "reset_password")):
        return email_scenario(endpoint, app, fake, name)
    return None


def email_scenario(endpoint, app, fake, name):
    """The email address's and the password reset's POST routes."""
    from app import password_reset
    from app.models import User
    from tests.mail_support import sent_mails

    browser = user_without_2fa(app, fake, name)
    address = f"{name}@example.test"
    if endpoint == "profile.email":
        return Scenario(browser, "/profile/email", {"email": address})
    if endpoint in ("profile.cancel_email", "auth.confirm_email"):
        assert browser.post("/profile/email", {"email": address}).status_code == 302
        if endpoint == "profile.cancel_email":
            return Scenario(browser, "/profile/email/cancel", form_url="/profile")
        link = [mail for mail in sent_mails(app) if address in mail.to][-1].link_path("/auth/confirm-email")
        return Scenario(browser, "/auth/confirm-email", {"token": link.split("token=")[1]}, form_url=link)
    with app.app_context():
        user = User.by_username(name)
        user.email = address
        db.session.commit()
        token = password_reset.make_token(user)
    if endpoint == "profile.remove_email":
        return Scenario(browser, "/profile/email/remove", {})
    if endpoint == "auth.forgot_password":
        return Scenario(new_browser(app, fake), "/auth/forgot-password", {"username": name})
    return Scenario(new_browser(app, fake), "/auth/reset-password",
                    {"token": token, "password": "a new password", "password2": "a new password"},
                    form_url=f"/auth/reset-password?token={token}")
# Passkey options: a POST (with the page's token) that answers JSON and changes nothing.
READ_ONLY = {"auth.passkey_sign_in_options", "auth.second_step_options", "auth.reauthenticate_step_options",
             "auth.reauthenticate_passkey_options"}


def passkey_scenario(endpoint, app, fake, name, phone):
    """The passkey routes' scenarios (tests/passkey_support.py does what the script does)."""
    from tests.passkey_support import ADD, add_passkey, options, passkey_user, sign_in, sign_in_options
    from tests.webauthn_forge import SoftAuthenticator

    if endpoint == "auth.passkey_sign_in_options":
        return Scenario(new_browser(app, fake), "/auth/passkey/options", {}, form_url="/auth/login")
    if endpoint == "auth.passkey_sign_in":
        key = passkey_user(new_browser(app, fake), name)
        browser = new_browser(app, fake)
        answer = key.assertion(sign_in_options(browser.client))
        return Scenario(browser, "/auth/passkey", {"credential": answer, "next": ""}, form_url="/auth/login")
    if endpoint in ("profile.passkey_options", "profile.add_passkey"):
        browser = user_without_2fa(app, fake, name)
        browser.confirm_its_you_to(ADD)
        if endpoint == "profile.passkey_options":  # the first options make the user handle
            return Scenario(browser, f"{ADD}/options", {}, form_url=ADD)
        answer = SoftAuthenticator().register(options(browser.client, f"{ADD}/options", ADD))
        return Scenario(browser, ADD, {"credential": answer})
    if endpoint in ("auth.second_step_options", "auth.reauthenticate_step_options"):
        browser, _ = user_with_2fa(app, fake, name, phone)
        add_passkey(browser, SoftAuthenticator())
        if endpoint == "auth.second_step_options":
            browser.logout()
            assert browser.login(name).headers["Location"] == "/auth/verify"
            return Scenario(browser, "/auth/verify/passkey-options", {}, form_url="/auth/verify")
        code_url = browser.post("/auth/reauthenticate?next=/profile", {"password": PASSWORD}).headers["Location"]
        return Scenario(browser, "/auth/reauthenticate/code/passkey-options", {}, form_url=code_url)
    if endpoint in ("auth.reauthenticate_passkey_options", "auth.reauthenticate_with_passkey",
                    "profile.rename_passkey"):
        browser = new_browser(app, fake)
        key = passkey_user(browser, name)
        assert sign_in(browser.client, key.assertion(sign_in_options(browser.client))).status_code == 302
        if endpoint == "auth.reauthenticate_passkey_options":
            return Scenario(browser, "/auth/reauthenticate/passkey-options", {}, form_url="/auth/reauthenticate")
        asked = options(browser.client, "/auth/reauthenticate/passkey-options", "/auth/reauthenticate")
        if endpoint == "auth.reauthenticate_with_passkey":
            return Scenario(browser, "/auth/reauthenticate/passkey?next=/profile", {"credential": key.assertion(asked)},
                            form_url="/auth/reauthenticate")
        browser.post("/auth/reauthenticate/passkey", {"credential": key.assertion(asked)},
                     form_url="/auth/reauthenticate")
        return Scenario(browser, f"/profile/passkeys/{method_id(app, name, 'webauthn')}/rename", {"name": "Laptop"})
    return None


VOLATILE_SESSION_KEYS = {"csrf_token", "_flashes"}


def state(app, fake, browser):
    """Everything a POST could change: every table (of the sessions, which exist and whose they
    are), the Verify server's sends and checks, and this browser's own session."""
    with app.app_context():
        tables = {}
        for table in db.metadata.sorted_tables:
            if table.name == "sessions":
                rows = db.session.execute(sa.select(table.c.id, table.c.user_id)).all()
            else:
                rows = db.session.execute(sa.select(table)).all()
            tables[table.name] = sorted(map(repr, rows))
    with browser.client.session_transaction() as session:
        own = {key: repr(value) for key, value in session.items() if key not in VOLATILE_SESSION_KEYS}
    return tables, len(fake.sends), len(fake.checks), own


def post_routes(app):
    return sorted({rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods})


# Every channel on: the WhatsApp buttons' addresses act too (left out, they answer 404).
@pytest.mark.app_settings(**NO_SEND_LIMITS, SIGNUP_LIMIT_PER_IP="1000/hour", LOGIN_LIMIT_PER_IP="1000/minute",
                          CODE_CHECK_LIMIT_PER_IP="1000/minute", VERIFY_CHANNELS="sms,call,whatsapp")
def test_every_post_route_refuses_a_missing_or_foreign_token_and_changes_nothing(app, fake):
    endpoints = post_routes(app)
    assert len(endpoints) >= 24 and "auth.reauthenticate_recovery" in endpoints
    stranger_token = csrf_token(app.test_client(), "/auth/login")
    unwalked = []
    for n, endpoint in enumerate(endpoints, start=1):
        walk = scenario(endpoint, app, fake, n)
        if walk is None:
            unwalked.append(endpoint)
            continue
        browser = walk.browser
        before = state(app, fake, browser)
        for token in (None, stranger_token):
            data = dict(walk.data, **({"csrf_token": token} if token else {}))
            response = browser.client.post(walk.url, data=data)
            assert response.status_code == 400, (endpoint, token is not None, response.status_code)
            assert state(app, fake, browser) == before, (endpoint, "changed without a valid token")
        # The same request with the browser's own token does act: the scenario was a real one.
        response = browser.post(walk.url, walk.data, form_url=walk.form_url)
        assert response.status_code in (200, 302), (endpoint, response.status_code)
        if endpoint in READ_ONLY:
            assert response.is_json and state(app, fake, browser) == before, endpoint
            continue
        assert state(app, fake, browser) != before, (endpoint, "the scenario does nothing even with its token")
    assert unwalked == [], f"POST routes with no scenario in this test: {unwalked}"
