"""second factors as methods: a phone column becomes a row of two_factor_methods

Revision ID: d5f6a7b8c9d0
Revises: c4e5f6071829
Create Date: 2026-12-02 19:10:00

Every verified phone becomes a phone method, added when the account last turned 2FA on or changed
its number (its security events say when; otherwise now). Downgrading puts each phone method's
number back in users.phone; other kinds of method (authenticator apps) have nowhere to go and
are dropped, so their owners keep 2FA only if they also have a phone.
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


revision = 'd5f6a7b8c9d0'
down_revision = 'c4e5f6071829'
branch_labels = None
depends_on = None

# SQLite rebuilds `users` to change its columns: it keeps AUTOINCREMENT (ids never reused) only if told.
USERS_TABLE = {"sqlite_autoincrement": True}


def upgrade():
    op.create_table(
        "two_factor_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("counter", sa.BigInteger(), nullable=True),
        sa.Column("lookup", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_two_factor_methods_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_factor_methods")),
        sa.UniqueConstraint("lookup", name=op.f("uq_two_factor_methods_lookup")),
    )
    with op.batch_alter_table("two_factor_methods") as batch_op:
        batch_op.create_index(batch_op.f("ix_two_factor_methods_user_id"), ["user_id"], unique=False)
    op.execute(sa.text(
        "INSERT INTO two_factor_methods (user_id, kind, name, phone, created_at)"
        " SELECT users.id, 'phone', '', users.phone, COALESCE("
        "   (SELECT max(security_events.created_at) FROM security_events WHERE security_events.user_id = users.id"
        "    AND security_events.kind IN ('2fa_enabled', 'phone_changed')), :now)"
        " FROM users WHERE users.phone IS NOT NULL"
    ).bindparams(now=datetime.now(timezone.utc).replace(tzinfo=None)))
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.drop_column("phone")


def downgrade():
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
    op.execute(sa.text(
        "UPDATE users SET phone = (SELECT min(two_factor_methods.phone) FROM two_factor_methods"
        " WHERE two_factor_methods.user_id = users.id AND two_factor_methods.kind = 'phone')"
    ))
    with op.batch_alter_table("two_factor_methods") as batch_op:
        batch_op.drop_index(batch_op.f("ix_two_factor_methods_user_id"))
    op.drop_table("two_factor_methods")
