"""Issue 9, "wrong-code counters raced": the attempts of one pending login and the account's
failures in a row are counted atomically, so parallel guesses get no more tries than serial ones:
CODE_ATTEMPTS_PER_LOGIN (5) per login, then the login is void; CODE_FAILURES_BEFORE_LOCK (20)
across logins locks the code step."""
import secrets

import pytest

from tests.abuse.conftest import (
    assert_app_page,
    assert_retry_after,
    at_once,
    enter_code,
    events_of,
    is_logged_in,
    log_in,
    two_factor_user,
    user_id,
)
from tests.support import wrong

pytestmark = pytest.mark.live

ATTEMPTS_PER_LOGIN = 5  # CODE_ATTEMPTS_PER_LOGIN's default
FAILURES_BEFORE_LOCK = 20  # CODE_FAILURES_BEFORE_LOCK's default
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def wrong_recovery_codes(count, right):
    codes = set()
    while len(codes) < count:
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        code = f"{code[:4]}-{code[4:]}"
        if code not in right:
            codes.add(code)
    return sorted(codes)


def pending_login(live, user, visitor=None):
    """A browser whose password step is done for `user`: the code step is pending."""
    visitor = visitor or live.visitor()
    response = log_in(live, visitor, user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
    return visitor


def submit(live, browser, path, token, code):
    """The code form of `path` as the browser holds it, submitted with `code`."""
    return browser.request("POST", live.url + path, data={"csrf_token": token, "code": code})


def guesses(live, visitor, path, codes):
    """One request per code, each from its own tab of `visitor`, ready to be sent at once, and
    the form's token."""
    token = visitor.csrf_token(live.url + path)
    return [lambda tab=visitor.tab(), code=code: submit(live, tab, path, token, code) for code in codes], token


def unused_recovery_codes(live, user):
    return live.scalar("SELECT count(*) FROM recovery_codes WHERE user_id = :uid AND used_at IS NULL",
                       uid=user_id(live, user.username))


def test_parallel_wrong_recovery_codes_on_one_login(live_app, fake, figure):
    user = two_factor_user(live_app, fake)
    browser = pending_login(live_app, user)

    tries, token = guesses(live_app, browser, "/auth/recovery", wrong_recovery_codes(25, user.recovery_codes))
    responses = at_once(tries)

    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    checked = events_of(live_app, user.username, "recovery_code_failed")
    figure("of 25 parallel wrong recovery codes on one login, codes checked", checked)
    assert checked <= ATTEMPTS_PER_LOGIN, f"25 parallel wrong recovery codes on one login: {checked} were checked"
    # The login is void: the right code, typed into the form still open, neither logs in nor is used up.
    response = submit(live_app, browser, "/auth/recovery", token, user.recovery_codes[0])
    assert not is_logged_in(live_app, browser), (response.status_code, response.headers.get("Location"))
    assert unused_recovery_codes(live_app, user) == 10
    # It still works in a login of its own.
    browser = pending_login(live_app, user)
    response = enter_code(live_app, browser, "/auth/recovery", user.recovery_codes[0])
    assert response.status_code == 302 and response.headers["Location"] == "/profile", response.text[-1500:]
    assert is_logged_in(live_app, browser)


def test_parallel_wrong_sms_codes_on_one_login(live_app, fake, figure):
    user = two_factor_user(live_app, fake)
    browser = pending_login(live_app, user)
    right = fake.last_code(user.phone)
    checks_before = len([c for c in fake.checks if c["to"] == user.phone])

    tries, token = guesses(live_app, browser, "/auth/verify", [wrong(right)] * 25)
    responses = at_once(tries)

    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    checked = len([c for c in fake.checks if c["to"] == user.phone]) - checks_before
    figure("of 25 parallel wrong text-message codes on one login, codes Twilio checked", checked)
    assert checked <= ATTEMPTS_PER_LOGIN, f"25 parallel wrong codes on one login: Twilio checked {checked}"
    submit(live_app, browser, "/auth/verify", token, right)
    assert not is_logged_in(live_app, browser)


def test_parallel_wrong_codes_across_logins_lock_the_code_step(live_app, fake):
    user = two_factor_user(live_app, fake)
    # Four logins with five wrong codes each: exactly the failures that lock the step, if all count.
    logins = [pending_login(live_app, user) for _ in range(FAILURES_BEFORE_LOCK // ATTEMPTS_PER_LOGIN)]
    wrong_codes = iter(wrong_recovery_codes(FAILURES_BEFORE_LOCK, user.recovery_codes))

    at_once([guess for browser in logins
             for guess in guesses(live_app, browser, "/auth/recovery",
                                  [next(wrong_codes) for _ in range(ATTEMPTS_PER_LOGIN)])[0]])

    counted = events_of(live_app, user.username, "recovery_code_failed")
    assert counted >= FAILURES_BEFORE_LOCK  # the guesses were checked; the step must now be locked
    failures = live_app.scalar("SELECT code_failures FROM users WHERE id = :uid", uid=user_id(live_app, user.username))
    browser = pending_login(live_app, user)
    # The locked page offers no form (issue 12): the right code is sent with a token from another page.
    response = browser.post_form(live_app.url + "/auth/recovery", {"code": user.recovery_codes[0]},
                                 form_url=live_app.url + "/auth/login")
    assert response.status_code == 429, (
        f"{counted} wrong codes across {len(logins)} logins at once (users.code_failures {failures}), then the right "
        f"one: {response.status_code} {response.headers.get('Location')}")
    assert_app_page(response)
    assert_retry_after(response)
    assert not is_logged_in(live_app, browser)
    assert unused_recovery_codes(live_app, user) == 10
