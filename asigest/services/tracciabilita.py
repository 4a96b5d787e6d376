"""SPEC §12 — a lotto's genealogy: backward to the first fase, forward to every lotto it fed.

``traccia`` answers one node — the lotto, the technical documents current for its order
or article when it opened, its corrections — with, by direction, the lotti it drew from
(``indietro``) or the lotti that drew from it (``avanti``), each with the pieces drawn,
recursively to the end of the chain. The tree is read level by level (one query per
level for the draws, one for their lotti, one for the corrections), never lotto by lotto.

A lotto reached by two paths (two PTH lotti that drew from one SMD lotto) appears under
each: the tree is what an auditor reads, not a graph to deduplicate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import joinedload

from asigest.erp import ErpGateway
from asigest.errors import N_, InvalidInput, NotFound
from asigest.models import DocumentoTecnico, Fase, LogEvento, Lotto, LottoOrigine
from asigest.services.chunks import chunked
from asigest.services.rettifiche import RETTIFICA
from asigest.services.uow import DbSession

INDIETRO, AVANTI = "indietro", "avanti"
DIREZIONI = (INDIETRO, AVANTI)


@dataclass
class Nodo:
    """One lotto of a trace; ``collegati`` are ``(node, QtaPrelevata)`` in draw order, the
    sources (``indietro``) or the lotti fed (``avanti``). The lotto's own attributes read
    through the node (``nodo.codice_lotto``), so it serialises as a lotto does."""

    lotto: Lotto
    direzione: str
    documenti: list[DocumentoTecnico] = field(default_factory=list)
    rettifiche: list[LogEvento] = field(default_factory=list)
    collegati: list[tuple[Nodo, int]] = field(default_factory=list)

    def __getattr__(self, nome: str) -> Any:
        if nome == "lotto":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(nome)
        return getattr(self.lotto, nome)


def traccia(session: DbSession, erp: ErpGateway, codice_lotto: str, *, direzione: str = INDIETRO) -> Nodo:
    """The trace of the lotto ``codice_lotto`` (any case) in ``direzione`` (``indietro``:
    its sources, down to the first fase; ``avanti``: the lotti that drew from it).

    Raises NotFound (unknown code), InvalidInput (direzione), ErpUnavailable (the
    documents of an article need the orders' CODART from the ERP).
    """
    if direzione not in DIREZIONI:
        raise InvalidInput({"direzione": [N_("Usare indietro o avanti.")]})
    codice = (codice_lotto or "").strip().upper()
    radice = session.scalar(select(Lotto).where(Lotto.codice_lotto == codice))
    if radice is None:
        raise NotFound(N_("Il lotto %(codice)s non esiste: controllare il codice sull'etichetta."), codice=codice)

    nodi: list[Nodo] = [Nodo(radice, direzione)]
    livello = [nodi[0]]
    # Each level is one fase further from the root; the flow has few fasi, so few levels.
    visti = {radice.id}
    while livello:
        ids = [n.lotto.id for n in livello]
        archi = _archi(session, ids, direzione)
        altri_ids = sorted({altro for _, altro, _ in archi} - visti)
        altri = _lotti(session, altri_ids)
        per_id: dict[int, Nodo] = {}
        prossimo: list[Nodo] = []
        for lotto_id in altri_ids:
            nodo = Nodo(altri[lotto_id], direzione)
            per_id[lotto_id] = nodo
            prossimo.append(nodo)
        da = {n.lotto.id: n for n in livello}
        for lotto_id, altro, qta in archi:
            if altro in per_id:
                da[lotto_id].collegati.append((per_id[altro], qta))
        visti.update(altri_ids)
        nodi.extend(prossimo)
        livello = prossimo

    _documenti(session, erp, nodi)
    _rettifiche(session, nodi)
    return nodi[0]


def _archi(session: DbSession, ids: list[int], direzione: str) -> list[tuple[int, int, int]]:
    """``(lotto in ids, the lotto at the other end, Qta)`` in draw order."""
    if direzione == INDIETRO:
        vicino, lontano = LottoOrigine.lotto_id, LottoOrigine.lotto_origine_id
    else:
        vicino, lontano = LottoOrigine.lotto_origine_id, LottoOrigine.lotto_id
    archi: list[tuple[int, int, int]] = []
    for chunk in chunked(ids):
        archi.extend(
            (a, b, q)
            for a, b, q in session.execute(
                select(vicino, lontano, LottoOrigine.qta).where(vicino.in_(chunk)).order_by(vicino, LottoOrigine.id)
            )
        )
    return archi


def _lotti(session: DbSession, ids: list[int]) -> dict[int, Lotto]:
    trovati: dict[int, Lotto] = {}
    for chunk in chunked(ids):
        stmt = select(Lotto).where(Lotto.id.in_(chunk)).options(joinedload(Lotto.fase).joinedload(Fase.fase_tipo))
        trovati.update({lt.id: lt for lt in session.scalars(stmt).unique()})
    return trovati


def _documenti(session: DbSession, erp: ErpGateway, nodi: list[Nodo]) -> None:
    """The documents each lotto's order or article had when the lotto opened: uploaded
    before its DataInizio and not deleted by then (a deleted document keeps its record,
    ``documenti.delete_documento``). One query for every node, not one per lotto."""
    commesse = sorted({n.lotto.fase.commessa_erp_id for n in nodi})
    articoli = {cid: c.codart for cid, c in erp.get_many(commesse).items() if c.codart}
    condizioni: list[ColumnElement[bool]] = [DocumentoTecnico.commessa_erp_id.in_(commesse)]
    if articoli:
        condizioni.append(
            DocumentoTecnico.codart.in_(sorted(set(articoli.values()))) & DocumentoTecnico.commessa_erp_id.is_(None)
        )
    documenti = session.scalars(
        select(DocumentoTecnico).where(or_(*condizioni)).order_by(DocumentoTecnico.tipo, DocumentoTecnico.id)
    ).all()
    per_commessa: dict[int, list[DocumentoTecnico]] = defaultdict(list)
    per_articolo: dict[str, list[DocumentoTecnico]] = defaultdict(list)
    for doc in documenti:
        if doc.commessa_erp_id is not None:
            per_commessa[doc.commessa_erp_id].append(doc)
        elif doc.codart is not None:
            per_articolo[doc.codart].append(doc)
    for nodo in nodi:
        commessa = nodo.lotto.fase.commessa_erp_id
        articolo = articoli.get(commessa)
        validi = per_commessa.get(commessa, []) + (per_articolo.get(articolo, []) if articolo else [])
        inizio = nodo.lotto.data_inizio
        nodo.documenti = sorted(
            (
                d
                for d in validi
                if d.data_caricamento <= inizio and (d.data_eliminazione is None or d.data_eliminazione > inizio)
            ),
            key=lambda d: (d.tipo, d.id),
        )


def _rettifiche(session: DbSession, nodi: list[Nodo]) -> None:
    """Each lotto's corrections (R10) from its audit rows, oldest first."""
    per_lotto: dict[int, list[LogEvento]] = defaultdict(list)
    for chunk in chunked(sorted({n.lotto.id for n in nodi})):
        for evento in session.scalars(
            select(LogEvento)
            .where(LogEvento.entita == "Lotti", LogEvento.azione == RETTIFICA, LogEvento.entita_id.in_(chunk))
            .order_by(LogEvento.id)
        ):
            if evento.entita_id is not None:  # every LOTTO_RETTIFICATO row names its lotto
                per_lotto[evento.entita_id].append(evento)
    for nodo in nodi:
        nodo.rettifiche = per_lotto.get(nodo.lotto.id, [])


# -- the trace as rows (Excel export) ------------------------------------------------------


@dataclass(frozen=True)
class RigaTraccia:
    """One lotto of a trace, flattened: which direction, how far from the scanned lotto,
    the lotto it is linked to there and the pieces drawn."""

    direzione: str
    livello: int
    nodo: Nodo
    collegato_a: str | None
    qta_prelevata: int | None


def righe(*radici: Nodo) -> list[RigaTraccia]:
    """The nodes of the traces depth-first, the scanned lotto first (once)."""
    trovate: list[RigaTraccia] = []

    def visita(nodo: Nodo, livello: int, padre: str | None, qta: int | None, radice_gia: bool) -> None:
        if livello or not radice_gia:
            trovate.append(RigaTraccia(nodo.direzione, livello, nodo, padre, qta))
        for altro, quanti in nodo.collegati:
            visita(altro, livello + 1, nodo.lotto.codice_lotto, quanti, radice_gia)

    for numero, radice in enumerate(radici):
        visita(radice, 0, None, None, numero > 0)
    return trovate
