"""case list and search indexes

The case list's order (newest change first) and covering indexes for its filters, so a page of
100,000 cases reads index entries instead of sorting every case or fetching every act
(bench/RESULTS.md, "Pages at scale").

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

INDEXES = (
    ('ix_cases_updated_at_id', 'cases', ['updated_at', 'id']),
    ('ix_acts_type_dates_case', 'acts', ['act_type', 'start_earliest', 'start_latest', 'case_id']),
    ('ix_acts_district_case', 'acts', ['district_code', 'case_id']),
    ('ix_acts_id_case', 'acts', ['id', 'case_id']),
    ('ix_involvements_type_act', 'involvements', ['perpetrator_type', 'act_id']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
