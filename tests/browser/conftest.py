"""Browser tests: Debian's Chromium driven by Playwright against the app on a live loopback server.

The fixtures build on pytest-playwright's (`browser`, `new_context`, `page`); Chromium is the
system one at /usr/bin/chromium, never a downloaded build. A test module marks itself `browser`,
so without Chromium it is skipped with the reason (and fails when CI=true).

`Person` does what someone in front of the browser does, finding fields by their labels and
buttons by their names. After each step it saves a screenshot under test-artifacts/browser/ and
checks the page: its accessibility basics (`check_page`) and axe-core's rules (`check_axe`), with
zero violations allowed. Screenshots are taken 375 and 1280 px wide.

axe-core is injected through Playwright's evaluate, which the app's CSP does not block, so the
contexts keep the CSP on and the app's own scripts are tested under it.
"""
import re
import shutil
import threading
import time
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from tests.conftest import CHROMIUM, PASSWORD, PHONE, build_app, dispose_app, make_config, postgres_url

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
MOBILE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
AXE = Axe()


def same_time_or_a_minute_on(sentence):
    """`sentence` ("... after 14:32 UTC.") or the same a minute later: the page and the answer to
    an early click each round a whole-second wait up to the minute, a moment apart, so a wait that
    ends in the last second of a minute may be written as the next one."""
    shown = re.search(r"(\d\d):(\d\d) UTC", sentence)
    hours, minutes = divmod((int(shown[1]) * 60 + int(shown[2]) + 1) % (24 * 60), 60)
    later = f"{sentence[:shown.start()]}{hours:02d}:{minutes:02d} UTC{sentence[shown.end():]}"
    return re.compile(f"^({re.escape(sentence)}|{re.escape(later)})$")


CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # the machine's network is closed: no update or sync calls
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url():
    """Replaces pytest-playwright 0.10's own, a method fixture that pytest 9 deprecates
    (PytestRemovedIn10Warning); the tests open full URLs of the live server."""
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Reduced motion: no colour transitions half-way through when a screenshot or axe looks.
    return {**browser_context_args, "viewport": MOBILE, "locale": "en-GB", "reduced_motion": "reduce"}


