"""The console provider (VERIFY_PROVIDER=console): Verify's behaviour, the code in the server log."""
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ConsoleVerification, User, utcnow
from app.verification import CheckResult, Sent, VerificationError
from app.verification import console as console_module
from app.verification.console import ConsoleVerifier
from tests.conftest import PHONE, page_text
from tests.support import wrong

pytestmark = pytest.mark.app_settings(VERIFY_PROVIDER="console")

CODE_LINE = re.compile(r"DEVELOPMENT CODE for (?P<to>.+) by (?P<channel>\w+): (?P<code>\d{6})$")


@pytest.fixture
def verifier(app, fake):
    assert isinstance(app.extensions["verifier"], ConsoleVerifier)
    with app.app_context():
        yield app.extensions["verifier"]
    assert fake.requests == []  # the console provider never calls Twilio


@pytest.fixture
def logged(caplog):
    caplog.set_level(logging.INFO)

    def codes():
        """(masked number, channel, code) of every code written to the log so far."""
        found = [CODE_LINE.search(record.getMessage()) for record in caplog.records]
        return [(m["to"], m["channel"], m["code"]) for m in found if m]

    return codes


def shift_clock(monkeypatch, seconds):
    """The console provider's clock, `seconds` from now."""
    later = utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(console_module, "utcnow", lambda: later)


def test_the_code_is_logged_once_with_the_number_masked(verifier, logged, caplog):
    assert verifier.send(PHONE) == Sent(channel="sms")
    [(to, channel, code)] = logged()
    assert (to, channel) == ("+44 ••• ••• •456", "sms")
    assert caplog.text.count(code) == 1
    assert "7400123456" not in caplog.text


def test_a_call_is_logged_as_a_call(verifier, logged):
    assert verifier.send(PHONE, "call") == Sent(channel="call")
    assert [channel for _, channel, _ in logged()] == ["call"]


def test_only_a_hash_of_the_code_is_stored(verifier, logged):
    verifier.send(PHONE)
    [(_, _, code)] = logged()
    row = db.session.get(ConsoleVerification, PHONE)
    stored = [str(getattr(row, column.key)) for column in sa.inspect(ConsoleVerification).columns]
    assert not any(code in value for value in stored)
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)


def test_the_right_code_works_once(verifier, logged):
    verifier.send(PHONE)
    [(_, _, code)] = logged()
    assert verifier.check(PHONE, code) is CheckResult.APPROVED
    assert verifier.check(PHONE, code) is CheckResult.EXPIRED
    assert db.session.get(ConsoleVerification, PHONE) is None


def test_a_code_is_only_good_for_its_number(verifier, logged):
    verifier.send(PHONE)
    [(_, _, code)] = logged()
    assert verifier.check("+447400999888", code) is CheckResult.EXPIRED
    assert verifier.check(PHONE, code) is CheckResult.APPROVED


def test_five_wrong_codes_then_max_attempts(verifier, logged):
    verifier.send(PHONE)
    [(_, _, code)] = logged()
    for _ in range(5):
        assert verifier.check(PHONE, wrong(code)) is CheckResult.WRONG
    assert verifier.check(PHONE, code) is CheckResult.MAX_ATTEMPTS  # even the right one
    assert verifier.check(PHONE, code) is CheckResult.EXPIRED  # a new code is needed


def test_a_new_code_after_max_attempts_works(verifier, logged):
    verifier.send(PHONE)
    first = logged()[-1][2]
    for _ in range(5):
        verifier.check(PHONE, wrong(first))
    assert verifier.check(PHONE, first) is CheckResult.MAX_ATTEMPTS
    verifier.send(PHONE)
    assert verifier.check(PHONE, logged()[-1][2]) is CheckResult.APPROVED


def test_after_a_resend_the_latest_code_works(verifier, logged):
    verifier.send(PHONE)
    verifier.send(PHONE, "call")
    assert len(logged()) == 2
    assert verifier.check(PHONE, logged()[-1][2]) is CheckResult.APPROVED


def test_a_resend_after_five_wrong_codes_gives_a_working_code(verifier, logged):
    """As with Verify (and the fake): a verification out of checks is gone; a send starts afresh."""
    verifier.send(PHONE)
    first = logged()[-1][2]
    for _ in range(5):
        assert verifier.check(PHONE, wrong(first)) is CheckResult.WRONG
    verifier.send(PHONE)
    assert verifier.check(PHONE, logged()[-1][2]) is CheckResult.APPROVED


def test_a_sixth_send_within_ten_minutes_is_refused(verifier, logged):
    for _ in range(5):
        verifier.send(PHONE)
    with pytest.raises(VerificationError) as raised:
        verifier.send(PHONE)
    assert (raised.value.reason, raised.value.status) == ("too_many_sends", 429)
    assert len(logged()) == 5


@pytest.mark.parametrize(("seconds", "result"), [
    (9 * 60 + 50, CheckResult.APPROVED),
    (10 * 60, CheckResult.EXPIRED),
    (10 * 60 + 1, CheckResult.EXPIRED),
])
def test_codes_expire_after_ten_minutes(verifier, logged, monkeypatch, seconds, result):
    verifier.send(PHONE)
    [(_, _, code)] = logged()
    shift_clock(monkeypatch, seconds)
    assert verifier.check(PHONE, code) is result


def test_after_expiry_a_send_starts_afresh(verifier, logged, monkeypatch):
    for _ in range(5):
        verifier.send(PHONE)
    shift_clock(monkeypatch, 10 * 60 + 1)
    verifier.send(PHONE)  # the old send count went with the old code
    assert verifier.check(PHONE, logged()[-1][2]) is CheckResult.APPROVED


def test_check_without_a_send_is_expired(verifier):
    assert verifier.check(PHONE, "123456") is CheckResult.EXPIRED


# -- the whole journey, over HTTP, with the code read from the log ----------------------------

def test_full_journey_with_the_console_provider(app, auth, client, fake, logged):
    def last_code():
        return logged()[-1][2]

    assert auth.register().headers["Location"] == "/profile"
    response = auth.start_enrolment()
    assert response.headers["Location"] == "/profile/2fa/confirm"
    assert logged()[-1][:2] == ("+44 ••• ••• •456", "sms")
    response = auth.confirm(last_code())
    assert response.status_code == 302 and response.headers["Location"].startswith("/profile")
    assert "+44 ••• ••• •456" in page_text(client.get("/profile"))
    auth.logout()

    response = auth.login()
    assert response.headers["Location"] == "/auth/verify"
    assert client.get("/profile").status_code == 302  # not logged in before the code
    response = auth.verify(wrong(last_code()))
    assert response.status_code == 401
    response = auth.verify(last_code())
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert client.get("/profile").status_code == 200

    with app.app_context():
        assert User.by_username("alice").phone == PHONE
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsoleVerification)) == 0
    assert len(logged()) == 2
    assert fake.requests == []
