"""The KPIs' daily summaries, kept exact in the same transaction as every change to a
lotto, so the dashboard reads a few rows a day instead of every lotto of the period
(SPEC §11: history must not slow the present):

- ``KpiGiorni``: per local day of the plant and phase type, the lotti closed, Σ good,
  Σ scrap and Σ time open (counts, scrap %, first-pass yield, mean duration, the
  30-day chart);
- ``KpiOperatoriGiorni``: per local day and operator who opened the lotti, the lotti
  closed and Σ good (top operators);
- ``KpiScartiGiorni``: per local day, machine and scrap reason, the lotti closed with
  scrap and Σ scrap (the Pareto lists by machine and by reason). A close without scrap
  touches no row of it;
- ``KpiProduzioneGiorni``: per local day, machine and phase type, the lotti closed,
  Σ good and Σ scrap (the OEE's produced and good quantities, SPEC §13).

How they stay exact:

- **Every ORM change** to a lotto (insert, change, delete: demo data, rettifiche, tests)
  is turned into a delta by an ``after_flush`` listener, from the attribute history (the
  columns read here keep their old values: ``active_history``).
- **The close**, which updates the lotto with one guarded Core UPDATE (no ORM history),
  calls ``lotto_chiuso`` itself.
- **Bulk loads** (the benchmark's reference data set) call ``ricostruisci``.
- The days are local to the zone written in KpiRiepilogo. Without that row, or with
  another zone than the plant's, nothing is maintained and ``in_uso`` is False: the
  KPIs read the lotti (exact, slower). ``flask --app wsgi init`` (``assicura``) rebuilds
  them from the lotti when the row is missing or names another zone.
- Concurrency: a delta is applied with ``UPDATE … SET Lotti = Lotti + n`` (no lost
  update); the first lotto of a day inserts the row in a savepoint and, when a
  concurrent transaction inserted it first, updates instead. Rows are touched in one
  order (table, then key), so two closes never wait on each other crosswise. The
  KpiRiepilogo row is read with a shared lock, which a rebuild holds exclusively: a
  close and a rebuild never interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import TypedDict, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Date,
    Delete,
    Insert,
    Update,
    bindparam,
    delete,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstanceState, InstrumentedAttribute, Session, UOWTransaction

from asigest.models import (
    Fase,
    KpiGiorno,
    KpiOperatoreGiorno,
    KpiProduzioneGiorno,
    KpiRiepilogo,
    KpiScartiGiorno,
    Lotto,
)
from asigest.models.types import utcnow
from asigest.services.uow import DbSession, righe_toccate

T = TypeVar("T")

log = logging.getLogger(__name__)

RIGA = 1  # KpiRiepilogo has one row, with this ID
# What the summaries read of a lotto (its fase's type is looked up: a fase's never changes).
_CAMPI = (
    "data_inizio",
    "data_fine",
    "qta_output",
    "qta_scarti",
    "operatore_id",
    "macchina_id",
    "causale_id",
    "fase_id",
)
# KpiScartiGiorni.CausaleID of scrap without a reason (only if R7 was broken).
SENZA_CAUSALE = 0
# Rows per INSERT of a rebuild: at most 6 parameters each, under SQL Server's 2,100.
_BLOCCO = 300


@dataclass(frozen=True)
class Tabella:
    """One summary: its model, the key columns after the day, and the values added up
    (the first is always the lotti counted: a row with none left is deleted)."""

    modello: type[KpiGiorno] | type[KpiOperatoreGiorno] | type[KpiScartiGiorno] | type[KpiProduzioneGiorno]
    chiave: tuple[str, ...]
    valori: tuple[str, ...]


PER_TIPO = Tabella(KpiGiorno, ("fase_tipo_id",), ("lotti", "qta_output", "qta_scarti", "microsecondi"))
PER_OPERATORE = Tabella(KpiOperatoreGiorno, ("operatore_id",), ("lotti", "qta_output"))
PER_SCARTI = Tabella(KpiScartiGiorno, ("macchina_id", "causale_id"), ("lotti", "qta_scarti"))
PER_PRODUZIONE = Tabella(KpiProduzioneGiorno, ("macchina_id", "fase_tipo_id"), ("lotti", "qta_output", "qta_scarti"))
TABELLE = (PER_TIPO, PER_OPERATORE, PER_SCARTI, PER_PRODUZIONE)

# ``{(Tabella, (day, *key)): [values…]}``: what to add to each row.
Delta = dict[tuple[Tabella, tuple[date, *tuple[int, ...]]], list[int]]


class StatoLotto(TypedDict):
    """What the summaries read of a lotto (_CAMPI). The NOT NULL columns are None only in
    a lotto that was never saved, which counts nowhere."""

    data_inizio: datetime | None
    data_fine: datetime | None
    qta_output: int | None
    qta_scarti: int | None
    operatore_id: int | None
    macchina_id: int | None
    causale_id: int | None
    fase_id: int | None


def contributi(
    stato: StatoLotto, fase_tipo_id: int, zona: str
) -> list[tuple[Tabella, tuple[date, *tuple[int, ...]], list[int]]]:
    """What one lotto in ``stato`` (its _CAMPI) of a fase of type ``fase_tipo_id`` adds to
    each summary: nothing while it is open; once closed, to its local day's row of its
    type, of its operator and of its machine and type, and with scrap to its day's row of
    its machine and reason."""
    fine, inizio, operatore = stato["data_fine"], stato["data_inizio"], stato["operatore_id"]
    if fine is None or inizio is None or operatore is None:
        return []
    durata = fine - inizio
    microsecondi = (durata.days * 86_400 + durata.seconds) * 1_000_000 + durata.microseconds
    giorno = fine.astimezone(ZoneInfo(zona)).date()
    buoni, scarti = int(stato["qta_output"] or 0), int(stato["qta_scarti"] or 0)
    righe: list[tuple[Tabella, tuple[date, *tuple[int, ...]], list[int]]] = [
        (PER_TIPO, (giorno, fase_tipo_id), [1, buoni, scarti, microsecondi]),
        (PER_OPERATORE, (giorno, operatore), [1, buoni]),
    ]
    macchina = stato["macchina_id"]
    if macchina is not None:
        righe.append((PER_PRODUZIONE, (giorno, macchina, fase_tipo_id), [1, buoni, scarti]))
    if scarti > 0 and macchina is not None:
        causale = stato["causale_id"] if stato["causale_id"] is not None else SENZA_CAUSALE
        righe.append((PER_SCARTI, (giorno, macchina, causale), [1, scarti]))
    return righe


def _aggiungi(delta: Delta, stato: StatoLotto | None, fase_tipo_id: int | None, zona: str, segno: int) -> None:
    for tabella, chiave, valori in contributi(stato, fase_tipo_id, zona) if stato and fase_tipo_id is not None else []:
        somma = delta.setdefault((tabella, chiave), [0] * len(valori))
        for indice, valore in enumerate(valori):
            somma[indice] += segno * valore


def zona_attiva(conn: Connection | DbSession, *, blocca: bool = False) -> str | None:
    """The zone the summaries' days are local to, or None when they are not kept.
    ``blocca`` takes a shared lock on the row (PostgreSQL, SQL Server) until the
    transaction ends."""
    return conn.execute(_ZONA_BLOCCATA if blocca else _ZONA).scalar()


_ZONA = select(KpiRiepilogo.zona).where(KpiRiepilogo.id == RIGA)
_ZONA_BLOCCATA = _ZONA.with_for_update(read=True)
# The zone under the same shared lock, as a column of another statement: the close reads
# it with its lotto (services/lotti.py), one statement less for every close.
ZONA_CONDIVISA = _ZONA_BLOCCATA.scalar_subquery()


def in_uso(session: DbSession, zona: str) -> bool:
    """True when the summaries are complete for the plant's ``zona`` (the KPIs may read them)."""
    return zona_attiva(session) == zona


