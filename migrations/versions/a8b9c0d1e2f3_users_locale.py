"""users: the language chosen in the language menu

Revision ID: a8b9c0d1e2f3
Revises: f7a8b9c0d1e2
Create Date: 2026-12-02 20:00:00

The menu in every page's footer saves the chosen language on the account of a person logged in
(`es`, `pt-BR`). Empty for every account that exists: their pages follow the browser, as before.
"""
from alembic import op
import sqlalchemy as sa


revision = 'a8b9c0d1e2f3'
down_revision = 'f7a8b9c0d1e2'
branch_labels = None
depends_on = None

# SQLite rebuilds `users` to drop a column: the rebuilt table must still never reuse an id.
USERS_TABLE = {"sqlite_autoincrement": True}


def upgrade():
    with op.batch_alter_table('users', table_kwargs=USERS_TABLE) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('users', table_kwargs=USERS_TABLE) as batch_op:
        batch_op.drop_column('locale')
