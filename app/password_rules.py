"""What a new password must not be, besides 8 to 128 characters (NIST SP 800-63B, 3.1.1.2): one of
the passwords attackers try first, one of them with digits or symbols added at an end, repeated or
sequential characters, or one holding the username. Never composition rules (a digit, a capital
letter, a symbol): they make passwords harder to remember, not to guess.

`password_problem(password, username)` says in a sentence why a password is refused, or None: in
English, marked for the catalogs; the sign-up, password-change and reset forms ask it through
app.forms.NotEasilyGuessed, which shows it in the page's language; `flask users create` directly.

The list is app/data/common-passwords.txt: 39,761 common passwords of 4 characters or more (16,285
of 8 or more), from the lists Django and zxcvbn ship (app/data/common-passwords-NOTICE.txt says how
it was made); the shorter ones count when digits or symbols were added to them.
"""
import functools
import re
from pathlib import Path

from app.i18n import N_

LIST_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt"

COMMON = N_("This password is too common: it is on lists attackers try first. "
            "Choose a longer phrase that isn't a well-known password.")
COMMON_WITH_ADDITIONS = N_("This password is a common one with digits or symbols added, which attackers try "
                           "first. Choose a longer phrase that isn't a well-known password.")
PATTERN = N_("This password is too easy to guess: repeated or sequential characters (like aaaa, abcabc or "
             "12345678) are tried first. Choose a longer phrase.")
USERNAME = N_("Your password can't contain your username: it is the first thing attackers try. "
              "Choose a longer phrase.")

ENDS = re.compile(r"^[\W\d_]+|[\W\d_]+$")  # digits, symbols and spaces at either end
REPEATED = re.compile(r"(.{1,4}?)\1+", re.DOTALL)  # aaaaaaaa, abababab, abcabcabc, 12341234


@functools.cache
def _common_passwords():
    """The list as one string with a line break before and after each password: 325 KB searched
    in C, where a set of the same passwords would hold ten times the memory in every worker."""
    return "\n" + LIST_FILE.read_text(encoding="ascii")


def _listed(candidate):
    return bool(candidate) and "\n" not in candidate and f"\n{candidate}\n" in _common_passwords()


def is_common(password):
    """On the list, whatever the case and the spaces around it."""
    return _listed(password.strip().lower())


def is_common_with_additions(password):
    """A listed password with only digits, symbols or spaces added before or after it (`password2024!`)."""
    return _listed(ENDS.sub("", password.strip().lower()))


def is_pattern(password):
    """One to four characters repeated, or a run up or down the alphabet or the digits."""
    text = password.casefold()
    if REPEATED.fullmatch(text):
        return True
    steps = {ord(after) - ord(before) for before, after in zip(text, text[1:])}
    return steps in ({1}, {-1})


def _letters_and_digits(text):
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def holds_username(password, username):
    """The username (3 characters or more) is in the password, whatever the case, with or without
    its dots, dashes and underscores."""
    if not username:
        return False
    name = username.strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        return True
    bare = _letters_and_digits(name)
    return len(bare) >= 3 and bare in _letters_and_digits(password)


def password_problem(password, username=None):
    """Why `password` may not be a new password, in a sentence; None when it may."""
    if is_common(password):
        return COMMON
    if is_common_with_additions(password):
        return COMMON_WITH_ADDITIONS
    if is_pattern(password):
        return PATTERN
    if holds_username(password, username):
        return USERNAME
    return None
