"""SQL Server readiness without a SQL Server: what the suite checks on every statement
reaches every engine the application builds; SQL that is not compiled by SQLAlchemy
(``exec_driver_sql``, ``text()``, DBAPI cursors) is listed here and runs on its own
database only; the ERP connection declares ``ApplicationIntent=ReadOnly``.

Creating an engine does not connect, so the ``mssql+pyodbc`` engines below are real
engines whose URL and connect arguments are checked as the driver would receive them.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, literal, select

from asigest import PROJECT_ROOT, dialects
from asigest.erp import ErpGateway

MSSQL_ERP = "mssql+pyodbc://asigest_ro:s%40greto@sqlsrv01/ASITRON?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes"
MSSQL_APP = "mssql+pyodbc://asigest_app:segreto@sqlsrv01/ASI_GEST?driver=ODBC+Driver+18+for+SQL+Server"


def _too_many_parameters():
    """A statement SQL Server would refuse: 2,101 bound parameters."""
    return select(literal(1)).where(literal(1).in_(list(range(2101))))


def _expect_refused(failures: list[str]) -> None:
    assert any("parametri (> 2100)" in failure for failure in failures), failures
    failures.clear()  # seen: the test passes


# -- every engine of the application is watched by mssql_compatible -------------------------


def test_an_app_built_by_a_test_is_watched(tmp_path, mssql_compatible):
    """Not only the ``app`` fixture's engines: ``make_app``, a test's own ``create_app``
    and CLI runs on such an app compile their statements for SQL Server too."""
    from asigest import create_app
    from asigest.extensions import db

    other = create_app({"INSTANCE_PATH": tmp_path / "instance", "SECRET_KEY": "x"})
    with other.app_context():
        db.session.execute(_too_many_parameters())
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    _expect_refused(mssql_compatible)


def test_a_connection_of_its_own_is_watched(db_session, mssql_compatible):
    """The streamed exports read through a connection of their own on the session's
    engine (``registro.righe_lotti``), after the request's session is gone."""
    with db_session.get_bind().connect() as connessione:
        connessione.execute(_too_many_parameters())
    _expect_refused(mssql_compatible)


def test_a_gateway_on_an_engine_of_its_own_is_watched(erp_file, mssql_compatible):
    engine = create_engine(dialects.sqlite_readonly_url(erp_file))
    gateway = ErpGateway(engine)
    with gateway.engine.connect() as conn:
        conn.execute(select(gateway.table.c.ID).where(gateway.table.c.ID.in_(list(range(2101)))))
    engine.dispose()
    _expect_refused(mssql_compatible)


def test_the_compile_cache_tells_a_long_in_list_from_a_short_one(db_session, mssql_compatible):
    """``mssql_compatible`` compiles each statement shape once; the length of an IN list is
    part of the shape, so the same query with 3 ids and then with 2,101 is still refused,
    and a refused shape is refused again every time it runs."""
    with db_session.get_bind().connect() as connessione:
        for ids in (list(range(3)), list(range(2101)), list(range(3))):
            connessione.execute(select(literal(1)).where(literal(1).in_(ids)))
        assert len(mssql_compatible) == 1, mssql_compatible
        connessione.execute(select(literal(1)).where(literal(1).in_(list(range(2101)))))
    assert len(mssql_compatible) == 2, mssql_compatible
    _expect_refused(mssql_compatible)


# -- SQL that SQLAlchemy does not compile ------------------------------------------------------

