"""Fixtures shared by every test layer.

- The ASI_GEST database is SQLite by default, or PostgreSQL when
  ``ASIGEST_TEST_DATABASE_URL`` is set (a fresh database is created for the run and
  dropped after it). Migrations run once; every test starts from empty tables plus the
  base catalog.
- The ERP is a throwaway SQLite file opened read-only; ``erp_untouched`` fails any test
  after which its bytes changed.
- ``mssql_compatible`` compiles every statement a test executes for SQL Server and fails
  the test when one does not compile or binds more than 2,100 parameters.
- Tests marked ``una_volta`` (every unit test, static scans, browser tests) run in
  the SQLite pass only: the database cannot change their result. The slow end-to-end
  modules are scheduled first, so parallel workers (pytest-xdist) finish together.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import re
import weakref
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import delete, event
from sqlalchemy.dialects import mssql
from sqlalchemy.sql import ClauseElement

from tests.erp_fixture import build_erp

MSSQL_MAX_PARAMS = 2100

# tests/dist checks the release wheel (``make test-dist``, after ``make dist``): not part of
# the checkout's runs.
collect_ignore = [] if os.environ.get("ASIGEST_TEST_DIST") == "1" else ["dist"]


# -- which tests, in which order ------------------------------------------------------

TESTS = Path(__file__).resolve().parent

# The modules that take tens of seconds to minutes (servers, browsers, scanners): first in
# the run, so one of them is not what a worker is still doing when the others are done.
MODULI_LENTI = (
    "e2e/test_fuzz_api.py",
    "e2e/test_crash.py",
    "e2e/test_scale_out.py",
    "e2e/test_erp_bloccato.py",
    "test_sqlmap_scan.py",
    "integration/test_disco_pieno.py",
    "e2e/test_guide_browser.py",
    "e2e/test_kiosk_ciclo_browser.py",
    "e2e/test_kiosk_browser.py",
)


# Modules whose result the ASI_GEST database cannot change, run in the SQLite pass only
# (with the unit tests and the browser walkthroughs): each names why.
MODULI_UNA_VOLTA = (
    "integration/test_erp_gateway.py",  # the ERP side only: a SQLite ERP file in both passes
    "integration/test_sql_server_migrations.py",  # offline DDL rendered for SQL Server
    "web/test_i18n.py",  # the catalogs and the language of rendered pages
    "web/test_security_headers.py",  # headers and CSP of answers, not their data
    "web/test_statici.py",  # static files and their caching
    "integration/test_riferimento.py",  # the bench generator writes SQLite files of its own
)
# Modules whose module-scoped fixture is costly (a demo, a reference data set, servers):
# their tests go to one worker together (``pytest_xdist_make_scheduler``), so it is built
# once; every other test is a unit of its own, as with ``--dist load``.
MODULI_INSIEME = (
    "integration/test_demo.py",
    "integration/test_riferimento.py",
    "integration/test_sql_server_migrations.py",
    "e2e/test_scale_out.py",
    "e2e/test_guide_browser.py",
    "e2e/test_fuzz_api.py",
)
# Single tests of that kind inside modules that otherwise exercise the database.
TEST_UNA_VOLTA = (
    "web/test_openapi.py::test_the_document_is_valid_openapi",
    # `flask demo`, `user` and `token` in a subprocess on a fresh instance folder with the
    # default settings (no ASIGEST_ variable passes): always the embedded SQLite.
    "integration/test_demo.py::test_demo_command_end_to_end",
    "integration/test_demo.py::test_user_and_token_commands",
    # The online copy of a SQLite file of its own (backups of other databases are refused).
    "integration/test_backup.py::test_copy_while_writing_is_a_consistent_snapshot",
)


@pytest.hookimpl(optionalhook=True)  # a venv without xdist (make test-dist) runs the suite too
def pytest_xdist_make_scheduler(config, log):
    """``--dist load`` with the modules of MODULI_INSIEME as one unit each. (xdist's own
    ``loadgroup`` renames node ids on the workers, which pytest 9.2 no longer honours: the
    groups were silently split.)"""
    from xdist.scheduler import LoadScopeScheduling

    class PerModulo(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            modulo = nodeid.split("::", 1)[0]
            return modulo if modulo.removeprefix("tests/") in MODULI_INSIEME else nodeid

    return PerModulo(config, log)


def pytest_collection_modifyitems(config, items):
    """Unit tests are ``una_volta``; on the PostgreSQL pass the ``una_volta`` tests are
    deselected; the slow modules go first (stable: the order inside a module is kept)."""
    una_volta = pytest.mark.una_volta
    for item in items:
        # Unit tests touch no database; browser tests check what a page shows and how it
        # reacts, while the database behind it is exercised on both by the route tests.
        relativo = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        if (
            relativo.startswith("unit/")
            or item.path.name.endswith("_browser.py")
            or relativo in MODULI_UNA_VOLTA
            or f"{relativo}::{item.originalname}" in TEST_UNA_VOLTA
        ):
            item.add_marker(una_volta)
    if os.environ.get("ASIGEST_TEST_DATABASE_URL"):
        tolti = [item for item in items if item.get_closest_marker("una_volta")]
        if tolti:
            config.hook.pytest_deselected(items=tolti)
            items[:] = [item for item in items if not item.get_closest_marker("una_volta")]

    def lentezza(item) -> int:
        relativo = item.path.relative_to(TESTS).as_posix() if item.path.is_relative_to(TESTS) else ""
        return MODULI_LENTI.index(relativo) if relativo in MODULI_LENTI else len(MODULI_LENTI)

    items.sort(key=lentezza)


# -- speed -------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _cheap_argon2():
    """argon2id with minimal cost for the test run: the same code paths and hash format,
    without spending a quarter of a second per user created. Production keeps the defaults
    (``tests/unit`` checks them on the real hasher)."""
    from argon2 import PasswordHasher

    from asigest.domain import hashing

    real, real_pin = hashing._hasher, hashing._hasher_pin
    hashing._hasher = hashing._hasher_pin = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    hashing._hasher, hashing._hasher_pin = real, real_pin


# -- databases -------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """ASI_GEST's URL for this run: a new PostgreSQL database or a SQLite file."""
    from tests.server_fixture import database_usa_e_getta

    with database_usa_e_getta(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def erp_file(tmp_path_factory) -> Path:
    return build_erp(tmp_path_factory.mktemp("erp") / "erp.db")


@pytest.fixture(scope="session")
def app(database_url, erp_file, tmp_path_factory):
    from asigest import create_app
    from asigest.cli import run_init
    from asigest.dialects import sqlite_readonly_url

    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": instance,
            "DATABASE_URL": database_url,
            "ERP_URL": sqlite_readonly_url(erp_file),
            "ERP_TIMEOUT": 1.0,
            "SECRET_KEY": "test-secret",
        }
    )
    with application.app_context():
        run_init()
    return application


