"""Forms everyone can use, and the words on every page, at the HTTP level.

GOV.UK's pattern: the rules are hints before the first try; a failed submit puts an error summary
("There is a problem", role="alert", one link per problem to its field) first on the page and
"Error: " before the title; each message says what to do. Every page's <title> is its h1.
"""
import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

import sqlalchemy as sa

from app import events
from app.extensions import db
from app.models import TrustedDevice, utcnow
from tests.conftest import PASSWORD
from tests.support import NO_SEND_LIMITS, new_browser

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)


class Page(HTMLParser):
    """What a test needs from a page: title, h1, the error summary's links, inputs by id, and the
    order in which the summary, the flashes and the h1 come."""

    def __init__(self, response):
        super().__init__()
        self.status = response.status_code
        self.title = self.h1 = ""
        self.summary = None  # the error summary's attributes
        self.summary_links = []  # (href, text)
        self.hints = {}  # element id -> text, for every element with an id
        self.inputs = {}  # id -> attributes
        self.order = []  # "summary", "h1" as they come
        self.visible_text = []
        self._open = []  # (tag, attrs, text parts) being read
        self.feed(response.get_data(as_text=True))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea") and attrs.get("id"):
            self.inputs[attrs["id"]] = attrs
        if "data-error-summary" in attrs:
            self.summary = attrs
            self.order.append("summary")
        if tag == "h1":
            self.order.append("h1")
        if tag not in ("input", "br", "meta", "link"):
            self._open.append((tag, attrs, []))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, attrs, parts = self._open.pop()
            text = " ".join("".join(parts).split())
            if self._open:
                self._open[-1][2].append("".join(parts))
            if open_tag == "title":
                self.title = text
            elif open_tag == "h1":
                self.h1 = text
            elif open_tag == "a" and self.summary is not None and len(self.summary_links) < 50 and \
                    attrs.get("href", "").startswith("#") and attrs.get("class") == "alert-link":
                self.summary_links.append((attrs["href"], text))
            if attrs.get("id"):
                self.hints[attrs["id"]] = text
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)
        if not self._open or self._open[-1][0] not in ("script", "style", "title"):
            self.visible_text.append(data)

    def text(self):
        return " ".join(" ".join(self.visible_text).split())

    def description_of(self, field_id):
        ids = self.inputs[field_id].get("aria-describedby", "").split()
        return " ".join(self.hints[i] for i in ids)


def page(response):
    return Page(response)


@pytest.fixture
def alice(auth):
    """Logged in without 2FA, having confirmed it's you to turn it on."""
    auth.register("alice")
    auth.confirm_its_you_to("/profile/2fa/enable")
    return auth


@pytest.fixture
def alice_2fa(auth):
    auth.signup_with_2fa("alice")
    return auth


# -- hints before the first try -----------------------------------------------------------------

@pytest.mark.parametrize(("url", "field", "hint"), [
    ("/auth/register", "username", "3 to 32 characters: letters, digits, dots (.), dashes (-) and underscores (_)."),
    ("/auth/register", "password", "At least 8 characters. Avoid common passwords and your username."),
    ("/auth/login", "remember_me",
     "Keeps you logged in on this browser for 30 days, even after you close it. Don't tick this on a shared computer."),
])
def test_rules_are_hints_tied_to_their_field_before_anyone_fails(client, url, field, hint):
    shown = page(client.get(url))
    assert shown.status == 200
    assert shown.description_of(field) == hint
    assert shown.summary is None and not shown.title.startswith("Error")


@pytest.mark.parametrize(("languages", "example"), [("en-GB,en;q=0.8", "07400 123456"), ("fr-FR", "06 12 34 56 78")])
def test_the_number_hint_gives_an_example_of_the_country_preselected(alice, languages, example):
    alice.client.set_cookie("locale", "en")  # English words; the browser's region picks the country
    shown = page(alice.client.get("/profile/2fa/enable", headers={"Accept-Language": languages}))
    assert shown.description_of("phone") == (f"Your mobile number as you dial it in its country, like {example}, "
                                             "or starting with + and the country code.")
    assert "national or international" not in shown.text()


