"""Database models: users, their second factors (methods), recovery codes, remembered browsers,
sessions and security events."""
import secrets
import sqlite3
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from app import passwords
from app.extensions import db


def utcnow():
    return datetime.now(timezone.utc)


def new_session_token():
    return secrets.token_urlsafe(32)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite drops the zone, PostgreSQL keeps it."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # Ids are never reused (SQLite would hand a deleted account's id to the next one, and with
    # it that account's limits and anything else keyed by the id); PostgreSQL never reuses them.
    __table_args__ = {"sqlite_autoincrement": True}

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(32))
    username_key: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, index=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    # Flask-Login's alternative id: rotating it ends every other session and remember cookie.
    session_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    # Wrong codes in a row across resends; the code step locks when too many come within an hour.
    code_failures: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    code_failures_since: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    code_locked_until: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # A confirmed address only (app/emails.py): the domain lowercased, so unique compares it so.
    email: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254), unique=True, index=True)
    # The WebAuthn user handle (64 random bytes, made with the first passkey): what a passkey
    # names its account by, never the id or the username (app/methods/webauthn).
    webauthn_handle: so.Mapped[Optional[bytes]] = so.mapped_column(sa.LargeBinary(64), unique=True)
    # The language chosen in the menu while logged in (`es`, `pt-BR`); None: the browser's.
    locale: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))

    events: so.WriteOnlyMapped["SecurityEvent"] = so.relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    recovery_codes: so.WriteOnlyMapped["RecoveryCode"] = so.relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    trusted_devices: so.WriteOnlyMapped["TrustedDevice"] = so.relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )
    methods: so.WriteOnlyMapped["TwoFactorMethod"] = so.relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self):
        return f"<User {self.username}>"

    @staticmethod
    def normalize_username(username):
        return username.strip().casefold()

    @classmethod
    def by_username(cls, username):
        key = cls.normalize_username(username)
        return db.session.scalar(sa.select(cls).where(cls.username_key == key))

    def set_username(self, username):
        self.username = username.strip()
        self.username_key = self.normalize_username(username)

    def set_password(self, password):
        self.password_hash = passwords.hash_password(password)

    def check_password(self, password):
        """Whether `password` is this user's. When it is and the stored hash is werkzeug's scrypt of
        before, or Argon2id at another cost than the settings', the hash is made anew: the caller's
        commit writes it with the rest of its step, in the same UPDATE of the user if it has one."""
        if not passwords.verify_password(self.password_hash, password):
            return False
        if passwords.needs_rehash(self.password_hash):
            self.password_hash = passwords.hash_password(password)
        return True

    @property
    def two_factor_enabled(self):
        """2FA is on while at least one method is."""
        return bool(self.method_count)

    def get_id(self):
        return self.session_token

    def rotate_session_token(self):
        self.session_token = new_session_token()

    def add_method(self, method):
        """A new second factor: other sessions end (the caller commits and records it)."""
        method.user_id = self.id
        db.session.add(method)
        self.rotate_session_token()
        so.attributes.set_committed_value(self, "method_count", (self.method_count or 0) + 1)
        if method.kind == PHONE:
            so.attributes.set_committed_value(self, "phone", method.phone)

    def remove_method(self, method):
        """One method goes (not the last: that is turning 2FA off); other sessions end."""
        self.rotate_session_token()
        db.session.execute(sa.delete(TwoFactorMethod).where(
            TwoFactorMethod.id == method.id, TwoFactorMethod.user_id == self.id))
        so.attributes.set_committed_value(self, "method_count", max(0, (self.method_count or 1) - 1))
        if method.kind == PHONE:
            so.attributes.set_committed_value(self, "phone", None)

    def enable_two_factor(self, phone):
        self.add_method(TwoFactorMethod(kind=PHONE, phone=phone))

    # The token rotates before any DELETE below: the DELETE flushes the user's changes first, all
    # of them in one UPDATE.
    def change_phone(self, phone):
        self.rotate_session_token()
        db.session.execute(
            sa.update(TwoFactorMethod).where(TwoFactorMethod.user_id == self.id, TwoFactorMethod.kind == PHONE)
            .values(phone=phone, created_at=utcnow(), last_used_at=None)
            .execution_options(synchronize_session=False)
        )
        so.attributes.set_committed_value(self, "phone", phone)
        self.forget_devices()

    def change_password(self, password):
        self.set_password(password)
        self.rotate_session_token()
        self.forget_devices()

    def disable_two_factor(self):
        """2FA off: every method, the recovery codes and trusted devices go; other sessions end."""
        self.reset_code_failures()
        self.rotate_session_token()
        db.session.execute(sa.delete(TwoFactorMethod).where(TwoFactorMethod.user_id == self.id))
        db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == self.id))
        self.forget_devices()
        so.attributes.set_committed_value(self, "method_count", 0)
        so.attributes.set_committed_value(self, "phone", None)

    def forget_devices(self):
        db.session.execute(sa.delete(TrustedDevice).where(TrustedDevice.user_id == self.id))

    def code_step_locked(self, now):
        return self.code_locked_until is not None and self.code_locked_until > now

    def reset_code_failures(self):
        self.code_failures = 0
        self.code_failures_since = None
        self.code_locked_until = None

    def record_code_failure(self, now, window, threshold, lock_for):
        """Counts a wrong code in one atomic UPDATE (requests race); returns True when this very
        failure locked the code step."""
        users = type(self)
        stale = sa.or_(users.code_failures_since.is_(None), users.code_failures_since < now - window)
        count = sa.case((stale, 1), else_=users.code_failures + 1)
        locks = count >= threshold
        at = sa.literal(now, UTCDateTime())
        until = now + lock_for
        row = db.session.execute(
            sa.update(users)
            .where(users.id == self.id)
            .values(
                code_failures=sa.case((locks, 0), else_=count),
                code_failures_since=sa.case((locks, sa.null()), (stale, at), else_=users.code_failures_since),
                code_locked_until=sa.case((locks, sa.literal(until, UTCDateTime())), else_=users.code_locked_until),
            )
            .returning(users.code_failures, users.code_failures_since, users.code_locked_until)
            .execution_options(synchronize_session=False)
        ).one()
        for name in ("code_failures", "code_failures_since", "code_locked_until"):
            so.attributes.set_committed_value(self, name, getattr(row, name))
        return row.code_failures == 0  # the count restarts only when this failure locked the step