# Every place that sends SQL as text (``exec_driver_sql``, ``text()``, ``literal_column()``,
# a DBAPI ``execute`` of a string) — by file and top-level function — and why it is safe
# on SQL Server. A new place fails the test until it is added here with its reason.
RAW_SQL_SITES = {
    (
        "asigest/dialects.py",
        "configure_asigest_engine",
    ): "SQLite pragmas and BEGIN [IMMEDIATE]: the listeners are installed only when the engine is SQLite",
    (
        "asigest/dialects.py",
        "sqlite_autoincrement",
    ): "SQLite's AUTOINCREMENT rebuild: called by migrations 0004 and 0009 only when the bind is SQLite",
    (
        "asigest/dialects.py",
        "_sonda_nella_transazione",
    ): "the write probe's lock bounds: PRAGMA busy_timeout under name == 'sqlite', SET LOCAL "
    "lock_timeout/statement_timeout under 'postgresql', SET LOCK_TIMEOUT under 'mssql' (T-SQL)",
    (
        "asigest/services/backup.py",
        "_copia",
    ): "sqlite3 on the SQLite file: copia_database refuses any other database first",
    ("asigest/services/backup.py", "_verifica"): "sqlite3 on the copy just made (PRAGMA integrity_check)",
    ("asigest/services/kpi.py", "_top_operatori"): "the literal 0 in OperatoreID + 0: the same on every database",
    ("asigest/services/oee.py", "_produzione"): "the literal 0 in MacchinaID + 0: the same on every database",
    ("migrations/versions/0005_indice_kpi.py", "upgrade"): "ANALYZE, under bind.dialect.name == 'sqlite'",
    (
        "migrations/versions/0011_lingua_utenti.py",
        "upgrade",
    ): "constant ALTER TABLE ADD COLUMN … CHECK, under dialect.name == 'sqlite'",
    (
        "migrations/versions/0011_lingua_utenti.py",
        "downgrade",
    ): "constant ALTER TABLE DROP COLUMN, under dialect.name == 'sqlite'",
    (
        "migrations/versions/0013_documenti_eliminati.py",
        "upgrade",
    ): "constant ALTER TABLE ADD COLUMN … REFERENCES, under bind.dialect.name == 'sqlite'",
    (
        "migrations/versions/0015_riepilogo_scarti.py",
        "upgrade",
    ): "op.execute of a Core sa.delete() (no text): compiled for each database",
    (
        "migrations/versions/0015_riepilogo_scarti.py",
        "downgrade",
    ): "op.execute of a Core sa.delete() (no text): compiled for each database",
    (
        "migrations/versions/0016_riepilogo_produzione.py",
        "upgrade",
    ): "op.execute of a Core sa.delete() (no text), offline mode only: compiled for each database",
}
# Tools that build and read SQLite files only (sqlite3 module, ``sqlite:///`` engines).
SQLITE_ONLY_FOLDERS = ("bench/",)


def _is_text(node) -> bool:
    return (
        (isinstance(node, ast.Constant) and isinstance(node.value, str))
        or isinstance(node, ast.JoinedStr)
        or (isinstance(node, ast.BinOp) and _is_text(node.left))
    )


