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

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import joinedload

from asigest.domain.lotti import leggi_scansione
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, InvalidInput, NotFound
from asigest.models import DocumentoTecnico, Fase, FaseTipo, LogEvento, Lotto, LottoOrigine
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

    nodi = _espandi(session, [Nodo(radice, direzione)], direzione)
    _documenti(session, erp, nodi)
    _rettifiche(session, nodi)
    return nodi[0]


def _espandi(session: DbSession, radici: list[Nodo], direzione: str) -> list[Nodo]:
    """Link every node to the lotti at the other end of its draws, recursively, reading
    the draws level by level; returns every node, the roots first. A lotto reached twice
    is one node under each lotto that reaches it (roots included)."""
    nodi = list(radici)
    per_id: dict[int, Nodo] = {n.lotto.id: n for n in radici}
    livello = list(radici)
    # Each level is one fase further from the roots; the flow has few fasi, so few levels.
    while livello:
        archi = _archi(session, [n.lotto.id for n in livello], direzione)
        nuovi_ids = sorted({altro for _, altro, _ in archi} - per_id.keys())
        altri = _lotti(session, nuovi_ids)
        prossimo = [Nodo(altri[lotto_id], direzione) for lotto_id in nuovi_ids]
        per_id.update((n.lotto.id, n) for n in prossimo)
        da = {n.lotto.id: n for n in livello}
        for lotto_id, altro, qta in archi:
            da[lotto_id].collegati.append((per_id[altro], qta))
        nodi.extend(prossimo)
        livello = prossimo
    return nodi


# -- a whole order ---------------------------------------------------------------------

_ID_ERP = re.compile(r"^\s*id\s*[:#]?\s*(\d{1,9})\s*$", re.I)


def commessa_cercata(erp: ErpGateway, testo: str, *, anno_corrente: int) -> int | None:
    """The ERP ID of the order ``testo`` names — ``2026/1234``, ``1234`` (this year), as
    the kiosk reads them, or ``ID 101`` (the ERP's own ID) — or None when ``testo`` is
    not an order (a lotto code, read by ``traccia``).

    Raises NotFound (no such order in the ERP), ErpUnavailable.
    """
    scansione = leggi_scansione(testo)
    if scansione is not None and scansione.numerocom is not None:
        commessa = erp.get_by_numero(scansione.esercizio or anno_corrente, scansione.numerocom)
    elif (trovato := _ID_ERP.match(testo or "")) is not None:
        commessa = erp.get(int(trovato.group(1)))
    else:
        return None
    if commessa is None:
        raise NotFound(N_("Commessa %(testo)s non trovata nel gestionale: controllare il numero."), testo=testo.strip())
    return commessa.id


@dataclass(frozen=True)
class FaseTraccia:
    """One fase of an order in its trace: how many lotti and pieces."""

    codice: str
    lotti: int
    aperti: int
    qta_input: int
    qta_output: int
    qta_scarti: int


@dataclass(frozen=True)
class TracciaCommessa:
    """Every lotto of an order as one tree: ``radici`` are the lotti that drew from no
    other lotto — the first fase's, then (``senza_origine``) any later one recorded with
    no draws (history the rebuild could not place) — each with its forward chain."""

    commessa_id: int
    commessa: Commessa | None
    fasi: list[FaseTraccia]
    radici: list[Nodo]
    prima_fase_id: int

    def senza_origine(self, nodo: Nodo) -> bool:
        return bool(nodo.lotto.fase_id != self.prima_fase_id)


def traccia_commessa(session: DbSession, erp: ErpGateway, commessa_id: int) -> TracciaCommessa:
    """The trace of every lotto of order ``commessa_id`` (ERP ID), forward from its first
    fase, with each fase's totals.

    Raises NotFound (no production fasi for that order), ErpUnavailable (as ``traccia``).
    """
    fasi = session.scalars(
        select(Fase)
        .join(FaseTipo, FaseTipo.id == Fase.fase_tipo_id)
        .where(Fase.commessa_erp_id == commessa_id)
        .order_by(FaseTipo.ordine, FaseTipo.id)
    ).all()
    if not fasi:
        raise NotFound(
            N_("La commessa %(commessa)s non è configurata per la produzione: non ha lotti da tracciare."),
            commessa=commessa_id,
        )
    posto = {f.id: i for i, f in enumerate(fasi)}
    lotti = _lotti(session, list(session.scalars(select(Lotto.id).where(Lotto.fase_id.in_(list(posto))))))
    con_prelievi: set[int] = set()
    for chunk in chunked(sorted(lotti)):
        con_prelievi.update(session.scalars(select(LottoOrigine.lotto_id).where(LottoOrigine.lotto_id.in_(chunk))))
    ordinati = sorted(lotti.values(), key=lambda lt: (posto[lt.fase_id], lt.data_inizio, lt.id))
    radici = [Nodo(lotto, AVANTI) for lotto in ordinati if lotto.id not in con_prelievi]
    nodi = _espandi(session, radici, AVANTI)
    _documenti(session, erp, nodi)
    _rettifiche(session, nodi)
    riepilogo = []
    for fase in fasi:
        suoi = [lt for lt in ordinati if lt.fase_id == fase.id]
        riepilogo.append(
            FaseTraccia(
                codice=fase.fase_tipo.codice,
                lotti=len(suoi),
                aperti=sum(1 for lt in suoi if lt.data_fine is None),
                qta_input=sum(lt.qta_input for lt in suoi),
                qta_output=sum(lt.qta_output or 0 for lt in suoi),
                qta_scarti=sum(lt.qta_scarti or 0 for lt in suoi),
            )
        )
    return TracciaCommessa(commessa_id, erp.get(commessa_id), riepilogo, radici, fasi[0].id)


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


def righe_commessa(traccia: TracciaCommessa) -> list[RigaTraccia]:
    """An order's trace depth-first: each root at level 0, each lotto under every lotto
    it drew from (one row per draw)."""
    trovate: list[RigaTraccia] = []

    def visita(nodo: Nodo, livello: int, padre: str | None, qta: int | None) -> None:
        trovate.append(RigaTraccia(nodo.direzione, livello, nodo, padre, qta))
        for altro, quanti in nodo.collegati:
            visita(altro, livello + 1, nodo.lotto.codice_lotto, quanti)

    for radice in traccia.radici:
        visita(radice, 0, None, None)
    return trovate


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
