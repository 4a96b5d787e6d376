"""KpiScartiGiorni: the KPIs' daily summary of scrap by machine and scrap reason, so the
dashboard's Pareto lists of a long period read a few rows a day instead of every lotto
with scrap in it (SPEC §11: any period up to 90 days at 1M lotti within 2× its 10k
figure), and covering indexes on it and on KpiOperatoriGiorni. Created empty; the summaries are marked for rebuilding (the KpiRiepilogo row
goes), so ``flask --app wsgi init`` rebuilds all three from the lotti, as after 0006.
Until then the KPIs read the lotti themselves (exact, slower).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_RIEPILOGO = sa.table("KpiRiepilogo", sa.column("ID", sa.Integer()))


def upgrade():
    op.create_table(
        "KpiScartiGiorni",
        sa.Column("Giorno", sa.Date(), nullable=False),
        sa.Column("MacchinaID", sa.Integer(), nullable=False),
        sa.Column("CausaleID", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("Lotti", sa.Integer(), nullable=False),
        sa.Column("QtaScarti", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_KpiScartiGiorni_MacchinaID_Macchine")
        ),
        sa.PrimaryKeyConstraint("Giorno", "MacchinaID", "CausaleID", name=op.f("PK_KpiScartiGiorni")),
    )
    # Covering indexes by key then day: a machine's, a reason's or an operator's sum over a
    # period is one index range, never the table, and nothing sorts the period's rows
    # (90 days at 1M lotti: ~16,000 scrap rows and ~22,000 operator rows).
    op.create_index("IX_KpiScartiGiorni_Macchina", "KpiScartiGiorni", ["MacchinaID", "Giorno", "QtaScarti"])
    op.create_index("IX_KpiScartiGiorni_Causale", "KpiScartiGiorni", ["CausaleID", "Giorno", "QtaScarti"])
    op.create_index("IX_KpiOperatoriGiorni_Operatore", "KpiOperatoriGiorni", ["OperatoreID", "Giorno", "QtaOutput"])
    op.execute(sa.delete(_RIEPILOGO))


def downgrade():
    op.drop_index("IX_KpiOperatoriGiorni_Operatore", table_name="KpiOperatoriGiorni")
    op.drop_table("KpiScartiGiorni")
    op.execute(sa.delete(_RIEPILOGO))  # the two remaining summaries are rebuilt by init
