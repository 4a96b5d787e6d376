"""R14 — the draws (``LottiOrigini``) that the lotti operations keep, inside their own transaction.

The rules are in ``domain/origini.py``; this module reads and writes them. Every caller
already holds the lock that makes the draws of a fase change one operation at a time:
an open, a close or a cancellation locks the drawing lotto's fase (``lotti._fase_bloccata``),
a correction locks every fase of the order (``configurazione.fasi_bloccate``). Draws from
the sources of fase P change only through lotti of the fase after P, so two terminals
opening at the same instant draw one after the other and never share a source's last
pieces; on SQLite every writer holds the database's write lock from BEGIN.

``ricostruisci_storico`` rebuilds the draws of lotti recorded before R14 (migration 0012,
the demo, the reference data set) on a plain connection.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, ScalarSelect, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute

from asigest.domain import origini as regole
from asigest.errors import N_, InvalidInput, RuleViolation
from asigest.models import Fase, FaseTipo, Lotto, LottoOrigine
from asigest.services.chunks import chunked
from asigest.services.uow import DbSession

_CAMPO = "Origini"
_ORDINI_PER_GIRO = 500
_CORREGGERE = N_("Correggere i lotti di origine indicati e riprovare.")


@dataclass(frozen=True)
class Scelta:
    """A source the operator named: its CodiceLotto and how many pieces (None: as many
    as it still has, up to what the lotto needs)."""

    codice_lotto: str
    qta: int | None = None


# -- reading ---------------------------------------------------------------------------


def precedente_in(ordinate: list[int], fase_id: int) -> int | None:
    """The id before ``fase_id`` in an order's fase ids in flow order (FaseTipo.Ordine), None for the first."""
    posto = ordinate.index(fase_id) if fase_id in ordinate else 0
    return ordinate[posto - 1] if posto > 0 else None


def fase_precedente(session: DbSession, fase: Fase) -> Fase | None:
    """The enabled fase before ``fase`` in its order's flow (FaseTipo.Ordine), None for the first.

    Reads only the ids (the open has the order's fasi in the session already, R5)."""
    ids = session.scalars(
        select(Fase.id)
        .join(FaseTipo, FaseTipo.id == Fase.fase_tipo_id)
        .where(Fase.commessa_erp_id == fase.commessa_erp_id)
        .order_by(FaseTipo.ordine, FaseTipo.id)
    ).all()
    posto = ids.index(fase.id) if fase.id in ids else 0
    return session.get(Fase, ids[posto - 1]) if posto > 0 else None


def _dato(lotto_col: InstrumentedAttribute[int] | ColumnElement[int]) -> ScalarSelect[int]:
    """Σ Qta drawn from the source ``lotto_col`` (a correlated subquery on IX_LottiOrigini_LottoOrigineID)."""
    return (
        select(func.coalesce(func.sum(LottoOrigine.qta), 0))
        .where(LottoOrigine.lotto_origine_id == lotto_col)
        .scalar_subquery()
    )


def fonti(session: DbSession, fase_precedente_id: int) -> list[regole.Fonte]:
    """Closed lotti of a fase that still have pieces to give, oldest close first (FIFO)."""
    session.flush()  # what the caller changed counts (the read below does not autoflush)
    return list(_fonti_con_codici(session, fase_precedente_id))


def _fonti_con_codici(session: DbSession, fase_precedente_id: int) -> dict[regole.Fonte, str]:
    """``fonti`` with each one's CodiceLotto (for the audit row), in the same order.
    Read on the transaction's connection (Core: plain columns, no ORM result), with
    nothing of the session left to flush: an open reads it before it writes."""
    righe = session.connection().execute(_FONTI, {"fase": fase_precedente_id}).all()
    return {regole.Fonte(lotto_id, int(residuo or 0)): codice for lotto_id, residuo, codice in righe}