def test_the_two_remember_options_are_told_apart(alice_2fa):
    login = page(alice_2fa.client.get("/auth/login"))
    alice_2fa.login()
    code = page(alice_2fa.client.get("/auth/verify"))
    remember_me, remember_browser = login.description_of("remember_me"), code.description_of("remember_device")
    assert remember_me != remember_browser
    # What each does, for how long, on which browser.
    assert "logged in" in remember_me and "30 days" in remember_me and "this browser" in remember_me
    assert "password only" in remember_browser and "30 days" in remember_browser and "this browser" in remember_browser
    assert "Don't ask for a code on this browser for 30 days" in code.text()


@pytest.mark.app_settings(REMEMBER_LIFETIME=timedelta(days=7), TRUSTED_DEVICE_DAYS=14, **NO_SEND_LIMITS)
def test_remember_hints_follow_the_settings(alice_2fa):
    login = page(alice_2fa.client.get("/auth/login"))
    alice_2fa.login()
    code = page(alice_2fa.client.get("/auth/verify"))
    assert "for 7 days" in login.description_of("remember_me")
    assert "For 14 days" in code.description_of("remember_device")
    assert "Don't ask for a code on this browser for 14 days" in code.text()


# -- a failed submit ----------------------------------------------------------------------------

def register_empty(auth):
    return auth.post("/auth/register", {"username": "", "password": "", "password2": ""})


def register_common(auth):
    return auth.post("/auth/register", {"username": "alice", "password": "qwertyuiop", "password2": "qwertyuiop"})


def new_password_holding_the_username(auth):
    auth.register("alice")
    auth.open_sudo_page("/profile/password")
    return auth.post("/profile/password", {"password": "Alice in chains", "password2": "Alice in chains"})


def login_empty(auth):
    return auth.post("/auth/login", {"username": "", "password": ""})


def login_wrong(auth):
    auth.register("alice")
    auth.logout()
    return auth.login("alice", "wrong password")


def enrol_empty(auth):
    auth.register("alice")
    auth.confirm_its_you_to("/profile/2fa/enable")
    return auth.post("/profile/2fa/enable", {"country": "GB", "phone": ""})


def verify_empty(auth):
    auth.signup_with_2fa("alice")
    auth.login()
    return auth.post("/auth/verify", {"code": ""})


def reauthenticate_empty(auth):
    auth.register("alice")
    return auth.post("/auth/reauthenticate", {"password": ""})


def new_password_empty(auth):
    auth.register("alice")
    auth.open_sudo_page("/profile/password")
    return auth.post("/profile/password", {"password": "", "password2": ""})


def delete_empty(auth):
    auth.register("alice")
    auth.open_sudo_page("/profile/delete")
    return auth.post("/profile/delete", {"username": ""})


def recovery_empty(auth):
    auth.signup_with_2fa("alice")
    auth.login()
    return auth.post("/auth/recovery", {"code": ""})


