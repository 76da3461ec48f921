"""No account enumeration at login, and the security event log: rows, profile list, log lines."""
import json
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import passwords
from app.extensions import db
from app.models import SecurityEvent, User, utcnow
from tests.conftest import PHONE, AuthActions, page_text
from tests.support import new_browser, wait_out_cooldown, wrong_code

CHROME_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
IP = "203.0.113.9"
PHONE_DIGITS = PHONE.lstrip("+")  # 447400123456
NATIONAL_DIGITS = PHONE_DIGITS[2:]  # 7400123456
TOKEN = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+"')


pytestmark = pytest.mark.app_settings(CODE_FAILURES_BEFORE_LOCK=3)


@pytest.fixture
def person(client, auth):
    """The client as a Chrome browser on Linux at a fixed address."""
    client.environ_base.update({"HTTP_USER_AGENT": CHROME_ON_LINUX, "REMOTE_ADDR": IP})
    return auth


def comparable(response, username):
    """The page with what legitimately differs (the CSRF token, the typed username) blanked."""
    text = TOKEN.sub(r"\1TOKEN", page_text(response))
    return text.replace(f'value="{username}"', 'value="USERNAME"')


def events_of(app, username="alice"):
    with app.app_context():
        user = User.by_username(username)
        query = sa.select(SecurityEvent).where(SecurityEvent.user_id == user.id).order_by(SecurityEvent.id)
        return [(e.kind, e.ip, e.user_agent, e.detail) for e in db.session.scalars(query)]


# --- no enumeration ----------------------------------------------------------------------------------

