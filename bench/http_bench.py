"""HTTP benchmark of the read paths built so far, against gunicorn, with a bare Flask
route measured in the same run.

    .venv/bin/python bench/http_bench.py [--terminals 16] [--seconds 10] [--workers 2]

It prepares a demo instance in a temporary folder (``flask demo``: ~400 ERP orders),
creates an API token, starts gunicorn on a free port, then for each scenario runs
``--terminals`` client threads with keep-alive connections for ``--seconds`` and
prints p50/p95/p99 in milliseconds and p95 as a multiple of the bare route's p95.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import VENV_BIN, free_port, percentile, start_server  # noqa: E402

SCENARIOS = [
    ("bare Flask route", "/_bench/bare"),
    ("GET /api/commesse/?limit=100", "/api/commesse/?limit=100"),
    ("GET /api/commesse/search?q=2026/1010", "/api/commesse/search?q=2026/1010"),
    ("GET /api/commesse/search?q=scheda", "/api/commesse/search?q=scheda"),
    ("GET /api/commesse/{ID}", "/api/commesse/{id}"),
]


def _flask(env, *args) -> str:
    out = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def prepare(instance: Path) -> tuple[dict, str]:
    env = {**os.environ, "ASIGEST_INSTANCE_PATH": str(instance)}
    env.pop("ASIGEST_DATABASE_URL", None)
    env.pop("ASIGEST_ERP_URL", None)
    _flask(env, "demo")
    token = (
        _flask(env, "token", "create", "--matricola", "supervisore", "--descrizione", "bench").strip().splitlines()[-1]
    )
    return env, token


def first_order_id(port: int, token: str) -> int:
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/commesse/?limit=1", headers={"Authorization": f"Bearer {token}"})
    return json.loads(conn.getresponse().read())[0]["ID"]


def run_scenario(port: int, path: str, token: str, terminals: int, seconds: float) -> list[float]:
    deadline = time.perf_counter() + seconds
    timings: list[list[float]] = [[] for _ in range(terminals)]
    errors: list[str] = []

    def terminal(bucket: list[float]):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            bucket.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                errors.append(f"{path}: HTTP {response.status}")
                return
        conn.close()

    threads = [threading.Thread(target=terminal, args=(timings[i],)) for i in range(terminals)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    return [x for bucket in timings for x in bucket]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="asigest-bench-"))
    server = None
    try:
        env, token = prepare(instance)
        port = free_port()
        server = start_server(env, port, args.workers)
        order_id = first_order_id(port, token)
        print(f"gunicorn -w {args.workers}, {args.terminals} terminali, {args.seconds:.0f} s per scenario, SQLite")
        print(f"{'scenario':42} {'req':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'p95/bare':>9}")
        bare_p95 = None
        for name, path in SCENARIOS:
            run_scenario(port, path.format(id=order_id), token, args.terminals, 1.0)  # warm-up
            values = run_scenario(port, path.format(id=order_id), token, args.terminals, args.seconds)
            p50, p95, p99 = statistics.median(values), percentile(values, 95), percentile(values, 99)
            bare_p95 = bare_p95 or p95
            print(f"{name:42} {len(values):7d} {p50:8.2f} {p95:8.2f} {p99:8.2f} {p95 / bare_p95:8.1f}x")
    finally:
        if server:
            server.terminate()
            server.wait(10)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
