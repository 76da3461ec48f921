"""An email address and a forgotten password, in a real browser: add an address from the profile
(after confirming it's you), confirm it through its link, then forget the password and set a new
one through the mailed link. Each step is screenshotted at 375 and 1280 px and checked by axe."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Person
from tests.conftest import PASSWORD
from tests.mail_support import sent_mails

pytestmark = [pytest.mark.browser, pytest.mark.live]

ADDRESS = "alice@example.test"
NEW_PASSWORD = "a brand new passphrase"


class MailPerson(Person):
    """A Person who also reads their mail (the live server's outbox, delivered on demand)."""

    def open_mail_link(self, subject, path):
        mails = [mail for mail in sent_mails(self.server.app) if mail.subject == subject]
        assert mails, f"no mail {subject!r}"
        self.open(mails[-1].link_path(path))

    def add_email(self, address):
        self.open("/profile")
        self.page.get_by_role("link", name="Add an email address").click()
        self.at("/auth/reauthenticate", "^Confirm it's you$")
        expect(self.page.get_by_text("You are confirming it's you to add or change your email address.")).to_be_visible()
        self.page.get_by_label("Password").fill(PASSWORD)
        self.submit("Confirm", 200)
        self.at("/profile/email", "^Add an email address$")
        field = self.page.get_by_label("Email address")
        field.fill(f"{address}, mallory@example.test")
        self.submit("Send confirmation link", 400)
        expect(self.page.get_by_label("Email address")).to_have_accessible_description(re.compile(
            "For resetting a forgotten password and for security notices.* Enter one email address only"))
        self.snap("two addresses refused", field_errors=1)
        self.page.get_by_label("Email address").fill(address)
        self.submit("Send confirmation link", 200)
        self.at_profile()
        expect(self.alert()).to_have_text(f"We sent a link to {address}. Open it within 24 hours to confirm the address.")
        expect(self.page.get_by_role("status")).to_contain_text(f"We sent a link to {address}.")
        self.snap("confirmation link sent")

    def confirm_email(self, address):
        self.open_mail_link("Confirm your email address", "/auth/confirm-email")
        self.at("/auth/confirm-email", "^Confirm your email address$")
        expect(self.page.get_by_text(address, exact=True)).to_be_visible()
        self.snap("confirm the address")
        self.submit("Confirm my email address", 200)
        self.at_profile()
        expect(self.alert()).to_have_text(f"Your email address is confirmed: {address}.")
        expect(self.page.get_by_role("link", name="Change email address")).to_be_visible()
        self.snap("address confirmed")

    def reset_forgotten_password(self, typed, new_password):
        self.open("/auth/login")
        self.page.get_by_role("link", name="Forgot your password?").click()
        self.at("/auth/forgot-password", "^Reset your password$")
        self.page.get_by_label("Username or email address").fill(typed)
        self.snap("forgot password")
        self.submit("Send me a link", 200)
        self.at("/auth/forgot-password/sent", "^Check your email$")
        expect(self.page.get_by_text("If an account with a confirmed email address matches, we've sent it a link")).to_be_visible()
        self.snap("link sent if the account matches")
        self.open_mail_link("Reset your password", "/auth/reset-password")
        self.at("/auth/reset-password", "^Choose a new password$")
        self.page.get_by_label("New password", exact=True).fill(new_password)
        self.page.get_by_label("Repeat new password").fill(new_password)
        self.snap("new password typed")
        self.submit("Set my new password", 200)
        self.at("/auth/login", "^Log in$")
        expect(self.alert()).to_have_text(
            "Your password is reset, and you are logged out everywhere. Log in with your new password.")
        self.snap("password reset")


def test_add_and_confirm_an_address_then_reset_a_forgotten_password(page, live_server, fake, request):
    from tests.browser.conftest import ARTIFACTS, slug

    person = MailPerson(page, live_server, fake, ARTIFACTS / slug(request.node.name))
    person.sign_up()
    person.add_email(ADDRESS)
    person.confirm_email(ADDRESS)
    person.log_out()
    person.reset_forgotten_password(ADDRESS, NEW_PASSWORD)
    person.log_in(password=NEW_PASSWORD, expect_code=False)
    expect(page.get_by_text("Password reset with a link sent by email")).to_be_visible()
    # The used link is dead: one plain page.
    person.open_mail_link("Reset your password", "/auth/reset-password")
    assert person.last_status == 400
    person.at("/auth/reset-password", "^This link can't be used$")
    expect(page.get_by_text("This link has expired or was already used. Ask for a new one.")).to_be_visible()
    person.snap("used link")