# Built once (every open and close runs them): building cost more than running. Only the
# sources with pieces left come back: the exhausted ones (most of a long-running
# order's) were fetched and dropped in Python at every open. QtaOutput is set on every
# closed lotto (R7), so the residue is a number.
_RESIDUO = Lotto.qta_output - _dato(Lotto.id)
_FONTI = (
    select(Lotto.id, _RESIDUO, Lotto.codice_lotto)
    .where(Lotto.fase_id == bindparam("fase"), Lotto.data_fine.is_not(None), _RESIDUO > 0)
    .order_by(Lotto.data_fine, Lotto.id)
)
# The sources a FIFO draw of ``qta`` pieces takes from the fase ``precedente`` (bound
# parameters), oldest first, as a subquery another statement joins: services/lotti.py
# reads them with the order's fasi, one statement less per open. Only those the draw
# reaches (the pieces before each one fall short of ``qta``), not every source with
# pieces left: a phase that produced ahead has thousands, and each row cost Python
# work. Order them by ``chiusa``, ``fonte``. Named sources are not in it.
_CON_PEZZI = (
    select(
        Lotto.fase_id.label("fase"),
        Lotto.id.label("fonte"),
        _RESIDUO.label("residuo"),
        Lotto.codice_lotto.label("codice"),
        Lotto.data_fine.label("chiusa"),
    )
    .where(Lotto.fase_id == bindparam("precedente"), Lotto.data_fine.is_not(None), _RESIDUO > 0)
    .subquery("con_pezzi")
)
_IN_FILA = select(
    _CON_PEZZI,
    (
        func.sum(_CON_PEZZI.c.residuo).over(order_by=(_CON_PEZZI.c.chiusa, _CON_PEZZI.c.fonte)) - _CON_PEZZI.c.residuo
    ).label("prima"),
).subquery("in_fila")
FONTI_DI = (
    select(_IN_FILA.c.fase, _IN_FILA.c.fonte, _IN_FILA.c.residuo, _IN_FILA.c.codice, _IN_FILA.c.chiusa)
    .where(_IN_FILA.c.prima < bindparam("qta"))
    .subquery("fonti")
)


def prelievi(session: DbSession, lotto_id: int) -> list[tuple[int, int]]:
    """``(LottoOrigineID, Qta)`` of a lotto's draws, oldest draw first."""
    return [
        (sorgente, qta)
        for sorgente, qta in session.execute(
            select(LottoOrigine.lotto_origine_id, LottoOrigine.qta)
            .where(LottoOrigine.lotto_id == lotto_id)
            .order_by(LottoOrigine.id)
        )
    ]


def origini_dict(session: DbSession, lotto_id: int) -> list[dict[str, object]]:
    """A lotto's draws as its audit rows keep them: ``[{"CodiceLotto", "Qta"}]``, oldest first."""
    righe = session.execute(
        select(Lotto.codice_lotto, LottoOrigine.qta)
        .join(Lotto, Lotto.id == LottoOrigine.lotto_origine_id)
        .where(LottoOrigine.lotto_id == lotto_id)
        .order_by(LottoOrigine.id)
    )
    return [{"CodiceLotto": codice, "Qta": qta} for codice, qta in righe]


# -- opening ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Piano:
    """What a new lotto draws: ``{LottoOrigineID: Qta}`` in draw order, and the sources' codes."""

    presi: dict[int, int]
    codici: dict[int, str]

    def origini(self) -> list[dict[str, object]]:
        """The draws as the audit row keeps them (``origini_dict``'s shape)."""
        return [{"CodiceLotto": self.codici[sorgente], "Qta": qta} for sorgente, qta in self.presi.items()]


