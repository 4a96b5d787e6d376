"""The kiosk benchmark's data set: the demo plus machines and large orders for N terminals.

    .venv/bin/python -m bench.dataset --instance /tmp/asigest-bench [--macchine 16] [--commesse 4]

Steps (a few seconds):

1. ``flask --app wsgi demo`` in the instance folder (schema, catalog, people, 9 machines,
   ~400 ERP orders, six weeks of lotti);
2. ``--commesse`` extra orders appended to the demo ERP file (IDs from 900001, QTA
   ``--qta``, open). That file is the bench's own throwaway copy, so a plain writable
   sqlite3 connection is fine; the application itself still reads it read-only;
3. through the application's own services, in an app context: ``--macchine`` machines per
   phase type (``BENCH-SMD-01``…; a machine holds one open lotto at a time, so every
   terminal needs its own), a configuration of every extra order with all three phases
   (``configurazione.create_config``), and an API token for the supervisor (who may name
   any operator).

``prepare()`` returns a ``BenchData`` (JSON on the command line) with everything the
clients need: the token, the machines' ids, the fasi of each extra order and the demo
operators' ids.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"

PRIMO_ID = 900_001
PRIMO_NUMERO = 9001
TIPI = ("SMD", "PTH", "CONTROLLI")


@dataclass
class BenchData:
    instance: str
    token: str
    # phase type code → machine ids (BENCH-<tipo>-NN, in order)
    macchine: dict[str, list[int]]
    # phase type code → fase ids, one per extra order (same order as ``commesse``)
    fasi: dict[str, list[int]]
    commesse: list[int]
    operatori: list[int]
    qta: int


def bench_env(instance: Path) -> dict:
    """The environment for ``flask``/gunicorn on the bench instance (SQLite files in it)."""
    env = {**os.environ, "ASIGEST_INSTANCE_PATH": str(instance)}
    env.pop("ASIGEST_DATABASE_URL", None)
    env.pop("ASIGEST_ERP_URL", None)
    return env


def _flask(env, *args) -> str:
    out = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def _append_erp(erp_path: Path, commesse: int, qta: int) -> list[int]:
    """Append open orders with a large QTA to the demo ERP file (rollback journal, as the demo writes it)."""
    due = (date.today() + timedelta(days=60)).isoformat()
    rows = [
        (
            PRIMO_ID + i,
            date.today().year,
            PRIMO_NUMERO + i,
            f"BENCH-{i + 1:03d}",
            f"BENCH-ART-{i + 1:03d}",
            f"Scheda di prova benchmark {i + 1}",
            qta,
            due,
            "O",
            4999,
            "Cliente Benchmark S.r.l.",
        )
        for i in range(commesse)
    ]
    conn = sqlite3.connect(erp_path)
    try:
        with conn:
            conn.executemany(
                'INSERT INTO "COMMESSE" (ID, ESERCIZIO, NUMEROCOM, RIFCOMMCLI, CODART, DESART, QTA, '
                "DATACONSEGNA, STATOCOMMESSA, IDCLIENTE, NOMECLIENTE) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
    finally:
        conn.close()
    return [r[0] for r in rows]


def prepare(instance: Path, *, macchine: int = 16, commesse: int = 4, qta: int = 1_000_000) -> BenchData:
    """Build the bench data set in ``instance`` (an empty or missing folder)."""
    instance = Path(instance)
    instance.mkdir(parents=True, exist_ok=True)
    env = bench_env(instance)
    _flask(env, "demo")
    ids = _append_erp(instance / "erp_demo.db", commesse, qta)

    # The app in this process, on the same instance; restore the environment afterwards.
    saved = {k: os.environ.get(k) for k in ("ASIGEST_INSTANCE_PATH", "ASIGEST_DATABASE_URL", "ASIGEST_ERP_URL")}
    os.environ.update({k: v for k, v in env.items() if k == "ASIGEST_INSTANCE_PATH"})
    os.environ.pop("ASIGEST_DATABASE_URL", None)
    os.environ.pop("ASIGEST_ERP_URL", None)
    try:
        return _popola(instance, ids, macchine, qta)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _popola(instance: Path, ids: list[int], macchine: int, qta: int) -> BenchData:
    from sqlalchemy import select

    from asigest import create_app
    from asigest.erp import ErpGateway
    from asigest.extensions import db
    from asigest.models import Fase, FaseTipo, Utente
    from asigest.services import anagrafiche, auth, configurazione

    app = create_app()
    with app.app_context():
        session = db.session
        erp = ErpGateway(db.engines["erp"], app.config.get("ERP_SCHEMA"))
        per_tipo: dict[str, list[int]] = {}
        for tipo in TIPI:
            per_tipo[tipo] = [
                anagrafiche.create_macchina(
                    session,
                    actor=None,
                    codice=f"BENCH-{tipo}-{n:02d}",
                    fase_tipo=tipo,
                    descrizione=f"Macchina di benchmark {tipo} {n}",
                    reparto="Benchmark",
                ).id
                for n in range(1, macchine + 1)
            ]
        for commessa_id in ids:
            configurazione.create_config(
                session,
                erp,
                actor=None,
                commessa_erp_id=commessa_id,
                flag_smd=True,
                flag_pth=True,
                flag_controlli=True,
                diba="DB-BENCH",
                revisione="A",
            )
        tipo_di = {t.id: t.codice for t in session.scalars(select(FaseTipo))}
        fasi: dict[str, list[int]] = {t: [] for t in TIPI}
        for commessa_id in ids:
            for fase in session.scalars(select(Fase).where(Fase.commessa_erp_id == commessa_id)):
                fasi[tipo_di[fase.fase_tipo_id]].append(fase.id)
        operatori = list(
            session.scalars(
                select(Utente.id).where(Utente.ruolo == "OPERATORE", Utente.attivo.is_(True)).order_by(Utente.id)
            )
        )
        token = auth.create_token(session, actor=None, matricola="supervisore", descrizione="bench")
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return BenchData(str(instance), token, per_tipo, fasi, ids, operatori, qta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, type=Path, help="Cartella istanza (vuota o inesistente).")
    parser.add_argument("--macchine", type=int, default=16, help="Macchine di benchmark per tipo di fase.")
    parser.add_argument("--commesse", type=int, default=4, help="Commesse configurate aggiunte all'ERP demo.")
    parser.add_argument("--qta", type=int, default=1_000_000, help="QTA di ciascuna commessa aggiunta.")
    args = parser.parse_args()
    data = prepare(args.instance, macchine=args.macchine, commesse=args.commesse, qta=args.qta)
    print(json.dumps(asdict(data), indent=2))


if __name__ == "__main__":
    sys.exit(main())
