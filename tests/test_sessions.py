"""Sessions: fresh at each login step, kept on the server, ended by logout, factor changes and time."""
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.http import parse_date

import sqlalchemy as sa
from flask import request

from app import session_store
from app.extensions import db
from app.models import SecurityEvent, ServerSession
from tests.conftest import page_text
from tests.support import new_browser

SESSION = "session"
REMEMBER = "remember_token"
SESSION_STORES = pytest.mark.parametrize("app_overrides", [
    pytest.param({}, id="db-sessions"),
    pytest.param({"SESSION_REDIS_URL": os.environ.get("REDIS_URL")}, id="redis-sessions", marks=pytest.mark.redis),
], indirect=True)


def cookie(client, name=SESSION):
    found = client.get_cookie(name)
    return found.value if found is not None else None


def stored_session(app, sid):
    with app.app_context():
        return db.session.get(ServerSession, session_store.store_key(sid))


def session_is_stored(app, sid):
    """Whether the server still holds the session `sid`, in the database or in Redis."""
    with app.test_request_context():
        return app.session_interface.backend.load(session_store.store_key(sid), session_store.now()) is not None


def assert_logged_out(response):
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def disable_2fa(auth):
    auth.reauthenticate()
    assert auth.client.get("/profile/2fa/disable").status_code == 200
    response = auth.post("/profile/2fa/disable", form_url="/profile/2fa/disable")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"


def enable_2fa(auth):
    assert auth.start_enrolment().status_code == 302
    response = auth.confirm()
    assert response.status_code == 302, page_text(response)


# --- a fresh session at each success --------------------------------------------------------------

@SESSION_STORES
def test_login_starts_a_fresh_session(app, auth, client, fake):
    auth.register()
    auth.logout()
    client.get("/auth/login")
    before = cookie(client)
    assert before and not session_store.SESSION_ID.match(before)  # a signed cookie, no server-side id
    # Nothing can be planted in the anonymous cookie: even one signed with the app's key keeps
    # only its CSRF token.
    planted = app.session_interface.signer.dumps({"csrf_token": "x", "_user_id": "planted", "next": "/x"})
    with app.test_request_context(headers={"Cookie": f"{SESSION}={planted}"}):
        assert dict(app.session_interface.open_session(app, request)) == {"csrf_token": "x"}
    response = auth.login()
    assert response.headers["Location"] == "/profile"
    with client.session_transaction() as session:
        assert session.get("_user_id")
    after = cookie(client)
    assert session_store.SESSION_ID.match(after) and session_is_stored(app, after)
    # Logging in again from a logged-in browser's session id replaces that id too.
    assert_logged_out(new_browser(app, fake, cookies={SESSION: before}).client.get("/profile"))
    auth.logout()
    auth.login()
    assert cookie(client) != after and not session_is_stored(app, after)


@SESSION_STORES
def test_code_success_starts_a_fresh_session(app, auth, client, fake):
    auth.signup_with_2fa()
    assert auth.login().headers["Location"] == "/auth/verify"
    with client.session_transaction() as session:
        session["planted"] = "x"
    before = cookie(client)
    response = auth.verify()
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert not [key for key in session if key.startswith("pending_login_")]
    assert cookie(client) not in (None, before)
    assert not session_is_stored(app, before)
    assert client.get("/profile").status_code == 200


# --- server-side sessions ------------------------------------------------------------------------

@SESSION_STORES
def test_session_cookie_copied_before_logout_is_anonymous_after_it(app, auth, client, fake):
    auth.register()
    copied = cookie(client)
    thief = new_browser(app, fake, cookies={SESSION: copied}).client
    assert thief.get("/profile").status_code == 200  # the copy works while the session lives
    assert session_is_stored(app, copied)
    auth.logout()
    assert not session_is_stored(app, copied)
    assert_logged_out(thief.get("/profile"))
    assert_logged_out(client.get("/profile"))


def test_turning_2fa_on_logs_out_other_sessions(app, auth, client, fake):
    auth.register()
    other = new_browser(app, fake)
    assert other.login().headers["Location"] == "/profile"
    assert other.client.get("/profile").status_code == 200
    enable_2fa(auth)
    assert_logged_out(other.client.get("/profile"))
    assert client.get("/profile").status_code == 200  # the session that made the change stays


