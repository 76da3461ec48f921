"""user ids are never reused (SQLite AUTOINCREMENT)

Revision ID: c4e5f6071829
Revises: b3d4e5f60718
Create Date: 2026-12-01 01:45:00

On SQLite the table is rebuilt with AUTOINCREMENT; PostgreSQL's sequence never reuses ids already,
so there this changes nothing.
"""
from alembic import op


revision = 'c4e5f6071829'
down_revision = 'b3d4e5f60718'
branch_labels = None
depends_on = None


def rebuild_users(autoincrement):
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade():
    rebuild_users(True)


def downgrade():
    rebuild_users(False)
