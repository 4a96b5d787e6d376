"""Where one kiosk open + close spends its time: cProfile of N round trips in process.

    .venv/bin/python bench/profile_kiosk.py [--pairs 300] [--top 30] [--sort cumulative]

Same data set as ``kiosk_bench.py`` (``bench/dataset.py``), the same requests
(``POST /api/lotti/smd/`` with an Idempotency-Key, then ``PUT …/close``) through Flask's
test client, so the WSGI server and the network are left out. Prints the mean time per
pair without and with the profiler, the top functions, and the SQL statements per pair.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dataset import prepare  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--sql", action="store_true", help="Print the SQL statements of one pair.")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="asigest-kiosk-prof-"))
    try:
        data = prepare(instance, macchine=1, commesse=1)
        os.environ["ASIGEST_INSTANCE_PATH"] = str(instance)
        os.environ.pop("ASIGEST_DATABASE_URL", None)
        os.environ.pop("ASIGEST_ERP_URL", None)
        from sqlalchemy import event

        from asigest.extensions import db
        from bench.app import app

        client = app.test_client()
        base = {"Authorization": f"Bearer {data.token}"}
        body = {
            "FaseID": data.fasi["SMD"][0],
            "QtaInput": 10,
            "MacchinaID": data.macchine["SMD"][0],
            "OperatoreID": data.operatori[0],
        }

        def pair():
            r = client.post("/api/lotti/smd/", json=body, headers={**base, "Idempotency-Key": str(uuid.uuid4())})
            assert r.status_code == 201, r.get_data(as_text=True)
            lotto_id = r.get_json()["LottoID"]
            r = client.put(
                f"/api/lotti/smd/{lotto_id}/close",
                json={"QtaOutput": 10, "QtaScarti": 0},
                headers={**base, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 200, r.get_data(as_text=True)

        for _ in range(30):  # warm-up
            pair()

        statements: list[str] = []
        with app.app_context():
            engine = db.engines[None]
            erp_engine = db.engines["erp"]

        def count(conn, cursor, statement, *a):
            statements.append(statement.split()[0].upper() if statement.strip() else "?")
            if args.sql:
                print(f"  [{conn.engine.url.database.rsplit('/', 1)[-1][:12]}] {' '.join(statement.split())[:150]}")

        event.listen(engine, "before_cursor_execute", count)
        event.listen(erp_engine, "before_cursor_execute", count)
        pair()
        event.remove(engine, "before_cursor_execute", count)
        event.remove(erp_engine, "before_cursor_execute", count)

        start = time.perf_counter()
        for _ in range(args.pairs):
            pair()
        plain = (time.perf_counter() - start) * 1000 / args.pairs

        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(args.pairs):
            pair()
        profiler.disable()
        profiled = (time.perf_counter() - start) * 1000 / args.pairs

        print(f"{args.pairs} open+close in process: {plain:.2f} ms per pair ({profiled:.2f} ms under cProfile)")
        from collections import Counter

        print(f"SQL statements per pair: {len(statements)} {dict(Counter(statements))}")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()  # the application's own functions only
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"asigest/", args.top)
        print(out.getvalue().replace(str(ROOT) + "/", ""))
        return 0
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
