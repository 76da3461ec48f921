"""Passkeys and security keys (WebAuthn) through the real forms, with answers forged by a software
authenticator (tests/webauthn_forge.py): adding one, signing in with it alone, as the second step
and to confirm it's you, managing them, and every refusal: malformed answers (a 400 with a form
error, nothing stored), a replayed or foreign challenge, another user's credential, a user handle
of no one, a signature count that goes back, a wrong origin or RP ID, limits like a password login's.

The test client speaks to http://localhost: development derives the RP ID (localhost) and the origin
(http://localhost) from the request, as it does behind `make run`."""
import json

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.methods.webauthn import ceremony
from app.methods.webauthn.models import WebAuthnCredential
from app.models import TwoFactorMethod, User
from tests.conftest import PASSWORD, PHONE, csrf_token, page_text
from tests.passkey_support import ADD, add_passkey, options, passkey_user, sign_in, sign_in_options
from tests.support import NO_SEND_LIMITS, ShiftedClock, event_kinds, method_id, text, two_factor_user
from tests.webauthn_forge import SoftAuthenticator, b64url, from_b64url

pytestmark = pytest.mark.app_settings(**NO_SEND_LIMITS)

ICLOUD = bytes.fromhex("fbfc3007154e4ecc8c0b6e020557d7bd")


# -- Helpers ---------------------------------------------------------------------------------------

def logged_in_as(client):
    response = client.get("/profile")
    if response.status_code != 200:
        return None
    return text(response).split("You are logged in as ", 1)[1].split(".", 1)[0]


def count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def method_row(app, username="alice"):
    with app.app_context():
        user = User.by_username(username)
        return db.session.scalar(sa.select(TwoFactorMethod).where(TwoFactorMethod.user_id == user.id,
                                                                  TwoFactorMethod.kind == "webauthn"))


# -- Adding one -------------------------------------------------------------------------------------

def test_adding_a_passkey_asks_for_the_password_typed_now(auth, client):
    auth.register("alice")  # a fresh login is not enough
    for response in (client.get(ADD), auth.post(f"{ADD}/options", form_url="/profile")):
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/reauthenticate?next=")


def test_registration_options(app, auth, client):
    auth.register("alice")
    auth.confirm_its_you_to(ADD)
    page = text(client.get(ADD))
    assert "Add a passkey" in page and 'data-passkey="create"' in page
    asked = options(client, f"{ADD}/options", ADD)
    assert asked["rp"] == {"id": "localhost", "name": "SMS 2FA"}
    assert asked["authenticatorSelection"]["residentKey"] == "preferred"  # a discoverable credential, asked for
    assert asked["authenticatorSelection"]["userVerification"] == "preferred"
    assert asked["attestation"] == "none" and asked["excludeCredentials"] == []
    handle = from_b64url(asked["user"]["id"])
    with app.app_context():
        user = User.by_username("alice")
        assert len(handle) == 64 and handle == user.webauthn_handle
        assert not handle.startswith((str(user.id).encode(), b"alice"))  # random, not the id or the name
    assert asked["user"]["name"] == "alice"
    # The same handle every time; the person's own credentials are excluded once they have one.
    key = SoftAuthenticator()
    auth.post(ADD, {"credential": key.register(asked)})
    again = options(client, f"{ADD}/options", ADD)
    assert from_b64url(again["user"]["id"]) == handle
    assert [from_b64url(c["id"]) for c in again["excludeCredentials"]] == [key.credential_id]
    assert again["excludeCredentials"][0]["transports"] == ["internal"]
    assert again["challenge"] != asked["challenge"]


def test_first_passkey_turns_2fa_on_through_the_recovery_codes_and_is_stored(app, auth, client):
    auth.register("alice")
    key = SoftAuthenticator(synced=True)
    response = add_passkey(auth, key)
    assert response.headers["Location"] == "/profile/recovery-codes"
    shown = text(client.get(auth.post("/profile/recovery-codes").headers["Location"]))
    assert "Two-factor authentication is on. Each login will now ask for your passkey or security key" in shown
    assert ("2fa_enabled", "Passkey") in event_kinds(app)
    with app.app_context():
        method = db.session.scalar(sa.select(TwoFactorMethod))
        stored = db.session.get(WebAuthnCredential, method.id)
        assert (method.kind, method.name, method.counter) == ("webauthn", "Passkey", 0)
        assert method.lookup == ceremony.lookup_of(key.credential_id)
        assert stored.credential_id == key.credential_id
        assert stored.public_key == key.cose_key()
        assert (stored.transports, stored.aaguid) == ("internal", "00000000-0000-0000-0000-000000000000")
        assert (stored.backup_eligible, stored.backed_up) == (True, True)
    assert "synced to your other devices" in shown


