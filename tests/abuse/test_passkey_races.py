"""Passkeys under parallel requests, against the production server (threaded workers): one signed
answer sent from several tabs at once signs in once (its challenge's one use is taken in one atomic
hit before the signature is checked); two answers of one security key with the same signature count
(a copy of the key racing the real one) let one in and record the other (the count is raised in one
conditional UPDATE). Answers come from a software authenticator (tests/webauthn_forge.py) at the
origin the server is told is its own (WEBAUTHN_ORIGINS=https://localhost)."""
import pytest

from tests.abuse.conftest import assert_app_page, confirm_its_you, events_of, is_logged_in, log_out, sign_up, text
from tests.abuse.test_authenticator_races import posted_together
from tests.conftest import CSRF_INPUT
from tests.webauthn_forge import SoftAuthenticator

pytestmark = pytest.mark.live

ADD = "/profile/passkeys/add"
TABS = 8


def options(live, visitor, path, page):
    """The options the script asks for, with the page's token: (options, the token)."""
    token = visitor.csrf_token(live.url + page)
    response = visitor.request("POST", live.url + path, data={"csrf_token": token})
    assert response.status_code == 200, (response.status_code, response.text[-1500:])
    return response.json(), token


def passkey_user(live, key):
    """A new account whose one way in is `key` (2FA on through it, codes saved), logged out."""
    visitor = live.visitor()
    username = sign_up(live, visitor)
    confirm_its_you(live, visitor, ADD)
    asked, token = options(live, visitor, f"{ADD}/options", ADD)
    response = visitor.request("POST", live.url + ADD, data={"csrf_token": token, "credential": key.register(asked)})
    assert response.status_code == 302 and response.headers["Location"] == "/profile/recovery-codes", (
        response.status_code, response.text[-1500:])
    assert visitor.post_form(live.url + "/profile/recovery-codes", {}).status_code == 302
    log_out(live, visitor)
    return username


def test_one_answer_sent_from_parallel_tabs_signs_in_once(live_app, figure):
    key = SoftAuthenticator(origin="https://localhost", counts=False, synced=True)
    username = passkey_user(live_app, key)
    visitor = live_app.visitor()
    asked, token = options(live_app, visitor, "/auth/passkey/options", "/auth/login")
    form = {"csrf_token": token, "credential": key.assertion(asked), "next": ""}
    tabs = [visitor.tab() for _ in range(TABS)]

    responses = posted_together(live_app, [(tab, "/auth/passkey", form) for tab in tabs])

    answers = [(r.status_code, r.headers.get("Location")) for r in responses]
    got_in = answers.count((302, "/profile"))
    figure(f"of {TABS} tabs sending one passkey answer at once, sign-ins", got_in)
    assert got_in == 1, answers
    for response in responses:
        if response.status_code != 302:
            assert_app_page(response, 401)
            assert "expired or was already used" in text(response)
    assert sum(is_logged_in(live_app, tab) for tab in tabs) == 1
    assert events_of(live_app, username, "login_succeeded") == 1


def test_a_copied_security_key_racing_the_real_one_lets_one_in(live_app, figure):
    key = SoftAuthenticator(origin="https://localhost", transports=("usb",))
    username = passkey_user(live_app, key)
    browsers = [live_app.visitor() for _ in range(2)]
    forms = []
    for browser in browsers:
        asked, token = options(live_app, browser, "/auth/passkey/options", "/auth/login")
        forms.append({"csrf_token": token, "credential": key.assertion(asked, count=1), "next": ""})

    responses = posted_together(live_app, [(browser, "/auth/passkey", form) for browser, form in zip(browsers, forms)])

    answers = [(r.status_code, r.headers.get("Location")) for r in responses]
    got_in = answers.count((302, "/profile"))
    figure("of 2 answers with one signature count sent at once, sign-ins", got_in)
    assert got_in == 1, answers
    assert live_app.scalar("SELECT counter FROM two_factor_methods WHERE kind = 'webauthn' AND user_id = "
                           "(SELECT id FROM users WHERE username = :name)", name=username) == 1
    refused = next(r for r in responses if r.status_code != 302)
    assert_app_page(refused, 401)
    # Refused at the count's UPDATE, or (when the other answer had committed) as a count gone back.
    assert events_of(live_app, username, "passkey_count_went_back") in (0, 1)
    assert CSRF_INPUT.search(refused.text)
