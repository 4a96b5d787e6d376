"""The one adapter for what differs between SQLite, PostgreSQL and SQL Server.

Everything else in ASI-GEST is portable SQLAlchemy; connection options, SQLite
pragmas, timeouts and the ERP's read-only guard live here so that a DBA can read in
one page how each database is used.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sqlalchemy import Float, event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Select
from sqlalchemy.sql.util import find_tables
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

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
        # pyodbc's login timeout, as PostgreSQL's connect_timeout above. No fast_executemany:
        # SQLAlchemy sends many-row INSERTs as multi-row VALUES batches ("insertmanyvalues",
        # under 2,100 parameters each), which it does not speed up, and FreeTDS mishandles
        # it. Isolation stays READ COMMITTED; docs/deploy.md recommends READ_COMMITTED_SNAPSHOT.
        return {"pool_pre_ping": True, "connect_args": {"timeout": 10}}
    return {}


def erp_url(url: str) -> str:
    """The ERP URL the engine is built with: on SQL Server through pyodbc, the connection
    declares ``ApplicationIntent=ReadOnly`` (SPEC §3) unless the URL already sets it.

    The keyword goes into the URL's query, which the pyodbc dialect copies into the ODBC
    connection string, or at the end of an explicit ``odbc_connect`` string. An explicit
    ``ApplicationIntent`` is left as it is (the login's SELECT-only rights and the engine's
    guard still hold); any other value than ReadOnly is logged as a warning.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "mssql" or parsed.get_driver_name() != "pyodbc":
        return url
    odbc_connect = parsed.query.get("odbc_connect")
    if isinstance(odbc_connect, tuple):
        odbc_connect = ";".join(odbc_connect)
    explicit = next((v for k, v in parsed.query.items() if k.lower() == _APPLICATION_INTENT.lower()), None)
    if explicit is None and odbc_connect:
        found = _INTENT_IN_ODBC.search(odbc_connect)
        explicit = found.group(1) if found else None
    if explicit is not None:
        if str(explicit).strip().lower() != "readonly":
            log.warning("ASIGEST_ERP_URL chiede ApplicationIntent=%s: per l'ERP si consiglia ReadOnly.", explicit)
        return url
    if odbc_connect:
        updated = parsed.update_query_dict(
            {"odbc_connect": odbc_connect.rstrip().rstrip(";") + f";{_APPLICATION_INTENT}=ReadOnly"}
        )
    else:
        updated = parsed.update_query_dict({_APPLICATION_INTENT: "ReadOnly"})
    return updated.render_as_string(hide_password=False)


_APPLICATION_INTENT = "ApplicationIntent"
_INTENT_IN_ODBC = re.compile(r"(?:^|;)\s*ApplicationIntent\s*=\s*([^;]*)", re.I)


def erp_engine_options(url: str, timeout: float) -> dict:
    """Engine options for the ERP: short connect timeout so an unreachable ERP answers fast."""
    name = backend(url)
    if name == "sqlite":
        # For SQLite the "connect timeout" is how long to wait on a locked file.
        return {"connect_args": {"timeout": timeout}}
    if name == "postgresql":
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": max(1, int(timeout))}}
    if name == "mssql":
        # pyodbc's login timeout; ApplicationIntent=ReadOnly is added to the URL by ``erp_url``.
        return {"pool_pre_ping": True, "connect_args": {"timeout": max(1, int(timeout))}}
    return {}


# PRAGMA synchronous per ASIGEST_SQLITE_SYNCHRONOUS: constant statements, never built from input.
SQLITE_SYNCHRONOUS = {"NORMAL": "PRAGMA synchronous=NORMAL", "FULL": "PRAGMA synchronous=FULL"}


def configure_asigest_engine(engine: Engine, *, sincrono: str = "NORMAL") -> None:
    """SQLite: WAL, foreign keys, a busy timeout and real BEGIN/COMMIT transactions.

    ``sincrono`` (ASIGEST_SQLITE_SYNCHRONOUS): NORMAL keeps every answered commit through
    a process crash; FULL also through an OS crash or power loss, with one fsync per
    commit (README "Backup e ripristino", durability).
    """
    if engine.dialect.name != "sqlite":
        return
    pragma_sincrono = SQLITE_SYNCHRONOUS[sincrono]

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=%d" % SQLITE_BUSY_TIMEOUT_MS)  # a constant, not input
        cursor.execute(pragma_sincrono)
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


