"""The dashboard, the KPI API, order search and avanzamento at several history sizes
(SPEC §11: 10k, 100k and 1M lotti), each against a bare Flask route of the same run.

    .venv/bin/python -m bench.riferimento --instance /tmp/asigest-10k --lotti 10000
    .venv/bin/python -m bench.riferimento --instance /tmp/asigest-100k --lotti 100000
    .venv/bin/python -m bench.scala_bench --istanze /tmp/asigest-10k /tmp/asigest-100k /tmp/asigest-rif \\
        [--clients 4] [--seconds 6] [--workers 2]

Each instance is prepared as ``bench/pagine_bench.py`` prepares one (``flask init`` for
the latest migration, ``ANALYZE`` of tables that lost their statistics), then served by
its own gunicorn (``bench.app:app``, ``--workers`` sync workers). The script logs in as
``supervisore`` through ``/login`` for the pages and reads the API token from
``<instance>/riferimento.json`` for the API. The dashboard's htmx fragment is the
``hx-get`` of the element that ``/dashboard`` refreshes ``every 60s``, requested with
``HX-Request: true`` as htmx sends it; the fragments the page loads right after it
(``hx-trigger="load"``: late orders, drift) are measured too, each on its own row, since
the dashboard is not complete until they arrive.

Every address is probed once first: one that answers 404 (not built yet) is reported
``n/a``, any other non-200 as its status, and neither is measured. The others are
measured as in ``pagine_bench``: ``--clients`` threads on keep-alive connections for
``--seconds`` after a one-second warm-up. The output is one Markdown table (p50/p95 per
instance, the last instance's p95 over the first's, the last's p95 over its bare route)
and the verdicts of SPEC §11 on the last (largest) instance. Next to each instance it
prints the load average before and after, and names any other benchmark server, test
run or browser found running (``concorrenti``): on a 2-core machine they double the
figures, so such a run is to be repeated, not compared.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import VENV_BIN, free_port, percentile, start_server  # noqa: E402
from bench.dataset import bench_env  # noqa: E402
from bench.pagine_bench import BARE, login, misura, statistiche, valori_istanza  # noqa: E402

FRAMMENTO = "dashboard: frammento htmx (numeri)"
DOPO = "dashboard: caricato dopo"  # the page's hx-trigger="load" fragments, one row each
# (label, address template, FRAMMENTO or DOPO, how to authenticate: "sessione" or "token")
PAGINE = [
    ("bare Flask route", BARE, "sessione"),
    ("dashboard", "/dashboard", "sessione"),
    (FRAMMENTO, FRAMMENTO, "sessione"),
    (DOPO, DOPO, "sessione"),
    ("dashboard: parete", "/dashboard/parete", "sessione"),
    ("KPI API", "/api/dashboard/kpi", "token"),
    ("ricerca commesse API", "/api/commesse/search?q={numero}", "token"),
    ("avanzamento", "/avanzamento", "sessione"),
    ("avanzamento API", "/api/avanzamento/?limit=100", "token"),
]
REFRESH = "every 60s"
# SPEC §11 on the largest instance: (label, p95 limit in ms), and the growth limit.
LIMITI = [("dashboard", 100.0), (FRAMMENTO, 100.0), ("KPI API", 100.0), ("ricerca commesse API", 30.0)]
CRESCITA = [("dashboard", 3.0), (FRAMMENTO, 3.0), ("KPI API", 3.0)]


class _Frammenti(HTMLParser):
    """The ``hx-get`` of elements refreshed ``every 60s`` and of those loaded with the page."""

    def __init__(self):
        super().__init__()
        self.aggiornati: list[str] = []
        self.al_caricamento: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributi = dict(attrs)
        indirizzo, trigger = (
            attributi.get("hx-get"),
            [t.strip() for t in (attributi.get("hx-trigger") or "").split(",")],
        )
        if indirizzo and REFRESH in trigger:
            self.aggiornati.append(indirizzo)
        elif indirizzo and "load" in trigger:
            self.al_caricamento.append(indirizzo)


@dataclass
class Esito:
    path: str
    stato: int = 200  # of the probe; anything else means "not measured"
    p50: float = float("nan")
    p95: float = float("nan")
    richieste: int = 0
    errori: dict = field(default_factory=dict)  # non-200 answers while measuring: status → count


@dataclass
class Istanza:
    path: Path
    n_lotti: int
    carico_prima: str
    carico_dopo: str = ""
    altri: list[str] = field(default_factory=list)  # other load seen before and after (``concorrenti``)
    esiti: dict[str, Esito] = field(default_factory=dict)
    ordine: list[str] = field(default_factory=list)  # row labels as measured


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        risposta = conn.getresponse()
        return risposta.status, risposta.read().decode(errors="replace")
    finally:
        conn.close()


def frammenti(port: int, cookie: str) -> _Frammenti:
    """The dashboard page's htmx addresses (none when there is no page)."""
    lettore = _Frammenti()
    stato, pagina = _get(port, "/dashboard", {"Cookie": cookie})
    if stato == 200:
        lettore.feed(pagina)
    return lettore