class SecurityEvent(db.Model):
    __tablename__ = "security_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    detail: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    ip: so.Mapped[str] = so.mapped_column(sa.String(45), default="")
    user_agent: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)

    user: so.Mapped[Optional[User]] = so.relationship(back_populates="events")


class RecoveryCode(db.Model):
    """One single-use recovery code, stored as a salted scrypt hash."""

    __tablename__ = "recovery_codes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(128))
    salt: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())


# How many unused recovery codes a user has, loaded with the user itself (the session store loads
# the user with the session in one statement, so the profile costs no query of its own for this).
User.recovery_codes_left = so.column_property(
    sa.select(sa.func.count(RecoveryCode.id))
    .where(RecoveryCode.user_id == User.id, RecoveryCode.used_at.is_(None))
    .correlate_except(RecoveryCode)
    .scalar_subquery()
)


PHONE, AUTHENTICATOR_APP, WEBAUTHN = "phone", "totp", "webauthn"  # kinds of method


class TwoFactorMethod(db.Model):
    """One second factor of a user: their phone (at most one), an authenticator app (any number,
    each named), later a passkey or security key. The kind's own package (app/methods/<kind>)
    knows what its columns mean; the login and "confirm it's you" steps only ask it.

    `secret` is encrypted (app.encryption); `counter` only ever grows, in one conditional UPDATE:
    an authenticator app's last time step accepted (a code is accepted once), a security key's
    signature count."""

    __tablename__ = "two_factor_methods"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    name: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    phone: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20))
    secret: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    counter: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    # Identifies the method among everyone's: an app's keyed secret hash, a security key's credential.
    lookup: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())


