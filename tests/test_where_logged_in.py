"""Where you're logged in (/profile/sessions): the account's live sessions, "Log out" on each other
one and "Log out everywhere else", on database and Redis sessions alike, behind "confirm it's you"
once the login is older than SUDO_MINUTES."""
import html
import logging
import os
import re
import time
from datetime import datetime, timedelta

import pytest
import redis
import sqlalchemy as sa

from app import live_sessions, security, session_store
from app.extensions import db
from app.models import SecurityEvent
from tests.conftest import csrf_token, page_text
from tests.support import new_browser, two_factor_user
from tests.test_sessions import SESSION, assert_logged_out, cookie, session_is_stored


def own_redis_database():
    """REDIS_URL's server, in a database of this module's own: the lists counted here are user 1's,
    and other test runs sharing the server log in users with the same ids."""
    url = os.environ.get("REDIS_URL")
    return url and re.sub(r"(/\d+)?$", "/13", url, count=1)


STORES = pytest.mark.parametrize("app_overrides", [
    pytest.param({}, id="db-sessions"),
    pytest.param({"SESSION_REDIS_URL": own_redis_database()}, id="redis-sessions", marks=pytest.mark.redis),
], indirect=True)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
EDGE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 Edg/126.0"
ROW = re.compile(r'<li class="list-group-item[^"]*">(.*?)</li>', re.S)
END = re.compile(r'action="/profile/sessions/([0-9a-f]{32})/end"')
TIMES = re.compile(r'<time datetime="([^"]+)"')


