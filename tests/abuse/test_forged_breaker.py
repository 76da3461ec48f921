"""Security review row 5, "a forged circuit-breaker value in Redis": with the rate limits in Redis
the Twilio circuit breaker keeps pybreaker's state there too, under
`<RATELIMIT_KEY_PREFIX>:twilio-breaker:<service sid>:pybreaker:{state,opened_at,fail_counter}`.
Whoever can write to that Redis must not be able to stop every code for a year (an `opened_at` far
ahead: the cool-down left is never longer than TWILIO_BREAKER_COOLDOWN_SECONDS), nor turn
/readyz and every 2FA login into a 500 (a value the breaker cannot read, or out of range, counts
as closed)."""
import time

import pytest
import redis

from tests.abuse.conftest import SHARED_SETTINGS, log_in, sends_to, two_factor_user

pytestmark = [pytest.mark.live, pytest.mark.redis]

KEY_PREFIX = "sms2fa"  # RATELIMIT_KEY_PREFIX (config.py)
COOLDOWN = 2  # TWILIO_BREAKER_COOLDOWN_SECONDS of the server attacked with a far `opened_at`
YEAR = 365 * 24 * 3600


class ForgedBreaker:
    """Writes pybreaker's keys of a live app's breaker, as someone with access to its Redis could."""

    def __init__(self, live, fake):
        self.client = redis.Redis.from_url(live.env["RATELIMIT_STORAGE_URI"])
        self.namespace = f"{KEY_PREFIX}:twilio-breaker:{fake.service_sid}"
        # Each worker initialised the state when it started: a missing key means a wrong name here.
        assert self.client.get(self.key("state")) == b"closed", (
            f"no breaker state at {self.key('state')}: {sorted(self.client.scan_iter(f'{self.namespace}*'))}")

    def key(self, name):
        return f"{self.namespace}:pybreaker:{name}"

    def write(self, **values):
        for name, value in values.items():
            self.client.set(self.key(name), value)

    def clear(self):
        """Gone, the breaker starts closed again (pybreaker writes a missing state anew)."""
        for key in self.client.scan_iter(f"{self.namespace}*"):
            self.client.delete(key)
        self.client.close()


def readyz(live):
    response = live.visitor().get(live.url + "/readyz")
    try:
        body = response.json()
    except ValueError:
        body = response.text[:80]
    return response.status_code, body


def log_in_2fa_user(live, fake, user):
    """The 2FA user's password; returns the answer's status and how many codes reached the fake."""
    before = len(sends_to(fake, user.phone))
    response = log_in(live, user.visitor, user.username)
    sent = len(sends_to(fake, user.phone)) - before
    where = response.headers.get("Location")
    return response.status_code, where, sent


def test_an_opened_at_a_year_ahead_stops_codes_for_one_cooldown_at_most(fresh_live_app, fake, figure):
    live = fresh_live_app(TWILIO_BREAKER_COOLDOWN_SECONDS=COOLDOWN, SEND_COOLDOWN_SECONDS=1)
    user = two_factor_user(live, fake)
    forged = ForgedBreaker(live, fake)
    try:
        forged.write(state="open", opened_at=int(time.time()) + YEAR)
        status, body = readyz(live)
        retry_in = body.get("twilio_breaker", {}).get("retry_in") if isinstance(body, dict) else None
        time.sleep(COOLDOWN + 0.5)  # the longest the breaker may stay open
        login = log_in_2fa_user(live, fake, user)
    finally:
        forged.clear()

    figure("readyz retry_in after the attack (s)", retry_in)
    figure(f"owner's login {COOLDOWN + 0.5} s after the attack (status, codes sent)", (login[0], login[2]))
    assert login[2] == 1 and login[:2] == (302, "/auth/verify"), (
        f"{COOLDOWN + 0.5} s after `opened_at` was set a year ahead (cool-down {COOLDOWN} s), the 2FA "
        f"login answers {login[0]} (to {login[1]}) and {login[2]} codes reached Twilio")
    assert status == 200 and retry_in is not None and retry_in <= COOLDOWN, (
        f"/readyz answers {status} with retry_in {retry_in!r} s, more than the cool-down of {COOLDOWN} s: {body}")


JUNK = {
    "opened_at not a number": {"state": "open", "opened_at": "x"},
    "opened_at out of range": {"state": "open", "opened_at": "9" * 30},
    "state not text": {"state": b"\xff\xfe"},
    "fail_counter not a number": {"fail_counter": "many"},
}


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_an_unreadable_breaker_state_counts_as_closed(live_app, fake, figure, junk):
    user = two_factor_user(live_app, fake)
    forged = ForgedBreaker(live_app, fake)
    try:
        forged.write(**junk)
        ready = readyz(live_app)
        login_page = live_app.visitor().get(live_app.url + "/auth/login").status_code
        time.sleep(SHARED_SETTINGS["SEND_COOLDOWN_SECONDS"])  # the enrolment's code was just sent
        login = log_in_2fa_user(live_app, fake, user)
    finally:
        forged.clear()

    figure("answers with the forged value (readyz, login page, 2FA login)", (ready[0], login_page, login[0]))
    problems = []
    if ready[0] != 200 or not (isinstance(ready[1], dict) and "twilio_breaker" in ready[1]):
        problems.append(f"/readyz answers {ready[0]}: {ready[1]!r}")
    if login_page != 200:
        problems.append(f"the login page answers {login_page}")
    if login[:2] != (302, "/auth/verify") or login[2] != 1:
        problems.append(f"the 2FA login answers {login[0]} (to {login[1]}) and sent {login[2]} codes")
    assert not problems, f"with {junk} in Redis: " + "; ".join(problems)