def piano_apertura(
    session: DbSession,
    fase: Fase,
    precedente_id: int | None,
    qta_input: int,
    scelte: list[Scelta] | None,
    *,
    fonti_lette: dict[regole.Fonte, str] | None = None,
) -> Piano:
    """What a new lotto of ``fase`` taking ``qta_input`` pieces draws from the fase
    ``precedente_id`` before it (``precedente_in``) — nothing for the first fase. The
    named sources first, in the order given, then FIFO. ``fonti_lette``: that fase's
    sources a FIFO draw of ``qta_input`` reaches, with their codes (``FONTI_DI``), when
    the caller read them under the fase's lock already and named none; else they are
    read here.

    Raises InvalidInput on "Origini" with its own code: ORIGINI_PRIMA_FASE,
    ORIGINE_RIPETUTA, ORIGINI_OLTRE_QUANTITA, ORIGINE_SCONOSCIUTA, ORIGINE_ALTRA_COMMESSA,
    ORIGINE_FASE_SBAGLIATA, ORIGINE_APERTA, ORIGINE_ESAURITA, ORIGINE_INSUFFICIENTE.
    """
    # A label read by a scanner or typed: the code as printed, whatever the case.
    scelte = [Scelta(s.codice_lotto.strip().upper(), s.qta) for s in scelte or []]
    if precedente_id is None:
        if scelte:
            raise _origine_non_valida(
                N_(
                    "Questa è la prima fase della commessa: i suoi pezzi vengono dall'ordine, non da altri lotti. "
                    "Togliere i lotti di origine."
                ),
                "ORIGINI_PRIMA_FASE",
            )
        return Piano({}, {})
    codici = [s.codice_lotto for s in scelte]
    if len(set(codici)) != len(codici):
        raise _origine_non_valida(
            N_("Ogni lotto di origine va indicato una volta sola: unire le quantità dello stesso lotto."),
            "ORIGINE_RIPETUTA",
        )
    if sum(s.qta or 0 for s in scelte) > qta_input:
        raise _origine_non_valida(
            N_("Le quantità dei lotti di origine superano i %(qta)s pezzi del lotto: ridurle."),
            "ORIGINI_OLTRE_QUANTITA",
            qta=qta_input,
        )
    lette = fonti_lette if fonti_lette is not None and not scelte else None
    con_codici = lette if lette is not None else _fonti_con_codici(session, precedente_id)
    disponibili = list(con_codici)
    scelte_id = [(_fonte_scelta(session, s, fase, precedente_id, disponibili), s.qta) for s in scelte]
    presi, _ = regole.preleva(disponibili, qta_input, scelte_id)
    return Piano(presi, {f.lotto_id: codice for f, codice in con_codici.items()})


def _fonte_scelta(
    session: DbSession, scelta: Scelta, fase: Fase, precedente_id: int, disponibili: list[regole.Fonte]
) -> int:
    codice = scelta.codice_lotto
    sorgente = session.scalar(select(Lotto).where(Lotto.codice_lotto == codice))
    if sorgente is None:
        raise _origine_non_valida(
            N_("Il lotto di origine %(codice)s non esiste: controllare l'etichetta."),
            "ORIGINE_SCONOSCIUTA",
            codice=codice,
        )
    if sorgente.fase.commessa_erp_id != fase.commessa_erp_id:
        raise _origine_non_valida(
            N_("Il lotto %(codice)s è di un'altra commessa: usare un lotto di questa commessa."),
            "ORIGINE_ALTRA_COMMESSA",
            codice=codice,
        )
    if sorgente.fase_id != precedente_id:
        precedente = session.get(Fase, precedente_id)
        raise _origine_non_valida(
            N_("Il lotto %(codice)s non è della fase %(fase)s, quella prima di questa: usare un lotto di quella fase."),
            "ORIGINE_FASE_SBAGLIATA",
            codice=codice,
            fase=precedente.fase_tipo.codice if precedente else "?",
        )
    if sorgente.data_fine is None:
        raise _origine_non_valida(
            N_("Il lotto %(codice)s è ancora aperto: chiuderlo prima di usarne i pezzi."),
            "ORIGINE_APERTA",
            codice=codice,
        )
    residuo = next((f.residuo for f in disponibili if f.lotto_id == sorgente.id), 0)
    if residuo == 0:
        raise _origine_non_valida(
            N_("Il lotto %(codice)s ha già dato tutti i suoi pezzi: sceglierne un altro."),
            "ORIGINE_ESAURITA",
            codice=codice,
        )
    if scelta.qta is not None and scelta.qta > residuo:
        raise _origine_non_valida(
            N_("Il lotto %(codice)s ha ancora solo %(residuo)s pezzi da dare: indicarne al massimo tanti."),
            "ORIGINE_INSUFFICIENTE",
            codice=codice,
            residuo=residuo,
        )
    return sorgente.id


def _origine_non_valida(messaggio: str, code: str, **params: object) -> InvalidInput:
    return InvalidInput({_CAMPO: [_CORREGGERE]}, message=messaggio, code=code, **params)


