"""The WebAuthn ceremonies, on top of py_webauthn: the relying party, challenges, the options a
browser is given, and the checks of what it answers. Views call these; nothing here renders.

Challenges are made, not stored. A challenge is a version byte, the time it was made, 16 random
bytes and an HMAC (under a key derived from SECRET_KEY) over those, the ceremony ("register",
"sign-in", "second-step", "confirm"), its subject (the user, where there is one) and the session:
the CSRF secret the session holds (in the server-side session, or in an anonymous visitor's signed
cookie). So a challenge works only in the session and the ceremony it was made for, and only for
CHALLENGE_SECONDS; asking for options leaves nothing on the server. It works once: the first answer
that carries it takes its one use in the rate-limit storage (one atomic hit, like every limit here),
before its signature is even checked, so a replay, or two answers raced, get nowhere.
"""
import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, request, session
from flask_wtf.csrf import generate_csrf
from webauthn import (generate_authentication_options, generate_registration_options, options_to_json,
                      verify_authentication_response, verify_registration_response)
from webauthn.helpers.structs import (AttestationConveyancePreference, AuthenticatorSelectionCriteria,
                                      AuthenticatorTransport, CredentialDeviceType, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from app import events
from app.extensions import db
from app.i18n import N_
from app.methods.webauthn.models import WebAuthnCredential
from app.methods.webauthn.names import name_for
from app.models import WEBAUTHN, TwoFactorMethod, User, utcnow
from app.throttle import Throttled, take

log = logging.getLogger(__name__)

REGISTER, SIGN_IN, SECOND_STEP, CONFIRM = "register", "sign-in", "second-step", "confirm"
CHALLENGE_SECONDS = 300
VERSION = b"\x01"
BODY_LENGTH = 1 + 8 + 16  # version, when it was made, random bytes
CHALLENGE_LENGTH = BODY_LENGTH + 32  # and the HMAC
MAX_ANSWER = 16 * 1024  # characters of the JSON a browser posts back: real ones are 1-3 KB
MAX_CREDENTIAL_ID = 1023  # bytes (WebAuthn's own limit)
TRANSPORTS = {transport.value for transport in AuthenticatorTransport}

# What a person reads when an answer is refused (Refused.message), translated where it is shown.
EXPIRED = N_("This passkey request has expired or was already used. Please try again.")
NOT_RECOGNISED = N_("That passkey or security key isn't set up for this account. Try another one, or use another way.")
SIGN_IN_NOT_RECOGNISED = N_("We don't recognise that passkey. Log in with your username and password instead.")
NOT_VERIFIED = N_("Your passkey or security key could not be checked. Please try again.")
NO_USER_VERIFICATION = N_("Your passkey didn't confirm it's you with your fingerprint, face, PIN or screen lock. "
                          "Please try again.")
COUNTER_WENT_BACK = N_("That passkey or security key was refused: it may have been copied. Use another way to log "
                       "in, and remove it from your profile if you don't recognise this.")
ALREADY_ADDED = N_("That passkey or security key is already set up.")
NOT_SAVED = N_("Your passkey could not be added: your browser's answer could not be checked. Please try again.")


class Malformed(ValueError):
    """What the browser posted is not a WebAuthn answer: a form error (400), nothing checked."""


class Refused(Exception):
    """A well-formed answer that is refused. `reason` says why (for the log and the tests);
    `message` is what the person reads (in English: translate it where it is shown); `guess`
    whether it counts as a wrong answer."""

    def __init__(self, reason, message, guess=True):
        super().__init__(reason)
        self.reason, self.message, self.guess = reason, message, guess


# -- The relying party ------------------------------------------------------------------------

def rp_id():
    """WEBAUTHN_RP_ID, or in development the host the request came to (never with its port)."""
    return current_app.config.get("WEBAUTHN_RP_ID") or urlsplit("//" + request.host).hostname or ""


def origins():
    """WEBAUTHN_ORIGINS, or in development the request's own origin."""
    listed = current_app.config.get("WEBAUTHN_ORIGINS")
    if listed:
        return [origin.rstrip("/").lower() for origin in listed]
    return [f"{request.scheme}://{request.host}".lower()]


# -- Challenges -------------------------------------------------------------------------------

def _session_secret():
    generate_csrf()  # makes the session's CSRF secret if it has none yet
    return session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), "")


