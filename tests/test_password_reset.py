"""'Forgot your password?': one answer whatever was typed; a link (30 minutes, single-use, dead once
the password changes) to a new password that ends every session, forgets remembered browsers and
never skips 2FA; rate limits that refuse a stranger's flood but not the owner; every bad link gets
one plain page."""
import logging
from datetime import timedelta

import pytest
import time_machine

from app import password_reset
from app.extensions import db
from app.models import User, utcnow
from tests.conftest import PASSWORD
from tests.mail_support import mails_to, sent_mails, words
from tests.support import event_kinds, logged_in, new_browser, text, two_factor_user

ALICE = "alice@example.test"
NEW_PASSWORD = "a brand new passphrase"
SENT = "If an account with a confirmed email address matches, we've sent it a link to choose a new password."
LINK_EXPIRED = "This link has expired or was already used. Ask for a new one."


def confirmed_user(auth, username="alice", address=ALICE, two_factor=False):
    """An account with a confirmed address, logged in still."""
    app = auth.client.application
    if two_factor:
        two_factor_user(auth, username)
    else:
        assert auth.register(username).status_code == 302
    with app.app_context():
        user = User.by_username(username)
        user.email = address
        db.session.commit()
    return address


def ask_for_link(auth, typed="alice"):
    response = auth.post("/auth/forgot-password", {"username": typed})
    return response


def reset_link(app, address=ALICE):
    mails = [mail for mail in mails_to(app, address) if mail.subject == "Reset your password"]
    assert mails, [m.subject for m in sent_mails(app)]
    return mails[-1].link_path("/auth/reset-password")


def token_of(path):
    return path.split("token=", 1)[1]


def set_new_password(auth, path, password=NEW_PASSWORD, repeat=None):
    page = auth.client.get(path)
    assert page.status_code == 200, text(page)
    return auth.post("/auth/reset-password", {"token": token_of(path), "password": password,
                                              "password2": repeat or password}, form_url=path)


def test_the_login_page_leads_to_it(client):
    page = client.get("/auth/login")
    assert '<a href="/auth/forgot-password">Forgot your password?</a>' in page.get_data(as_text=True)
    form = client.get("/auth/forgot-password")
    assert form.status_code == 200 and "Username or email address" in text(form)


@pytest.mark.parametrize("typed", ["alice", "ALICE ", ALICE, "bob", "nobody", "nobody@example.test",
                                   "not an address@", "alice@EXAMPLE.test"])
def test_the_answer_is_the_same_whatever_was_typed(app, auth, fake, typed):
    confirmed_user(auth)
    bob = new_browser(app, fake)
    assert bob.register("bob").status_code == 302  # no address
    visitor = new_browser(app, fake)
    response = ask_for_link(visitor, typed)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/forgot-password/sent"
    page = visitor.client.get("/auth/forgot-password/sent")
    assert page.status_code == 200 and SENT in words(page)
    links = [mail for mail in sent_mails(app) if mail.subject == "Reset your password"]
    expected = 1 if typed.strip().lower() in ("alice", ALICE) else 0
    assert len(links) == expected, typed


def test_the_link_sets_a_new_password_ends_every_session_and_is_told(app, auth, fake, caplog):
    caplog.set_level(logging.INFO)
    confirmed_user(auth)
    elsewhere = new_browser(app, fake, user_agent="Firefox/2 (Windows)")
    assert elsewhere.login().status_code == 302 and logged_in(elsewhere.client)
    visitor = new_browser(app, fake)
    ask_for_link(visitor, ALICE)
    mail = mails_to(app, ALICE)[-1]
    assert "Hello alice," in mail.text and "within 30 minutes" in mail.text
    path = reset_link(app)
    page = visitor.client.get(path)
    assert page.headers["Cache-Control"] == "no-store"
    assert "New password" in text(page) and "Repeat new password" in text(page)
    response = set_new_password(visitor, path)
    assert response.headers["Location"] == "/auth/login?notice=password-reset"
    assert "Your password is reset, and you are logged out everywhere." in text(visitor.client.get(response.headers["Location"]))
    assert not logged_in(auth.client) and not logged_in(elsewhere.client)
    assert auth.login(password=PASSWORD).status_code == 401
    assert auth.login(password=NEW_PASSWORD).status_code == 302
    kinds = [kind for kind, _ in event_kinds(app)]
    assert "password_reset_requested" in kinds and kinds[-3:] == ["password_reset", "login_failed", "login_succeeded"]
    notice = mails_to(app, ALICE)[-1]
    assert notice.subject == "Security notice: Your password was reset"
    token = token_of(path)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in logged and ALICE not in logged and "reset-password?" not in logged


def test_a_reset_never_skips_2fa_and_forgets_remembered_browsers(app, auth, fake):
    confirmed_user(auth, two_factor=True)
    auth.logout()
    auth.login_with_code(remember_device=True)
    auth.logout()
    assert auth.login().headers["Location"] == "/profile", "remembered: no code"
    auth.logout()
    ask_for_link(auth)
    set_new_password(auth, reset_link(app))
    response = auth.login(password=NEW_PASSWORD)
    assert response.headers["Location"] == "/auth/verify", "after a reset, the code is asked again"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(db.metadata.tables["trusted_devices"])) == 0


def test_the_link_works_once(app, auth):
    confirmed_user(auth)
    auth.logout()
    ask_for_link(auth)
    path = reset_link(app)
    set_new_password(auth, path)
    again = auth.client.get(path)
    assert again.status_code == 400 and LINK_EXPIRED in words(again)
    post = auth.post("/auth/reset-password", {"token": token_of(path), "password": "another one!",
                                              "password2": "another one!"}, form_url="/auth/forgot-password")
    assert post.status_code == 400 and LINK_EXPIRED in words(post)
    assert auth.login(password=NEW_PASSWORD).status_code == 302


