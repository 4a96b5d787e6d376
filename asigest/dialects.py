"""The one adapter for what differs between SQLite, PostgreSQL and SQL Server.

Everything else in ASI-GEST is portable SQLAlchemy; connection options, SQLite
pragmas, timeouts and the ERP's read-only guard live here so that a DBA can read in
one page how each database is used.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: SQLite's writers wait on its busy handler alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Column, Float, MetaData, String, Table, event, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Select
from sqlalchemy.sql.util import find_tables

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Execution option marking a transaction that will write (see ``configure_asigest_engine``);
# other databases ignore it.
WRITE_OPTION = "asigest_write"
# Execution option of a transaction that runs a single SELECT and ends (``uow.lettura_singola``):
# SQLite runs it without BEGIN, one statement being atomic on its own.
SINGLE_READ_OPTION = "asigest_lettura_singola"


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
    """The ERP URL the engine is built with, read-only at the connection (SPEC §3).

    - SQLite: always the URI form with ``mode=ro`` (``sqlite_readonly_url``), so SQLite
      itself refuses writes and a missing file is "unable to open" (the ERP is reported
      unreachable) instead of being created empty. A URI that already says ``mode=ro`` is
      kept; any other ``mode`` becomes ``ro``.
    - SQL Server through pyodbc: the connection declares ``ApplicationIntent=ReadOnly``
      unless the URL already sets it. The keyword goes into the URL's query, which the
      pyodbc dialect copies into the ODBC connection string, or at the end of an explicit
      ``odbc_connect`` string. An explicit ``ApplicationIntent`` is left as it is (the
      login's SELECT-only rights and the engine's guard still hold); any other value than
      ReadOnly is logged as a warning.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_erp_url(url, parsed)
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


def _sqlite_erp_url(url: str, parsed) -> str:
    database = parsed.database or ""
    if database in ("", ":memory:"):
        return url  # nothing on disk to protect (tests of the engine only)
    uri = str(parsed.query.get("uri", "")).lower() in {"true", "1"}
    if uri and database.startswith("file:"):
        if parsed.query.get("mode") == "ro":
            return url
        return parsed.update_query_dict({"mode": "ro"}).render_as_string(hide_password=False)
    extra = {k: v for k, v in parsed.query.items() if k not in ("mode", "uri")}
    readonly = make_url(sqlite_readonly_url(database))
    return readonly.update_query_dict(extra).render_as_string(hide_password=False) if extra else str(readonly)


def erp_engine_options(url: str, timeout: float) -> dict:
    """Engine options for the ERP: every wait on it is bounded by ``timeout`` seconds.

    A login timeout alone does not bound a query that waits on a lock held in the ERP, so
    each backend also gets its own query bound: SQLite's busy timeout (how long to wait on
    a locked file), PostgreSQL's ``statement_timeout`` (sent as a connection option, so it
    holds from the first statement), and on SQL Server pyodbc's ``Connection.timeout``,
    set on each new connection by ``configure_erp_engine``.
    """
    name = backend(url)
    secondi = max(1, math.ceil(timeout))
    if name == "sqlite":
        return {"connect_args": {"timeout": timeout}}
    if name == "postgresql":
        millisecondi = max(1, int(timeout * 1000))
        return {
            "pool_pre_ping": True,
            "connect_args": {"connect_timeout": secondi, "options": f"-c statement_timeout={millisecondi}"},
        }
    if name == "mssql":
        # pyodbc's login timeout; ApplicationIntent=ReadOnly is added to the URL by ``erp_url``.
        return {"pool_pre_ping": True, "connect_args": {"timeout": secondi}}
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

    coda = CodaScrittori(engine.url.database) if engine.url.database not in (None, "", ":memory:") else None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        # A write transaction takes the write lock at BEGIN and waits for it (busy
        # timeout), instead of failing at its first write when another connection has
        # committed since its first read. It queues first (CodaScrittori): waiting
        # writers then wake when the lock is free, not at SQLite's next busy sleep.
        opzioni = connection.get_execution_options()
        if opzioni.get(SINGLE_READ_OPTION):
            return
        if not opzioni.get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN")
            return
        record = connection.connection._connection_record
        if coda is not None and record is not None and not opzioni.get(_SENZA_CODA) and not record.info.get(_IN_CODA):
            record.info[_IN_CODA] = coda.entra()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _esci(record)
            raise

    if coda is not None:
        # The connection goes back to the pool once its transaction committed or rolled
        # back (or it is closed): the next writer's turn.
        @event.listens_for(engine.pool, "reset")
        def _riconsegnata(_dbapi_connection, record, _reset_state):
            _esci(record)

        @event.listens_for(engine.pool, "checkin")
        def _in_pool(_dbapi_connection, record):
            _esci(record)

        @event.listens_for(engine.pool, "invalidate")
        def _invalidata(_dbapi_connection, record, _exception):
            _esci(record)


