"""Security events: a row the person can see on the profile, and a structured log line."""
import json
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import has_request_context

from app.extensions import db
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
# "two-factor authentication (2FA)". The detail, when there is one, follows in brackets.
DESCRIPTIONS = {
    SIGNED_UP: "Account created",
    LOGIN_SUCCEEDED: "Logged in",
    LOGIN_FAILED: "Wrong password entered",
    PASSWORD_VERIFIED: "Password entered, then asked for a code",
    CODE_SENT: "Code sent",
    CODE_FAILED: "Wrong code entered",
    CODE_STEP_LOCKED: "Too many wrong codes: logging in was paused for a while",
    TWO_FACTOR_ENABLED: "Two-factor authentication (2FA) turned on",
    TWO_FACTOR_DISABLED: "Two-factor authentication (2FA) turned off",
    REAUTHENTICATED: "Confirmed it's you before a change to your security settings",
    LOGGED_OUT: "Logged out",
    SESSIONS_REVOKED: "Logged out on your other browsers",
    SESSION_ENDED: "Logged out on one of your other browsers",
    RECOVERY_CODE_USED: "Recovery code used",
    RECOVERY_CODE_FAILED: "Wrong recovery code entered",
    RECOVERY_CODES_GENERATED: "New recovery codes created; the old ones stopped working",
    PHONE_CHANGED: "Phone number changed",
    METHOD_ADDED: "2FA method added",
    METHOD_REMOVED: "2FA method removed",
    PASSWORD_CHANGED: "Password changed",
    DEVICE_TRUSTED: "Browser remembered: it won't be asked for a code",
    DEVICE_FORGOTTEN: "Remembered browser forgotten",
    TWO_FACTOR_RESET: "Two-factor authentication (2FA) turned off by an administrator",
    NEW_NETWORK: "Signed in from a new network",
    EMAIL_ADDED: "Email address confirmed",
    EMAIL_CHANGED: "Email address changed",
    EMAIL_REMOVED: "Email address removed",
    PASSWORD_RESET_REQUESTED: "Link to reset your password sent by email",
    PASSWORD_RESET: "Password reset with a link sent by email",
    PASSKEY_COUNT_WENT_BACK: "A passkey or security key was refused: its signature count went back, so it may have been copied",
}


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
