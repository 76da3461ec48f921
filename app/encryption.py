"""Secrets at rest (such as authenticator-app keys), encrypted with the ENCRYPTION_KEYS.

The keys are Fernet keys (AES-128-CBC with HMAC-SHA256): the first encrypts, every one decrypts.
To change keys, put a new one first, re-encrypt the stored secrets (`rotate_all`), then drop the
old one. A token never carries the key itself; a message here never carries a key or a secret.
"""
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

EXTENSION_NAME = "encryption"


class Undecryptable(Exception):
    """The token is damaged, or none of the ENCRYPTION_KEYS made it."""


@dataclass(frozen=True)
class Keyring:
    all_keys: MultiFernet
    first_key: Fernet


def is_fernet_key(key):
    """Whether `key` is a Fernet key: 32 bytes in url-safe base64."""
    try:
        Fernet(key)
    except (TypeError, ValueError):
        return False
    return True


def keyring_for(keys):
    """The keyring of these keys, the first encrypting; a bad key is named by its position only."""
    if isinstance(keys, str) or not keys:
        raise ValueError("ENCRYPTION_KEYS must be a list of one or more Fernet keys.")
    for position, key in enumerate(keys, start=1):
        if not is_fernet_key(key):
            raise ValueError(f"ENCRYPTION_KEYS: key {position} of {len(keys)} is not a Fernet key.")
    fernets = [Fernet(key) for key in keys]
    return Keyring(all_keys=MultiFernet(fernets), first_key=fernets[0])


def keyring():
    """The current app's keyring, built on first use from its ENCRYPTION_KEYS."""
    extensions = current_app.extensions
    if EXTENSION_NAME not in extensions:
        extensions[EXTENSION_NAME] = keyring_for(current_app.config["ENCRYPTION_KEYS"])
    return extensions[EXTENSION_NAME]


def encrypt(text: str) -> str:
    """`text` encrypted under the first key, as an ASCII token."""
    return keyring().all_keys.encrypt(text.encode()).decode("ascii")


def _token_bytes(token):
    # Fernet lets a non-ASCII str through to base64, which raises ValueError instead of InvalidToken.
    try:
        return token.encode("ascii")
    except (AttributeError, UnicodeEncodeError):
        raise Undecryptable("not a Fernet token") from None


def decrypt(token: str) -> str:
    """The text of a token made by `encrypt` under any of the keys; Undecryptable otherwise."""
    try:
        return keyring().all_keys.decrypt(_token_bytes(token)).decode()
    except InvalidToken:
        raise Undecryptable("no ENCRYPTION_KEYS key opens this token, or it is damaged") from None


def rotate(token: str) -> str:
    """The token's text re-encrypted under the first key (its original timestamp kept)."""
    try:
        return keyring().all_keys.rotate(_token_bytes(token)).decode("ascii")
    except InvalidToken:
        raise Undecryptable("no ENCRYPTION_KEYS key opens this token, or it is damaged") from None


def under_first_key(token: str) -> bool:
    """Whether the first key alone opens the token: rotating it would change nothing."""
    try:
        keyring().first_key.decrypt(_token_bytes(token))
    except (InvalidToken, Undecryptable):
        return False
    return True


def rotate_all(rows, attribute):
    """Re-encrypts `attribute` (a token or None) of each row under the first key; returns how many changed."""
    # Tokens the first key already opens are left alone, so a second run changes nothing. A token
    # no key opens stops the run before the caller commits, rather than being skipped in silence.
    changed = 0
    for position, row in enumerate(rows):
        token = getattr(row, attribute)
        if token is None or under_first_key(token):
            continue
        try:
            setattr(row, attribute, rotate(token))
        except Undecryptable:
            raise Undecryptable(f"row {position}: no ENCRYPTION_KEYS key opens its {attribute}") from None
        changed += 1
    return changed
