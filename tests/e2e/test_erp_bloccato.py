"""A locked ERP cannot take the app down (issue 12, item 7).

The app runs as ``make run`` runs it (gunicorn, 2 workers × 4 threads, the default
``ASIGEST_ERP_TIMEOUT`` of 5 s and ``ASIGEST_ERP_MAX_ATTESE`` of 2; a 3 s pause so that
the test sees the recovery). Another program holds an exclusive lock on the ERP: ``BEGIN
EXCLUSIVE`` on the ERP's SQLite file (rollback journal, like the test and demo ERPs) or,
with PostgreSQL available, ``LOCK TABLE "COMMESSE" IN ACCESS EXCLUSIVE MODE`` on an ERP
database of its own (a query then waits until ``statement_timeout`` stops it).

While the lock is held, waves of 16 concurrent ``GET /api/commesse/1`` (the order card,
read from the ERP at every request) hit the server and, all along, a terminal lists lotti
(``GET /api/lotti/smd/``, no ERP). Checked: every ERP request answers 503
ERP_UNAVAILABLE, the first wave within the timeout and, once the breakers are open, each
in under a second; the lotti list answers in under a second throughout; ``/health``
answers in under a second with the ERP ``unreachable``; the orders list, which reads the
copy of the open orders while it is younger than ``ASIGEST_COMMESSE_APERTE_SECONDS`` (2 s
here), answers 503 ERP_UNAVAILABLE too once the copy is older. After the lock is released, ERP requests and ``/health`` are back to
``ok`` once the pause has passed. The timings are printed (``pytest -s``).
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import make_url

from asigest.erp.tables import commesse_table
from tests.erp_fixture import commessa_row
from tests.server_fixture import (
    QTA_COMMESSA,
    _pg_admin,
    database_usa_e_getta,
    prepara_impianto,
    serve_gunicorn,
)

ONDA = 16
# Longer than the timeout (a wave that waits out a trial does not outlast the other
# breakers), with room for a loaded machine that stretches the waves: no breaker's pause
# ends while the ERP is still locked.
PAUSA_S = 20
TIMEOUT_S = 5
VELOCE_S = 1.0
WORKERS_GUNICORN = 2  # serve_gunicorn's default, as make run
COMMESSE = 3
# Needs the ERP at every request: the order card (the orders list reads the copy of the
# open orders while it is fresh, services/commesse_aperte.py).
RICHIESTA_ERP = "/api/commesse/1"
FRESCHEZZA_S = 2


def _get(porta: int, percorso: str, headers: dict) -> tuple[int, dict | None, float]:
    inizio = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", porta, timeout=30)
    try:
        conn.request("GET", percorso, headers=headers)
        r = conn.getresponse()
        corpo = r.read()
        durata = time.monotonic() - inizio
        try:
            return r.status, json.loads(corpo), durata
        except ValueError:
            return r.status, None, durata
    finally:
        conn.close()


class Sonda(threading.Thread):
    """A terminal listing lotti every 100 ms: (status, seconds) of each answer."""

    def __init__(self, porta: int, headers: dict):
        super().__init__(daemon=True)
        self.porta, self.headers = porta, headers
        self.fermo = threading.Event()
        self.misure: list[tuple[int, float]] = []

    def run(self):
        while not self.fermo.is_set():
            status, _, durata = _get(self.porta, "/api/lotti/smd/", self.headers)
            self.misure.append((status, durata))
            self.fermo.wait(0.1)


@contextmanager
def blocco_sqlite(percorso):
    conn = sqlite3.connect(percorso, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.execute("BEGIN EXCLUSIVE")
        yield lambda: conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextmanager
def erp_postgresql():
    """A throwaway PostgreSQL ERP with the plant's orders; yields (URL, lock())."""
    base = make_url(os.environ["ASIGEST_TEST_DATABASE_URL"])
    nome = f"asigest_erp_{uuid.uuid4().hex[:8]}"
    with _pg_admin(base) as conn:
        conn.execute(f'CREATE DATABASE "{nome}"')
    url = base.set(database=nome).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        tabella = commesse_table(None)
        tabella.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(tabella), [commessa_row(i, numerocom=1000 + i, QTA=QTA_COMMESSA) for i in range(1, COMMESSE + 1)]
            )
        engine.dispose()

        @contextmanager
        def blocca():
            import psycopg

            conn = psycopg.connect(
                host=base.host or "127.0.0.1",
                port=base.port or 5432,
                user=base.username,
                password=base.password,
                dbname=nome,
            )
            try:
                conn.execute('LOCK TABLE "COMMESSE" IN ACCESS EXCLUSIVE MODE')
                yield conn.rollback
            finally:
                conn.close()

        yield url, blocca
    finally:
        with _pg_admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{nome}" WITH (FORCE)')


