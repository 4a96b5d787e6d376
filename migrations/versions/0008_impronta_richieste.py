"""RichiesteEseguite.Impronta: a one-time key is bound to the request it was first used for (R11).

The fingerprint (SHA-256 in hex) of the caller's request — an API call's method, path
and body, a kiosk form's operation, machine and lotto or order — is stored with the
key; the same key with another request is refused (422 IDEMPOTENCY_KEY_RIUSATA).
Keys recorded before this revision get '' (unknown request): the service accepts their
replay only for the same operation on the same fase and, for a close, the same lotto.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("RichiesteEseguite", schema=None) as batch_op:
        batch_op.add_column(sa.Column("Impronta", sa.String(length=64), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("RichiesteEseguite", schema=None) as batch_op:
        # SQL Server: the column's DEFAULT is a constraint of its own, dropped first.
        batch_op.drop_column("Impronta", mssql_drop_default=True)
