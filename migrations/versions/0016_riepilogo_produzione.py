"""KpiProduzioneGiorni: the daily summary of the pieces closed per machine and phase type,
so the OEE of a long period reads a few rows per machine and day instead of every
lotto closed in it (SPEC §11: OEE for 90 days at 1M lotti p95 ≤ 100 ms).

Filled here from the closed lotti, with days local to the zone the other summaries are
kept in (KpiRiepilogo.Zona), so they stay in use and nothing else is rebuilt. Without
that row (summaries not kept yet) it is left empty: ``flask --app wsgi init`` rebuilds
all of them. A SQL script rendered offline (``--sql``, SQL Server) cannot read the data:
it removes the row instead, and ``init`` rebuilds the summaries after it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import logging
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.0016")

_RIEPILOGO = sa.table("KpiRiepilogo", sa.column("ID", sa.Integer()), sa.column("Zona", sa.Unicode()))
_LOTTI = sa.table(
    "Lotti",
    sa.column("FaseID", sa.Integer()),
    sa.column("MacchinaID", sa.Integer()),
    sa.column("DataFine", sa.DateTime()),
    sa.column("QtaOutput", sa.Integer()),
    sa.column("QtaScarti", sa.Integer()),
)
_FASI = sa.table("Fasi", sa.column("FaseID", sa.Integer()), sa.column("FaseTipoID", sa.Integer()))
_PRODUZIONE = sa.table(
    "KpiProduzioneGiorni",
    sa.column("Giorno", sa.Date()),
    sa.column("MacchinaID", sa.Integer()),
    sa.column("FaseTipoID", sa.Integer()),
    sa.column("Lotti", sa.Integer()),
    sa.column("QtaOutput", sa.BigInteger()),
    sa.column("QtaScarti", sa.BigInteger()),
)
# Rows per INSERT: 6 parameters each, under SQL Server's 2,100 per statement.
_BLOCCO = 300


def upgrade():
    op.create_table(
        "KpiProduzioneGiorni",
        sa.Column("Giorno", sa.Date(), nullable=False),
        sa.Column("MacchinaID", sa.Integer(), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("Lotti", sa.Integer(), nullable=False),
        sa.Column("QtaOutput", sa.BigInteger(), nullable=False),
        sa.Column("QtaScarti", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_KpiProduzioneGiorni_FaseTipoID_FaseTipo")
        ),
        sa.ForeignKeyConstraint(
            ["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_KpiProduzioneGiorni_MacchinaID_Macchine")
        ),
        sa.PrimaryKeyConstraint("Giorno", "MacchinaID", "FaseTipoID", name=op.f("PK_KpiProduzioneGiorni")),
        # The period's rows in key order, with no second structure to visit (services/oee.py).
        sqlite_with_rowid=False,
    )
    op.create_index("IX_KpiProduzioneGiorni_Macchina", "KpiProduzioneGiorni", ["MacchinaID", "Giorno"])
    if context.is_offline_mode():
        op.execute(sa.delete(_RIEPILOGO))
        return
    conn = op.get_bind()
    zona = conn.execute(sa.select(_RIEPILOGO.c.Zona).where(_RIEPILOGO.c.ID == 1)).scalar()
    if zona is None:
        return
    log.info("KpiProduzioneGiorni: %d righe dai lotti chiusi (zona %s)", _riempi(conn, ZoneInfo(zona)), zona)


def _riempi(conn: sa.Connection, zona: ZoneInfo) -> int:
    """The rows services/riepilogo_kpi.py keeps, computed from every closed lotto (a
    lotto's pieces belong to the local day it closed on)."""
    righe: dict[tuple, list[int]] = {}
    lotti = conn.execute(
        sa.select(
            _LOTTI.c.DataFine,
            _LOTTI.c.MacchinaID,
            _FASI.c.FaseTipoID,
            _LOTTI.c.QtaOutput,
            _LOTTI.c.QtaScarti,
        )
        .select_from(_LOTTI.join(_FASI, _FASI.c.FaseID == _LOTTI.c.FaseID))
        .where(_LOTTI.c.DataFine.is_not(None))
        .execution_options(yield_per=10_000)
    )
    for fine, macchina, tipo, buoni, scarti in lotti:
        chiave = (fine.replace(tzinfo=UTC).astimezone(zona).date(), macchina, tipo)
        somma = righe.setdefault(chiave, [0, 0, 0])
        somma[0] += 1
        somma[1] += buoni or 0
        somma[2] += scarti or 0
    valori = [
        {
            "Giorno": giorno,
            "MacchinaID": macchina,
            "FaseTipoID": tipo,
            "Lotti": n,
            "QtaOutput": buoni,
            "QtaScarti": scarti,
        }
        for (giorno, macchina, tipo), (n, buoni, scarti) in sorted(righe.items())
    ]
    for inizio in range(0, len(valori), _BLOCCO):
        conn.execute(sa.insert(_PRODUZIONE).values(valori[inizio : inizio + _BLOCCO]))
    return len(valori)


def downgrade():
    op.drop_index("IX_KpiProduzioneGiorni_Macchina", table_name="KpiProduzioneGiorni")
    op.drop_table("KpiProduzioneGiorni")
