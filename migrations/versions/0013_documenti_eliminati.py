"""DocumentiTecnici keep their record when deleted: DataEliminazione and EliminatoDa
(SPEC §12: a trace shows the documents current when a lotto opened, deleted ones too).

Both columns are added as they are on every database: nullable, EliminatoDa referencing
Utenti. SQLite adds them with ALTER TABLE ADD COLUMN (a REFERENCES clause with a NULL
default is allowed there), so the table keeps its AUTOINCREMENT and sequence (0009); the
CHECK that names a deleter only on a deleted row is added where the database can add a
constraint to an existing table (PostgreSQL, SQL Server); on SQLite the service is what
sets the two together.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")
_CHECK = "CK_DocumentiTecnici_eliminato"


def upgrade():
    bind = op.get_bind()
    op.add_column("DocumentiTecnici", sa.Column("DataEliminazione", _UTC, nullable=True))
    if bind.dialect.name == "sqlite":
        # Alembic's SQLite add_column refuses a foreign key; SQLite itself takes it inline.
        op.execute(
            'ALTER TABLE "DocumentiTecnici" ADD COLUMN "EliminatoDa" INTEGER '
            'CONSTRAINT "FK_DocumentiTecnici_EliminatoDa_Utenti" REFERENCES "Utenti" ("UtenteID")'
        )
        return
    op.add_column("DocumentiTecnici", sa.Column("EliminatoDa", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "FK_DocumentiTecnici_EliminatoDa_Utenti", "DocumentiTecnici", "Utenti", ["EliminatoDa"], ["UtenteID"]
    )
    op.create_check_constraint(
        op.f(_CHECK),
        "DocumentiTecnici",
        sa.or_(sa.column("EliminatoDa").is_(None), sa.column("DataEliminazione").isnot(None)),
    )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(_CHECK, "DocumentiTecnici", type_="check")
        op.drop_constraint("FK_DocumentiTecnici_EliminatoDa_Utenti", "DocumentiTecnici", type_="foreignkey")
    with op.batch_alter_table("DocumentiTecnici") as batch_op:
        batch_op.drop_column("EliminatoDa")
        batch_op.drop_column("DataEliminazione")
