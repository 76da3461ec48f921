"""sessions: when each last served a request

Revision ID: e6a7b8c9d0e1
Revises: d5f6a7b8c9d0
Create Date: 2026-12-03 10:00:00

"Where you're logged in" shows when each session was last seen. The column starts empty for the
sessions that exist; their next request fills it in.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e6a7b8c9d0e1'
down_revision = 'd5f6a7b8c9d0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')
