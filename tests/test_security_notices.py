"""Security notices by email to a confirmed address: what happened, when, from which browser and
network, and what to do if it wasn't you; plain text and HTML, every typed value escaped, nothing
loaded from elsewhere; one mail per moment; none without a confirmed address."""
import re

import pytest

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD
from tests.mail_support import mails_to, sent_mails
from tests.support import NO_SEND_LIMITS, add_authenticator, method_id, new_browser, two_factor_user

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

ALICE = "alice@example.test"
BROWSER = "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"


@pytest.fixture
def client(app):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.7")
    return client


def give_address(app, username="alice", address=ALICE):
    with app.app_context():
        user = User.by_username(username)
        user.email = address
        db.session.commit()


def notices(app, address=ALICE):
    return [mail for mail in mails_to(app, address) if mail.subject.startswith("Security notice: ")]


def only_notice(app, subject):
    found = notices(app)
    assert [mail.subject for mail in found] == [f"Security notice: {subject}"], [m.subject for m in found]
    return found[0]


def assert_says_what_when_where(mail, happened):
    for part in (mail.text, mail.html):
        assert happened in part
        assert re.search(r"\d{1,2} \w+ \d{4} at \d\d:\d\d UTC", part)
        assert "Chrome on Windows" in part and "203.0.113.7" in part
        assert "If this wasn't you" in part
    assert "/auth/forgot-password" in mail.text or "administrator" in mail.text
    assert "can't be turned off" in mail.text


def assert_nothing_from_elsewhere(mail, app):
    html = mail.html.lower()
    assert "<img" not in html and "src=" not in html and "<script" not in html and "url(" not in html
    assert "<link" not in html and "@import" not in html
    for link in re.findall(r'href="([^"]+)"', mail.html):
        assert link.startswith(app.config["APP_URL"]), link


def test_password_changed(app, auth):
    auth.register()
    give_address(app)
    auth.open_sudo_page("/profile/password")
    auth.post("/profile/password", {"password": "a new one please", "password2": "a new one please"})
    mail = only_notice(app, "Your password was changed")
    assert_says_what_when_where(mail, "Password changed")
    assert "Reset your password" in mail.html and "/auth/forgot-password" in mail.text
    assert_nothing_from_elsewhere(mail, app)


def test_turning_2fa_on_sends_one_notice_for_the_moment(app, auth):
    auth.register()
    give_address(app)
    assert auth.start_enrolment().status_code == 302
    assert auth.confirm().status_code == 302
    mail = only_notice(app, "A way to log in was added")
    assert_says_what_when_where(mail, "Two-factor authentication (2FA) turned on")
    assert "New recovery codes created" in mail.text


@pytest.fixture
def alice_2fa(app, auth):
    codes = two_factor_user(auth)
    give_address(app)
    return codes


def test_2fa_turned_off(app, auth, alice_2fa):
    auth.open_sudo_page("/profile/2fa/disable")
    auth.post("/profile/2fa/disable")
    assert_says_what_when_where(only_notice(app, "Two-factor authentication was turned off"),
                                "Two-factor authentication (2FA) turned off")


def test_a_method_added_and_removed(app, auth, alice_2fa):
    add_authenticator(auth, name="<b>Tablet</b>")
    added = only_notice(app, "A way to log in was added")
    assert "2FA method added (Authenticator app '<b>Tablet</b>')" in added.text
    assert "&lt;b&gt;Tablet&lt;/b&gt;" in added.html and "<b>Tablet" not in added.html
    auth.open_sudo_page(f"/profile/methods/{method_id(app, kind='totp')}/remove")
    auth.post(f"/profile/methods/{method_id(app, kind='totp')}/remove")
    assert notices(app)[-1].subject == "Security notice: A way to log in was removed"


def test_phone_number_changed(app, auth, alice_2fa):
    auth.open_sudo_page("/profile/2fa/phone")
    auth.post("/profile/2fa/phone", {"country": "GB", "phone": "07400 654321"})
    auth.confirm(phone="+447400654321")
    mail = only_notice(app, "Your phone number was changed")
    assert_says_what_when_where(mail, "Phone number changed (to +44 ••• ••• •321)")
    assert "+447400654321" not in mail.text


def test_a_recovery_code_used_and_new_codes(app, auth, alice_2fa):
    auth.logout()
    auth.login()
    auth.post("/auth/recovery", {"code": alice_2fa[0]})
    mail = only_notice(app, "A recovery code was used")
    assert "Recovery code used (9 left)" in mail.text
    auth.open_sudo_page("/profile/recovery-codes/regenerate")
    auth.post("/profile/recovery-codes/regenerate")
    assert notices(app)[-1].subject == "Security notice: New recovery codes were created"


def test_the_account_deleted(app, auth):
    auth.register()
    give_address(app)
    auth.open_sudo_page("/profile/delete")
    auth.post("/profile/delete", {"username": "alice"})
    mail = only_notice(app, "Your account was deleted")
    assert "can't be restored" in mail.text and "Contact the site's administrator" in mail.text


def test_an_operator_turning_2fa_off_is_told_as_such(app, auth, alice_2fa, runner):
    runner.invoke(args=["users", "reset-2fa", "alice"])
    mail = only_notice(app, "Two-factor authentication was turned off")
    assert "turned off by an administrator" in mail.text
    assert "An administrator, on the command line" in mail.text and "Network: not known" in mail.text


def test_what_a_browser_sends_is_escaped_in_the_html(app, fake):
    visitor = new_browser(app, fake, user_agent='<img src="https://evil.test/pixel">', ip="203.0.113.8")
    visitor.register()
    give_address(app)
    visitor.open_sudo_page("/profile/password")
    visitor.post("/profile/password", {"password": "a new one please", "password2": "a new one please"})
    [mail] = notices(app)
    assert "&lt;img src=&#34;https://evil.test/pixel&#34;&gt;" in mail.html
    assert "<img" not in mail.html and '<img src="https://evil.test/pixel">' in mail.text


def test_no_notice_without_a_confirmed_address(app, auth):
    auth.register(password=PASSWORD)
    with app.app_context():
        from app import emails

        user = User.by_username("alice")
        emails.start_confirmation(user, ALICE)  # waiting for its link only
        db.session.commit()
    auth.open_sudo_page("/profile/password")
    auth.post("/profile/password", {"password": "a new one please", "password2": "a new one please"})
    assert notices(app) == []
    assert [mail.subject for mail in sent_mails(app)] == ["Confirm your email address"]


def test_plain_events_send_nothing(app, auth):
    auth.register()
    give_address(app)
    auth.logout()
    auth.login(password="wrong password!")
    auth.login()
    assert notices(app) == []