def lotto_chiuso(session: DbSession, lotto: Lotto, zona: str | None) -> None:
    """Add a lotto just closed by a Core UPDATE (services/lotti.py) to the summaries.
    ``zona``: what ``ZONA_CONDIVISA`` read in this transaction (None: not kept)."""
    if zona is None:
        return
    delta: Delta = {}
    _aggiungi(delta, _dopo(lotto), lotto.fase.fase_tipo_id, zona, 1)
    applica(session.connection(), delta)


def applica(conn: Connection, delta: Delta) -> None:
    """Add ``delta`` to the summaries, in one order (table, key), dropping emptied rows."""
    for (tabella, (giorno, *chiave)), valori in sorted(
        delta.items(), key=lambda v: (v[0][0].modello.__tablename__, v[0][1])
    ):
        if not any(valori):
            continue
        parametri = {"giorno": giorno, **dict(zip(tabella.chiave, chiave)), **dict(zip(tabella.valori, valori))}
        aggiorna, inserisci, elimina = _istruzioni(tabella)
        if righe_toccate(conn.execute(aggiorna, parametri)) == 0:
            try:
                with conn.begin_nested():
                    conn.execute(inserisci, parametri)
            except IntegrityError:
                # Another transaction wrote the day's first lotto at the same instant.
                conn.execute(aggiorna, parametri)
        if valori[0] < 0:
            conn.execute(elimina, parametri)


