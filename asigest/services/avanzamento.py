"""Order progress (avanzamento, SPEC §6): the configured orders with their phases, for the
progress page (``/avanzamento``), the API (``/api/avanzamento/``), the dashboard's late and
at-risk orders and the exports.

Which orders: by default every configured order that is open in the ERP — the work in
progress people follow. They are found from the ERP side: its open orders (a few
thousand at most, in one unordered read; only those due within ``GIORNI_A_RISCHIO`` days
when just the late or at-risk ones are asked for), then which of them are configured
(one ``IN`` query per 2,000 ids). That stays the same cost however many closed orders
years of history leave configured; asking the ERP for every configured order instead
(``get_many``) reads them all, 18,000 on the reference data set, four times slower.
``Filtri.tutte`` lists every configured order, also closed ones and any the ERP no longer
has (their ERP fields are empty): that one does read them all.

Then one query (per 2,000 orders) reads their phases with their totals, in flow order:
of every order when a phase filter or the sort by progress needs them,
otherwise only of the orders due within ``GIORNI_A_RISCHIO`` days or overdue (only they
can be late or at risk: ``scadenza_vicina``). Filters, flags and sort are applied in
Python over that set, a page is cut from it, and one more query reads the page's phases
in full (dates included). Nothing is asked per order (no N+1). The text filter matches as
``/api/commesse/search`` does: ``2026/1234``, NUMEROCOM, or part of RIFCOMMCLI, CODART,
DESART or NOMECLIENTE, ignoring case.

Definitions (the rules themselves are in ``asigest.domain.avanzamento``):
- ``in_ritardo``: the due date has passed (today in the plant's zone is after
  DATACONSEGNA) and the last phase in the flow is not COMPLETATA;
- ``a_rischio``: due today or within ``GIORNI_A_RISCHIO`` (7) days and the last phase
  is not COMPLETATA — never together with ``in_ritardo``;
- ``percentuale`` of an order: the mean of its phases' QtaProdotta / QtaPrevista, each
  capped at 100.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from asigest.domain.avanzamento import (
    GIORNI_A_RISCHIO,
    a_rischio,
    in_ritardo,
    percentuale,
    percentuale_commessa,
    scadenza_vicina,
)
from asigest.domain.quantita import ConsumiFase, qta_disponibili
from asigest.erp import Commessa, ErpGateway, parse_numero_commessa
from asigest.models import ConfigCommessa, Fase, FaseTipo
from asigest.services.chunks import chunked
from asigest.services.commesse import Pagina
from asigest.services.configurazione import totali_lotti
from asigest.services.uow import DbSession

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

# Orders per block: one ERP lookup and one IN list each, well under SQL Server's 2,100 parameters.
BLOCCO = 1000

ORDINE_PREDEFINITO = "consegna"
# Sort keys people may ask for; "-" in front reverses them (NULLs stay last either way).
# "ritardo" has one direction: late orders first, then those at risk, then the others.
_CHIAVI = ("consegna", "numero", "cliente", "avanzamento")
ORDINI = (*_CHIAVI, *(f"-{k}" for k in _CHIAVI), "ritardo")
# Sorts that read every order's phases ("ritardo" needs only the flags).
_ORDINI_SULLE_FASI = ("avanzamento", "-avanzamento")


@dataclass(frozen=True)
class Filtri:
    """Which orders to show; together they all apply, except ``in_ritardo`` and
    ``a_rischio``: ticking both shows the orders that are either.

    ``fase_tipo`` / ``stato_fase``: the order has a phase of that type / in that state (the
    same phase when both are given). ``tutte``: also orders closed in the ERP or missing
    from it.
    """

    testo: str | None = None
    in_ritardo: bool = False
    a_rischio: bool = False
    fase_tipo: str | None = None
    stato_fase: str | None = None
    tutte: bool = False


@dataclass(slots=True)
class FaseAvanzamento:
    """One phase of an order with its totals. Its dates are read only for the orders of a
    page, and ``qta_disponibile`` (R5) only when asked for. Plain slots, not frozen: a
    selection builds thousands of them, and frozen dataclasses are five times slower to build."""

    id: int
    fase_tipo: str
    stato: str
    qta_prevista: int
    qta_prodotta: int
    qta_scarti: int
    data_apertura: datetime | None = None
    data_chiusura: datetime | None = None
    qta_disponibile: int | None = None

    @property
    def percentuale(self) -> float:
        """QtaProdotta / QtaPrevista in percent, one decimal (may exceed 100)."""
        return percentuale(self.qta_prodotta, self.qta_prevista)


@dataclass(slots=True)
class CommessaAvanzamento:
    """A configured order's progress: its ERP data (``commessa`` None when the ERP no
    longer has it), its phases in flow order and the flags of the module docstring.

    ``fasi`` is None only inside the selection made for one page, for orders whose phases
    it did not need to read; what this module returns always has them."""

    commessa_erp_id: int
    commessa: Commessa | None
    fasi: tuple[FaseAvanzamento, ...] | None
    in_ritardo: bool
    a_rischio: bool

    @property
    def percentuale(self) -> float:
        """The order's progress: the mean of its phases' percentages, each capped at 100."""
        return percentuale_commessa((f.qta_prodotta, f.qta_prevista) for f in self.fasi_lette)

    @property
    def fasi_lette(self) -> tuple[FaseAvanzamento, ...]:
        """``fasi``, for an order whose phases were read (every one this module returns)."""
        if self.fasi is None:
            raise ValueError(f"fasi della commessa {self.commessa_erp_id} non lette")
        return self.fasi

    @property
    def id(self) -> int:
        return self.commessa_erp_id

    @property
    def esercizio(self) -> int | None:
        return self.commessa.esercizio if self.commessa is not None else None

    @property
    def numerocom(self) -> int | None:
        return self.commessa.numerocom if self.commessa is not None else None

    @property
    def codart(self) -> str | None:
        return self.commessa.codart if self.commessa is not None else None

    @property
    def desart(self) -> str | None:
        return self.commessa.desart if self.commessa is not None else None

    @property
    def nomecliente(self) -> str | None:
        return self.commessa.nomecliente if self.commessa is not None else None

    @property
    def qta(self) -> int | None:
        return self.commessa.qta if self.commessa is not None else None

    @property
    def dataconsegna(self) -> date | None:
        return self.commessa.dataconsegna if self.commessa is not None else None

    @property
    def statocommessa(self) -> str | None:
        return self.commessa.statocommessa if self.commessa is not None else None

    @property
    def aperta(self) -> bool:
        return self.commessa is not None and self.commessa.aperta

    @property
    def numero(self) -> str:
        """``2026/1234`` when the ERP has the order, else its ERP ID (``#1234``)."""
        return self.commessa.numero if self.commessa is not None else f"#{self.commessa_erp_id}"

    @property
    def ultima_fase(self) -> FaseAvanzamento | None:
        """The phase last in the flow: it decides whether the order is done."""
        return self.fasi[-1] if self.fasi else None


@dataclass(frozen=True)
class PaginaAvanzamento(Pagina[CommessaAvanzamento]):
    """A page of orders. ``totale``: orders matching every filter; ``in_ritardo`` /
    ``a_rischio``: how many of the orders matching the other filters (all but those two
    flags) are late / at risk, so the page can offer them as counts."""

    totale: int = 0
    in_ritardo: int = 0
    a_rischio: int = 0


@dataclass(frozen=True)
class Selezione:
    """Every order matching the filters, sorted, with the counts of ``PaginaAvanzamento``."""

    commesse: list[CommessaAvanzamento]
    in_ritardo: int
    a_rischio: int


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


def tipi_fase(session: DbSession) -> list[str]:
    """The phase type codes in flow order (inactive ones too: old orders still have them),
    for the page's filter."""
    return list(session.scalars(select(FaseTipo.codice).order_by(FaseTipo.ordine, FaseTipo.id)))


def leggi_ordine(testo: str | None) -> str:
    """A sort request (``consegna``, ``-avanzamento``, ``ritardo``…) as a known key;
    anything else is the default (due date, soonest first)."""
    testo = (testo or "").strip().lower()
    return testo if testo in ORDINI else ORDINE_PREDEFINITO


def avanzamento_commesse(
    session: DbSession,
    erp: ErpGateway,
    *,
    oggi: date,
    filtri: Filtri = Filtri(),
    ordine: str = ORDINE_PREDEFINITO,
    limit: int = 50,
    offset: int = 0,
    con_disponibile: bool = False,
) -> PaginaAvanzamento:
    """One page of order progress: the configured orders matching ``filtri`` in ``ordine``
    (an unknown sort falls back to the due date, soonest first, orders without one last;
    ties by ERP ID). ``oggi`` is today in the plant's zone. The page's phases come with
    their dates and, with ``con_disponibile``, QtaDisponibile (R5: one aggregate query
    over their lotti).

    Raises ErpUnavailable when the ERP does not answer: without it, which orders are
    open and when they are due is unknown.
    """
    selezione = _seleziona(session, erp, oggi=oggi, filtri=filtri, ordine=ordine, tutte_le_fasi=False)
    offset = max(0, offset)
    items = _dettaglio(session, selezione.commesse[offset : offset + limit], oggi=oggi, con_disponibile=con_disponibile)
    return PaginaAvanzamento(
        items=items,
        limit=limit,
        offset=offset,
        has_more=len(selezione.commesse) > offset + limit,
        totale=len(selezione.commesse),
        in_ritardo=selezione.in_ritardo,
        a_rischio=selezione.a_rischio,
    )


def seleziona_commesse(
    session: DbSession, erp: ErpGateway, *, oggi: date, filtri: Filtri = Filtri(), ordine: str = ORDINE_PREDEFINITO
) -> Selezione:
    """Every configured order matching ``filtri``, sorted by ``ordine`` (see
    ``avanzamento_commesse``), each with its phases (without their dates), and the late /
    at-risk counts. For the dashboard: ``Filtri(in_ritardo=True, a_rischio=True)``,
    ``ordine="ritardo"``.

    Raises ErpUnavailable when the ERP does not answer.
    """
    return _seleziona(session, erp, oggi=oggi, filtri=filtri, ordine=ordine, tutte_le_fasi=True)


def _seleziona(
    session: DbSession, erp: ErpGateway, *, oggi: date, filtri: Filtri, ordine: str, tutte_le_fasi: bool
) -> Selezione:
    """The selection; without ``tutte_le_fasi`` the orders whose phases change nothing in
    it (see below) come with ``fasi`` None, for a page to read its own."""
    ordine = leggi_ordine(ordine)
    # Asked only for late or at-risk orders (the dashboard's panel, the wall screen): only
    # an order due soon can be either, so the ERP is asked for those alone.
    entro = oggi + timedelta(days=GIORNI_A_RISCHIO) if filtri.in_ritardo or filtri.a_rischio else None
    candidate = _candidate(session, erp, tutte=filtri.tutte, entro=entro)
    testo = (filtri.testo or "").strip()
    if testo:
        cerca = _ricerca(testo)
        candidate = {i: c for i, c in candidate.items() if cerca(i, c)}
    da_leggere = list(candidate)
    if not (tutte_le_fasi or filtri.fase_tipo or filtri.stato_fase or ordine in _ORDINI_SULLE_FASI):
        # Only an order due soon (or overdue) can be late or at risk: the phases of the
        # others decide nothing here, and a page of them is read on its own.
        da_leggere = [i for i, c in candidate.items() if c is not None and scadenza_vicina(c.dataconsegna, oggi)]
    fasi = _fasi(session, sorted(da_leggere))
    lette = set(da_leggere)
    commesse = [_commessa(i, c, tuple(fasi.get(i, ())) if i in lette else None, oggi) for i, c in candidate.items()]
    if filtri.fase_tipo or filtri.stato_fase:
        commesse = [c for c in commesse if any(_fase_corrisponde(f, filtri) for f in c.fasi_lette)]
    ritardo = sum(c.in_ritardo for c in commesse)
    rischio = sum(c.a_rischio for c in commesse)
    if filtri.in_ritardo or filtri.a_rischio:
        commesse = [c for c in commesse if (filtri.in_ritardo and c.in_ritardo) or (filtri.a_rischio and c.a_rischio)]
    return Selezione(_ordina(commesse, ordine), ritardo, rischio)


def righe_avanzamento(
    session: DbSession,
    erp: ErpGateway,
    *,
    oggi: date,
    tutte: bool = False,
    filtri: Filtri | None = None,
    ordine: str | None = None,
    blocco: int = BLOCCO,
) -> Iterator[RigaAvanzamento]:
    """The progress of configured orders as one row per fase (fasi in flow order), for exports.

    With neither ``filtri`` nor ``ordine``: the orders open in the ERP (``tutte``: every
    configured one), newest ERP ID first, read ``blocco`` orders at a time. Otherwise the
    orders of the progress page with those filters, in that order (``tutte`` is then
    ``filtri.tutte``). ``oggi`` is today in the plant's zone (for InRitardo).

    Raises ErpUnavailable when the ERP does not answer.
    """
    if filtri is not None or ordine is not None:
        selezione = seleziona_commesse(
            session, erp, oggi=oggi, filtri=filtri or Filtri(), ordine=ordine or ORDINE_PREDEFINITO
        )
        for c in selezione.commesse:
            for f in c.fasi_lette:
                yield RigaAvanzamento(
                    c.commessa_erp_id,
                    c.commessa,
                    f.fase_tipo,
                    f.stato,
                    f.qta_prevista,
                    f.qta_prodotta,
                    f.qta_scarti,
                    c.in_ritardo,
                )
        return
    if not tutte:
        # The open orders are few: read them from the ERP's side, then stream their fasi.
        aperte = _candidate(session, erp, tutte=False)
        ids = sorted(aperte, reverse=True)
        for inizio in range(0, len(ids), blocco):
            yield from _righe(session, ids[inizio : inizio + blocco], aperte, oggi)
        return
    ultimo: int | None = None
    while True:
        stmt = select(ConfigCommessa.commessa_erp_id).order_by(ConfigCommessa.commessa_erp_id.desc()).limit(blocco)
        if ultimo is not None:
            stmt = stmt.where(ConfigCommessa.commessa_erp_id < ultimo)
        ids = list(session.scalars(stmt))
        if not ids:
            return
        ultimo = ids[-1]
        yield from _righe(session, ids, erp.get_many(ids), oggi)


# -- building blocks -------------------------------------------------------------------


def _candidate(
    session: DbSession, erp: ErpGateway, *, tutte: bool, entro: date | None = None
) -> dict[int, Commessa | None]:
    """``{CommessaERPId: Commessa or None}`` of the configured orders to consider (open
    ones due by ``entro`` when given, unless ``tutte``)."""
    if tutte:
        ids = [i for blocco in _config_ids(session) for i in blocco]
        trovate = erp.get_many(ids)  # chunked by the gateway
        return {i: trovate.get(i) for i in ids}
    aperte = _commesse_aperte(erp, entro)
    configurate: dict[int, Commessa | None] = {}
    for chunk in chunked(sorted(aperte)):
        for commessa_id in session.scalars(
            select(ConfigCommessa.commessa_erp_id).where(ConfigCommessa.commessa_erp_id.in_(chunk))
        ):
            configurate[commessa_id] = aperte[commessa_id]
    return configurate


def _config_ids(session: DbSession) -> Iterator[list[int]]:
    """Every configured order's ERP ID, ``BLOCCO`` at a time (keyset, ascending)."""
    ultimo = 0
    while True:
        stmt = (
            select(ConfigCommessa.commessa_erp_id)
            .where(ConfigCommessa.commessa_erp_id > ultimo)
            .order_by(ConfigCommessa.commessa_erp_id)
            .limit(BLOCCO)
        )
        ids = list(session.scalars(stmt))
        if not ids:
            return
        ultimo = ids[-1]
        yield ids


def _commesse_aperte(erp: ErpGateway, entro: date | None = None) -> dict[int, Commessa]:
    """Every order open in the ERP (``entro``: only those due by that day), in one read:
    sorted pages by offset cost four times as much on 3,500 open orders."""
    return {c.id: c for c in erp.all_open(due_by=entro)}


def _ricerca(testo: str) -> Callable[[int, Commessa | None], bool]:
    """A matcher for the text filter, as ``/api/commesse/search`` matches (see module docstring).

    Digits alone also match the ERP ID of an order the ERP no longer has (shown as ``#ID``).
    """
    numero = parse_numero_commessa(testo)
    cifre = int(testo) if testo.isascii() and testo.isdigit() and len(testo) <= 10 else None
    piegato = testo.casefold()

    def corrisponde(commessa_id: int, c: Commessa | None) -> bool:
        if c is None:
            return cifre == commessa_id
        if numero is not None and (c.esercizio, c.numerocom) == numero:
            return True
        if cifre is not None and c.numerocom == cifre:
            return True
        return any(piegato in v.casefold() for v in (c.rifcommcli, c.codart, c.desart, c.nomecliente) if v)

    return corrisponde


def _fasi(session: DbSession, ids: list[int], *, con_date: bool = False) -> dict[int, list[FaseAvanzamento]]:
    """The fasi of the orders ``ids`` in flow order, with their totals: one query per
    2,000 orders. Their dates only ``con_date``: parsing them is a third of the cost on
    thousands of orders, and only a page shows them."""
    tipi = {t.id: (t.codice, t.ordine) for t in session.execute(select(FaseTipo.id, FaseTipo.codice, FaseTipo.ordine))}
    senza_date = select(
        Fase.commessa_erp_id,
        Fase.fase_tipo_id,
        Fase.id,
        Fase.stato,
        Fase.qta_prevista,
        Fase.qta_prodotta,
        Fase.qta_scarti,
    )
    trovate: dict[int, list[tuple[int, int, FaseAvanzamento]]] = {}

    for chunk in chunked(ids):
        dove = Fase.commessa_erp_id.in_(chunk)
        if con_date:
            con_date_righe = session.execute(senza_date.add_columns(Fase.data_apertura, Fase.data_chiusura).where(dove))
            for commessa_id, tipo_id, fase_id, stato, prevista, prodotta, scarti, apertura, chiusura in con_date_righe:
                codice, ordine = tipi[tipo_id]
                fase = FaseAvanzamento(fase_id, codice, stato, prevista, prodotta, scarti, apertura, chiusura)
                trovate.setdefault(commessa_id, []).append((ordine, tipo_id, fase))
        else:
            for commessa_id, tipo_id, fase_id, stato, prevista, prodotta, scarti in session.execute(
                senza_date.where(dove)
            ):
                codice, ordine = tipi[tipo_id]
                fase = FaseAvanzamento(fase_id, codice, stato, prevista, prodotta, scarti)
                trovate.setdefault(commessa_id, []).append((ordine, tipo_id, fase))
    return {i: [f for *_, f in sorted(fasi, key=lambda t: t[:2])] for i, fasi in trovate.items()}


def _commessa(
    commessa_id: int, commessa: Commessa | None, fasi: tuple[FaseAvanzamento, ...] | None, oggi: date
) -> CommessaAvanzamento:
    """The order with its flags; ``fasi`` None (not read) only when they cannot change
    the flags (``scadenza_vicina`` is False)."""
    consegna = commessa.dataconsegna if commessa is not None else None
    ultima = fasi[-1].stato if fasi else None
    return CommessaAvanzamento(
        commessa_erp_id=commessa_id,
        commessa=commessa,
        fasi=fasi,
        in_ritardo=in_ritardo(consegna, oggi, ultima),
        a_rischio=a_rischio(consegna, oggi, ultima),
    )


def _fase_corrisponde(fase: FaseAvanzamento, filtri: Filtri) -> bool:
    return (not filtri.fase_tipo or fase.fase_tipo == filtri.fase_tipo) and (
        not filtri.stato_fase or fase.stato == filtri.stato_fase
    )


def _numero(c: CommessaAvanzamento) -> tuple[int, int] | None:
    # Without either part the number people say is unknown: such orders go last.
    return None if c.esercizio is None or c.numerocom is None else (c.esercizio, c.numerocom)


def _cliente(c: CommessaAvanzamento) -> str | None:
    return (c.nomecliente or "").strip().casefold() or None


def _urgenza(c: CommessaAvanzamento) -> int:
    return 0 if c.in_ritardo else 1 if c.a_rischio else 2


_VALORI: dict[str, Callable[[CommessaAvanzamento], SupportsRichComparison | None]] = {
    "consegna": lambda c: c.dataconsegna,
    "numero": _numero,
    "cliente": _cliente,
    "avanzamento": lambda c: c.percentuale,
    "ritardo": _urgenza,
}


def _ordina(commesse: list[CommessaAvanzamento], ordine: str) -> list[CommessaAvanzamento]:
    """Sort by ``ordine``; orders without the value (NULL in the ERP) last in either
    direction, ties by due date (soonest first, none last) and then ERP ID.

    Python's sort is stable, also with ``reverse``: the first pass sets the tie order.
    """
    base = sorted(commesse, key=lambda c: (c.dataconsegna is None, c.dataconsegna or date.min, c.commessa_erp_id))
    chiave = ordine.removeprefix("-")
    if ordine == "consegna":
        return base
    valore = _VALORI[chiave]
    con = [(v, c) for c in base if (v := valore(c)) is not None]
    senza = [c for c in base if valore(c) is None]
    con.sort(key=lambda vc: vc[0], reverse=ordine.startswith("-"))
    return [c for _v, c in con] + senza


def _dettaglio(
    session: DbSession, commesse: list[CommessaAvanzamento], *, oggi: date, con_disponibile: bool
) -> list[CommessaAvanzamento]:
    """The page's orders with their phases read again in full (dates included) and, when
    asked, QtaDisponibile (R5): one query per 2,000 orders, plus one aggregate over their lotti."""
    fasi = _fasi(session, [c.commessa_erp_id for c in commesse], con_date=True)
    totali = totali_lotti(session, [f.id for elenco in fasi.values() for f in elenco]) if con_disponibile else {}
    risultato = []
    for c in commesse:
        proprie = fasi.get(c.commessa_erp_id, [])
        if con_disponibile:
            consumi = []
            for f in proprie:
                t = totali.get(f.id)
                consumi.append(
                    ConsumiFase(f.qta_prevista)
                    if t is None
                    else ConsumiFase(
                        f.qta_prevista,
                        output_chiusi=t.output_chiusi,
                        scarti_chiusi=t.scarti_chiusi,
                        input_aperti=t.input_aperti,
                    )
                )
            for f, disponibile in zip(proprie, qta_disponibili(consumi)):
                f.qta_disponibile = disponibile
        risultato.append(_commessa(c.commessa_erp_id, c.commessa, tuple(proprie), oggi))
    return risultato


def _righe(
    session: DbSession, ids: list[int], commesse: Mapping[int, Commessa | None], oggi: date
) -> Iterator[RigaAvanzamento]:
    """The fase rows of ``ids`` (newest ERP ID first); orders without fasi give none."""
    fasi = _fasi(session, ids)
    for commessa_id in sorted(fasi, reverse=True):
        c = _commessa(commessa_id, commesse.get(commessa_id), tuple(fasi[commessa_id]), oggi)
        for f in c.fasi_lette:
            yield RigaAvanzamento(
                commessa_id,
                c.commessa,
                f.fase_tipo,
                f.stato,
                f.qta_prevista,
                f.qta_prodotta,
                f.qta_scarti,
                c.in_ritardo,
            )
