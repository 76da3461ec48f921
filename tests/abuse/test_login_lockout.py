"""Issue 9, "lockout by strangers": LOGIN_LIMIT_PER_USERNAME is counted per username and client
address, so failed logins from one address do not lock the owner out elsewhere; the slower
LOGIN_LIMIT_PER_ACCOUNT (default 30/minute) counts a username across all addresses and answers
with a short delay, never an hour's lock; re-authentication has its own bucket.

Security review row 1: the account's limit counts only the guesses that one address's limits let
through, so one address, however busy, never fills it; and the owner's remembered browser is never
refused by it, however many addresses fill it."""
import time
from collections import Counter

import pytest

from tests.abuse.conftest import (
    SHARED_SETTINGS,
    assert_app_page,
    assert_retry_after,
    is_logged_in,
    log_in,
    log_out,
    new_address,
    sign_up,
    two_factor_user,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.live

PER_USERNAME_AND_ADDRESS = 10  # LOGIN_LIMIT_PER_USERNAME's default, per minute
PER_ACCOUNT = 30  # LOGIN_LIMIT_PER_ACCOUNT's default, per minute


def new_account(live):
    owner = live.visitor()
    username = sign_up(live, owner)
    log_out(live, owner)
    return owner, username


def failed_login(live, username, address):
    return log_in(live, live.visitor(address), username, password="not the password")


def test_failed_logins_from_one_address_do_not_lock_out_another(live_app):
    owner, username = new_account(live_app)
    attacker = new_address()
    answers = [failed_login(live_app, username, attacker).status_code for _ in range(PER_USERNAME_AND_ADDRESS + 2)]
    assert answers[:PER_USERNAME_AND_ADDRESS] == [401] * PER_USERNAME_AND_ADDRESS
    assert answers[PER_USERNAME_AND_ADDRESS:] == [429, 429]

    response = log_in(live_app, owner, username)
    assert response.status_code == 302, (
        f"after {len(answers)} failed logins from another address, the owner's login: {response.status_code}")
    assert is_logged_in(live_app, owner)


def test_failed_logins_from_many_addresses_get_a_short_delay(live_app):
    owner, username = new_account(live_app)
    answers = [failed_login(live_app, username, new_address()).status_code for _ in range(PER_ACCOUNT)]
    assert answers == [401] * PER_ACCOUNT, (
        f"{PER_ACCOUNT} failed logins, each from its own address: first 429 at try "
        f"{answers.index(429) + 1 if 429 in answers else None}")
    response = failed_login(live_app, username, new_address())
    assert_app_page(response, 429)
    assert assert_retry_after(response) <= 60  # a delay, not an hour's lock


def test_failed_logins_do_not_stop_the_owner_reauthenticating(live_app):
    owner = live_app.visitor()
    username = sign_up(live_app, owner)  # logged in, in the owner's own session
    # A stranger uses up the username's login limits: from one address, then from many.
    attacker = new_address()
    answers = [failed_login(live_app, username, attacker).status_code for _ in range(PER_USERNAME_AND_ADDRESS + 2)]
    answers += [failed_login(live_app, username, new_address()).status_code for _ in range(PER_ACCOUNT + 1)]
    assert answers[-1] == 429

    response = owner.post_form(live_app.url + "/auth/reauthenticate?next=/profile", {"password": PASSWORD})
    assert response.status_code == 302, (
        f"re-authentication after {len(answers)} failed logins by a stranger: {response.status_code}")
    assert response.headers["Location"] == "/profile"


def test_one_address_cannot_fill_the_accounts_limit(live_app, figure):
    """31 wrong passwords from one address: the address is refused after 10, and the owner,
    elsewhere, still logs in (before the fix, the 21 refused guesses filled the account's 30)."""
    owner, username = new_account(live_app)
    attacker = new_address()
    answers = Counter(failed_login(live_app, username, attacker).status_code for _ in range(PER_ACCOUNT + 1))
    assert answers == {401: PER_USERNAME_AND_ADDRESS, 429: PER_ACCOUNT + 1 - PER_USERNAME_AND_ADDRESS}, answers

    response = log_in(live_app, owner, username)
    figure("the owner's login after 31 wrong passwords from one address", response.status_code)
    assert response.status_code == 302, f"the owner's login: {response.status_code} {response.text[-300:]}"
    assert is_logged_in(live_app, owner)


def test_a_remembered_browser_is_never_refused_by_the_accounts_limit(live_app, fake, figure):
    """Strangers from many addresses fill the account's limit; the owner's remembered browser
    still logs in with the password alone."""
    user = two_factor_user(live_app, fake)
    owner = user.visitor
    time.sleep(SHARED_SETTINGS["SEND_COOLDOWN_SECONDS"])
    assert log_in(live_app, owner, user.username).headers["Location"] == "/auth/verify"
    response = owner.post_form(live_app.url + "/auth/verify", {"code": fake.last_code(user.phone), "remember_device": "y"})
    assert response.status_code == 302
    log_out(live_app, owner)

    answers = [failed_login(live_app, user.username, new_address()).status_code for _ in range(PER_ACCOUNT + 1)]
    assert answers[-1] == 429, "the account's limit is full"
    assert failed_login(live_app, user.username, owner.address).status_code == 429, (
        "a browser that is not remembered, from the owner's own address, is refused by the account's limit")

    response = log_in(live_app, owner, user.username)
    figure("the owner's remembered browser, account limit full", response.status_code)
    assert response.status_code == 302 and response.headers["Location"] == "/profile", (
        response.status_code, response.headers.get("Location"), response.text[-300:])