def test_a_known_authenticator_names_the_passkey_and_it_can_be_renamed(app, auth, client):
    two_factor_user(auth)
    add_passkey(auth, SoftAuthenticator(aaguid=ICLOUD))
    page = text(client.get("/profile"))
    assert "Passkey 'iCloud Keychain' can now be used to log in." in page
    assert "on one device or security key only" in page
    passkey = method_id(app, kind="webauthn")
    rename = f"/profile/passkeys/{passkey}/rename"
    assert "Rename Passkey 'iCloud Keychain'" in text(client.get(rename))
    response = auth.post(rename, {"name": "Work laptop"})
    assert response.status_code == 302
    assert "Renamed: it is now Passkey 'Work laptop'." in text(client.get("/profile"))
    assert auth.post(rename, {"name": ""}).status_code == 400
    assert client.get(f"/profile/passkeys/{method_id(app, kind='phone')}/rename").status_code == 404  # not a passkey


def test_adding_a_passkey_of_another_kind_of_second_factor_ends_other_sessions(app, auth, client, fake):
    two_factor_user(auth)
    other = auth.__class__(app.test_client(), fake)
    other.login_with_code()
    add_passkey(auth, SoftAuthenticator())
    assert other.client.get("/profile").status_code == 302  # logged out there
    assert ("method_added", "Passkey") in event_kinds(app)


# -- Signing in with a passkey alone ----------------------------------------------------------------

def test_sign_in_with_a_passkey_and_nothing_else(app, auth, client, fake):
    key = passkey_user(auth)
    sends = len(fake.sends)
    response = sign_in(client, key.assertion(sign_in_options(client)), next_url="/profile/sessions")
    assert response.status_code == 302 and response.headers["Location"] == "/profile/sessions"
    assert logged_in_as(client) == "alice"
    assert len(fake.sends) == sends
    assert event_kinds(app)[-1] == ("login_succeeded", "with a passkey ('Passkey'), without a password")
    assert method_row(app).last_used_at is not None


def test_sign_in_options_say_nothing_about_any_account(auth, client):
    passkey_user(auth)
    asked = sign_in_options(client)
    assert set(asked) == {"challenge", "timeout", "rpId", "allowCredentials", "userVerification"}
    assert asked["allowCredentials"] == [] and asked["userVerification"] == "required"
    # Naming an account changes nothing: the options take no username.
    named = client.post("/auth/passkey/options", data={"csrf_token": csrf_token(client), "username": "alice"}).get_json()
    assert set(named) == set(asked) and named["allowCredentials"] == []


def test_the_login_page_offers_passkeys_without_asking_for_anything(client):
    page = page_text(client.get("/auth/login"))
    assert 'autocomplete="username webauthn"' in page
    form = page.split('data-passkey="get"', 1)[1].split("</form>", 1)[0]
    assert "data-passkey-conditional data-passkey-only hidden>" in form  # absent until the script finds WebAuthn
    assert "Sign in with a passkey" in form
    assert 'src="/static/webauthn.js?v=' in page and "webauthn.js?v=" in page.split("defer")[-2]
    assert "challenge" not in page  # options come only when the script asks


def test_a_passkey_without_user_verification_does_not_sign_in(auth, client):
    key = passkey_user(auth)
    response = sign_in(client, key.assertion(sign_in_options(client), uv=False))
    assert response.status_code == 401
    assert "didn't confirm it's you with your fingerprint, face, PIN or screen lock" in text(response)
    assert logged_in_as(client) is None


# -- Refusals -------------------------------------------------------------------------------------

def test_a_replayed_assertion_is_refused(auth, client, app):
    key = passkey_user(auth)
    answer = key.assertion(sign_in_options(client))
    assert sign_in(client, answer).status_code == 302
    auth.logout()
    response = sign_in(client, answer)
    assert response.status_code == 401 and "expired or was already used" in text(response)
    assert logged_in_as(client) is None


