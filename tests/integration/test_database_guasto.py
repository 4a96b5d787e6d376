"""A database that cannot write is not a conflict (issue 12, item 5): the errors of each
driver are classified in one place (``dialects.natura_errore``), the unit of work turns
"cannot write" into ``DatabaseNonDisponibile`` (503, never retried) and keeps
``DatabaseOccupato`` (409) for what a retry resolves; the write probe of ``/health``
sees a database that cannot write and leaves nothing behind.

The errors are the drivers' own: a SQLite file limited by ``PRAGMA max_page_count`` or
``PRAGMA query_only``, a PostgreSQL transaction that is read-only, a second SQLite writer
holding the lock; SQL Server's are pyodbc's exception classes with the message its ODBC
driver gives (no SQL Server here).
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from asigest import dialects
from asigest.dialects import CONFLITTO, NON_SCRIVE, natura_errore, sonda_scrittura
from asigest.errors import DatabaseNonDisponibile
from asigest.extensions import db
from asigest.models import FaseTipo
from asigest.services import uow
from asigest.services.uow import DatabaseOccupato, con_riprova, ripete_se_occupato, transaction


def _errore_sqlite(tmp_path, prepara: str, istruzione: str) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "g.db", isolation_level=None)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute(prepara)
        with pytest.raises(sqlite3.Error) as errore:
            conn.execute(istruzione)
        return errore.value
    finally:
        conn.close()


# -- classification -------------------------------------------------------------------------


def test_sqlite_full_and_read_only_cannot_write(tmp_path):
    pieno = _errore_sqlite(tmp_path, "PRAGMA max_page_count=2", "INSERT INTO t VALUES (randomblob(20000))")
    assert pieno.sqlite_errorname == "SQLITE_FULL" and natura_errore(pieno) == NON_SCRIVE
    sola_lettura = _errore_sqlite(tmp_path, "PRAGMA query_only=ON", "INSERT INTO t VALUES (1)")
    assert sola_lettura.sqlite_errorname == "SQLITE_READONLY" and natura_errore(sola_lettura) == NON_SCRIVE


def test_sqlite_extended_codes_count_by_their_primary_code(tmp_path):
    (tmp_path / "rotto.db").write_bytes(b"questo non e' un database SQLite" * 200)
    conn = sqlite3.connect(tmp_path / "rotto.db")
    with pytest.raises(sqlite3.DatabaseError) as errore:
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.close()
    assert errore.value.sqlite_errorname == "SQLITE_NOTADB" and natura_errore(errore.value) == NON_SCRIVE
    with pytest.raises(sqlite3.OperationalError) as errore:
        sqlite3.connect(f"file:{tmp_path / 'manca' / 'x.db'}?mode=ro", uri=True)
    assert errore.value.sqlite_errorname == "SQLITE_CANTOPEN" and natura_errore(errore.value) == NON_SCRIVE


def test_sqlite_busy_is_a_conflict(tmp_path):
    percorso = tmp_path / "occupato.db"
    primo = sqlite3.connect(percorso, isolation_level=None)
    primo.execute("CREATE TABLE t (x)")
    primo.execute("BEGIN IMMEDIATE")
    secondo = sqlite3.connect(percorso, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as errore:
            secondo.execute("BEGIN IMMEDIATE")
    finally:
        primo.close()
        secondo.close()
    assert errore.value.sqlite_errorname == "SQLITE_BUSY" and natura_errore(errore.value) == CONFLITTO


def test_a_constraint_or_a_bug_is_neither(tmp_path):
    doppio = _errore_sqlite(tmp_path, "CREATE UNIQUE INDEX IF NOT EXISTS u ON t (x)", "INSERT INTO t VALUES (1), (1)")
    assert natura_errore(doppio) is None
    sintassi = _errore_sqlite(tmp_path, "SELECT 1", "SELEC 1")
    assert natura_errore(sintassi) is None


@pytest.mark.parametrize(
    ("numero", "natura"),
    [
        (9002, NON_SCRIVE),  # transaction log full
        (1105, NON_SCRIVE),  # filegroup full
        (3906, NON_SCRIVE),  # read-only database
        (1205, CONFLITTO),  # deadlock victim
        (2627, None),  # a duplicate key
    ],
)
def test_sql_server_error_numbers(numero, natura):
    import pyodbc

    errore = pyodbc.ProgrammingError(
        "42000",
        f"[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Messaggio del server. ({numero}) "
        "(SQLExecDirectW)",
    )
    assert natura_errore(DBAPIError("INSERT …", {}, errore)) == natura


def test_postgresql_sqlstates():
    import psycopg.errors

    assert natura_errore(psycopg.errors.DiskFull()) == NON_SCRIVE  # 53100
    assert natura_errore(psycopg.errors.IoError()) == NON_SCRIVE  # 58030
    assert natura_errore(psycopg.errors.ReadOnlySqlTransaction()) == NON_SCRIVE  # 25006
    assert natura_errore(psycopg.errors.SerializationFailure()) == CONFLITTO
    assert natura_errore(psycopg.errors.DeadlockDetected()) == CONFLITTO
    assert natura_errore(psycopg.errors.UniqueViolation()) is None
    assert natura_errore(psycopg.OperationalError("connection refused")) == NON_SCRIVE  # no SQLSTATE yet


# -- the unit of work ---------------------------------------------------------------------------


@pytest.fixture
def sola_lettura(app, db_session):
    """The app's ASI_GEST engine made read-only on every new connection (PRAGMA query_only
    on SQLite, a read-only session on PostgreSQL), as a database that cannot write."""
    engine = db.engines[None]

    def _sola_lettura(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(
            "PRAGMA query_only=ON"
            if engine.dialect.name == "sqlite"
            else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
        )
        cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_connection.commit()

    with app.app_context():
        db.session.remove()
    engine.dispose()
    event.listen(engine, "connect", _sola_lettura)
    yield engine
    event.remove(engine, "connect", _sola_lettura)
    with app.app_context():
        db.session.remove()
    engine.dispose()


def _rinomina(session, descrizione):
    with transaction(session):
        session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD")).descrizione = descrizione


def test_a_transaction_on_a_read_only_database_is_database_non_disponibile(app, sola_lettura):
    with app.app_context():
        with pytest.raises(DatabaseNonDisponibile) as rifiuto:
            _rinomina(db.session, "Mai salvato")
        assert rifiuto.value.status == 503 and rifiuto.value.code == "DATABASE_NON_DISPONIBILE"
        assert "ufficio IT" in rifiuto.value.text()
        db.session.remove()


def test_con_riprova_and_ripete_se_occupato_never_retry_it(app, sola_lettura):
    tentativi = []

    def operazione():
        tentativi.append(1)
        _rinomina(db.session, "Mai salvato")

    @ripete_se_occupato
    def servizio(session):
        tentativi.append(1)
        _rinomina(session, "Mai salvato")

    with app.app_context():
        with pytest.raises(DatabaseNonDisponibile):
            con_riprova(db.session, operazione)
        assert len(tentativi) <= 1  # refused at BEGIN IMMEDIATE (SQLite) or at the write (PostgreSQL)
        db.session.remove()
        tentativi.clear()
        with pytest.raises(DatabaseNonDisponibile):
            db.session.scalar(select(FaseTipo.id))  # a read transaction is open, as in a request
            servizio(db.session)
        assert len(tentativi) <= 1
        db.session.remove()


def test_nothing_was_written_and_a_writable_database_writes_again(app, db_session):
    engine = db.engines[None]
    prima = db_session.scalar(select(FaseTipo.descrizione).where(FaseTipo.codice == "SMD"))
    limite = {"attivo": True}

    def _sola_lettura(dbapi_connection, _record):
        if limite["attivo"]:
            cursor = dbapi_connection.cursor()
            cursor.execute(
                "PRAGMA query_only=ON"
                if engine.dialect.name == "sqlite"
                else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
            )
            cursor.close()
            if engine.dialect.name == "postgresql":
                dbapi_connection.commit()

    db_session.remove()
    engine.dispose()
    event.listen(engine, "connect", _sola_lettura)
    try:
        with pytest.raises(DatabaseNonDisponibile):
            _rinomina(db_session, "Mai salvato")
        db_session.remove()
        limite["attivo"] = False
        engine.dispose()
        assert db_session.scalar(select(FaseTipo.descrizione).where(FaseTipo.codice == "SMD")) == prima
        _rinomina(db_session, "Di nuovo scrivibile")
        db_session.expire_all()
        assert db_session.scalar(select(FaseTipo.descrizione).where(FaseTipo.codice == "SMD")) == "Di nuovo scrivibile"
    finally:
        event.remove(engine, "connect", _sola_lettura)
        db_session.remove()
        engine.dispose()


def test_sqlite_busy_stays_a_409_conflict(app, db_session):
    """A write lock held past the busy timeout is a conflict, not a database that cannot
    write: 409 from the error mapping, and not run again at once (it would wait as long
    again). tests/integration/test_uow.py has the stale-snapshot case, retried."""
    if db.engines[None].dialect.name != "sqlite":
        pytest.skip("SQLite's busy refusal")
    percorso = db.engines[None].url.database
    altro = sqlite3.connect(percorso, isolation_level=None)
    engine = db.engines[None]

    def _attesa_breve(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    db_session.remove()
    engine.dispose()
    event.listen(engine, "connect", _attesa_breve)
    try:
        altro.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as rifiuto:
            _rinomina(db_session, "Mai salvato")
        assert natura_errore(rifiuto.value) == CONFLITTO
        risposta = uow.errore_database(rifiuto.value)
        assert isinstance(risposta, DatabaseOccupato) and risposta.status == 409
    finally:
        altro.execute("ROLLBACK")
        altro.close()
        event.remove(engine, "connect", _attesa_breve)
        db_session.remove()
        engine.dispose()


def test_errore_database_maps_what_escapes_a_service(tmp_path):
    pieno = _errore_sqlite(tmp_path, "PRAGMA max_page_count=2", "INSERT INTO t VALUES (randomblob(20000))")
    assert isinstance(uow.errore_database(OperationalError("INSERT", {}, pieno)), DatabaseNonDisponibile)
    strano = sqlite3.OperationalError("qualcosa di imprevisto nel database")
    assert isinstance(uow.errore_database(OperationalError("SELECT", {}, strano)), DatabaseNonDisponibile)
    doppio = _errore_sqlite(tmp_path, "CREATE UNIQUE INDEX IF NOT EXISTS u ON t (x)", "INSERT INTO t VALUES (1), (1)")
    assert uow.errore_database(DBAPIError("INSERT", {}, doppio)) is None


# -- the write probe ---------------------------------------------------------------------------------


def _sqlite_engine(percorso, **pragma):
    engine = create_engine(f"sqlite:///{percorso}")
    dialects.configure_asigest_engine(engine)

    @event.listens_for(engine, "connect")
    def _limiti(dbapi_connection, _record):
        for nome, valore in pragma.items():
            dbapi_connection.execute(f"PRAGMA {nome}={valore}")

    return engine


def _alembic_version(percorso):
    engine = create_engine(f"sqlite:///{percorso}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
        conn.execute(text("CREATE TABLE pieno (x)"))
    engine.dispose()


def test_the_probe_says_a_writable_database_writes_and_leaves_nothing(db_session):
    engine = db.engines[None]
    with engine.connect() as conn:
        prima = conn.execute(select(func.count()).select_from(dialects._SONDA)).scalar_one()
    assert sonda_scrittura(engine) is None
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dialects._SONDA)).scalar_one() == prima


def test_the_probe_sees_a_read_only_database(app, sola_lettura):
    motivo = sonda_scrittura(sola_lettura)
    assert motivo is not None and ("readonly" in motivo or "read-only" in motivo)


def test_the_probe_sees_sqlite_at_max_page_count(tmp_path):
    percorso = tmp_path / "limitato.db"
    _alembic_version(percorso)
    engine = _sqlite_engine(percorso)
    with engine.connect() as conn:
        pagine = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    engine.dispose()
    pieno = _sqlite_engine(percorso, max_page_count=pagine + 1)
    try:
        assert "full" in sonda_scrittura(pieno)
    finally:
        pieno.dispose()
    spazio = _sqlite_engine(percorso, max_page_count=pagine + 100)
    try:
        assert sonda_scrittura(spazio) is None
        with spazio.connect() as conn:  # the probe's row is not there, and nothing grew
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM alembic_version").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA page_count").scalar_one() == pagine
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == dialects.SQLITE_BUSY_TIMEOUT_MS
    finally:
        spazio.dispose()


def test_the_probe_sees_a_sqlite_file_opened_read_only(tmp_path):
    percorso = tmp_path / "ro.db"
    _alembic_version(percorso)
    engine = create_engine(f"sqlite:///file:{percorso}?mode=ro&uri=true")
    dialects.configure_asigest_engine(engine)
    try:
        assert "readonly" in sonda_scrittura(engine)
    finally:
        engine.dispose()


def test_the_probe_waits_a_held_write_lock_briefly_and_calls_it_busy_not_broken(tmp_path):
    percorso = tmp_path / "bloccato.db"
    _alembic_version(percorso)
    engine = _sqlite_engine(percorso)
    altro = sqlite3.connect(percorso, isolation_level=None)
    altro.execute("BEGIN IMMEDIATE")
    import time

    try:
        inizio = time.monotonic()
        assert sonda_scrittura(engine) is None
        assert time.monotonic() - inizio < dialects._SONDA_ATTESA_MS / 1000 + 1.5
    finally:
        altro.execute("ROLLBACK")
        altro.close()
        engine.dispose()


def test_the_probe_reports_a_full_file_system(tmp_path, monkeypatch):
    """A full disk does not show in an uncommitted SQLite write (see the docstring):
    the probe reads the free space of the database's file system."""
    percorso = tmp_path / "disco.db"
    _alembic_version(percorso)
    engine = _sqlite_engine(percorso)
    vero = dialects.os.statvfs

    class Pieno:
        def __init__(self, reale):
            self.f_frsize, self.f_bavail = reale.f_frsize, 10

    monkeypatch.setattr(dialects.os, "statvfs", lambda p: Pieno(vero(p)))
    try:
        assert "spazio libero" in sonda_scrittura(engine)
    finally:
        engine.dispose()


def test_a_sqlite_write_on_a_really_full_disk(tmp_path):
    """On a real full file system (a 1 MB tmpfs, where mounting is allowed): the commit
    fails with SQLITE_FULL, the unit of work says DatabaseNonDisponibile, and the probe
    reports the disk; the uncommitted write alone would have succeeded."""
    import subprocess

    punto = tmp_path / "tmpfs"
    punto.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(punto)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("mount di un tmpfs non permesso qui")
    try:
        percorso = punto / "pieno.db"
        _alembic_version(percorso)
        engine = _sqlite_engine(percorso)
        from sqlalchemy.orm import Session

        with Session(engine) as session, pytest.raises(DatabaseNonDisponibile):
            for _ in range(2000):
                with transaction(session):
                    session.execute(text("INSERT INTO pieno VALUES (randomblob(4000))"))
        assert "spazio libero" in sonda_scrittura(engine)
        engine.dispose()
    finally:
        subprocess.run(["umount", "-l", str(punto)], check=False)
