"""users: the language chosen in the language menu

Revision ID: f7a8b9c0d1e2
Revises: e6a7b8c9d0e1
Create Date: 2026-12-04 10:00:00

The menu in every page's footer saves the chosen language on the account of a person logged in
(`es`, `pt-BR`). Empty for every account that exists: their pages follow the browser, as before.
"""
from alembic import op
import sqlalchemy as sa


revision = 'f7a8b9c0d1e2'
down_revision = 'e6a7b8c9d0e1'
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