def test_a_challenge_from_another_session_is_refused(app, auth, client, fake):
    key = passkey_user(auth)
    asked = sign_in_options(client)  # this browser's challenge ...
    stranger = app.test_client()
    response = sign_in(stranger, key.assertion(asked))  # ... answered from another
    assert response.status_code == 401 and "expired or was already used" in text(response)
    assert logged_in_as(stranger) is None
    # The challenge was not used up: its own browser still signs in with it.
    assert sign_in(client, key.assertion(asked, count=key.sign_count + 1)).status_code == 302


def test_a_challenge_of_another_ceremony_is_refused(app, auth, client, fake):
    """The second step's challenge (password typed) can't sign in without a password."""
    two_factor_user(auth)
    key = SoftAuthenticator()
    add_passkey(auth, key)
    auth.logout()
    auth.login()
    second_step = options(client, "/auth/verify/passkey-options", "/auth/verify")
    response = client.post("/auth/passkey", data={"csrf_token": csrf_token(client, "/auth/verify"),
                                                   "credential": key.assertion(second_step)})
    assert response.status_code == 401


def test_an_expired_challenge_is_refused(auth, client, monkeypatch):
    key = passkey_user(auth)
    asked = sign_in_options(client)
    monkeypatch.setattr(ceremony, "time", ShiftedClock(ceremony.CHALLENGE_SECONDS + 1))
    response = sign_in(client, key.assertion(asked))
    assert response.status_code == 401 and "expired" in text(response)


def test_a_credential_of_another_user_is_refused(app, auth, client):
    alice = passkey_user(auth, "alice")
    bob = passkey_user(auth, "bob")
    # Bob's credential, claiming to be alice's (her user handle): refused.
    bob.user_handle = alice.user_handle
    response = sign_in(client, bob.assertion(sign_in_options(client)))
    assert response.status_code == 401 and "We don't recognise that passkey" in text(response)
    assert logged_in_as(client) is None


def test_a_user_handle_of_no_one_is_refused(auth, client):
    key = passkey_user(auth)
    for handle in (b"\x01" * 64, None):
        response = sign_in(client, key.assertion(sign_in_options(client), user_handle=handle))
        assert response.status_code == 401
        assert logged_in_as(client) is None


def test_an_unknown_credential_is_refused(auth, client):
    passkey_user(auth)
    stranger = SoftAuthenticator()
    stranger.user_handle = b"\x02" * 64
    response = sign_in(client, stranger.assertion(sign_in_options(client), rp_id="localhost"))
    assert response.status_code == 401 and logged_in_as(client) is None


@pytest.mark.parametrize("count", [5, 4], ids=["same-count", "lower-count"])
def test_a_signature_count_that_goes_back_is_refused_and_recorded(app, auth, client, count):
    key = passkey_user(auth)  # a security key: it counts its signatures
    assert sign_in(client, key.assertion(sign_in_options(client), count=5)).status_code == 302
    auth.logout()
    response = sign_in(client, key.assertion(sign_in_options(client), count=count))
    assert response.status_code == 401 and "it may have been copied" in text(response)
    assert logged_in_as(client) is None
    assert event_kinds(app)[-1] == ("passkey_count_went_back", f"Passkey: signature count {count}, after 5")
    assert method_row(app).counter == 5


def test_a_synced_passkey_that_always_counts_zero_keeps_working(auth, client):
    key = passkey_user(auth, counts=False, synced=True)
    for _ in range(2):
        assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302
        auth.logout()


@pytest.mark.parametrize("bend", [
    {"origin": "https://evil.example"}, {"origin": "http://localhost:5001"}, {"rp_id": "evil.example"},
    {"up": False}, {"kind": "webauthn.create"},
], ids=["other-origin", "other-port", "other-rp-id", "no-user-presence", "create-not-get"])
def test_a_wrong_origin_rp_id_or_flag_is_refused(auth, client, bend):
    key = passkey_user(auth)
    response = sign_in(client, key.assertion(sign_in_options(client), **bend))
    assert response.status_code in (400, 401)
    assert "There is a problem" in text(response)
    assert logged_in_as(client) is None


