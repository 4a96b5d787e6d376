"""SQL injection scan of ASI-GEST with sqlmap, against a throwaway instance.

    .venv/bin/python bench/sqlmap_scan.py            # scan; ~1-2 minutes
    .venv/bin/python bench/sqlmap_scan.py --canary   # prove the scan sees an injection

What it does:
1. builds a throwaway instance in a temporary folder (SQLite ASI_GEST + demo ERP, via
   ``flask --app wsgi demo``), adds an ADMIN user and an API token for it (``token
   create`` prints the token as its last line);
2. serves it with gunicorn on a free port (``bench/common.py``), with the login lockout
   off (``ASIGEST_LOGIN_MAX_*=0``) so that sqlmap's hundreds of failed logins get the
   real answers instead of "locked";
3. runs sqlmap (batch mode) on every input that reaches a query: the API's query
   parameters (commesse list and search, lotti filters, dashboard ``da``/``a``,
   avanzamento, utenti, documenti), its path parameters (``*`` marker), JSON bodies
   (POST /api/lotti, PUT /api/config) and, with an office session cookie, the filters of
   the commesse, lotti register, events and users pages; and the two login forms (/login
   and the kiosk badge form) with their CSRF token;
4. reads sqlmap's output: a parameter sqlmap calls injectable, an HTTP 500 it provoked,
   or an "Errore imprevisto" in the server log is a finding.

Settings chosen for speed on a 2-core machine: ``--dbms=SQLite`` (the instance is
SQLite; the queries are the same SQLAlchemy statements on every database),
``--technique=BEU`` (boolean-blind, error-based, UNION: time-based blind is slow and
turns flaky on a loaded machine; stacked queries do not exist on the SQLite driver),
``--level=2 --risk=2`` (more payloads, the Cookie header, OR-based payloads; level 3,
which adds the User-Agent and Referer headers, on one target; level 1 on the login forms,
whose every request pays for argon2 and a fresh CSRF token), several targets in parallel. Override with ``--level``, ``--risk``,
``--technique``, ``--parallel``.

``--canary`` scans instead a tiny deliberately injectable app (built here, on a temporary
SQLite file) and must report it: it proves that this script still sees an injection.

Exit code: 0 nothing injectable; 1 findings; 2 the scan could not run (a target was not
tested at all, the instance did not start...).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, free_port, start_server

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_NOT_INJECTABLE = re.compile(r"parameter '([^']+)' does not seem to be injectable")
# Only sqlmap's final summary counts: an "appears to be injectable" can still be dropped
# by its own false-positive check.
_INJECTION_POINTS = re.compile(r"identified the following injection point.*?\n---\n(.*?)\n---", re.S)
_PARAMETER = re.compile(r"^Parameter: (.+)$", re.M)
_HTTP_500 = re.compile(r"^500 \(Internal Server Error\) - (\d+) times", re.M)


@dataclass
class Target:
    name: str
    url: str
    data: str | None = None
    method: str | None = None
    headers: list[str] = field(default_factory=list)
    cookie: str | None = None
    csrf_url: str | None = None
    level: int | None = None  # None: the run's --level
    parameters: str | None = None  # sqlmap -p: only these (None: all)
    alone: bool = False  # after the others, one request at a time (see _targets)
    union_cols: str | None = None  # sqlmap --union-cols: the UNION column range (see _targets)


@dataclass
class Result:
    target: Target
    tested: list[str]
    injectable: list[str]
    errors_500: int
    problem: str | None
    seconds: float


def _sqlmap() -> str:
    found = Path(sys.executable).with_name("sqlmap")
    if found.exists():
        return str(found)
    which = shutil.which("sqlmap")
    if not which:
        raise SystemExit("sqlmap non installato: pip install -r requirements-dev.txt")
    return which


def _flask(env, *args) -> str:
    result = subprocess.run(  # nosec B603 - fixed argument list, no shell
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} fallito:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _get_json(base: str, path: str, token: str):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310 - local http URL built here
        return json.load(response)


def _office_cookie(base: str, matricola: str, password: str) -> str:
    """Log in through the real form; the session cookie as a ``Cookie`` header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=30).read().decode()
    form = urllib.parse.urlencode(
        {"matricola": matricola, "password": password, "csrf_token": _CSRF.search(page).group(1)}
    ).encode()
    opener.open(base + "/login", data=form, timeout=30).read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "asigest_session" not in cookies:
        raise RuntimeError("login dell'utente di scansione non riuscito")
    return cookies