def _mac(ceremony, subject, body):
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"webauthn challenge, v1", hashlib.sha256).digest()
    message = b"\0".join([ceremony.encode(), str(subject).encode(), _session_secret().encode(), body])
    return hmac.new(key, message, hashlib.sha256).digest()


def new_challenge(ceremony, subject=""):
    body = VERSION + int(time.time()).to_bytes(8, "big") + secrets.token_bytes(16)
    return body + _mac(ceremony, subject, body)


def use_challenge(challenge, ceremony, subject=""):
    """Accepts `challenge` for this ceremony, subject and session, within its time, once."""
    if len(challenge) != CHALLENGE_LENGTH or challenge[:1] != VERSION:
        raise Refused("challenge", EXPIRED, guess=False)
    body, mac = challenge[:BODY_LENGTH], challenge[BODY_LENGTH:]
    if not hmac.compare_digest(mac, _mac(ceremony, subject, body)):
        raise Refused("challenge", EXPIRED, guess=False)  # another session's, ceremony's or user's
    age = time.time() - int.from_bytes(body[1:9], "big")
    if not -5 <= age <= CHALLENGE_SECONDS:
        raise Refused("expired", EXPIRED, guess=False)
    try:
        take([(f"1/{CHALLENGE_SECONDS} seconds", ("webauthn-challenge", hashlib.sha256(challenge).hexdigest()[:40]))],
             lambda wait: "")
    except Throttled:
        raise Refused("replayed", EXPIRED, guess=False) from None


# -- What the browser posts back ----------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