def test_a_bad_signature_is_refused(auth, client):
    key = passkey_user(auth)
    answer = json.loads(key.assertion(sign_in_options(client)))
    signature = bytearray(from_b64url(answer["response"]["signature"]))
    signature[-1] ^= 1
    answer["response"]["signature"] = b64url(bytes(signature))
    response = sign_in(client, json.dumps(answer))
    assert response.status_code == 401 and "could not be checked" in text(response)


# -- Malformed answers: a 400 with a form error, nothing stored, never a 500 -------------------------

def malformed_answers(valid):
    """Broken versions of a valid answer (JSON text): each must be a form error."""
    data = json.loads(valid)
    response = data["response"]

    def with_response(**changes):
        return json.dumps({**data, "response": {**response, **changes}})

    client_data = json.loads(from_b64url(response["clientDataJSON"]))
    return {
        "empty": "",
        "not-json": "{not json",
        "truncated": valid[: len(valid) // 2],
        "a-list": "[]",
        "no-response": json.dumps({k: v for k, v in data.items() if k != "response"}),
        "oversized": json.dumps({**data, "padding": "x" * (20 * 1024)}),
        "deeply-nested": "[" * 5000 + "]" * 5000,
        "raw-id-not-base64": json.dumps({**data, "rawId": "%%%"}),
        "id-mismatch": json.dumps({**data, "id": b64url(b"other")}),
        "client-data-not-base64": with_response(clientDataJSON="***"),
        "client-data-not-json": with_response(clientDataJSON=b64url(b"\xff\xfe")),
        "client-data-truncated": with_response(clientDataJSON=b64url(json.dumps(client_data).encode()[:20])),
        "client-data-a-string": with_response(clientDataJSON=b64url(b'"hello"')),
        "client-data-no-challenge": with_response(clientDataJSON=b64url(json.dumps(
            {k: v for k, v in client_data.items() if k != "challenge"}).encode())),
        "client-data-huge-number": with_response(clientDataJSON=b64url(b'{"type": 1e999999}')),
    }


@pytest.mark.app_settings(LOGIN_LIMIT_PER_IP="100/minute", LOGIN_LIMIT_PER_USERNAME="100/minute",
                          LOGIN_LIMIT_PER_ACCOUNT="100/minute", **NO_SEND_LIMITS)
def test_malformed_sign_in_answers_are_form_errors(app, auth, client):
    key = passkey_user(auth)
    valid = key.assertion(sign_in_options(client))
    extra = {
        "authenticator-data-truncated": json.dumps({**json.loads(valid), "response": {
            **json.loads(valid)["response"], "authenticatorData": b64url(b"\x00" * 20)}}),
        "signature-garbage": json.dumps({**json.loads(valid), "response": {
            **json.loads(valid)["response"], "signature": b64url(b"\x30\x02\x01")}}),
    }
    for name, answer in {**malformed_answers(valid), **extra}.items():
        response = sign_in(client, answer)
        assert response.status_code in (400, 401), (name, response.status_code)
        assert "There is a problem" in text(response), name
        assert logged_in_as(client) is None, name
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302  # the valid one works


def test_malformed_registration_answers_are_form_errors_and_store_nothing(app, auth, client):
    two_factor_user(auth)
    auth.confirm_its_you_to(ADD)
    key = SoftAuthenticator()
    valid = key.register(options(client, f"{ADD}/options", ADD))
    data = json.loads(valid)
    broken = {
        **malformed_answers(valid),
        "attestation-garbage": json.dumps({**data, "response": {**data["response"], "attestationObject": b64url(b"\xa1\x63fmt")}}),
        "attestation-truncated": json.dumps({**data, "response": {
            **data["response"], "attestationObject": data["response"]["attestationObject"][:40]}}),
        "attestation-missing": json.dumps({**data, "response": {
            k: v for k, v in data["response"].items() if k != "attestationObject"}}),
    }
    for name, answer in broken.items():
        response = auth.post(ADD, {"credential": answer})
        assert response.status_code == 400, (name, response.status_code)
        assert "There is a problem" in text(response), name
    assert count(app, WebAuthnCredential) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(TwoFactorMethod.kind == "webauthn")) == 0


