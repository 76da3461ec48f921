"""`next` after login: same-origin paths only, carried through the 2FA step."""
import html
import re
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import PASSWORD

# Values that look relative but that some browser follows off-site, and plain off-site ones;
# the first seven go through every path, the rest (unit-tested in test_helpers) through the login.
OFF_SITE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "http://evil.example",
    "javascript:alert(1)",
    "/%09/evil.example",
    "/\t/evil.example",
    "https://evil.example/profile",
    "//evil.example/%2e%2e",
    "/%2F/evil.example",
    "/%5Cevil.example",
]
SAFE = ["/profile?tab=1", "/profile"]


def assert_on_site(location, expected):
    assert location == expected
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//")
    assert "evil" not in location


@pytest.fixture
def alice(auth):
    """A user without 2FA, logged out."""
    auth.register("alice")
    auth.logout()


@pytest.fixture
def alice_2fa(auth, fake):
    """A user with 2FA on, logged out."""
    auth.signup_with_2fa("alice")


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_login_never_redirects_off_site(alice, auth, next_url):
    response = auth.login(next=next_url)
    assert response.status_code == 302
    assert_on_site(response.headers["Location"], "/profile")


@pytest.mark.parametrize("next_url", OFF_SITE[:7])
def test_the_2fa_step_never_redirects_off_site(alice_2fa, auth, next_url):
    response = auth.login(next=next_url)
    assert response.headers["Location"] == "/auth/verify"
    response = auth.verify()
    assert response.status_code == 302
    assert_on_site(response.headers["Location"], "/profile")


@pytest.mark.parametrize("next_url", SAFE)
def test_a_safe_next_is_kept(alice, auth, next_url):
    assert_on_site(auth.login(next=next_url).headers["Location"], next_url)


@pytest.mark.parametrize("next_url", SAFE)
def test_a_safe_next_is_kept_through_the_2fa_step(alice_2fa, auth, client, next_url):
    assert auth.login(next=next_url).headers["Location"] == "/auth/verify"
    assert client.get("/auth/verify").status_code == 200  # looking at the code page loses nothing
    response = auth.verify()
    assert_on_site(response.headers["Location"], next_url)


def next_from_login_page(client, next_url):
    """What the login form carries in its hidden field when opened with ?next=..."""
    page = client.get("/auth/login?next=" + quote(next_url, safe="")).get_data(as_text=True)
    return html.unescape(re.search(r'name="next" type="hidden" value="([^"]*)"', page).group(1))


@pytest.mark.parametrize(("next_url", "expected"),
                         [(url, "/profile") for url in OFF_SITE[:7]] + [("/profile?tab=1", "/profile?tab=1")])
def test_next_from_the_query_string_through_the_form(alice, auth, client, next_url, expected):
    carried = next_from_login_page(client, next_url)
    assert carried == next_url  # the form carries it as typed; the check happens on use
    assert_on_site(auth.login(next=carried).headers["Location"], expected)


@pytest.mark.parametrize("next_url", OFF_SITE[:7])
def test_reauthentication_never_redirects_off_site(auth, client, next_url):
    auth.register("alice")
    response = auth.post("/auth/reauthenticate?next=" + quote(next_url, safe=""), {"password": PASSWORD},
                         form_url="/auth/reauthenticate")
    assert response.status_code == 302
    assert_on_site(response.headers["Location"], "/profile")
