"""SQLite's writers queue (``dialects.CodaScrittori``): a waiting writer starts as soon as
the lock frees, a turn is held from BEGIN IMMEDIATE to the connection's return to the
pool, and other processes see it through the file lock."""

from __future__ import annotations

import fcntl
import os
import statistics
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from asigest import dialects

pytestmark = pytest.mark.una_volta  # SQLite's own behaviour: once is enough


def _engine(percorso):
    engine = create_engine(f"sqlite:///{percorso}")
    dialects.configure_asigest_engine(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


def _scrive(engine):
    return engine.connect().execution_options(**{dialects.WRITE_OPTION: True})


def _file_libero(percorso) -> bool:
    """Whether another process could take the queue's file now (a new open file
    description, as another process has)."""
    fd = os.open(f"{percorso}.scrittori", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_turn_is_held_from_begin_to_the_return_to_the_pool(tmp_path):
    percorso = tmp_path / "a.db"
    engine = _engine(percorso)
    conn = _scrive(engine)
    with conn.begin():
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not _file_libero(percorso)
    conn.close()
    assert _file_libero(percorso)
    # A read transaction never queues.
    with engine.connect() as lettura, lettura.begin():
        lettura.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert _file_libero(percorso)
    engine.dispose()


def test_a_rolled_back_or_failed_writer_gives_its_turn_back(tmp_path):
    percorso = tmp_path / "b.db"
    engine = _engine(percorso)
    conn = _scrive(engine)
    transazione = conn.begin()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    transazione.rollback()
    conn.close()
    assert _file_libero(percorso)
    with pytest.raises(OperationalError, match="manca"), _scrive(engine) as conn, conn.begin():
        conn.execute(text("INSERT INTO manca VALUES (1)"))
    assert _file_libero(percorso)
    engine.dispose()


def test_a_waiting_writer_starts_when_the_lock_frees_not_at_the_next_busy_sleep(tmp_path):
    """The first writer holds the lock for 340 ms. SQLite's busy handler alone wakes the
    second at fixed steps (sleeps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms,
    then 100 ms each), so past 328 ms it starts up to 100 ms after the lock freed (about
    50 on average; fewer than 1 % of runs would have a median under 10 ms). Queued, it
    starts within a millisecond; the median of five rounds leaves room for a loaded machine."""
    engine = _engine(tmp_path / "c.db")
    ritardi = [_ritardo_del_secondo(engine) for _ in range(5)]
    assert statistics.median(ritardi) < 0.01, [f"{r * 1000:.1f} ms" for r in ritardi]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 10
    engine.dispose()


def _ritardo_del_secondo(engine) -> float:
    """Seconds from the first writer's end to the second's start (it waits from the first's write on)."""
    tenuto = threading.Event()
    liberato: list[float] = []
    iniziato: list[float] = []

    def primo():
        with _scrive(engine) as conn, conn.begin():
            conn.execute(text("INSERT INTO t VALUES (1)"))
            tenuto.set()
            time.sleep(0.34)
            liberato.append(time.perf_counter())  # commit and return follow at once

    def secondo():
        tenuto.wait()
        with _scrive(engine) as conn, conn.begin():
            iniziato.append(time.perf_counter())
            conn.execute(text("INSERT INTO t VALUES (2)"))

    fili = [threading.Thread(target=primo), threading.Thread(target=secondo)]
    for filo in fili:
        filo.start()
    for filo in fili:
        filo.join(10)
    return iniziato[0] - liberato[0]


def test_the_same_thread_on_a_second_connection_does_not_wait_for_itself(tmp_path, monkeypatch):
    """A thread that holds a turn and opens another write (a mistake SQLite's busy
    timeout answers) is not made to wait on its own turn first."""
    monkeypatch.setattr(dialects, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = create_engine(f"sqlite:///{tmp_path / 'd.db'}", connect_args={"timeout": 0.2})
    dialects.configure_asigest_engine(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with _scrive(engine) as primo, primo.begin():
        primo.execute(text("INSERT INTO t VALUES (1)"))
        inizio = time.perf_counter()
        with pytest.raises(Exception, match="locked"), _scrive(engine) as secondo, secondo.begin():
            pass
        assert time.perf_counter() - inizio < 2  # SQLite's 0.2 s, never the queue's 10 s
    engine.dispose()


def test_the_health_probe_does_not_queue_behind_the_writers(tmp_path):
    """GET /health's write probe bounds its own wait on the lock (2 s) and reports a busy
    database as writing; queued, it would wait the queue's 10 s."""
    engine = _engine(tmp_path / "e.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
    tenuto, fine = threading.Event(), threading.Event()

    def scrittore():
        with _scrive(engine) as conn, conn.begin():
            conn.execute(text("INSERT INTO t VALUES (1)"))
            tenuto.set()
            fine.wait(10)

    filo = threading.Thread(target=scrittore)
    filo.start()
    try:
        tenuto.wait(5)
        inizio = time.perf_counter()
        assert dialects.sonda_scrittura(engine) is None
        assert time.perf_counter() - inizio < 5
    finally:
        fine.set()
        filo.join(10)
    engine.dispose()