def _raw_sql(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in {"text", "literal_column"}
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "exec_driver_sql":
        return True
    if func.attr in {"text", "literal_column"}:
        return isinstance(func.value, ast.Name) and func.value.id in {"sa", "sqlalchemy"}
    if func.attr in {"execute", "executemany", "executescript"}:
        # a string handed to a DBAPI cursor/connection (SQLAlchemy's execute takes a statement)
        return (
            bool(call.args) and _is_text(call.args[0]) or (isinstance(func.value, ast.Name) and func.value.id == "op")
        )
    return False


def raw_sql_sites() -> dict[tuple[str, str], list[int]]:
    """``{(file, top-level function): [line, …]}`` over the app, migrations and bench."""
    files = [
        *PROJECT_ROOT.glob("asigest/**/*.py"),
        *PROJECT_ROOT.glob("migrations/**/*.py"),
        *PROJECT_ROOT.glob("bench/**/*.py"),
        PROJECT_ROOT / "wsgi.py",
    ]
    found: dict[tuple[str, str], list[int]] = {}
    for path in files:
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        for top in ast.parse(path.read_text(encoding="utf-8")).body:
            owner = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else "<module>"
            for node in ast.walk(top):
                if isinstance(node, ast.Call) and _raw_sql(node):
                    found.setdefault((relative, owner), []).append(node.lineno)
    return found


def test_every_raw_sql_site_is_known_and_safe_on_sql_server():
    sites = raw_sql_sites()
    unknown = {
        f"{f}:{owner} (lines {lines})"
        for (f, owner), lines in sites.items()
        if (f, owner) not in RAW_SQL_SITES and not f.startswith(SQLITE_ONLY_FOLDERS)
    }
    assert unknown == set(), "SQL come testo non verificato per SQL Server: aggiungerlo a RAW_SQL_SITES con il motivo"
    assert set(RAW_SQL_SITES) <= set(sites), "voci di RAW_SQL_SITES che non esistono più"


def _engine_urls(folder: str) -> list[str]:
    urls = []
    for path in PROJECT_ROOT.glob(f"{folder}/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "create_engine"
            ):
                first = node.args[0] if node.args else None
                head = first.values[0] if isinstance(first, ast.JoinedStr) and first.values else first
                urls.append(head.value if isinstance(head, ast.Constant) else ast.dump(first))
    return urls


def test_engines_made_outside_the_settings_are_sqlite_files():
    """The demo's ERP writer and the bench tools make their own engines: SQLite only,
    so their SQL never meets SQL Server (the app's engines come from its settings)."""
    urls = _engine_urls("asigest") + _engine_urls("bench")
    assert urls and all(url.startswith("sqlite:///") for url in urls), urls


def test_sqlite_listeners_are_not_installed_on_sql_server():
    def listeners(engine):
        return len(engine.pool.dispatch.connect), len(engine.dispatch.begin), len(engine.dispatch.before_cursor_execute)

    engine = create_engine(MSSQL_APP)
    before = listeners(engine)
    dialects.configure_asigest_engine(engine)
    assert listeners(engine) == before  # no pragmas, no BEGIN IMMEDIATE
    erp = create_engine(dialects.erp_url(MSSQL_ERP))
    connect, begin, cursor = listeners(erp)
    dialects.configure_erp_engine(erp)
    assert listeners(erp) == (connect, begin, cursor + 1)  # the read-only guard; SQLite's lower() is not added


def test_the_read_only_guard_lets_sql_servers_reads_through_and_stops_writes():
    from asigest.dialects import _FIRST_WORD, _READ_ONLY_START

    allowed = _READ_ONLY_START["mssql"]
    parola = lambda sql: _FIRST_WORD.match(sql).group(1).upper()  # noqa: E731
    assert parola("SELECT [COMMESSE].[ID] FROM [dbo].[COMMESSE]") in allowed
    assert parola("SET TRANSACTION ISOLATION LEVEL READ COMMITTED") in allowed
    for write in ("INSERT INTO COMMESSE VALUES (1)", "UPDATE COMMESSE SET QTA = 1", "EXEC sp_who", "MERGE COMMESSE"):
        assert parola(write) not in allowed


# -- the ERP connection is read-only by intent ------------------------------------------------


def _odbc_string(url: str) -> str:
    engine = create_engine(dialects.erp_url(url), **dialects.erp_engine_options(url, 3))
    (connection_string,), _ = engine.dialect.create_connect_args(engine.url)
    return connection_string


def test_erp_url_on_sql_server_declares_read_only_intent():
    stringa = _odbc_string(MSSQL_ERP)
    assert "ApplicationIntent=ReadOnly" in stringa
    assert "PWD=s@greto" in stringa and "Encrypt=yes" in stringa  # the rest of the URL intact


def test_erp_url_with_odbc_connect_gets_it_at_the_end():
    url = "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BFreeTDS%7D%3BSERVER%3Dsqlsrv01%3BPORT%3D1433%3BDATABASE%3DASITRON%3BTDS_Version%3D7.4%3B"
    assert (
        _odbc_string(url)
        == "DRIVER={FreeTDS};SERVER=sqlsrv01;PORT=1433;DATABASE=ASITRON;TDS_Version=7.4;ApplicationIntent=ReadOnly"
    )


@pytest.mark.parametrize(
    "url",
    [
        MSSQL_ERP + "&applicationintent=ReadOnly",
        MSSQL_ERP + "&ApplicationIntent=ReadWrite",
        "mssql+pyodbc:///?odbc_connect=DSN%3Dasitron%3BApplicationIntent%3DReadWrite",
    ],
)
def test_an_explicit_application_intent_is_kept(url, caplog):
    with caplog.at_level(logging.WARNING, logger="asigest.dialects"):
        assert dialects.erp_url(url) == url
    assert ("ReadWrite" in url) == ("ApplicationIntent=ReadWrite" in caplog.text)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///file:/tmp/erp.db?mode=ro&uri=true",
        "postgresql+psycopg://ro@pg/asitron",
    ],
)
def test_other_databases_urls_are_untouched(url):
    assert dialects.erp_url(url) == url