def registra(session: DbSession, lotto_id: int, presi: dict[int, int]) -> None:
    """Insert a new lotto's draws, in draw order (OrigineID keeps it): one Core INSERT."""
    if presi:
        # On the connection: the ORM's bulk path (and its autoflush) cost more than the INSERT.
        session.connection().execute(
            _REGISTRA,
            [{"LottoID": lotto_id, "LottoOrigineID": sorgente, "Qta": qta} for sorgente, qta in presi.items()],
        )


_TABELLA = LottoOrigine.__table__
assert isinstance(_TABELLA, Table)  # (typed FromClause: a declarative model's own Table)
_REGISTRA = insert(_TABELLA)


# -- closing, correcting, cancelling -----------------------------------------------------


def allinea(
    session: DbSession, lotto: Lotto, precedente: Fase | int | None, attuali: list[tuple[int, int]] | None = None
) -> int:
    """Make a lotto's draws add up to what it consumes (R5): give back the excess, newest
    draw first (a short close, a correction down), or draw what is missing FIFO (a
    correction up). Returns the pieces that found no source (0 when the draws are whole).
    A lotto of the first fase has no draws. ``precedente``: the fase before (or its id);
    ``attuali``: its draws (``prelievi``) when the caller has read them already."""
    if precedente is None:
        return 0
    precedente_id = precedente if isinstance(precedente, int) else precedente.id
    if attuali is None:
        attuali = prelievi(session, lotto.id)
    differenza = regole.LottoStorico(
        lotto.id, lotto.data_inizio, lotto.data_fine, lotto.qta_input, lotto.qta_output, lotto.qta_scarti
    ).consumata - sum(q for _, q in attuali)
    if differenza < 0:
        for sorgente, nuova in regole.restituisci(attuali, -differenza).items():
            condizione = (LottoOrigine.lotto_id == lotto.id, LottoOrigine.lotto_origine_id == sorgente)
            if nuova == 0:
                session.execute(delete(LottoOrigine).where(*condizione).execution_options(synchronize_session=False))
            else:
                session.execute(
                    update(LottoOrigine)
                    .where(*condizione)
                    .values(qta=nuova)
                    .execution_options(synchronize_session=False)
                )
        return 0
    if differenza == 0:
        return 0
    presi, manca = regole.preleva(fonti(session, precedente_id), differenza)
    gia = dict(attuali)
    for sorgente, qta in presi.items():
        if sorgente in gia:
            session.execute(
                update(LottoOrigine)
                .where(LottoOrigine.lotto_id == lotto.id, LottoOrigine.lotto_origine_id == sorgente)
                .values(qta=gia[sorgente] + qta)
                .execution_options(synchronize_session=False)
            )
        else:
            session.add(LottoOrigine(lotto_id=lotto.id, lotto_origine_id=sorgente, qta=qta))
    session.flush()
    return manca


def mancanti(session: DbSession, lotto: Lotto) -> int:
    """Pieces a lotto consumes that no draw accounts for (lotti of before R14 the history
    could not place); 0 for the first fase's lotti is the caller's to know."""
    tirati = session.scalars(
        select(func.coalesce(func.sum(LottoOrigine.qta), 0)).where(LottoOrigine.lotto_id == lotto.id)
    ).one()
    consumata = lotto.qta_input if lotto.data_fine is None else (lotto.qta_output or 0) + (lotto.qta_scarti or 0)
    return max(0, consumata - int(tirati))


def controlla_fonte(session: DbSession, lotto: Lotto, qta_output: int, qta_output_prima: int | None) -> None:
    """A correction may not leave a source having given more than its QtaOutput (R14):
    refused when such an excess appears or grows (one left by data written outside the
    services does not block a correction that does not make it worse).

    Raises RuleViolation RETTIFICA_SOTTO_PRELIEVI, naming the lotti that drew from it.
    """
    righe = session.execute(
        select(Lotto.codice_lotto, LottoOrigine.qta)
        .join(Lotto, Lotto.id == LottoOrigine.lotto_id)
        .where(LottoOrigine.lotto_origine_id == lotto.id)
        .order_by(Lotto.codice_lotto)
    ).all()
    dati = sum(q for _, q in righe)
    if dati - qta_output > max(0, dati - (qta_output_prima or 0)):
        raise RuleViolation(
            N_(
                "Il lotto %(codice)s ha già dato %(dati)s pezzi ai lotti %(lotti)s: i pezzi buoni non possono "
                "scendere sotto %(dati)s. Rettificare prima quei lotti."
            ),
            code="RETTIFICA_SOTTO_PRELIEVI",
            codice=lotto.codice_lotto,
            dati=dati,
            lotti=", ".join(c for c, _ in righe),
        )