def _targets(base: str, token: str, cookie: str) -> list[Target]:
    """Every input that reaches a query, with real ids from the demo data."""
    commessa = _get_json(base, "/api/commesse/?limit=1", token)[0]
    config = _get_json(base, "/api/config/?limit=1", token)[0]
    lotto = _get_json(base, "/api/lotti/smd/?limit=1&aperti=false", token)[0]
    macchina = next(m for m in _get_json(base, "/api/macchine/?limit=100", token) if m["FaseTipo"] == "SMD")
    bearer = [f"Authorization: Bearer {token}"]
    oggi = time.strftime("%Y-%m-%d")

    def api(name, path, **kwargs):
        return Target(name, base + path, headers=bearer, **kwargs)

    def page(name, path, **kwargs):
        return Target(name, base + path, cookie=cookie, **kwargs)

    # Level 3 adds the User-Agent and Referer headers: nothing of ours queries them, so one
    # target checks that, the rest run at the chosen level.
    return [
        api("api commesse elenco", "/api/commesse/?q=scheda&limit=10&offset=0", level=3),
        api("api commesse ricerca", f"/api/commesse/search?q={commessa['NUMEROCOM']}&limit=10"),
        api("api commessa per ID", f"/api/commesse/{commessa['ID']}*"),
        api("api fasi di commessa", f"/api/fasi/commessa/{config['CommessaERPId']}*"),
        api("api config per ID", f"/api/config/{config['ConfigID']}*"),
        api(
            "api lotti filtri",
            f"/api/lotti/smd/?aperti=false&FaseID={lotto['FaseID']}&MacchinaID={lotto['MacchinaID']}&limit=10&offset=0",
        ),
        api("api lotto per tipo e ID", f"/api/lotti/smd*/{lotto['LottoID']}*"),
        api("api dashboard kpi", f"/api/dashboard/kpi?da=2026-01-01&a={oggi}"),
        api("api avanzamento", "/api/avanzamento/?limit=10&offset=0"),
        api("api utenti", "/api/utenti/?Ruolo=OPERATORE&Attivo=true&limit=10"),
        # One filter or the other (both at once is refused with 422 before any query).
        api("api documenti per commessa", f"/api/documenti/?CommessaERPId={commessa['ID']}"),
        # CODART takes at most 30 characters: a short ``ORDER BY 1`` passes and a long one is
        # refused (422), which sqlmap takes for a 99-column query and spends its time limit
        # on UNIONs of up to 99 columns that never reach a query. The usual range, 1 to 10.
        api(
            "api documenti per articolo",
            f"/api/documenti/?CODART={urllib.parse.quote(commessa['CODART'] or 'X')}",
            union_cols="1-10",
        ),
        # Refused by a rule (quantity), so the scan creates nothing; the fields still reach the service.
        api(
            "api apri lotto (JSON)",
            "/api/lotti/smd/",
            data=json.dumps(
                {
                    "FaseID": lotto["FaseID"],
                    "QtaInput": 999999,
                    "MacchinaID": macchina["MacchinaID"],
                    "OperatoreID": lotto["OperatoreID"],
                }
            ),
        ),
        # Alone: update_config writes after reading without declaring the write, and on
        # SQLite two such writers at once get "database is locked" (HTTP 500) — a
        # concurrency bug of its own, reported apart, that must not make this scan flaky.
        api(
            "api modifica config (JSON)",
            f"/api/config/{config['ConfigID']}",
            method="PUT",
            data=json.dumps(
                {"DIBA": config["DIBA"] or "DB-1", "Revisione": config["Revisione"] or "A", "Note": "nota"}
            ),
            alone=True,
        ),
        page("pagina commesse", "/commesse?q=scheda"),
        page(
            "registro lotti",
            f"/lotti?da=01/01/2026&fase=SMD&macchina={lotto['MacchinaID']}"
            f"&operatore={lotto['OperatoreID']}&commessa={commessa['NUMEROCOM']}&stato=chiusi",
        ),
        page("eventi", f"/eventi?azione=LOTTO_CHIUSO&entita=Lotti&entita_id={lotto['LottoID']}"),
        page("admin utenti", "/admin/utenti?q=rossi&ruolo=OPERATORE&stato=attivi"),
        # The password and the PIN only ever meet argon2 (a slow hash, by design): the badge
        # is what reaches the queries (the user and the lockout's TentativiAccesso).
        Target(
            "login ufficio",
            base + "/login",
            data="matricola=admin&password=sbagliata&csrf_token=x",
            csrf_url=base + "/login",
            parameters="matricola",
            level=1,
        ),
        Target(
            "login terminale",
            base + f"/kiosk/{macchina['Codice']}",
            data="matricola=1001&pin=2468&csrf_token=x",
            csrf_url=base + f"/kiosk/{macchina['Codice']}",
            parameters="matricola",
            level=1,
        ),
    ]


