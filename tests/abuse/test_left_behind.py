"""Issue 9, "data left behind": new recovery codes are retrievable only in the session that made
them, for at most 10 minutes, and never cached; deleting an account ends every session of the user
and removes its console verifications; no Redis key holds a phone number; the remembered-browser
cookie is `__Host-` in production."""
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import ConsoleVerification
from tests.abuse.conftest import (
    SESSION_STORES,
    SHARED_SETTINGS,
    enter_code,
    is_logged_in,
    log_in,
    log_out,
    sign_up,
    start_enrolment,
    two_factor_user,
    user_id,
)
from tests.conftest import PASSWORD, PHONE
from tests.support import SESSION_COOKIE, new_browser, random_gb_mobile

COOLDOWN = SHARED_SETTINGS["SEND_COOLDOWN_SECONDS"]


CODE_IN_PAGE = re.compile(r"(?<![\w-])[a-z2-9]{4}-[a-z2-9]{4}(?![\w-])")


def codes_in(response):
    """What looks like a recovery code on a page or in a download (`flex-wrap` does too: compare
    with codes known from the download)."""
    return CODE_IN_PAGE.findall(response.text if hasattr(response, "text") else response.get_data(as_text=True))


def log_in_with_code(live, fake, visitor, user, **extra):
    time.sleep(COOLDOWN)
    response = log_in(live, visitor, user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/verify", response.text[-1500:]
    return visitor.post_form(live.url + "/auth/verify", {"code": fake.last_code(user.phone), **extra})


@pytest.mark.live
def test_new_recovery_codes_are_never_cached_and_stay_in_their_session(live_app, fake):
    browser = live_app.visitor()
    username = sign_up(live_app, browser)
    phone = random_gb_mobile()
    assert start_enrolment(live_app, browser, phone).status_code == 302
    response = enter_code(live_app, browser, "/profile/2fa/confirm", fake.last_code(phone))
    assert response.headers["Location"] == "/profile/recovery-codes"

    page = browser.get(live_app.url + "/profile/recovery-codes")
    download = browser.get(live_app.url + "/profile/recovery-codes.txt")
    shown = codes_in(download)
    assert len(set(shown)) == 10 and set(shown) <= set(codes_in(page))
    for response in (page, download):
        assert "no-store" in response.headers.get("Cache-Control", ""), (
            f"{response.url}: Cache-Control {response.headers.get('Cache-Control')!r}")

    # The same person, logged in in another browser, does not see them.
    other = live_app.visitor()
    user = type("User", (), {"username": username, "phone": phone})
    assert log_in_with_code(live_app, fake, other, user).status_code == 302
    for path in ("/profile/recovery-codes", "/profile/recovery-codes.txt"):
        assert not set(codes_in(other.get(live_app.url + path))) & set(shown)


def test_new_recovery_codes_are_gone_after_ten_minutes(auth, client, fake, monkeypatch):
    """Through the test client, with the clock moved on: a live server keeps real time."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)  # this package's fake speaks HTTPS
    auth.register("alice")
    auth.start_enrolment()
    assert auth.confirm().headers["Location"] == "/profile/recovery-codes"
    shown = set(codes_in(client.get("/profile/recovery-codes.txt")))
    assert len(shown) == 10 and shown <= set(codes_in(client.get("/profile/recovery-codes")))

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=10, seconds=30), tick=True):
        for path in ("/profile/recovery-codes", "/profile/recovery-codes.txt"):
            still = shown & set(codes_in(client.get(path)))
            assert not still, f"10.5 minutes later {path} still shows {len(still)} of the codes"


@pytest.mark.live
@pytest.mark.parametrize("sessions", SESSION_STORES)
def test_deleting_an_account_ends_every_session_of_it(fresh_live_app, fake, sessions):
    # A server of its own: on SQLite the next account could get the deleted one's id.
    live_app = fresh_live_app(sessions, SEND_COOLDOWN_SECONDS=COOLDOWN)
    user = two_factor_user(live_app, fake, logged_out=False)
    deleting = user.visitor
    # Sudo first: the password, then a code.
    time.sleep(COOLDOWN)
    response = deleting.post_form(live_app.url + "/auth/reauthenticate?next=/profile/delete", {"password": PASSWORD})
    assert response.headers["Location"].startswith("/auth/reauthenticate/code"), response.text[-1500:]
    response = deleting.post_form(live_app.url + response.headers["Location"], {"code": fake.last_code(user.phone)})
    assert response.headers["Location"] == "/profile/delete"
    # Another browser logged in, and a third with a login waiting for its code.
    other = live_app.visitor()
    assert log_in_with_code(live_app, fake, other, user).headers["Location"] == "/profile"
    pending = live_app.visitor()
    time.sleep(COOLDOWN)
    assert log_in(live_app, pending, user.username).headers["Location"] == "/auth/verify"
    sids = [browser.cookies[SESSION_COOKIE] for browser in (deleting, other, pending)]
    token = live_app.scalar("SELECT session_token FROM users WHERE id = :uid", uid=user_id(live_app, user.username))

    response = deleting.post_form(live_app.url + "/profile/delete", {"username": user.username})
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")

    left = [(sid, data) for sid, data in live_app.stored_sessions()
            if any(old in sid for old in sids) or token.encode() in data or user.phone[-9:].encode() in data]
    assert not left, f"{len(left)} of the user's {len(sids)} sessions are still stored after the account was deleted"
    assert not is_logged_in(live_app, other)
    response = pending.get(live_app.url + "/auth/verify")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


@pytest.mark.live
def test_a_new_account_starts_with_a_send_budget_of_its_own(live_app, fake):
    """Limits counted per account die with it, even where the database gives its id to the next."""
    leaving = live_app.visitor()
    username = sign_up(live_app, leaving)
    answers = [start_enrolment(live_app, leaving, random_gb_mobile()).status_code for _ in range(6)]
    assert answers == [302] * 5 + [429]  # SEND_LIMIT_PER_ACCOUNT: 5 per 10 minutes
    response = leaving.post_form(live_app.url + "/auth/reauthenticate?next=/profile/delete", {"password": PASSWORD})
    assert response.headers["Location"] == "/profile/delete"
    assert leaving.post_form(live_app.url + "/profile/delete", {"username": username}).status_code == 302

    newcomer = live_app.visitor()
    sign_up(live_app, newcomer)
    response = start_enrolment(live_app, newcomer, random_gb_mobile())
    assert response.status_code == 302, f"a new account's first enrolment: {response.status_code}"


@pytest.mark.app_settings(VERIFY_PROVIDER="console")
def test_deleting_an_account_removes_its_console_verifications(app, auth, client, fake, caplog):
    """The console provider (development only) keeps verifications in the database."""
    def console_code():
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DEVELOPMENT CODE")]
        return lines[-1].rsplit(" ", 1)[1]

    auth.register("alice")
    auth.start_enrolment()
    assert auth.confirm(console_code()).status_code == 302
    response = auth.post("/auth/reauthenticate?next=/profile/delete", {"password": PASSWORD})
    response = auth.post(response.headers["Location"], {"code": console_code()})
    assert response.headers["Location"] == "/profile/delete"
    # A login elsewhere leaves a code waiting for the number.
    assert new_browser(app, fake).login("alice").headers["Location"] == "/auth/verify"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsoleVerification)) == 1

    assert auth.post("/profile/delete", {"username": "alice"}).status_code == 302

    with app.app_context():
        left = db.session.scalars(sa.select(ConsoleVerification.phone)).all()
    assert PHONE not in left, "the deleted user's console verification is still stored"


@pytest.mark.live
@pytest.mark.redis
def test_no_redis_key_holds_a_phone_number(live_app, fake):
    user = two_factor_user(live_app, fake)
    assert log_in_with_code(live_app, fake, user.visitor, user).status_code == 302
    keys = [key.decode() for key in live_app.redis_keys()]
    assert keys, "the limits are kept in Redis"
    holding = [key for key in keys if user.phone[-9:] in key]
    assert not holding, f"{len(holding)} Redis keys hold the phone number, e.g. {holding[0]}"


@pytest.mark.live
def test_remembered_browser_cookie_is_host_prefixed(live_app, fake):
    user = two_factor_user(live_app, fake)
    response = log_in_with_code(live_app, fake, user.visitor, user, remember_device="y")
    assert response.status_code == 302
    set_cookies = [h for h in response.raw.headers.getlist("Set-Cookie") if "trusted_device" in h.split("=", 1)[0]]
    assert set_cookies, "no remembered-browser cookie was set"
    (header,) = set_cookies
    name, attributes = header.split("=", 1)[0], [a.strip().lower() for a in header.split(";")[1:]]
    assert name == "__Host-trusted_device", header
    assert "secure" in attributes and "path=/" in attributes and not [a for a in attributes if a.startswith("domain")]
    # The browser is remembered: its next login asks for no code.
    log_out(live_app, user.visitor)
    response = log_in(live_app, user.visitor, user.username)
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