def test_the_apps_engines_on_sql_server(tmp_path, monkeypatch):
    """Settings as a plant sets them: the ERP bind gets the read-only intent and the login
    timeout, ASI_GEST pings pooled connections; building the app connects to nothing."""
    from asigest import create_app
    from asigest.extensions import db

    monkeypatch.setenv("ASIGEST_DATABASE_URL", MSSQL_APP)
    monkeypatch.setenv("ASIGEST_ERP_URL", MSSQL_ERP)
    monkeypatch.setenv("ASIGEST_ERP_TIMEOUT", "4")
    application = create_app({"INSTANCE_PATH": tmp_path / "instance", "SECRET_KEY": "x"})
    with application.app_context():
        erp, asigest = db.engines["erp"], db.engines[None]
        assert erp.url.query["ApplicationIntent"] == "ReadOnly"
        assert erp.url.password == "s@greto"
        assert application.config["ERP_URL"] == MSSQL_ERP  # the setting itself is left as written
        assert application.config["SQLALCHEMY_BINDS"]["erp"]["connect_args"] == {"timeout": 4}
        assert erp.pool._pre_ping and asigest.pool._pre_ping
        assert "ApplicationIntent" not in str(asigest.url)
        assert application.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] == {"timeout": 10}
        for engine in (erp, asigest):
            engine.dispose()


def test_erp_url_is_applied_where_the_erp_engine_is_built():
    """config.py builds the ERP bind through ``dialects.erp_url`` (one place)."""
    source = (PROJECT_ROOT / "asigest" / "config.py").read_text(encoding="utf-8")
    assert 'dialects.erp_url(app.config["ERP_URL"])' in source
    assert Path(dialects.__file__).name == "dialects.py"


# -- row locks: SQL Server has no FOR UPDATE ---------------------------------------------------


def _mssql(statement) -> str:
    from tests.conftest import _MSSQL_DIALECT

    return " ".join(str(statement.compile(dialect=_MSSQL_DIALECT)).split())


def test_for_update_becomes_an_update_lock_on_the_named_table():
    from asigest.models import Fase

    sql = _mssql(select(Fase.id).where(Fase.commessa_erp_id == 7).with_for_update(of=Fase))
    assert "FROM [Fasi] WITH (UPDLOCK, ROWLOCK) WHERE" in sql


def test_for_update_without_of_locks_every_table_of_the_from():
    from asigest.models import Fase, Lotto

    sql = _mssql(select(Lotto.id).join(Fase, Lotto.fase_id == Fase.id).with_for_update(nowait=True))
    assert "FROM [Lotti] WITH (UPDLOCK, ROWLOCK, NOWAIT) JOIN [Fasi] WITH (UPDLOCK, ROWLOCK, NOWAIT)" in sql


def test_for_share_holds_a_shared_lock_and_skip_locked_reads_past():
    from asigest.models import Utente

    assert "FROM [Utenti] WITH (HOLDLOCK, ROWLOCK)" in _mssql(select(Utente.id).with_for_update(read=True))
    assert "WITH (UPDLOCK, ROWLOCK, READPAST)" in _mssql(select(Utente.id).with_for_update(skip_locked=True))


def test_other_databases_keep_their_own_for_update():
    from sqlalchemy.dialects import postgresql

    from asigest.models import Fase

    sql = str(select(Fase.id).with_for_update(of=Fase).compile(dialect=postgresql.dialect()))
    assert sql.endswith('FOR UPDATE OF "Fasi"') and "UPDLOCK" not in sql
    assert "UPDLOCK" not in _mssql(select(Fase.id))  # no lock asked, no hint


def test_the_erp_engine_bounds_every_query_on_sql_server():
    """A login timeout does not bound a query that waits on a lock in the ERP: pyodbc's
    query timeout does, set on each new connection (issue 12, item 7)."""
    erp = create_engine(dialects.erp_url(MSSQL_ERP), **dialects.erp_engine_options(MSSQL_ERP, 4))
    prima = len(erp.pool.dispatch.connect)
    dialects.configure_erp_engine(erp, timeout=3.5)
    assert len(erp.pool.dispatch.connect) == prima + 1

    class ConnessioneOdbc:
        timeout = 0  # pyodbc's default: wait forever

    connessione = ConnessioneOdbc()
    list(erp.pool.dispatch.connect)[-1](connessione, None)  # the one just added (the dialect has its own)
    assert connessione.timeout == 4  # whole seconds, rounded up


def test_the_erp_engine_bounds_every_query_on_postgresql():
    opzioni = dialects.erp_engine_options("postgresql+psycopg://ro@pg/asitron", 2.5)
    assert opzioni["connect_args"] == {"connect_timeout": 3, "options": "-c statement_timeout=2500"}
