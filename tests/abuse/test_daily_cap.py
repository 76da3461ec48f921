"""Issue 9, "SMS daily cap drained": SMS_DAILY_LIMIT counts the codes Twilio accepted, and
SMS_DAILY_RESERVED_PERCENT (default 50) of it is kept for codes to numbers already verified on an
account, which enrolments of new numbers, from however many accounts and addresses, cannot use."""
import time

import pytest

from tests.abuse.conftest import (
    assert_app_page,
    log_in,
    sends_to,
    sign_up,
    start_enrolment,
    text,
    two_factor_user,
)
from tests.support import random_gb_mobile

pytestmark = pytest.mark.live

DAILY_LIMIT = 10
FOR_NEW_NUMBERS = 5  # half of it, with SMS_DAILY_RESERVED_PERCENT at its default of 50
COOLDOWN = 1
DAILY_CAP_MESSAGE = "We can't send codes right now. Please try again later."


def assert_daily_cap_reached(response):
    assert_app_page(response, 503)
    assert DAILY_CAP_MESSAGE in text(response)


def test_enrolments_cannot_use_the_share_kept_for_logins(fresh_live_app, fake):
    live = fresh_live_app(SMS_DAILY_LIMIT=DAILY_LIMIT, SEND_COOLDOWN_SECONDS=COOLDOWN)
    users = [two_factor_user(live, fake) for _ in range(3)]  # three enrolments Twilio accepted

    # Ten more accounts, each from its own address, each enrolling a number of its own.
    answers = []
    for _ in range(10):
        attacker = live.visitor()
        sign_up(live, attacker)
        answers.append(start_enrolment(live, attacker, random_gb_mobile()))
    accepted = [r for r in answers if r.status_code == 302]
    assert len(accepted) == FOR_NEW_NUMBERS - len(users), (
        f"with SMS_DAILY_LIMIT={DAILY_LIMIT}: {len(users) + len(accepted)} enrolment codes went out; "
        f"answers {[r.status_code for r in answers]}")
    for response in answers[len(accepted):]:
        assert_daily_cap_reached(response)

    # Logins of verified users still get codes, until all ten of the day's codes are out.
    for user in users:
        assert_login_code_sent(live, fake, user)
    time.sleep(COOLDOWN)
    for user in users[:2]:
        assert_login_code_sent(live, fake, user)
    assert len(fake.sends) == DAILY_LIMIT
    sent_before = len(fake.sends)
    assert_daily_cap_reached(log_in(live, users[2].visitor, users[2].username))
    assert len(fake.sends) == sent_before


def assert_login_code_sent(live, fake, user):
    sent_before = len(sends_to(fake, user.phone))
    response = log_in(live, user.visitor, user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", (
        f"login of a verified user after {len(fake.sends)} codes today: {response.status_code} {text(response)[-800:]}")
    assert len(sends_to(fake, user.phone)) == sent_before + 1
