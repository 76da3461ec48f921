"""Password reset by email, attacked on the live server (gunicorn, production settings, a real SMTP
server on 127.0.0.1 that the workers' delivery threads send to):

- parallel uses of one reset link change the password once;
- the answer to "Forgot your password?" tells nothing: the same page and status for an account
  with a confirmed address, one without, and no account, and no wait for the mail server;
- a stranger's flood of requests is refused, but the owner, from elsewhere, still gets a link;
- no token, link or email address in the server's log.
"""
import logging
import statistics
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.abuse.conftest import at_once, new_username, sign_up, stop_live_app, text
from tests.conftest import CSRF_INPUT, PASSWORD
from tests.mail_support import SMTPServer

pytestmark = pytest.mark.live

SENT = "If an account with a confirmed email address matches, we've sent it a link to choose a new password."


@pytest.fixture(scope="module")
def smtp():
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_app(start_live_app, smtp):
    live = start_live_app(
        MAIL_DISABLED="", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT=5,
        MAIL_DEFAULT_SENDER="SMS 2FA <no-reply@sms2fa.test>", MAIL_POLL_SECONDS=1,
        SIGNUP_LIMIT_GLOBAL="1000/minute",
    )
    yield live
    stop_live_app(live)


@pytest.fixture(autouse=True)
def nothing_personal_in_the_log(request, smtp):
    """After each test: no address, token or link from any mail in the server log."""
    first = len(smtp.messages)
    yield
    if "mail_app" not in request.fixturenames:
        return
    live = request.getfixturevalue("mail_app")
    log = live.instance.log_text()
    for mail in smtp.mails()[first:]:
        for address in mail.to:
            assert address not in log, "an email address in the server log"
        for link in mail.links():
            parts = urlsplit(link)
            assert link not in log and (not parts.query or parts.query not in log), "a link or token in the server log"


def path_of(link):
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def mails_to(smtp, address, subject, count=1, timeout=15):
    """The first `count` mails with `subject` to `address`, waiting for the delivery threads."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in smtp.mails() if address in m.to and m.subject == subject]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def account_with_address(live, smtp):
    """A new account whose address is confirmed through its link; returns (username, address)."""
    visitor = live.visitor()
    username = new_username("mail")
    address = f"{username}@example.test"
    response = visitor.post_form(live.url + "/auth/register", {"username": username, "password": PASSWORD,
                                                               "password2": PASSWORD, "email": address})
    assert response.status_code == 302, response.text[-1500:]
    [mail] = mails_to(smtp, address, "Confirm your email address")
    path = path_of(mail.links()[0])
    confirmed = visitor.post_form(live.url + "/auth/confirm-email", {"token": path.split("token=", 1)[1]},
                                  form_url=live.url + path)
    assert confirmed.status_code == 302, confirmed.text[-1500:]
    return username, address


def ask_for_link(live, visitor, typed):
    return visitor.post_form(live.url + "/auth/forgot-password", {"username": typed})


def test_parallel_uses_of_one_reset_link_change_the_password_once(mail_app, smtp, figure):
    username, address = account_with_address(mail_app, smtp)
    assert ask_for_link(mail_app, mail_app.visitor(), username).status_code == 302
    [mail] = mails_to(smtp, address, "Reset your password")
    path = mail.link_path("/auth/reset-password")
    token = path.split("token=", 1)[1]
    tabs = [mail_app.visitor() for _ in range(8)]
    forms = [tab.csrf_token(mail_app.url + path) for tab in tabs]  # each tab opened the link

    def use(n):
        return lambda: tabs[n].request("POST", mail_app.url + "/auth/reset-password", data={
            "csrf_token": forms[n], "token": token, "password": f"new password {n}", "password2": f"new password {n}"})

    answers = at_once([use(n) for n in range(len(tabs))])
    changed = [n for n, answer in enumerate(answers) if answer.status_code == 302]
    figure("reset links that changed the password, of 8 parallel uses of one link", len(changed))
    assert len(changed) == 1, [a.status_code for a in answers]
    assert all(a.status_code == 400 and "This link has expired or was already used." in text(a)
               for n, a in enumerate(answers) if n not in changed)
    logins = [mail_app.visitor().post_form(mail_app.url + "/auth/login",
                                           {"username": username, "password": f"new password {n}"}).status_code
              for n in range(len(tabs))]
    assert logins.count(302) == 1 and logins.index(302) == changed[0], logins
    notices = mails_to(smtp, address, "Security notice: Your password was reset", count=2, timeout=3)
    assert len(notices) == 1, "one reset, one notice"


def test_the_answer_tells_nothing_about_the_account(mail_app, smtp, figure):
    with_address, _ = account_with_address(mail_app, smtp)
    without_address = sign_up(mail_app, mail_app.visitor())
    cases = {"an account with a confirmed address": with_address, "an account without an address": without_address,
             "no account": new_username("nobody"), "an unknown address": "nobody@example.test"}
    smtp.delay = 1.0  # a slow mail server: nobody waits for it
    try:
        seen, times = {}, {name: [] for name in cases}
        for _ in range(3):
            for name, typed in cases.items():
                visitor = mail_app.visitor()
                started = time.monotonic()
                answer = ask_for_link(mail_app, visitor, typed)
                times[name].append(time.monotonic() - started)
                page = visitor.get(mail_app.url + answer.headers.get("Location", "/"))
                # Each browser's own CSRF token (the footer's language form) is the one thing that differs.
                shown = CSRF_INPUT.sub("", page.text)
                seen.setdefault(name, set()).add((answer.status_code, answer.headers.get("Location"), page.status_code, shown))
        medians = {name: round(statistics.median(values), 3) for name, values in times.items()}
        figure("median seconds to answer 'Forgot your password?' (mail server taking 1 s)", medians)
        assert all(len(answers) == 1 for answers in seen.values()), "every answer the same, each time"
        assert len({next(iter(answers)) for answers in seen.values()}) == 1, "the same answer for each case"
        assert SENT in text(mail_app.visitor().get(mail_app.url + "/auth/forgot-password/sent"))
        assert max(medians.values()) < 0.9, f"a request waited for the mail server: {medians}"
    finally:
        smtp.delay = 0


def test_a_strangers_flood_is_refused_but_the_owner_gets_a_link(mail_app, smtp, figure):
    username, address = account_with_address(mail_app, smtp)
    stranger = mail_app.visitor()
    answers = Counter(ask_for_link(mail_app, stranger, username).status_code for _ in range(12))
    figure("a stranger's 12 requests for one account's link, from one address", dict(answers))
    assert answers[429] >= 9 and answers[302] <= 3, answers
    spread = Counter(ask_for_link(mail_app, mail_app.visitor(), new_username("x")).status_code for _ in range(3))
    assert spread == {302: 3}, "other people's requests are not refused"

    owner = mail_app.visitor()
    answer = ask_for_link(mail_app, owner, address)
    assert answer.status_code == 302 and answer.headers["Location"] == "/auth/forgot-password/sent"
    links = mails_to(smtp, address, "Reset your password", count=answers[302] + 1)
    figure("reset links the owner's own request got through, after the stranger's flood", len(links) - answers[302])
    assert len(links) == answers[302] + 1, "the owner's request from elsewhere sent a link"
    token = path_of(links[-1].links()[0]).split("token=", 1)[1]
    assert owner.get(mail_app.url + "/auth/reset-password?token=" + token).status_code == 200
