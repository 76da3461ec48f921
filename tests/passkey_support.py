"""What the passkey script does, for the HTTP tests: ask for options, have a software authenticator
(tests/webauthn_forge.py) answer them, post the answer in the page's form."""
from tests.conftest import csrf_token
from tests.webauthn_forge import SoftAuthenticator

ADD = "/profile/passkeys/add"


def options(client, url, page):
    """What static/webauthn.js asks for: a POST with the page's CSRF token; the JSON options."""
    response = client.post(url, data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def add_passkey(auth, authenticator, expect=302):
    """'Add a passkey' from the profile (confirming it's you first when asked): options, the
    authenticator's answer, posted in the page's form."""
    if auth.client.get(ADD).status_code == 302:
        auth.confirm_its_you_to(ADD)
    answer = authenticator.register(options(auth.client, f"{ADD}/options", ADD))
    response = auth.post(ADD, {"credential": answer})
    assert response.status_code == expect, response.get_data(as_text=True)
    return response


def passkey_user(auth, username="alice", **authenticator):
    """`username` signed up with one passkey (2FA on through it, codes saved), logged out."""
    assert auth.register(username).status_code == 302
    key = SoftAuthenticator(**authenticator)
    assert add_passkey(auth, key).headers["Location"] == "/profile/recovery-codes"
    assert auth.post("/profile/recovery-codes").status_code == 302
    auth.logout()
    return key


def sign_in_options(client):
    return options(client, "/auth/passkey/options", "/auth/login")


def sign_in(client, answer, next_url=""):
    return client.post("/auth/passkey", data={"csrf_token": csrf_token(client), "credential": answer,
                                              "next": next_url})