_IN_CODA = "asigest_coda_scrittori"
# The write probe (GET /health) bounds its own wait on the lock (_SONDA_ATTESA_MS): it
# does not queue behind the writers for the queue's 10 s.
_SENZA_CODA = "asigest_senza_coda"


def _esci(record) -> None:
    if record is None:
        return
    turno = record.info.pop(_IN_CODA, None)
    if turno is not None:
        turno.esci()


class CodaScrittori:
    """SQLite's writers of every process served as the write lock frees, without sleeping.

    SQLite lets one transaction write at a time; a writer that finds the lock taken is
    left to the busy handler, which sleeps in growing steps (1, 2, 5, 10 … 100 ms) and
    tries again: a waiter sleeps past the moment the lock frees, and a writer arriving
    just then takes it ahead of those that waited longest (measured with 16 terminals:
    p50 about 100 ms, p99 about a second, one core idle). Here a writer first queues:

    - among the threads of its process, on a lock whose waiters the kernel wakes as soon
      as it is released;
    - between processes, on an exclusive ``flock`` of the file ``<database>.scrittori``
      (shared state through the file system, so every worker of every server on the
      machine takes part; the kernel drops a dead process's lock). One thread per process
      waits on it, retrying every half millisecond.

    It holds its turn from ``BEGIN IMMEDIATE`` until its connection goes back to the
    pool. Correctness never depends on it: SQLite's own lock and busy timeout still
    guard every write (a tool writing without the queue, a backup). A turn not had within
    the busy timeout, or asked again by a thread that holds it, goes on without the
    queue, as before.
    """

    ATTESA = SQLITE_BUSY_TIMEOUT_MS / 1000
    PASSO = 0.0005

    def __init__(self, database: str):
        self._percorso = (database[len("file:") :] if database.startswith("file:") else database).split("?")[0]
        self._processo = threading.Lock()
        self._di: int | None = None  # the thread holding the process's turn
        self._file: tuple[int, int] | None = None  # (pid, fd): opened again after a fork

    def entra(self) -> _Turno | None:
        """Wait for this writer's turn; None when it goes on without one (see above)."""
        if fcntl is None or self._di == threading.get_ident():
            return None  # no flock (Windows), or this thread holds a turn on another connection
        scadenza = time.monotonic() + self.ATTESA
        if not self._processo.acquire(timeout=self.ATTESA):
            log.warning("Coda degli scrittori SQLite: turno non avuto in %s s, si procede senza.", self.ATTESA)
            return None
        self._di = threading.get_ident()
        try:
            fd = self._fd()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return _Turno(self, fd)
                except BlockingIOError:
                    if time.monotonic() > scadenza:
                        log.warning("Coda degli scrittori SQLite: file occupato da %s s, si procede.", self.ATTESA)
                        self._libera()
                        return None
                    time.sleep(self.PASSO)
        except OSError as exc:  # the folder cannot hold the file: SQLite's own lock still holds
            log.warning("Coda degli scrittori SQLite non disponibile (%s): si procede senza.", exc)
            self._libera()
            return None

    def _libera(self) -> None:
        self._di = None
        self._processo.release()

    def _fd(self) -> int:
        if self._file is None or self._file[0] != os.getpid():
            self._file = (os.getpid(), os.open(self._percorso + ".scrittori", os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]


class _Turno:
    """A writer's turn: ``esci`` once, when its connection goes back to the pool."""

    def __init__(self, coda: CodaScrittori, fd: int):
        self._coda, self._fd, self._fatto = coda, fd, False

    def esci(self) -> None:
        if self._fatto:
            return
        self._fatto = True
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._coda._libera()


def configure_erp_engine(engine: Engine, *, timeout: float | None = None) -> None:
    """The ERP engine: refuse writes; on SQL Server, bound every query by ``timeout``
    seconds (pyodbc's query timeout, which the connect arguments cannot set); on SQLite,
    make LOWER() fold accented letters too (SQLite's own folds only ASCII, so "CITTÀ"
    would not find "Città")."""
    install_readonly_guard(engine)
    if engine.dialect.name == "mssql" and engine.dialect.driver == "pyodbc" and timeout:
        secondi = max(1, math.ceil(timeout))

        @event.listens_for(engine, "connect")
        def _query_timeout(dbapi_connection, _record):
            # Seconds; the driver cancels a statement still running then (HYT00).
            dbapi_connection.timeout = secondi

        return
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


# -- what a database error means ------------------------------------------------------

# The nature of a database error, for the unit of work and the error mapping:
NON_SCRIVE = "non_scrive"  # the database cannot write now (disk or log full, read-only,
#                            I/O error, damaged or unreachable): trying again does not help
#                            until someone fixes the server, so nothing retries it
CONFLITTO = "conflitto"  # another transaction was in the way (busy, locked, deadlock,
#                          serialization): running the operation again resolves it

# SQLite primary result codes (the low byte of the extended code Python 3.11 reports as
# ``sqlite_errorcode``: SQLITE_IOERR_WRITE is 778, SQLITE_READONLY_DBMOVED 1032…).
_SQLITE_CONFLITTO = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_NON_SCRIVE = {
    3,  # SQLITE_PERM: access permission denied
    7,  # SQLITE_NOMEM
    8,  # SQLITE_READONLY (a read-only file or mode=ro, PRAGMA query_only, a moved database)
    10,  # SQLITE_IOERR (write, fsync, short read… failed in the OS)
    11,  # SQLITE_CORRUPT
    13,  # SQLITE_FULL: disk full, or the database reached PRAGMA max_page_count
    14,  # SQLITE_CANTOPEN (the file, its -wal/-shm or the temp directory cannot be opened)
    22,  # SQLITE_NOLFS
    26,  # SQLITE_NOTADB
}
# PostgreSQL SQLSTATEs: classes 53 (insufficient resources: 53100 disk_full, 53200
# out_of_memory, 53300 too_many_connections), 58 (system error: 58030 io_error), 08
# (connection exception); 25006 read_only_sql_transaction (a read-only database or a hot
# standby), 57P01-57P03 (server shutting down or starting), XX001/XX002 (data corrupted).
_PG_CLASSI_NON_SCRIVE = ("53", "58", "08")
_PG_NON_SCRIVE = {"25006", "57P01", "57P02", "57P03", "XX001", "XX002"}
_PG_CONFLITTO = {"40001", "40P01", "55P03"}  # serialization_failure, deadlock_detected, lock_not_available
# SQL Server native error numbers (pyodbc puts them in the message as "(1105)").
_MSSQL_NON_SCRIVE = {
    1101,
    1105,  # no space in the filegroup
    9002,  # the transaction log is full
    3906,
    3908,  # the database is read-only / cannot begin a transaction in it
    823,
    824,
    825,  # I/O errors
    5120,  # cannot open a database file
    976,
    978,
    983,  # an availability-group secondary that cannot take writes
    4060,  # the login's database cannot be opened
}
_MSSQL_CONFLITTO = {1205, 1222, 3960}  # deadlock victim, lock timeout, snapshot update conflict
_MSSQL_NUMERO = re.compile(r"\((\d{3,6})\)\s*\(SQL\w+\)")
_SQLITE_TESTO_CONFLITTO = ("database is locked", "database table is locked", "database is busy")
_SQLITE_TESTO_NON_SCRIVE = (
    "disk is full",
    "readonly database",
    "disk i/o error",
    "unable to open database",
    "malformed",
    "not a database",
)


def natura_errore(exc: BaseException) -> str | None:
    """``NON_SCRIVE``, ``CONFLITTO`` or None (anything else: a bug, a constraint, bad
    input…) for a database error — a SQLAlchemy ``DBAPIError`` or the driver's own.

    The one place that reads each driver's codes: SQLite's result codes, PostgreSQL's
    SQLSTATE, SQL Server's error numbers; the message text only where a driver gives no
    code (an older SQLite module, a connection that failed before any SQLSTATE).
    """
    orig = getattr(exc, "orig", None) or exc
    codice_sqlite = getattr(orig, "sqlite_errorcode", None)
    if codice_sqlite is not None:
        primario = codice_sqlite & 0xFF
        if primario in _SQLITE_CONFLITTO:
            return CONFLITTO
        return NON_SCRIVE if primario in _SQLITE_NON_SCRIVE else None
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        if sqlstate in _PG_CONFLITTO:
            return CONFLITTO
        if sqlstate in _PG_NON_SCRIVE or sqlstate[:2] in _PG_CLASSI_NON_SCRIVE:
            return NON_SCRIVE
        return None
    modulo = type(orig).__module__ or ""
    testo = str(orig)
    if modulo.startswith("pyodbc"):
        numeri = {int(n) for n in _MSSQL_NUMERO.findall(testo)}
        if numeri & _MSSQL_CONFLITTO:
            return CONFLITTO
        if numeri & _MSSQL_NON_SCRIVE:
            return NON_SCRIVE
        return None
    if modulo.startswith("psycopg") and type(orig).__name__ == "OperationalError":
        return NON_SCRIVE  # no SQLSTATE: the connection itself failed (server down, refused)
    minuscolo = testo.lower()
    if any(t in minuscolo for t in _SQLITE_TESTO_CONFLITTO):
        return CONFLITTO
    if any(t in minuscolo for t in _SQLITE_TESTO_NON_SCRIVE):
        return NON_SCRIVE
    return None


# -- can the database write? (GET /health) ------------------------------------------------

# The probe's row goes into Alembic's own table, which every ASI_GEST database has and the
# application's login may write on every backend (a SQL Server login with only
# db_datawriter cannot CREATE a table): a key no migration uses, no identity consumed, no
# foreign key, no reader in the application — and the transaction is always rolled back.
_SONDA = Table("alembic_version", MetaData(), Column("version_num", String(32), primary_key=True))
_SONDA_CHIAVE = "sonda-scrittura"
# SQLite: a value four 4 KB pages long, so the row needs new pages (see below).
_SONDA_SQLITE_BYTE = 16 * 1024
# SQLite: below this much free space (for an unprivileged process) on the database's file
# system, commits fail with SQLITE_FULL: a commit appends the pages it changed to the WAL
# and a checkpoint may grow the database file.
SPAZIO_MINIMO_SQLITE = 1024 * 1024
_SONDA_ATTESA_MS = 2000  # the most the probe waits for a lock


def sonda_scrittura(engine: Engine) -> str | None:
    """None when the database can write now; otherwise why not (for the log).

    The probe writes one row and never commits, so it leaves nothing behind: on its own
    connection, a write transaction inserts a row into ``alembic_version`` and rolls back.
    What that catches, and what it cannot:

    - every backend: a database that cannot be reached, a read-only one (SQLite file or
      connection opened read-only, ``PRAGMA query_only``; PostgreSQL read-only transaction
      default or hot standby, 25006; SQL Server read-only database, 3906, or secondary);
    - SQLite: the row is 16 KB, so it needs new pages, and a database at its
      ``PRAGMA max_page_count`` refuses it (SQLITE_FULL) as it refuses the real writes.
      A *full disk* does not show in an uncommitted write (SQLite changes pages in memory
      and writes them to the WAL only at COMMIT — measured on a full tmpfs: the insert
      succeeds, the commit fails), so for a database file the probe also reads the free
      space of its file system (``os.statvfs``) and reports it below
      ``SPAZIO_MINIMO_SQLITE``;
    - SQL Server: the insert is logged before it is rolled back, so a full transaction log
      (9002) shows; a full data file (1105) only when a write needs a new extent;
    - PostgreSQL: a full disk shows when a table file must grow (53100) or the WAL cannot
      be written (the server then stops: unreachable); the probe's row fits an existing
      page, so a full data disk is left to the server's own monitoring.

    A lock held by another writer is not a failure: the probe waits at most
    ``_SONDA_ATTESA_MS`` for it and reports the database as writing (busy is a conflict
    that a retry resolves, not a broken database).
    """
    nome = engine.dialect.name
    try:
        with engine.connect() as conn:
            _sonda_nella_transazione(conn, nome)
    except Exception as exc:
        if natura_errore(exc) == CONFLITTO:
            return None
        return f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"[:300]
    if nome == "sqlite":
        return _spazio_sqlite(engine)
    return None


def _sonda_nella_transazione(conn, nome: str) -> None:
    valore = _SONDA_CHIAVE
    if nome == "sqlite":
        # Wait for the write lock less than the application's busy timeout; put it back
        # before the connection returns to the pool. SQLite does not enforce the
        # column's length, so the value can be long enough to need new pages.
        # On the driver's connection: a statement through SQLAlchemy would begin a transaction.
        conn.connection.driver_connection.execute("PRAGMA busy_timeout=%d" % _SONDA_ATTESA_MS)  # constants only
        conn = conn.execution_options(**{WRITE_OPTION: True, _SENZA_CODA: True})
        valore = _SONDA_CHIAVE + "x" * _SONDA_SQLITE_BYTE
    try:
        with conn.begin() as transazione:
            if nome == "postgresql":
                # Ended with the transaction (SET LOCAL).
                conn.exec_driver_sql("SET LOCAL lock_timeout = %d" % _SONDA_ATTESA_MS)
                conn.exec_driver_sql("SET LOCAL statement_timeout = %d" % (2 * _SONDA_ATTESA_MS))
            elif nome == "mssql":
                conn.exec_driver_sql("SET LOCK_TIMEOUT %d" % _SONDA_ATTESA_MS)
            try:
                conn.execute(insert(_SONDA).values(version_num=valore))
            finally:
                transazione.rollback()
    finally:
        if nome == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA busy_timeout=%d" % SQLITE_BUSY_TIMEOUT_MS)
        elif nome == "mssql":
            conn.exec_driver_sql("SET LOCK_TIMEOUT -1")


def _spazio_sqlite(engine: Engine) -> str | None:
    database = engine.url.database or ""
    if database in ("", ":memory:"):
        return None
    percorso = Path(database[len("file:") :] if database.startswith("file:") else database)
    try:
        stato = os.statvfs(percorso.resolve().parent)
    except (AttributeError, OSError):  # no statvfs on Windows; an unreadable folder shows elsewhere
        return None
    libero = stato.f_bavail * stato.f_frsize
    if libero < SPAZIO_MINIMO_SQLITE:
        return f"spazio libero sul disco del database: {libero} byte"
    return None


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
    ddl = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"), {"t": tabella}
    ).scalar_one()
    if "AUTOINCREMENT" in ddl.upper():
        return
    indexes = (
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=:t AND sql IS NOT NULL"), {"t": tabella}
        )
        .scalars()
        .all()
    )
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
        conn.execute(
            select(func.coalesce(func.max(column("EntitaID")), 0))
            .select_from(table("LogEventi"))
            .where(column("Entita") == tabella)
        ).scalar_one(),
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
