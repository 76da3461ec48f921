"""The authenticator-app rules: which codes count, at which time, and only once."""
import re
import time
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
import time_machine

from app.methods.totp import rules

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# 2026-03-01 12:00:00 UTC, the first second of a step (a multiple of 30 s since the epoch).
STEP_START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
STEP = int(STEP_START.timestamp()) // 30


def code_of(step, secret=SECRET):
    """What an authenticator app shows during `step`, computed by pyotp on its own."""
    return pyotp.TOTP(secret).at(step * 30)


def test_the_rules_are_the_common_apps_defaults():
    assert (rules.DIGITS, rules.PERIOD, rules.DRIFT_STEPS) == (6, 30, 1)
    assert STEP_START.timestamp() % 30 == 0


def test_the_step_is_pyotps_timecode():
    for at in (STEP_START, STEP_START + timedelta(seconds=29, microseconds=999_999), STEP_START - timedelta(seconds=1)):
        assert rules.step_at(at) == pyotp.TOTP(SECRET).timecode(at)


@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["previous", "this", "next"])
def test_a_code_of_this_or_a_neighbouring_step_is_accepted(offset):
    at = STEP_START + timedelta(seconds=12)
    assert rules.matching_step(SECRET, code_of(STEP + offset), at=at) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2, -10], ids=["two-before", "two-after", "five-minutes-old"])
def test_a_code_two_or_more_steps_away_is_refused(offset):
    at = STEP_START + timedelta(seconds=12)
    assert rules.matching_step(SECRET, code_of(STEP + offset), at=at) is None


def test_the_step_boundary():
    last_second = STEP_START - timedelta(seconds=1)
    last_instant = STEP_START - timedelta(microseconds=1)
    assert rules.step_at(last_second) == rules.step_at(last_instant) == STEP - 1
    assert rules.step_at(STEP_START) == STEP
    # In the last second of a step the code two steps back still counts; a second later it doesn't.
    assert rules.matching_step(SECRET, code_of(STEP - 2), at=last_second) == STEP - 2
    assert rules.matching_step(SECRET, code_of(STEP - 2), at=STEP_START) is None
    # ... and the code two steps ahead starts counting at the first second of the next step.
    assert rules.matching_step(SECRET, code_of(STEP + 1), at=last_second) is None
    assert rules.matching_step(SECRET, code_of(STEP + 1), at=STEP_START) == STEP + 1


def test_a_used_step_is_never_accepted_again():
    at = STEP_START + timedelta(seconds=5)
    used = rules.matching_step(SECRET, code_of(STEP), at=at)
    assert used == STEP
    assert rules.matching_step(SECRET, code_of(STEP), at=at, last_used_step=used) is None
    assert rules.matching_step(SECRET, code_of(STEP), at=at + timedelta(seconds=30), last_used_step=used) is None
    assert rules.matching_step(SECRET, code_of(STEP - 1), at=at, last_used_step=used) is None


def test_a_later_step_than_the_used_one_is_accepted():
    at = STEP_START + timedelta(seconds=5)
    assert rules.matching_step(SECRET, code_of(STEP), at=at, last_used_step=STEP - 1) == STEP
    assert rules.matching_step(SECRET, code_of(STEP + 1), at=at, last_used_step=STEP) == STEP + 1


def test_without_a_used_step_any_step_in_the_window_counts():
    at = STEP_START + timedelta(seconds=5)
    assert rules.matching_step(SECRET, code_of(STEP - 1), at=at, last_used_step=None) == STEP - 1


def test_the_code_may_be_typed_with_spaces():
    code = code_of(STEP)
    assert rules.matching_step(SECRET, f" {code[:3]} {code[3:]}\t", at=STEP_START) == STEP


@pytest.mark.parametrize("code", [
    "12345", "1234567", "12a456", "12-456", "", None, "١٢٣٤٥٦", "12345²", "+12345",
], ids=["five", "seven", "letter", "dash", "empty", "none", "arabic-indic", "superscript", "sign"])
def test_a_code_not_of_six_ascii_digits_is_refused_without_asking_pyotp(code, monkeypatch):
    def must_not_be_called(*args, **kwargs):
        raise AssertionError("pyotp was asked about a code of the wrong shape")

    monkeypatch.setattr(rules.pyotp, "TOTP", must_not_be_called)
    assert rules.matching_step(SECRET, code, at=STEP_START) is None


