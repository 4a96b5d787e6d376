"""TentativiAccesso: failed logins (password and kiosk PIN) for throttling and lockout.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

c = sa.column
_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")


def upgrade():
    op.create_table(
        "TentativiAccesso",
        sa.Column("TentativoID", sa.Integer(), nullable=False),
        sa.Column("DataOra", _UTC, nullable=False),
        sa.Column("Tipo", sa.String(length=10), nullable=False),
        sa.Column("Matricola", sa.Unicode(length=30), nullable=True),
        sa.Column("Indirizzo", sa.String(length=100), nullable=False),
        sa.CheckConstraint(c("Tipo").in_(["PASSWORD", "PIN"]), name=op.f("CK_TentativiAccesso_tipo")),
        sa.PrimaryKeyConstraint("TentativoID", name=op.f("PK_TentativiAccesso")),
    )
    with op.batch_alter_table("TentativiAccesso", schema=None) as batch_op:
        batch_op.create_index("IX_TentativiAccesso_Matricola_DataOra", ["Matricola", "DataOra"], unique=False)
        batch_op.create_index("IX_TentativiAccesso_Indirizzo_DataOra", ["Indirizzo", "DataOra"], unique=False)
        batch_op.create_index("IX_TentativiAccesso_DataOra", ["DataOra"], unique=False)


def downgrade():
    op.drop_table("TentativiAccesso")
