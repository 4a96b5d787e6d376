"""The one adapter for what differs between SQLite, PostgreSQL and SQL Server.

Everything else in ASI-GEST is portable SQLAlchemy; connection options, SQLite
pragmas, timeouts and the ERP's read-only guard live here so that a DBA can read in
one page how each database is used.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import event
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