def test_a_wrong_code_is_refused():
    at = STEP_START + timedelta(seconds=5)
    window = {code_of(STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in window)
    assert rules.matching_step(SECRET, wrong, at=at) is None


def test_another_secrets_code_is_refused():
    other = pyotp.random_base32()
    codes = {code_of(STEP + offset, other) for offset in (-1, 0, 1)} - {code_of(STEP + offset) for offset in (-1, 0, 1)}
    for code in codes:
        assert rules.matching_step(SECRET, code, at=STEP_START) is None


@pytest.fixture
def server_in_new_york(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_datetime_is_utc_whatever_the_servers_zone(server_in_new_york):
    naive = STEP_START.replace(tzinfo=None) + timedelta(seconds=5)
    assert rules.step_at(naive) == STEP
    assert rules.matching_step(SECRET, code_of(STEP), at=naive) == STEP


def test_without_at_the_clock_is_now():
    with time_machine.travel(STEP_START + timedelta(seconds=7), tick=False):
        assert rules.step_at() == STEP
        assert rules.matching_step(SECRET, code_of(STEP)) == STEP
        assert rules.matching_step(SECRET, code_of(STEP + 2)) is None


def test_a_new_secret_is_160_random_bits_of_base32():
    secrets = {rules.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(pyotp.TOTP(secret).byte_secret()) == 20


@pytest.mark.parametrize("username", [
    "alice", "o'brien+2fa@example.org", "ünïcødé name", "a:b/c?d&e#f%41=g", "  spaced  ",
])
def test_the_provisioning_uri_is_read_back_by_pyotp(username):
    uri = rules.provisioning_uri(SECRET, username, "SMS 2FA")
    assert uri.startswith("otpauth://totp/SMS%202FA:")
    assert "+" not in uri and " " not in uri
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.issuer, parsed.name, parsed.secret) == ("SMS 2FA", username, SECRET)
    assert (parsed.digits, parsed.interval, parsed.digest().name) == (6, 30, "sha1")
    assert parsed.at(STEP * 30) == code_of(STEP)


def test_the_provisioning_uri_has_the_issuer_in_label_and_query():
    uri = rules.provisioning_uri(SECRET, "alice", "SMS 2FA")
    assert uri == f"otpauth://totp/SMS%202FA:alice?secret={SECRET}&issuer=SMS%202FA"


def test_the_qr_code_is_inline_svg_safe_under_the_content_security_policy():
    svg = rules.qr_svg(rules.provisioning_uri(SECRET, "alice", "SMS 2FA"))
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert 'role="img"' in svg and 'aria-label="QR code for your authenticator app"' in svg
    assert "<title>QR code for your authenticator app</title>" in svg
    lowered = svg.lower()
    for forbidden in ("<script", "style", "href", "<image", "<foreignobject", "javascript:", " on"):
        assert forbidden not in lowered
    assert set(re.findall(r"https?://[^\s\"'<>]+", svg)) <= {"http://www.w3.org/2000/svg"}


def test_the_qr_codes_label_is_escaped():
    svg = rules.qr_svg("otpauth://totp/x:y?secret=AAAA", label='Scan "this" <now> & go')
    assert 'aria-label="Scan &quot;this&quot; &lt;now&gt; &amp; go"' in svg
    assert "<now>" not in svg


def test_the_key_reads_in_groups_of_four():
    for secret in (SECRET, rules.new_secret(), "ABCDEFGHIJ"):
        grouped = rules.key_in_groups(secret)
        groups = grouped.split(" ")
        assert all(len(group) == 4 for group in groups[:-1]) and 1 <= len(groups[-1]) <= 4
        assert "".join(groups) == secret
    assert rules.key_in_groups("ABCDEFGHIJKLMNOP") == "ABCD EFGH IJKL MNOP"