def test_of_two_uses_at_once_one_changes_the_password(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    token = token_of(reset_link(app))
    with app.test_request_context():
        first = password_reset.reset(token, "first new password")
        second = password_reset.reset(token, "second new password")
    assert first is not None and second is None


def test_the_link_lasts_30_minutes(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    path = reset_link(app)
    with time_machine.travel(utcnow() + timedelta(minutes=31)):
        response = auth.client.get(path)
    assert response.status_code == 400 and LINK_EXPIRED in words(response)


def test_the_link_dies_when_the_password_changes(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    path = reset_link(app)
    auth.open_sudo_page("/profile/password")
    auth.post("/profile/password", {"password": "changed meanwhile", "password2": "changed meanwhile"})
    response = auth.client.get(path)
    assert response.status_code == 400 and LINK_EXPIRED in words(response)


def test_the_link_dies_when_the_address_changes(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    path = reset_link(app)
    with app.app_context():
        user = User.by_username("alice")
        user.email = "elsewhere@example.test"
        db.session.commit()
    assert auth.client.get(path).status_code == 400


def test_a_deleted_accounts_link_gets_the_plain_page(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    path = reset_link(app)
    auth.open_sudo_page("/profile/delete")
    auth.post("/profile/delete", {"username": "alice"})
    response = auth.client.get(path)
    assert response.status_code == 400 and LINK_EXPIRED in words(response)


@pytest.mark.parametrize("query", [
    "", "?token=", "?token=abc", "?token=" + "x" * 5000, "?token=%00%0d%0a",
    "?token=WzEsImFiYyJd.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",  # well-formed, forged signature
])
def test_a_bad_link_gets_the_plain_page(client, query):
    response = client.get("/auth/reset-password" + query)
    assert response.status_code == 400 and LINK_EXPIRED in words(response)
    assert '<a href="/auth/forgot-password">Ask for a new one</a>' in response.get_data(as_text=True)


def test_a_link_tampered_with_or_signed_for_something_else_gets_the_plain_page(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    token = token_of(reset_link(app))
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    from itsdangerous import URLSafeTimedSerializer

    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="trusted-device").dumps([1, "x" * 32])
    for bad in (tampered, other_salt):
        response = auth.client.get(f"/auth/reset-password?token={bad}")
        assert response.status_code == 400 and LINK_EXPIRED in words(response)


def test_new_passwords_that_differ_keep_the_link(app, auth):
    confirmed_user(auth)
    ask_for_link(auth)
    path = reset_link(app)
    response = set_new_password(auth, path, repeat="something else")
    assert response.status_code == 400 and "The passwords don't match." in text(response)
    short = auth.post("/auth/reset-password", {"token": token_of(path), "password": "short", "password2": "short"},
                      form_url=path)
    assert short.status_code == 400 and "at least 8 characters" in text(short)
    assert set_new_password(auth, path).status_code == 302


@pytest.mark.app_settings(RESET_LIMIT_PER_ADDRESS="3/hour", RESET_LIMIT_PER_ACCOUNT="5/hour")
def test_a_strangers_flood_is_refused_but_the_owner_elsewhere_gets_a_link(app, auth, fake):
    confirmed_user(auth)
    stranger = new_browser(app, fake, ip="203.0.113.9")
    answers = [ask_for_link(stranger, "alice").status_code for _ in range(6)]
    assert answers == [302, 302, 302, 429, 429, 429]
    owner = new_browser(app, fake, ip="198.51.100.7")
    assert ask_for_link(owner, "alice").status_code == 302
    assert len(mails_to(app, ALICE)) == 4


@pytest.mark.app_settings(RESET_LIMIT_PER_ACCOUNT="2/hour")
def test_the_accounts_limit_is_never_said_on_the_page(app, auth, fake):
    confirmed_user(auth)
    answers = [ask_for_link(new_browser(app, fake, ip=f"203.0.113.{n}"), "alice") for n in range(1, 5)]
    assert [a.status_code for a in answers] == [302] * 4
    assert {a.headers["Location"] for a in answers} == {"/auth/forgot-password/sent"}
    assert len(mails_to(app, ALICE)) == 2


@pytest.mark.app_settings(RESET_LIMIT_PER_IP="3/hour")
def test_one_address_asking_for_many_accounts_is_refused(app, fake):
    visitor = new_browser(app, fake, ip="203.0.113.50")
    answers = [ask_for_link(visitor, f"user{n}").status_code for n in range(5)]
    assert answers == [302, 302, 302, 429, 429]
    response = ask_for_link(visitor, "another")
    assert "Too many requests to reset a password." in text(response)
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.app_settings(MAIL_DISABLED=True)
def test_without_mail_the_login_page_says_to_ask_the_administrator(client):
    login = text(client.get("/auth/login"))
    assert "Forgot your password? Ask your administrator to reset it." in login
    assert "/auth/forgot-password" not in login
    page = client.get("/auth/forgot-password")
    assert page.status_code == 200 and "Ask your administrator to reset it." in text(page)
    assert client.get("/auth/reset-password?token=abc").status_code == 400


def test_an_operator_sets_a_new_password_from_the_command_line(app, auth, runner):
    confirmed_user(auth)
    result = runner.invoke(args=["users", "set-password", "alice"], input="operator's choice\noperator's choice\n")
    assert result.exit_code == 0, result.output
    assert not logged_in(auth.client)
    assert auth.login(password="operator's choice").status_code == 302
    notice = mails_to(app, ALICE)[-1]
    assert notice.subject == "Security notice: Your password was reset"
    assert "An administrator, on the command line" in notice.text
