"""Query functions over the ERP's COMMESSE, returning plain ``Commessa`` values.

Every query is Core ``select()`` with bound parameters; lists are ordered newest first
and paginated; id lists are chunked under SQL Server's 2,100-parameter limit. Any
failure to reach the ERP becomes ``ErpUnavailable`` so callers show a clear message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

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

    def as_erp_dict(self) -> dict:
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


def escape_like(text: str) -> str:
    """Escape LIKE wildcards (and SQL Server's ``[``) so user text matches literally."""
    return re.sub(r"([\\%_\[])", r"\\\1", text)


class ErpGateway:
    """Read-only access to COMMESSE through the ERP engine (which refuses writes)."""

    def __init__(self, engine: Engine, schema: str | None = None):
        self.engine = engine
        self.table = commesse_table(schema or None)

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
            stmt = stmt.where(self.table.c.DATACONSEGNA <= due_by)
        return self._fetch(stmt)

    def search(self, q: str, *, limit: int = 100, offset: int = 0) -> list[Commessa]:
        """Open commesse matching ``q`` (SPEC §7): NUMEROCOM, ``ESERCIZIO/NUMEROCOM``,
        RIFCOMMCLI, CODART, DESART or NOMECLIENTE (case-insensitive, wildcards literal)."""
        return self.list_open(q or "", limit=limit, offset=offset) if (q or "").strip() else []

    def get(self, commessa_id: int) -> Commessa | None:
        """One commessa by ID, in any state; None when the ERP has no such ID."""
        if not 0 < commessa_id <= _INT32_MAX:
            return None
        rows = self._fetch(select(self.table).where(self.table.c.ID == commessa_id))
        return rows[0] if rows else None

    def get_by_numero(self, esercizio: int, numerocom: int) -> Commessa | None:
        """The commessa people call ``esercizio/numerocom``, in any state."""
        if not (0 <= esercizio <= _INT32_MAX and 0 <= numerocom <= _INT32_MAX):
            return None
        c = self.table.c
        stmt = select(self.table).where(c.ESERCIZIO == esercizio, c.NUMEROCOM == numerocom).order_by(c.ID.desc())
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
        """True when the ERP answers a trivial query on COMMESSE."""
        try:
            self._fetch(select(self.table.c.ID).limit(1), raw=True)
        except ErpUnavailable:
            return False
        return True

    # -- building blocks -------------------------------------------------------

    def _open_select(self) -> Select:
        c = self.table.c
        return select(self.table).where(c.STATOCOMMESSA == "O")

    def _page(self, stmt: Select, limit: int, offset: int) -> Select:
        c = self.table.c
        limit = max(1, min(int(limit), MAX_FETCH))
        offset = max(0, int(offset))
        # ID last makes the order total, so pages never repeat or skip a row.
        return stmt.order_by(c.ESERCIZIO.desc(), c.NUMEROCOM.desc(), c.ID.desc()).limit(limit).offset(offset)

    def _search_condition(self, q: str):
        c = self.table.c
        pattern = f"%{escape_like(q)}%"
        conditions = [c[name].ilike(pattern, escape="\\") for name in _SEARCH_TEXT_COLUMNS]
        numero = parse_numero_commessa(q)
        if numero:
            conditions.append(and_(c.ESERCIZIO == numero[0], c.NUMEROCOM == numero[1]))
        elif q.isascii() and q.isdigit() and int(q) <= _INT32_MAX:  # "³".isdigit() too, int() refuses it
            conditions.append(c.NUMEROCOM == int(q))
        return or_(*conditions) if conditions else false()

    def _fetch(self, stmt, raw: bool = False):
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            # Not the read-only guard's ReadOnlyViolation: that is a bug, not an outage.
            log.warning("ERP non raggiungibile: %s", exc)
            raise ErpUnavailable() from exc
        if raw:
            return rows
        return [_to_commessa(row) for row in rows]


def _to_commessa(row) -> Commessa:
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
