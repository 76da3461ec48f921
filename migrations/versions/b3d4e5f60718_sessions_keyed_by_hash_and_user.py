"""sessions keyed by the SHA-256 of their id, and indexed by user

Revision ID: b3d4e5f60718
Revises: 6f1b0f0fce66
Create Date: 2026-12-01 01:10:00

The stored id changes meaning (a hash of the cookie's id instead of the id itself), so the sessions
that exist are dropped: everyone logged in when this migration runs logs in again.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b3d4e5f60718'
down_revision = '6f1b0f0fce66'
branch_labels = None
depends_on = None


def create_sessions(id_length, with_user):
    columns = [sa.Column('id', sa.String(length=id_length), nullable=False)]
    if with_user:
        columns.append(sa.Column('user_id', sa.Integer(), nullable=True))
    columns += [
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
    ]
    constraints = [sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))]
    if with_user:
        constraints.append(sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_sessions_user_id_users'), ondelete='CASCADE'))
    op.create_table('sessions', *columns, *constraints)
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_expires_at'), ['expires_at'], unique=False)
        if with_user:
            batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)


def drop_sessions(with_user):
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        if with_user:
            batch_op.drop_index(batch_op.f('ix_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_sessions_expires_at'))
    op.drop_table('sessions')


def upgrade():
    drop_sessions(with_user=False)
    create_sessions(64, with_user=True)


def downgrade():
    drop_sessions(with_user=True)
    create_sessions(255, with_user=False)
