"""LottiOrigini: which closed lotti of the previous phase each lotto drew its pieces
from (R14, SPEC §12).

The lotti already in the database get their draws rebuilt by the rule the services
follow from now on, replayed in time order (``services.origini.ricostruisci_storico``:
a source is available from its close, a lotto draws FIFO when it opens and gives back
newest first when it closes). The migration logs how many draws it wrote and how many
lotti (and pieces) it could not place. A SQL script rendered offline (``--sql``, SQL
Server) cannot read the data: after running it, ``flask --app wsgi origini`` rebuilds them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import logging

import sqlalchemy as sa
from alembic import context, op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

c = sa.column
log = logging.getLogger("alembic.0012")


def upgrade():
    op.create_table(
        "LottiOrigini",
        sa.Column("OrigineID", sa.Integer(), nullable=False),
        sa.Column("LottoID", sa.Integer(), nullable=False),
        sa.Column("LottoOrigineID", sa.Integer(), nullable=False),
        sa.Column("Qta", sa.Integer(), nullable=False),
        sa.CheckConstraint(c("Qta") > 0, name=op.f("CK_LottiOrigini_qta")),
        sa.CheckConstraint(c("LottoID") != c("LottoOrigineID"), name=op.f("CK_LottiOrigini_non_da_se")),
        sa.ForeignKeyConstraint(["LottoID"], ["Lotti.LottoID"], name=op.f("FK_LottiOrigini_LottoID_Lotti")),
        sa.ForeignKeyConstraint(
            ["LottoOrigineID"], ["Lotti.LottoID"], name=op.f("FK_LottiOrigini_LottoOrigineID_Lotti")
        ),
        sa.PrimaryKeyConstraint("OrigineID", name=op.f("PK_LottiOrigini")),
        sa.UniqueConstraint("LottoID", "LottoOrigineID", name="UQ_LottiOrigini_LottoID_LottoOrigineID"),
        # A draw's id is never given to another (the newest draw is given back first).
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("LottiOrigini", schema=None) as batch_op:
        batch_op.create_index("IX_LottiOrigini_LottoOrigineID", ["LottoOrigineID", "Qta"], unique=False)
    if context.is_offline_mode():
        log.warning(
            "LottiOrigini: dopo lo script, ricostruire i prelievi dei lotti esistenti con: flask --app wsgi origini"
        )
        return
    from asigest.services.origini import ricostruisci_storico

    log.info(ricostruisci_storico(op.get_bind()).descrivi())


def downgrade():
    op.drop_table("LottiOrigini")
