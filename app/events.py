"""Security events: a row the person can see on the profile, and a structured log line."""
import json
import re
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import has_request_context

from app import devices
from app.extensions import db
from app.i18n import N_, _, ngettext
from app.models import SecurityEvent, utcnow
from app.security import client_ip, short_user_agent

log = logging.getLogger("app.security_events")

SIGNED_UP = "signed_up"
LOGIN_SUCCEEDED = "login_succeeded"
LOGIN_FAILED = "login_failed"
PASSWORD_VERIFIED = "password_verified"
CODE_SENT = "code_sent"
CODE_FAILED = "code_failed"
CODE_STEP_LOCKED = "code_step_locked"
TWO_FACTOR_ENABLED = "2fa_enabled"
TWO_FACTOR_DISABLED = "2fa_disabled"
REAUTHENTICATED = "reauthenticated"
LOGGED_OUT = "logged_out"
SESSIONS_REVOKED = "sessions_revoked"
SESSION_ENDED = "session_ended"
RECOVERY_CODE_USED = "recovery_code_used"
RECOVERY_CODE_FAILED = "recovery_code_failed"
RECOVERY_CODES_GENERATED = "recovery_codes_generated"
PHONE_CHANGED = "phone_changed"
METHOD_ADDED = "method_added"
METHOD_REMOVED = "method_removed"
PASSWORD_CHANGED = "password_changed"
DEVICE_TRUSTED = "device_trusted"
DEVICE_FORGOTTEN = "device_forgotten"
TWO_FACTOR_RESET = "2fa_reset_by_admin"
ACCOUNT_DELETED = "account_deleted"
NEW_NETWORK = "new_network"
EMAIL_ADDED = "email_added"
EMAIL_CHANGED = "email_changed"
EMAIL_REMOVED = "email_removed"
PASSWORD_RESET_REQUESTED = "password_reset_requested"
PASSWORD_RESET = "password_reset"
PASSKEY_COUNT_WENT_BACK = "passkey_count_went_back"

# What the profile shows for each kind, in the words used everywhere else: "code", "browser",
# "two-factor authentication (2FA)". The detail, when there is one, follows in brackets. Kept in
# English here (the kinds stored are not words); `in_words` gives them in the page's language.
DESCRIPTIONS = {
    SIGNED_UP: N_("Account created"),
    LOGIN_SUCCEEDED: N_("Logged in"),
    LOGIN_FAILED: N_("Wrong password entered"),
    PASSWORD_VERIFIED: N_("Password entered, then asked for a code"),
    CODE_SENT: N_("Code sent"),
    CODE_FAILED: N_("Wrong code entered"),
    CODE_STEP_LOCKED: N_("Too many wrong codes: logging in was paused for a while"),
    TWO_FACTOR_ENABLED: N_("Two-factor authentication (2FA) turned on"),
    TWO_FACTOR_DISABLED: N_("Two-factor authentication (2FA) turned off"),
    REAUTHENTICATED: N_("Confirmed it's you before a change to your security settings"),
    LOGGED_OUT: N_("Logged out"),
    SESSIONS_REVOKED: N_("Logged out on your other browsers"),
    SESSION_ENDED: N_("Logged out on one of your other browsers"),
    RECOVERY_CODE_USED: N_("Recovery code used"),
    RECOVERY_CODE_FAILED: N_("Wrong recovery code entered"),
    RECOVERY_CODES_GENERATED: N_("New recovery codes created; the old ones stopped working"),
    PHONE_CHANGED: N_("Phone number changed"),
    METHOD_ADDED: N_("2FA method added"),
    METHOD_REMOVED: N_("2FA method removed"),
    PASSWORD_CHANGED: N_("Password changed"),
    DEVICE_TRUSTED: N_("Browser remembered: it won't be asked for a code"),
    DEVICE_FORGOTTEN: N_("Remembered browser forgotten"),
    TWO_FACTOR_RESET: N_("Two-factor authentication (2FA) turned off by an administrator"),
    NEW_NETWORK: N_("Signed in from a new network"),
    EMAIL_ADDED: N_("Email address confirmed"),
    EMAIL_CHANGED: N_("Email address changed"),
    EMAIL_REMOVED: N_("Email address removed"),
    PASSWORD_RESET_REQUESTED: N_("Link to reset your password sent by email"),
    PASSWORD_RESET: N_("Password reset with a link sent by email"),
    PASSKEY_COUNT_WENT_BACK: N_("A passkey or security key was refused: its signature count went back, so it may "
                                "have been copied"),
}

# The details stored in English that hold no name, number or address: shown in the page's
# language. Any other detail is shown as it was stored.
FIXED_DETAILS = frozenset({
    N_("all of them"),
    N_("by an operator"),
    N_("created by an operator"),
    N_("with a code"),
    N_("with a passkey"),
    N_("with a passkey or security key"),
    N_("with a recovery code"),
    N_("while confirming it's you"),
    N_("on a remembered browser"),
})