def test_turning_2fa_off_logs_out_other_sessions(app, auth, client, fake):
    auth.signup_with_2fa()
    auth.login_with_code()
    other = new_browser(app, fake)
    other.login_with_code()
    assert other.client.get("/profile").status_code == 200
    disable_2fa(auth)
    assert_logged_out(other.client.get("/profile"))
    response = client.get("/profile")
    assert response.status_code == 200
    assert "Enable 2FA" in page_text(response)


# --- remember me ---------------------------------------------------------------------------------
# Whatever carries "Remember me" (a remember cookie or a long-lived session cookie), it is a cookie
# that outlives the browser session; these tests follow such cookies by their lifetime.

DAY = 24 * 3600


def lasting_cookies(response):
    """Cookies `response` sets that outlive the browser session: name -> seconds they last."""
    now = datetime.now(UTC)
    lasting = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if not rest.split(";")[0]:
            continue  # a deletion
        attributes = {}
        for part in rest.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            attributes[key.lower()] = value
        if "max-age" in attributes:
            seconds = int(attributes["max-age"])
        elif "expires" in attributes:
            seconds = (parse_date(attributes["expires"]) - now).total_seconds()
        else:
            continue
        if seconds > 0:
            lasting[name] = seconds
    return lasting


def copies(client, names):
    return {name: cookie(client, name) for name in names if cookie(client, name)}


def remembered_login(auth):
    """Logs in with "Remember me" (and the code, with 2FA); returns the lasting cookies' copies."""
    response = auth.login(remember=True)
    if response.headers.get("Location") == "/auth/verify":
        response = auth.verify()
    assert response.status_code == 302, page_text(response)
    lasting = lasting_cookies(response)
    assert lasting, "Remember me set no cookie that outlives the browser session"
    assert max(lasting.values()) > DAY
    assert max(lasting.values()) <= 30 * DAY + 60
    return copies(auth.client, lasting)


def test_remember_me_takes_effect_only_after_the_second_factor(app, auth, client, fake):
    auth.signup_with_2fa()
    response = auth.login(remember=True)
    assert response.headers["Location"] == "/auth/verify"
    assert all(seconds <= 3600 for seconds in lasting_cookies(response).values())
    # Copies of every cookie the browser holds now do not log anyone in.
    held = copies(client, (SESSION, REMEMBER))
    assert_logged_out(new_browser(app, fake, cookies=held).client.get("/profile"))
    response = auth.verify()
    assert response.status_code == 302
    lasting = lasting_cookies(response)
    assert lasting and DAY < max(lasting.values()) <= 30 * DAY + 60
    # A browser restarted with only the lasting cookies is still logged in.
    assert new_browser(app, fake, cookies=copies(client, lasting)).client.get("/profile").status_code == 200


def test_remembered_login_ends_when_2fa_is_turned_off(app, auth, client, fake):
    auth.signup_with_2fa()
    other = new_browser(app, fake)
    kept = remembered_login(other)
    assert new_browser(app, fake, cookies=kept).client.get("/profile").status_code == 200
    auth.login_with_code()
    disable_2fa(auth)
    assert_logged_out(other.client.get("/profile"))
    assert_logged_out(new_browser(app, fake, cookies=kept).client.get("/profile"))
    assert client.get("/profile").status_code == 200


def test_remembered_login_ends_when_2fa_is_turned_on(app, auth, client, fake):
    auth.register()
    other = new_browser(app, fake)
    kept = remembered_login(other)
    enable_2fa(auth)
    assert_logged_out(other.client.get("/profile"))
    assert_logged_out(new_browser(app, fake, cookies=kept).client.get("/profile"))
    assert client.get("/profile").status_code == 200


def test_remembered_cookies_copied_before_logout_are_refused_after_it(app, auth, fake):
    auth.register()
    auth.logout()
    kept = remembered_login(auth)
    auth.logout()
    assert_logged_out(new_browser(app, fake, cookies=kept).client.get("/profile"))


# --- timeouts ------------------------------------------------------------------------------------

@pytest.fixture
def session_clock(monkeypatch):
    """Moves the clock the server-side session store reads its expiry by."""

    class ShiftedDatetime(datetime):
        offset = timedelta(0)

        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + cls.offset

    monkeypatch.setattr(session_store, "datetime", ShiftedDatetime)

    def advance(**delta):
        ShiftedDatetime.offset += timedelta(**delta)

    return advance


