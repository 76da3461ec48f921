"""passkeys: WebAuthn credentials beside their method rows, and each user's WebAuthn user handle

Revision ID: f7a8b9c0d1e2
Revises: e7a8b9c0d1e2
Create Date: 2026-12-04 10:00:00

A passkey or security key is a method of kind 'webauthn' (two_factor_methods) with one row of
webauthn_credentials (credential id, public key, transports, AAGUID, backup flags). The user
handle (64 random bytes) is made with a user's first passkey. Downgrading drops both, and with
them every WebAuthn method: their owners keep 2FA only if they have another method.
"""
import sqlalchemy as sa
from alembic import op


revision = 'f7a8b9c0d1e2'
down_revision = 'e7a8b9c0d1e2'
branch_labels = None
depends_on = None

# SQLite rebuilds `users` to change its columns: it keeps AUTOINCREMENT (ids never reused) only if told.
USERS_TABLE = {"sqlite_autoincrement": True}


def upgrade():
    op.create_table(
        "webauthn_credentials",
        sa.Column("method_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=2048), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["method_id"], ["two_factor_methods.id"],
                                name=op.f("fk_webauthn_credentials_method_id_two_factor_methods"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("method_id", name=op.f("pk_webauthn_credentials")),
    )
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("webauthn_handle", sa.LargeBinary(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_webauthn_handle"), ["webauthn_handle"])


def downgrade():
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_webauthn_handle"), type_="unique")
        batch_op.drop_column("webauthn_handle")
    op.drop_table("webauthn_credentials")
    op.execute(sa.text("DELETE FROM two_factor_methods WHERE kind = 'webauthn'"))
