"""The one adapter for what differs between SQLite, PostgreSQL and SQL Server.

Everything else in ASI-GEST is portable SQLAlchemy; connection options, SQLite
pragmas, timeouts and the ERP's read-only guard live here so that a DBA can read in
one page how each database is used.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Float, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.engine import Engine, make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Execution option marking a transaction that will write (see ``configure_asigest_engine``);
# other databases ignore it.
WRITE_OPTION = "asigest_write"


class ReadOnlyViolation(RuntimeError):
    """A statement other than SELECT was sent to the read-only ERP engine."""


def backend(url: str) -> str:
    """``sqlite``, ``postgresql``, ``mssql``… for a SQLAlchemy URL string."""
    return make_url(url).get_backend_name()


def sqlite_readonly_url(path: Path | str) -> str:
    """A SQLite URL that opens ``path`` read-only (``mode=ro``): writes fail in SQLite itself."""
    return f"sqlite:///file:{Path(path).as_posix()}?mode=ro&uri=true"


def asigest_engine_options(url: str) -> dict:
    """Engine options for the read-write ASI_GEST database."""
    name = backend(url)
    if name == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if name == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    if name == "mssql":
        return {"pool_pre_ping": True}
    return {}


def erp_engine_options(url: str, timeout: float) -> dict:
    """Engine options for the ERP: short connect timeout so an unreachable ERP answers fast."""
    name = backend(url)
    if name == "sqlite":
        # For SQLite the "connect timeout" is how long to wait on a locked file.
        return {"connect_args": {"timeout": timeout}}
    if name == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": max(1, int(timeout))}}
    if name == "mssql":
        # pyodbc's login timeout; ApplicationIntent=ReadOnly goes in the URL (README).
        return {"pool_pre_ping": True, "connect_args": {"timeout": max(1, int(timeout))}}
    return {}


def configure_asigest_engine(engine: Engine) -> None:
    """SQLite: WAL, foreign keys, a busy timeout and real BEGIN/COMMIT transactions."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=%d" % SQLITE_BUSY_TIMEOUT_MS)  # a constant, not input
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        # A write transaction takes the write lock at BEGIN and waits for it (busy
        # timeout), instead of failing at its first write when another connection has
        # committed since its first read.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def configure_erp_engine(engine: Engine) -> None:
    """The ERP engine: refuse writes; on SQLite, make LOWER() fold accented letters too
    (SQLite's own folds only ASCII, so "CITTÀ" would not find "Città")."""
    install_readonly_guard(engine)
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _unicode_lower(dbapi_connection, _record):
        dbapi_connection.create_function(
            "lower", 1, lambda value: value.lower() if isinstance(value, str) else value, deterministic=True
        )


# The first keyword of an allowed statement. SQL Server's driver may send SET options
# when a connection starts; they change nothing in the data.
_READ_ONLY_START = {"sqlite": ("SELECT",), "mssql": ("SELECT", "SET"), "postgresql": ("SELECT", "SHOW")}
_FIRST_WORD = re.compile(r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*\(*\s*([A-Za-z]+)", re.S)


def install_readonly_guard(engine: Engine) -> None:
    """Make ``engine`` refuse any statement that is not a SELECT, before it reaches the ERP."""
    allowed = _READ_ONLY_START.get(engine.dialect.name, ("SELECT",))

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _refuse_writes(conn, cursor, statement, parameters, context, executemany):
        match = _FIRST_WORD.match(statement or "")
        if not match or match.group(1).upper() not in allowed:
            raise ReadOnlyViolation(
                "Il database ERP è in sola lettura: ASI-GEST non può modificarlo "
                f"(istruzione rifiutata: {statement.strip()[:60]!r})."
            )
        return statement, parameters


# -- schema changes only SQLite needs ------------------------------------------------


def sqlite_autoincrement(conn, table: str, pk: str, *, audit_entita: str | None = None) -> None:
    """Rebuild a SQLite table so that its integer key never reuses a deleted row's id.

    Without AUTOINCREMENT, SQLite gives a new row the highest id in the table + 1, so the
    row after a deleted last row takes its id — and the audit log, which names rows by
    id, would then mix the two. PostgreSQL and SQL Server identities never go back, so
    this is SQLite's only. The table's own DDL and indexes are kept (read from
    ``sqlite_master``); the sequence starts above every id the table or, with
    ``audit_entita``, LogEventi ever used. Runs inside the migration's transaction;
    nothing references ``table`` by foreign key (checked by the caller's migration).
    """
    from sqlalchemy import text

    ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"), {"t": table}).scalar_one()
    if "AUTOINCREMENT" in ddl.upper():
        return
    indexes = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=:t AND sql IS NOT NULL"), {"t": table}
    ).scalars().all()
    nuova = f"{table}_autoinc"
    column = re.compile(rf'(\n\s*"?{re.escape(pk)}"?\s+INTEGER\s+NOT\s+NULL)\s*,', re.I)
    constraint = re.compile(rf',\s*\n\s*(?:CONSTRAINT\s+"?\w+"?\s+)?PRIMARY KEY\s*\("?{re.escape(pk)}"?\)', re.I)
    new_ddl, n_col = column.subn(r"\1 PRIMARY KEY AUTOINCREMENT,", ddl, count=1)
    new_ddl, n_pk = constraint.subn("", new_ddl, count=1)
    if n_col != 1 or n_pk != 1:
        raise RuntimeError(f"unexpected DDL for {table}: {ddl}")
    head = re.compile(rf'^CREATE TABLE\s+"?{re.escape(table)}"?', re.I)
    conn.execute(text(head.sub(f'CREATE TABLE "{nuova}"', new_ddl, count=1)))
    conn.execute(text(f'INSERT INTO "{nuova}" SELECT * FROM "{table}"'))
    conn.execute(text(f'DROP TABLE "{table}"'))
    conn.execute(text(f'ALTER TABLE "{nuova}" RENAME TO "{table}"'))
    for sql in indexes:
        conn.execute(text(sql))
    alto = conn.execute(text(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')).scalar_one()
    if audit_entita:
        alto = max(alto, conn.execute(
            text('SELECT COALESCE(MAX("EntitaID"), 0) FROM "LogEventi" WHERE "Entita" = :e'), {"e": audit_entita}
        ).scalar_one())
    conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
    conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": table, "s": alto})
    # The rebuilt table has lost its planner statistics; without them SQLite may pick
    # a full scan for the register's queries.
    conn.execute(text(f'ANALYZE "{table}"'))


# -- expressions that differ by database ---------------------------------------------


class SecondiTra(FunctionElement):
    """``SecondiTra(a, b)``: seconds from timestamp ``a`` to ``b`` (a float), in each
    database's own exact terms (used by the KPIs' mean lotto duration: no timestamp difference is portable SQL)."""

    type = Float()
    name = "secondi_tra"
    inherit_cache = True


@compiles(SecondiTra)  # PostgreSQL, and the default
def _secondi_tra_standard(element, compiler, **kw):
    inizio, fine = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({fine} - {inizio}))"


@compiles(SecondiTra, "sqlite")
def _secondi_tra_sqlite(element, compiler, **kw):
    inizio, fine = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"((julianday({fine}) - julianday({inizio})) * 86400.0)"


@compiles(SecondiTra, "mssql")
def _secondi_tra_mssql(element, compiler, **kw):
    # DATEDIFF_BIG: a lotto forgotten for weeks overflows DATEDIFF's int of milliseconds.
    inizio, fine = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(CAST(DATEDIFF_BIG(millisecond, {inizio}, {fine}) AS FLOAT) / 1000.0)"
