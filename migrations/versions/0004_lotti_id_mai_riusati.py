"""Lotti ids are never reused on SQLite (a cancelled lotto's id stays its own).

A supervisor may cancel a lotto opened by mistake (the row is deleted, its audit rows
stay). SQLite without AUTOINCREMENT would give the next lotto the same LottoID, and the
audit log names lotti by id. PostgreSQL and SQL Server identities never reuse ids, so
this migration changes nothing there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

from asigest.dialects import sqlite_autoincrement

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sqlite_autoincrement(bind, "Lotti", "LottoID")


def downgrade():
    # Nothing to undo that matters: AUTOINCREMENT only stops id reuse.
    pass
