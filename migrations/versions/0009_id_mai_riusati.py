"""ConfigCommessa, Fasi and DocumentiTecnici ids are never reused on SQLite.

A config and its fasi are deleted while no lotto uses them, a fase when its flag is
turned off, a technical document on request; the audit log names each by id. SQLite
without AUTOINCREMENT would give the next row the same id, and LogEventi would then
mix two records. The same rebuild as Lotti's (0004), for tables that other tables
reference (Lotti → Fasi): ``dialects.sqlite_autoincrement``. PostgreSQL and SQL Server
identities never reuse ids, so nothing changes there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from alembic import op

from asigest.dialects import sqlite_autoincrement

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABELLE = (("ConfigCommessa", "ConfigID"), ("Fasi", "FaseID"), ("DocumentiTecnici", "DocumentoID"))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for tabella, chiave in TABELLE:
            sqlite_autoincrement(bind, tabella, chiave)


def downgrade():
    # Nothing to undo that matters: AUTOINCREMENT only stops id reuse.
    pass