@pytest.mark.parametrize("bend", [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
                         ids=["other-origin", "other-rp-id"])
def test_a_registration_from_another_origin_or_rp_id_is_refused(app, auth, client, bend):
    two_factor_user(auth)
    auth.confirm_its_you_to(ADD)
    answer = SoftAuthenticator().register(options(client, f"{ADD}/options", ADD), **bend)
    response = auth.post(ADD, {"credential": answer})
    assert response.status_code == 400 and "Your passkey could not be added" in text(response)
    assert count(app, WebAuthnCredential) == 0


def test_a_registration_posted_twice_adds_one_passkey(app, auth, client):
    two_factor_user(auth)
    auth.confirm_its_you_to(ADD)
    answer = SoftAuthenticator().register(options(client, f"{ADD}/options", ADD))
    assert auth.post(ADD, {"credential": answer}).status_code == 302
    response = auth.post(ADD, {"credential": answer})
    assert response.status_code == 400 and "expired or was already used" in text(response)
    assert count(app, WebAuthnCredential) == 1


def test_a_credential_registered_elsewhere_cannot_be_added_again(app, auth, client, fake):
    key = passkey_user(auth, "alice")
    two_factor_user(auth, "bob", national="07400 654321", phone="+447400654321")
    auth.confirm_its_you_to(ADD, phone="+447400654321")
    response = auth.post(ADD, {"credential": key.register(options(client, f"{ADD}/options", ADD))})
    assert response.status_code == 400 and "already set up" in text(response)
    assert count(app, WebAuthnCredential) == 1


# -- As the second step --------------------------------------------------------------------------

def phone_and_passkey_user(auth):
    two_factor_user(auth)
    key = SoftAuthenticator(transports=("usb",))
    add_passkey(auth, key)
    auth.logout()
    return key


def test_after_the_password_a_passkey_is_offered_first(app, auth, client, fake):
    key = phone_and_passkey_user(auth)
    sends = len(fake.sends)
    assert auth.login().headers["Location"] == "/auth/verify"
    assert len(fake.sends) == sends, "a passkey's step sends no code"
    page = text(client.get("/auth/verify"))
    assert "Use your passkey or security key" in page and "Use another way" in page
    choice = text(client.get("/auth/verify/another"))
    for words in ("Passkey or security key", "Text message to your phone ending in 56", "Recovery code"):
        assert words in choice
    asked = options(client, "/auth/verify/passkey-options", "/auth/verify")
    assert [from_b64url(c["id"]) for c in asked["allowCredentials"]] == [key.credential_id]
    assert asked["userVerification"] == "discouraged"
    response = auth.post("/auth/verify", {"credential": key.assertion(asked, uv=False)})
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert event_kinds(app)[-1] == ("login_succeeded", "with a passkey or security key")
    assert logged_in_as(client) == "alice"


def test_a_wrong_passkey_at_the_second_step_counts_like_a_wrong_code(app, auth, client):
    phone_and_passkey_user(auth)
    passkey_user_bob = SoftAuthenticator()
    auth.login()
    asked = options(client, "/auth/verify/passkey-options", "/auth/verify")
    passkey_user_bob.user_handle = b"\x03" * 64
    response = auth.post("/auth/verify", {"credential": passkey_user_bob.assertion(asked, rp_id="localhost")})
    assert response.status_code == 401
    assert "isn't set up for this account" in text(response)
    with app.app_context():
        assert User.by_username("alice").code_failures == 1
    # A malformed answer is a form error: no guess counted.
    assert auth.post("/auth/verify", {"credential": "{"}).status_code == 400
    with app.app_context():
        assert User.by_username("alice").code_failures == 1


def test_another_users_credential_at_the_second_step_is_refused(app, auth, client, fake):
    bob = passkey_user(auth, "bob")
    phone_and_passkey_user(auth)
    auth.login()
    asked = options(client, "/auth/verify/passkey-options", "/auth/verify")
    response = auth.post("/auth/verify", {"credential": bob.assertion(asked)})
    assert response.status_code == 401 and logged_in_as(client) is None


def test_the_second_steps_options_need_a_pending_login(client):
    response = client.post("/auth/verify/passkey-options", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


# -- Confirming it's you ----------------------------------------------------------------------------

def test_confirm_its_you_with_a_passkey_alone(app, auth, client):
    key = passkey_user(auth)
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302
    page = text(client.get("/auth/reauthenticate?next=/profile/2fa/disable"))
    assert "Confirm with a passkey instead" in page
    asked = options(client, "/auth/reauthenticate/passkey-options?next=/profile/2fa/disable",
                    "/auth/reauthenticate?next=/profile/2fa/disable")
    assert asked["userVerification"] == "required" and len(asked["allowCredentials"]) == 1
    without_uv = auth.post("/auth/reauthenticate/passkey?next=/profile/2fa/disable",
                           {"credential": key.assertion(asked, uv=False)}, form_url="/auth/reauthenticate")
    assert without_uv.status_code == 401
    asked = options(client, "/auth/reauthenticate/passkey-options", "/auth/reauthenticate")
    response = auth.post("/auth/reauthenticate/passkey?next=/profile/2fa/disable",
                         {"credential": key.assertion(asked)}, form_url="/auth/reauthenticate")
    assert response.status_code == 302 and response.headers["Location"] == "/profile/2fa/disable"
    assert event_kinds(app)[-1] == ("reauthenticated", "with a passkey")
    assert client.get("/profile/2fa/disable").status_code == 200


def test_confirm_its_you_after_the_password_with_a_passkey(app, auth, client, fake):
    key = phone_and_passkey_user(auth)
    auth.login()
    asked = options(client, "/auth/verify/passkey-options", "/auth/verify")
    assert auth.post("/auth/verify", {"credential": key.assertion(asked)}).status_code == 302
    sends = len(fake.sends)
    response = auth.post("/auth/reauthenticate?next=/profile/2fa/disable", {"password": PASSWORD})
    assert response.headers["Location"] == "/auth/reauthenticate/code?next=/profile/2fa/disable"
    assert len(fake.sends) == sends
    step = "/auth/reauthenticate/code?next=/profile/2fa/disable"
    assert "Use your passkey or security key to confirm it's you" in text(client.get(step))
    asked = options(client, "/auth/reauthenticate/code/passkey-options", step)
    response = auth.post(step, {"credential": key.assertion(asked)})
    assert response.headers["Location"] == "/profile/2fa/disable"
    assert event_kinds(app)[-1] == ("reauthenticated", "with a passkey or security key")


# -- Managing them -------------------------------------------------------------------------------

def test_removing_a_passkey_and_the_last_one(app, auth, client, fake):
    key = phone_and_passkey_user(auth)
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302
    passkey = method_id(app, kind="webauthn")
    asked = options(client, "/auth/reauthenticate/passkey-options", "/auth/reauthenticate")
    auth.post("/auth/reauthenticate/passkey", {"credential": key.assertion(asked)}, form_url="/auth/reauthenticate")
    assert "Remove Passkey" in text(client.get(f"/profile/methods/{passkey}/remove"))
    response = auth.post(f"/profile/methods/{passkey}/remove")
    assert response.status_code == 302
    assert count(app, WebAuthnCredential) == 0
    assert ("method_removed", "Passkey") in event_kinds(app)
    # The phone is left: removing it now is turning 2FA off.
    phone = method_id(app, kind="phone")
    assert client.get(f"/profile/methods/{phone}/remove").headers["Location"] == "/profile/2fa/disable"


@pytest.mark.app_settings(REQUIRE_TWO_FACTOR=True, **NO_SEND_LIMITS)
def test_require_two_factor_keeps_the_last_passkey(app, auth, client):
    key = passkey_user(auth)
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302
    asked = options(client, "/auth/reauthenticate/passkey-options", "/auth/reauthenticate")
    auth.post("/auth/reauthenticate/passkey", {"credential": key.assertion(asked)}, form_url="/auth/reauthenticate")
    response = client.get(f"/profile/methods/{method_id(app, kind='webauthn')}/remove")
    assert response.headers["Location"] == "/profile"
    assert "can't be removed" in text(client.get("/profile"))
    assert count(app, WebAuthnCredential) == 1


@pytest.mark.app_settings(REQUIRE_TWO_FACTOR=True, **NO_SEND_LIMITS)
def test_a_passkey_can_be_the_required_second_factor(app, auth, client):
    auth.register("alice")
    assert client.get("/profile").headers["Location"] == "/profile/2fa/required"
    assert add_passkey(auth, SoftAuthenticator()).headers["Location"] == "/profile/recovery-codes"


# -- Limits ----------------------------------------------------------------------------------------

@pytest.mark.app_settings(LOGIN_LIMIT_PER_IP="3/minute", **NO_SEND_LIMITS)
def test_passkey_sign_ins_count_with_password_logins_per_address(auth, client):
    key = passkey_user(auth)
    auth.login(password="wrong password")  # one password login from this address
    wrong = key.assertion(sign_in_options(client), uv=False)
    assert sign_in(client, wrong).status_code == 401
    assert sign_in(client, wrong).status_code == 401
    response = sign_in(client, key.assertion(sign_in_options(client)))
    assert response.status_code == 429 and logged_in_as(client) is None


@pytest.mark.app_settings(LOGIN_LIMIT_PER_USERNAME="2/minute", LOGIN_LIMIT_PER_ACCOUNT="3/minute", **NO_SEND_LIMITS)
def test_passkey_limits_go_narrowest_first(app, auth, client):
    key = passkey_user(auth)
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for _ in range(2):
        assert sign_in(attacker, key.assertion(sign_in_options(attacker), uv=False)).status_code == 401
    assert sign_in(attacker, key.assertion(sign_in_options(attacker), uv=False)).status_code == 429
    # The stranger's guesses filled their own limit only: the owner signs in from elsewhere.
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302


# -- Settings ----------------------------------------------------------------------------------------

def test_development_derives_the_rp_id_and_origin_from_the_request(app):
    with app.test_request_context("/", base_url="http://example.test:8080"):
        assert (ceremony.rp_id(), ceremony.origins()) == ("example.test", ["http://example.test:8080"])


@pytest.mark.app_settings(WEBAUTHN_RP_ID="sms2fa.example", WEBAUTHN_ORIGINS=["https://sms2fa.example/"])
def test_configured_rp_id_and_origins_win_over_the_request(app, auth, client):
    with app.test_request_context("/", base_url="http://localhost"):
        assert (ceremony.rp_id(), ceremony.origins()) == ("sms2fa.example", ["https://sms2fa.example"])
    auth.register("alice")
    auth.confirm_its_you_to(ADD)
    asked = options(client, f"{ADD}/options", ADD)
    assert asked["rp"]["id"] == "sms2fa.example"
    # The browser's own origin (http://localhost) is not one of the site's: refused.
    response = auth.post(ADD, {"credential": SoftAuthenticator().register(asked)})
    assert response.status_code == 400
    answer = SoftAuthenticator(origin="https://sms2fa.example").register(options(client, f"{ADD}/options", ADD))
    assert auth.post(ADD, {"credential": answer}).status_code == 302


@pytest.mark.parametrize("settings, name", [
    ({"WEBAUTHN_RP_ID": None}, "WEBAUTHN_RP_ID"),
    ({"WEBAUTHN_RP_ID": "127.0.0.1"}, "WEBAUTHN_RP_ID"),
    ({"WEBAUTHN_RP_ID": "https://localhost"}, "WEBAUTHN_RP_ID"),
    ({"WEBAUTHN_ORIGINS": []}, "WEBAUTHN_ORIGINS"),
    ({"WEBAUTHN_ORIGINS": ["http://localhost"]}, "WEBAUTHN_ORIGINS"),
    ({"WEBAUTHN_ORIGINS": ["https://evil.example"]}, "WEBAUTHN_ORIGINS"),
    ({"WEBAUTHN_ORIGINS": ["https://localhost/app"]}, "WEBAUTHN_ORIGINS"),
], ids=["no-rp-id", "rp-id-an-address", "rp-id-a-url", "no-origins", "http-origin", "origin-elsewhere",
        "origin-with-path"])
def test_production_refuses_to_start_without_sound_webauthn_settings(fake, settings, name):
    from app import create_app
    from tests.support import production_config

    with pytest.raises(SystemExit) as refused:
        create_app(production_config(fake, **settings))
    assert name in str(refused.value)


def test_production_accepts_subdomain_origins(fake):
    from app import create_app
    from tests.conftest import dispose_app
    from tests.support import production_config

    app = create_app(production_config(fake, WEBAUTHN_RP_ID="example.com", TRUSTED_HOSTS=["example.com"],
                                       WEBAUTHN_ORIGINS=["https://example.com", "https://login.example.com:8443"]))
    dispose_app(app)


def test_another_way_from_the_passkey_step_to_a_text(app, auth, client, fake):
    phone_and_passkey_user(auth)
    auth.login()
    sends = len(fake.sends)
    response = auth.post("/auth/verify/another", {"way": "phone:sms"})
    assert response.headers["Location"] == "/auth/verify"
    assert [s["channel"] for s in fake.sends[sends:]] == ["sms"]
    assert "Enter your code" in text(client.get("/auth/verify"))
    assert auth.post("/auth/verify", {"code": fake.last_code(PHONE)}).headers["Location"] == "/profile"


def test_turning_2fa_off_or_deleting_the_account_leaves_no_credential(app, auth, client):
    key = passkey_user(auth)
    assert sign_in(client, key.assertion(sign_in_options(client))).status_code == 302
    asked = options(client, "/auth/reauthenticate/passkey-options", "/auth/reauthenticate")
    auth.post("/auth/reauthenticate/passkey", {"credential": key.assertion(asked)}, form_url="/auth/reauthenticate")
    page = text(client.get("/profile/2fa/disable"))
    assert "your passkey and security key (1): it stops working here" in page and "your authenticator app" not in page
    assert auth.post("/profile/2fa/disable").headers["Location"] == "/profile"
    assert count(app, WebAuthnCredential) == 0
    add_passkey(auth, SoftAuthenticator())
    assert count(app, WebAuthnCredential) == 1
    response = auth.post("/profile/delete", {"username": "alice"})
    assert response.status_code == 302, text(response)
    assert count(app, WebAuthnCredential) == 0 and count(app, TwoFactorMethod) == 0


# -- The rules, one by one -----------------------------------------------------------------------------

def test_a_challenge_is_bound_to_its_ceremony_its_subject_and_its_session_and_works_once(app):
    with app.test_request_context("/"):
        challenge, kept = (ceremony.new_challenge(ceremony.SECOND_STEP, 7) for _ in range(2))
        tampered = challenge[:-1] + bytes([challenge[-1] ^ 1])
        for other, subject in [(ceremony.REGISTER, 7), (ceremony.SECOND_STEP, 8), (ceremony.SIGN_IN, "")]:
            with pytest.raises(ceremony.Refused) as refused:
                ceremony.use_challenge(challenge, other, subject)
            assert refused.value.reason == "challenge" and not refused.value.guess
        for broken in (tampered, challenge[:-2], b"", b"\x02" + challenge[1:]):
            with pytest.raises(ceremony.Refused):
                ceremony.use_challenge(broken, ceremony.SECOND_STEP, 7)
        ceremony.use_challenge(challenge, ceremony.SECOND_STEP, 7)
        with pytest.raises(ceremony.Refused) as refused:
            ceremony.use_challenge(challenge, ceremony.SECOND_STEP, 7)
        assert refused.value.reason == "replayed"
    with app.test_request_context("/"):  # another session: another CSRF secret
        with pytest.raises(ceremony.Refused) as refused:
            ceremony.use_challenge(kept, ceremony.SECOND_STEP, 7)
        assert refused.value.reason == "challenge"


@pytest.mark.parametrize("answer", [
    None, "", "null", "1", '"text"', "{}", '{"type": "public-key", "id": "AA", "rawId": "AA"}',
    '{"type": "public-key", "id": "", "rawId": "", "response": {}}',
    '{"type": "other", "id": "AA", "rawId": "AA", "response": {}}',
])
def test_what_is_not_an_answer_is_malformed(answer):
    for kind in ("webauthn.create", "webauthn.get"):
        with pytest.raises(ceremony.Malformed):
            ceremony.parse_answer(answer, kind)


def test_a_forged_answer_reads_back(app):
    key = SoftAuthenticator()
    key.user_handle = b"\x05" * 64
    answer = ceremony.parse_answer(key.assertion({"challenge": b64url(b"c" * 57), "rpId": "localhost"}), "webauthn.get")
    assert (answer.credential_id, answer.challenge, answer.user_handle) == (key.credential_id, b"c" * 57, b"\x05" * 64)
