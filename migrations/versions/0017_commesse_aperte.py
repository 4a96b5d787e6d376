"""CommesseAperte and StatoCommesseAperte: the copy of the ERP's open orders that order
search reads, refreshed from the ERP by the first request that finds it older than
ASIGEST_COMMESSE_APERTE_SECONDS (docs/decisioni/2026-12-08-copia-commesse-aperte.md).

Both start empty: the first search fills them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")


def upgrade():
    op.create_table(
        "CommesseAperte",
        sa.Column("ChiaveEsercizio", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ChiaveNumero", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("CommessaERPId", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("Esercizio", sa.Integer(), nullable=True),
        sa.Column("Numerocom", sa.Integer(), nullable=True),
        sa.Column("RifCommCli", sa.Unicode(length=50), nullable=True),
        sa.Column("CodArt", sa.Unicode(length=30), nullable=True),
        sa.Column("DesArt", sa.Unicode(length=255), nullable=True),
        sa.Column("Qta", sa.Integer(), nullable=True),
        sa.Column("DataConsegna", sa.Date(), nullable=True),
        sa.Column("IdCliente", sa.Integer(), nullable=True),
        sa.Column("NomeCliente", sa.Unicode(length=100), nullable=True),
        sa.Column("Testo", sa.Unicode(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("ChiaveEsercizio", "ChiaveNumero", "CommessaERPId", name=op.f("PK_CommesseAperte")),
        sa.UniqueConstraint("CommessaERPId", name=op.f("UQ_CommesseAperte_CommessaERPId")),
        # The rows in the ERP's order, with no second structure to visit (as SQL Server's
        # clustered primary key).
        sqlite_with_rowid=False,
    )
    op.create_table(
        "StatoCommesseAperte",
        sa.Column("ID", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("AggiornataIl", _UTC, nullable=True),
        sa.Column("AggiornamentoDal", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("ID", name=op.f("PK_StatoCommesseAperte")),
    )


def downgrade():
    op.drop_table("StatoCommesseAperte")
    op.drop_table("CommesseAperte")
