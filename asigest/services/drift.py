"""R12 — which configured orders drifted from the ERP (rules in ``asigest.domain.drift``).

Two entry points, the same rule:

- ``scostamenti(session, erp)``: every drifting order, grave ones first — the orders
  list's panel and the dashboard. Candidates are the configs still in production
  (a fase not COMPLETATA, or an open lotto), read from ASI_GEST with their fasi in one
  query (a sub-select, no id list) plus one for the open lotti (DataFine index); their
  ERP rows are read with ``get_many`` (chunked under SQL Server's parameter limit) and
  compared in the application. The cost grows with the orders *in production*, not
  with history.
- ``scostamenti_di(session, commesse)``: the drift of ERP rows a page already holds
  (a page of the orders list, the order card), without asking the ERP again.

Both return plain values. ErpUnavailable propagates: pages show it as a message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, union

from asigest.domain.drift import OrdineErp, Scostamento, valuta_scostamento
from asigest.domain.stati import COMPLETATA
from asigest.erp import Commessa, ErpGateway
from asigest.models import ConfigCommessa, Fase, Lotto
from asigest.services.chunks import chunked
from asigest.services.uow import DbSession


@dataclass(frozen=True)
class CommessaInScostamento:
    """A drifting order as lists show it: the drift and the ERP row (None when the ERP
    no longer has the order)."""

    scostamento: Scostamento
    commessa: Commessa | None

    @property
    def commessa_erp_id(self) -> int:
        return self.scostamento.commessa_erp_id


def scostamenti(session: DbSession, erp: ErpGateway) -> list[CommessaInScostamento]:
    """Every configured order in production that drifted from its ERP row: grave first,
    then newest order first as in the orders list (orders missing from the ERP last).

    Raises ErpUnavailable when the ERP does not answer.
    """
    aperti = _lotti_aperti(session)
    in_corso = select(Fase.commessa_erp_id).where(Fase.stato != COMPLETATA)
    con_lotti_aperti = (
        select(Fase.commessa_erp_id).join(Lotto, Lotto.fase_id == Fase.id).where(Lotto.data_fine.is_(None))
    )
    candidati = union(in_corso, con_lotti_aperti).subquery()
    # One pass over the candidates' configs and fasi: no id list, so no parameter limit.
    qta_config: dict[int, int | None] = {}
    stati: dict[int, list[str]] = defaultdict(list)
    for commessa_id, qta, stato in session.execute(
        select(ConfigCommessa.commessa_erp_id, ConfigCommessa.qta_erp, Fase.stato)
        .join(Fase, Fase.commessa_erp_id == ConfigCommessa.commessa_erp_id, isouter=True)
        .where(ConfigCommessa.commessa_erp_id.in_(select(candidati.c[0])))
    ):
        qta_config[commessa_id] = qta
        if stato is not None:
            stati[commessa_id].append(stato)
    if not qta_config:
        return []
    ordini = erp.get_many(qta_config)
    trovati = []
    for commessa_id, qta in qta_config.items():
        commessa = ordini.get(commessa_id)
        s = valuta_scostamento(
            commessa_id,
            qta_configurata=qta,
            ordine=_ordine(commessa),
            stati_fasi=stati[commessa_id],
            lotti_aperti=aperti.get(commessa_id, 0),
        )
        if s is not None:
            trovati.append(CommessaInScostamento(scostamento=s, commessa=commessa))
    trovati.sort(key=_ordine_elenco)
    return trovati


def scostamenti_di(session: DbSession, commesse: Iterable[Commessa]) -> dict[int, Scostamento]:
    """``{ID: Scostamento}`` for those of ``commesse`` (ERP rows already read) that are
    configured and drifting. Needs no ERP."""
    per_id = {c.id: c for c in commesse}
    if not per_id:
        return {}
    qta_config: dict[int, int | None] = {}
    for chunk in chunked(sorted(per_id)):
        qta_config.update(
            session.execute(
                select(ConfigCommessa.commessa_erp_id, ConfigCommessa.qta_erp).where(
                    ConfigCommessa.commessa_erp_id.in_(chunk)
                )
            ).all()
        )
    stati, aperti = _stati_fasi(session, list(qta_config)), _lotti_aperti(session, list(qta_config))
    trovati = {}
    for commessa_id, qta in qta_config.items():
        s = valuta_scostamento(
            commessa_id,
            qta_configurata=qta,
            ordine=_ordine(per_id[commessa_id]),
            stati_fasi=stati[commessa_id],
            lotti_aperti=aperti.get(commessa_id, 0),
        )
        if s is not None:
            trovati[commessa_id] = s
    return trovati


def _ordine(commessa: Commessa | None) -> OrdineErp | None:
    if commessa is None:
        return None
    return OrdineErp(qta=commessa.qta, stato=commessa.statocommessa, aperto=commessa.aperta)


def _lotti_aperti(session: DbSession, commessa_ids: list[int] | None = None) -> dict[int, int]:
    """Open lotti per order (all orders, or those given, in chunks). Open lotti are few
    (one per machine at most) and found by the DataFine index."""
    query = (
        select(Fase.commessa_erp_id, func.count())
        .join(Lotto, Lotto.fase_id == Fase.id)
        .where(Lotto.data_fine.is_(None))
        .group_by(Fase.commessa_erp_id)
    )
    if commessa_ids is None:
        return dict(session.execute(query).all())
    aperti: dict[int, int] = {}
    for chunk in chunked(sorted(commessa_ids)):
        aperti.update(session.execute(query.where(Fase.commessa_erp_id.in_(chunk))).all())
    return aperti


def _stati_fasi(session: DbSession, commessa_ids: list[int]) -> dict[int, list[str]]:
    stati: dict[int, list[str]] = defaultdict(list)
    for chunk in chunked(sorted(commessa_ids)):
        for commessa_id, stato in session.execute(
            select(Fase.commessa_erp_id, Fase.stato).where(Fase.commessa_erp_id.in_(chunk))
        ):
            stati[commessa_id].append(stato)
    return stati


def _ordine_elenco(c: CommessaInScostamento) -> tuple[bool, bool, int, int, int]:
    e = c.commessa
    return (
        not c.scostamento.grave,
        e is None,
        -(e.esercizio or 0) if e else 0,
        -(e.numerocom or 0) if e else 0,
        -c.commessa_erp_id,
    )
