"""Issue 9, "sign-up unlimited": SIGNUP_LIMIT_PER_IP (default 10/hour) per client address, and
SIGNUP_LIMIT_GLOBAL (default 100/minute) for bursts from many addresses; a refused sign-up gets
429, when to try again, and the app's page. "Is this username taken?" probes are sign-up POSTs too.

Security review row 2: the site-wide limit counts only the sign-ups that one address's limit let
through, so junk from one address never closes sign-up for everyone."""
from collections import Counter

import pytest

from tests.abuse.conftest import assert_app_page, assert_retry_after, new_address, new_username
from tests.conftest import PASSWORD

pytestmark = pytest.mark.live

PER_ADDRESS = 10  # SIGNUP_LIMIT_PER_IP's default, per hour
GLOBAL_BURST = 12  # SIGNUP_LIMIT_GLOBAL, set low for the test (default 100/minute)


def sign_up_form(username):
    return {"username": username, "password": PASSWORD, "password2": PASSWORD}


def try_sign_up(live, address, username=None):
    """One sign-up from `address`, in a browser of its own (each sign-up logs that browser in)."""
    visitor = live.visitor(address)
    return visitor.post_form(live.url + "/auth/register", sign_up_form(username or new_username()))


def assert_signup_refused(response):
    assert_app_page(response, 429)
    assert_retry_after(response)


def test_eleventh_signup_from_one_address_is_refused(live_app):
    address = new_address()
    answers = [try_sign_up(live_app, address).status_code for _ in range(PER_ADDRESS)]
    assert answers == [302] * PER_ADDRESS
    response = try_sign_up(live_app, address)
    assert response.status_code == 429, f"sign-up {PER_ADDRESS + 1} from one address: {response.status_code}"
    assert_signup_refused(response)
    # Another address may still sign up.
    assert try_sign_up(live_app, new_address()).status_code == 302


def test_username_probes_count_as_signups(live_app):
    taken = new_username("taken")
    assert try_sign_up(live_app, new_address(), taken).status_code == 302
    prober = new_address()
    probes = [try_sign_up(live_app, prober, taken) for _ in range(PER_ADDRESS)]
    for probe in probes:
        assert_app_page(probe, 400)  # "that username is taken", on the form
    response = try_sign_up(live_app, prober)
    assert response.status_code == 429, (
        f"after {PER_ADDRESS} 'is it taken?' probes, a sign-up from the same address: {response.status_code}")
    assert_signup_refused(response)


def test_burst_of_signups_from_many_addresses_is_refused(fresh_live_app):
    live = fresh_live_app(SIGNUP_LIMIT_GLOBAL=f"{GLOBAL_BURST}/minute")
    answers = [try_sign_up(live, new_address()).status_code for _ in range(GLOBAL_BURST)]
    assert answers == [302] * GLOBAL_BURST
    response = try_sign_up(live, new_address())
    assert response.status_code == 429, (
        f"sign-up {GLOBAL_BURST + 1} within a minute, each from its own address: {response.status_code}")
    assert_signup_refused(response)
    assert assert_retry_after(response) <= 60


def test_junk_from_one_address_does_not_close_signup(fresh_live_app, figure):
    """101 POSTs with no token and no fields from one address, at the default site-wide limit
    (100 a minute): the address is refused after its 10, and an honest sign-up elsewhere goes
    through (before the fix, the 91 refused POSTs filled the site's 100)."""
    live = fresh_live_app(SIGNUP_LIMIT_GLOBAL="")
    junk = live.visitor(new_address())
    answers = Counter(junk.request("POST", live.url + "/auth/register").status_code for _ in range(101))
    assert answers == {400: PER_ADDRESS, 429: 101 - PER_ADDRESS}, answers

    response = try_sign_up(live, new_address())
    figure("an honest sign-up after 101 junk POSTs from one address", response.status_code)
    assert response.status_code == 302, f"an honest sign-up from elsewhere: {response.status_code}"
