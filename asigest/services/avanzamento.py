"""Order progress (avanzamento, SPEC §6) for exports: one row per fase of each configured order.

Configured orders are read in blocks (keyset on CommessaERPId, newest ERP ID first),
each block with one ERP lookup and one query for its fasi, so the export streams
whatever the number of orders. By default only orders still open in the ERP are listed
(the work in progress people follow); ``tutte`` lists every configured order, also
closed ones and any the ERP no longer has (their ERP columns stay empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Iterator

from sqlalchemy import select

from asigest.domain.avanzamento import in_ritardo
from asigest.erp import Commessa, ErpGateway
from asigest.models import ConfigCommessa, Fase, FaseTipo

# Orders per block: one ERP lookup and one IN list each, well under SQL Server's 2,100 parameters.
BLOCCO = 1000


@dataclass(slots=True)
class RigaAvanzamento:
    """One fase of a configured order, with the order's ERP data and whether it is late."""

    commessa_erp_id: int
    commessa: Commessa | None
    fase_tipo: str
    stato: str
    qta_prevista: int
    qta_prodotta: int
    qta_scarti: int
    in_ritardo: bool


def righe_avanzamento(session, erp: ErpGateway, *, oggi: date, tutte: bool = False,
                      blocco: int = BLOCCO) -> Iterator[RigaAvanzamento]:
    """The progress of configured orders, newest ERP ID first, fasi in flow order.

    ``oggi`` is today in the plant's zone (for InRitardo). Raises ErpUnavailable when the
    ERP does not answer: without it, which orders are open and when they are due is unknown.
    """
    ultimo: int | None = None
    while True:
        stmt = select(ConfigCommessa.commessa_erp_id).order_by(ConfigCommessa.commessa_erp_id.desc()).limit(blocco)
        if ultimo is not None:
            stmt = stmt.where(ConfigCommessa.commessa_erp_id < ultimo)
        ids = list(session.scalars(stmt))
        if not ids:
            return
        ultimo = ids[-1]
        commesse = erp.get_many(ids)
        scelte = [i for i in ids if tutte or (i in commesse and commesse[i].aperta)]
        if scelte:
            yield from _righe(session, scelte, commesse, oggi)


def _righe(session, ids: list[int], commesse: dict[int, Commessa], oggi: date) -> Iterator[RigaAvanzamento]:
    fasi = session.execute(
        select(Fase.commessa_erp_id, FaseTipo.codice, Fase.stato, Fase.qta_prevista, Fase.qta_prodotta, Fase.qta_scarti)
        .join(FaseTipo, Fase.fase_tipo_id == FaseTipo.id)
        .where(Fase.commessa_erp_id.in_(ids))
        .order_by(Fase.commessa_erp_id.desc(), FaseTipo.ordine, FaseTipo.id)
    ).all()
    for commessa_id, gruppo in groupby(fasi, key=lambda f: f[0]):
        gruppo = list(gruppo)
        commessa = commesse.get(commessa_id)
        # The last phase in the flow decides whether the order is done (SPEC §6).
        ritardo = in_ritardo(commessa.dataconsegna if commessa else None, oggi, gruppo[-1][2])
        for _, codice, stato, prevista, prodotta, scarti in gruppo:
            yield RigaAvanzamento(commessa_id, commessa, codice, stato, prevista, prodotta, scarti, ritardo)