# What the running test wrote to the application databases: set by a listener on every
# engine the app configures (``_watch_application_engines``), reset before each test.
# ``_scritte`` maps a table to the verbs seen on it; ``_scrittura_ignota`` is any other
# write (DDL, a statement the pattern does not name), after which everything is cleaned.
_scritte: dict[str, set[str]] = {}
_scrittura_ignota = False
_SOLO_LETTURA = ("SELECT", "PRAGMA", "SET ", "SHOW", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
_SCRITTURA = re.compile(r'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?[\s(]', re.IGNORECASE)


def _segna_scrittura(conn, cursor, statement, parameters, context, executemany):
    global _scrittura_ignota
    if statement.lstrip()[:9].upper().startswith(_SOLO_LETTURA):
        return
    trovata = _SCRITTURA.match(statement)
    if trovata is None:
        _scrittura_ignota = True
    else:
        _scritte.setdefault(trovata[2], set()).add(trovata[1].split()[0].upper())


def _scrive_fuori_vista(request) -> bool:
    """A test that reaches the database through an engine of its own (not the app's) is
    cleaned after whatever it did: the listener cannot see its statements."""
    return "catalog_engine" in request.fixturenames or "database_url" in request.node._fixtureinfo.argnames


# The clean state's non-empty tables (base catalog, its audit row, the KPI summaries'
# zone) → their highest primary key, taken after the last full clean-up; None before it.
_base: dict[str, int] | None = None
_righe_base: dict[str, int] = {}  # row counts of the clean state (ASIGEST_TEST_VERIFICA_PULIZIA)


def _pulizia_mirata(session) -> bool:
    """Undo what the test wrote when the listener saw all of it and it only added rows to
    the clean state's tables: empty the tables it wrote, and from the non-empty ones delete
    the rows past the clean state's last key. False when a full clean-up is needed."""
    from asigest.extensions import db

    if _base is None or _scrittura_ignota:
        return False
    tabelle = {t.name: t for t in db.metadata.sorted_tables}
    if any(nome not in tabelle for nome in _scritte):
        return False
    for nome, verbi in _scritte.items():
        if nome in _base and verbi != {"INSERT"}:
            return False  # a catalog row changed or went: rebuild the catalog
    for table in reversed(db.metadata.sorted_tables):
        if table.name not in _scritte:
            continue
        if table.name in _base:
            (chiave,) = table.primary_key.columns
            session.execute(delete(table).where(chiave > _base[table.name]))
        else:
            session.execute(delete(table))
    session.commit()
    if os.environ.get("ASIGEST_TEST_VERIFICA_PULIZIA"):
        # Opt-in proof that the targeted clean-up leaves what a full one would.
        assert _conta_righe(session) == _righe_base, f"pulizia mirata incompleta dopo {_scritte}"
    return True


def _conta_righe(session) -> dict[str, int]:
    from sqlalchemy import func, select

    from asigest.extensions import db

    conta = {t.name: session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    session.rollback()
    return conta


def _pulizia_completa(session, app) -> None:
    """Empty every table, restore the base catalog, and note the clean state's keys."""
    global _base
    from sqlalchemy import func, select

    from asigest.extensions import db
    from asigest.services import riepilogo_kpi
    from asigest.services.catalog import ensure_base_catalog

    for table in reversed(db.metadata.sorted_tables):
        session.execute(delete(table))
    session.commit()
    ensure_base_catalog(session)
    # As ``init`` leaves it: the KPIs' daily summary kept for the plant's zone.
    riepilogo_kpi.assicura(session, app.config["TIMEZONE"])
    base = {}
    for table in db.metadata.sorted_tables:
        chiavi = list(table.primary_key.columns)
        massimo = session.scalar(select(func.max(chiavi[0]))) if len(chiavi) == 1 else None
        if massimo is not None:
            base[table.name] = massimo
        elif session.scalar(select(func.count()).select_from(table)):
            base = None  # a non-empty table without one integer key: always clean fully
            break
    session.commit()
    _base = base
    if os.environ.get("ASIGEST_TEST_VERIFICA_PULIZIA"):
        _righe_base.clear()
        _righe_base.update(_conta_righe(session))


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Undo what a test wrote to the ASI_GEST tables.

    A test that only read leaves the tables as the previous clean-up left them, so most
    read-only tests (pages, API reads, refusals) skip clean-up altogether; one that only
    added rows has just those deleted (``_pulizia_mirata``); any other is followed by a
    full clean-up that restores the catalog."""
    global _scrittura_ignota
    _scritte.clear()
    _scrittura_ignota = False
    yield
    if "app" not in request.fixturenames:
        return
    fuori_vista = _scrive_fuori_vista(request)
    if not (_scritte or _scrittura_ignota or fuori_vista):
        return
    app = request.getfixturevalue("app")
    from asigest.extensions import db

    with app.app_context():
        db.session.rollback()
        if fuori_vista or not _pulizia_mirata(db.session):
            _pulizia_completa(db.session, app)
        db.session.remove()


@pytest.fixture
def app_without_erp(app, database_url, tmp_path):
    """A second app on the same ASI_GEST database whose ERP file does not exist.

    Depends on ``app`` so the schema is migrated and tables are emptied afterwards.
    """
    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url
    from asigest.extensions import db

    other = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "instance",
            "DATABASE_URL": database_url,
            "ERP_URL": sqlite_readonly_url(tmp_path / "erp-assente.db"),
            "ERP_TIMEOUT": 1.0,
            "SECRET_KEY": "test-secret-senza-erp",
        }
    )
    yield other
    with other.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def db_session(app):
    """The app's session inside an application context."""
    from asigest.extensions import db

    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def erp(app, db_session):
    from asigest.web import deps

    return deps.erp()


# -- guards ------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def erp_untouched(request):
    """Fail the test if the ERP database file changed while it ran."""
    if "app" not in request.fixturenames:
        yield
        return
    erp_path = request.getfixturevalue("erp_file")
    before = _digest(erp_path)
    yield
    assert _digest(erp_path) == before, "Il test ha modificato il database ERP: ASI-GEST non deve mai scriverlo."


# Engines whose statements ``mssql_compatible`` compiles: both engines of every app built
# in the run (the ``app`` fixture's, ``make_app``'s, a test's own ``create_app``) and every
# engine an ERP gateway or read-only guard is put on, whichever test or fixture made it.
_MSSQL_WATCHED: weakref.WeakSet = weakref.WeakSet()
_mssql_failures: list[str] | None = None  # the running test's list, None between tests
_MSSQL_DIALECT = mssql.dialect()
# Compile as for the SQL Server a plant runs (2016+, docs/deploy.md), not the 2005 that an
# unconnected dialect assumes: DATE, NVARCHAR(max), OFFSET … FETCH, as in production.
_MSSQL_DIALECT.server_version_info = (13, 0)
_MSSQL_DIALECT._setup_version_attributes()


# What compiling a statement's shape found (an empty tuple when it is fine), by shape: the
# suite executes the same few hundred shapes hundreds of thousands of times, and compiling
# each one for SQL Server at every execution was a third of the suite's time.
_MSSQL_ESITI: dict[tuple, tuple[str, ...]] = {}


def _forma(clauseelement, multiparams, params) -> tuple | None:
    """The statement's SQLAlchemy cache key (values left out) plus the length of every list
    bound to it (an IN list becomes one parameter per element), or None when the statement
    cannot be cached (then it is compiled every time)."""
    chiave = clauseelement._generate_cache_key()
    if chiave is None:
        return None
    liste = tuple(len(b.value) if b.expanding and isinstance(b.value, (list, tuple)) else -1 for b in chiave.bindparams)
    dati = [params or {}, *(m for m in multiparams or () if isinstance(m, dict))]
    passate = tuple(sorted((k, len(v)) for d in dati for k, v in d.items() if isinstance(v, (list, tuple))))
    return (chiave.key, liste, passate)


def _check_mssql(conn, clauseelement, multiparams, params, execution_options):
    failures = _mssql_failures
    if failures is None or not isinstance(clauseelement, ClauseElement):
        return
    forma = _forma(clauseelement, multiparams, params)
    esito = _MSSQL_ESITI.get(forma) if forma is not None else None
    if esito is None:
        trovati: list[str] = []
        _compila_per_mssql(clauseelement, trovati)
        esito = tuple(trovati)
        if forma is not None:
            _MSSQL_ESITI[forma] = esito
    failures.extend(esito)


def _compila_per_mssql(clauseelement, failures: list[str]) -> None:
    """Compile ``clauseelement`` for SQL Server; append what would fail there."""
    try:
        # render_postcompile expands IN lists, so each id counts as the parameter it becomes.
        compiled = clauseelement.compile(dialect=_MSSQL_DIALECT, compile_kwargs={"render_postcompile": True})
    except Exception as exc:  # any compile failure is what we look for
        failures.append(f"{type(exc).__name__}: {exc} in {clauseelement}")
        return
    if re.search(r"\bIS (NOT )?[01]\b", str(compiled)):
        # .is_(True) compiles, but ``IS 1`` is not T-SQL: use == true().
        failures.append(f"IS 1/IS 0 non valido su SQL Server in {str(compiled)[:200]}")
    if getattr(clauseelement, "_for_update_arg", None) is not None and not re.search(
        r"\bWITH \((UPD|HOLD)LOCK", str(compiled)
    ):
        # SQL Server has no FOR UPDATE: without the table hint (dialects.py) the lock is gone.
        failures.append(f"with_for_update() senza lock su SQL Server in {str(compiled)[:200]}")
    # DDL (migrations run inside a test) has no bound parameters to count.
    count = len(getattr(compiled, "positiontup", None) or getattr(compiled, "params", None) or ())
    if count > MSSQL_MAX_PARAMS:
        failures.append(f"{count} parametri (> {MSSQL_MAX_PARAMS}) in {str(compiled)[:200]}")


def watch_for_mssql(engine) -> None:
    """Compile every statement ``engine`` executes from now on for SQL Server."""
    if engine not in _MSSQL_WATCHED:
        _MSSQL_WATCHED.add(engine)
        event.listen(engine, "before_execute", _check_mssql)


@pytest.fixture(scope="session", autouse=True)
def _watch_application_engines():
    """Hook where the application configures its engines and wraps the ERP's, so that
    ``mssql_compatible`` sees the statements of apps and gateways built anywhere in the
    suite, not only through the ``app`` fixture. Engines a test makes for itself (catalog
    reflection, building the ERP file) stay unwatched: their SQL is not the application's."""
    from asigest import dialects
    from asigest.erp.gateway import ErpGateway

    configure, guard, gateway_init = (
        dialects.configure_asigest_engine,
        dialects.install_readonly_guard,
        ErpGateway.__init__,
    )

    def configure_watched(engine, **kwargs):
        configure(engine, **kwargs)
        watch_for_mssql(engine)
        event.listen(engine, "after_cursor_execute", _segna_scrittura)

    def guard_watched(engine):
        guard(engine)
        watch_for_mssql(engine)

    def gateway_watched(self, engine, *args, **kwargs):
        gateway_init(self, engine, *args, **kwargs)
        watch_for_mssql(engine)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialects, "configure_asigest_engine", configure_watched)
        patch.setattr(dialects, "install_readonly_guard", guard_watched)
        patch.setattr(ErpGateway, "__init__", gateway_watched)
        yield


@pytest.fixture(autouse=True)
def mssql_compatible(request):
    """Compile every statement executed during the test for SQL Server (on the engines of
    ``_watch_application_engines``); fail the test when one does not compile or binds more
    than 2,100 parameters. Yields the list of failures found so far."""
    global _mssql_failures
    if request.node.get_closest_marker("misura_tempi"):
        # A timing test measures what production runs; compiling each statement a second
        # time for SQL Server is the suite's own work (every other test still does it).
        yield []
        return
    if "app" in request.fixturenames:
        request.getfixturevalue("app")  # built before the test's statements are watched
    failures: list[str] = []
    _mssql_failures = failures
    try:
        yield failures
    finally:
        _mssql_failures = None
    assert not failures, "Query non compatibili con SQL Server:\n" + "\n".join(failures)


# -- factories ----------------------------------------------------------------------


@pytest.fixture
def make_user(db_session):
    """``make_user(ruolo="SUPERVISORE", matricola=None, password="password123", pin=None)``."""
    from asigest.services import auth

    counter = iter(range(1, 10_000))

    def factory(ruolo="SUPERVISORE", matricola=None, password="password123", pin=None, **extra):
        return auth.create_user(
            db_session,
            actor=None,
            matricola=matricola or f"U{next(counter):04d}",
            nome=extra.get("nome", "Mario"),
            cognome=extra.get("cognome", "Rossi"),
            ruolo=ruolo,
            password=password,
            pin=pin,
            lingua=extra.get("lingua"),
        )

    return factory


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a context of its own.

    ``db_session`` keeps an application context pushed for the whole test; Flask reuses
    a pushed context for requests, so without this every request of a test would share
    ``g`` (Flask-Login's cached user, Flask-WTF's cached CSRF token) and the database
    session with the test and with each other — unlike a real browser. Running each
    request in an empty ``contextvars.Context`` makes it push, and tear down, its own.

    Afterwards the test's own session is rolled back, so what the test reads next is
    what the request committed (a SQLite read transaction would otherwise keep its old
    snapshot, and refuse to write on top of it).
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            from asigest.extensions import db

            db.session.rollback()
        return response


@pytest.fixture
def client(app):
    return IsolatedClient(app, app.response_class, use_cookies=True)


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken":\s*"([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "nessun token CSRF nella pagina"
    return match.group(1) or match.group(2)


@pytest.fixture
def login(client, make_user):
    """Log ``client`` in as a new user of ``ruolo``; returns the user."""

    def do_login(ruolo="SUPERVISORE", password="password123"):
        user = make_user(ruolo=ruolo, password=password)
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"matricola": user.matricola, "password": password, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 302, response.text
        return user

    return do_login


@pytest.fixture
def api_token(db_session, make_user):
    """``api_token(ruolo)`` → headers with a bearer token for a new user of that role."""
    from asigest.services import auth

    def make(ruolo="SUPERVISORE"):
        user = make_user(ruolo=ruolo)
        token = auth.create_token(db_session, actor=None, matricola=user.matricola)
        return {"Authorization": f"Bearer {token}"}

    return make
