"""Kiosk write-path benchmark: open + close round trips over HTTP against gunicorn, with
N concurrent terminals, and a bare Flask route measured in the same run (SPEC §11:
open + close p95 ≤ 20 ms with 16 terminals on SQLite).

    .venv/bin/python bench/kiosk_bench.py [--terminals 16] [--seconds 10] [--workers 2] [--threads 1]

It builds the data set of ``bench/dataset.py`` in a temporary folder (the demo plus one
BENCH-SMD-NN machine per terminal and ``--commesse`` configured orders of 1,000,000
pieces), starts gunicorn (sync workers; gthread when ``--threads`` > 1), then:

1. the bare route (``/_bench/bare``) with N client threads for ``--seconds``;
2. N terminals for ``--seconds``, each a thread with its own machine and its own
   keep-alive connection, looping ``POST /api/lotti/smd/`` (open, with an
   ``Idempotency-Key``) then ``PUT /api/lotti/smd/{id}/close`` (every ``--scrap-every``-th
   close with one scrapped piece and a reason). Terminal i works on order i mod
   ``--commesse``, so several terminals share a fase (R6 progressivi under contention).

A 5xx or 409 is resent with the same Idempotency-Key (at most 3 attempts, every failure
counted); the time recorded is the operator's, from the first attempt. ``--think MS``
adds an exponential pause (mean MS) before each open, for a realistic pace;
``--app`` runs another WSGI app (default ``bench.app:app``).

Each scenario has a 1 s warm-up first. It prints p50/p95/p99 of open, close, the
open+close pair and the bare route, and p95 as a multiple of the bare route's p95; then
checks through the API that no bench machine has an open lotto, that the lotti listed
per fase are exactly those opened, and that no request failed (any non-2xx is counted
and listed by status and error code).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import free_port, percentile, start_server  # noqa: E402
from bench.dataset import BenchData, bench_env, prepare  # noqa: E402

CAUSALE_SMD = "SMD-PICK"
RETRIES = 3


class Risultati:
    """What all terminals measured in one scenario (lists appended under the GIL)."""

    def __init__(self):
        self.open: list[float] = []
        self.close: list[float] = []
        self.pair: list[float] = []
        self.bare: list[float] = []
        self.errori: Counter = Counter()
        self.aperti: dict[int, list[int]] = {}  # fase id → lotto ids opened
        self.non_chiusi: list[int] = []
        self.lock = threading.Lock()

    def errore(self, op: str, status: int, body: bytes) -> None:
        try:
            code = json.loads(body).get("error", {}).get("code") or json.loads(body).get("code")
        except Exception:
            code = body[:80].decode(errors="replace")
        with self.lock:
            self.errori[f"{op} HTTP {status} {code}"] += 1


def _conn(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _request(conn, method, path, headers, body=None) -> tuple[int, bytes]:
    """One request; sent again on a new connection when gunicorn closed the idle one
    (its keep-alive is 2 s, shorter than a ``--think`` pause may be). The request carries
    its Idempotency-Key, so a repeat can never open a second lotto."""
    for tentativo in (1, 2):
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()
            if tentativo == 2:
                raise
    raise AssertionError("unreachable")


def run_bare(port: int, token: str, terminals: int, seconds: float, out: Risultati) -> None:
    deadline = time.perf_counter() + seconds

    def terminal():
        conn = _conn(port)
        headers = {"Authorization": f"Bearer {token}"}
        times = []
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status, body = _request(conn, "GET", "/_bench/bare", headers)
            times.append((time.perf_counter() - start) * 1000)
            if status != 200:
                out.errore("bare", status, body)
        conn.close()
        out.bare.extend(times)

    _run_threads(terminal, terminals)


def run_kiosk(
    port: int,
    data: BenchData,
    terminals: int,
    seconds: float,
    qta: int,
    scrap_every: int,
    out: Risultati,
    *,
    chiave: bool = True,
    think: float = 0.0,
) -> None:
    deadline = time.perf_counter() + seconds
    fasi = data.fasi["SMD"]
    macchine = data.macchine["SMD"]

    def terminal(i: int):
        conn = _conn(port)
        fase_id = fasi[i % len(fasi)]
        base = {"Authorization": f"Bearer {data.token}", "Content-Type": "application/json"}
        apri = {
            "FaseID": fase_id,
            "QtaInput": qta,
            "MacchinaID": macchine[i],
            "OperatoreID": data.operatori[i % len(data.operatori)],
        }
        opened: list[int] = []
        t_open, t_close, t_pair = [], [], []

        def send(op, method, path, payload, expected):
            """One operation as a terminal does it: a 5xx or 409 is resent (same Idempotency-Key,
            R11) up to RETRIES times; every failed attempt is counted. The time measured is the
            operator's: from the first attempt to the answer."""
            headers = {**base, "Idempotency-Key": str(uuid.uuid4())} if chiave else base
            for _ in range(RETRIES):
                status, body = _request(conn, method, path, headers, json.dumps(payload))
                if status == expected:
                    return status, body
                out.errore(op, status, body)
                if status < 500 and status != 409:
                    break
            return status, body

        n = 0
        rng = random.Random(i)
        while time.perf_counter() < deadline:
            n += 1
            if think:  # an operator's pause between two lotti (exponential, mean ``think`` ms)
                time.sleep(rng.expovariate(1000 / think))
            start = time.perf_counter()
            status, body = send("open", "POST", "/api/lotti/smd/", apri, 201)
            mid = time.perf_counter()
            if status != 201:
                continue
            lotto_id = json.loads(body)["LottoID"]
            opened.append(lotto_id)
            chiudi = {"QtaOutput": qta, "QtaScarti": 0}
            if scrap_every and n % scrap_every == 0:
                chiudi = {"QtaOutput": qta - 1, "QtaScarti": 1, "CausaleScarto": CAUSALE_SMD}
            status, body = send("close", "PUT", f"/api/lotti/smd/{lotto_id}/close", chiudi, 200)
            end = time.perf_counter()
            if status != 200:
                with out.lock:
                    out.non_chiusi.append(lotto_id)
                break  # the machine is now held by a lotto this terminal could not close
            t_open.append((mid - start) * 1000)
            t_close.append((end - mid) * 1000)
            t_pair.append((end - start) * 1000)
        conn.close()
        with out.lock:
            out.open += t_open
            out.close += t_close
            out.pair += t_pair
            out.aperti.setdefault(fase_id, []).extend(opened)

    _run_threads(terminal, terminals, indexed=True)