def test_unknown_user_and_wrong_password_give_the_same_page_and_status(app, auth, fake):
    auth.register("alice")
    auth.logout()
    unknown = AuthActions(app.test_client(), fake).login("mallory", "wrong password")
    wrong = AuthActions(app.test_client(), fake).login("alice", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert comparable(unknown, "mallory") == comparable(wrong, "alice")
    assert "Invalid username or password." in page_text(wrong)


def test_unknown_user_and_wrong_password_of_a_2fa_user_give_the_same_page(app, auth, fake):
    auth.signup_with_2fa("alice")
    sends = len(fake.sends)
    unknown = AuthActions(app.test_client(), fake).login("mallory", "wrong password")
    wrong = AuthActions(app.test_client(), fake).login("alice", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert comparable(unknown, "mallory") == comparable(wrong, "alice")
    assert len(fake.sends) == sends  # no code goes out before the password is right


def test_a_password_hash_is_computed_for_unknown_users_too(app, auth, monkeypatch):
    auth.register("alice")
    auth.logout()
    calls = []
    real = passwords.verify_password

    def counting(pwhash, password):
        calls.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    assert auth.login("mallory", "wrong password").status_code == 401
    assert len(calls) == 1
    with app.app_context():
        dummy = passwords.dummy_password_hash()
        real_hash = User.by_username("alice").password_hash
    assert calls[0] == dummy
    # The dummy costs what a real one does: Argon2id at the same parameters ("$argon2id$v=19$m=8,t=1,p=1").
    assert dummy.split("$")[:4] == real_hash.split("$")[:4]
    assert dummy.startswith("$argon2id$")
    assert auth.login("alice", "wrong password").status_code == 401
    assert calls[1:] == [real_hash]


def test_nothing_about_2fa_or_the_phone_before_the_password_is_verified(app, auth, client, fake):
    auth.signup_with_2fa("alice")
    response = auth.login("alice", "wrong password")
    text = page_text(response).lower()
    text = text[text.index("<main"):text.index("</main>")]  # the site name "SMS 2FA" is in the header
    for hint in ("verification code", "two-factor", "2fa", "phone", "•456", "456", "text message", "call me"):
        assert hint not in text, hint
    assert "/auth/verify" not in response.headers.get("Location", "")
    with client.session_transaction() as session:
        assert not [key for key in session if key.startswith("pending_login_")]
    # The code step cannot be reached without the password.
    response = client.get("/auth/verify")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=login-expired"


# --- the security event log ------------------------------------------------------------------------

def test_security_events_are_stored_with_ip_and_short_user_agent(app, person, fake):
    person.register("alice")
    person.start_enrolment()
    assert person.confirm(wrong_code(fake)).status_code == 401
    assert person.confirm().status_code == 302
    person.logout()
    assert person.login("alice", "wrong password").status_code == 401
    person.login()
    assert person.verify(wrong_code(fake)).status_code == 401
    assert person.verify().status_code == 302
    person.reauthenticate()
    assert person.post("/profile/2fa/disable").status_code == 302

    rows = events_of(app)
    kinds = [kind for kind, *_ in rows]
    for kind in ("signed_up", "code_sent", "code_failed", "2fa_enabled", "logged_out",
                 "login_failed", "login_succeeded", "2fa_disabled"):
        assert kind in kinds, (kind, kinds)
    assert kinds.count("code_failed") == 2
    for kind, ip, agent, detail in rows:
        assert ip == IP, kind
        assert agent == "Chrome on Linux", kind
        assert PHONE not in detail and NATIONAL_DIGITS not in detail, (kind, detail)
    sent = [detail for kind, _, _, detail in rows if kind == "code_sent"]
    assert all("+44 ••• ••• •456" in detail for detail in sent), sent
    # The person sees them on the profile, failed codes included.
    profile = page_text(person.client.get("/profile?events=more"))
    for description in ("Wrong code entered", "Wrong password entered", "Two-factor authentication (2FA) turned on",
                        "Two-factor authentication (2FA) turned off", "Chrome on Linux", IP):
        assert description in profile, description


def test_a_locked_code_step_is_recorded(app, person, fake):
    person.signup_with_2fa("alice")
    person.login()
    bad = wrong_code(fake)
    for _ in range(2):
        assert person.verify(bad).status_code == 401
    assert person.verify(bad).status_code == 429
    rows = events_of(app)
    locked = [row for row in rows if row[0] == "code_step_locked"]
    assert len(locked) == 1
    assert locked[0][1:3] == (IP, "Chrome on Linux")


@pytest.mark.parametrize("change", ["on", "off"])
def test_ending_other_sessions_is_recorded_when_there_were_some(app, auth, fake, change):
    if change == "on":
        auth.register("alice")
        other = new_browser(app, fake)
        assert other.login().status_code == 302
    else:
        auth.signup_with_2fa("alice")
        other = new_browser(app, fake)
        other.login_with_code()
        wait_out_cooldown(app)
        auth.login_with_code()
    revoked = [kind for kind, *_ in events_of(app)].count("sessions_revoked")
    if change == "on":
        auth.start_enrolment()
        assert auth.confirm().status_code == 302
    else:
        auth.reauthenticate()
        assert auth.post("/profile/2fa/disable").status_code == 302
    assert [(kind, detail) for kind, _, _, detail in events_of(app)[-3:] if kind == "sessions_revoked"] == [("sessions_revoked", "1")]
    assert [kind for kind, *_ in events_of(app)].count("sessions_revoked") == revoked + 1
    assert other.client.get("/profile").status_code == 302


def test_no_other_sessions_ended_is_not_recorded(app, auth):
    auth.register("alice")
    auth.start_enrolment()
    assert auth.confirm().status_code == 302
    assert "sessions_revoked" not in [kind for kind, *_ in events_of(app)]


def events_section(response):
    text = page_text(response)
    section = text[text.index('id="events-heading"'):]
    return section[:section.index("</section>")]


def test_profile_shows_the_last_10_events_and_more_on_request(app, auth, client):
    auth.register("alice")
    with app.app_context():
        user = User.by_username("alice")
        start = utcnow() + timedelta(minutes=5)  # newer than the sign-up event
        db.session.add_all(
            SecurityEvent(user_id=user.id, kind="login_failed", detail=f"marker-{n:02d}",
                          ip=IP, user_agent="Chrome on Linux", created_at=start + timedelta(seconds=n))
            for n in range(1, 26)
        )
        db.session.commit()
    section = events_section(client.get("/profile"))
    shown = re.findall(r"marker-(\d\d)", section)
    assert shown == [f"{n:02d}" for n in range(25, 15, -1)]  # newest first, 25 down to 16
    assert len(re.findall(r'<li class="event">', section)) == 10
    assert 'href="/profile?events=more#events-heading">Show more' in section
    # "Show more" is a plain link: it works without JavaScript, and lists everything up to 50.
    section = events_section(client.get("/profile?events=more"))
    assert re.findall(r"marker-(\d\d)", section) == [f"{n:02d}" for n in range(25, 0, -1)]
    assert "Account created" in section
    assert len(re.findall(r'<li class="event">', section)) == 26
    assert "Show more" not in section


def test_event_log_lines_are_json_with_the_number_masked(app, person, fake, caplog):
    caplog.set_level(logging.INFO, logger="app.security_events")
    person.register("alice")
    person.start_enrolment()
    person.confirm(wrong_code(fake))
    person.confirm()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "app.security_events"]
    assert [line["event"] for line in lines][:3] == ["signed_up", "reauthenticated", "code_sent"]
    for line in lines:
        assert set(line) >= {"event", "user_id", "ip", "user_agent", "detail"}
        assert line["ip"] == IP and line["user_agent"] == "Chrome on Linux"
    sent = [line for line in lines if line["event"] == "code_sent"]
    assert sent and "+44 ••• ••• •456" in sent[0]["detail"]


def test_server_log_never_holds_the_full_number_or_a_code(app, person, fake, caplog):
    """With the twilio provider: every logger, every level, through enrolment and logins."""
    caplog.set_level(logging.DEBUG)
    person.register("alice")
    person.start_enrolment()
    person.confirm(wrong_code(fake))
    person.confirm()
    person.logout()
    person.login()
    person.post("/auth/verify/resend", form_url="/auth/verify")  # throttled: logged, not sent
    person.verify(wrong_code(fake))
    person.verify()
    fake.inject("send", 500, code=20500, message="Internal error")
    person.logout()
    person.login()  # a failed send is logged
    codes = {send["code"] for send in fake.sends} | {check["code"] for check in fake.checks if check["code"]}
    assert codes
    log = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "app.security_events" in log and "twilio" in log  # the capture saw the app and the client
    for secret in (PHONE, PHONE_DIGITS, NATIONAL_DIGITS, "7400 123456"):
        assert secret not in log, secret
    for code in codes:
        assert not re.search(rf"(?<!\d){code}(?!\d)", log), f"code {code} in the log"