@cache
def _istruzioni(tabella: Tabella) -> tuple[Update, Insert, Delete]:
    """The UPDATE (add to a row), INSERT (a day's first lotto) and DELETE (an emptied
    row) of one summary, built once with bound parameters: building them for every close
    cost more than running them."""
    modello = tabella.modello
    dove = (
        modello.giorno == bindparam("giorno", type_=Date()),
        *(getattr(modello, nome) == bindparam(nome) for nome in tabella.chiave),
    )
    aggiorna = (
        update(modello)
        .where(*dove)
        .values({getattr(modello, nome): getattr(modello, nome) + bindparam(nome) for nome in tabella.valori})
    )
    inserisci = insert(modello).values(
        {
            modello.giorno: bindparam("giorno", type_=Date()),
            **{getattr(modello, nome): bindparam(nome) for nome in tabella.chiave},
            **{getattr(modello, nome): bindparam(nome) for nome in tabella.valori},
        }
    )
    elimina = delete(modello).where(*dove, modello.lotti == 0)
    return aggiorna, inserisci, elimina


def _riga(
    tabella: Tabella, giorno: date, chiave: list[int], valori: list[int]
) -> dict[InstrumentedAttribute[int] | InstrumentedAttribute[date], date | int]:
    """One summary row for a Core INSERT (keyed by column, as a Connection needs)."""
    modello = tabella.modello
    return {
        modello.giorno: giorno,
        **{getattr(modello, nome): valore for nome, valore in zip(tabella.chiave, chiave)},
        **{getattr(modello, nome): valore for nome, valore in zip(tabella.valori, valori)},
    }


def ricostruisci(session: DbSession, zona: str) -> int:
    """Rebuild the summaries from every closed lotto, with days local to ``zona``, and mark
    them in use for that zone; returns the rows written. One transaction, committed by
    the caller; the KpiRiepilogo row is locked first so no close interleaves."""
    conn = session.connection()
    adesso = utcnow()
    valori = {KpiRiepilogo.zona: zona, KpiRiepilogo.ricostruito_il: adesso}
    if righe_toccate(conn.execute(update(KpiRiepilogo).where(KpiRiepilogo.id == RIGA).values(valori))) == 0:
        conn.execute(insert(KpiRiepilogo).values({KpiRiepilogo.id: RIGA, **valori}))
    for tabella in TABELLE:
        conn.execute(delete(tabella.modello))
    righe = aggrega(conn, zona)
    for tabella in TABELLE:
        voci = [
            _riga(t, giorno, chiave, v)
            for (t, (giorno, *chiave)), v in sorted(righe.items(), key=lambda voce: voce[0][1])
            if t is tabella
        ]
        for inizio in range(0, len(voci), _BLOCCO):
            conn.execute(insert(tabella.modello).values(voci[inizio : inizio + _BLOCCO]))
    return len(righe)


def aggrega(conn: Connection, zona: str) -> Delta:
    """The summaries' rows computed from every closed lotto, days local to ``zona``: what
    a rebuild writes, and what a check compares the tables with. Reads only."""
    totali: Delta = {}
    righe = conn.execute(
        select(
            Lotto.data_inizio,
            Lotto.data_fine,
            Lotto.qta_output,
            Lotto.qta_scarti,
            Lotto.operatore_id,
            Lotto.macchina_id,
            Lotto.causale_id,
            Lotto.fase_id,
            Fase.fase_tipo_id,
        )
        .join(Fase, Fase.id == Lotto.fase_id)
        .where(Lotto.data_fine.is_not(None))
        .execution_options(yield_per=10_000)  # the statement's own option: the connection stays as it is
    )
    for inizio, fine, buoni, scarti, operatore, macchina, causale, fase_id, fase_tipo_id in righe:
        stato = StatoLotto(
            data_inizio=inizio,
            data_fine=fine,
            qta_output=buoni,
            qta_scarti=scarti,
            operatore_id=operatore,
            macchina_id=macchina,
            causale_id=causale,
            fase_id=fase_id,
        )
        _aggiungi(totali, stato, fase_tipo_id, zona, 1)
    return totali


def righe_tenute(conn: Connection) -> Delta:
    """The summaries' rows as they are in the tables, shaped as ``aggrega`` returns them."""
    tenute: Delta = {}
    for tabella in TABELLE:
        modello = tabella.modello
        chiavi = [getattr(modello, nome) for nome in tabella.chiave]
        colonne = [getattr(modello, nome) for nome in tabella.valori]
        for riga in conn.execute(select(modello.giorno, *chiavi, *colonne)):
            giorno, chiave, valori = riga[0], riga[1 : 1 + len(chiavi)], riga[1 + len(chiavi) :]
            tenute[(tabella, (giorno, *(int(k) for k in chiave)))] = [int(v) for v in valori]
    return tenute