@pytest.mark.parametrize(("submit", "status", "heading", "problems"), [
    (register_empty, 400, "Sign up",
     [("#username", "Enter a username."), ("#password", "Enter a password."), ("#password2", "Type the password again.")]),
    (register_common, 400, "Sign up", [("#password", "This password is too common: it is on lists attackers try "
                                        "first. Choose a longer phrase that isn't a well-known password.")]),
    (login_empty, 400, "Log in", [("#username", "Enter your username."), ("#password", "Enter your password.")]),
    (login_wrong, 401, "Log in", [("#username", "Invalid username or password.")]),
    (enrol_empty, 400, "Enable two-factor authentication (2FA)", [("#phone", "Enter your phone number.")]),
    (verify_empty, 400, "Enter your code", [("#code", "Enter the code we sent you.")]),
    (reauthenticate_empty, 400, "Confirm it's you", [("#password", "Enter your password.")]),
    (new_password_empty, 400, "Change your password",
     [("#password", "Enter a new password."), ("#password2", "Type the password again.")]),
    (new_password_holding_the_username, 400, "Change your password", [
        ("#password", "Your password can't contain your username: it is the first thing attackers try. "
                      "Choose a longer phrase.")]),
    (delete_empty, 400, "Delete your account", [("#username", "Type your username to confirm.")]),
    (recovery_empty, 400, "Use a recovery code", [("#code", "Enter one of your recovery codes.")]),
], ids=lambda value: value.__name__ if callable(value) else None)
def test_a_failed_submit_leads_with_an_error_summary(auth, submit, status, heading, problems):
    shown = page(submit(auth))
    assert shown.status == status
    assert shown.h1 == heading
    assert shown.title == f"Error: {heading}"
    assert shown.summary is not None, "no error summary"
    assert shown.summary["role"] == "alert" and shown.summary["tabindex"] == "-1"
    assert "There is a problem" in shown.text()
    assert shown.summary_links == problems
    assert shown.order[:2] == ["summary", "h1"], "the summary comes first"
    for href, _ in problems:
        assert href[1:] in shown.inputs, f"{href} links to no field"
    # The field's own message is there too, and no field grabs the focus from the summary.
    for field_id, attrs in shown.inputs.items():
        assert "autofocus" not in attrs, field_id
    for href, message in problems:
        if message != "Invalid username or password.":
            assert shown.inputs[href[1:]].get("aria-invalid") == "true"
            assert message in shown.description_of(href[1:])


def test_the_password_is_never_sent_back(auth):
    response = login_wrong(auth)
    assert "wrong password" not in response.get_data(as_text=True)
    assert page(response).inputs["username"]["value"] == "alice"


def test_a_code_page_without_errors_focuses_the_code_field(alice_2fa):
    alice_2fa.login()
    shown = page(alice_2fa.client.get("/auth/verify"))
    assert shown.summary is None
    assert "autofocus" in shown.inputs["code"]


# -- titles and words on every page -------------------------------------------------------------

ANONYMOUS_PAGES = ["/auth/login", "/auth/register", "/no-such-page"]
WITHOUT_2FA_PAGES = ["/profile", "/profile/2fa/enable", "/auth/reauthenticate"]
WITH_2FA_PAGES = ["/profile", "/profile/recovery-codes/regenerate", "/profile/2fa/phone", "/profile/2fa/disable",
                  "/profile/password", "/profile/delete"]


def assert_title_is_h1_in_house_words(response):
    shown = page(response)
    assert shown.h1, "no h1"
    assert shown.title == shown.h1, (shown.title, shown.h1)
    words = shown.text()
    for jargon in ("device", "code step", "pending", "Hello,"):
        assert jargon.lower() not in words.lower(), (jargon, response.request.path)


def test_every_page_title_is_its_h1_in_house_words(app, auth, client, fake):
    for url in ANONYMOUS_PAGES:
        assert_title_is_h1_in_house_words(client.get(url))
    auth.register("alice")
    auth.confirm_its_you_to("/profile/2fa/enable")
    for url in WITHOUT_2FA_PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_title_is_h1_in_house_words(response)
    auth.start_enrolment()
    assert_title_is_h1_in_house_words(client.get("/profile/2fa/confirm"))
    auth.confirm()
    assert_title_is_h1_in_house_words(client.get("/profile/recovery-codes"))
    for url in WITH_2FA_PAGES:
        assert_title_is_h1_in_house_words(auth.open_sudo_page(url))
    sudo = new_browser(app, fake)
    sudo.login_with_code()
    assert sudo.post("/auth/reauthenticate", {"password": PASSWORD}).status_code == 302
    assert_title_is_h1_in_house_words(sudo.client.get("/auth/reauthenticate/code"))
    auth.logout()
    auth.login()
    for url in ("/auth/verify", "/auth/recovery"):
        assert_title_is_h1_in_house_words(client.get(url))


def test_event_labels_are_in_house_words():
    kinds = {value for name, value in vars(events).items() if name.isupper() and isinstance(value, str)
             and name not in ("DESCRIPTIONS",)}
    assert kinds - set(events.DESCRIPTIONS) == {events.ACCOUNT_DELETED}  # never shown: the account is gone
    for kind, label in events.DESCRIPTIONS.items():
        for jargon in ("device", "code step", "pending", "verification code", "identity", "session"):
            assert jargon not in label.lower(), (kind, label)
    assert events.DESCRIPTIONS[events.PASSWORD_VERIFIED] == "Password entered, then asked for a code"