def sqlite_autoincrement(conn, tabella: str, chiave: str) -> None:
    """Rebuild SQLite's ``tabella`` so that a deleted row's ``chiave`` is never given again.

    Without AUTOINCREMENT, SQLite gives a new row the highest id in the table + 1, so the
    row after a deleted last row would take its id — and the audit log, which names rows
    by id (LogEventi.Entita = the table's name), would then mix the two. PostgreSQL and
    SQL Server identities never go back, so this is SQLite's only; a table already
    rebuilt is left alone.

    The table's own DDL and indexes are kept (read from ``sqlite_master``), the key
    column gains AUTOINCREMENT, and the sequence starts above every id that the table or
    LogEventi ever used. Runs inside the migration's transaction, where ``PRAGMA
    foreign_keys`` cannot be switched off, so a table that other tables reference (Fasi,
    by Lotti) is rebuilt under the same name: the rows wait in a copy while the table is
    dropped and created again, with the foreign keys checked at commit (``PRAGMA
    defer_foreign_keys``) once every row is back; the children's REFERENCES clauses name
    the table, never change, and find their rows again. Statements are Core, bound, or
    DDL over the database's own stored DDL and the two identifiers, which come from the
    migrations' code and are checked and quoted.
    """
    from sqlalchemy import MetaData, Table, column, func, insert, select, table, text
    from sqlalchemy.schema import DropTable

    if not (_IDENTIFICATORE.fullmatch(tabella) and _IDENTIFICATORE.fullmatch(chiave)):
        raise ValueError(f"identificatore non valido: {tabella!r}, {chiave!r}")
    ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"), {"t": tabella}).scalar_one()
    if "AUTOINCREMENT" in ddl.upper():
        return
    indexes = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=:t AND sql IS NOT NULL"), {"t": tabella}
    ).scalars().all()
    nomi = [riga[1] for riga in conn.execute(text("SELECT * FROM pragma_table_info(:t)"), {"t": tabella})]
    testa = re.compile(r'^CREATE TABLE\s+"?' + re.escape(tabella) + r'"?(?=\s*\()', re.I)
    colonna = re.compile(r'(\n\s*"?' + re.escape(chiave) + r'"?\s+INTEGER\s+NOT\s+NULL)\s*,', re.I)
    vincolo = re.compile(r',\s*\n\s*(?:CONSTRAINT\s+"?\w+"?\s+)?PRIMARY KEY\s*\("?' + re.escape(chiave) + r'"?\)', re.I)
    nuova, n_col = colonna.subn(r"\1 PRIMARY KEY AUTOINCREMENT,", ddl, count=1)
    nuova, n_pk = vincolo.subn("", nuova, count=1)
    if (n_col, n_pk) != (1, 1) or not testa.match(ddl):
        raise RuntimeError(f"DDL inattesa per {tabella}: {ddl}")
    copia = tabella + "_copia"
    quote = conn.dialect.identifier_preparer.quote_identifier

    def tabella_di(nome: str):
        return table(nome, *(column(n) for n in nomi))

    def copia_righe(da: str, a: str) -> None:
        conn.execute(insert(tabella_di(a)).from_select(nomi, select(*tabella_di(da).c)))

    alto = max(
        conn.execute(select(func.coalesce(func.max(column(chiave)), 0)).select_from(table(tabella))).scalar_one(),
        conn.execute(select(func.coalesce(func.max(column("EntitaID")), 0)).select_from(table("LogEventi"))
                     .where(column("Entita") == tabella)).scalar_one(),
    )
    # Until commit: the rows of the tables that reference this one are orphans for a
    # moment. Never switched back off by hand: that would forget the violations counted
    # so far, and SQLite switches it off itself after checking them at commit.
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    conn.exec_driver_sql(testa.sub("CREATE TABLE " + quote(copia), ddl, count=1))
    copia_righe(tabella, copia)
    conn.execute(DropTable(Table(tabella, MetaData())))
    conn.exec_driver_sql(nuova)
    copia_righe(copia, tabella)
    conn.execute(DropTable(Table(copia, MetaData())))
    for sql in indexes:
        conn.exec_driver_sql(sql)
    conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": tabella})
    conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": tabella, "s": alto})
    # The rebuilt table has lost its planner statistics; without them SQLite may pick
    # a full scan for the queries its indexes serve.
    conn.exec_driver_sql("ANALYZE " + quote(tabella))


# Table and column names the rebuild above accepts: plain identifiers only.
_IDENTIFICATORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


# -- row locks on SQL Server -----------------------------------------------------------


@compiles(Select, "mssql")
def _select_mssql_row_locks(element, compiler, **kw):
    """``with_for_update()`` on SQL Server: the table hints that take the same locks.

    SQL Server has no ``SELECT … FOR UPDATE``, and SQLAlchemy's mssql dialect drops
    ``with_for_update()`` without a word, so the row locks the services rely on (the
    fase locked before numbering a lotto and checking R5, the fasi of an order before a
    correction, the other admins before a demotion, the KPI summary's zone) would be
    missing there. Each locked table (those named in ``of``, else every table of the
    statement's own FROM) gets ``WITH (UPDLOCK, ROWLOCK)`` — ``HOLDLOCK`` instead of
    ``UPDLOCK`` for ``read=True`` (FOR SHARE), plus ``NOWAIT`` / ``READPAST`` when asked —
    held until the transaction ends, as on PostgreSQL.
    """
    lock = element._for_update_arg
    if lock is not None:
        hints = ["HOLDLOCK" if lock.read else "UPDLOCK", "ROWLOCK"]
        hints += ["NOWAIT"] if lock.nowait else []
        hints += ["READPAST"] if lock.skip_locked else []
        targets = lock.of or element.get_final_froms()
        tables = {table for target in targets for table in find_tables(getattr(target, "table", target))}
        for table in tables:
            element = element.with_hint(table, "WITH (%s)" % ", ".join(hints), "mssql")  # constants only
    return compiler.visit_select(element, **kw)