def _riassunto(durate):
    return f"p50 {statistics.median(durate) * 1000:.0f} ms, max {max(durate) * 1000:.0f} ms"


@pytest.mark.parametrize("tipo_erp", ["sqlite", "postgresql"])
def test_a_locked_erp_does_not_stall_the_app(tipo_erp, tmp_path, serve_gunicorn):
    if tipo_erp == "postgresql" and not os.environ.get("ASIGEST_TEST_DATABASE_URL"):
        pytest.skip("ERP su PostgreSQL: serve ASIGEST_TEST_DATABASE_URL")
    with database_usa_e_getta(tmp_path) as database_url:
        impianto = prepara_impianto(database_url, tmp_path, macchine=1, commesse=COMMESSE)
        with erp_postgresql() if tipo_erp == "postgresql" else _erp_sqlite(tmp_path) as (erp_url, blocca):
            server = serve_gunicorn(
                replace(impianto, erp_url=erp_url),
                impostazioni={
                    "ASIGEST_ERP_TIMEOUT": TIMEOUT_S,
                    "ASIGEST_ERP_PAUSA_SECONDS": PAUSA_S,
                    "ASIGEST_ERP_MAX_ATTESE": 2,
                    "ASIGEST_COMMESSE_APERTE_SECONDS": FRESCHEZZA_S,
                },
            )
            try:
                _prova(server.porta, impianto, blocca, tipo_erp)
            finally:
                server.uccidi()
            assert server.errori_nel_log() == []


@contextmanager
def _erp_sqlite(tmp_path):
    from tests.server_fixture import Impianto

    percorso = tmp_path / "erp.db"

    @contextmanager
    def blocca():
        with blocco_sqlite(percorso) as rilascia:
            yield rilascia

    from asigest.dialects import sqlite_readonly_url

    yield sqlite_readonly_url(percorso), blocca


