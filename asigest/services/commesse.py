"""Reading commesse: ERP orders joined, in the application, with their ASI_GEST set-up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import select

from asigest.domain.drift import Scostamento
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, NotFound
from asigest.models import ConfigCommessa, Fase, FaseTipo
from asigest.services import commesse_aperte
from asigest.services.chunks import chunked
from asigest.services.drift import scostamenti_di
from asigest.services.uow import DbSession


@dataclass(frozen=True)
class CommessaRiga:
    """A row of the orders list: the ERP order and whether it is configured here."""

    commessa: Commessa
    configurata: bool


T = TypeVar("T")
F = TypeVar("F")


@dataclass(frozen=True)
class Pagina(Generic[T]):
    """One page of a list; ``has_more`` tells whether a next page exists."""

    items: list[T]
    limit: int
    offset: int
    has_more: bool


@dataclass(frozen=True)
class CommessaDettaglio(Generic[F]):
    """The order card: the ERP order, its config (or None) and its phases in flow order;
    ``scostamento`` is its drift from the ERP (R12), None when there is none."""

    commessa: Commessa
    config: ConfigCommessa | None
    # The fasi as read (Fase), or with their QtaDisponibile (``configurazione.con_disponibile``).
    fasi: list[F] = field(default_factory=list)
    scostamento: Scostamento | None = None


def configs_by_commessa(session: DbSession, commessa_ids: Iterable[int]) -> dict[int, ConfigCommessa]:
    """``{CommessaERPId: ConfigCommessa}`` for the given ids, queried in chunks."""
    ids = sorted(set(commessa_ids))
    found: dict[int, ConfigCommessa] = {}
    for chunk in chunked(ids):
        for config in session.scalars(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id.in_(chunk))):
            found[config.commessa_erp_id] = config
    return found


def list_commesse(
    session: DbSession,
    erp: ErpGateway,
    *,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
    freschezza: float = 0,
    ora: datetime | None = None,
) -> Pagina[CommessaRiga]:
    """Open ERP orders, newest first, optionally matching ``q``, each flagged configured or not.

    With ``freschezza`` (seconds) read from the copy of the open orders in ASI_GEST, at
    most that old (``services/commesse_aperte.py``); with 0, or when the copy cannot
    answer, from the ERP.
    Raises ErpUnavailable when the ERP does not answer and the copy is older than that.
    """
    righe = None
    if freschezza > 0:
        righe = commesse_aperte.cerca(
            session, erp, q, limit=limit + 1, offset=offset, freschezza=timedelta(seconds=freschezza), ora=ora
        )
    if righe is None:
        rows = erp.list_open(q, limit=limit + 1, offset=offset)
        configs = configs_by_commessa(session, [c.id for c in rows])
        righe = [(c, c.id in configs) for c in rows]
    return Pagina(
        items=[CommessaRiga(c, configurata) for c, configurata in righe[:limit]],
        limit=limit,
        offset=offset,
        has_more=len(righe) > limit,
    )


def get_commessa(session: DbSession, erp: ErpGateway, commessa_id: int) -> CommessaDettaglio[Fase]:
    """The order card for an ERP ID, in any ERP state.

    Raises NotFound when the ERP has no such order, ErpUnavailable when it does not answer.
    """
    commessa = erp.get(commessa_id)
    if commessa is None:
        raise NotFound(N_("La commessa %(id)s non esiste nel gestionale."), id=commessa_id)
    config = session.scalar(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id == commessa_id))
    fasi = list(
        session.scalars(
            select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa_id).order_by(FaseTipo.ordine)
        )
    )
    scostamento = scostamenti_di(session, [commessa]).get(commessa_id) if config else None
    return CommessaDettaglio(commessa=commessa, config=config, fasi=fasi, scostamento=scostamento)
