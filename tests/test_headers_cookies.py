"""Security headers on every response, cookie flags in production, and no assets from a CDN."""
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from werkzeug.http import parse_date

from tests.conftest import (
    CSRF_INPUT,
    PASSWORD,
    build_app,
    dispose_app,
    page_text,
)
from tests.support import production_config, wrong_code

HTTPS = "https://localhost"
CDN_HINTS = ("cdn.", "jsdelivr", "unpkg", "cdnjs", "googleapis", "bootstrapcdn")


def csp_directives(response):
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def assert_security_headers(response):
    where = f"{response.request.method} {response.request.path} -> {response.status_code}"
    csp = csp_directives(response)
    assert csp.get("default-src") == ["'self'"], where
    scripts = csp.get("script-src", csp["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where


def fetch(client, url):
    """GET that also reads and closes streamed (static file) responses."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


# --- headers on every response --------------------------------------------------------------------

def test_headers_on_anonymous_pages_redirects_and_errors(auth, client):
    responses = [
        client.get("/auth/login"),
        client.get("/auth/register"),
        client.get("/"),  # 302
        client.get("/profile"),  # 302 to log in
        client.get("/no-such-page"),  # 404
        client.post("/auth/login", data={"username": "a", "password": "b"}),  # no CSRF: 400
        auth.login("nobody", "wrong password"),  # 401
        fetch(client, "/static/app.css"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 302, 302, 404, 400, 401, 200]
    for response in responses:
        assert_security_headers(response)


def test_headers_on_logged_in_pages_and_code_steps(auth, client, fake):
    auth.signup_with_2fa()
    responses = [auth.login(), client.get("/auth/verify"), auth.verify(wrong_code(fake))]
    responses += [auth.verify(), client.get("/profile"), client.get("/profile/2fa/disable")]
    assert [r.status_code for r in responses] == [302, 200, 401, 302, 200, 302]
    for response in responses:
        assert_security_headers(response)


@pytest.mark.parametrize("app_overrides", [{"LOGIN_LIMIT_PER_IP": "1/minute"}], indirect=True, ids=["limit"])
def test_headers_on_429(auth):
    auth.login("nobody", "wrong password")
    response = auth.login("nobody", "wrong password")
    assert response.status_code == 429
    assert_security_headers(response)


def test_pages_have_no_inline_script(auth, client, fake):
    auth.register()
    auth.confirm_its_you_to("/profile/2fa/enable")
    for url in ("/profile", "/profile/2fa/enable", "/auth/reauthenticate"):
        response = client.get(url)
        assert response.status_code == 200, url
        text = page_text(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), url
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler on {url}"


# --- production cookies and HSTS --------------------------------------------------------------------

@pytest.fixture
def prod_app(fake):
    app = build_app(production_config(fake))
    yield app
    dispose_app(app)


class Browser:
    """A browser on https://localhost: CSRF tokens from the forms, a same-origin Referer."""

    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path, **kwargs):
        return self.client.get(path, base_url=HTTPS, **kwargs)

    def post(self, path, data=None, form_path=None):
        page = page_text(self.get(form_path or path))
        match = CSRF_INPUT.search(page)
        assert match, f"no CSRF token at {form_path or path}"
        data = {**(data or {}), "csrf_token": match.group(1)}
        return self.client.post(path, base_url=HTTPS, data=data, headers={"Referer": HTTPS + (form_path or path)})

    def register(self, username="alice"):
        return self.post("/auth/register", {"username": username, "password": PASSWORD, "password2": PASSWORD})

    def login(self, username="alice", remember=False):
        data = {"username": username, "password": PASSWORD, "next": ""}
        if remember:
            data["remember_me"] = "y"
        return self.post("/auth/login", data)

    def logout(self):
        return self.post("/auth/logout", form_path="/profile")


def set_cookie_header(response, name):
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert found, f"no {name} cookie in {response.headers.getlist('Set-Cookie')}"
    return found[-1]


def cookie_attributes(header):
    parts = [part.strip() for part in header.split(";")]
    attributes = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        attributes[key.lower()] = value
    return attributes


def test_production_redirects_plain_http_to_https(prod_app):
    response = prod_app.test_client().get("/auth/login", base_url="http://localhost")
    assert response.status_code in (301, 302)
    assert response.headers["Location"].startswith("https://")


def test_production_session_cookie_flags(prod_app):
    browser = Browser(prod_app)
    response = browser.register()
    assert response.status_code == 302, page_text(response)
    attributes = cookie_attributes(set_cookie_header(response, "__Host-session"))
    assert "secure" in attributes
    assert "httponly" in attributes
    assert attributes.get("samesite") == "Lax"
    assert attributes.get("path") == "/"
    assert "domain" not in attributes  # required by the __Host- prefix
    assert browser.get("/profile").status_code == 200


def test_production_remember_me_cookies_flags_and_lifetime(prod_app):
    """Whatever cookie carries "Remember me", it is Secure, HttpOnly, Lax and lasts at most 30 days."""
    browser = Browser(prod_app)
    browser.register()
    browser.logout()
    response = browser.login(remember=True)
    assert response.status_code == 302, page_text(response)
    now = datetime.now(UTC)
    set_cookies = [h for h in response.headers.getlist("Set-Cookie") if h.split(";")[0].split("=", 1)[1]]
    assert set_cookies
    lifetimes = []
    for header in set_cookies:
        attributes = cookie_attributes(header)
        assert "secure" in attributes, header
        assert "httponly" in attributes, header
        assert attributes.get("samesite") == "Lax", header
        if "max-age" in attributes:
            lifetimes.append(timedelta(seconds=int(attributes["max-age"])))
        elif "expires" in attributes:
            lifetimes.append(parse_date(attributes["expires"]) - now)
    assert lifetimes, f"Remember me set no lasting cookie: {set_cookies}"
    assert max(lifetimes) > timedelta(days=1)
    assert max(lifetimes) <= timedelta(days=30, minutes=1)


def test_production_sends_hsts_and_the_same_headers(prod_app):
    browser = Browser(prod_app)
    for response in (browser.get("/auth/login"), browser.get("/profile"), browser.get("/no-such-page")):
        assert_security_headers(response)
        hsts = response.headers.get("Strict-Transport-Security", "")
        match = re.search(r"max-age=(\d+)", hsts)
        assert match, f"no HSTS on {response.request.path}: {hsts!r}"
        assert int(match.group(1)) >= 180 * 24 * 3600


def test_testing_config_sends_no_hsts(client):
    """HSTS belongs to production: a development server on http must not pin browsers to https."""
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


# --- no CDN -------------------------------------------------------------------------------------------

class AssetCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.assets = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href"):
            rel = (attrs.get("rel") or "").lower()
            if any(kind in rel for kind in ("stylesheet", "icon", "preload", "modulepreload", "manifest")):
                self.assets.append(attrs["href"])
        elif tag in ("script", "img", "source", "iframe") and attrs.get("src"):
            self.assets.append(attrs["src"])


def assets_of(text):
    collector = AssetCollector()
    collector.feed(text)
    return collector.assets


def test_no_page_loads_assets_from_a_cdn(app, auth, client, fake):
    pages = {}
    for url in ("/auth/login", "/auth/register"):
        pages[url] = client.get(url)
    auth.register()
    auth.confirm_its_you_to("/profile/2fa/enable")
    for url in ("/profile", "/profile/2fa/enable", "/auth/reauthenticate"):
        pages[url] = client.get(url)
    auth.start_enrolment()
    pages["/profile/2fa/confirm"] = client.get("/profile/2fa/confirm")
    auth.confirm()
    auth.logout()
    auth.login()
    pages["/auth/verify"] = client.get("/auth/verify")

    seen = set()
    for url, response in pages.items():
        assert response.status_code == 200, url
        text = page_text(response)
        assets = assets_of(text)
        assert any("css" in asset for asset in assets), f"no stylesheet found on {url}"
        for asset in assets:
            assert asset.startswith(("/static/", "/bootstrap/static/")), f"{url} loads {asset}"
            seen.add(asset.split("?")[0])
        lowered = text.lower()
        assert not [hint for hint in CDN_HINTS if hint in lowered], url
    for asset in sorted(seen):
        assert fetch(client, asset).status_code == 200, asset
