"""Indexes of the lotti register: a machine's and an operator's lotti by start.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.create_index("IX_Lotti_MacchinaID_DataInizio", ["MacchinaID", "DataInizio"], unique=False)
        batch_op.create_index("IX_Lotti_OperatoreID_DataInizio", ["OperatoreID", "DataInizio"], unique=False)


def downgrade():
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.drop_index("IX_Lotti_OperatoreID_DataInizio")
        batch_op.drop_index("IX_Lotti_MacchinaID_DataInizio")