def in_words(kind):
    """What the profile shows for an event of this kind, in the page's language."""
    words = DESCRIPTIONS.get(kind)
    return _(words) if words else kind


# Details with a name, a number or an address in them, in the shapes they are stored in (English,
# as app/ writes them); each is shown as a whole sentence in the page's language. A part that is
# itself a detail (the method an operator removed) is put in words too; a browser or a network is
# put in words as the sessions page does (devices.in_words).
DETAIL_SHAPES = [(re.compile(pattern), words) for pattern, words in (  # the first that matches
    # A way to log in that an operator removed, or whose passkey was refused (a method within)
    (r"(?P<method>.+), by an operator", N_("%(method)s, by an operator")),
    (r"(?P<method>.+): signature count (?P<count>\d+), after (?P<stored>\d+)",
     N_("%(method)s: signature count %(count)s, after %(stored)s")),
    # A way to log in (methods.describe with methods.english)
    (r"Phone (?P<phone>\+.*)", N_("Phone %(phone)s")),
    (r"Authenticator app '(?P<name>.*)'", N_("Authenticator app '%(name)s'")),
    (r"Passkey '(?P<name>.*)'", N_("Passkey '%(name)s'")),
    # A code sent (codes.send_code, codes.EVENT_CHANNEL_WORDS)
    (r"by text to (?P<phone>\+.*)", N_("by text to %(phone)s")),
    (r"by voice call to (?P<phone>\+.*)", N_("by voice call to %(phone)s")),
    (r"by WhatsApp to (?P<phone>\+.*)", N_("by WhatsApp to %(phone)s")),
    # An email address added, changed, or sent a reset link
    (r"to (?P<address>\S+@\S+)", N_("to %(address)s")),
    # A recovery code used (auth/recovery_step.used_event)
    # Translators: how many recovery codes are left, after one was used.
    (r"(?P<num>\d+) left", lambda num: ngettext("%(num)d left", "%(num)d left", int(num))),
    # Translators: how many recovery codes are left, after one was used to confirm it's you.
    (r"to confirm it's you, (?P<num>\d+) left",
     lambda num: ngettext("to confirm it's you, %(num)d left", "to confirm it's you, %(num)d left", int(num))),
    (r"with a passkey \('(?P<name>.*)'\), without a password", N_("with a passkey ('%(name)s'), without a password")),
    # A session ended from the sessions page: its browser and network (profile/sessions.py).
    # Translators: a browser and the network it was last used from, as in "Chrome on Windows, 203.0.113.7".
    (rf"(?P<browser>[^,]+ on [^,]+|{devices.UNKNOWN_BROWSER}|Unknown), "
     rf"(?P<network>[0-9A-Fa-f.:/]+|{devices.UNKNOWN_NETWORK})",
     N_("%(browser)s, %(network)s")),
)]


def detail_in_words(detail):
    """An event's detail, stored in English, in the page's language; a detail of no known shape
    is shown as stored."""
    if detail in FIXED_DETAILS:
        return _(detail)
    for pattern, words in DETAIL_SHAPES:
        found = pattern.fullmatch(detail)
        if found:
            return _detail_words(words, found.groupdict())
    return detail


def _detail_words(words, parts):
    if "method" in parts:
        parts["method"] = detail_in_words(parts["method"])
    if "browser" in parts:
        parts["browser"], parts["network"] = devices.in_words(parts["browser"]), devices.in_words(parts["network"])
    return words(**parts) if callable(words) else _(words, **parts)


def record(kind, user=None, detail="", commit=True, store=True):
    """Stores and logs one event. `detail` must never hold a code or a full phone number."""
    record_all([(kind, detail)], user, commit=commit, store=store)


def record_all(kinds_and_details, user=None, commit=True, store=True):
    """Stores several events of one moment in one statement, and logs each."""
    in_request = has_request_context()
    rows = [
        {
            "user_id": user.id if user is not None else None,
            "kind": kind,
            "detail": detail[:200],
            "ip": client_ip()[:45] if in_request else "",
            "user_agent": short_user_agent()[:120] if in_request else "command line",
            "created_at": utcnow(),
        }
        for kind, detail in kinds_and_details
    ]
    if user is not None:
        # A notice by email for the kinds that call for one, in the same transaction.
        from app.mail.security_notices import queue_notice

        queue_notice(user, rows)
    if store:
        db.session.execute(sa.insert(SecurityEvent), rows)
        if commit:
            db.session.commit()
    for row in rows:
        log.info(json.dumps({"event": row["kind"], **{key: row[key] for key in ("user_id", "ip", "user_agent", "detail")}}))


def prune(retention_days):
    """Deletes events older than the retention (SECURITY_EVENT_RETENTION_DAYS)."""
    cutoff = utcnow() - timedelta(days=retention_days)
    db.session.execute(sa.delete(SecurityEvent).where(SecurityEvent.created_at < cutoff))