# -- the disable page and the danger zone -------------------------------------------------------

def test_the_disable_page_lists_everything_that_goes(app, auth, fake):
    auth.signup_with_2fa("alice")
    auth.login_with_code(remember_device=True)
    shown = page(auth.open_sudo_page("/profile/2fa/disable"))
    words = shown.text()
    assert "+44 ••• ••• •456" in words
    assert "your recovery codes (10 left)" in words
    assert "your remembered browsers (1)" in words
    assert "your other sessions" in words


def test_deleting_the_account_sits_alone_in_a_danger_zone(alice, client):
    body = client.get("/profile").get_data(as_text=True)
    danger = body[body.index('id="danger-heading"'):]
    danger = danger[:danger.index("</section>")]
    assert ">Danger zone</h2>" in danger
    assert 'href="/profile/delete">Delete account</a>' in danger
    assert "Change password" not in danger
    assert body.count('href="/profile/delete"') == 1


# -- the profile on a phone ---------------------------------------------------------------------

def test_events_are_a_list_with_times_written_out_in_utc(alice, client):
    body = html.unescape(client.get("/profile").get_data(as_text=True))
    section = body[body.index('id="events-heading"'):]
    section = section[:section.index("</section>")]
    assert "<table" not in section and '<ol class="list-unstyled event-list' in section
    times = re.findall(r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)" data-local>([^<]+)</time>', section)
    assert times, section
    for stamp, written in times:
        year, month, day, hour, minute = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)", stamp).groups()
        assert re.fullmatch(rf"{int(day)} \w{{3}} {year}, {hour}:{minute} UTC", written), written


def test_remembered_browsers_mark_this_one_and_each_forget_button_has_its_own_name(app, auth, fake):
    auth.signup_with_2fa("alice")
    mine = new_browser(app, fake, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0")
    other = new_browser(app, fake, user_agent="Mozilla/5.0 (Windows NT 10.0) Firefox/120.0")
    other.login_with_code(remember_device=True)
    mine.login_with_code(remember_device=True)
    for viewer, this_one in ((mine, "Chrome on Linux"), (other, "Firefox on Windows")):
        body = html.unescape(viewer.client.get("/profile").get_data(as_text=True))
        section = body[body.index('id="devices-heading"'):]
        section = section[:section.index("</section>")]
        items = re.findall(r'<li class="list-group-item.*?</li>', section, re.S)
        assert len(items) == 2
        marked = [item for item in items if "This browser" in item]
        assert len(marked) == 1 and this_one in marked[0]
        names = re.findall(r'<button type="submit" class="btn btn-sm btn-outline-danger" aria-label="([^"]+)">Forget</button>', section)
        assert len(names) == 2 and len(set(names)) == 2, names
        assert all(name.startswith("Forget ") for name in names)
        assert any(name.startswith(f"Forget this browser, {this_one}, last used ") for name in names), names


def test_look_alike_browsers_still_get_their_own_forget_names(app, auth, fake):
    auth.signup_with_2fa("alice")
    for _ in range(2):  # the same browser type, twice, last used at the same moment
        new_browser(app, fake).login_with_code(remember_device=True)
    with app.app_context():
        db.session.execute(sa.update(TrustedDevice).values(last_used_at=utcnow(), ip="192.0.2.1"))
        db.session.commit()
    auth.login_with_code()
    body = html.unescape(auth.client.get("/profile").get_data(as_text=True))
    names = re.findall(r'aria-label="(Forget [^"]+)"', body)
    assert len(names) == 2 and len(set(names)) == 2, names


def test_event_labels_on_the_profile_are_the_descriptions(alice, client):
    body = client.get("/profile").get_data(as_text=True)
    assert "Account created" in body
    assert alice.post("/auth/reauthenticate", {"password": PASSWORD}).status_code == 302
    body = html.unescape(client.get("/profile").get_data(as_text=True))
    assert "Confirmed it's you before a change to your security settings" in body
