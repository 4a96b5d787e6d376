"""Where a read page's time goes: cProfile and the SQL of one request, in process.

    .venv/bin/python -m bench.profile_letture --instance .bench-cache/lavoro-10000 /lotti "/api/commesse/search?q=1234"
        [--n 50] [--top 30] [--sql]

The app is created on the instance (as gunicorn would serve it), logged in as
``supervisore`` through ``/login`` in Flask's test client (the API addresses get the
instance's token from ``riferimento.json``); each address is requested ``--n`` times
under cProfile after one warm-up. Prints ms per request, statements per request, the
top functions by cumulative time and, with ``--sql``, each statement of one request with its time (to the cursor's return).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, type=Path)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args()
    os.environ["ASIGEST_INSTANCE_PATH"] = str(args.instance.resolve())

    from sqlalchemy import event

    from asigest import create_app
    from asigest.extensions import db

    app = create_app()
    client = app.test_client()
    pagina = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', pagina)
    risposta = client.post(
        "/login",
        data={"matricola": "supervisore", "password": "super1234", "csrf_token": csrf.group(1) if csrf else ""},
    )
    if risposta.status_code != 302:
        raise SystemExit(f"login: HTTP {risposta.status_code}")
    token = json.loads((args.instance / "riferimento.json").read_text())["token"]
    istruzioni: list[str] = []
    inizi: list[float] = []

    def conta(_conn, _cursor, statement, _parameters, _context, _executemany):
        inizi.append(time.perf_counter())

    def finito(_conn, _cursor, statement, _parameters, _context, _executemany):
        istruzioni.append(f"{(time.perf_counter() - inizi.pop()) * 1000:6.2f} ms  {statement}")

    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "before_cursor_execute", conta)
            event.listen(engine, "after_cursor_execute", finito)
    for path in args.paths:
        headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
        risposta = client.get(path, headers=headers)
        if risposta.status_code != 200:
            print(f"{path}: HTTP {risposta.status_code}")
            continue
        istruzioni.clear()
        client.get(path, headers=headers)
        una = list(istruzioni)
        profilo = cProfile.Profile()
        inizio = time.perf_counter()
        profilo.enable()
        for _ in range(args.n):
            client.get(path, headers=headers)
        profilo.disable()
        trascorso = (time.perf_counter() - inizio) * 1000 / args.n
        print(f"\n== {path}: {trascorso:.1f} ms per request under cProfile, {len(una)} statements")
        if args.sql:
            for s in una:
                print("   ", " ".join(s.split())[:400])
        pstats.Stats(profilo).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
