"""Passkeys and security keys in a real browser: Chromium's virtual authenticator (DevTools'
WebAuthn domain: ctap2, user verification, automatic presence) stands in for a phone's screen lock
or a USB key. The site is opened as http://localhost:PORT: WebAuthn needs a host name for its RP ID
(an address such as 127.0.0.1 is refused by the browser), and localhost is a secure context.

Three journeys: a passkey added from the profile, then signing in with it and nothing else; a
security key as the second step after the password, then removed; the login page without
JavaScript (no passkey button, the password form as before). Each step is screenshotted at 375 and
1280 px and checked by axe (Person.snap)."""
import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, Person, slug

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def site(live_server):
    """The live server, by the name WebAuthn accepts: localhost."""
    live_server.url = live_server.url.replace("://127.0.0.1:", "://localhost:")
    return live_server


@pytest.fixture
def person_at(site, fake, request):
    folder = ARTIFACTS / slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)

    def make(page, scripts=True):
        return PasskeyPerson(page, site, fake, folder, "alice", scripts)

    return make


class VirtualAuthenticator:
    """An authenticator in this tab: a platform passkey (internal, discoverable, verifies its user)
    or a security key (usb). With presence on, the person's touch is simulated at once; with it
    off, a request waits (as autofill waits for the person to pick a passkey)."""

    def __init__(self, page, transport="internal", resident_keys=True, verifies_user=True):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": transport, "hasResidentKey": resident_keys,
            "hasUserVerification": verifies_user, "isUserVerified": verifies_user,
            "automaticPresenceSimulation": True,
        }})["authenticatorId"]

    def credentials(self):
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def presence(self, on):
        self.cdp.send("WebAuthn.setAutomaticPresenceSimulation", {"authenticatorId": self.id, "enabled": on})


class PasskeyPerson(Person):
    def add_passkey(self, first):
        """From the profile: "Add a passkey", confirm it's you with the password (when asked), then
        the page's button; the browser makes the passkey. The first way to log in turns 2FA on
        through the recovery codes."""
        self.open("/profile")
        self.page.get_by_role("link", name="Add a passkey", exact=True).click()
        if "/auth/reauthenticate" in self.page.url:
            self.confirm_password_to("add a passkey")
        self.at("/profile/passkeys/add", "^Add a passkey$")
        expect(self.page.get_by_text("This browser can't add a passkey")).to_be_hidden()
        self.snap("add a passkey")
        self.submit("Add a passkey", 200)
        if first:
            expect(self.alert()).to_have_text("Your passkey is added. One last step: save your recovery codes.")
            self.save_recovery_codes()
            expect(self.alert().first).to_contain_text("Each login will now ask for your passkey or security key")
        else:
            expect(self.alert()).to_contain_text("Your passkey is added. Passkey can now be used to log in.")
        self.at_profile()
        ways = self.ways_to_log_in()
        expect(ways.get_by_text("Passkey", exact=True)).to_be_visible()
        expect(self.page.get_by_role("link", name="Rename Passkey", exact=True)).to_be_visible()
        expect(self.page.get_by_role("link", name="Remove Passkey", exact=True)).to_be_visible()
        self.snap("passkey added")

    def sign_in_with_passkey(self, authenticator):
        """On the login page, "Sign in with a passkey": no username, no password, no code. (The
        authenticator waits until then: the username field's autofill request is pending.)"""
        self.open("/auth/login")
        self.at("/auth/login", "^Log in$")
        expect(self.page.get_by_label("Username")).to_have_attribute("autocomplete", "username webauthn")
        button = self.page.get_by_role("button", name="Sign in with a passkey", exact=True)
        expect(button).to_be_visible()
        self.snap("login page with passkeys")
        authenticator.presence(True)
        self.submit("Sign in with a passkey", 200)
        self.at_profile()
        expect(self.alert()).to_have_text("You are logged in with your passkey.")
        self.snap("signed in with a passkey")

    def use_passkey_step(self, purpose_path="/auth/verify", heading="^Use your passkey or security key$"):
        """The second step offers the passkey or security key first; its button answers it."""
        self.at(purpose_path, heading)
        expect(self.page.get_by_label("Verification code")).to_have_count(0)
        expect(self.page.get_by_role("link", name="Use another way")).to_be_visible()
        self.snap("passkey step")
        self.submit("Use a passkey or security key", 200)

    def remove_passkey(self):
        """"Remove" beside the key: confirm it's you (the password, then the key), then remove."""
        self.open("/profile")
        self.page.get_by_role("link", name="Remove Passkey", exact=True).click()
        self.at("/auth/reauthenticate", "^Confirm it's you$")
        self.page.get_by_label("Password").fill("correct horse battery")
        self.submit("Confirm", 200)
        self.use_passkey_step("/auth/reauthenticate/code", "^Use your passkey or security key to confirm it's you$")
        expect(self.page).to_have_url(re.compile(re.escape(self.server.url) + r"/profile/methods/\d+/remove$"))
        self.snap("remove the passkey")
        self.submit("Remove", 200)
        self.at_profile()
        expect(self.alert()).to_contain_text("Passkey is removed: it can no longer be used to log in.")
        expect(self.ways_to_log_in().get_by_text("Passkey", exact=True)).to_have_count(0)
        self.snap("passkey removed")


def test_add_a_passkey_then_sign_in_with_it_and_nothing_else(page, person_at, fake):
    authenticator = VirtualAuthenticator(page)
    person = person_at(page)
    person.sign_up()
    person.add_passkey(first=True)
    made = authenticator.credentials()
    assert len(made) == 1 and made[0]["isResidentCredential"], made  # discoverable: a passkey
    assert made[0]["rpId"] == "localhost"
    authenticator.presence(False)
    person.log_out()
    person.sign_in_with_passkey(authenticator)
    assert fake.sends == [], "a passkey needs no text message"
    expect(person.page.get_by_text("with a passkey ('Passkey'), without a password")).to_be_visible()
    # The username field's autofill: the virtual authenticator picks the passkey as soon as the
    # login page offers it (a person would pick it from the field's suggestions).
    person.submit("Log out", 200)
    person.at_profile()
    expect(person.alert()).to_have_text("You are logged in with your passkey.")
    person.snap("signed in through autofill")


def test_a_security_key_as_second_factor_then_removed(page, person_at, fake):
    authenticator = VirtualAuthenticator(page, transport="usb", resident_keys=False, verifies_user=False)
    person = person_at(page)
    person.sign_up()
    person.enable_2fa()  # the phone first: turning 2FA on confirmed it's you for a while
    person.add_passkey(first=False)
    assert len(authenticator.credentials()) == 1
    person.log_out()
    sends = len(fake.sends)
    person.open("/auth/login")
    person.page.get_by_label("Username").fill("alice")
    person.page.get_by_label("Password").fill("correct horse battery")
    person.submit("Log in", 200)
    person.use_passkey_step()  # offered before the phone, and nothing is sent
    person.at_profile()
    expect(person.alert()).to_have_text("You are logged in.")
    assert len(fake.sends) == sends
    person.remove_passkey()
    expect(person.ways_to_log_in().get_by_role("listitem")).to_have_count(1)  # the phone is left


def test_the_login_page_without_javascript(new_context, person_at):
    page = new_context(java_script_enabled=False).new_page()
    person = person_at(page, scripts=False)
    person.sign_up()
    person.log_out()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_have_count(0)  # absent, not broken
    person.log_in(expect_code=False)
