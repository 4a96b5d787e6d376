"""Covering index of the KPIs: the lotti closed in a period, with every column the
dashboard aggregates, read from one index range (services/kpi.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLONNE = ["DataFine", "FaseID", "MacchinaID", "OperatoreID", "CausaleID", "QtaOutput", "QtaScarti", "DataInizio"]


def upgrade():
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.create_index("IX_Lotti_DataFine_KPI", COLONNE, unique=False)
    bind = op.get_bind()
    # The planner statistics of a SQLite database that has them, for the new index too.
    if (
        bind.dialect.name == "sqlite"
        and bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
    ):
        bind.exec_driver_sql('ANALYZE "IX_Lotti_DataFine_KPI"')


def downgrade():
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.drop_index("IX_Lotti_DataFine_KPI")