# The number of methods and the phone's number, loaded with the user in the same statement (the
# session store loads the user with the session): a page asks "is 2FA on?" for nothing.
User.method_count = so.column_property(
    sa.select(sa.func.count(TwoFactorMethod.id)).where(TwoFactorMethod.user_id == User.id)
    .correlate_except(TwoFactorMethod).scalar_subquery()
)
User.phone = so.column_property(
    sa.select(TwoFactorMethod.phone).where(TwoFactorMethod.user_id == User.id, TwoFactorMethod.kind == PHONE)
    .correlate_except(TwoFactorMethod).limit(1).scalar_subquery()
)


class TrustedDevice(db.Model):
    """A browser that may skip the code step; the cookie holds a token, this row its hash."""

    __tablename__ = "trusted_devices"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    description: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    ip: so.Mapped[str] = so.mapped_column(sa.String(45), default="")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class ConsoleVerification(db.Model):
    """A development code (its hash only), for the console provider."""

    __tablename__ = "console_verifications"

    phone: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    checks: so.Mapped[int] = so.mapped_column(default=0)
    sends: so.Mapped[int] = so.mapped_column(default=0)


@sa.event.listens_for(sa.engine.Engine, "connect")
def configure_sqlite(dbapi_connection, _record):
    """SQLite ignores ON DELETE CASCADE unless asked (PostgreSQL always honours it). A write-ahead
    log lets readers and one writer work at once and makes a commit cost no fsync of its own."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=5000")
        if dbapi_connection.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class ServerSession(db.Model):
    """A server-side session of someone logged in or half-way through a login.

    `id` is the SHA-256 of the random id in the cookie, so a copy of this table lets no one in.
    `user_id` lets every session of an account be ended at once (deletion, a factor change).
    `last_seen_at` is when it last served a request (to the minute: app.session_store.TOUCH_AFTER),
    for "Where you're logged in"; empty for a session from before it was kept.
    """

    __tablename__ = "sessions"

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), index=True)
    last_seen_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())


class EmailConfirmation(db.Model):
    """An address waiting to be confirmed through the link sent to it: the link's token is stored
    as its SHA-256 only, and the row is deleted as the link is used (so it works once)."""

    __tablename__ = "email_confirmations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(254))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())


# The address waiting for confirmation, and until when, loaded with the user (the profile asks
# for nothing more).
User.pending_email = so.column_property(
    sa.select(EmailConfirmation.address).where(EmailConfirmation.user_id == User.id)
    .correlate_except(EmailConfirmation).order_by(EmailConfirmation.id.desc()).limit(1).scalar_subquery()
)
User.pending_email_until = so.column_property(
    sa.select(EmailConfirmation.expires_at).where(EmailConfirmation.user_id == User.id)
    .correlate_except(EmailConfirmation).order_by(EmailConfirmation.id.desc()).limit(1).scalar_subquery()
)


class QueuedMail(db.Model):
    """The outbox (app/mail/outbox.py): a mail is queued in the transaction of the change that
    causes it and delivered outside the request. `next_attempt_at` is when it may be tried next
    (a claim moves it a lease ahead; NULL once delivered or given up). After delivery the address
    and the bodies are cleared: a reset link does not stay in the database."""

    __tablename__ = "mail_outbox"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    to_address: so.Mapped[str] = so.mapped_column(sa.String(254))
    subject: so.Mapped[str] = so.mapped_column(sa.String(200))
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    html: so.Mapped[str] = so.mapped_column(sa.Text)
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    next_attempt_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime(), index=True)
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    last_error: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
