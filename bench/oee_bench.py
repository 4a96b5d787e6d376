"""The OEE API (SPEC §11, §13) over HTTP on a reference instance, with a bare Flask route
measured in the same run.

    .venv/bin/python -m bench.oee_bench --instance /tmp/asigest-rif [--fermi 100000]
        [--clients 4] [--seconds 8] [--workers 2]

The instance is one ``bench/riferimento.py`` built (any ``--lotti``). This script brings
it to the latest migration (``flask --app wsgi init``: the stop reasons come with the
base catalog) and, once, adds what the OEE reads besides the lotti: a calendar per
Reparto (Mon–Fri 06–22, Saturday 06–14, the Christmas holidays as closed days), a cycle
time per phase type and one per machine, and ``--fermi`` stops spread over the lotti's
history on every machine, never overlapping on one machine (5–90 minutes; a tenth of
them breakdowns, a few planned meetings), then ``ANALYZE``. Rows are written with plain
``sqlite3`` bulk inserts (a hundred thousand service calls would take an hour); the
instance keeps them, so a second run measures the same data.

Then gunicorn (``bench.app:app``), the riferimento token, and for the bare route and
each address ``--clients`` threads on keep-alive connections for ``--seconds`` after a
one-second warm-up; a Markdown table: p50, p95 in ms, p95 ÷ the bare route's p95,
requests, answers other than 200. Addresses: 90 days (SPEC §11's figure), 90 days of one
Reparto, last week.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import VENV_BIN, free_port, percentile, start_server  # noqa: E402
from bench.dataset import bench_env  # noqa: E402
from bench.pagine_bench import misura  # noqa: E402

BARE = "/_bench/bare"
ZONA = ZoneInfo("Europe/Rome")
CAUSALI = (("GUASTO", 10), ("ATTREZZAGGIO", 35), ("MANCA-MAT", 25), ("ATTESA-OP", 15), ("PULIZIA", 13), ("RIUNIONE", 2))


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def popola(db_path: Path, fermi: int, seed: int = 17) -> str:
    """Calendars, cycle times and stops, once; returns what it did (or found)."""
    db = sqlite3.connect(db_path)
    try:
        gia = db.execute("SELECT COUNT(*) FROM Fermi").fetchone()[0]
        if gia:
            return f"{gia} fermi già presenti: dati OEE lasciati come sono"
        rng = random.Random(seed)
        reparti = [r for (r,) in db.execute("SELECT DISTINCT Reparto FROM Macchine WHERE Reparto IS NOT NULL")]
        turni = []
        for reparto in reparti:
            for giorno in range(1, 7):
                fine = "22:00:00.000000" if giorno < 6 else "14:00:00.000000"
                turni.append((reparto, giorno, None, "06:00:00.000000", fine))
            for anno in (2025, 2026):
                for mese, giorno in ((12, 25), (12, 26), (1, 1)):
                    turni.append((reparto, None, date(anno, mese, giorno).isoformat(), None, None))
        db.executemany(
            'INSERT INTO CalendarioTurni (Reparto, GiornoSettimana, "Data", OraInizio, OraFine) VALUES (?, ?, ?, ?, ?)',
            turni,
        )
        tipi = [t for (t,) in db.execute("SELECT FaseTipoID FROM FaseTipo")]
        db.executemany("INSERT INTO TempiCiclo (FaseTipoID, SecondiPerPezzo) VALUES (?, 45)", [(t,) for t in tipi])
        macchine = db.execute("SELECT MacchinaID, FaseTipoID FROM Macchine").fetchall()
        db.executemany(
            "INSERT INTO TempiCiclo (FaseTipoID, MacchinaID, SecondiPerPezzo) VALUES (?, ?, ?)",
            [(t, m, round(rng.uniform(20, 60), 1)) for m, t in macchine],
        )
        causali = dict(db.execute("SELECT Codice, CausaleFermoID FROM CausaliFermo").fetchall())
        operatore = db.execute("SELECT MIN(UtenteID) FROM Utenti WHERE Ruolo = 'OPERATORE'").fetchone()[0]
        primo = db.execute("SELECT MIN(DataInizio) FROM Lotti").fetchone()[0]
        inizio = datetime.fromisoformat(primo).replace(tzinfo=UTC)
        adesso = datetime.now(UTC)
        per_macchina = max(1, fermi // len(macchine))
        passo = (adesso - inizio) / per_macchina
        scelte = [c for c, peso in CAUSALI for _ in range(peso)]
        righe = []
        for m, _tipo in macchine:
            for i in range(per_macchina):
                partenza = inizio + passo * i + timedelta(seconds=rng.uniform(0, passo.total_seconds() * 0.5))
                durata = timedelta(minutes=rng.randint(5, 90))
                fine = min(partenza + durata, inizio + passo * (i + 1), adesso)
                if fine > partenza:
                    righe.append((m, _utc(partenza), _utc(fine), causali[rng.choice(scelte)], operatore))
        db.executemany(
            "INSERT INTO Fermi (MacchinaID, Inizio, Fine, CausaleFermoID, OperatoreID) VALUES (?, ?, ?, ?, ?)", righe
        )
        db.commit()
        db.execute("ANALYZE")
        return f"aggiunti {len(turni)} turni, {len(tipi) + len(macchine)} tempi ciclo, {len(righe)} fermi"
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, type=Path, help="Istanza di bench/riferimento.py.")
    parser.add_argument("--fermi", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    instance = args.instance.resolve()
    if not (instance / "asigest.db").exists():
        raise SystemExit(f"{instance} non contiene asigest.db: crearla con python -m bench.riferimento")
    env = bench_env(instance)
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "init"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    print(popola(instance / "asigest.db", args.fermi), file=sys.stderr)
    token = json.loads((instance / "riferimento.json").read_text())["token"]
    oggi = datetime.now(ZONA).date()
    lunedi = oggi - timedelta(days=oggi.weekday() + 7)
    db = sqlite3.connect(f"file:{instance / 'asigest.db'}?mode=ro", uri=True)
    lotti, fermi = (db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("Lotti", "Fermi"))
    reparto = db.execute("SELECT Reparto FROM Macchine WHERE Reparto IS NOT NULL ORDER BY MacchinaID").fetchone()[0]
    db.close()
    indirizzi = [
        ("OEE 90 giorni", f"/api/dashboard/oee?da={oggi - timedelta(days=89)}&a={oggi}"),
        ("OEE 90 giorni, un reparto", f"/api/dashboard/oee?da={oggi - timedelta(days=89)}&a={oggi}&Reparto={reparto}"),
        ("OEE settimana scorsa", f"/api/dashboard/oee?da={lunedi}&a={lunedi + timedelta(days=6)}"),
    ]
    log = Path(tempfile.mkstemp(prefix="oee-bench-", suffix=".log")[1])
    port = free_port()
    server = start_server(env, port, args.workers, log=log)
    righe, bare_p95 = [], None
    try:
        headers = {"Authorization": f"Bearer {token}"}
        for nome, path in [("bare Flask route", BARE), *indirizzi]:
            misura(port, path, "", args.clients, 1.0, headers)
            m = misura(port, path, "", args.clients, args.seconds, headers)
            p50, p95 = statistics.median(m.tempi), percentile(m.tempi, 95)
            bare_p95 = bare_p95 or p95
            errori = sum(n for stato, n in m.stati.items() if stato != 200)
            righe.append((nome, f"{p50:.1f}", f"{p95:.1f}", f"{p95 / bare_p95:.1f}×", len(m.tempi), errori))
            print(f"misurato {path}: p95 {p95:.1f} ms", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    print(f"{lotti:,} lotti, {fermi:,} fermi; {args.clients} client, {args.workers} worker, {args.seconds:g} s\n")
    print("| indirizzo | p50 ms | p95 ms | p95 ÷ bare | richieste | non 200 |")
    print("|---|---|---|---|---|---|")
    for riga in righe:
        print("| " + " | ".join(str(c) for c in riga) + " |")


if __name__ == "__main__":
    main()
