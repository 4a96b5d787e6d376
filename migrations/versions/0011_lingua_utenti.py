"""Utenti.Lingua: the operator's language ('it' or 'en', default 'it'), used by the
kiosk from the badge login on instead of whatever the browser was set to (SPEC §9).

Existing users get 'it', the plant's default. On SQLite the column and its CHECK are
added by one ``ALTER TABLE … ADD COLUMN`` (SQLite takes a column CHECK there), so the
table is not rebuilt: Utenti is referenced by most tables, and a rebuild under
``PRAGMA foreign_keys`` would have to move every row. PostgreSQL and SQL Server add the
column and then the named constraint.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_LINGUE = ["it", "en"]
_VINCOLO = "CK_Utenti_lingua"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # Fixed DDL, no input: the constraint's name is the naming convention's.
        op.execute(
            'ALTER TABLE "Utenti" ADD COLUMN "Lingua" VARCHAR(2) DEFAULT \'it\' NOT NULL '
            f"CONSTRAINT \"{_VINCOLO}\" CHECK (\"Lingua\" IN ('it', 'en'))"
        )
        return
    op.add_column("Utenti", sa.Column("Lingua", sa.String(length=2), nullable=False, server_default="it"))
    op.create_check_constraint(op.f(_VINCOLO), "Utenti", sa.column("Lingua").in_(_LINGUE))


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # The CHECK is the column's own, so SQLite (3.35+) drops both without a rebuild.
        op.execute('ALTER TABLE "Utenti" DROP COLUMN "Lingua"')
        return
    op.drop_constraint(op.f(_VINCOLO), "Utenti", type_="check")
    # SQL Server: the column's DEFAULT is a constraint of its own, dropped first.
    op.drop_column("Utenti", "Lingua", mssql_drop_default=True)
