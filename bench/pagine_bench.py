"""Supervisor pages over HTTP on a prepared instance (the reference data set of
``bench/riferimento.py``), with a bare Flask route measured in the same run.

    .venv/bin/python -m bench.pagine_bench --instance /tmp/asigest-rif [--clients 4] [--seconds 8]
        [--workers 2] [--url PATH ...] [--csv-export]

It brings the instance to the latest migration (``flask --app wsgi init``: new indexes
are built on the existing rows), starts gunicorn (``bench.app:app``: the app plus
``/_bench/bare``), logs in as ``supervisore`` through the real ``/login`` form (GET for
the CSRF token, POST, keep the session cookie), then for the bare route and each page
runs ``--clients`` threads, each with its own keep-alive connection, for ``--seconds``
after a one-second warm-up, and prints a Markdown table: p50 and p95 in milliseconds,
p95 as a multiple of the bare route's p95, requests, and answers other than 200.

The pages are ``PAGINE`` below: address templates whose ``{placeholders}`` are filled
from the instance (``valori_istanza``). ``--url`` replaces the list (placeholders work
there too). ``--csv-export`` also times one ``GET /lotti/esporta.csv`` over the last
year on a fresh one-worker server: seconds to the first byte and to the last, rows, and
the worker's peak RSS (``VmHWM`` in ``/proc``) before and after.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import VENV_BIN, free_port, percentile, start_server  # noqa: E402
from bench.dataset import bench_env  # noqa: E402

BARE = "/_bench/bare"
# (label, address template). Filter names as the register and the audit viewer read them today.
PAGINE = [
    ("registro", "/lotti"),
    (
        "registro: macchina, martedì scorso, con scarti",
        "/lotti?macchina={macchina}&da={martedi}&a={martedi}&con_scarti=1",
    ),
    ("registro: per scarti", "/lotti?ordine=-scarti"),
    ("registro: operatore", "/lotti?operatore={operatore}"),
    ("registro: dimenticati", "/lotti?dimenticati=1"),
    ("registro: fase PTH, chiusi, pagina 20", "/lotti?fase=PTH&stato=chiusi&offset=950"),
    ("scheda lotto (con rettifica)", "/lotti/{lotto}"),
    ("eventi", "/eventi"),
    ("eventi: storia di un lotto", "/eventi?entita=Lotti&entita_id={lotto}"),
    ("commesse", "/commesse"),
    ("commesse: ricerca numero", "/commesse?q={numero}"),
]
MACCHINA_PREFERITA = "SMD-L2"  # the line of the walkthrough, when the instance has it
LOGIN = ("supervisore", "super1234")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def valori_istanza(instance: Path, zona: str = "Europe/Rome") -> dict[str, str]:
    """Ids and dates for the address templates, read from the instance (read-only)."""
    db = sqlite3.connect(f"file:{instance / 'asigest.db'}?mode=ro", uri=True)
    try:
        macchina = db.execute(
            "SELECT m.MacchinaID FROM Macchine m JOIN FaseTipo t ON t.FaseTipoID = m.FaseTipoID WHERE t.Codice = 'SMD' "
            "ORDER BY m.Codice = ? DESC, m.MacchinaID LIMIT 1",
            (MACCHINA_PREFERITA,),
        ).fetchone()
        operatore = db.execute("SELECT min(UtenteID) FROM Utenti WHERE Ruolo = 'OPERATORE'").fetchone()
        lotto = db.execute("SELECT max(LottoID) FROM Lotti WHERE DataFine IS NOT NULL").fetchone()
        commessa = db.execute(
            "SELECT f.CommessaERPId FROM Lotti l JOIN Fasi f ON f.FaseID = l.FaseID WHERE l.LottoID = ?", lotto
        ).fetchone()
        n_lotti = db.execute("SELECT max(LottoID) FROM Lotti").fetchone()[0] or 0
    finally:
        db.close()
    erp = sqlite3.connect(f"file:{instance / 'erp_demo.db'}?mode=ro", uri=True)
    try:
        numero = erp.execute("SELECT NUMEROCOM FROM COMMESSE WHERE ID = ?", commessa or (None,)).fetchone()
    finally:
        erp.close()
    oggi = datetime.now(ZoneInfo(zona)).date()
    martedi = oggi - timedelta(days=oggi.weekday() + 7) + timedelta(days=1)  # Tuesday of last week
    return {
        "macchina": str(macchina[0] if macchina else ""),
        "operatore": str(operatore[0] or ""),
        "lotto": str(lotto[0] or ""),
        "numero": str(numero[0] if numero else ""),
        "martedi": martedi.isoformat(),
        "da_anno": (oggi - timedelta(days=365)).isoformat(),
        "oggi": oggi.isoformat(),
        "n_lotti": str(n_lotti),
    }


def statistiche(instance: Path) -> list[str]:
    """ANALYZE the tables with rows but no ``sqlite_stat1`` rows; returns their names.

    The data set is built with statistics; a migration that rebuilds a table (SQLite's
    copy-and-rename) loses them, and the planner then reads a million rows for a page.
    """
    db = sqlite3.connect(instance / "asigest.db")
    try:
        tabelle = [
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
        ]
        con_stat = set()
        if "sqlite_stat1" in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}:
            con_stat = {r[0] for r in db.execute("SELECT DISTINCT tbl FROM sqlite_stat1")}
        senza = [t for t in tabelle if t not in con_stat and db.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]
        for tabella in senza:
            db.execute(f'ANALYZE "{tabella}"')  # names read from sqlite_master, not input
        db.commit()
    finally:
        db.close()
    return senza


# -- HTTP ---------------------------------------------------------------------------------------


def _connessione(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def login(port: int) -> str:
    """The session cookie (``name=value``) of ``supervisore`` after the real login form."""
    conn = _connessione(port)
    conn.request("GET", "/login")
    risposta = conn.getresponse()
    pagina = risposta.read().decode()
    cookie = _cookie(risposta)
    token = _CSRF.search(pagina)
    if risposta.status != 200 or not token:
        raise SystemExit(f"/login non ha dato il modulo (HTTP {risposta.status})")
    corpo = urlencode({"matricola": LOGIN[0], "password": LOGIN[1], "csrf_token": token.group(1), "next": ""})
    conn.request(
        "POST", "/login", body=corpo, headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    )
    risposta = conn.getresponse()
    risposta.read()
    conn.close()
    if risposta.status != 302:
        raise SystemExit(f"Accesso come {LOGIN[0]} rifiutato (HTTP {risposta.status}): l'istanza ha i suoi utenti?")
    return _cookie(risposta) or cookie


def _cookie(risposta) -> str:
    """The cookies a response sets (``a=1; b=2``), leaving out those it deletes."""
    cookies = {}
    for intestazione, valore in risposta.getheaders():
        if intestazione.lower() == "set-cookie" and "max-age=0" not in valore.lower():
            nome, _, resto = valore.split(";", 1)[0].partition("=")
            cookies[nome.strip()] = resto
    return "; ".join(f"{nome}={valore}" for nome, valore in cookies.items())


class Misura:
    def __init__(self):
        self.tempi: list[float] = []
        self.stati: Counter = Counter()


def misura(
    port: int, path: str, cookie: str, clients: int, seconds: float, headers: dict[str, str] | None = None
) -> Misura:
    """``clients`` threads GET ``path`` on keep-alive connections for ``seconds``, sending
    the session ``cookie`` (if any) and ``headers`` (a Bearer token, ``HX-Request``…)."""
    scadenza = time.perf_counter() + seconds
    risultato = Misura()
    lock = threading.Lock()
    intestazioni = {**({"Cookie": cookie} if cookie else {}), **(headers or {})}

    def client():
        conn = _connessione(port)
        tempi, stati = [], Counter()
        while time.perf_counter() < scadenza:
            inizio = time.perf_counter()
            try:
                conn.request("GET", path, headers=intestazioni)
                risposta = conn.getresponse()
                risposta.read()
                stato = risposta.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = _connessione(port)
                stato = 0
            tempi.append((time.perf_counter() - inizio) * 1000)
            stati[stato] += 1
        conn.close()
        with lock:
            risultato.tempi.extend(tempi)
            risultato.stati.update(stati)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return risultato


# -- the CSV export ------------------------------------------------------------------------------


def _figli(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _vmhwm_mb(pid: int) -> float | None:
    try:
        for riga in Path(f"/proc/{pid}/status").read_text().splitlines():
            if riga.startswith("VmHWM:"):
                return int(riga.split()[1]) / 1024
    except OSError:
        pass
    return None


def esportazione_csv(env, valori: dict[str, str], log: Path) -> dict:
    """One ``/lotti/esporta.csv`` over the last year on a fresh one-worker server."""
    port = free_port()
    server = start_server(env, port, 1, log=log)
    try:
        cookie = login(port)
        conn = _connessione(port)
        conn.request("GET", BARE)
        conn.getresponse().read()
        worker = (_figli(server.pid) or [None])[0]
        prima = _vmhwm_mb(worker) if worker else None
        path = f"/lotti/esporta.csv?da={valori['da_anno']}&a={valori['oggi']}"
        inizio = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        risposta = conn.getresponse()
        primo_byte = time.perf_counter() - inizio
        righe, troncata = -1, False  # -1: the header row is not a lotto
        try:
            if risposta.status == 200:
                for _ in csv.reader(io.TextIOWrapper(risposta, encoding="utf-8-sig", newline=""), delimiter=";"):
                    righe += 1
            else:
                risposta.read()
        except (http.client.HTTPException, OSError):
            troncata = True  # the server closed mid-file: see its log (gunicorn's worker timeout?)
        totale = time.perf_counter() - inizio
        dopo = _vmhwm_mb(worker) if worker else None
        conn.close()
        return {
            "path": path,
            "status": risposta.status,
            "content_type": risposta.getheader("Content-Type"),
            "primo_byte_s": round(primo_byte, 2),
            "secondi": round(totale, 1),
            "righe": max(righe, 0),
            "troncata": troncata,
            "rss_picco_mb_prima": prima and round(prima),
            "rss_picco_mb_dopo": dopo and round(dopo),
        }
    finally:
        server.terminate()
        server.wait(10)


# -- main -----------------------------------------------------------------------------------------


def _riga(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, type=Path, help="Istanza già pronta (bench/riferimento.py).")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--url",
        action="append",
        default=None,
        help="Pagina da misurare al posto dell'elenco predefinito (ripetibile; {macchina}, {lotto}…).",
    )
    parser.add_argument("--csv-export", action="store_true", help="Misura anche un'esportazione CSV di un anno.")
    args = parser.parse_args()
    instance = args.instance.resolve()
    if not (instance / "asigest.db").exists():
        raise SystemExit(f"{instance} non contiene asigest.db: crearla con python -m bench.riferimento")

    env = bench_env(instance)
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "init"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    rianalizzate = statistiche(instance)
    if rianalizzate:
        print(
            f"ATTENZIONE: {', '.join(rianalizzate)} senza statistiche (una migrazione ha ricreato la tabella?): "
            "eseguito ANALYZE, come dopo bench.riferimento.",
            file=sys.stderr,
        )
    valori = valori_istanza(instance)
    pagine = [(u, u) for u in args.url] if args.url else PAGINE
    pagine = [(nome, modello.format(**valori)) for nome, modello in pagine]

    log = Path(tempfile.mkstemp(prefix="pagine-bench-", suffix=".log")[1])
    port = free_port()
    server = start_server(env, port, args.workers, log=log)
    try:
        cookie = login(port)
        righe = []
        bare_p95 = None
        for nome, path in [("bare Flask route", BARE), *pagine]:
            misura(port, path, cookie, args.clients, 1.0)  # warm-up: caches, connections, SQLite pages
            m = misura(port, path, cookie, args.clients, args.seconds)
            p50, p95 = statistics.median(m.tempi), percentile(m.tempi, 95)
            bare_p95 = bare_p95 or p95
            errori = sum(n for stato, n in m.stati.items() if stato != 200)
            dettaglio = ", ".join(f"{stato or 'conn'}×{n}" for stato, n in sorted(m.stati.items()) if stato != 200)
            righe.append(
                (
                    f"`{path}`" if nome == path else f"{nome} `{path}`",
                    f"{p50:.1f}",
                    f"{p95:.1f}",
                    f"{p95 / bare_p95:.1f}×",
                    len(m.tempi),
                    f"{errori} ({dettaglio})" if errori else "0",
                )
            )
            print(f"misurato {path}: p95 {p95:.1f} ms", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)

    print(
        f"\n{int(valori['n_lotti']):,} lotti; gunicorn -w {args.workers} (sync), {args.clients} client keep-alive, "
        f"{args.seconds:g} s per pagina dopo 1 s di riscaldamento, SQLite; {date.today().isoformat()}\n"
    )
    print(_riga(("page", "p50 ms", "p95 ms", "p95 / bare p95", "requests", "errors (non-200)")))
    print(_riga(("---", "---:", "---:", "---:", "---:", "---:")))
    for riga in righe:
        print(_riga(riga))
    if args.csv_export:
        esito = esportazione_csv(env, valori, log)
        print(f"\nCSV export: {esito}")
    problemi = log.read_text(errors="replace").strip()
    if problemi:
        print(f"\nLog del server ({log}):\n{problemi[-3000:]}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
