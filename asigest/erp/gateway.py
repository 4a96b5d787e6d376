"""Query functions over the ERP's COMMESSE, returning plain ``Commessa`` values.

Every query is Core ``select()`` with bound parameters; lists are ordered newest first
and paginated; id lists are chunked under SQL Server's 2,100-parameter limit. Any
failure to reach the ERP becomes ``ErpUnavailable`` so callers show a clear message,
and ``ProtezioneErp`` keeps an ERP that does not answer from holding the app's threads.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from sqlalchemy import ColumnElement, LargeBinary, Row, Select, Table, and_, bindparam, cast, false, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.util.typing import TupleAny

from asigest.erp.tables import commesse_table
from asigest.errors import ErpUnavailable

log = logging.getLogger(__name__)

# A safety cap on one page; the API's own bound (500) is checked where input is validated.
MAX_FETCH = 1000
# SQL Server refuses more than 2,100 parameters in one statement; stay well under.
IN_CHUNK = 2000
_INT32_MAX = 2**31 - 1
_NUMERO = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{1,9})\s*$")
_SEARCH_TEXT_COLUMNS = ("RIFCOMMCLI", "CODART", "DESART", "NOMECLIENTE")


@dataclass(frozen=True)
class Commessa:
    """One ERP order. Any field but ``id`` may be None in real data."""

    id: int
    esercizio: int | None
    numerocom: int | None
    rifcommcli: str | None
    codart: str | None
    desart: str | None
    qta: int | None
    dataconsegna: date | None
    statocommessa: str | None
    idcliente: int | None
    nomecliente: str | None

    @property
    def aperta(self) -> bool:
        return (self.statocommessa or "").strip().upper() == "O"

    @property
    def numero(self) -> str:
        """How people say it: ``2026/1234`` (``?`` for a missing part)."""
        anno = self.esercizio if self.esercizio is not None else "?"
        num = self.numerocom if self.numerocom is not None else "?"
        return f"{anno}/{num}"

    def as_erp_dict(self) -> dict[str, object]:
        """The ERP's own column names, as the JSON API shows them (SPEC §7)."""
        return {
            "ID": self.id,
            "ESERCIZIO": self.esercizio,
            "NUMEROCOM": self.numerocom,
            "RIFCOMMCLI": self.rifcommcli,
            "CODART": self.codart,
            "DESART": self.desart,
            "QTA": self.qta,
            "DATACONSEGNA": self.dataconsegna.isoformat() if self.dataconsegna else None,
            "STATOCOMMESSA": self.statocommessa,
            "IDCLIENTE": self.idcliente,
            "NOMECLIENTE": self.nomecliente,
        }