def _scan(target: Target, out: Path, args) -> Result:
    """One sqlmap run on ``target``; its output read into a Result."""
    folder = out / re.sub(r"\W+", "_", target.name)
    cmd = [
        _sqlmap(),
        "-u",
        target.url,
        "--batch",
        "--dbms=SQLite",
        f"--level={target.level or args.level}",
        f"--risk={args.risk}",
        f"--technique={args.technique}",
        f"--output-dir={folder}",
        "--flush-session",
        "--disable-coloring",
        "--timeout=20",
        "--retries=2",
        f"--time-limit={args.time_limit}",
        # sqlmap fetches a fresh CSRF token per request, one request at a time.
        "--threads=1" if target.csrf_url or target.alone else "--threads=4",
    ]
    if target.data is not None:
        cmd += ["--data", target.data]
    if target.method:
        cmd += ["--method", target.method]
    for header in target.headers:
        cmd += ["-H", header]
    if target.cookie:
        # The session cookie authenticates; refreshed cookies from the server are ignored.
        cmd += ["--cookie", target.cookie, "--drop-set-cookie", "--skip=asigest_session"]
    if target.csrf_url:
        cmd += ["--csrf-token=csrf_token", f"--csrf-url={target.csrf_url}"]
    if target.parameters:
        cmd += ["-p", target.parameters]
    if target.union_cols:
        cmd += [f"--union-cols={target.union_cols}"]
    started = time.monotonic()
    try:
        run = subprocess.run(  # nosec B603 - fixed argument list, no shell
            cmd, capture_output=True, text=True, timeout=args.time_limit + 60, check=False
        )
        output = run.stdout + run.stderr
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output += "\n[timeout]"
    (out / f"{folder.name}.txt").write_text(output)
    tested = sorted(set(_NOT_INJECTABLE.findall(output)))
    injectable = sorted({p for block in _INJECTION_POINTS.findall(output) for p in _PARAMETER.findall(block)})
    if "identified the following injection point" in output and not injectable:
        injectable = ["(vedere l'output di sqlmap)"]
    errors_500 = sum(int(n) for n in _HTTP_500.findall(output))
    problem = None
    if not injectable and "all tested parameters do not appear to be injectable" not in output:
        last = [line for line in output.splitlines() if "[CRITICAL]" in line or "[ERROR]" in line]
        problem = last[-1] if last else output.strip().splitlines()[-1:] or ["nessun output"]
        problem = problem if isinstance(problem, str) else problem[0]
    return Result(target, tested, injectable, errors_500, problem, time.monotonic() - started)


def _first_traceback(server_log: str) -> str:
    """The first unexpected error the server logged, to start the diagnosis from."""
    start = server_log.find("Errore imprevisto")
    lines = server_log[start:].splitlines()
    end = next(
        (i for i, line in enumerate(lines[1:], 1) if line and not line.startswith((" ", "Traceback"))), len(lines)
    )
    return "\n".join(lines[: end + 1][-40:])


def _report(results: list[Result], server_errors: int) -> int:
    findings = 0
    incomplete = 0
    for r in results:
        stato = "OK"
        if r.injectable:
            stato = "INIETTABILE: " + ", ".join(r.injectable)
            findings += 1
        elif r.problem:
            stato = "NON TESTATO: " + r.problem
            incomplete += 1
        if r.errors_500:
            stato += f"; {r.errors_500} risposte HTTP 500"
            findings += 1
        print(f"- {r.target.name:<28} {r.seconds:5.1f}s  parametri: {', '.join(r.tested) or '-'}  → {stato}")
    if server_errors:
        print(f"Il server ha registrato {server_errors} errori imprevisti (vedere il log).")
        findings += 1
    tested = sum(len(r.tested) + len(r.injectable) for r in results)
    if findings:
        print(f"RISULTATO: {findings} problemi trovati su {len(results)} bersagli.")
        return 1
    if incomplete:
        print(f"RISULTATO: scansione incompleta, {incomplete} bersagli non testati.")
        return 2
    print(f"RISULTATO: niente di iniettabile ({tested} parametri su {len(results)} bersagli).")
    return 0


