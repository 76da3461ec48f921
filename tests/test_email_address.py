"""An email address, optional and confirmed through a link: at sign-up and on the profile (add,
change, remove, behind "confirm it's you"); unique among confirmed ones, the domain compared
case-insensitively; nobody learns from a form whether an address is someone else's."""
from datetime import timedelta

import pytest
import time_machine

from app.models import User, utcnow
from tests.conftest import PASSWORD
from tests.mail_support import mails_to, sent_mails, words
from tests.support import event_kinds, new_browser, text

ALICE = "alice@example.test"
LINK_EXPIRED = "This link has expired or was already used. Ask for a new one."


def sign_up(auth, username="alice", email=""):
    return auth.post("/auth/register", {"username": username, "password": PASSWORD, "password2": PASSWORD,
                                        "email": email})


def email_of(app, username="alice"):
    with app.app_context():
        return User.by_username(username).email


def confirm_link(app, address):
    """The path of the last confirmation link sent to `address`."""
    links = [mail for mail in mails_to(app, address) if mail.subject == "Confirm your email address"]
    assert links, f"no confirmation link to {address}: {[m.subject for m in sent_mails(app)]}"
    return links[-1].link_path("/auth/confirm-email")


def use_link(auth, path):
    page = auth.client.get(path)
    assert page.status_code == 200, text(page)
    return auth.post("/auth/confirm-email", {"token": path.split("token=", 1)[1]}, form_url=path)


def add_email(auth, address, status=302):
    auth.open_sudo_page("/profile/email")
    response = auth.post("/profile/email", {"email": address})
    assert response.status_code == status, text(response)
    return response


def test_sign_up_offers_an_optional_address_and_sends_a_link(app, auth):
    page = text(auth.client.get("/auth/register"))
    assert "Email address" in page
    assert "Optional. For resetting a forgotten password and for security notices." in page
    assert sign_up(auth, email=ALICE).status_code == 302
    profile = words(auth.client.get("/profile"))
    assert f"We sent a link to {ALICE}. Open it within 24 hours to confirm your email address." in profile
    assert f"We sent a link to {ALICE}. Open it to confirm the address" in profile
    assert email_of(app) is None, "an address counts only once confirmed"
    [mail] = sent_mails(app)
    assert mail.to == [ALICE] and "Hello alice," in mail.text and "The link works once, within 24 hours." in mail.text


def test_sign_up_without_an_address_sends_nothing(app, auth):
    assert sign_up(auth).status_code == 302
    assert sent_mails(app) == []
    assert "Add an email address" in text(auth.client.get("/profile"))


def strip_times(page):
    import re

    return re.sub(r"\d+ \w+ \d{4}, \d\d:\d\d UTC", "TIME", page)


def test_the_link_shows_the_address_then_confirms_it_once(app, auth):
    sign_up(auth, email=ALICE)
    path = confirm_link(app, ALICE)
    page = auth.client.get(path)
    assert page.headers["Cache-Control"] == "no-store"
    assert f"Use {ALICE} for your account" in words(page)
    assert email_of(app) is None, "opening the link (a mail scanner does) changes nothing"
    response = use_link(auth, path)
    assert response.headers["Location"] == "/profile"
    assert f"Your email address is confirmed: {ALICE}." in text(auth.client.get("/profile"))
    assert email_of(app) == ALICE
    assert ("email_added", "a•••@e•••.test") in event_kinds(app)
    for again in (auth.client.get(path), auth.post("/auth/confirm-email", {"token": path.split("=", 1)[1]},
                                                    form_url="/profile")):
        assert again.status_code == 400 and LINK_EXPIRED in text(again)


def test_the_link_works_in_a_browser_that_is_not_logged_in(app, auth, fake):
    sign_up(auth, email=ALICE)
    response = use_link(new_browser(app, fake), confirm_link(app, ALICE))
    assert response.headers["Location"] == "/auth/login?notice=email-confirmed"
    assert email_of(app) == ALICE


