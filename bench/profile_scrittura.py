"""The write path in process: SQL statements, CPU and collector time per API open + close pair,
with R14's draws (a later-phase lotto drawing from closed lotti of the phase before).

    .venv/bin/python bench/profile_scrittura.py [--pairs 300] [--tipo pth|smd] [--profile] [--sql]
    .venv/bin/python bench/profile_scrittura.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME

The data set is ``bench/dataset.py``'s (one order of 1,000,000 pieces, configured with
SMD, PTH and CONTROLLI; one BENCH machine per type). With ``--tipo pth`` (the default)
SMD lotti of 500 pieces are opened and closed first, so every PTH lotto draws FIFO from
them (R14: one or two sources per open). Each pair is what line software sends:
``POST /api/lotti/<tipo>/`` and ``PUT …/<id>/close`` with an ``Idempotency-Key`` each
(R11), every 10th close short by one scrapped piece with a reason (R7, and R14 gives the
piece back to its source). Flask's test client: the WSGI server and network are left
out. ``--database-url`` runs on that (empty) PostgreSQL database instead of SQLite; the
ERP stays the data set's SQLite file.

Prints per pair: statements (BEGIN counted, by kind), wall and CPU milliseconds
(``time.process_time``), the cyclic collector's own time (``gc.callbacks``), then with
``--profile`` cProfile's top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402

CAUSALI = {"smd": "SMD-PICK", "pth": "PTH-SALD", "controlli": "CTRL-FUNZ"}


class Collettore:
    """Time spent in the cyclic garbage collector, by generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.tempo = [0.0, 0.0, 0.0]
        self.volte = [0, 0, 0]
        self.massimo = [0.0, 0.0, 0.0]
        self._inizio = 0.0

    def __call__(self, fase: str, info: dict) -> None:
        if fase == "start":
            self._inizio = time.perf_counter()
        else:
            durata = time.perf_counter() - self._inizio
            self.tempo[info["generation"]] += durata
            self.volte[info["generation"]] += 1
            self.massimo[info["generation"]] = max(self.massimo[info["generation"]], durata)


def _prepara(instance: Path, database_url: str | None) -> dataset.BenchData:
    if database_url is None:
        return dataset.prepare(instance, macchine=1, commesse=1)
    # The same steps as dataset.prepare, with ASI_GEST on the database named.
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    with psycopg.connect(  # an empty schema, so the demo starts from scratch
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, dbname=url.database
    ) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    instance.mkdir(parents=True, exist_ok=True)
    env = {**dataset.bench_env(instance), "ASIGEST_DATABASE_URL": database_url}
    dataset._flask(env, "demo")
    ids = dataset._append_erp(instance / "erp_demo.db", 1, 1_000_000)
    os.environ["ASIGEST_INSTANCE_PATH"] = str(instance)
    os.environ["ASIGEST_DATABASE_URL"] = database_url
    return dataset._popola(instance, ids, 1, 1_000_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--tipo", choices=("smd", "pth"), default="pth")
    parser.add_argument("--profile", action="store_true", help="Then run the pairs again under cProfile.")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="With --profile: also write the raw profile here (pstats, snakeviz).")
    parser.add_argument("--sql", action="store_true", help="Print the SQL statements of one pair.")
    parser.add_argument("--database-url", help="ASI_GEST on this PostgreSQL database (emptied first).")
    parser.add_argument(
        "--gc-python",
        action="store_true",
        help="Leave the collector as Python starts it (by default: as a gunicorn worker, asigest.processo).",
    )
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="asigest-scrittura-"))
    try:
        data = _prepara(instance, args.database_url)
        os.environ["ASIGEST_INSTANCE_PATH"] = str(instance)
        os.environ.pop("ASIGEST_ERP_URL", None)
        if args.database_url:
            os.environ["ASIGEST_DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("ASIGEST_DATABASE_URL", None)
        from sqlalchemy import event

        from asigest.extensions import db
        from bench.app import app

        if not args.gc_python:
            from asigest.processo import dopo_il_caricamento

            dopo_il_caricamento()
        client = app.test_client()
        base = {"Authorization": f"Bearer {data.token}"}
        tipo = args.tipo

        def coppia(tipo: str, qta: int, n: int, origini: list[dict] | None = None) -> int:
            body = {
                "FaseID": data.fasi[tipo.upper()][0],
                "QtaInput": qta,
                "MacchinaID": data.macchine[tipo.upper()][0],
                "OperatoreID": data.operatori[n % len(data.operatori)],
            }
            if origini:
                body["Origini"] = origini
            r = client.post(f"/api/lotti/{tipo}/", json=body, headers={**base, "Idempotency-Key": str(uuid.uuid4())})
            assert r.status_code == 201, r.get_data(as_text=True)
            lotto_id = r.get_json()["LottoID"]
            chiudi = {"QtaOutput": qta, "QtaScarti": 0}
            if n % 10 == 9:
                chiudi = {"QtaOutput": qta - 1, "QtaScarti": 1, "CausaleScarto": CAUSALI[tipo]}
            r = client.put(
                f"/api/lotti/{tipo}/{lotto_id}/close",
                json=chiudi,
                headers={**base, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 200, r.get_data(as_text=True)
            return lotto_id

        giri = 30 + 1 + args.pairs * (2 if args.profile else 1)
        if tipo == "pth":  # the stock the PTH lotti draw from: SMD lotti of 500 pieces
            for _ in range(giri * 10 // 499 + 2):
                coppia("smd", 500, 0)

        numero = iter(range(10**9))
        for _ in range(30):  # warm-up
            coppia(tipo, 10, next(numero))

        statements: list[str] = []
        with app.app_context():
            engines = [db.engines[None], db.engines["erp"]]

        def conta(conn, cursor, statement, *a):
            statements.append(statement.split()[0].upper() if statement.strip() else "?")
            if args.sql and stampa:
                nome = "ERP" if conn.engine is engines[1] else "ASI_GEST"
                print(f"  [{nome:8}] {' '.join(statement.split())[:160]}")

        for engine in engines:
            event.listen(engine, "before_cursor_execute", conta)
        stampa = True
        coppia(tipo, 10, next(numero))
        stampa = False
        statements.clear()

        collettore = Collettore()
        gc.callbacks.append(collettore)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.pairs):
            coppia(tipo, 10, next(numero))
        wall = (time.perf_counter() - wall) * 1000 / args.pairs
        cpu = (time.process_time() - cpu) * 1000 / args.pairs
        gc.callbacks.remove(collettore)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", conta)

        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{args.pairs} coppie apri+chiudi {tipo.upper()} in processo ({database}, test client di Flask):")
        print(f"  SQL per coppia:   {len(statements) / args.pairs:.1f}  {dict(Counter(statements))}")
        print(f"  ms per coppia:    {wall:.2f} (tempo), {cpu:.2f} (CPU)")
        print(
            f"  garbage collector: {sum(collettore.tempo) * 1000 / args.pairs:.3f} ms per coppia; "
            f"raccolte gen0/1/2: {collettore.volte}, ms totali {[round(t * 1000, 1) for t in collettore.tempo]}, "
            f"pausa massima ms {[round(t * 1000, 1) for t in collettore.massimo]}"
        )

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.pairs):
                coppia(tipo, 10, next(numero))
            profiler.disable()
            if args.dump:
                profiler.dump_stats(args.dump)
            for ordine in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(ordine).print_stats(args.top)
                print(out.getvalue())
            out = io.StringIO()  # the application's own functions only
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"asigest/", args.top)
            print(out.getvalue().replace(str(ROOT) + "/", ""))
        return 0
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