def scan_asigest(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="asigest-sqlmap-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASIGEST_")}
    env.update(
        {
            "ASIGEST_INSTANCE_PATH": str(work / "instance"),
            "ASIGEST_LOGIN_MAX_BADGE": "0",
            "ASIGEST_LOGIN_MAX_ADDRESS": "0",
        }
    )
    server = None
    try:
        started = time.monotonic()
        _flask(env, "demo")
        password = "scansione-" + os.urandom(6).hex()
        _flask(
            env,
            "user",
            "create",
            "--matricola",
            "SQLMAP",
            "--nome",
            "Scansione",
            "--cognome",
            "Sqlmap",
            "--ruolo",
            "ADMIN",
            "--password",
            password,
        )
        token = _flask(env, "token", "create", "--matricola", "SQLMAP").strip().splitlines()[-1]
        port = free_port()
        log = work / "server.log"
        server = start_server(env, port, workers=2, threads=4, log=log, app="wsgi:app")
        base = f"http://127.0.0.1:{port}"
        targets = _targets(base, token, _office_cookie(base, "SQLMAP", password))
        if args.only:
            targets = [t for t in targets if args.only in t.name]
        print(
            f"Istanza pronta in {time.monotonic() - started:.1f}s su {base}; {len(targets)} bersagli, "
            f"level={args.level} risk={args.risk} technique={args.technique}"
        )
        out = work / "sqlmap"
        out.mkdir()
        # The slowest first (one request at a time, pages that render a lot), so that the
        # quick API targets fill the gaps instead of trailing at the end.
        lenti = ("login", "registro", "pagina", "documenti", "eventi", "admin")
        ordine = sorted((t for t in targets if not t.alone), key=lambda t: not any(w in t.name for w in lenti))
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            scans = {t.name: pool.submit(_scan, t, out, args) for t in ordine}
        finiti = {name: future.result() for name, future in scans.items()}
        finiti.update({t.name: _scan(t, out, args) for t in targets if t.alone})
        results = [finiti[t.name] for t in targets]
        server_log = log.read_text(errors="replace")
        server_errors = server_log.count("Errore imprevisto")
        code = _report(results, server_errors)
        if server_errors:
            print(_first_traceback(server_log))
        print(
            f"Tempo totale {time.monotonic() - started:.1f}s; output di sqlmap in {out}"
            if args.keep
            else f"Tempo totale {time.monotonic() - started:.1f}s"
        )
        return code
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# -- the canary ------------------------------------------------------------------------------


def _canary_app(db_path: Path):
    """A WSGI app with one deliberately injectable query — the scan must find it."""

    def app(environ, start_response):
        nome = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("nome", [""])[0]
        with sqlite3.connect(db_path) as con:
            try:
                # Deliberately string-built (the canary's whole point): never do this.
                sql = "SELECT nome FROM articoli WHERE nome = '%s'" % nome  # nosec B608 - the canary
                righe = [r[0] for r in con.execute(sql)]
            except sqlite3.Error:
                righe = []
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return ["\n".join(righe).encode() or b"nessuno"]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def scan_canary(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="asigest-sqlmap-canary-"))
    db_path = work / "canary.db"
    with sqlite3.connect(db_path) as con:
        con.execute("CREATE TABLE articoli (nome TEXT)")
        con.executemany("INSERT INTO articoli VALUES (?)", [("resistenza",), ("condensatore",), ("diodo",)])
    server = make_server("127.0.0.1", 0, _canary_app(db_path), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = Target("canary (iniettabile apposta)", f"http://127.0.0.1:{server.server_port}/?nome=diodo")
        out = work / "sqlmap"
        out.mkdir()
        return _report([_scan(target, out, args)], 0)
    finally:
        server.shutdown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, default=2)
    parser.add_argument("--risk", type=int, default=2)
    parser.add_argument("--technique", default="BEU")
    parser.add_argument("--parallel", type=int, default=4, help="sqlmap runs at once")
    parser.add_argument("--time-limit", type=int, default=120, help="seconds per target")
    parser.add_argument("--only", help="scan only the targets whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the instance and sqlmap's output")
    parser.add_argument("--canary", action="store_true", help="scan the deliberately injectable canary instead")
    args = parser.parse_args(argv)
    return scan_canary(args) if args.canary else scan_asigest(args)


if __name__ == "__main__":
    sys.exit(main())
