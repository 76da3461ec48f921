"""Security review row 8, "typed usernames (sometimes passwords) in the log": a refused login or
sign-up was logged with its rate-limit key, e.g. `ratelimit 10 per 1 minute
(login-user:tr0ub4dor&3-secret|203.0.113.150) exceeded`, and people do type their password into
the username field. No value typed into a form, in either field, reaches the server log."""
import secrets

import pytest

from tests.abuse.conftest import log_in

pytestmark = pytest.mark.live

TRIES = 15  # LOGIN_LIMIT_PER_USERNAME (10/minute) and SIGNUP_LIMIT_PER_IP (10/hour) refuse before


def typed_value():
    """What someone typed: a password-like value, unique to this test."""
    return "tr0ub4dor&3-secret" + secrets.token_hex(3)


def until_refused(attempt):
    """Calls `attempt(i)` until it answers 429; returns the statuses."""
    statuses = []
    for i in range(TRIES):
        statuses.append(attempt(i).status_code)
        if statuses[-1] == 429:
            break
    return statuses


def test_no_typed_username_or_password_reaches_the_log(live_app, figure):
    start = len(live_app.instance.log_text())
    typed = typed_value()
    # A password typed into the username field (and into the password field), over and over.
    login = live_app.visitor()
    login_statuses = until_refused(lambda i: log_in(live_app, login, typed, password=typed))
    # The same value as a new username, with it as the password too.
    address = login.address
    signup_statuses = until_refused(lambda i: live_app.visitor(address).post_form(
        live_app.url + "/auth/register", {"username": f"{typed}{i}", "password": typed, "password2": typed}))

    lines = [line for line in live_app.instance.log_text()[start:].splitlines() if typed.lower() in line.lower()]
    figure("log lines with a typed value", len(lines))
    assert login_statuses[-1] == 429 and signup_statuses[-1] == 429, (
        f"never refused: logins {login_statuses}, sign-ups {signup_statuses}")
    assert not lines, f"{len(lines)} log lines hold the value typed into a form, e.g. {lines[:2]}"