def from_b64url(value, what):
    if not isinstance(value, str) or not B64URL.match(value):
        raise Malformed(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise Malformed(f"{what} is not base64url") from None


@dataclass(frozen=True)
class Answer:
    """A browser's answer, read far enough to know what to check it against."""

    data: dict  # the PublicKeyCredential as JSON, for py_webauthn
    credential_id: bytes
    challenge: bytes
    user_handle: Optional[bytes]  # in an assertion, when the authenticator sent one
    transports: tuple  # in a registration, what the browser says the authenticator speaks


def parse_answer(text, ceremony_type):
    """The answer in `text` (JSON), for "webauthn.create" or "webauthn.get"; raises Malformed."""
    if not isinstance(text, str) or not text:
        raise Malformed("no answer")
    if len(text) > MAX_ANSWER:
        raise Malformed("too long")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        raise Malformed("not a credential")
    if data.get("type") != "public-key" or not isinstance(data.get("id"), str):
        raise Malformed("not a public-key credential")
    credential_id = from_b64url(data.get("rawId"), "rawId")
    if not 1 <= len(credential_id) <= MAX_CREDENTIAL_ID or b64url(credential_id) != data["id"].rstrip("="):
        raise Malformed("bad credential id")
    response = data["response"]
    needed = ("attestationObject",) if ceremony_type == "webauthn.create" else ("authenticatorData", "signature")
    for name in needed:
        if not from_b64url(response.get(name), name):
            raise Malformed(f"no {name}")
    try:
        client_data = json.loads(from_b64url(response.get("clientDataJSON"), "clientDataJSON"))
    except (ValueError, RecursionError):
        raise Malformed("clientDataJSON is not JSON") from None
    if not isinstance(client_data, dict) or client_data.get("type") != ceremony_type:
        raise Malformed("clientDataJSON is not for this ceremony")
    challenge = from_b64url(client_data.get("challenge"), "challenge")
    if not isinstance(client_data.get("origin"), str):
        raise Malformed("clientDataJSON has no origin")
    handle = response.get("userHandle")
    user_handle = from_b64url(handle, "userHandle") if handle not in (None, "") else None
    transports = response.get("transports") if ceremony_type == "webauthn.create" else None
    transports = tuple(t for t in transports if t in TRANSPORTS)[:8] if isinstance(transports, list) else ()
    return Answer(data, credential_id, challenge, user_handle, transports)


# -- Credentials ------------------------------------------------------------------------------

def lookup_of(credential_id):
    """The method row's `lookup`: stable, unique among everyone's credentials, reveals nothing."""
    return hashlib.sha256(b"webauthn:" + credential_id).hexdigest()


def credentials_of(user):
    query = (sa.select(WebAuthnCredential).join(TwoFactorMethod, TwoFactorMethod.id == WebAuthnCredential.method_id)
             .where(TwoFactorMethod.user_id == user.id, TwoFactorMethod.kind == WEBAUTHN)
             .order_by(TwoFactorMethod.id))
    return db.session.scalars(query).all()


def descriptor(credential):
    transports = [AuthenticatorTransport(t) for t in credential.transports.split(",") if t in TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential.credential_id, transports=transports or None)


def user_handle(user):
    """The user's WebAuthn handle, made (64 random bytes, in one conditional UPDATE) if they have none."""
    if user.webauthn_handle is None:
        db.session.execute(sa.update(User).where(User.id == user.id, User.webauthn_handle.is_(None))
                           .values(webauthn_handle=secrets.token_bytes(64)).execution_options(synchronize_session=False))
        db.session.commit()
        handle = db.session.scalar(sa.select(User.webauthn_handle).where(User.id == user.id))
        so.attributes.set_committed_value(user, "webauthn_handle", handle)
    return user.webauthn_handle


# -- Options --------------------------------------------------------------------------------------

def _timeout():
    return CHALLENGE_SECONDS * 1000


def registration_options(user):
    """What navigator.credentials.create() gets: a discoverable credential preferred, user
    verification preferred, the person's credentials excluded."""
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=current_app.config["APP_NAME"], user_name=user.username,
        user_id=user_handle(user), user_display_name=user.username, challenge=new_challenge(REGISTER, user.id),
        timeout=_timeout(), attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[descriptor(credential) for credential in credentials_of(user)],
    )
    return options_to_json(options)


def authentication_options(ceremony, user=None, verify_user=False):
    """What navigator.credentials.get() gets. Without a user (signing in with a passkey) no
    credential is listed: the browser offers the site's passkeys itself, and nothing is said
    about any account before one proves itself."""
    options = generate_authentication_options(
        rp_id=rp_id(), challenge=new_challenge(ceremony, user.id if user is not None else ""), timeout=_timeout(),
        allow_credentials=[descriptor(credential) for credential in credentials_of(user)] if user is not None else [],
        user_verification=(UserVerificationRequirement.REQUIRED if verify_user
                           else UserVerificationRequirement.DISCOURAGED),
    )
    return options_to_json(options)


# -- Checking answers -----------------------------------------------------------------------------

def new_method(user, answer):
    """The method (and its credential row) for a registration answer; raises Refused."""
    use_challenge(answer.challenge, REGISTER, user.id)
    try:
        verified = verify_registration_response(
            credential=answer.data, expected_challenge=answer.challenge, expected_rp_id=rp_id(),
            expected_origin=origins(), require_user_verification=False)
    except Exception as error:  # py_webauthn's own, or what its CBOR and key parsers raise
        log.info("WebAuthn registration refused: %s", error)
        raise Refused("not verified", NOT_SAVED) from None
    if verified.credential_id != answer.credential_id:
        raise Refused("not verified", NOT_SAVED)
    lookup = lookup_of(verified.credential_id)
    if db.session.scalar(sa.select(sa.exists().where(TwoFactorMethod.lookup == lookup))):
        raise Refused("already added", ALREADY_ADDED)
    method = TwoFactorMethod(kind=WEBAUTHN, name=name_for(verified.aaguid), counter=verified.sign_count,
                             lookup=lookup)
    credential = WebAuthnCredential(
        credential_id=verified.credential_id, public_key=verified.credential_public_key,
        transports=",".join(answer.transports), aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE, backed_up=verified.credential_backed_up)
    return method, credential


