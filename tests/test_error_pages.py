"""The app's own error pages: 404, 405, 413, 429 and 500, at the HTTP level.

They are rendered without a session (no user loaded, no form built), so they work when the
session store is down and leave no session behind. A 429 on the login page is the login page
again, still usable, with the wait written out.
"""
import html
import re

import flask
import pytest

from app.extensions import limiter
from app.waits import wait_in_words
from tests.conftest import PASSWORD, page_text
from tests.support import text

START_LINK = '<a href="/">Go to the start page</a>'


def title_and_h1(response):
    body = page_text(response)
    title = html.unescape(re.search(r"<title>(.*?)</title>", body, re.S).group(1).strip())
    h1 = html.unescape(re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S).group(1).strip())
    return title, h1


def assert_own_page(response, status, heading):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert title_and_h1(response) == (heading, heading)
    assert START_LINK in page_text(response)
    assert "Werkzeug" not in page_text(response) and "Traceback" not in page_text(response)


def session_cookies(client, app):
    return [c for c in (client.get_cookie(app.config["SESSION_COOKIE_NAME"]),) if c is not None]


@pytest.mark.parametrize(("method", "url", "status", "heading", "words"), [
    ("get", "/no-such-page", 404, "Page not found", "If you typed the address, check it is right."),
    ("get", "/auth/logout", 405, "This page can't be opened like that", "Go back and use the button."),
    ("get", "/profile/devices/forget-all", 405, "This page can't be opened like that", "Go back and use the button."),
])
def test_own_pages_for_404_and_405(app, client, method, url, status, heading, words):
    response = getattr(client, method)(url)
    assert_own_page(response, status, heading)
    assert words in text(response)
    if status == 405:
        assert "POST" in response.headers["Allow"]


def test_an_error_page_leaves_no_session_behind(app, client):
    assert_own_page(client.get("/no-such-page"), 404, "Page not found")
    assert session_cookies(client, app) == []


def test_413_for_a_form_too_large(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    response = client.post("/auth/login", data={"username": "a" * 70_000, "password": "x"})
    assert_own_page(response, 413, "What you sent is too large")
    assert "Nothing was saved." in text(response)


def test_400_for_an_expired_form(app, client):
    """A form page shows its form again (tests/test_expired_forms.py); a button's own address, which
    has no page, shows this one."""
    response = client.post("/auth/logout", data={})
    assert_own_page(response, 400, "Your form expired")
    assert "Your form expired or was sent from another site. Please try again." in text(response)


@pytest.mark.app_settings(PROPAGATE_EXCEPTIONS=False)
def test_500_page_when_a_view_fails_without_touching_the_user(app, auth, client, monkeypatch, caplog):
    def user_store_down(_id):
        raise RuntimeError("user store down")

    @app.route("/fails")
    def fails():
        # The user was loaded for this request; forget it, and make loading it fail: a 500 page
        # that looked at current_user would fail too, and Flask would answer with its own text.
        flask.g.pop("_login_user", None)
        monkeypatch.setattr(app.login_manager, "_user_callback", user_store_down)
        raise RuntimeError("boom")

    auth.register("alice")
    response = client.get("/fails")
    assert_own_page(response, 500, "Something went wrong")
    assert "Nothing was changed." in text(response)
    assert "boom" not in page_text(response)
    assert "Unhandled error on GET /fails" in caplog.text


@pytest.mark.app_settings(PROPAGATE_EXCEPTIONS=False)
@pytest.mark.parametrize("url", ["/auth/login", "/no-such-page", "/profile"])
def test_500_page_when_the_session_store_is_down(app, client, monkeypatch, url, caplog):
    def store_down(*args, **kwargs):
        raise ConnectionError("session store unreachable")

    monkeypatch.setattr(app.session_interface, "open_session", store_down)
    response = client.get(url)
    assert_own_page(response, 500, "Something went wrong")
    assert "Log out" not in page_text(response) and "csrf_token" not in page_text(response)


# -- 429 ----------------------------------------------------------------------------------------

@pytest.mark.app_settings(LOGIN_LIMIT_PER_IP="2/minute", LOGIN_LIMIT_PER_USERNAME="100/minute")
def test_too_many_logins_keep_the_login_form_usable(app, auth, client):
    auth.register("alice")
    auth.logout()
    for _ in range(2):
        assert auth.login("alice", "wrong password").status_code == 401
    response = auth.login("alice", "another wrong password")
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 61
    body = text(response)
    assert title_and_h1(response) == ("Error: Log in", "Log in")
    assert f"Too many attempts to log in. Please try again in {wait} seconds." in body
    assert 'role="alert"' in body and "There is a problem" in body
    # The form is there, with what was typed (never the password) and a working token.
    assert re.search(r'<input [^>]*id="username" [^>]*value="alice">', body)
    assert re.search(r'<input [^>]*id="password" [^>]*value="">', body)
    assert "another wrong password" not in body
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    limiter.reset()  # as if the wait were over
    response = client.post("/auth/login", data={"csrf_token": token, "username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/profile"


@pytest.mark.app_settings(LOGIN_LIMIT_PER_IP="1/hour", LOGIN_LIMIT_PER_USERNAME="100/minute")
def test_a_long_wait_is_written_in_minutes(auth):
    assert auth.login("nobody", "wrong password").status_code == 401
    response = auth.login("nobody", "wrong password")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 90
    assert re.search(r"Please try again in (59|60|61) minutes\.", text(response)), text(response)


@pytest.mark.app_settings(CODE_CHECK_LIMIT_PER_IP="1/minute")
def test_429_elsewhere_is_its_own_page(app, auth, client):
    auth.signup_with_2fa("alice")
    auth.login()
    auth.post("/auth/recovery", {"code": "aaaa-aaaa"})
    response = auth.post("/auth/recovery", {"code": "aaaa-aaaa"})
    assert_own_page(response, 429, "Too many attempts")
    wait = int(response.headers["Retry-After"])
    assert f"Please try again in {wait} second" in text(response)


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "1 second"), (1, "1 second"), (1.2, "2 seconds"), (45, "45 seconds"), (90, "90 seconds"),
    (91, "2 minutes"), (120, "2 minutes"), (121, "3 minutes"), (3600, "60 minutes"), (5400, "90 minutes"),
    (5401, "2 hours"), (86400, "24 hours"),
])
def test_waits_in_words(seconds, words):
    assert wait_in_words(seconds) == words
