"""Issue 17: an authenticator app's codes under parallel requests. A setup confirmed from several
tabs at once adds one method; one code sent by several logins at once lets exactly one in (the
time step is claimed in one conditional UPDATE); wrong codes sent at once are all counted toward
the account's lock, like text-message codes. Codes come from pyotp, with the key read off the
setup page, and the server's clock is this machine's; none of them may reach the server log.

Each race sends its forms with the last byte held back until all are sent (posted_together), so
the requests reach the server's threads together."""
import threading
import time
from urllib.parse import urlencode

import pyotp
import pytest

from tests.abuse.conftest import (
    assert_app_page,
    assert_log_clean,
    assert_retry_after,
    at_once,
    confirm_its_you,
    events_of,
    is_logged_in,
    log_in,
    log_out,
    sign_up,
    text,
    user_id,
)
from tests.conftest import CSRF_INPUT
from tests.support import SETUP_KEY

pytestmark = pytest.mark.live

SETUP = "/profile/authenticator-app"
PERIOD = 30  # seconds of one time step
TABS = 8
LOGINS = 8
FAILURES_BEFORE_LOCK = 12  # on the server of the wrong-codes test
GUESSERS = 20
ALREADY_USED = "This code was already used. Wait for the next one."
LOCKED = "entering codes on this account is locked"


def step_now():
    return int(time.time()) // PERIOD


def code_at(key, step):
    return pyotp.TOTP(key).generate_otp(step)


def open_setup(live, visitor):
    """The setup page after "confirm it's you": (the key it shows, the form's token)."""
    confirm_its_you(live, visitor, SETUP)
    page = visitor.get(live.url + SETUP)
    assert page.status_code == 200, (page.status_code, page.headers.get("Location"))
    return SETUP_KEY.search(page.text).group(1).replace(" ", ""), CSRF_INPUT.search(page.text).group(1)


def confirm_setup(live, browser, token, code, name="Phone"):
    return browser.request("POST", live.url + SETUP, data={"csrf_token": token, "name": name, "code": code})


def posted_together(live, posts):
    """Sends each (browser, path, form) at once, each form's last byte held back until every request
    has sent the rest: they reach the server's threads together, not one connection after another,
    which makes a race in the app far likelier to show. Returns the answers in order."""
    gate = threading.Barrier(len(posts), timeout=30)

    def body(fields):
        data = urlencode(fields).encode()
        yield data[:-1]
        gate.wait()
        yield data[-1:]

    def post(browser, path, fields):
        return browser.request("POST", live.url + path, data=body(fields),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})

    return at_once([lambda post_args=post_args: post(*post_args) for post_args in posts])


def totp_methods(live, username):
    return live.scalar("SELECT count(*) FROM two_factor_methods WHERE user_id = :uid AND kind = 'totp'",
                       uid=user_id(live, username))


def app_only_user(live):
    """A new account with 2FA on through an authenticator app only, its recovery codes saved,
    logged out: (username, key). The setup is confirmed with the previous step's code (one step
    of drift is accepted), so the code the app shows now is still unused."""
    visitor = live.visitor()
    username = sign_up(live, visitor)
    key, token = open_setup(live, visitor)
    response = confirm_setup(live, visitor, token, code_at(key, step_now() - 1))
    assert response.status_code == 302 and response.headers["Location"] == "/profile/recovery-codes", (
        response.status_code, response.headers.get("Location"), response.text[-1500:])
    response = visitor.post_form(live.url + "/profile/recovery-codes", {})
    assert response.status_code == 302 and response.headers["Location"] == "/profile", response.text[-1500:]
    log_out(live, visitor)
    return username, key


def at_code_page(live, username, count):
    """`count` browsers, each from its own address, past the password and at the code page:
    [(browser, the code form's token)]."""
    browsers = []
    for _ in range(count):
        browser = live.visitor()
        response = log_in(live, browser, username)
        assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
        browsers.append((browser, browser.csrf_token(live.url + "/auth/verify")))
    return browsers


def assert_codes_not_logged(live, since, codes):
    """The app's codes, which the harness's own check can't know, are not in the server log either."""
    assert_log_clean(live.instance.log_text()[since:], sids=set(), phones=set(), codes=set(codes))


def test_parallel_confirmations_of_one_setup_add_one_method(live_app, figure):
    log_start = len(live_app.instance.log_text())
    visitor = live_app.visitor()
    username = sign_up(live_app, visitor)
    key, token = open_setup(live_app, visitor)
    code = pyotp.TOTP(key).now()

    form = {"csrf_token": token, "name": "Phone", "code": code}
    responses = posted_together(live_app, [(visitor.tab(), SETUP, form) for _ in range(TABS)])

    created = totp_methods(live_app, username)
    figure(f"of {TABS} parallel confirmations of one setup, methods created", created)
    answers = [(r.status_code, r.headers.get("Location")) for r in responses]
    assert created == 1, f"{TABS} tabs confirmed one setup at once: {created} methods ({answers})"
    # The others are told it is done, shown a new setup (the key left the session) or asked to log
    # in again (the session changed under them): never a 500.
    assert all(r.status_code < 500 for r in responses), answers
    for response in responses:
        if response.status_code != 302:
            assert_app_page(response)
    assert events_of(live_app, username, "2fa_enabled") == 1
    assert_codes_not_logged(live_app, log_start, [code])