def check_assertion(answer, ceremony, user=None, verify_user=False):
    """(owner, method) for an assertion that proves it's them; raises Refused.

    With `user` (the second step, confirming it's you) the credential must be theirs. Without (a
    passkey sign-in) the credential names its owner: its user handle must be the one of the user
    it was registered to."""
    use_challenge(answer.challenge, ceremony, user.id if user is not None else "")
    not_recognised = NOT_RECOGNISED if user is not None else SIGN_IN_NOT_RECOGNISED
    row = db.session.execute(
        sa.select(TwoFactorMethod, WebAuthnCredential)
        .join(WebAuthnCredential, WebAuthnCredential.method_id == TwoFactorMethod.id)
        .where(TwoFactorMethod.lookup == lookup_of(answer.credential_id), TwoFactorMethod.kind == WEBAUTHN)
    ).first()
    if row is None:
        raise Refused("unknown credential", not_recognised)
    method, credential = row
    owner = user
    if owner is None:
        if answer.user_handle is None:
            raise Refused("no user handle", not_recognised)
        owner = db.session.scalar(sa.select(User).where(User.webauthn_handle == answer.user_handle))
        if owner is None:
            raise Refused("unknown user handle", not_recognised)
    if method.user_id != owner.id:
        raise Refused("another user's credential", not_recognised)
    if answer.user_handle is not None and answer.user_handle != owner.webauthn_handle:
        raise Refused("user handle of another user", not_recognised)
    try:
        verified = verify_authentication_response(
            credential=answer.data, expected_challenge=answer.challenge, expected_rp_id=rp_id(),
            expected_origin=origins(), credential_public_key=credential.public_key,
            credential_current_sign_count=0, require_user_verification=verify_user)
    except Exception as error:  # py_webauthn's own, or what its parsers raise
        log.info("WebAuthn assertion refused: %s", error)
        no_uv = verify_user and "verif" in str(error).lower() and "user" in str(error).lower()
        raise Refused("no user verification" if no_uv else "not verified",
                      NO_USER_VERIFICATION if no_uv else NOT_VERIFIED) from None
    claim_count(owner, method, credential, verified.new_sign_count)
    if verified.credential_backed_up != credential.backed_up:
        db.session.execute(sa.update(WebAuthnCredential).where(WebAuthnCredential.method_id == method.id)
                           .values(backed_up=verified.credential_backed_up)
                           .execution_options(synchronize_session=False))
    return owner, method


def claim_count(owner, method, credential, count):
    """Takes `count` as the credential's signature count, in one conditional UPDATE. A count that
    does not grow (for a credential that counts: synced passkeys always send 0) means a copy of the
    key may be in use: a security event, and the answer is refused."""
    stored = method.counter or 0
    if (count or stored) and count <= stored:
        from app.methods import english
        from app.methods.webauthn import describe

        events.record(events.PASSKEY_COUNT_WENT_BACK, owner,
                      detail=f"{describe(method, english)}: signature count {count}, after {stored}")
        raise Refused("count went back", COUNTER_WENT_BACK)
    grows = TwoFactorMethod.counter < count if count else TwoFactorMethod.counter == 0
    result = db.session.execute(
        sa.update(TwoFactorMethod)
        .where(TwoFactorMethod.id == method.id, sa.or_(TwoFactorMethod.counter.is_(None), grows))
        .values(counter=count, last_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # another answer of the same key took this count a moment ago
        raise Refused("count taken", NOT_VERIFIED)
    so.attributes.set_committed_value(method, "counter", count)
