"""Remember this device: a trusted browser skips the code step, until it is forgotten."""
import hashlib
import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Response
from itsdangerous import URLSafeTimedSerializer

from app import devices
from app.extensions import db
from app.models import TrustedDevice, User, utcnow
from tests.conftest import PASSWORD, page_text
from tests.support import NO_SEND_LIMITS, event_kinds, new_browser

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)  # many logins per test

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
BOB_PHONE, BOB_NATIONAL = "+447400123457", "07400 123457"
NEW_PHONE, NEW_NATIONAL = "+447400654321", "07400 654321"
NEW_PASSWORD = "a different horse staple"
CHECKBOX_LABEL = "Don't ask for a code on this browser for 30 days"


@pytest.fixture
def client(app):
    """A desktop Chrome, so the device list has something recognisable to show."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = UA
    return client


def assert_code_skipped(auth, username="alice", password=PASSWORD):
    sends = len(auth.fake.sends)
    response = auth.login(username, password=password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert len(auth.fake.sends) == sends, "no code should be sent to a remembered browser"
    assert auth.client.get("/profile").status_code == 200


def assert_code_asked(auth, username="alice", password=PASSWORD):
    response = auth.login(username, password=password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/verify"
    assert auth.client.get("/profile").status_code == 302


def device_rows(app, username="alice"):
    with app.app_context():
        user = User.by_username(username)
        return db.session.scalars(sa.select(TrustedDevice).where(TrustedDevice.user_id == user.id)).all()


def remembered_alice(auth):
    """alice with 2FA, logged in on this browser with the box ticked."""
    auth.signup_with_2fa("alice")
    response = auth.login_with_code(remember_device=True)
    assert len(device_rows(auth.client.application)) == 1
    return response


def remembered_alice_and_laptop(auth):
    """remembered_alice, and a second browser of hers (returned) remembered too."""
    remembered_alice(auth)
    laptop = new_browser(auth.client.application, auth.fake, user_agent=UA)
    laptop.login_with_code(remember_device=True)
    assert len(device_rows(auth.client.application)) == 2
    return laptop


# -- The checkbox and its cookie ----------------------------------------------------------------

def test_code_step_offers_the_checkbox_and_without_it_nothing_is_remembered(app, auth, client):
    auth.signup_with_2fa("alice")
    assert auth.login().headers["Location"] == "/auth/verify"
    page = html.unescape(page_text(client.get("/auth/verify")))
    assert CHECKBOX_LABEL in page
    assert re.search(r'<input[^>]*id="remember_device"[^>]*type="checkbox"', page) or re.search(
        r'<input[^>]*type="checkbox"[^>]*name="remember_device"', page
    )
    response = auth.verify()
    assert response.status_code == 302
    assert "trusted_device" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get_cookie("trusted_device") is None
    assert device_rows(app) == []
    auth.logout()
    assert_code_asked(auth)


def test_remembering_sets_an_httponly_lax_cookie_and_stores_only_its_hash(app, auth, client):
    response = remembered_alice(auth)
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("trusted_device="))
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # plain HTTP in tests; production sets Secure (below)
    assert f"max-age={30 * 24 * 3600}" in attributes

    raw = client.get_cookie("trusted_device").value
    data = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="trusted-device").loads(raw)
    token = data["token"]
    (row,) = device_rows(app)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.description == "Chrome on Linux"
    assert row.ip == "127.0.0.1"
    with app.app_context(), db.engine.connect() as connection:
        dump = "\n".join(
            repr(tuple(r)) for table in db.metadata.sorted_tables for r in connection.execute(table.select())
        )
    assert token not in dump
    assert raw not in dump
    assert "device_trusted" in [kind for kind, _ in event_kinds(app)]


def test_cookie_is_secure_when_session_cookies_are(app):
    app.config["SESSION_COOKIE_SECURE"] = True
    with app.test_request_context("/auth/verify", method="POST", headers={"User-Agent": UA}):
        user = User()
        user.set_username("alice")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        response = Response()
        devices.remember(user, response)
        header = response.headers["Set-Cookie"]
    attributes = [part.strip().lower() for part in header.split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes


# -- Skipping the code, listing and forgetting --------------------------------------------------

def test_remembered_browser_skips_the_code_and_is_listed(app, auth, client):
    remembered_alice(auth)
    auth.logout()
    assert_code_skipped(auth)
    assert ("login_succeeded", "on a remembered browser") in event_kinds(app)
    page = page_text(client.get("/profile"))
    assert "Remembered browsers" in page
    assert "Chrome on Linux" in page
    (row,) = device_rows(app)
    assert f'action="/profile/devices/{row.id}/forget"' in page and ">Forget</button>" in page
    assert 'action="/profile/devices/forget-all"' in page and ">Forget all</button>" in page
    assert row.last_used_at >= row.created_at


def test_remembered_browser_still_needs_the_password(app, auth, client):
    remembered_alice(auth)
    auth.logout()
    response = auth.login(password="wrong password")
    assert response.status_code == 401
    assert "Invalid username or password." in page_text(response)
    assert client.get("/profile").status_code == 302


def test_forgetting_one_browser_asks_for_the_code_again(app, auth, client):
    remembered_alice(auth)
    (row,) = device_rows(app)
    response = auth.post(f"/profile/devices/{row.id}/forget", form_url="/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert device_rows(app) == []
    assert "device_forgotten" in [kind for kind, _ in event_kinds(app)]
    page = page_text(client.get("/profile"))
    assert "That browser will be asked for a code again." in page
    assert "Remembered browsers" not in page
    auth.logout()
    assert client.get_cookie("trusted_device") is not None  # the cookie is still there, but useless
    assert_code_asked(auth)


def test_a_browser_forgotten_as_it_logs_in_is_asked_for_the_code(app, auth, client):
    """"Forget all" in another tab lands between the login finding this browser and marking it
    used: the login asks for a code, not a 500 (a row updated after it was deleted)."""
    remembered_alice(auth)
    auth.logout()
    with app.app_context():
        engine = db.engine

    def forget_all_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE TRUSTED_DEVICES"):
            cursor.connection.execute("DELETE FROM trusted_devices")

    sa.event.listen(engine, "before_cursor_execute", forget_all_first)
    try:
        assert_code_asked(auth)
    finally:
        sa.event.remove(engine, "before_cursor_execute", forget_all_first)
    assert device_rows(app) == []


def test_forget_all_asks_every_browser_for_the_code_again(app, auth, client, fake):
    laptop = remembered_alice_and_laptop(auth)
    response = auth.post("/profile/devices/forget-all", form_url="/profile")
    assert response.status_code == 302
    assert device_rows(app) == []
    assert ("device_forgotten", "all of them") in event_kinds(app)
    laptop.logout()
    assert_code_asked(laptop)
    auth.logout()
    assert_code_asked(auth)


def test_forgetting_needs_csrf_and_only_touches_ones_own_browsers(app, auth, client, fake):
    remembered_alice(auth)
    (row,) = device_rows(app)
    assert client.post(f"/profile/devices/{row.id}/forget").status_code == 400
    assert client.post("/profile/devices/forget-all").status_code == 400
    assert len(device_rows(app)) == 1

    mallory = new_browser(app, fake, user_agent=UA)
    mallory.register("mallory")
    response = mallory.post(f"/profile/devices/{row.id}/forget", form_url="/profile")
    assert response.status_code == 302
    assert "That browser was not found." in page_text(mallory.client.get("/profile"))
    assert len(device_rows(app)) == 1
    auth.logout()
    assert_code_skipped(auth)


# -- Cookies that must not help -----------------------------------------------------------------

def test_another_users_device_cookie_does_not_skip_the_code(app, auth, client, fake):
    remembered_alice(auth)
    alice_cookie = client.get_cookie("trusted_device").value
    auth.logout()
    bob = new_browser(app, fake, user_agent=UA)
    bob.register("bob")
    bob.start_enrolment(BOB_NATIONAL)
    assert bob.confirm(phone=BOB_PHONE).status_code == 302
    bob.logout()
    # alice's cookie, copied into the browser bob logs in from
    bob.client.set_cookie("trusted_device", alice_cookie)
    sends = len(fake.sends)
    assert_code_asked(bob, "bob")
    assert fake.sends[sends:] and fake.sends[-1]["to"] == BOB_PHONE
    # and on alice's own browser, bob's login is not helped either
    assert_code_asked(auth, "bob")
    assert len(device_rows(app, "bob")) == 0


def test_tampered_or_forged_cookies_do_not_skip_the_code(app, auth, client, fake):
    remembered_alice(auth)
    raw = client.get_cookie("trusted_device").value
    auth.logout()
    secret = app.config["SECRET_KEY"]
    with app.app_context():
        alice_id = User.by_username("alice").id
    payload, _, signature = raw.rpartition(".")
    # A middle character: the last one of a base64 signature also carries padding bits, and a
    # change to those alone decodes to the same signature.
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    token = URLSafeTimedSerializer(secret, salt="trusted-device").loads(raw)["token"]
    forged = {
        "bad signature": f"{payload}.{flipped}",
        "signed with another key": URLSafeTimedSerializer("not-the-key", salt="trusted-device").dumps(
            {"user": alice_id, "token": token}
        ),
        "signed for another purpose": URLSafeTimedSerializer(secret, salt="something-else").dumps(
            {"user": alice_id, "token": token}
        ),
        "unknown token": URLSafeTimedSerializer(secret, salt="trusted-device").dumps(
            {"user": alice_id, "token": "x" * 43}
        ),
        "token's hash as the token": URLSafeTimedSerializer(secret, salt="trusted-device").dumps(
            {"user": alice_id, "token": device_rows(app)[0].token_hash}
        ),
        "garbage": "not-a-cookie",
    }
    for name, value in forged.items():
        browser = new_browser(app, fake, user_agent=UA)
        browser.client.set_cookie("trusted_device", value)
        response = browser.login()
        assert response.headers["Location"] == "/auth/verify", name
        assert browser.client.get("/profile").status_code == 302, name
    # Control: the genuine cookie, copied the same way, is honoured (so the forgeries were sent).
    copy = new_browser(app, fake, user_agent=UA)
    copy.client.set_cookie("trusted_device", raw)
    assert_code_skipped(copy)


# -- Everything forgotten on 2FA off, a new phone, a new password ---------------------------------

def test_turning_2fa_off_forgets_every_browser(app, auth, client, fake):
    remembered_alice(auth)
    auth.open_sudo_page("/profile/2fa/disable")
    response = auth.post("/profile/2fa/disable")
    assert response.status_code == 302
    assert device_rows(app) == []
    # Turned on again, with the same number: the old cookie does not skip the code.
    auth.open_sudo_page("/profile/2fa/enable")
    auth.start_enrolment()
    assert auth.confirm().status_code == 302
    auth.logout()
    assert client.get_cookie("trusted_device") is not None
    assert_code_asked(auth)


def test_changing_the_phone_forgets_every_browser(app, auth, client, fake):
    laptop = remembered_alice_and_laptop(auth)
    auth.open_sudo_page("/profile/2fa/phone")
    assert auth.post("/profile/2fa/phone", {"country": "GB", "phone": NEW_NATIONAL}).status_code == 302
    assert len(device_rows(app)) == 2  # not yet: the new number is not confirmed
    assert auth.confirm(phone=NEW_PHONE).status_code == 302
    assert device_rows(app) == []
    auth.logout()
    assert_code_asked(auth)
    assert fake.sends[-1]["to"] == NEW_PHONE
    assert_code_asked(laptop)


def test_changing_the_password_forgets_every_browser(app, auth, client, fake):
    remembered_alice(auth)
    auth.open_sudo_page("/profile/password")
    response = auth.post("/profile/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert device_rows(app) == []
    auth.logout()
    assert_code_asked(auth, password=NEW_PASSWORD)


# -- Thirty days --------------------------------------------------------------------------------

def test_a_browser_remembered_more_than_30_days_ago_asks_again(app, auth, client, monkeypatch):
    remembered_alice(auth)
    auth.logout()
    with app.app_context():
        row = db.session.scalar(sa.select(TrustedDevice))
        row.created_at = utcnow() - timedelta(days=29)
        db.session.commit()
    assert_code_skipped(auth)  # 29 days: still remembered
    auth.logout()
    real_utcnow = devices.utcnow
    monkeypatch.setattr(devices, "utcnow", lambda: real_utcnow() + timedelta(days=1, minutes=1))
    assert_code_asked(auth)  # 30 days and a minute