def parse_numero_commessa(text: str) -> tuple[int, int] | None:
    """``"2026/1234"`` or ``"2026-1234"`` → ``(2026, 1234)``; anything else → None."""
    match = _NUMERO.match(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def numero_cercato(q: str) -> tuple[int | None, int | None]:
    """The order number a search names, as ``(ESERCIZIO, NUMEROCOM)``: ``"2026/1234"`` →
    ``(2026, 1234)``, bare digits ``"1234"`` → ``(None, 1234)`` (any year), anything else
    → ``(None, None)``."""
    numero = parse_numero_commessa(q)
    if numero:
        return numero
    if q.isascii() and q.isdigit() and int(q) <= _INT32_MAX:  # "³".isdigit() too, int() refuses it
        return None, int(q)
    return None, None


def escape_like(text: str) -> str:
    """Escape LIKE wildcards (and SQL Server's ``[``) so user text matches literally."""
    return re.sub(r"([\\%_\[])", r"\\\1", text)


# The errors that say the ERP did not answer (down, refused, timed out, locked): they open
# the circuit breaker. Others (a wrong schema, a value the ERP's column cannot hold) fail
# the one query at once and say nothing about the next one.
_ERP_NON_RISPONDE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


class ProtezioneErp:
    """Circuit breaker and bulkhead for the ERP calls of one process.

    - **Breaker**: after a call fails because the ERP did not answer (connection refused,
      timeout, a lock held past the timeout), every ERP call fails at once with
      ``ErpUnavailable`` for ``pausa`` seconds; then a single trial call goes through
      (half-open: the others keep failing fast meanwhile) and its outcome closes the
      breaker or opens it for another pause.
    - **Bulkhead**: at most ``max_attese`` threads of the process wait on the ERP at once,
      so a locked ERP can hold at most that many worker threads and the others keep
      serving what does not need the ERP (lotti, kiosk closes, /health). Another call
      waits for a place only while the calls holding them look healthy: until the oldest
      has run ``soglia_lenta`` seconds (an ERP that answers does so in milliseconds), at
      most ``attesa_posto``; then it fails with ``ErpUnavailable`` — at once when the
      holders are already past that, so a queue of ERP requests behind a locked ERP
      drains in milliseconds instead of holding the threads that serve everything else.

    The state lives in the process (each gunicorn worker has its own) and is *not*
    shared through the database, unlike everything that decides what the application
    does: it only decides how fast an ERP that does not answer is reported. Whatever it
    says, no data changes and no answer differs, except that ``ErpUnavailable`` comes in
    milliseconds instead of after the timeout; each process finds out about the ERP by
    itself, with at most one timeout per pause.
    """

    def __init__(
        self,
        *,
        pausa: float,
        max_attese: int,
        attesa_posto: float = 1.0,
        soglia_lenta: float = 0.5,
        orologio: Callable[[], float] = time.monotonic,
    ):
        if max_attese < 1 or pausa < 0:
            raise ValueError("ProtezioneErp: max_attese >= 1 e pausa >= 0")
        self.pausa = pausa
        self.max_attese = max_attese
        self.attesa_posto = attesa_posto
        self.soglia_lenta = soglia_lenta
        self._orologio = orologio
        self._posti = threading.BoundedSemaphore(max_attese)
        self._stato = threading.Lock()
        self._aperto_fino: float | None = None  # None: closed
        self._prova_in_corso = False
        self._in_volo: dict[int, float] = {}  # the calls holding a place: number → when they started
        self._numeri = itertools.count()

    @property
    def aperto(self) -> bool:
        """True while ERP calls fail fast (a pause after a failure, or a trial in flight)."""
        with self._stato:
            return self._aperto_fino is not None and (self._prova_in_corso or self._orologio() < self._aperto_fino)

    @property
    def chiuso(self) -> bool:
        """True while no failure is pending (calls go to the ERP)."""
        with self._stato:
            return self._aperto_fino is None

    @contextmanager
    def chiamata(self) -> Iterator[None]:
        """Around one ERP call: raises ``ErpUnavailable`` at once when the breaker is open
        or no place frees up in time; records the call's outcome."""
        prova = self._ammetti()
        posto = self._prendi_posto()
        if posto is None:
            if prova:
                self._fine_prova()
            log.warning("ERP: %d chiamate già in attesa in questo processo; risposta immediata", self.max_attese)
            raise ErpUnavailable()
        try:
            yield
        except _ERP_NON_RISPONDE:
            self._guasto()
            raise
        except BaseException:
            if prova:
                self._fine_prova()
            raise
        else:
            if prova or self._aperto_fino is not None:
                self._ripristino()
        finally:
            self._lascia_posto(posto)

    def _prendi_posto(self) -> int | None:
        """A place among the ``max_attese`` (its id), or None when none frees up in time."""
        with self._stato:
            attesa = self.attesa_posto
            if len(self._in_volo) >= self.max_attese:
                piu_vecchia = min(self._in_volo.values())
                attesa = min(attesa, piu_vecchia + self.soglia_lenta - self._orologio())
        preso = self._posti.acquire(timeout=attesa) if attesa > 0 else self._posti.acquire(blocking=False)
        if not preso:
            return None
        with self._stato:
            posto = next(self._numeri)
            self._in_volo[posto] = self._orologio()
        return posto

    def _lascia_posto(self, posto: int) -> None:
        with self._stato:
            self._in_volo.pop(posto, None)
        self._posti.release()

    def prova_in_sottofondo(self, funzione: Callable[[], object]) -> bool:
        """Once the pause is over, make ``funzione`` the trial call in a thread of its own
        and return at once (True when started). For ``/health``: it reports the ERP as
        unreachable without waiting, and its next answer has the trial's outcome — even
        at night, when no one else calls the ERP to close the breaker."""
        with self._stato:
            if self._aperto_fino is None or self._prova_in_corso or self._orologio() < self._aperto_fino:
                return False
            self._prova_in_corso = True
        threading.Thread(target=self._prova, args=(funzione,), name="erp-prova", daemon=True).start()
        return True

    def _prova(self, funzione: Callable[[], object]) -> None:
        posto = self._prendi_posto()
        if posto is None:
            self._fine_prova()
            return
        try:
            funzione()
        except _ERP_NON_RISPONDE as exc:
            log.warning("ERP ancora non raggiungibile: %s", exc)
            self._guasto()
        except Exception:
            log.exception("Prova dell'ERP non riuscita")
            self._fine_prova()
        else:
            self._ripristino()
        finally:
            self._lascia_posto(posto)

    def _ammetti(self) -> bool:
        """True when this call is the half-open trial; raises while the breaker is open."""
        with self._stato:
            if self._aperto_fino is None:
                return False
            if self._prova_in_corso or self._orologio() < self._aperto_fino:
                raise ErpUnavailable()
            self._prova_in_corso = True
            return True

    def _guasto(self) -> None:
        with self._stato:
            if self._aperto_fino is None:
                log.warning("ERP non raggiungibile: chiamate sospese per %s s in questo processo", self.pausa)
            self._aperto_fino = self._orologio() + self.pausa
            self._prova_in_corso = False

    def _ripristino(self) -> None:
        with self._stato:
            if self._aperto_fino is not None:
                log.info("ERP di nuovo raggiungibile")
            self._aperto_fino = None
            self._prova_in_corso = False

    def _fine_prova(self) -> None:
        with self._stato:
            self._prova_in_corso = False


class ErpGateway:
    """Read-only access to COMMESSE through the ERP engine (which refuses writes).

    ``protezione`` (the app's, one per process: ``web/deps.py``) bounds how long and how
    many threads wait on an ERP that does not answer; without it every call waits up to
    the engine's timeout (tools and tests of the gateway itself).
    """

    def __init__(self, engine: Engine, schema: str | None = None, *, protezione: ProtezioneErp | None = None):
        self.engine = engine
        self.table = commesse_table(schema or None)
        self.protezione = protezione

    # -- queries ---------------------------------------------------------------

    def list_open(self, q: str | None = None, *, limit: int = 100, offset: int = 0) -> list[Commessa]:
        """Open commesse (STATOCOMMESSA = 'O'), newest first, optionally filtered by ``q``."""
        stmt = self._open_select()
        if q and q.strip():
            stmt = stmt.where(self._search_condition(q.strip()))
        return self._fetch(self._page(stmt, limit, offset))

    def all_open(self, *, due_by: date | None = None) -> list[Commessa]:
        """Every open commessa in one unordered read (no ORDER BY, no pages: the ERP scans
        its open orders once); with ``due_by``, only those due by that day, overdue
        included (without a due date: left out)."""
        stmt = self._open_select()
        if due_by is not None:
            stmt = stmt.where(due_by >= self.table.c.DATACONSEGNA)
        return self._fetch(stmt)

    def search(self, q: str, *, limit: int = 100, offset: int = 0) -> list[Commessa]:
        """Open commesse matching ``q`` (SPEC §7): NUMEROCOM, ``ESERCIZIO/NUMEROCOM``,
        RIFCOMMCLI, CODART, DESART or NOMECLIENTE (case-insensitive, wildcards literal)."""
        return self.list_open(q or "", limit=limit, offset=offset) if (q or "").strip() else []

    def get(self, commessa_id: int) -> Commessa | None:
        """One commessa by ID, in any state; None when the ERP has no such ID."""
        if not 0 < commessa_id <= _INT32_MAX:
            return None
        rows = self._fetch(_per_id(self.table), {"id": commessa_id})
        return rows[0] if rows else None

    def get_by_numero(self, esercizio: int, numerocom: int) -> Commessa | None:
        """The commessa people call ``esercizio/numerocom``, in any state."""
        if not (0 <= esercizio <= _INT32_MAX and 0 <= numerocom <= _INT32_MAX):
            return None
        c = self.table.c
        stmt = select(self.table).where(c["ESERCIZIO"] == esercizio, c["NUMEROCOM"] == numerocom).order_by(c.ID.desc())
        rows = self._fetch(stmt.limit(1))
        return rows[0] if rows else None

    def get_many(self, ids: Iterable[int]) -> dict[int, Commessa]:
        """Commesse by ID (any state) as ``{ID: Commessa}``; unknown ids are absent.

        Queried in chunks of ``IN_CHUNK`` ids so SQL Server's parameter limit holds.
        """
        wanted = sorted({i for i in ids if i is not None and 0 < i <= _INT32_MAX})
        found: dict[int, Commessa] = {}
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            for commessa in self._fetch(select(self.table).where(self.table.c.ID.in_(chunk))):
                found[commessa.id] = commessa
        return found

    def ping(self) -> bool:
        """True when the ERP answers a trivial query on COMMESSE.

        Behind a ``ProtezioneErp`` whose breaker is open, False at once: after the pause the
        query runs as the trial call in a thread of its own (``prova_in_sottofondo``), so
        ``/health`` never waits on an ERP already known not to answer.
        """
        stmt = select(self.table.c.ID).limit(1)
        if self.protezione is not None and not self.protezione.chiuso:
            self.protezione.prova_in_sottofondo(lambda: self._esegui(stmt))
            return False
        try:
            self._righe(stmt)
        except ErpUnavailable:
            return False
        return True

    # -- building blocks -------------------------------------------------------

    def _open_select(self) -> Select[*TupleAny]:
        c = self.table.c
        return select(self.table).where(c.STATOCOMMESSA == "O")

    def _page(self, stmt: Select[*TupleAny], limit: int, offset: int) -> Select[*TupleAny]:
        c = self.table.c
        limit = max(1, min(int(limit), MAX_FETCH))
        offset = max(0, int(offset))
        # ID last makes the order total, so pages never repeat or skip a row.
        return stmt.order_by(c.ESERCIZIO.desc(), c.NUMEROCOM.desc(), c.ID.desc()).limit(limit).offset(offset)

    def _search_condition(self, q: str) -> ColumnElement[bool]:
        c = self.table.c
        pattern = f"%{escape_like(q)}%"
        if self.engine.dialect.name == "sqlite":
            conditions = [_ilike_sqlite(c[name], pattern) for name in _SEARCH_TEXT_COLUMNS]
        else:
            conditions = [c[name].ilike(pattern, escape="\\") for name in _SEARCH_TEXT_COLUMNS]
        esercizio, numerocom = numero_cercato(q)
        if numerocom is not None:
            numero = c["NUMEROCOM"] == numerocom
            conditions.append(numero if esercizio is None else and_(c["ESERCIZIO"] == esercizio, numero))
        return or_(*conditions) if conditions else false()

    def _fetch(self, stmt: Select[*TupleAny], parametri: dict[str, object] | None = None) -> list[Commessa]:
        return [_to_commessa(row) for row in self._righe(stmt, parametri)]

    def _righe(self, stmt: Select[*TupleAny], parametri: dict[str, object] | None = None) -> Sequence[Row[*TupleAny]]:
        try:
            if self.protezione is None:
                rows = self._esegui(stmt, parametri)
            else:
                with self.protezione.chiamata():
                    rows = self._esegui(stmt, parametri)
        except SQLAlchemyError as exc:
            # Not the read-only guard's ReadOnlyViolation: that is a bug, not an outage.
            log.warning("ERP non raggiungibile: %s", exc)
            raise ErpUnavailable() from exc
        return rows

    def _esegui(self, stmt: Select[*TupleAny], parametri: dict[str, object] | None = None) -> Sequence[Row[*TupleAny]]:
        with self.engine.connect() as conn:
            return conn.execute(stmt, parametri).all()


@lru_cache(maxsize=8)
def _per_id(table: Table) -> Select[*TupleAny]:
    """One commessa by ID, built once per table (a gateway is made per request): every
    lotto opened reads its order (R4), and building the statement cost more than running it."""
    return select(table).where(table.c["ID"] == bindparam("id"))


def _ilike_sqlite(colonna: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """``colonna ILIKE pattern`` on a SQLite ERP, as exact as ``ilike`` and cheaper.

    ``ilike`` compiles to ``lower(col) LIKE lower(?)``, and the ERP engine's ``lower`` is
    Python's (``configure_erp_engine``: SQLite's own folds only ASCII): one Python call
    per row and column, 10 ms of a search over 20,000 orders. SQLite's own LIKE already
    folds ASCII letters, so a value of ASCII only matches exactly when ``lower`` would
    say so; only values holding other characters ("Città", "İ") go through Python's
    ``lower``. Such a value is one whose UTF-8 bytes outnumber its characters (SQLite
    counts both in C; a GLOB character class was slower than the Python calls it saved).
    The pattern is lowered here, once.
    """
    minuscolo = pattern.lower()
    non_ascii = func.length(colonna) != func.length(cast(colonna, LargeBinary))
    return or_(
        colonna.like(minuscolo, escape="\\"),
        and_(non_ascii, func.lower(colonna).like(minuscolo, escape="\\")),
    )


def _to_commessa(row: Row[*TupleAny]) -> Commessa:
    m = row._mapping
    stato = m["STATOCOMMESSA"]
    return Commessa(
        id=m["ID"],
        esercizio=m["ESERCIZIO"],
        numerocom=m["NUMEROCOM"],
        rifcommcli=m["RIFCOMMCLI"],
        codart=m["CODART"],
        desart=m["DESART"],
        qta=m["QTA"],
        dataconsegna=m["DATACONSEGNA"],
        statocommessa=stato.strip() if isinstance(stato, str) else stato,
        idcliente=m["IDCLIENTE"],
        nomecliente=m["NOMECLIENTE"],
    )