def elimina(session: DbSession, lotto_id: int) -> None:
    """Remove a cancelled lotto's draws (its pieces go back to their sources)."""
    session.execute(
        delete(LottoOrigine).where(LottoOrigine.lotto_id == lotto_id).execution_options(synchronize_session=False)
    )


# -- history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resoconto:
    """What ``ricostruisci_storico`` did: draws written, later-fase lotti rebuilt, and of
    those the lotti (and pieces) it could not place wholly."""

    prelievi: int
    lotti: int
    lotti_non_collocati: int
    pezzi_non_collocati: int

    def descrivi(self) -> str:
        """One line for the console (migration 0012, ``flask --app wsgi origini``)."""
        testo = f"LottiOrigini: {self.prelievi} prelievi ricostruiti per {self.lotti} lotti delle fasi successive"
        if not self.lotti_non_collocati:
            return testo + "; tutti i pezzi collocati."
        return (
            f"{testo}; {self.lotti_non_collocati} lotti con {self.pezzi_non_collocati} pezzi non collocati "
            "(la fase precedente non aveva abbastanza lotti chiusi prima della loro chiusura)."
        )


def ricostruisci_storico(conn: Connection, *, commesse: list[int] | None = None) -> Resoconto:
    """Rebuild the draws of the lotti recorded before R14 (``domain.origini.ricostruisci``),
    order by order, on ``conn`` (the caller commits); ``commesse`` limits it to those orders.

    A pair of fasi (previous, later) in which some lotto already has draws was recorded
    under R14 and is left as it is, so running it again changes nothing. Orders are read
    a few hundred at a time: memory does not grow with the history.
    """
    lotti_t, fasi_t, tipi_t, origini_t = Lotto.__table__, Fase.__table__, FaseTipo.__table__, LottoOrigine.__table__
    assert isinstance(origini_t, Table)  # (typed FromClause: a declarative model's own Table)
    stmt_fasi = (
        select(fasi_t.c.FaseID, fasi_t.c.CommessaERPId)
        .join(tipi_t, tipi_t.c.FaseTipoID == fasi_t.c.FaseTipoID)
        .order_by(fasi_t.c.CommessaERPId, tipi_t.c.Ordine, tipi_t.c.FaseTipoID)
    )
    if commesse is not None:
        stmt_fasi = stmt_fasi.where(fasi_t.c.CommessaERPId.in_(commesse))
    per_commessa: dict[int, list[int]] = defaultdict(list)
    for fase_id, commessa_id in conn.execute(stmt_fasi):
        per_commessa[commessa_id].append(fase_id)
    ordini = [fasi for fasi in per_commessa.values() if len(fasi) > 1]

    scritti = lotti = non_collocati = pezzi = 0
    for gruppo in chunked(ordini, _ORDINI_PER_GIRO):
        fasi_gruppo = sorted(f for fasi in gruppo for f in fasi)
        per_fase: dict[int, list[regole.LottoStorico]] = defaultdict(list)
        con_prelievi: set[int] = set()
        for ids in chunked(fasi_gruppo):
            stmt = select(
                lotti_t.c.FaseID,
                lotti_t.c.LottoID,
                lotti_t.c.DataInizio,
                lotti_t.c.DataFine,
                lotti_t.c.QtaInput,
                lotti_t.c.QtaOutput,
                lotti_t.c.QtaScarti,
            ).where(lotti_t.c.FaseID.in_(ids))
            for riga in conn.execute(stmt):
                per_fase[riga.FaseID].append(regole.LottoStorico(*riga[1:]))
            con_prelievi.update(
                conn.scalars(
                    select(lotti_t.c.FaseID)
                    .join(origini_t, origini_t.c.LottoID == lotti_t.c.LottoID)
                    .where(lotti_t.c.FaseID.in_(ids))
                    .distinct()
                )
            )
        righe: list[dict[str, object]] = []
        for fasi in gruppo:
            for precedente, fase in zip(fasi, fasi[1:]):
                da_fare = per_fase.get(fase, [])
                if not da_fare or fase in con_prelievi:
                    continue
                esito = regole.ricostruisci(per_fase.get(precedente, []), da_fare)
                righe.extend({"LottoID": a, "LottoOrigineID": b, "Qta": q} for a, b, q in esito.prelievi)
                lotti += len(da_fare)
                non_collocati += len(esito.non_collocati)
                pezzi += sum(esito.non_collocati.values())
        for blocco in chunked(righe, 5000):
            conn.execute(insert(origini_t), list(blocco))
        scritti += len(righe)
    return Resoconto(prelievi=scritti, lotti=lotti, lotti_non_collocati=non_collocati, pezzi_non_collocati=pezzi)


