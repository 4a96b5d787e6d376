"""RichiesteEseguite: one-time keys of kiosk forms and API Idempotency-Key (R11).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")


def upgrade():
    op.create_table(
        "RichiesteEseguite",
        sa.Column("RichiestaID", sa.Integer(), nullable=False),
        sa.Column("UtenteID", sa.Integer(), nullable=False),
        sa.Column("Chiave", sa.String(length=100), nullable=False),
        sa.Column("Operazione", sa.String(length=40), nullable=False),
        sa.Column("EntitaID", sa.Integer(), nullable=True),
        sa.Column("DataOra", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["UtenteID"], ["Utenti.UtenteID"], name=op.f("FK_RichiesteEseguite_UtenteID_Utenti")),
        sa.PrimaryKeyConstraint("RichiestaID", name=op.f("PK_RichiesteEseguite")),
        sa.UniqueConstraint("UtenteID", "Chiave", name=op.f("UQ_RichiesteEseguite_UtenteID_Chiave")),
    )
    with op.batch_alter_table("RichiesteEseguite", schema=None) as batch_op:
        batch_op.create_index("IX_RichiesteEseguite_DataOra", ["DataOra"], unique=False)


def downgrade():
    op.drop_table("RichiesteEseguite")