def test_the_link_lasts_24_hours(app, auth):
    sign_up(auth, email=ALICE)
    path = confirm_link(app, ALICE)
    with time_machine.travel(utcnow() + timedelta(hours=24, minutes=1)):
        response = auth.client.get(path)
    assert response.status_code == 400 and LINK_EXPIRED in text(response)


@pytest.mark.parametrize("query", ["", "?token=", "?token=x", "?token=" + "A" * 43, "?token=" + "A" * 5000,
                                   "?token=%00%0d%0a", "?token[]=1"])
def test_a_bad_link_gets_the_plain_page(client, query):
    response = client.get("/auth/confirm-email" + query)
    assert response.status_code == 400 and LINK_EXPIRED in text(response)


def test_adding_an_address_from_the_profile_asks_to_confirm_its_you(app, auth):
    sign_up(auth)
    response = auth.client.get("/profile/email")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate")
    page = text(auth.client.get(response.headers["Location"]))
    assert "to add or change your email address" in page
    assert "<h1 class=\"h3 mb-3\">Add an email address</h1>" in auth.open_sudo_page("/profile/email").get_data(as_text=True)
    add_email(auth, ALICE)
    assert f"We sent a link to {ALICE}. Open it within 24 hours to confirm the address." in text(auth.client.get("/profile"))
    use_link(auth, confirm_link(app, ALICE))
    assert email_of(app) == ALICE


def test_changing_the_address_keeps_the_old_one_until_confirmed_then_tells_it(app, auth):
    sign_up(auth, email=ALICE)
    use_link(auth, confirm_link(app, ALICE))
    add_email(auth, "alice.new@example.test")
    assert email_of(app) == ALICE, "the old address stays until the new one is confirmed"
    assert "Until then, your current address stays." in words(auth.client.get("/profile"))
    assert [m.subject for m in mails_to(app, ALICE)] == ["Confirm your email address"]
    use_link(auth, confirm_link(app, "alice.new@example.test"))
    assert email_of(app) == "alice.new@example.test"
    notice = mails_to(app, ALICE)[-1]
    assert notice.subject == "Security notice: Your email address was changed"
    assert "Email address changed (to a•••@e•••.test)" in notice.text
    assert "alice.new@example.test" not in notice.text, "the old address isn't told the new one"
    assert [m.subject for m in mails_to(app, "alice.new@example.test")] == ["Confirm your email address"]


def test_removing_the_address_tells_it(app, auth):
    sign_up(auth, email=ALICE)
    use_link(auth, confirm_link(app, ALICE))
    auth.open_sudo_page("/profile/email/remove")
    response = auth.post("/profile/email/remove")
    assert response.status_code == 302
    assert email_of(app) is None
    assert "Your email address is removed." in text(auth.client.get("/profile"))
    assert mails_to(app, ALICE)[-1].subject == "Security notice: Your email address was removed"


def test_the_same_address_again_is_said_to_be_yours(app, auth):
    sign_up(auth, email=ALICE)
    use_link(auth, confirm_link(app, ALICE))
    response = add_email(auth, "alice@EXAMPLE.test", status=400)
    assert "That is already your email address." in text(response)


def test_another_accounts_address_gets_the_same_answer_and_its_owner_is_told(app, auth, fake):
    sign_up(auth, email=ALICE)
    use_link(auth, confirm_link(app, ALICE))
    bob = new_browser(app, fake)
    sign_up(bob, "bob")
    add_email(bob, "carol@example.test")  # an address nobody has
    free = words(bob.client.get("/profile"))
    bob.post("/profile/email/cancel", form_url="/profile")
    add_email(bob, "alice@Example.TEST")  # alice's, the domain in other letters
    taken = words(bob.client.get("/profile"))
    assert "We sent a link to alice@example.test. Open it within 24 hours to confirm the address." in taken
    assert strip_times(taken).replace("alice@example.test", "X") == strip_times(free).replace("carol@example.test", "X"), (
        "the profile looks the same whether the address was free or taken")
    assert "We sent a link to alice@example.test. Open it to confirm the address" in taken
    mail = mails_to(app, ALICE)[-1]
    assert mail.subject == "Your email address was given for another account"
    assert "/auth/confirm-email" not in mail.text, "no link that would move the address to bob"
    assert email_of(app, "bob") is None and email_of(app) == ALICE


