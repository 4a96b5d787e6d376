"""Real servers for tests that need separate processes (crash safety, scale-out).

- ``database_usa_e_getta``: a throwaway ASI_GEST database — a SQLite file, or a new
  PostgreSQL database when ``ASIGEST_TEST_DATABASE_URL`` is set (the convention of
  ``tests/conftest.py``), dropped afterwards;
- ``prepara_impianto``: schema and catalog by ``flask --app wsgi init`` in its own
  process (``come_dopo``: once per test process, then copied), then a small plant set up through the services in this one (operators with
  PIN and API token, one SMD machine per terminal, orders of a million pieces
  configured SMD only);
- ``Gunicorn``: the app served as ``make run`` serves it (gunicorn, workers + threads),
  in a process group of its own, so that ``uccidi()`` sends SIGKILL to the master and
  every worker at once — a crash, not a shutdown;
- ``Browser``: a cookie jar over ``http.client`` that can talk to several servers.

The ``serve_gunicorn`` fixture kills every server it started when the test ends, even a
failing one: no server outlives its test.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import make_url

from tests.erp_fixture import build_erp, commessa_row

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SECRET = "chiave-condivisa-dei-server-di-test"
PIN = "2468"
PASSWORD = "password-di-prova"
QTA_COMMESSA = 1_000_000
CAUSALE_SMD = "SMD-PICK"


# -- database ----------------------------------------------------------------------


def _pg_admin(url):
    import psycopg

    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )


@contextmanager
def database_usa_e_getta(cartella: Path):
    """Yield the URL of a new, empty ASI_GEST database; drop it afterwards (PostgreSQL)."""
    base = os.environ.get("ASIGEST_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{cartella / 'asigest.db'}"
        return
    from psycopg import sql

    url = make_url(base)
    nome = f"{url.database or 'asigest_test'}_{uuid.uuid4().hex[:8]}"
    with _pg_admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(nome)))
        # A throwaway database need not wait for its WAL on disk at each commit: what the
        # tests see is the same (a commit is visible to every session at once; the crash
        # tests kill the app's processes, never PostgreSQL), only the waits go.
        conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit TO off").format(sql.Identifier(nome)))
    try:
        yield url.set(database=nome).render_as_string(hide_password=False)
    finally:
        with _pg_admin(url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(nome)))


# The databases ``flask --app wsgi <command>`` made once in this test process, by command:
# their URLs (a SQLite file or a PostgreSQL database), dropped when the process ends.
_MODELLI: dict[tuple, str] = {}


def come_dopo(database_url: str, *comando: str) -> None:
    """Make the new, empty database at ``database_url`` (``database_usa_e_getta``) what
    ``flask --app wsgi <comando>`` leaves on an empty one (``init``; ``db upgrade 0007``):
    a copy of a database the command prepared in its own process, once per test process
    and command. The migrations are the same each time, so they run once: a ``flask``
    process costs 1.5–2 s of CPU, and the tests that start from a prepared plant are many."""
    url = make_url(database_url)
    sqlite = url.get_backend_name() == "sqlite"
    modello = _MODELLI.get((sqlite, *comando)) or _prepara_modello(comando, sqlite=sqlite)
    if sqlite:
        import shutil

        for parte in ("", "-wal"):  # the log too, if the command's process left one
            if Path(make_url(modello).database + parte).exists():
                shutil.copyfile(make_url(modello).database + parte, url.database + parte)
        return
    from psycopg import sql

    nome, nome_modello = sql.Identifier(url.database), sql.Identifier(make_url(modello).database)
    with _pg_admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(nome))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(nome, nome_modello))
        conn.execute(sql.SQL("ALTER DATABASE {} SET synchronous_commit TO off").format(nome))


def _prepara_modello(comando: tuple[str, ...], *, sqlite: bool) -> str:
    """The template of ``come_dopo``, on the target's kind of database (a test may want a
    SQLite file of its own in the PostgreSQL pass)."""
    import atexit
    import shutil
    import tempfile

    from asigest.dialects import sqlite_readonly_url

    cartella = Path(tempfile.mkdtemp(prefix="asigest-modello-"))
    atexit.register(shutil.rmtree, cartella, ignore_errors=True)
    if sqlite:
        url = f"sqlite:///{cartella / 'asigest.db'}"
    else:
        database = database_usa_e_getta(cartella)
        url = database.__enter__()
        atexit.register(database.__exit__, None, None, None)
    env = ambiente(url, sqlite_readonly_url(build_erp(cartella / "erp.db")), cartella / "istanza")
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", *comando],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env=env,
    )
    _MODELLI[(sqlite, *comando)] = url
    return url


def ambiente(database_url: str, erp_url: str, istanza: Path) -> dict:
    """The environment of a ``flask``/gunicorn process on these databases (no other
    ``ASIGEST_*`` setting of the developer's shell leaks in)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASIGEST_")},
        "ASIGEST_INSTANCE_PATH": str(istanza),
        "ASIGEST_DATABASE_URL": database_url,
        "ASIGEST_ERP_URL": erp_url,
        "ASIGEST_SECRET_KEY": SECRET,
    }


