"""Sign up, log in, remember me, log out, and pages that need a login (CSRF on throughout)."""
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from tests.conftest import CSRF_INPUT, PASSWORD, AuthActions
from tests.support import logged_in, long_lived_cookies, restart_browser, text

LOGIN_FAILED = "Invalid username or password."


def user_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


# -- sign up ----------------------------------------------------------------------------------

def test_register_page(client):
    response = client.get("/auth/register")
    assert response.status_code == 200
    for label in ("Username", "Password", "Repeat password", "Sign up"):
        assert label in text(response)


def test_register_logs_in_and_stores_the_user(app, auth, client):
    response = auth.register("alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert logged_in(client)
    with app.app_context():
        user = User.by_username("alice")
        assert user is not None and user.username == "alice" and user.phone is None


@pytest.mark.parametrize(("username", "password", "password2", "message"), [
    ("ab", PASSWORD, PASSWORD, "Your username must be 3 to 32 characters."),
    ("a" * 33, PASSWORD, PASSWORD, "Your username must be 3 to 32 characters."),
    ("", PASSWORD, PASSWORD, "Enter a username."),
    ("alice smith", PASSWORD, PASSWORD, "Your username can only have letters, digits, dots (.), dashes (-) and underscores (_)."),
    ("<script>", PASSWORD, PASSWORD, "Your username can only have letters, digits, dots (.), dashes (-) and underscores (_)."),
    ("alice", "", "", "Enter a password."),
    ("alice", "short", "short", "Your password must be at least 8 characters."),
    ("alice", "1234567", "1234567", "Your password must be at least 8 characters."),
    ("alice", "x" * 129, "x" * 129, "Your password must be 128 characters or fewer."),
    ("alice", PASSWORD, PASSWORD + "!", "The passwords don't match."),
])
def test_register_validation(app, auth, client, username, password, password2, message):
    response = auth.register(username, password, password2)
    assert response.status_code == 400
    assert message in text(response)
    assert user_count(app) == 0
    assert not logged_in(client)


@pytest.mark.parametrize(("username", "password"), [
    ("abc", "k9wren!t"),
    ("a" * 32, ("wren tide lamp " * 9)[:128]),
    ("Alice.Smith-2_b", PASSWORD),
])
def test_register_boundaries_accepted(app, auth, username, password):
    response = auth.register(username, password)
    assert response.status_code == 302
    assert user_count(app) == 1


@pytest.mark.parametrize("second", ["alice", "Alice", "ALICE"])
def test_username_is_unique_regardless_of_case(app, auth, client, second):
    auth.register("alice")
    auth.logout()
    response = auth.register(second)
    assert response.status_code == 400
    assert "That username is taken. Please choose another." in text(response)
    assert user_count(app) == 1
    assert not logged_in(client)


def test_register_without_csrf_token_is_refused(app, client):
    response = client.post("/auth/register", data={
        "username": "alice", "password": PASSWORD, "password2": PASSWORD,
    })
    assert response.status_code == 400
    assert user_count(app) == 0


def test_password_is_stored_hashed_with_argon2id(shipped_cost_app, fake):
    """At the cost the shipped configs set: Argon2id, at least the OWASP minimum (19 MiB, 2 passes)."""
    AuthActions(shipped_cost_app.test_client(), fake).register("alice")
    with shipped_cost_app.app_context():
        user = User.by_username("alice")
        config = shipped_cost_app.config
        memory, passes = config["PASSWORD_ARGON2_MEMORY_KIB"], config["PASSWORD_ARGON2_TIME_COST"]
        assert memory >= 19456 and passes >= 2  # the defaults are the minimum: 19 MiB, 2 passes, 1 lane
        assert user.password_hash.startswith(
            f"$argon2id$v=19$m={memory},t={passes},p={config['PASSWORD_ARGON2_PARALLELISM']}$")
        assert PASSWORD not in user.password_hash
        assert user.check_password(PASSWORD) and not user.check_password(PASSWORD + "x")


def test_the_password_hash_cost_is_the_setting(app, auth):
    """The suite's cheap hash comes from TestingConfig's settings, not from a patch."""
    config = app.config
    cost = f"m={config['PASSWORD_ARGON2_MEMORY_KIB']},t={config['PASSWORD_ARGON2_TIME_COST']},p={config['PASSWORD_ARGON2_PARALLELISM']}"
    assert cost == "m=8,t=1,p=1"
    auth.register("alice")
    with app.app_context():
        user = User.by_username("alice")
        assert user.password_hash.startswith(f"$argon2id$v=19${cost}$")
        assert user.check_password(PASSWORD)


# -- log in -----------------------------------------------------------------------------------

@pytest.fixture
def alice(auth, client):
    """A registered user without 2FA, logged out."""
    auth.register("alice")
    auth.logout()
    assert not logged_in(client)
    return "alice"


def test_login_page(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    for label in ("Username", "Password", "Remember me", "Log in"):
        assert label in text(response)


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_login_success(alice, auth, client, username):
    response = auth.login(username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert "You are logged in as alice." in text(client.get("/profile"))


def anonymised(response, username):
    """The page with what naturally differs between two attempts (token, typed name) removed."""
    page = CSRF_INPUT.sub("", text(response))
    return page.replace(f'value="{username}"', 'value=""')


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong password"),
    ("alice", PASSWORD.upper()),
    ("mallory", PASSWORD),
    ("mallory", "wrong password"),
])
def test_login_failure(alice, auth, client, username, password):
    response = auth.login(username, password)
    assert response.status_code == 401
    assert LOGIN_FAILED in text(response)
    assert not logged_in(client)


def test_unknown_user_and_wrong_password_look_the_same(alice, auth):
    wrong_password = auth.login("alice", "wrong password")
    unknown_user = auth.login("mallory", "wrong password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert anonymised(wrong_password, "alice") == anonymised(unknown_user, "mallory")


@pytest.mark.parametrize(("data", "messages"), [
    ({"username": "", "password": PASSWORD}, ["Enter your username."]),
    ({"username": "alice", "password": ""}, ["Enter your password."]),
    ({}, ["Enter your username.", "Enter your password."]),
])
def test_login_form_validation(alice, auth, client, data, messages):
    response = auth.post("/auth/login", data)
    assert response.status_code == 400
    for message in messages:
        assert message in text(response)
    assert not logged_in(client)


def test_login_without_csrf_token_is_refused(alice, client):
    response = client.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert not logged_in(client)


@pytest.mark.parametrize("remember", [True, False])
def test_remember_me_keeps_the_login_only_when_asked(alice, app, auth, client, remember):
    response = auth.login(remember=remember)
    assert response.status_code == 302
    assert bool(long_lived_cookies(app, client)) is remember
    restart_browser(app, client)
    assert logged_in(client) is remember


def test_logged_in_users_skip_login_and_register(auth, client):
    auth.register("alice")
    for url in ("/auth/login", "/auth/register"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/profile"


# -- log out ----------------------------------------------------------------------------------

def test_logout_by_post_with_csrf(auth, client):
    auth.register("alice")
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?notice=logged-out"
    assert not logged_in(client)
    assert "You are logged out." in text(client.get(response.headers["Location"]))


def test_logout_by_get_is_not_allowed(auth, client):
    auth.register("alice")
    assert client.get("/auth/logout").status_code == 405
    assert logged_in(client)


@pytest.mark.parametrize("data", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}])
def test_logout_without_a_valid_token_is_refused(auth, client, data):
    auth.register("alice")
    response = client.post("/auth/logout", data=data)
    assert response.status_code == 400
    assert logged_in(client)


def test_logout_forgets_remember_me(alice, app, auth, client):
    auth.login(remember=True)
    assert long_lived_cookies(app, client)
    auth.logout()
    assert long_lived_cookies(app, client) == []
    restart_browser(app, client)
    assert not logged_in(client)


# -- pages that need a login ------------------------------------------------------------------

@pytest.mark.parametrize(("url", "location"), [
    ("/profile", "/auth/login?next=%2Fprofile"),
    ("/profile/2fa/enable", "/auth/login?next=%2Fprofile%2F2fa%2Fenable"),
    ("/profile/2fa/confirm", "/auth/login?next=%2Fprofile%2F2fa%2Fconfirm"),
    ("/profile/2fa/disable", "/auth/login?next=%2Fprofile%2F2fa%2Fdisable"),
    ("/auth/reauthenticate", "/auth/login?next=%2Fauth%2Freauthenticate"),
])
def test_protected_pages_redirect_to_login(client, url, location):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_after_login_the_person_lands_where_they_were_going(alice, auth, client):
    location = client.get("/profile?tab=2").headers["Location"]
    login_page = text(client.get(location))
    assert "Please log in to see this page." in login_page
    hidden_next = re.search(r'name="next" type="hidden" value="([^"]*)"', login_page).group(1)
    assert hidden_next == "/profile?tab=2"
    response = auth.login(next=hidden_next)
    assert response.headers["Location"] == "/profile?tab=2"


@pytest.mark.parametrize(("log_in", "location"), [(False, "/auth/login"), (True, "/profile")])
def test_home_redirects(auth, client, log_in, location):
    if log_in:
        auth.register("alice")
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == location
