"""Password hashes: Argon2id at the cost the settings give (PASSWORD_ARGON2_MEMORY_KIB,
PASSWORD_ARGON2_TIME_COST, PASSWORD_ARGON2_PARALLELISM).

Accounts made before keep werkzeug's scrypt (or pbkdf2) hashes until their next successful login,
which makes the hash anew (User.check_password). The hash checked for an unknown username is made
here too, at the same cost, so that the answer takes as long either way.
"""
import ctypes
import functools
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from werkzeug.security import check_password_hash

SETTINGS = ("PASSWORD_ARGON2_MEMORY_KIB", "PASSWORD_ARGON2_TIME_COST", "PASSWORD_ARGON2_PARALLELISM")
# Hashes of accounts made before Argon2: werkzeug's "method$salt$hash" strings.
WERKZEUG_METHODS = ("scrypt:", "pbkdf2:")
ARGON2_PREFIX = "$argon2"


def _return_big_blocks_to_the_system():
    """Each check takes PASSWORD_ARGON2_MEMORY_KIB (19 MiB) from malloc and frees it. glibc then
    raises its mmap threshold to that size and keeps later such blocks in its heaps: a worker stays
    19 MiB bigger for each of its threads that ever checked a password (the bench's load run, 8
    threads a worker: 239 MB a worker instead of 88). A fixed threshold keeps blocks of 4 MiB and
    more in mappings of their own, unmapped when freed: the memory is held only while a check runs,
    for about 4 ms more CPU per check (fresh pages: 21 ms instead of 17 at the defaults, measured
    on the bench's machine)."""
    try:
        ctypes.CDLL(None).mallopt(-3, 4 * 1024 * 1024)  # M_MMAP_THRESHOLD
    except (AttributeError, OSError):  # not glibc: its allocator decides
        pass


_return_big_blocks_to_the_system()


def check_settings(config):
    """Refuses to start, in any environment, with a cost Argon2 can't use; stores the three as
    numbers. (Production's floor, the OWASP minimum, is app/settings_check.py's.)"""
    values = {}
    for name, unit in zip(SETTINGS, ("KiB", "passes", "lanes")):
        raw = config[name]
        value = int(raw) if str(raw).strip().isdigit() else None
        if value is None or value < 1:
            raise SystemExit(f"{name} must be a whole number of {unit}, 1 or more, not {raw!r}.")
        values[name] = value
    memory, lanes = values["PASSWORD_ARGON2_MEMORY_KIB"], values["PASSWORD_ARGON2_PARALLELISM"]
    if memory < 8 * lanes:
        raise SystemExit(
            f"PASSWORD_ARGON2_MEMORY_KIB must be at least 8 KiB per lane (PASSWORD_ARGON2_PARALLELISM={lanes}): "
            f"at least {8 * lanes}, not {memory}."
        )
    config.update(values)


# Checks any Argon2 hash at the cost the hash names; needs no settings.
VERIFIER = PasswordHasher()


@functools.cache
def _hasher(memory_kib, time_cost, parallelism):
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                          hash_len=32, salt_len=16, type=Type.ID)


def hasher():
    """The PasswordHasher of the settings' cost."""
    return _hasher(*(int(current_app.config[name]) for name in SETTINGS))


def hash_password(password):
    """An Argon2id hash of `password` at the settings' cost: `$argon2id$v=19$m=19456,t=2,p=1$…`."""
    return hasher().hash(password)


def is_argon2(stored_hash):
    return stored_hash.startswith(ARGON2_PREFIX)


def verify_password(stored_hash, password):
    """Whether `password` matches `stored_hash`: an Argon2 hash (at whatever cost it names), or
    werkzeug's scrypt or pbkdf2 of an account made before. Anything else matches nothing."""
    if is_argon2(stored_hash):
        try:
            return VERIFIER.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored_hash.startswith(WERKZEUG_METHODS):
        return check_password_hash(stored_hash, password)
    return False


def needs_rehash(stored_hash):
    """Whether the hash should be made anew once the password is known: it is not Argon2id, or
    not at the settings' cost (higher or lower)."""
    if not is_argon2(stored_hash):
        return True
    try:
        return hasher().check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def _dummy_hash(memory_kib, time_cost, parallelism):
    return _hasher(memory_kib, time_cost, parallelism).hash(secrets.token_urlsafe(16))


def dummy_password_hash():
    """The hash to check when the username is unknown: Argon2id at the settings' cost, like every
    real one, so both answers cost the same. Made once per cost."""
    return _dummy_hash(*(int(current_app.config[name]) for name in SETTINGS))