# -- the plant ---------------------------------------------------------------------


@dataclass
class Impianto:
    """What the clients of a test need: ids, codes, badges and tokens."""

    database_url: str
    erp_url: str
    macchine: list[tuple[int, str]]  # (MacchinaID, Codice), one per terminal
    fasi: list[int]  # SMD FaseID of each configured order
    commesse: list[int]  # the orders' ERP ids (numbers 2026/1001…)
    operatori: list[tuple[int, str, str]]  # (UtenteID, Matricola, API token)
    supervisore: str = "CAPO"
    # With ``controlli``: CONTROLLI after SMD in every order, its machines and their operators.
    fasi_controlli: list[int] = field(default_factory=list)  # CONTROLLI FaseID of each order
    macchine_controlli: list[tuple[int, str]] = field(default_factory=list)
    operatori_controlli: list[tuple[int, str, str]] = field(default_factory=list)


def prepara_impianto(
    database_url: str, cartella: Path, *, macchine: int, commesse: int, controlli: int = 0
) -> Impianto:
    """Schema (migrations), catalog and the plant, written through the services; with
    ``controlli`` > 0 every order also has CONTROLLI (drawing from SMD, R14), with that
    many machines and operators of its own."""
    from sqlalchemy import select

    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url
    from asigest.erp import ErpGateway
    from asigest.extensions import db
    from asigest.models import Fase, FaseTipo
    from asigest.services import anagrafiche, auth, configurazione

    erp_file = build_erp(
        cartella / "erp.db", [commessa_row(i, numerocom=1000 + i, QTA=QTA_COMMESSA) for i in range(1, commesse + 1)]
    )
    erp_url = sqlite_readonly_url(erp_file)
    istanza = cartella / "istanza-preparazione"
    # The schema as a plant creates it: ``flask --app wsgi init`` in its own process (once
    # per test process; this database is a copy of what it made).
    come_dopo(database_url, "init")
    app = create_app({"INSTANCE_PATH": istanza, "DATABASE_URL": database_url, "ERP_URL": erp_url, "SECRET_KEY": SECRET})
    with app.app_context():
        session = db.session
        erp = ErpGateway(db.engines["erp"], None)
        auth.create_user(
            session, actor=None, matricola="CAPO", nome="Capo", cognome="Turno", ruolo="SUPERVISORE", password=PASSWORD
        )
        operatori = []
        for n in range(1, macchine + 1):
            utente = auth.create_user(
                session,
                actor=None,
                matricola=f"OP{n:02d}",
                nome="Operatore",
                cognome=str(n),
                ruolo="OPERATORE",
                pin=PIN,
            )
            operatori.append(
                (utente.id, utente.matricola, auth.create_token(session, actor=None, matricola=utente.matricola))
            )
        codici = [
            anagrafiche.create_macchina(session, actor=None, codice=f"SMD-T{n:02d}", fase_tipo="SMD")
            for n in range(1, macchine + 1)
        ]
        operatori_controlli = []
        for n in range(1, controlli + 1):
            utente = auth.create_user(
                session,
                actor=None,
                matricola=f"OPC{n:02d}",
                nome="Collaudo",
                cognome=str(n),
                ruolo="OPERATORE",
                pin=PIN,
            )
            operatori_controlli.append(
                (utente.id, utente.matricola, auth.create_token(session, actor=None, matricola=utente.matricola))
            )
        macchine_controlli = [
            anagrafiche.create_macchina(session, actor=None, codice=f"CTRL-T{n:02d}", fase_tipo="CONTROLLI")
            for n in range(1, controlli + 1)
        ]
        ids = list(range(1, commesse + 1))
        for commessa_id in ids:
            configurazione.create_config(
                session,
                erp,
                actor=None,
                commessa_erp_id=commessa_id,
                flag_smd=True,
                flag_pth=False,
                flag_controlli=controlli > 0,
                diba="DB-T",
                revisione="A",
            )
        tipi = {t.codice: t.id for t in session.scalars(select(FaseTipo))}
        per_tipo = {
            codice: list(
                session.scalars(
                    select(Fase.id)
                    .where(Fase.commessa_erp_id.in_(ids), Fase.fase_tipo_id == tipi[codice])
                    .order_by(Fase.commessa_erp_id)
                )
            )
            for codice in ("SMD", "CONTROLLI")
        }
        impianto = Impianto(
            database_url,
            erp_url,
            [(m.id, m.codice) for m in codici],
            per_tipo["SMD"],
            ids,
            operatori,
            fasi_controlli=per_tipo["CONTROLLI"],
            macchine_controlli=[(m.id, m.codice) for m in macchine_controlli],
            operatori_controlli=operatori_controlli,
        )
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return impianto