def carico() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


CONCORRENTI = ("bench.app:app", "pytest", "chromium", "bench.riferimento")


def concorrenti() -> list[str]:
    """Other benchmarks, test runs or browsers on this machine: on 2 cores they double
    the figures, so the report names them next to the load average."""
    nostri = {os.getpid()}
    trovati = []
    for cartella in Path("/proc").glob("[0-9]*"):
        try:
            riga = (cartella / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            genitore = int((cartella / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(cartella.name)
        if pid in nostri or genitore in nostri:
            continue
        trovato = next((c for c in CONCORRENTI if c in riga), None)
        if trovato and trovato not in trovati:
            trovati.append(trovato)
    return trovati


def misura_istanza(instance: Path, args) -> Istanza:
    """Prepare one instance, serve it and measure every page of ``PAGINE``."""
    env = bench_env(instance)
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "init"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    rianalizzate = statistiche(instance)
    if rianalizzate:
        print(
            f"{instance}: ANALYZE di {', '.join(rianalizzate)} (senza statistiche dopo una migrazione)", file=sys.stderr
        )
    valori = valori_istanza(instance)
    token = json.loads((instance / "riferimento.json").read_text())["token"]
    risultato = Istanza(instance, int(valori["n_lotti"]), carico(), altri=concorrenti())

    log = Path(tempfile.mkstemp(prefix="scala-bench-", suffix=".log")[1])
    port = free_port()
    server = start_server(env, port, args.workers, log=log)
    try:
        cookie = login(port)
        htmx = {"HX-Request": "true", "HX-Current-URL": f"http://127.0.0.1:{port}/dashboard"}
        trovati = frammenti(port, cookie)
        pagine = []
        for nome, modello, accesso in PAGINE:
            if modello == FRAMMENTO:
                pagine.append((nome, trovati.aggiornati[0] if trovati.aggiornati else None, accesso, htmx))
            elif modello == DOPO:
                pagine += [(f"{DOPO} `{p.partition('?')[0]}`", p, accesso, htmx) for p in trovati.al_caricamento]
            else:
                pagine.append((nome, modello.format(**valori), accesso, {}))
        for nome, path, accesso, headers in pagine:
            risultato.ordine.append(nome)
            if path is None:
                risultato.esiti[nome] = Esito(FRAMMENTO, stato=404)
                continue
            if accesso == "token":
                headers, sessione = {**headers, "Authorization": f"Bearer {token}"}, ""
            else:
                sessione = cookie
            stato, _ = _get(port, path, {**({"Cookie": sessione} if sessione else {}), **headers})
            if stato != 200:
                risultato.esiti[nome] = Esito(path, stato=stato)
                print(f"{instance.name} {path}: HTTP {stato}, non misurato", file=sys.stderr)
                continue
            misura(port, path, sessione, args.clients, 1.0, headers)  # warm-up
            m = misura(port, path, sessione, args.clients, args.seconds, headers)
            risultato.esiti[nome] = Esito(
                path,
                p50=statistics.median(m.tempi),
                p95=percentile(m.tempi, 95),
                richieste=len(m.tempi),
                errori={s: n for s, n in m.stati.items() if s != 200},
            )
            print(f"{instance.name} {path}: p95 {risultato.esiti[nome].p95:.1f} ms", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(10)
    risultato.carico_dopo = carico()
    risultato.altri += [c for c in concorrenti() if c not in risultato.altri]
    problemi = log.read_text(errors="replace").strip()
    if problemi:
        print(f"\nLog del server {instance.name} ({log}):\n{problemi[-3000:]}", file=sys.stderr)
    return risultato


# -- the report ---------------------------------------------------------------------------------


def etichetta(n_lotti: int) -> str:
    if n_lotti >= 1_000_000 and n_lotti % 1_000_000 == 0:
        return f"{n_lotti // 1_000_000}M"
    if n_lotti >= 1000 and n_lotti % 1000 == 0:
        return f"{n_lotti // 1000}k"
    return f"{n_lotti:,}"


def _cella(esito: Esito | None) -> str:
    if esito is None or esito.stato == 404:
        return "n/a"
    if esito.stato != 200:
        return f"HTTP {esito.stato}"
    return f"{esito.p50:.1f} / {esito.p95:.1f}"


def _rapporto(a: Esito | None, b: Esito | None) -> str:
    if a is None or b is None or a.stato != 200 or b.stato != 200 or not b.p95:
        return "n/a"
    return f"{a.p95 / b.p95:.1f}×"


def _riga(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def tabella(istanze: list[Istanza]) -> list[str]:
    prima, ultima = istanze[0], istanze[-1]
    nomi = [etichetta(i.n_lotti) for i in istanze]
    righe = [
        _riga(
            (
                "page",
                *(f"{n} p50 / p95 ms" for n in nomi),
                f"{nomi[-1]} p95 ÷ {nomi[0]} p95",
                f"{nomi[-1]} p95 ÷ bare p95",
            )
        ),
        _riga(("---", *("---:" for _ in istanze), "---:", "---:")),
    ]
    nomi_righe = list(dict.fromkeys(n for i in istanze for n in i.ordine))
    nomi_righe.sort(key=lambda n: min(i.ordine.index(n) for i in istanze if n in i.ordine))
    for nome in nomi_righe:
        esito = ultima.esiti.get(nome) or prima.esiti.get(nome)
        indirizzo = esito.path if esito else FRAMMENTO
        etichetta_pagina = nome if indirizzo == FRAMMENTO or nome.startswith(DOPO) else f"{nome} `{indirizzo}`"
        righe.append(
            _riga(
                (
                    etichetta_pagina,
                    *(_cella(i.esiti.get(nome)) for i in istanze),
                    _rapporto(ultima.esiti.get(nome), prima.esiti.get(nome)),
                    _rapporto(ultima.esiti.get(nome), ultima.esiti.get(PAGINE[0][0])),
                )
            )
        )
    return righe


def verdetti(istanze: list[Istanza]) -> list[str]:
    prima, ultima = istanze[0], istanze[-1]
    n_prima, n_ultima = etichetta(prima.n_lotti), etichetta(ultima.n_lotti)
    righe = []
    for nome, limite in LIMITI:
        esito = ultima.esiti.get(nome)
        if esito is None or esito.stato != 200:
            righe.append(f"- {nome}: p95 ≤ {limite:g} ms a {n_ultima} — non misurabile ({_cella(esito)})")
        else:
            righe.append(
                f"- {nome}: p95 ≤ {limite:g} ms a {n_ultima} — {esito.p95:.1f} ms: "
                f"{'OK' if esito.p95 <= limite else 'NON RISPETTATO'}"
            )
    for nome, limite in CRESCITA:
        a, b = ultima.esiti.get(nome), prima.esiti.get(nome)
        rapporto = _rapporto(a, b)
        if rapporto == "n/a":
            righe.append(f"- {nome}: {n_ultima} ≤ {limite:g}× {n_prima} — non misurabile")
        else:
            righe.append(
                f"- {nome}: {n_ultima} ≤ {limite:g}× {n_prima} — {rapporto}: "
                f"{'OK' if a.p95 <= limite * b.p95 else 'NON RISPETTATO'}"
            )
    return righe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--istanze",
        nargs="+",
        required=True,
        type=Path,
        help="Istanze di bench/riferimento.py, dalla più piccola alla più grande.",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    istanze = [p.resolve() for p in args.istanze]
    for instance in istanze:
        if not (instance / "asigest.db").exists() or not (instance / "riferimento.json").exists():
            raise SystemExit(f"{instance} non è un'istanza di riferimento: crearla con python -m bench.riferimento")

    risultati = [misura_istanza(instance, args) for instance in istanze]

    print(
        f"\ngunicorn -w {args.workers} (sync), {args.clients} client keep-alive, {args.seconds:g} s per pagina "
        f"dopo 1 s di riscaldamento, SQLite; {date.today().isoformat()}; p50 / p95 in ms"
    )
    for r in risultati:
        altri = f"; ATTENZIONE, in esecuzione anche: {', '.join(r.altri)}" if r.altri else ""
        print(
            f"- {etichetta(r.n_lotti)}: {r.path} ({r.n_lotti:,} lotti), load average {r.carico_prima} → {r.carico_dopo}{altri}"
        )
    print()
    for riga in tabella(risultati):
        print(riga)
    errori = [
        f"{etichetta(r.n_lotti)} {e.path}: " + ", ".join(f"{s or 'conn'}×{n}" for s, n in sorted(e.errori.items()))
        for r in risultati
        for e in r.esiti.values()
        if e.errori
    ]
    if errori:
        print("\nRisposte diverse da 200 durante la misura:\n" + "\n".join(f"- {e}" for e in errori))
    print("\nSPEC §11:")
    for riga in verdetti(risultati):
        print(riga)


if __name__ == "__main__":
    sys.exit(main())