@pytest.fixture(autouse=True)
def empty_redis_database(app):
    url = app.config.get("SESSION_REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        client.flushdb()
        yield
        client.flushdb()
        client.close()
    else:
        yield


@pytest.fixture
def browsers(app, auth, client, fake):
    """alice signed up on Firefox (logged in: a fresh login), then logged in on an iPhone."""
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert auth.register().status_code == 302
    phone = new_browser(app, fake, user_agent=IPHONE, ip="203.0.113.9")
    assert phone.login().headers["Location"] == "/profile"
    return auth, phone


def rows(response):
    """Each session on the page: its browser, whether it is this one, its ref, (started, last seen)."""
    assert response.status_code == 200, response.headers.get("Location")
    found = []
    for row in ROW.findall(page_text(response)):
        browser = html.unescape(re.search(r'<span class="fw-semibold">([^<]*)</span>', row)[1])
        ref = END.search(row)
        times = [datetime.fromisoformat(moment.replace("Z", "+00:00")) for moment in TIMES.findall(row)]
        found.append({"browser": browser, "this": "This browser" in row, "ref": ref and ref[1],
                      "text": html.unescape(re.sub(r"<[^>]+>", "", row)), "times": times})
    return found


def end(auth, ref):
    return auth.post(f"/profile/sessions/{ref}/end", form_url="/profile/sessions")


def end_others(auth):
    return auth.post("/profile/sessions/end-others", form_url="/profile/sessions")


def events_of(app, kind):
    with app.app_context():
        return db.session.scalars(sa.select(SecurityEvent.detail).where(SecurityEvent.kind == kind)).all()


@STORES
def test_two_browsers_list_two_sessions_and_this_browser_is_marked(app, browsers):
    laptop, phone = browsers
    on_laptop = rows(laptop.client.get("/profile/sessions"))
    assert [(r["browser"], r["this"]) for r in on_laptop] == [("Firefox on Linux", True), ("Safari on iPhone", False)]
    assert "From 127.0.0.1" in on_laptop[0]["text"] and "From 203.0.113.9" in on_laptop[1]["text"]
    assert on_laptop[0]["ref"] is None and on_laptop[1]["ref"]  # "Log out" on the other one only
    assert all("logged in" in r["text"] and "last seen" in r["text"] and len(r["times"]) == 2 for r in on_laptop)
    on_phone = rows(phone.client.get("/profile/sessions"))
    assert [(r["browser"], r["this"]) for r in on_phone] == [("Safari on iPhone", True), ("Firefox on Linux", False)]
    assert "Log out everywhere else" in page_text(phone.client.get("/profile/sessions"))
    # The profile leads there.
    assert 'href="/profile/sessions"' in page_text(laptop.client.get("/profile"))


@STORES
def test_logging_out_one_session_from_another_ends_it_and_keeps_this_one(app, browsers, caplog):
    laptop, phone = browsers
    phone_cookie = cookie(phone.client)
    ref = rows(laptop.client.get("/profile/sessions"))[1]["ref"]
    with caplog.at_level(logging.DEBUG):
        response = end(laptop, ref)
    assert response.status_code == 302 and response.headers["Location"] == "/profile/sessions"
    assert not session_is_stored(app, phone_cookie)
    assert_logged_out(phone.client.get("/profile"))  # its next request is anonymous
    after = laptop.client.get("/profile/sessions")
    assert "Logged out: Safari on iPhone, 203.0.113.9." in html.unescape(page_text(after))
    assert [r["browser"] for r in rows(after)] == ["Firefox on Linux"]
    assert "You aren't logged in anywhere else." in html.unescape(page_text(after))
    assert events_of(app, "session_ended") == ["Safari on iPhone, 203.0.113.9"]
    assert "Logged out on one of your other browsers" in page_text(laptop.client.get("/profile"))
    # Neither the cookie's id nor its store key is written to the log.
    for secret in (phone_cookie, session_store.store_key(phone_cookie)):
        assert secret not in caplog.text
    # The same address again finds nothing.
    assert end(laptop, ref).status_code == 404


@STORES
def test_log_out_everywhere_else(app, browsers, fake):
    laptop, phone = browsers
    tablet = new_browser(app, fake, user_agent=EDGE, ip="198.51.100.7")
    assert tablet.login().status_code == 302
    assert len(rows(laptop.client.get("/profile/sessions"))) == 3
    response = end_others(laptop)
    assert response.headers["Location"] == "/profile/sessions"
    for other in (phone, tablet):
        assert_logged_out(other.client.get("/profile"))
    after = laptop.client.get("/profile/sessions")
    assert "You are logged out everywhere else." in page_text(after)
    assert [r["browser"] for r in rows(after)] == ["Firefox on Linux"]
    assert events_of(app, "sessions_revoked") == ["2"]
    # Nothing left to end: said so, and no event.
    end_others(laptop)
    assert "You weren't logged in anywhere else." in html.unescape(page_text(laptop.client.get("/profile/sessions")))
    assert events_of(app, "sessions_revoked") == ["2"]


@STORES
def test_another_users_session_cant_be_ended(app, browsers, fake):
    laptop, phone = browsers
    bob = new_browser(app, fake, user_agent=FIREFOX)
    assert bob.register("bob").status_code == 302
    bob_cookie = cookie(bob.client)
    listed = rows(laptop.client.get("/profile/sessions"))
    assert len(listed) == 2  # bob's session is not alice's to see
    with app.test_request_context():
        bobs = live_sessions.ref_of(session_store.store_key(bob_cookie))
        own = live_sessions.ref_of(session_store.store_key(cookie(laptop.client)))
    assert bobs not in page_text(laptop.client.get("/profile/sessions"))
    for ref in (bobs, "0" * 32, own):  # bob's; made up; this browser's own (logging out is elsewhere)
        assert end(laptop, ref).status_code == 404
    for ref in (bob_cookie, session_store.store_key(bob_cookie), "x", "é" * 32, bobs.upper()):  # not even a ref
        assert end(laptop, ref).status_code == 404
    assert session_is_stored(app, bob_cookie) and bob.client.get("/profile").status_code == 200
    assert phone.client.get("/profile").status_code == 200
    assert laptop.client.get("/profile").status_code == 200
    assert events_of(app, "session_ended") == []


@STORES
def test_an_old_login_confirms_its_you_first(app, browsers, monkeypatch):
    laptop, phone = browsers
    ref = rows(laptop.client.get("/profile/sessions"))[1]["ref"]
    later = time.time() + app.config["SUDO_MINUTES"] * 60 + 1
    monkeypatch.setattr(security, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    for response in (end(laptop, ref), end_others(laptop)):
        assert response.status_code == 302
        assert response.headers["Location"] == "/auth/reauthenticate?next=/profile/sessions"
    assert phone.client.get("/profile").status_code == 200  # nothing ended
    page = html.unescape(page_text(laptop.client.get("/auth/reauthenticate?next=/profile/sessions")))
    assert "You are confirming it's you to log out your other browsers." in page
    done = laptop.reauthenticate(url="/auth/reauthenticate?next=/profile/sessions")
    assert done.headers["Location"] == "/profile/sessions"
    assert end(laptop, ref).headers["Location"] == "/profile/sessions"
    assert_logged_out(phone.client.get("/profile"))
    assert laptop.client.get("/profile").status_code == 200


@STORES
def test_the_page_shows_no_session_id_and_no_pending_login(app, auth, client, fake):
    """With 2FA: a login waiting for its code is not listed (but "everywhere else" ends it)."""
    client.environ_base["HTTP_USER_AGENT"] = FIREFOX
    two_factor_user(auth)
    phone = new_browser(app, fake, user_agent=IPHONE)
    phone.login_with_code()
    pending = new_browser(app, fake, user_agent=EDGE)
    assert pending.login().headers["Location"] == "/auth/verify"
    page = page_text(client.get("/profile/sessions"))
    assert [r["browser"] for r in rows(client.get("/profile/sessions"))] == ["Firefox on Linux", "Safari on iPhone"]
    for browser in (auth, phone, pending):
        sid = cookie(browser.client)
        assert session_store.SESSION_ID.match(sid)
        assert sid not in page and session_store.store_key(sid) not in page
    assert csrf_token(client, "/profile/sessions")  # the buttons are real forms
    end_others(auth)
    assert pending.client.get("/auth/verify").headers["Location"].startswith("/auth/login")
    assert events_of(app, "sessions_revoked") == ["2"]


@STORES
def test_last_seen_moves_on_a_remembered_session_too(app, browsers, fake, monkeypatch):
    """A remembered session's expiry stays put, so when it was last seen is kept beside it."""
    laptop, _ = browsers
    tablet = new_browser(app, fake, user_agent=EDGE)
    assert tablet.login(remember=True).status_code == 302
    assert tablet.client.get("/profile").status_code == 200  # (its flashed message shown: the session is unchanged after)
    shift = timedelta(0)

    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + shift

    monkeypatch.setattr(session_store, "datetime", ShiftedDatetime)

    def tablet_times():
        found = [r["times"] for r in rows(laptop.client.get("/profile/sessions")) if r["browser"] == "Edge on Windows"]
        assert len(found) == 1
        return found[0]

    started, seen = tablet_times()
    assert seen - started < timedelta(seconds=60)
    shift = timedelta(minutes=5)
    assert tablet.client.get("/profile").status_code == 200
    started, seen = tablet_times()
    assert seen - started >= timedelta(minutes=4)