def test_of_two_accounts_waiting_for_one_address_the_first_to_confirm_keeps_it(app, auth, fake):
    sign_up(auth, email="shared@example.test")
    first = confirm_link(app, "shared@example.test")
    bob = new_browser(app, fake)
    sign_up(bob, "bob", email="shared@example.test")
    second = confirm_link(app, "shared@example.test")
    assert first != second
    use_link(auth, first)
    page = bob.client.get(second)
    assert page.status_code == 400 and LINK_EXPIRED in text(page)
    assert email_of(app) == "shared@example.test" and email_of(app, "bob") is None


INJECTIONS = [
    ("alice@example.test\r\nBcc: mallory@evil.test", "Use only printable characters"),
    ("alice@example.test\nBcc: mallory@evil.test", "Use only printable characters"),
    ("alice@example.test, mallory@evil.test", "Enter one email address only"),
    ("alice@example.test;mallory@evil.test", "Enter one email address only"),
    ("alice@example.test mallory@evil.test", "Enter one email address only"),
    ("alice@example.test@evil.test", "Enter one email address only"),
    ("Alice <alice@example.test>", "Enter one email address only"),
    ("<alice@example.test>", "Enter an email address in the correct format"),
    ('"alice smith"@example.test', "Enter one email address only"),
    ("a" * 65 + "@example.test", "The part before the @ must be 64 characters or fewer."),
    ("alice@" + "b" * 250 + ".test", "Your email address must be 254 characters or fewer."),
    ("alice", "Enter an email address in the correct format"),
    ("alice@example", "Enter an email address in the correct format"),
    ("alice@exa_mple.test", "Enter an email address in the correct format"),
    ("alice..smith@example.test", "Enter an email address in the correct format"),
    ("alice@example..test", "Enter an email address in the correct format"),
]


@pytest.mark.parametrize("typed, message", INJECTIONS)
def test_sign_up_refuses_what_is_not_one_address(app, auth, typed, message):
    response = sign_up(auth, email=typed)
    assert response.status_code == 400
    assert message in text(response)
    with app.app_context():
        assert User.by_username("alice") is None
    assert sent_mails(app) == []


@pytest.mark.parametrize("typed, message", INJECTIONS[:7] + INJECTIONS[9:11])
def test_the_profile_refuses_what_is_not_one_address(app, auth, typed, message):
    sign_up(auth)
    auth.open_sudo_page("/profile/email")
    response = auth.post("/profile/email", {"email": typed})
    assert response.status_code == 400 and message in text(response)
    response = auth.post("/profile/email", {"email": ""})
    assert response.status_code == 400 and "Enter your email address." in text(response)
    assert sent_mails(app) == []


def test_an_international_domain_is_kept_in_its_ascii_form(app, auth):
    sign_up(auth, email="anna@bücher.example")
    assert sent_mails(app)[0].to == ["anna@xn--bcher-kva.example"]


@pytest.mark.app_settings(EMAIL_LIMIT_PER_ACCOUNT="2/hour")
def test_links_per_account_are_limited(app, auth):
    sign_up(auth)
    add_email(auth, "one@example.test")
    add_email(auth, "two@example.test")
    response = add_email(auth, "three@example.test", status=429)
    assert "You have asked for many links. Please try again in" in text(response)
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.app_settings(MAIL_DISABLED=True)
def test_without_mail_there_is_no_address_to_give(app, auth):
    assert "Email address" not in text(auth.client.get("/auth/register"))
    sign_up(auth, email=ALICE)  # sent anyway: ignored
    assert email_of(app) is None
    profile = text(auth.client.get("/profile"))
    assert "Email address" not in profile and "Add an email address" not in profile
    auth.open_sudo_page("/profile/password")
    assert auth.client.get("/profile/email").status_code == 404
    assert auth.client.get("/auth/confirm-email?token=" + "A" * 43).status_code == 400