# -- servers -----------------------------------------------------------------------


def porta_libera() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn --workers W --threads T wsgi:app`` on a fixed port, in its own process group."""

    def __init__(
        self,
        impianto: Impianto,
        cartella: Path,
        *,
        workers: int = 2,
        threads: int = 4,
        preload: bool = False,
        impostazioni: dict | None = None,
    ):
        self.porta = porta_libera()
        self.cartella = cartella
        cartella.mkdir(parents=True, exist_ok=True)
        self.log = cartella / "gunicorn.log"
        self.cmd = [
            str(GUNICORN),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{self.porta}",
            "--log-level",
            "warning",
        ]
        if preload:
            # The app is imported once in the master, then the workers fork: a restart
            # takes about half the time on a busy 2-core machine. create_app connects to
            # nothing, so no connection is shared across the fork.
            self.cmd.append("--preload")
        self.cmd.append("wsgi:app")
        # Its own instance folder: nothing is shared through it, only the database.
        self.env = ambiente(impianto.database_url, impianto.erp_url, cartella / "istanza")
        self.env.update({k: str(v) for k, v in (impostazioni or {}).items()})  # more ASIGEST_* settings
        self.proc: subprocess.Popen | None = None
        self.avvii = 0

    def avvia(self, timeout: float = 60) -> None:
        """Start and wait until ``/health`` answers."""
        self.lancia()
        self.attendi(timeout)

    def lancia(self) -> None:
        """Start the server without waiting for it (``attendi`` waits)."""
        with open(self.log, "ab") as log:
            # start_new_session: the master and the workers it forks form one process group.
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        self.avvii += 1

    def attendi(self, timeout: float = 60) -> None:
        """Wait until ``/health`` answers 200; kill the server and raise if it does not."""
        limite = time.monotonic() + timeout
        while time.monotonic() < limite:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn terminato all'avvio:\n{self.coda_log()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.porta, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        self.uccidi()
        raise RuntimeError(f"gunicorn non pronto in {timeout} s:\n{self.coda_log()}")

    def uccidi(self) -> None:
        """SIGKILL to the whole process group (master and workers), then reap the master."""
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def coda_log(self, righe: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-righe:])
        except OSError:
            return ""

    def errori_nel_log(self) -> list[str]:
        """Tracebacks the server logged (a request that failed inside the app)."""
        testo = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [r for r in testo.splitlines() if r.startswith("Traceback") or "Exception on " in r]


@pytest.fixture
def serve_gunicorn(tmp_path):
    """``serve_gunicorn(impianto, nome, workers=2, threads=4)`` → a started ``Gunicorn``;
    every server started is killed (process group) when the test ends."""
    avviati: list[Gunicorn] = []

    def avvia(impianto: Impianto, nome: str = "server", **opzioni) -> Gunicorn:
        server = Gunicorn(impianto, tmp_path / nome, **opzioni)
        avviati.append(server)
        server.avvia()
        return server

    yield avvia
    for server in avviati:
        server.uccidi()


# -- clients -----------------------------------------------------------------------


@dataclass
class Risposta:
    status: int
    headers: dict[str, str]
    testo: str

    def json(self):
        return json.loads(self.testo)


def richiesta(
    porta: int,
    metodo: str,
    percorso: str,
    *,
    corpo: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 30,
) -> Risposta:
    """One request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", porta, timeout=timeout)
    try:
        conn.request(metodo, percorso, body=corpo, headers=headers or {})
        r = conn.getresponse()
        return Risposta(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace"))
    finally:
        conn.close()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken":\s*"([^"]+)"')


def csrf_da(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "nessun token CSRF nella pagina"
    return match.group(1) or match.group(2)


@dataclass
class Browser:
    """One browser: its cookies go to whichever server it talks to (as behind a proxy)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def intestazioni(self, extra: dict | None = None) -> dict:
        h = {"User-Agent": "asigest-test-browser"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**h, **(extra or {})}

    def ricevi(self, risposta: Risposta, raw_headers) -> Risposta:
        for nome, valore in raw_headers:
            if nome.lower() != "set-cookie":
                continue
            coppia = valore.split(";", 1)[0]
            k, _, v = coppia.partition("=")
            if v == "" or "expires=thu, 01 jan 1970" in valore.lower() or "max-age=0" in valore.lower():
                self.cookies.pop(k.strip(), None)
            else:
                self.cookies[k.strip()] = v
        return risposta

    def prepara(self, metodo: str, percorso: str, *, form: dict | None = None, headers: dict | None = None):
        """(method, path, body, headers) of a request from this browser, to send later."""
        corpo = urlencode(form).encode() if form is not None else None
        extra = dict(headers or {})
        if form is not None:
            extra["Content-Type"] = "application/x-www-form-urlencoded"
        return metodo, percorso, corpo, self.intestazioni(extra)

    def invia(self, porta: int, preparata, conn: http.client.HTTPConnection | None = None) -> Risposta:
        metodo, percorso, corpo, headers = preparata
        conn = conn or http.client.HTTPConnection("127.0.0.1", porta, timeout=30)
        try:
            conn.request(metodo, percorso, body=corpo, headers=headers)
            r = conn.getresponse()
            risposta = Risposta(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace"))
            return self.ricevi(risposta, r.getheaders())
        finally:
            conn.close()

    def get(self, porta: int, percorso: str, **kw) -> Risposta:
        return self.invia(porta, self.prepara("GET", percorso, **kw))

    def post(self, porta: int, percorso: str, form: dict, **kw) -> Risposta:
        return self.invia(porta, self.prepara("POST", percorso, form=form, **kw))