def assicura(session: DbSession, zona: str) -> int | None:
    """Rebuild the summaries when they are not kept for ``zona`` (first ``init``, a
    changed zone); returns the rows written, or None when already in use. Commits."""
    if in_uso(session, zona):
        session.rollback()
        return None
    righe = ricostruisci(session, zona)
    session.commit()
    log.info("Riepiloghi KPI ricostruiti per la zona %s: %d righe", zona, righe)
    return righe


# -- ORM changes ----------------------------------------------------------------------


def _prima(lotto: Lotto) -> StatoLotto:
    """A persistent lotto's _CAMPI as they were before this flush."""
    stato: InstanceState[Lotto] = inspect(lotto)
    return StatoLotto(
        data_inizio=_valore_prima(stato, "data_inizio", lambda: lotto.data_inizio),
        data_fine=_valore_prima(stato, "data_fine", lambda: lotto.data_fine),
        qta_output=_valore_prima(stato, "qta_output", lambda: lotto.qta_output),
        qta_scarti=_valore_prima(stato, "qta_scarti", lambda: lotto.qta_scarti),
        operatore_id=_valore_prima(stato, "operatore_id", lambda: lotto.operatore_id),
        macchina_id=_valore_prima(stato, "macchina_id", lambda: lotto.macchina_id),
        causale_id=_valore_prima(stato, "causale_id", lambda: lotto.causale_id),
        fase_id=_valore_prima(stato, "fase_id", lambda: lotto.fase_id),
    )


def _valore_prima(stato: InstanceState[Lotto], campo: str, attuale: Callable[[], T]) -> T | None:
    """One attribute before this flush: its old value when it changed, else its value."""
    storia = stato.attrs[campo].history
    if not storia.has_changes():
        return attuale()
    precedente: T | None = storia.deleted[0] if storia.deleted else None
    return precedente


def _dopo(lotto: Lotto) -> StatoLotto:
    return StatoLotto(
        data_inizio=lotto.data_inizio,
        data_fine=lotto.data_fine,
        qta_output=lotto.qta_output,
        qta_scarti=lotto.qta_scarti,
        operatore_id=lotto.operatore_id,
        macchina_id=lotto.macchina_id,
        causale_id=lotto.causale_id,
        fase_id=lotto.fase_id,
    )


def _cambiato(lotto: Lotto) -> bool:
    stato: InstanceState[Lotto] = inspect(lotto)
    return any(stato.attrs[campo].history.has_changes() for campo in _CAMPI)


def _prima_del_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    """Load what a lotto about to be deleted held (an expired one would have nothing to
    read after its row is gone)."""
    for lotto in session.deleted:
        if isinstance(lotto, Lotto):
            for campo in _CAMPI:
                getattr(lotto, campo)


def _dopo_flush(session: Session, _flush_context: UOWTransaction) -> None:
    """Turn this flush's new, changed and deleted lotti into a delta of the summaries."""
    cambi: list[tuple[Lotto, StatoLotto | None, StatoLotto | None]]
    cambi = [(o, None, _dopo(o)) for o in session.new if isinstance(o, Lotto)]
    cambi += [(o, _prima(o), None) for o in session.deleted if isinstance(o, Lotto)]
    cambi += [(o, _prima(o), _dopo(o)) for o in session.dirty if isinstance(o, Lotto) and _cambiato(o)]
    # Only closed lotti count: opening one (the kiosk's every other write) costs nothing here.
    cambi = [
        (o, prima, dopo) for o, prima, dopo in cambi if (prima and prima["data_fine"]) or (dopo and dopo["data_fine"])
    ]
    if not cambi:
        return
    conn = session.connection()
    zona = zona_attiva(conn, blocca=True)
    if zona is None:
        return
    ids = sorted({s["fase_id"] for _o, *stati in cambi for s in stati if s and s["fase_id"] is not None})
    # The fase before and after the flush: a lotto moved to another fase leaves its old type's rows.
    tipi = dict(conn.execute(select(Fase.id, Fase.fase_tipo_id).where(Fase.id.in_(ids))).all())
    delta: Delta = {}
    for _lotto, prima, dopo in cambi:
        _aggiungi(delta, prima, _tipo(tipi, prima), zona, -1)
        _aggiungi(delta, dopo, _tipo(tipi, dopo), zona, 1)
    applica(conn, delta)


def _tipo(tipi: dict[int, int], stato: StatoLotto | None) -> int | None:
    """The phase type of the fase a lotto's state names (None for a lotto never saved).
    A fase that is gone is a KeyError: the flush fails rather than the summaries drift."""
    return tipi[stato["fase_id"]] if stato and stato["fase_id"] is not None else None


def init_app(_app: object) -> None:
    """Listen to every ORM session's flushes (once per process)."""
    if not event.contains(Session, "before_flush", _prima_del_flush):
        event.listen(Session, "before_flush", _prima_del_flush)
    if not event.contains(Session, "after_flush", _dopo_flush):
        event.listen(Session, "after_flush", _dopo_flush)
