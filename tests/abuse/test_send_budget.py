"""Issue 9, "send limits raced", "SMS daily cap drained by refused sends" and the stranger who
enrols a victim's number: every limit on sending a code is taken before Twilio is called, a send
Twilio refused counts like one it accepted, and enrolments by others never hold up the owner's
login codes (SEND_LIMIT_PER_NEW_NUMBER is counted apart from the number's login budget)."""
import time

import pytest

from tests.abuse.conftest import (
    SHARED_SETTINGS,
    assert_app_page,
    assert_retry_after,
    confirm_its_you,
    at_once,
    enrolment_form,
    enter_code,
    is_logged_in,
    log_in,
    send_requests_to,
    sends_to,
    sign_up,
    text,
    two_factor_user,
)
from tests.support import random_gb_mobile

pytestmark = pytest.mark.live

COOLDOWN = SHARED_SETTINGS["SEND_COOLDOWN_SECONDS"]  # short, so tests can wait it out
PER_ACCOUNT = 5  # SEND_LIMIT_PER_ACCOUNT's default: 5 per 10 minutes
PER_NEW_NUMBER = 3  # SEND_LIMIT_PER_NEW_NUMBER's default: 3 per 10 minutes
REFUSED_BY_TWILIO = "We can't send a code to this number right now."
SLOW_SEND = 1.0  # seconds Twilio takes to accept a send in the races: slow, as it sometimes is


def assert_send_refused(response):
    """A send the budget refused: 429, when to try again, and the app's page."""
    assert_app_page(response, 429)
    assert_retry_after(response)


def test_parallel_enrolments_from_one_account_send_at_most_five(live_app, fake, figure):
    attacker = live_app.visitor()
    sign_up(live_app, attacker)
    confirm_its_you(live_app, attacker, "/profile/2fa/enable")
    token = attacker.csrf_token(live_app.url + "/profile/2fa/enable")
    numbers = [random_gb_mobile() for _ in range(12)]
    fake.inject("send", 200, delay=SLOW_SEND, times=len(numbers))

    def enrol(number):
        tab = attacker.tab()
        data = dict(enrolment_form(live_app, number), csrf_token=token)
        return lambda: tab.request("POST", live_app.url + "/profile/2fa/enable", data=data)

    responses = at_once([enrol(number) for number in numbers])

    sent = [number for number in numbers if send_requests_to(fake, number)]
    figure("of 12 parallel enrolments, sends that reached Twilio", len(sent))
    assert len(sent) <= PER_ACCOUNT, f"12 parallel enrolments: {len(sent)} reached Twilio"
    accepted = [r for r in responses if r.status_code == 302]
    assert len(accepted) == len(sent)
    for response in responses:
        if response.status_code != 302:
            assert_send_refused(response)


def test_refused_sends_use_the_budget_not_the_daily_cap(fresh_live_app, fake, figure):
    live = fresh_live_app(SEND_COOLDOWN_SECONDS=COOLDOWN, SMS_DAILY_LIMIT=20)
    victim = two_factor_user(live, fake)
    fraud_blocked, geo_blocked = random_gb_mobile(), random_gb_mobile()
    fake.blocked_numbers.update({fraud_blocked: 60410, geo_blocked: 60605})

    attacker = live.visitor()
    sign_up(live, attacker)
    confirm_its_you(live, attacker, "/profile/2fa/enable")
    token = attacker.csrf_token(live.url + "/profile/2fa/enable")
    responses = [
        attacker.request("POST", live.url + "/profile/2fa/enable",
                         data=dict(enrolment_form(live, number), csrf_token=token))
        for number in [fraud_blocked, geo_blocked] * 20
    ]

    reached = send_requests_to(fake, fraud_blocked) + send_requests_to(fake, geo_blocked)
    figure("of 40 enrolments to numbers Twilio refuses, sends that reached Twilio", len(reached))
    assert len(reached) <= PER_ACCOUNT, (
        f"40 enrolments of numbers Twilio refuses: {len(reached)} reached Twilio; answers "
        f"{sorted({r.status_code for r in responses})}")
    for response in responses:
        if response.status_code == 429:
            assert_send_refused(response)
        else:  # Twilio's refusal, said plainly on the form
            assert response.status_code in (400, 403), response.status_code
            assert_app_page(response)
            assert REFUSED_BY_TWILIO in text(response)

    # SMS_DAILY_LIMIT is untouched: a 2FA user's login still gets a code, and logs in with it.
    response = log_in(live, victim.visitor, victim.username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
    assert len(sends_to(fake, victim.phone)) == 2, "no code was sent at login"
    assert enter_code(live, victim.visitor, "/auth/verify", fake.last_code(victim.phone)).status_code == 302
    assert is_logged_in(live, victim.visitor)


def test_strangers_enrolling_your_number_do_not_hold_up_your_login(live_app, fake, figure):
    victim = two_factor_user(live_app, fake)
    strangers = []
    for _ in range(6):
        stranger = live_app.visitor()
        sign_up(live_app, stranger)
        confirm_its_you(live_app, stranger, "/profile/2fa/enable")
        strangers.append((stranger, stranger.csrf_token(live_app.url + "/profile/2fa/enable")))
    sent_before = len(sends_to(fake, victim.phone))
    time.sleep(COOLDOWN)  # the enrolment's own cooldown is over
    fake.inject("send", 200, delay=SLOW_SEND, times=len(strangers))

    def enrol(stranger, token):
        data = dict(enrolment_form(live_app, victim.phone), csrf_token=token)
        return lambda: stranger.request("POST", live_app.url + "/profile/2fa/enable", data=data)

    responses = at_once([enrol(stranger, token) for stranger, token in strangers])

    by_strangers = len(sends_to(fake, victim.phone)) - sent_before
    figure("codes sent when six strangers enrolled the victim's number at once", by_strangers)
    assert by_strangers <= PER_NEW_NUMBER, f"six strangers enrolling one number at once: {by_strangers} codes sent"
    for response in responses:
        if response.status_code != 302:
            assert_send_refused(response)

    # The owner logs in at once: a code is sent, and it works.
    response = log_in(live_app, victim.visitor, victim.username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
    at_login = len(sends_to(fake, victim.phone)) - sent_before - by_strangers
    assert at_login == 1, f"the owner's login sent {at_login} codes after {by_strangers} sent by strangers"

    # After the cooldown, "Resend code" sends another and leads back to the code page.
    time.sleep(COOLDOWN + 0.2)
    response = victim.visitor.post_form(live_app.url + "/auth/verify/resend", {}, form_url=live_app.url + "/auth/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
    assert len(sends_to(fake, victim.phone)) - sent_before - by_strangers == 2
    assert enter_code(live_app, victim.visitor, "/auth/verify", fake.last_code(victim.phone)).status_code == 302
    assert is_logged_in(live_app, victim.visitor)