class LiveServer:
    """The app served by werkzeug on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    def let_cooldown_pass(self, phone=PHONE):
        """As if SEND_COOLDOWN_SECONDS had passed for `phone` (the limiter's memory storage
        counts real time, so the wait is cleared rather than slept through)."""
        from app.codes import clear_cooldown

        with self.app.app_context():
            clear_cooldown(phone)


@pytest.fixture
def live_server(fake, tmp_path, app_overrides):
    """On the suite's PostgreSQL when it runs on one, else on a temporary SQLite file (the
    default in-memory SQLite would give each server thread a database of its own). Settings from
    `@pytest.mark.app_settings(...)` apply, as for the `app` fixture."""
    database = postgres_url() or f"sqlite:///{tmp_path / 'live.db'}"
    app = build_app(make_config(fake, **{"SQLALCHEMY_DATABASE_URI": database, **app_overrides}))
    with LiveServer(app) as server:
        yield server
    dispose_app(app)


@pytest.fixture
def sudo_clock(monkeypatch):
    """Moves the clock that sudo mode reads (app.security), e.g. past SUDO_MINUTES."""
    import app.security

    class Clock:
        offset = 0.0

        def time(self):
            return time.time() + self.offset

        def advance(self, seconds):
            self.offset += seconds

    clock = Clock()
    monkeypatch.setattr(app.security, "time", clock)
    return clock


# Accessibility basics, run on every page a Person sees: labels, one h1 that is also the title
# ("Error: " first after a failed submit, with an error summary before the h1), errors tied to
# their fields, no sideways scrolling.
PAGE_CHECKS = """() => {
  const problems = [];
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const text = el => (el ? el.textContent.trim() : "");
  const fields = [...document.querySelectorAll("input, select, textarea")]
    .filter(el => !["hidden", "submit", "button", "reset", "image"].includes(el.type));
  for (const el of fields) {
    const labelled = [...(el.labels || [])].some(label => text(label))
      || (el.getAttribute("aria-label") || "").trim()
      || (el.getAttribute("aria-labelledby") || "").split(/\\s+/).some(id => text(document.getElementById(id)));
    if (!labelled) problems.push(`field ${el.name || el.id || el.type} has no label`);
  }
  for (const el of document.querySelectorAll("button, input[type=submit]")) {
    if (!(text(el) || el.value || el.getAttribute("aria-label"))) problems.push("a button has no name");
  }
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} h1 elements, not one`);
  for (const el of document.querySelectorAll("[aria-describedby]")) {
    for (const id of el.getAttribute("aria-describedby").split(/\\s+/).filter(Boolean)) {
      if (!text(document.getElementById(id))) problems.push(`${el.name}: aria-describedby names empty or missing #${id}`);
    }
  }
  const errors = [...document.querySelectorAll(".invalid-feedback")].filter(el => visible(el) && text(el));
  for (const error of errors) {
    const tied = error.id && document.querySelector(`[aria-describedby~="${error.id}"][aria-invalid="true"]`);
    if (!tied) problems.push(`error "${text(error)}" is not tied to its field`);
  }
  for (const el of document.querySelectorAll("[aria-invalid=true]")) {
    const ids = (el.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
    if (!ids.some(id => document.getElementById(id)?.classList.contains("invalid-feedback")))
      problems.push(`${el.name} is invalid but no error describes it`);
  }
  const heading = document.querySelector("h1");
  const summary = document.querySelector("[data-error-summary]");
  // After a failed submit the title is the h1 with the page language's "Error: " before it.
  const titled = summary ? document.title.endsWith(text(heading)) && document.title !== text(heading)
                         : document.title === text(heading);
  if (!titled) problems.push(`title "${document.title}" does not match the h1 "${text(heading)}"`);
  if (errors.length && !summary) problems.push("field errors but no error summary");
  if (summary && heading && !(summary.compareDocumentPosition(heading) & Node.DOCUMENT_POSITION_FOLLOWING))
    problems.push("the error summary does not come before the h1");
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.title.trim()) problems.push("the page has no title");
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth) problems.push(`scrolls sideways: ${width}px wide in a ${window.innerWidth}px window`);
  return {problems, errors: errors.length};
}"""


def check_page(page: Page):
    """Every field labelled, one h1, errors tied to fields, no sideways scroll; returns the
    number of field errors shown, so a step can say how many it expects."""
    result = page.evaluate(PAGE_CHECKS)
    assert result["problems"] == [], f"{page.url}: {result['problems']}"
    return result["errors"]


CHECKED_BY_AXE = set()  # (width, document) pairs already found clean in this test session
TOKENS = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]*"')


def check_axe(page: Page):
    """axe-core's rules (WCAG 2 A/AA and best practices) on the page as it is: no violations.
    A document already found clean at this width (the same markup, tokens aside) is not run again."""
    seen = (page.viewport_size["width"], TOKENS.sub(r'\1"', page.content()))
    if seen in CHECKED_BY_AXE:
        return
    results = AXE.run(page).response
    assert results.get("testEngine", {}).get("name") == "axe-core", "axe-core did not run"
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results["violations"]
    ]
    assert violations == [], f"{page.url}: {violations}"
    CHECKED_BY_AXE.add(seen)


OWN_SCRIPT = re.compile(r"/static/[^/?]+\.js(\?|$)")  # with or without its ?v= hash


def check_axe_as_served(page: Page):
    """axe-core needs scripts, which never finish in a context that has them off: the page is
    checked in a twin with scripts on, fed the same HTML at the same address, with the app's own
    scripts blocked so the document stays as a browser without JavaScript shows it."""
    html = page.content()
    twin_context = page.context.browser.new_context(viewport=page.viewport_size, reduced_motion="reduce")
    try:
        twin_context.route(OWN_SCRIPT, lambda route: route.abort())
        twin = twin_context.new_page()
        twin.route(lambda url: url == page.url,
                   lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
        twin.goto(page.url)
        check_axe(twin)
    finally:
        twin_context.close()


def snap_both_widths(page: Page, folder: Path, name, scripts=True):
    """Screenshots at phone and desktop widths, axe at both; the page is left phone-sized."""
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("375", MOBILE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        (check_axe if scripts else check_axe_as_served)(page)


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Person:
    """Someone at the browser. Each method is one step a person takes, ending in a screenshot
    and the page checks; add a method here for each new feature's step."""

    def __init__(self, page: Page, server: LiveServer, fake, folder: Path, username="alice", scripts=True):
        self.page, self.server, self.fake = page, server, fake
        self.scripts = scripts  # False when the page's context has JavaScript off
        if scripts:
            # Page timers run on a clock the test can move forward (the resend countdown); it
            # keeps real time otherwise.
            page.clock.install()
        self.folder = folder
        self.username = username
        self.steps = 0
        self.last_status = None
        self.recovery_codes = []
        self.app_keys = {}  # an authenticator app's name -> its key, read off the setup page
        self.app_steps = {}  # an authenticator app's name -> the 30-second step of its last code used

    # -- plumbing ---------------------------------------------------------------------------
    def snap(self, name, field_errors=0):
        """Screenshot and page checks after a step."""
        self.steps += 1
        snap_both_widths(self.page, self.folder, f"{self.steps:02d}-{slug(name)}", self.scripts)
        assert check_page(self.page) == field_errors, f"{name}: field errors shown"

    def open(self, path):
        response = self.page.goto(self.server.url + path)
        self.last_status = response.status
        return response

    def submit(self, button, status=None):
        """Press a button that sends a form; returns the final page's HTTP status."""
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=button, exact=True).click()
        self.last_status = navigation.value.status
        if status is not None:
            assert self.last_status == status, f"{button}: {self.last_status}, expected {status}"
        return self.last_status

    def heading(self):
        return self.page.get_by_role("heading", level=1)

    def at(self, path, heading):
        """On `path` (query string aside), under an h1 that matches the regex `heading`."""
        expect(self.page).to_have_url(re.compile(re.escape(self.server.url + path) + r"(\?.*)?$"))
        expect(self.heading()).to_have_text(re.compile(heading, re.IGNORECASE))

    def at_profile(self):
        self.at("/profile", "^Your profile$")
        expect(self.page.get_by_text(f"You are logged in as {self.username}.", exact=True)).to_be_visible()

    def alert(self):
        return self.page.get_by_role("alert")

    # -- steps ------------------------------------------------------------------------------
    def sign_up(self, password=PASSWORD):
        self.open("/auth/register")
        self.at("/auth/register", "Sign up")
        self.page.get_by_label("Username").fill(self.username)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_label("Repeat password").fill(password)
        self.submit("Sign up", 200)
        self.at_profile()
        expect(self.alert()).to_contain_text("Your account is ready")
        self.snap("signed up")

    def enable_2fa(self, national="07400 123456", country="GB", phone=PHONE):
        self.page.get_by_role("link", name="Enable 2FA").click()
        if "/auth/reauthenticate" in self.page.url:  # not when it was confirmed a moment ago
            self.confirm_password_to("turn on two-factor authentication (2FA)")
        self.at("/profile/2fa/enable", "two-factor|2FA")
        self.page.get_by_label("Country").select_option(country)
        self.page.get_by_label("Phone number").fill(national)
        self.snap("phone number entered")
        self.submit("Send code", 200)
        self.at("/profile/2fa/confirm", "Confirm your .*number")
        expect(self.alert()).to_contain_text("We sent a code by text message")
        self.snap("enrolment code sent")
        self.page.get_by_label("Verification code").fill(self.fake.last_code(phone))
        self.submit("Verify", 200)
        # Not "on" yet: the recovery codes come first.
        expect(self.alert()).to_have_text("Your number is confirmed. One last step: save your recovery codes.")
        self.save_recovery_codes()
        expect(self.page.get_by_role("alert").first).to_contain_text("Two-factor authentication is on.")
        self.at_profile()
        expect(self.page.get_by_text("+44 ••• ••• •456", exact=True)).to_be_visible()
        expect(self.page.get_by_text("You have 10 recovery codes left.")).to_be_visible()
        self.snap("2fa on")

    def save_recovery_codes(self, saved_message="Keep your recovery codes somewhere safe, away from your phone."):
        """Ten codes shown once, in a framed block: read them, download them (Copy and Print only
        with JavaScript), then 'I have saved my recovery codes'."""
        self.at("/profile/recovery-codes", "^Save your recovery codes$")
        expect(self.page.get_by_role("region", name=f"Recovery codes for {self.username}")).to_be_visible()
        for button in ("Copy", "Print"):
            expect(self.page.get_by_role("button", name=button, exact=True)).to_have_count(1 if self.scripts else 0)
        codes = self.page.get_by_role("list", name="Recovery codes").get_by_role("listitem").all_inner_texts()
        codes = [code.strip() for code in codes]
        assert len(codes) == 10 and len(set(codes)) == 10, codes
        assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}", code) for code in codes), codes
        with self.page.expect_download() as download:
            self.page.get_by_role("link", name="Download as .txt").click()
        assert download.value.suggested_filename.endswith(".txt")
        text = Path(download.value.path()).read_text()
        assert re.findall(r"\b[a-z2-9]{4}-[a-z2-9]{4}\b", text) == codes, text  # the same ten, in order
        self.recovery_codes = codes
        self.snap("recovery codes shown")
        self.submit("I have saved my recovery codes", 200)
        expect(self.alert()).to_contain_text(saved_message)

    def log_in_with_recovery_code(self, code, accepted=True):
        self.page.get_by_role("link", name="Use a recovery code").click()
        self.at("/auth/recovery", "recovery code")
        self.page.get_by_label("Recovery code").fill(code)
        if accepted:
            self.submit("Log in", 200)
            self.at_profile()
            expect(self.alert()).to_contain_text("You are logged in with a recovery code")
            self.snap("logged in with a recovery code")
        else:
            self.submit("Log in", 401)
            expect(self.page.get_by_label("Recovery code")).to_have_accessible_description(
                re.compile("not valid or was already used"))
            self.snap("recovery code refused", field_errors=1)

    def confirm_password_to(self, purpose):
        """Without 2FA, confirming it's you is the password again: a fresh login is not enough to
        add a factor."""
        self.at("/auth/reauthenticate", "^Confirm it's you$")
        expect(self.page.get_by_text(f"You are confirming it's you to {purpose}.")).to_be_visible()
        self.page.get_by_label("Password").fill(PASSWORD)
        self.submit("Confirm", 200)

    def confirm_its_me(self, phone=PHONE):
        """Sudo mode: the password, then a code sent to the number on the account."""
        self.at("/auth/reauthenticate", "it's you")
        expect(self.alert()).to_have_text("Please confirm it's you to continue.")
        self.page.get_by_label("Password").fill(PASSWORD)
        sends = len(self.fake.sends)
        self.submit("Confirm", 200)
        self.at("/auth/reauthenticate/code", "it's you")
        assert [s["to"] for s in self.fake.sends[sends:]] == [phone], "the sudo code goes to the number on the account"
        self.page.get_by_label("Verification code").fill(self.fake.last_code(phone))
        self.snap("sudo code entered")
        self.submit("Verify", 200)

    def confirm_its_me_with_a_recovery_code(self, code, purpose):
        """Sudo mode without the phone: the password, then "Use a recovery code instead"."""
        self.at("/auth/reauthenticate", "^Confirm it's you$")
        expect(self.page.get_by_text(f"You are confirming it's you to {purpose}.")).to_be_visible()
        expect(self.page.get_by_role("link", name="Cancel")).to_have_attribute("href", "/profile")
        self.snap("confirm it's you: password")
        self.page.get_by_label("Password").fill(PASSWORD)
        self.submit("Confirm", 200)
        self.at("/auth/reauthenticate/code", "^Enter your code to confirm it's you$")
        expect(self.page.get_by_text("to your phone number ending in 56.")).to_be_visible()
        self.snap("confirm it's you: code")
        self.page.get_by_role("link", name="Use a recovery code instead").click()
        self.at("/auth/reauthenticate/recovery", "^Use a recovery code to confirm it's you$")
        self.page.get_by_label("Recovery code").fill(code)
        self.snap("confirm it's you: recovery code")
        self.submit("Confirm", 200)

    def change_phone(self, national, new_phone, old_phone=PHONE, masked=None, whole=None):
        self.open("/profile")
        self.page.get_by_role("link", name="Change phone number").click()
        self.confirm_its_me(old_phone)
        self.at("/profile/2fa/phone", "Change your phone number")
        self.page.get_by_label("Country").select_option("GB")
        self.page.get_by_label("Phone number").fill(national)
        self.snap("new number entered")
        sends = len(self.fake.sends)
        self.submit("Send code", 200)
        self.at("/profile/2fa/confirm", "Confirm your new number")
        assert [s["to"] for s in self.fake.sends[sends:]] == [new_phone]
        if whole:  # the number just typed, whole, so a typo can be seen
            expect(self.page.get_by_text(f"We sent a code by text message to {whole}.")).to_be_visible()
        self.snap("code sent to the new number")
        self.page.get_by_label("Verification code").fill(self.fake.last_code(new_phone))
        self.submit("Verify", 200)
        self.at_profile()
        expect(self.alert()).to_contain_text("Your phone number is changed")
        if masked:
            expect(self.page.get_by_text(masked, exact=True)).to_be_visible()
        self.snap("phone changed")

    def log_out(self):
        self.submit("Log out", 200)
        self.at("/auth/login", "Log in")
        expect(self.alert()).to_have_text("You are logged out.")
        self.snap("logged out")

    def log_in(self, password=PASSWORD, expect_code=True, app=None):
        """The password; then the code page (`app`: the authenticator app named so is used last,
        so its code is asked for and nothing is sent), or the profile when no code is asked."""
        self.open("/auth/login")
        self.page.get_by_label("Username").fill(self.username)
        self.page.get_by_label("Password").fill(password)
        sends = len(self.fake.sends)
        self.submit("Log in", 200)
        if expect_code:
            self.at("/auth/verify", "code")
            expect(self.page.get_by_label("Verification code")).to_be_visible()
            if app:
                expect(self.page.get_by_text(
                    f"Enter the 6-digit code that your authenticator app '{app}' shows now.", exact=True)).to_be_visible()
                for button in ("Resend code", "Call me instead"):
                    expect(self.page.get_by_role("button", name=button)).to_have_count(0)
                assert self.fake.sends[sends:] == [], "an authenticator app's login sends nothing"
            self.snap("password accepted, app code asked" if app else "password accepted, code asked")
        else:
            self.at_profile()
            assert self.fake.sends[sends:] == [], "no code is sent when none is asked"
            self.snap("logged in")

    def enter_wrong_code(self, phone=PHONE):
        right = self.fake.last_code(phone)
        wrong = f"{(int(right) + 1) % 10**6:06d}"
        code = self.page.get_by_label("Verification code")
        code.fill(wrong)
        self.submit("Verify", 401)
        code = self.page.get_by_label("Verification code")
        expect(code).to_have_attribute("aria-invalid", "true")
        expect(code).to_have_accessible_description("Incorrect code. Please try again.")
        self.snap("wrong code", field_errors=1)

    def enter_code(self, phone=PHONE, remember_browser=False):
        self.page.get_by_label("Verification code").fill(self.fake.last_code(phone))
        if remember_browser:
            self.page.get_by_label("Don't ask for a code on this browser for 30 days").check()
        self.submit("Verify", 200)
        self.at_profile()
        self.snap("code accepted")

    # -- authenticator apps -------------------------------------------------------------------
    def app_code(self, name):
        """A code of the app `name` the server accepts now. A code is accepted once per 30-second
        step, and the step before and after count too (clock drift): the earliest of those three
        not used yet, so a setup and a login a moment apart need no wait (a fourth code would)."""
        now = int(time.time()) // 30
        step = max(now - 1, self.app_steps.get(name, now - 2) + 1)
        if step > now + 1:
            time.sleep((now + 1) * 30 - time.time() + 0.2)
            return self.app_code(name)
        self.app_steps[name] = step
        return pyotp.TOTP(self.app_keys[name]).at(step * 30)

    def set_up_authenticator(self, name, phone=None):
        """From the profile: "Set up an authenticator app", confirm it's you (the password; with
        2FA, a code sent to `phone` too), then the setup page: a QR code, the key written out and as
        a link, a name and the app's code. Returns the key."""
        self.open("/profile")
        self.page.get_by_role("link", name="Set up an authenticator app", exact=True).click()
        if phone:
            self.confirm_its_me(phone)
        else:
            self.at("/auth/reauthenticate", "^Confirm it's you$")
            expect(self.page.get_by_text("You are confirming it's you to set up an authenticator app.")).to_be_visible()
            self.page.get_by_label("Password").fill(PASSWORD)
            self.submit("Confirm", 200)
        self.at("/profile/authenticator-app", "^Set up an authenticator app$")
        expect(self.page.get_by_role("img", name="QR code for your authenticator app", exact=True)).to_be_visible()
        written = self.page.locator("#setup-key").inner_text().strip()
        assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", written), written
        key = written.replace(" ", "")
        uri = pyotp.parse_uri(self.page.get_by_role("link", name="open the key in the app", exact=True).get_attribute("href"))
        assert (uri.secret, uri.name) == (key, self.username), uri
        expect(self.page.get_by_label("Name", exact=True)).to_have_value("Authenticator app")
        self.snap("authenticator app setup")
        self.app_keys[name] = key
        self.page.get_by_label("Name", exact=True).fill(name)
        self.page.get_by_label("Verification code").fill(self.app_code(name))
        self.submit("Set up", 200)
        what = f"Authenticator app '{name}'"
        if phone:  # another way to log in
            self.at_profile()
            expect(self.alert()).to_have_text(f"Your authenticator app is set up. {what} can now be used to log in.")
        else:  # the first: 2FA is on once the recovery codes are saved
            expect(self.alert()).to_have_text("Your authenticator app is set up. One last step: save your recovery codes.")
            self.save_recovery_codes()
            self.at_profile()
            expect(self.alert().first).to_contain_text(
                "Two-factor authentication is on. Each login will now ask for a code from your authenticator app.")
        expect(self.ways_to_log_in().get_by_text(what, exact=True)).to_be_visible()
        expect(self.page.get_by_role("link", name=f"Remove {what}", exact=True)).to_be_visible()
        self.snap("authenticator app set up")
        return key

    def enter_app_code(self, name):
        self.page.get_by_label("Verification code").fill(self.app_code(name))
        self.submit("Verify", 200)
        self.at_profile()
        expect(self.alert()).to_have_text("You are logged in.")
        self.snap("app code accepted")

    def use_another_way(self, words, ways, phone=PHONE, channel="sms"):
        """On the code page, "Use another way": every way in words (`ways`, the one in use chosen
        first), then `words` and Continue; a phone way sends a code and leads back to the code page."""
        self.page.get_by_role("link", name="Use another way", exact=True).click()
        self.at("/auth/verify/another", "^Use another way$")
        choice = self.page.get_by_role("group", name="How do you want to confirm it's you?", exact=True)
        expect(choice.get_by_role("radio")).to_have_count(len(ways))
        for way in ways:
            expect(choice.get_by_role("radio", name=way, exact=True)).to_be_visible()
        expect(choice.get_by_role("radio", name=ways[0], exact=True)).to_be_checked()
        self.snap("another way")
        choice.get_by_role("radio", name=words, exact=True).check()
        self.server.let_cooldown_pass(phone)  # a code to this number (confirming it's you) may be a moment old
        sends = len(self.fake.sends)
        self.submit("Continue", 200)
        self.at("/auth/verify", "^Enter your code$")
        assert [(s["to"], s["channel"]) for s in self.fake.sends[sends:]] == [(phone, channel)]
        self.snap("another way chosen, code sent")

    def remove_method(self, what, phone=PHONE):
        """From the profile: "Remove" beside a way to log in, confirm it's you (the password and a
        code sent to `phone`, the way used last), then the confirmation page."""
        self.open("/profile")
        self.page.get_by_role("link", name=f"Remove {what}", exact=True).click()
        self.server.let_cooldown_pass(phone)  # the login's code was sent a moment ago
        self.confirm_its_me(phone)
        expect(self.page).to_have_url(re.compile(re.escape(self.server.url) + r"/profile/methods/\d+/remove$"))
        expect(self.heading()).to_have_text(f"Remove {what}")
        self.snap("remove a way to log in")
        self.submit("Remove", 200)
        self.at_profile()
        expect(self.alert()).to_contain_text(f"{what} is removed: it can no longer be used to log in.")
        expect(self.ways_to_log_in().get_by_text(what, exact=True)).to_have_count(0)
        self.snap("way removed")

    def ways_to_log_in(self):
        return self.page.get_by_role("list", name="Your ways to log in")

    def resend_area(self):
        return self.page.locator("[data-countdown]")

    def resend_wait_is_shown(self):
        """Until another code may be sent: with JavaScript a countdown, the buttons held back;
        without, the time written out, the buttons live (an early click is answered in words)."""
        area = self.resend_area()
        if self.scripts:
            expect(area).to_contain_text(re.compile(r"You can ask for a new code in \d+ seconds\."))
            for button in ("Resend code", "Call me instead"):
                expect(area.get_by_role("button", name=button)).to_be_disabled()
        else:
            expect(area).to_contain_text(re.compile(r"You can ask for a new code after \d\d:\d\d UTC\."))
            for button in ("Resend code", "Call me instead"):
                expect(area.get_by_role("button", name=button)).to_be_enabled()

    def let_resend_wait_pass(self, phone=PHONE):
        """The server's wait, and the page's countdown, run out."""
        self.server.let_cooldown_pass(phone)
        if self.scripts:
            seconds = int(self.resend_area().get_attribute("data-countdown"))
            self.page.clock.fast_forward(seconds * 1000 + 1000)
            expect(self.resend_area()).to_contain_text("You can ask for a new code now.")
            expect(self.resend_area().get_by_role("button", name="Resend code")).to_be_enabled()

    def resend_code(self, phone=PHONE, path="/auth/verify"):
        """'Resend code' waits for the countdown (an early click, without JavaScript, is told until
        when); once the wait is over it sends, and the browser is back on the code page."""
        sends = len(self.fake.sends)
        self.resend_wait_is_shown()
        self.snap("resend waits")
        if not self.scripts:
            sentence = self.resend_area().locator("[data-countdown-text]").inner_text().removeprefix("Didn't get it? ")
            self.submit("Resend code", 200)
            self.at(path, ".")
            expect(self.alert()).to_have_text(same_time_or_a_minute_on(sentence))
            self.snap("resend too early")
            assert len(self.fake.sends) == sends
        self.let_resend_wait_pass(phone)
        self.submit("Resend code", 200)
        self.at(path, ".")  # no POST address left to reload
        expect(self.alert()).to_have_text("We sent a code by text message to your phone.")
        assert [s["channel"] for s in self.fake.sends[sends:]] == ["sms"]
        self.snap("code sent again")

    def call_me_instead(self, phone=PHONE):
        sends = len(self.fake.sends)
        self.let_resend_wait_pass(phone)
        self.submit("Call me instead", 200)
        expect(self.alert()).to_have_text("We are calling your phone now with your code.")
        assert [(s["to"], s["channel"]) for s in self.fake.sends[sends:]] == [(phone, "call")]
        self.snap("calling")

    def see_where_logged_in(self, browsers):
        """From the profile to "Where you're logged in": `browsers` (in words, this one first),
        this one marked, "Log out" on each other."""
        self.open("/profile")
        self.page.get_by_role("link", name="See where you're logged in").click()
        self.at("/profile/sessions", "^Where you're logged in$")
        rows = self.page.get_by_role("list", name="Browsers logged in").get_by_role("listitem")
        expect(rows).to_have_count(len(browsers))
        for row, browser in zip(rows.all(), browsers):
            expect(row).to_contain_text(browser)
        expect(rows.first.get_by_text("This browser", exact=True)).to_be_visible()
        expect(rows.first.get_by_role("button")).to_have_count(0)
        self.snap("where you're logged in")

    def log_out_browser(self, browser, network="127.0.0.1"):
        """'Log out' on another browser's row: it is logged out at once, this one stays."""
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name=re.compile(f"^Log out {re.escape(browser)} from ")).click()
        self.last_status = navigation.value.status
        self.at("/profile/sessions", "^Where you're logged in$")
        expect(self.alert()).to_have_text(f"Logged out: {browser}, {network}.")
        expect(self.page.get_by_role("list", name="Browsers logged in").get_by_role("listitem")).to_have_count(1)
        expect(self.page.get_by_text("You aren't logged in anywhere else.")).to_be_visible()
        self.snap("another browser logged out")

    def finds_itself_logged_out(self):
        """The next page this browser opens asks it to log in."""
        self.open("/profile")
        self.at("/auth/login", "^Log in$")
        self.snap("logged out from another browser")

    def disable_2fa(self, phone=PHONE):
        """Sudo mode first: the password, then a code; then the confirmation."""
        self.open("/profile")
        self.page.get_by_role("link", name="Disable 2FA").click()
        self.at("/auth/reauthenticate", "it's you")
        expect(self.alert()).to_have_text("Please confirm it's you to continue.")
        self.snap("sudo asks for the password")
        self.page.get_by_label("Password").fill(PASSWORD)
        self.submit("Confirm", 200)
        self.at("/auth/reauthenticate/code", "^Enter your code to confirm it's you$")
        self.snap("sudo asks for a code")
        self.page.get_by_label("Verification code").fill(self.fake.last_code(phone))
        self.submit("Verify", 200)
        self.at("/profile/2fa/disable", "two-factor|2FA")
        self.snap("confirm disabling")
        self.submit("Disable 2FA", 200)
        self.at_profile()
        expect(self.page.get_by_role("link", name="Enable 2FA")).to_be_visible()
        self.snap("2fa off")


@pytest.fixture
def person_factory(live_server, fake, request):
    """`person(page)` -> a Person whose screenshots go to test-artifacts/browser/<test>/."""
    folder = ARTIFACTS / slug(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)

    def make(page, username="alice", subfolder="", scripts=True):
        return Person(page, live_server, fake, folder / subfolder if subfolder else folder, username, scripts)

    return make
