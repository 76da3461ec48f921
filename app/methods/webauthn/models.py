"""What a WebAuthn credential (a passkey or a security key) keeps beside its method row.

The method row (TwoFactorMethod, kind "webauthn") holds what every kind has: the name, when it was
added and last used, `counter` (the signature count, which only grows) and `lookup` (the SHA-256
of the credential id, unique among everyone's). This row holds the rest, in the clear: none of it
is a secret (the private key never leaves the authenticator)."""
import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db


class WebAuthnCredential(db.Model):
    __tablename__ = "webauthn_credentials"

    method_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("two_factor_methods.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    credential_id: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary(1023))
    public_key: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary(2048))  # COSE_Key, as registered
    transports: so.Mapped[str] = so.mapped_column(sa.String(200), default="")  # "internal,hybrid"
    aaguid: so.Mapped[str] = so.mapped_column(sa.String(36), default="")
    # Backup eligible: the credential may be synced (a passkey in a password manager); backed up:
    # it is now. A security key is neither.
    backup_eligible: so.Mapped[bool] = so.mapped_column(default=False)
    backed_up: so.Mapped[bool] = so.mapped_column(default=False)
