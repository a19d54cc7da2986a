"""case list order index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_cases_updated_at_id', 'cases', ['updated_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_cases_updated_at_id', table_name='cases')
