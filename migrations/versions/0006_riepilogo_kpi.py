"""KpiGiorni, KpiOperatoriGiorni and KpiRiepilogo: the KPIs' exact daily summaries by
phase type and by operator (services/riepilogo_kpi.py). Created empty: ``flask --app
wsgi init`` fills them from the lotti; until then the KPIs read the lotti themselves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")


def upgrade():
    op.create_table(
        "KpiGiorni",
        sa.Column("Giorno", sa.Date(), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("Lotti", sa.Integer(), nullable=False),
        sa.Column("QtaOutput", sa.BigInteger(), nullable=False),
        sa.Column("QtaScarti", sa.BigInteger(), nullable=False),
        sa.Column("Microsecondi", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_KpiGiorni_FaseTipoID_FaseTipo")),
        sa.PrimaryKeyConstraint("Giorno", "FaseTipoID", name=op.f("PK_KpiGiorni")),
    )
    op.create_table(
        "KpiOperatoriGiorni",
        sa.Column("Giorno", sa.Date(), nullable=False),
        sa.Column("OperatoreID", sa.Integer(), nullable=False),
        sa.Column("Lotti", sa.Integer(), nullable=False),
        sa.Column("QtaOutput", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["OperatoreID"], ["Utenti.UtenteID"], name=op.f("FK_KpiOperatoriGiorni_OperatoreID_Utenti")
        ),
        sa.PrimaryKeyConstraint("Giorno", "OperatoreID", name=op.f("PK_KpiOperatoriGiorni")),
    )
    op.create_table(
        "KpiRiepilogo",
        sa.Column("ID", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("Zona", sa.Unicode(length=64), nullable=False),
        sa.Column("RicostruitoIl", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("ID", name=op.f("PK_KpiRiepilogo")),
    )


def downgrade():
    op.drop_table("KpiRiepilogo")
    op.drop_table("KpiOperatoriGiorni")
    op.drop_table("KpiGiorni")
