"""Recovery codes: ten single-use codes for when the phone is lost.

Each code carries 40 random bits. The set shares one random salt, so checking a code costs one
scrypt and one indexed lookup; a leaked table still costs an attacker a scrypt per guess.
"""
import hashlib
import json
import secrets
import time

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import after_this_request, current_app, request, session

from app.extensions import db
from app.models import RecoveryCode, utcnow

COUNT = 10
ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, no 0/o or 1/l to misread
LENGTH = 8  # 8 symbols of 5 bits each: 40 bits
LOW_WARNING = 3


def _hash(code, salt):
    cost = current_app.config["RECOVERY_CODE_SCRYPT_N"]
    digest = hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), n=cost, r=8, p=1, dklen=32)
    return digest.hex()


def normalize(code):
    return "".join(ch for ch in (code or "").lower() if ch not in " -")


def display(code):
    return f"{code[:4]}-{code[4:]}"


def generate(user, first=False):
    """Voids the user's old codes and returns ten new ones, formatted; only hashes are stored.
    The `first` set, when 2FA is turned on, has nothing to void: turning it off deleted them all."""
    if not first:
        db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    salt = secrets.token_hex(16)
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]
    rows = [{"user_id": user.id, "code_hash": _hash(code, salt), "salt": salt, "created_at": utcnow()} for code in codes]
    db.session.execute(sa.insert(RecoveryCode), rows)  # one executemany, not ten INSERTs
    return [display(code) for code in codes]


def remaining(user):
    query = sa.select(sa.func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    return db.session.scalar(query)


def use(user, code):
    """If `code` is one of the user's unused codes, uses it, exactly once, and returns how many
    are left; otherwise None."""
    code = normalize(code)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    # The set's salt and its unused count in one statement.
    salt, unused = db.session.execute(
        sa.select(sa.func.min(RecoveryCode.salt), sa.func.count().filter(RecoveryCode.used_at.is_(None)))
        .where(RecoveryCode.user_id == user.id)
    ).one()
    if salt is None:
        return None
    # One conditional UPDATE: of two simultaneous uses of a code, only one changes a row.
    result = db.session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash(code, salt),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    db.session.commit()
    return max(0, unused - 1) if result.rowcount == 1 else None


# New codes are shown, and downloadable, only in the session that created them and only within the
# re-authentication window; after that, seeing codes again means creating new ones (and confirming
# it's you). Both pages send Cache-Control: no-store. The session holds the codes encrypted under a
# key that only this browser's cookie holds (for the same window): a copy of the session store,
# or of the session cookie alone, shows nothing. Codes made while turning 2FA on say so, so that
# saving them finishes turning it on.
SHOWN_CODES = "new_recovery_codes"
SHOWN_AT = "new_recovery_codes_at"
SHOWN_FOR_ENROLMENT = "new_recovery_codes_enrolling"


def _window():
    return current_app.config["SUDO_MINUTES"] * 60


def _key_cookie():
    return current_app.config["RECOVERY_CODES_KEY_COOKIE"]


def show_once(codes, enrolling=False):
    key = Fernet.generate_key()
    session[SHOWN_CODES] = Fernet(key).encrypt(json.dumps(codes).encode()).decode()
    session[SHOWN_AT] = time.time()
    session[SHOWN_FOR_ENROLMENT] = enrolling

    @after_this_request
    def give_the_browser_its_key(response):
        response.set_cookie(_key_cookie(), key.decode(), max_age=_window(), path="/", httponly=True,
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False), samesite="Strict")
        return response


def shown_codes():
    """The codes just created, or None once saved, once the window has passed, or in a browser
    without their key."""
    token, at = session.get(SHOWN_CODES), session.get(SHOWN_AT)
    if not token:
        return None
    if not (isinstance(at, (int, float)) and 0 <= time.time() - at <= _window()):
        forget_shown_codes()
        return None
    try:
        return json.loads(Fernet(request.cookies.get(_key_cookie(), "")).decrypt(token.encode()))
    except (InvalidToken, ValueError, TypeError):
        return None  # (another browser holding a copy of the session: the owner's still shows them)


def shown_until():
    """When the codes shown stop being shown (seconds since the epoch), or None."""
    at = session.get(SHOWN_AT)
    return at + _window() if shown_codes() and isinstance(at, (int, float)) else None


def shown_for_enrolment():
    return bool(session.get(SHOWN_FOR_ENROLMENT))


def forget_shown_codes():
    for key in (SHOWN_CODES, SHOWN_AT, SHOWN_FOR_ENROLMENT):
        session.pop(key, None)

    @after_this_request
    def drop_the_key(response):
        response.delete_cookie(_key_cookie(), path="/", httponly=True,
                               secure=current_app.config.get("SESSION_COOKIE_SECURE", False), samesite="Strict")
        return response