def test_one_code_sent_by_parallel_logins_lets_one_in(live_app, figure):
    log_start = len(live_app.instance.log_text())
    username, key = app_only_user(live_app)
    browsers = at_code_page(live_app, username, LOGINS)
    setup_step = live_app.scalar("SELECT counter FROM two_factor_methods WHERE user_id = :uid",
                                 uid=user_id(live_app, username))
    code, step = pyotp.TOTP(key).now(), step_now()
    # Unused: the setup took an earlier step. Should the step turn over before the server checks
    # it, the code is still accepted (one step of drift), so the race is the same either way.
    assert step > setup_step, (step, setup_step)

    responses = posted_together(live_app, [(browser, "/auth/verify", {"csrf_token": token, "code": code})
                                           for browser, token in browsers])

    answers = [(r.status_code, r.headers.get("Location")) for r in responses]
    got_in = answers.count((302, "/profile"))
    figure(f"of {LOGINS} parallel logins with one app code, logins that got in", got_in)
    assert got_in == 1, f"{LOGINS} logins sent one code at once: {got_in} got in ({answers})"
    for response in responses:
        if response.status_code != 302:
            assert_app_page(response, 401)
            assert ALREADY_USED in text(response)
    assert sum(is_logged_in(live_app, browser) for browser, _ in browsers) == 1
    failures = live_app.scalar("SELECT code_failures FROM users WHERE id = :uid", uid=user_id(live_app, username))
    assert failures == 0, "a code already used is not a wrong guess"
    assert_codes_not_logged(live_app, log_start, [code])


def test_parallel_wrong_app_codes_are_all_counted_and_lock(fresh_live_app, figure):
    live = fresh_live_app(CODE_FAILURES_BEFORE_LOCK=FAILURES_BEFORE_LOCK, CODE_ATTEMPTS_PER_LOGIN=5,
                          CODE_CHECK_LIMIT_PER_IP="1000/minute")
    username, key = app_only_user(live)
    browsers = at_code_page(live, username, GUESSERS)  # one wrong code each: no login runs out of tries
    # A code no step near now has (a chance match would be a right code, not a guess).
    near = {code_at(key, step) for step in range(step_now() - 2, step_now() + 4)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in near)

    responses = posted_together(live, [(browser, "/auth/verify", {"csrf_token": token, "code": wrong})
                                       for browser, token in browsers])

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    for response in responses:
        assert_app_page(response)
        assert ("Incorrect code" if response.status_code == 401 else LOCKED) in text(response)
    uid = user_id(live, username)
    counted = events_of(live, username, "code_failed")
    locks = events_of(live, username, "code_step_locked")
    failures, locked = live.rows("SELECT code_failures, code_locked_until IS NOT NULL FROM users WHERE id = :uid",
                                 uid=uid)[0]
    figure(f"of {GUESSERS} parallel wrong app codes (lock at {FAILURES_BEFORE_LOCK}), codes checked", counted)
    figure(f"of {GUESSERS} parallel wrong app codes, the code step locked", bool(locked))
    # Every code checked was counted: the lock took the first FAILURES_BEFORE_LOCK (and restarted
    # the count at 0), any checked after it are in code_failures; none was lost to a race.
    assert locked and locks == 1, (
        f"{counted} wrong codes checked at once, the lock at {FAILURES_BEFORE_LOCK}: code_failures {failures}, "
        f"locks {locks}")
    assert failures + FAILURES_BEFORE_LOCK == counted, (failures, counted)
    # Each code counted before the lock was answered as wrong; the one that locked, and all after, as locked.
    assert statuses.count(401) == FAILURES_BEFORE_LOCK - 1, statuses

    # The right code, in a new login, is refused while the step is locked (the locked page has no
    # form: the token comes from another page), and is not used up.
    browser = live.visitor()
    response = log_in(live, browser, username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify"
    right_step = step_now()
    response = browser.post_form(live.url + "/auth/verify", {"code": code_at(key, right_step)},
                                 form_url=live.url + "/auth/login")
    assert_app_page(response, 429)
    assert LOCKED in text(response)
    assert_retry_after(response)
    assert not is_logged_in(live, browser)
    assert live.scalar("SELECT counter FROM two_factor_methods WHERE user_id = :uid", uid=uid) < right_step