@pytest.fixture
def clock(monkeypatch):
    """Moves time.time, which the absolute timeout reads."""
    offset = [0.0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])

    def advance(**delta):
        offset[0] += timedelta(**delta).total_seconds()

    return advance


def test_stored_session_expires_30_minutes_after_the_last_request(app, auth, client):
    auth.register()
    row = stored_session(app, cookie(client))
    left = row.expires_at - datetime.now(UTC)
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


def test_idle_timeout_is_30_minutes(auth, client, session_clock):
    auth.register()
    session_clock(minutes=29)
    assert client.get("/profile").status_code == 200
    session_clock(minutes=29)  # 58 minutes after login, 29 after the last request
    assert client.get("/profile").status_code == 200
    session_clock(minutes=31)
    assert_logged_out(client.get("/profile"))


def test_absolute_timeout_is_12_hours_however_active(auth, client, clock):
    auth.register()
    for _ in range(11):
        clock(hours=1)
        assert client.get("/profile").status_code == 200
    clock(minutes=59)
    assert client.get("/profile").status_code == 200
    clock(minutes=2)  # 12 h 1 min after login
    response = client.get("/profile")
    assert_logged_out(response)
    assert "Your session has ended" in page_text(client.get(response.headers["Location"]))
    assert_logged_out(client.get("/profile"))


def test_absolute_timeout_also_applies_after_a_code_login(auth, client, fake, clock):
    auth.signup_with_2fa()
    auth.login_with_code()
    clock(hours=11, minutes=59)
    assert client.get("/profile").status_code == 200
    clock(minutes=2)
    assert_logged_out(client.get("/profile"))


def test_remembered_login_outlives_12_hours_but_not_30_days(auth, client, clock):
    auth.register()
    auth.logout()
    remembered_login(auth)
    clock(hours=13)
    assert client.get("/profile").status_code == 200
    clock(days=29)  # 29 days 13 hours
    assert client.get("/profile").status_code == 200
    clock(hours=11, minutes=1)  # 30 days and a minute
    assert_logged_out(client.get("/profile"))


# --- session protection --------------------------------------------------------------------------

def test_strong_session_protection_refuses_another_user_agent(auth, client):
    auth.register()
    assert client.get("/profile").status_code == 200
    assert_logged_out(client.get("/profile", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Other/1.0"}))
    # The session was dropped, not just hidden from that request.
    assert_logged_out(client.get("/profile"))


def test_a_new_address_keeps_the_session_and_is_recorded(app, auth, client, fake):
    """Phones move between Wi-Fi and mobile data: the session survives, the event log says so."""
    auth.register()
    copied = cookie(client)
    elsewhere = new_browser(app, fake, cookies={SESSION: copied}).client
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    assert elsewhere.get("/profile").status_code == 200
    assert elsewhere.get("/profile").status_code == 200
    with app.app_context():
        kinds = db.session.scalars(sa.select(SecurityEvent.kind).order_by(SecurityEvent.id)).all()
        ips = db.session.scalars(sa.select(SecurityEvent.ip).where(SecurityEvent.kind == "new_network")).all()
    assert kinds.count("new_network") == 1 and ips == ["198.51.100.23"]
    assert "Signed in from a new network" in page_text(elsewhere.get("/profile"))


@pytest.mark.redis
def test_the_redis_index_of_a_users_sessions_outlives_the_longest_session(fake):
    """Ending every session of an account (a new password, 2FA off) finds them through the
    index, so the index lives at least as long as a remembered session can, whatever REMEMBER_DAYS."""
    import redis

    from app.models import User
    from tests.conftest import AuthActions, build_app, dispose_app, make_config, redis_url

    app = build_app(make_config(fake, SESSION_REDIS_URL=redis_url(), REMEMBER_LIFETIME=timedelta(days=90)))
    try:
        auth = AuthActions(app.test_client(), fake)
        auth.register("ivy")
        auth.logout()
        assert auth.login("ivy", remember=True).status_code == 302
        with app.app_context():
            user_id = User.by_username("ivy").id
        assert redis.Redis.from_url(redis_url()).ttl(f"user-session-index:{user_id}") >= 90 * 86400
    finally:
        dispose_app(app)