# -- invariants ------------------------------------------------------------------------


def violazioni(session: DbSession) -> list[str]:
    """Every way the draws break R14, described (empty when they hold): a later-fase lotto
    whose draws differ from what it consumes, a first-fase lotto with draws, a source that
    gave more than its QtaOutput, a draw from an open lotto, from another order or from a
    fase that is not the previous one. Reads every lotto: for tests and checks after a
    recovery, not for requests."""
    fasi = session.execute(
        select(Fase.id, Fase.commessa_erp_id)
        .join(FaseTipo, FaseTipo.id == Fase.fase_tipo_id)
        .order_by(Fase.commessa_erp_id, FaseTipo.ordine, FaseTipo.id)
    ).all()
    precedente: dict[int, int | None] = {}
    commessa_di: dict[int, int] = {}
    ultima: dict[int, int] = {}
    for fase_id, commessa_id in fasi:
        precedente[fase_id] = ultima.get(commessa_id)
        ultima[commessa_id] = fase_id
        commessa_di[fase_id] = commessa_id
    lotti = {
        r.LottoID: r
        for r in session.execute(
            select(
                Lotto.id.label("LottoID"),
                Lotto.codice_lotto.label("CodiceLotto"),
                Lotto.fase_id.label("FaseID"),
                Lotto.data_fine.label("DataFine"),
                Lotto.qta_input.label("QtaInput"),
                Lotto.qta_output.label("QtaOutput"),
                Lotto.qta_scarti.label("QtaScarti"),
            )
        )
    }
    tirati: dict[int, int] = defaultdict(int)
    dati: dict[int, int] = defaultdict(int)
    trovate: list[str] = []
    for lotto_id, sorgente_id, qta in session.execute(
        select(LottoOrigine.lotto_id, LottoOrigine.lotto_origine_id, LottoOrigine.qta)
    ):
        tirati[lotto_id] += qta
        dati[sorgente_id] += qta
        lotto, sorgente = lotti[lotto_id], lotti[sorgente_id]
        if sorgente.DataFine is None:
            trovate.append(f"{lotto.CodiceLotto} preleva dal lotto aperto {sorgente.CodiceLotto}")
        if commessa_di[sorgente.FaseID] != commessa_di[lotto.FaseID]:
            trovate.append(f"{lotto.CodiceLotto} preleva da {sorgente.CodiceLotto}, di un'altra commessa")
        elif precedente[lotto.FaseID] != sorgente.FaseID:
            trovate.append(f"{lotto.CodiceLotto} preleva da {sorgente.CodiceLotto}, non della fase precedente")
    for lotto in lotti.values():
        consumata = lotto.QtaInput if lotto.DataFine is None else lotto.QtaOutput + lotto.QtaScarti
        attesa = 0 if precedente[lotto.FaseID] is None else consumata
        if tirati[lotto.LottoID] != attesa:
            trovate.append(f"{lotto.CodiceLotto} ha prelievi per {tirati[lotto.LottoID]} pezzi, ne consuma {attesa}")
        if dati[lotto.LottoID] > (lotto.QtaOutput or 0):
            trovate.append(
                f"{lotto.CodiceLotto} ha dato {dati[lotto.LottoID]} pezzi, ne ha prodotti {lotto.QtaOutput or 0}"
            )
    return trovate