def _prova(porta, impianto, blocca, tipo_erp):
    headers = {"Authorization": f"Bearer {impianto.operatori[0][2]}"}
    prima_lista = [_get(porta, "/api/lotti/smd/", headers)[2] for _ in range(10)]
    prima_salute = [_get(porta, "/health", {})[2] for _ in range(5)]
    assert _get(porta, RICHIESTA_ERP, headers)[0] == 200
    assert _get(porta, "/api/commesse/", headers)[0] == 200  # fills the copy
    assert _get(porta, "/health", {})[1]["databases"]["erp"] == "ok"

    with blocca() as rilascia, ThreadPoolExecutor(ONDA) as pool:
        sonda = Sonda(porta, headers)
        sonda.start()
        onde = []
        for _ in range(6):
            inizio = time.monotonic()
            onda = list(pool.map(lambda _: _get(porta, RICHIESTA_ERP, headers), range(ONDA)))
            onde.append((onda, time.monotonic() - inizio))
            if all(durata < VELOCE_S for _, _, durata in onda):
                break
        # The first wave waited the timeout: the copy is older than its freshness by now.
        elenco = _get(porta, "/api/commesse/", headers)
        salute = []
        for _ in range(10):
            salute.append(_get(porta, "/health", {}))
            time.sleep(0.2)
        sonda.fermo.set()
        sonda.join(10)
        rilascia()
        rilasciato = time.monotonic()

    risposte = [r for onda, _ in onde for r in onda]
    assert {(s, (c or {}).get("code")) for s, c, _ in risposte} == {(503, "ERP_UNAVAILABLE")}
    assert max(d for _, _, d in onde[0][0]) < TIMEOUT_S + 1.5  # the first ones wait the timeout, no more
    assert all(d < VELOCE_S for _, _, d in onde[-1][0]), "gli interruttori non si sono aperti"
    assert sonda.misure and {s for s, _ in sonda.misure} == {200}
    assert (elenco[0], (elenco[1] or {}).get("code")) == (503, "ERP_UNAVAILABLE")
    assert elenco[2] < TIMEOUT_S + 1.5
    lista = [d for _, d in sonda.misure]
    assert max(lista) < VELOCE_S, f"lista lotti lenta con l'ERP bloccato: {_riassunto(lista)}"
    assert all(s == 200 and c["databases"]["erp"] == "unreachable" and c["status"] == "degraded" for s, c, _ in salute)
    # A worker that the waves never reached (the kernel may hand them all to the other one
    # on a loaded machine) has no open breaker yet: its first ping waits the timeout once,
    # and opens it. So at most one slow probe per worker, none longer than the timeout.
    lente = [d for _, _, d in salute if d >= VELOCE_S]
    assert len(lente) <= WORKERS_GUNICORN and all(d < TIMEOUT_S + 1.5 for d in lente), _riassunto(lente)

    # Recovery: once the pause has passed, each worker's next ERP call is its trial.
    ok_di_fila, primo_ok = 0, None
    while ok_di_fila < 10 and time.monotonic() - rilasciato < PAUSA_S + 3 * TIMEOUT_S:
        status, _, _ = _get(porta, RICHIESTA_ERP, headers)
        ok_di_fila = ok_di_fila + 1 if status == 200 else 0
        primo_ok = primo_ok or (time.monotonic() - rilasciato if status == 200 else None)
        time.sleep(0.1)
    assert ok_di_fila >= 10, "l'ERP non è tornato disponibile dopo la pausa"
    # Each worker has its own breaker and the kernel may have handed every request above to
    # one of them: the other recovers on its own next call once its pause is over, so
    # /health is polled until both have answered ok, within the same bound.
    ok_di_fila = 0
    while ok_di_fila < 6 and time.monotonic() - rilasciato < PAUSA_S + 3 * TIMEOUT_S:
        _, corpo, _ = _get(porta, "/health", {})
        sano = corpo["status"] == "ok" and corpo["databases"]["erp"] == "ok"
        ok_di_fila = ok_di_fila + 1 if sano else 0
        time.sleep(0 if sano else 0.2)
    assert ok_di_fila >= 6, "/health dice ancora l'ERP irraggiungibile dopo la pausa"
    ripresa = time.monotonic() - rilasciato

    print(
        f"\nERP {tipo_erp} bloccato, {ONDA} richieste ERP per onda, gunicorn 2×4, timeout {TIMEOUT_S} s, "
        f"pausa {PAUSA_S} s:"
    )
    print(f"  prima del blocco: lista lotti {_riassunto(prima_lista)}; /health {_riassunto(prima_salute)}")
    for n, (onda, totale) in enumerate(onde, 1):
        print(f"  onda {n}: {ONDA}×503 in {totale:.2f} s; ciascuna {_riassunto([d for _, _, d in onda])}")
    print(f"  lista lotti durante il blocco ({len(lista)} richieste): {_riassunto(lista)}")
    print(f"  /health durante il blocco: {_riassunto([d for _, _, d in salute])} (erp unreachable)")
    print(f"  elenco commesse con la copia scaduta: {elenco[0]} in {elenco[2] * 1000:.0f} ms")
    print(f"  dopo il rilascio: primo 200 dopo {primo_ok:.2f} s, tutto ok dopo {ripresa:.2f} s")
