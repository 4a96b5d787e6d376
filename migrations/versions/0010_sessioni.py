"""Sessioni: office and kiosk login sessions the server can end (logout, Esci, idle
lock, new password or PIN, deactivation) on every server sharing the database.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

c = sa.column
_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")
_MOTIVI = ["LOGOUT", "ESCI", "INATTIVITA", "NUOVO_ACCESSO", "PASSWORD", "PIN", "DISATTIVATO"]


def upgrade():
    op.create_table(
        "Sessioni",
        sa.Column("SessioneID", sa.Integer(), nullable=False),
        sa.Column("UtenteID", sa.Integer(), nullable=False),
        sa.Column("Chiave", sa.String(length=64), nullable=False),
        sa.Column("Tipo", sa.String(length=10), nullable=False),
        sa.Column("Postazione", sa.Unicode(length=100), nullable=True),
        sa.Column("DataInizio", _UTC, nullable=False),
        sa.Column("DataFine", _UTC, nullable=True),
        sa.Column("MotivoFine", sa.String(length=20), nullable=True),
        sa.CheckConstraint(c("Tipo").in_(["UFFICIO", "KIOSK"]), name=op.f("CK_Sessioni_tipo")),
        sa.CheckConstraint(c("MotivoFine").in_(_MOTIVI), name=op.f("CK_Sessioni_motivo_fine")),
        sa.CheckConstraint(
            sa.or_(
                sa.and_(c("DataFine").is_(None), c("MotivoFine").is_(None)),
                sa.and_(c("DataFine").isnot(None), c("MotivoFine").isnot(None)),
            ),
            name=op.f("CK_Sessioni_fine_con_motivo"),
        ),
        sa.ForeignKeyConstraint(["UtenteID"], ["Utenti.UtenteID"], name=op.f("FK_Sessioni_UtenteID_Utenti")),
        sa.PrimaryKeyConstraint("SessioneID", name=op.f("PK_Sessioni")),
        sa.UniqueConstraint("Chiave", name=op.f("UQ_Sessioni_Chiave")),
    )
    with op.batch_alter_table("Sessioni", schema=None) as batch_op:
        batch_op.create_index("IX_Sessioni_UtenteID_DataFine", ["UtenteID", "DataFine"], unique=False)
        batch_op.create_index("IX_Sessioni_DataInizio", ["DataInizio"], unique=False)


def downgrade():
    op.drop_table("Sessioni")