def cpu_server(pid: int) -> float:
    """CPU milliseconds used so far by gunicorn's master ``pid`` and its workers (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    totale = 0
    figli = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for processo in [str(pid), *figli]:
        campi = Path(f"/proc/{processo}/stat").read_text().rsplit(")", 1)[1].split()
        totale += int(campi[11]) + int(campi[12])  # utime, stime
    return totale * 1000 / tick


def _run_threads(target, n: int, *, indexed: bool = False) -> None:
    threads = [threading.Thread(target=target, args=(i,) if indexed else ()) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def verify(port: int, data: BenchData, terminals: int, aperti: dict[int, list[int]]) -> list[str]:
    """Through the API: no bench machine holds an open lotto; each fase lists exactly the lotti opened."""
    problemi = []
    conn = _conn(port)
    headers = {"Authorization": f"Bearer {data.token}"}

    def get(path):
        status, body = _request(conn, "GET", path, headers)
        if status != 200:
            raise SystemExit(f"verifica: GET {path} → HTTP {status}")
        return json.loads(body)

    for macchina_id in data.macchine["SMD"][:terminals]:
        rimasti = get(f"/api/lotti/smd/?aperti=true&MacchinaID={macchina_id}")
        if rimasti:
            problemi.append(f"macchina {macchina_id}: lotti ancora aperti {[r['LottoID'] for r in rimasti]}")
    for fase_id in data.fasi["SMD"]:
        elencati, offset = [], 0
        while True:
            pagina = get(f"/api/lotti/smd/?FaseID={fase_id}&limit=500&offset={offset}")
            elencati += pagina
            if len(pagina) < 500:
                break
            offset += 500
        attesi = set(aperti.get(fase_id, []))
        trovati = {r["LottoID"] for r in elencati}
        if trovati != attesi:
            problemi.append(f"fase {fase_id}: {len(trovati)} lotti elencati, {len(attesi)} aperti dal benchmark")
        ancora = [r["LottoID"] for r in elencati if r["DataFine"] is None]
        if ancora:
            problemi.append(f"fase {fase_id}: lotti non chiusi {ancora[:10]}")
        progressivi = [r["Progressivo"] for r in elencati]
        if len(set(progressivi)) != len(progressivi):
            problemi.append(f"fase {fase_id}: progressivi duplicati")
    conn.close()
    return problemi


def _riga(nome: str, values: list[float], bare_p95: float | None) -> str:
    if not values:
        return f"{nome:34} {0:7d}"
    p50, p95, p99 = statistics.median(values), percentile(values, 95), percentile(values, 99)
    ratio = f"{p95 / bare_p95:8.1f}x" if bare_p95 else f"{'':9}"
    return f"{nome:34} {len(values):7d} {p50:8.2f} {p95:8.2f} {p99:8.2f} {ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="> 1: gthread worker with this many threads")
    parser.add_argument("--commesse", type=int, default=4, help="Commesse (fasi SMD) condivise dai terminali.")
    parser.add_argument("--qta", type=int, default=10, help="QtaInput di ogni lotto.")
    parser.add_argument("--scrap-every", type=int, default=10, help="Ogni N chiusure una con 1 scarto (0: mai).")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="Pausa media (ms, esponenziale) di ogni terminale prima di aprire un lotto; 0: a ciclo continuo.",
    )
    parser.add_argument("--no-key", action="store_true", help="Senza Idempotency-Key.")
    parser.add_argument("--app", default="bench.app:app", help="WSGI app for gunicorn.")
    parser.add_argument("--keep", action="store_true", help="Non cancellare la cartella istanza.")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="asigest-kiosk-bench-"))
    server = None
    try:
        t0 = time.perf_counter()
        data = prepare(instance, macchine=args.terminals, commesse=args.commesse)
        print(f"dati pronti in {time.perf_counter() - t0:.1f} s ({instance})")
        port = free_port()
        log = instance / "gunicorn.log"
        server = start_server(bench_env(instance), port, args.workers, threads=args.threads, log=log, app=args.app)

        warm = Risultati()
        run_bare(port, data.token, args.terminals, 1.0, warm)
        run_kiosk(port, data, args.terminals, 1.0, args.qta, args.scrap_every, warm, chiave=not args.no_key)
        bare = Risultati()
        run_bare(port, data.token, args.terminals, args.seconds, bare)
        kiosk = Risultati()
        cpu_prima = cpu_server(server.pid)
        run_kiosk(
            port,
            data,
            args.terminals,
            args.seconds,
            args.qta,
            args.scrap_every,
            kiosk,
            chiave=not args.no_key,
            think=args.think,
        )

        cpu_coppie = cpu_server(server.pid) - cpu_prima
        worker = f"gthread --threads {args.threads}" if args.threads > 1 else "sync"
        print(
            f"gunicorn -w {args.workers} ({worker}), {args.terminals} terminali, {args.seconds:.0f} s per scenario, "
            f"{len(data.fasi['SMD'])} fasi SMD, pausa media {args.think:.0f} ms, SQLite, {args.app}"
        )
        print(f"{'scenario':34} {'req':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p95/bare':>9}")
        bare_p95 = percentile(bare.bare, 95)
        print(_riga("bare Flask route", bare.bare, bare_p95))
        print(_riga("open   POST /api/lotti/smd/", kiosk.open, bare_p95))
        print(_riga("close  PUT .../{id}/close", kiosk.close, bare_p95))
        print(_riga("open+close pair", kiosk.pair, bare_p95))
        pairs_s = len(kiosk.pair) / args.seconds
        print(f"CPU del server (gunicorn, tutti i worker) per coppia: {cpu_coppie / max(1, len(kiosk.pair)):.2f} ms")
        print(
            f"throughput: {pairs_s:.0f} open+close/s ({2 * pairs_s:.0f} req/s), bare {len(bare.bare) / args.seconds:.0f} req/s"
        )

        aperti: dict[int, list[int]] = {}
        for r in (warm, kiosk):
            for fase_id, ids in r.aperti.items():
                aperti.setdefault(fase_id, []).extend(ids)
        problemi = verify(port, data, args.terminals, aperti)
        errori = warm.errori + bare.errori + kiosk.errori
        totale = sum(len(v) for v in aperti.values())
        print(f"verifica: {totale} lotti aperti e chiusi; richieste fallite: {sum(errori.values())}")
        for k, v in errori.most_common():
            print(f"  {v:6d} × {k}")
        for p in problemi:
            print(f"  PROBLEMA: {p}")
        eccezioni = Counter(
            riga.split(" [")[0][:160]
            for riga in log.read_text(errors="replace").splitlines()
            if riga.startswith(("sqlalchemy.exc.", "sqlite3.")) or "Error: " in riga[:60]
        )
        for riga, n in eccezioni.most_common(5):
            print(f"  server log {n:5d} × {riga}")
        return 1 if errori or problemi else 0
    finally:
        if server:
            server.terminate()
            server.wait(10)
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
