"""email addresses, their confirmations, and the mail outbox

Revision ID: e7a8b9c0d1e2
Revises: e6a7b8c9d0e1
Create Date: 2026-12-03 09:00:00

users.email holds a confirmed address only (unique); an address waiting for its link is a row of
email_confirmations; mail_outbox is the queue that delivery threads and `flask mail send-queued`
drain.
"""
import sqlalchemy as sa
from alembic import op


revision = 'e7a8b9c0d1e2'
down_revision = 'e6a7b8c9d0e1'
branch_labels = None
depends_on = None

# SQLite rebuilds `users` to change its columns: it keeps AUTOINCREMENT (ids never reused) only if told.
USERS_TABLE = {"sqlite_autoincrement": True}


def upgrade():
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=True)
    op.create_table(
        "email_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_email_confirmations_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_confirmations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_confirmations_token_hash")),
    )
    with op.batch_alter_table("email_confirmations") as batch_op:
        batch_op.create_index(batch_op.f("ix_email_confirmations_user_id"), ["user_id"], unique=False)
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox") as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_next_attempt_at"), ["next_attempt_at"], unique=False)


def downgrade():
    with op.batch_alter_table("mail_outbox") as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_next_attempt_at"))
    op.drop_table("mail_outbox")
    with op.batch_alter_table("email_confirmations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_confirmations_user_id"))
    op.drop_table("email_confirmations")
    with op.batch_alter_table("users", table_kwargs=USERS_TABLE) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))
        batch_op.drop_column("email")
