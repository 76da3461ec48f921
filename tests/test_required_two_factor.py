"""Issue 17, point 6: REQUIRE_TWO_FACTOR=1. Someone without a method, after sign-up or login, can
reach only the set-up pages, logging out and the static files until a method is on; the last
method can't be removed then."""
import pytest

from tests.support import add_authenticator, method_id, text, two_factor_user

pytestmark = pytest.mark.app_settings(REQUIRE_TWO_FACTOR=True)
REQUIRED = "/profile/2fa/required"


@pytest.mark.parametrize("url", ["/", "/profile", "/profile/password", "/profile/delete", "/profile/2fa/disable",
                                 "/auth/reauthenticate/code", "/profile/devices/forget-all"])
def test_without_a_method_every_other_page_leads_to_setting_one_up(auth, client, url):
    auth.register("alice")
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"] == REQUIRED, (url, response.headers.get("Location"))


def test_the_required_page_offers_both_kinds_and_logging_out_works(auth, client):
    auth.register("alice")
    page = text(client.get(REQUIRED))
    assert "Your organisation requires two-factor authentication" in page
    assert "Set up an authenticator app" in page and "Use your phone (text message)" in page
    assert "Log out" in page
    static = client.get("/static/app.css")
    assert static.status_code == 200
    static.close()
    assert auth.post("/auth/logout", form_url=REQUIRED).headers["Location"].startswith("/auth/login")


def log_out(auth):
    return auth.post("/auth/logout", form_url=REQUIRED)


def test_after_login_too_and_a_post_elsewhere_changes_nothing(app, auth, client):
    auth.register("alice")
    log_out(auth)
    assert auth.login().headers["Location"] == "/profile"
    assert client.get("/profile").headers["Location"] == REQUIRED
    response = client.post("/profile/password", data={"password": "x" * 12, "password2": "x" * 12})
    assert response.headers["Location"] == REQUIRED
    log_out(auth)
    assert auth.login().status_code == 302  # the password did not change


def test_setting_up_an_app_is_reachable_and_frees_the_account(auth, client):
    auth.register("alice")
    key, response = add_authenticator(auth)
    assert response.headers["Location"] == "/profile/recovery-codes"
    assert client.get("/profile/recovery-codes").status_code == 200
    auth.post("/profile/recovery-codes")
    assert client.get("/profile").status_code == 200
    assert client.get(REQUIRED).headers["Location"] == "/profile"


def test_the_phone_path_is_reachable_too(auth, client, fake):
    two_factor_user(auth)  # sign-up, confirm it's you, number, code, recovery codes: all allowed
    assert client.get("/profile").status_code == 200


def test_the_last_method_cannot_be_turned_off(app, auth, client):
    two_factor_user(auth)
    profile = text(client.get("/profile"))
    assert "Disable 2FA" not in profile
    assert "your last way to log in can't be removed" in profile
    response = client.get("/profile/2fa/disable")  # (confirmed it's you a moment ago, to turn 2FA on)
    assert response.headers["Location"] == "/profile"
    assert auth.post("/profile/2fa/disable", form_url="/profile").headers["Location"] == "/profile"
    assert "Your organisation requires two-factor authentication" in text(client.get("/profile"))
    assert client.get(f"/profile/methods/{method_id(app)}/remove").headers["Location"] == "/profile"
    with app.app_context():
        from app.models import User

        assert User.by_username("alice").two_factor_enabled


def test_with_two_methods_one_can_go(app, auth, client):
    two_factor_user(auth)
    add_authenticator(auth)
    app_method = method_id(app, kind="totp")
    assert client.get(f"/profile/methods/{app_method}/remove").status_code == 200
    assert auth.post(f"/profile/methods/{app_method}/remove").headers["Location"] == "/profile"
    assert "Authenticator app 'Phone' is removed" in text(client.get("/profile"))
