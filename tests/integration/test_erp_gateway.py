"""The read-only ERP gateway against a real SQLite ERP (tests/erp_fixture.py).

Rows the tests name: 1–40 open (2026/1001…1040); 101 open 2026/1234 with LIKE
wildcards in its text; 102 open 2025/1234; 103 closed ('C'); 104 open with every column
but ID and NUMEROCOM (78) NULL; 105 open with accented text; 106 STATOCOMMESSA NULL;
107 suspended ('S').
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.dialects import mssql
from sqlalchemy.sql import ClauseElement

from asigest.dialects import ReadOnlyViolation, erp_engine_options, install_readonly_guard, sqlite_readonly_url
from asigest.erp import ErpGateway
from asigest.erp.tables import commesse_table
from asigest.errors import ErpUnavailable
from tests.conftest import MSSQL_MAX_PARAMS, csrf_from
from tests.erp_fixture import standard_rows

OPEN_IDS = {r["ID"] for r in standard_rows() if r["STATOCOMMESSA"] == "O"}
ALL_IDS = {r["ID"] for r in standard_rows()}


def ids(commesse) -> list[int]:
    return [c.id for c in commesse]


def newest_first(rows: list[dict]) -> list[int]:
    """The expected order: ESERCIZIO desc (NULL last, as on SQLite and SQL Server),
    NUMEROCOM desc, ID desc."""
    ordered = sorted(
        rows,
        key=lambda r: (r["ESERCIZIO"] is None, -(r["ESERCIZIO"] or 0), -(r["NUMEROCOM"] or 0), -r["ID"]),
    )
    return [r["ID"] for r in ordered]


# -- open orders, order and pages -----------------------------------------------------


def test_fixture_has_the_cases_the_tests_rely_on():
    assert {101, 102, 104, 105} <= OPEN_IDS
    assert not {103, 106, 107} & OPEN_IDS


def test_list_open_returns_only_open_orders(erp):
    found = ids(erp.list_open(limit=1000))
    assert set(found) == OPEN_IDS
    assert not {103, 106, 107} & set(found)


def test_all_open_reads_every_open_order_and_filters_by_due_date(erp):
    """One read of every open order; ``due_by`` keeps those due by that day (overdue
    included) and leaves out those without a due date."""
    assert set(ids(erp.all_open())) == OPEN_IDS
    righe = {r["ID"]: r for r in standard_rows() if r["STATOCOMMESSA"] == "O"}
    giorno = min(r["DATACONSEGNA"] for r in righe.values() if r["DATACONSEGNA"] is not None)
    attese = {i for i, r in righe.items() if r["DATACONSEGNA"] is not None and r["DATACONSEGNA"] <= giorno}
    assert attese and set(ids(erp.all_open(due_by=giorno))) == attese
    assert erp.all_open(due_by=giorno - timedelta(days=1)) == []
    assert 104 not in ids(erp.all_open(due_by=date(2999, 12, 31)))  # no DATACONSEGNA


def test_list_open_is_newest_first(erp):
    expected = newest_first([r for r in standard_rows() if r["STATOCOMMESSA"] == "O"])
    assert ids(erp.list_open(limit=1000)) == expected
    assert expected[0] == 101 and expected[-1] == 104


def test_list_open_puts_the_order_without_esercizio_last(erp):
    assert ids(erp.list_open(limit=1000))[-2:] == [102, 104]


def test_list_open_respects_limit_and_offset(erp):
    everything = ids(erp.list_open(limit=1000))
    assert ids(erp.list_open(limit=5)) == everything[:5]
    assert ids(erp.list_open(limit=5, offset=5)) == everything[5:10]
    assert erp.list_open(limit=5, offset=len(everything)) == []


@pytest.mark.parametrize("page_size", [1, 7, 10, 43])
def test_pages_have_no_overlap_and_no_gap(erp, page_size):
    seen: list[int] = []
    offset = 0
    while page := erp.list_open(limit=page_size, offset=offset):
        assert len(page) <= page_size
        seen += ids(page)
        offset += page_size
    assert seen == ids(erp.list_open(limit=1000))
    assert len(seen) == len(set(seen)) == len(OPEN_IDS)


def test_list_open_with_blank_q_is_the_full_list(erp):
    assert ids(erp.list_open("   ", limit=1000)) == ids(erp.list_open(limit=1000))
    assert ids(erp.list_open("", limit=1000)) == ids(erp.list_open(limit=1000))


def test_list_open_filters_by_q(erp):
    assert ids(erp.list_open("alimentatore")) == [101]


def test_rows_with_nulls_are_read(erp):
    commessa = erp.get(104)
    assert commessa.esercizio is None and commessa.desart is None and commessa.dataconsegna is None
    assert commessa.numero == "?/78"
    assert commessa.aperta


# -- search ------------------------------------------------------------------------


def test_search_by_numerocom_digits(erp):
    assert ids(erp.search("1001")) == [1]


def test_search_by_digits_finds_the_number_in_every_year_newest_first(erp):
    assert ids(erp.search("1234")) == [101, 102]


def test_search_by_number_finds_the_order_without_esercizio(erp):
    assert ids(erp.search("78")) == [104]


@pytest.mark.parametrize("typed", ["2026/1234", "2026-1234", " 2026 / 1234 "])
def test_search_by_esercizio_and_number_finds_exactly_that_order(erp, typed):
    assert ids(erp.search(typed)) == [101]


def test_search_by_last_years_number_finds_last_years_order(erp):
    assert ids(erp.search("2025/1234")) == [102]


def test_search_by_number_of_a_closed_order_finds_nothing(erp):
    assert erp.search("2026/77") == []


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("po 50", [101]),  # RIFCOMMCLI
        ("ORD-00040", [40]),  # RIFCOMMCLI
        ("sch-[x]", [101]),  # CODART
        ("art-003", [38, 31, 24, 17, 10, 3]),  # CODART of ids ≡ 3 (mod 7), newest first
        ("ALIMENTATORE 24v", [101]),  # DESART
        ("ELETTRONICA adriatica", [101]),  # NOMECLIENTE
        ("meccatronica", [102]),
    ],
)
def test_search_text_columns_case_insensitive(erp, typed, expected):
    assert ids(erp.search(typed)) == expected


@pytest.mark.parametrize("typed", ["già", "città", "Più Già", "ünïcode", "Sàlute", "CITTÀ", "PIÙ GIÀ", "ÜNÏCODE"])
def test_search_unicode_text(erp, typed):
    assert ids(erp.search(typed)) == [105]


def test_search_never_returns_closed_or_suspended_orders(erp):
    assert erp.search("Commessa chiusa") == []
    assert erp.search("Sospesa in ERP") == []
    assert erp.search("Stato nullo") == []
    assert erp.search("Chiusi & Figli") == []


@pytest.mark.parametrize("typed", ["%", "_", "50%_", "%_sconto"])
def test_search_takes_like_wildcards_literally(erp, typed):
    assert ids(erp.search(typed)) == [101]


def test_search_brackets_are_literal_not_a_character_class(erp):
    assert ids(erp.search("[X]")) == [101]
    assert erp.search("[A-Z]") == []


def test_search_backslash_is_literal(erp):
    assert erp.search("\\") == []


@pytest.mark.parametrize("typed", ["", "   ", None])
def test_search_with_blank_q_returns_nothing(erp, typed):
    assert erp.search(typed) == []


def test_search_with_huge_number_does_not_fail(erp):
    assert erp.search("99999999999999999999") == []


def test_search_paginates(erp):
    assert ids(erp.search("art-003", limit=2, offset=2)) == [24, 17]


# -- single orders -------------------------------------------------------------------


def test_get_finds_a_closed_order(erp):
    commessa = erp.get(103)
    assert commessa.id == 103 and commessa.statocommessa == "C"
    assert not commessa.aperta


def test_get_finds_an_order_with_null_state(erp):
    commessa = erp.get(106)
    assert commessa.statocommessa is None and not commessa.aperta


def test_get_reads_every_field(erp):
    commessa = erp.get(101)
    assert commessa.as_erp_dict() == {
        "ID": 101,
        "ESERCIZIO": 2026,
        "NUMEROCOM": 1234,
        "RIFCOMMCLI": "PO 50%_sconto",
        "CODART": "SCH-[X]",
        "DESART": "Scheda alimentatore 24V",
        "QTA": 500,
        "DATACONSEGNA": "2026-12-01",
        "STATOCOMMESSA": "O",
        "IDCLIENTE": 12,
        "NOMECLIENTE": "Elettronica Adriatica S.p.A.",
    }


def test_get_unknown_id_is_none(erp):
    assert erp.get(99_999) is None


@pytest.mark.parametrize("commessa_id", [0, -1, 2**31, 10**18])
def test_get_out_of_range_id_is_none(erp, commessa_id):
    assert erp.get(commessa_id) is None


def test_get_by_numero_finds_closed_orders_too(erp):
    assert erp.get_by_numero(2026, 77).id == 103
    assert erp.get_by_numero(2025, 1234).id == 102
    assert erp.get_by_numero(2024, 1234) is None


# -- many orders, chunked -------------------------------------------------------------


@contextmanager
def mssql_param_counts(engine):
    """Record, per executed statement, how many parameters it binds on SQL Server once
    ``IN`` lists are expanded (an expanding ``IN`` counts as one until then)."""
    counts: list[int] = []

    def count(conn, clauseelement, multiparams, params, execution_options):
        if isinstance(clauseelement, ClauseElement):
            compiled = clauseelement.compile(dialect=mssql.dialect(), compile_kwargs={"render_postcompile": True})
            counts.append(len(compiled.params))

    event.listen(engine, "before_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_execute", count)


def test_param_counter_sees_an_unchunked_in_list(erp, mssql_compatible):
    table = commesse_table()
    with mssql_param_counts(erp.engine) as counts, erp.engine.connect() as conn:
        conn.execute(select(table.c.ID).where(table.c.ID.in_(range(1, 3001)))).all()
    assert counts == [3000]
    # The autouse guard saw the same statement; it is expected here, so clear it.
    assert any("3000 parametri" in failure for failure in mssql_compatible)
    mssql_compatible.clear()


def test_get_many_returns_exactly_the_known_ids(erp):
    wanted = list(range(1, 4601)) + [2**31, -5, None]
    found = erp.get_many(wanted)
    assert set(found) == ALL_IDS
    assert found[103].statocommessa == "C"
    assert all(commessa.id == key for key, commessa in found.items())


def test_get_many_stays_under_the_sql_server_parameter_limit(erp):
    with mssql_param_counts(erp.engine) as counts:
        erp.get_many(range(1, 4601))
    assert len(counts) >= 3  # 4,600 ids need several statements
    assert max(counts) <= MSSQL_MAX_PARAMS
    assert sum(counts) == 4600


def test_get_many_of_nothing_queries_nothing(erp):
    with mssql_param_counts(erp.engine) as counts:
        assert erp.get_many([]) == {}
    assert counts == []


# -- read-only -----------------------------------------------------------------------


def test_erp_engine_refuses_an_insert(app):
    from asigest.extensions import db

    with app.app_context(), db.engines["erp"].connect() as conn, pytest.raises(ReadOnlyViolation):
        conn.execute(insert(commesse_table()).values(ID=9001, STATOCOMMESSA="O"))


def test_erp_engine_refuses_a_delete(app):
    from asigest.extensions import db

    with app.app_context(), db.engines["erp"].connect() as conn:
        with pytest.raises(ReadOnlyViolation):
            conn.execute(text("DELETE FROM COMMESSE"))
        assert conn.execute(text("SELECT COUNT(*) FROM COMMESSE")).scalar() == len(ALL_IDS)


def test_erp_file_is_read_only_even_without_the_guard(erp_file):
    conn = sqlite3.connect(f"file:{erp_file.as_posix()}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM COMMESSE")
    finally:
        conn.close()


# -- ERP unreachable -------------------------------------------------------------------


def gateway_for(path, timeout=1.0) -> ErpGateway:
    """A gateway built like the app builds it, on the SQLite file at ``path``."""
    url = sqlite_readonly_url(path)
    engine = create_engine(url, **erp_engine_options(url, timeout))
    install_readonly_guard(engine)
    return ErpGateway(engine)


@pytest.fixture
def missing_erp(tmp_path):
    gateway = gateway_for(tmp_path / "non-esiste.db")
    yield gateway
    gateway.engine.dispose()


@pytest.fixture
def erp_copy(tmp_path, erp_file):
    path = tmp_path / "erp_copia.db"
    shutil.copy(erp_file, path)
    gateway = gateway_for(path)
    yield path, gateway
    gateway.engine.dispose()


@contextmanager
def exclusive_lock(path):
    """Another program holding an exclusive lock on the ERP file (rollback-journal mode)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_missing_erp_raises_erp_unavailable_quickly(missing_erp):
    started = time.monotonic()
    with pytest.raises(ErpUnavailable):
        missing_erp.list_open()
    assert time.monotonic() - started < 3


def test_missing_erp_fails_every_query_the_same_way(missing_erp):
    for query in (lambda: missing_erp.get(1), lambda: missing_erp.get_many([1, 2]), lambda: missing_erp.search("x")):
        with pytest.raises(ErpUnavailable):
            query()


def test_missing_erp_ping_is_false(missing_erp):
    assert missing_erp.ping() is False


def test_locked_erp_raises_erp_unavailable_within_the_timeout(erp_copy):
    path, gateway = erp_copy
    assert gateway.ping()  # a pooled connection already open must not help
    with exclusive_lock(path):
        started = time.monotonic()
        with pytest.raises(ErpUnavailable):
            gateway.list_open()
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 3


def test_locked_erp_ping_is_false(erp_copy):
    path, gateway = erp_copy
    with exclusive_lock(path):
        assert gateway.ping() is False


def test_erp_works_again_after_the_lock_is_released(erp_copy):
    path, gateway = erp_copy
    with exclusive_lock(path), pytest.raises(ErpUnavailable):
        gateway.get(101)
    assert gateway.ping() is True
    assert gateway.get(101).numero == "2026/1234"


# -- ERP unreachable, through the web ---------------------------------------------------


def _user_in(application, ruolo, password="password123"):
    from asigest.extensions import db
    from asigest.services import auth

    with application.app_context():
        user = auth.create_user(
            db.session, actor=None, matricola=f"X-{ruolo}", nome="Ada", cognome="Neri", ruolo=ruolo, password=password
        )
        token = auth.create_token(db.session, actor=None, matricola=user.matricola)
        matricola = user.matricola
        db.session.remove()
    return matricola, token


def test_health_reports_erp_unreachable(app_without_erp):
    response = app_without_erp.test_client().get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["databases"] == {"asigest": "ok", "erp": "unreachable"}


def test_health_answers_within_the_timeout(app_without_erp):
    started = time.monotonic()
    app_without_erp.test_client().get("/health")
    assert time.monotonic() - started < 3


def test_api_answers_503_with_a_clear_message(app_without_erp):
    _, token = _user_in(app_without_erp, "SUPERVISORE")
    response = app_without_erp.test_client().get("/api/commesse/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.get_json() == {"detail": ErpUnavailable().text(), "code": "ERP_UNAVAILABLE"}
    assert "non risponde" in response.get_json()["detail"]


def test_api_single_order_answers_503(app_without_erp):
    _, token = _user_in(app_without_erp, "OPERATORE")
    response = app_without_erp.test_client().get("/api/commesse/101", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.get_json()["code"] == "ERP_UNAVAILABLE"


def test_orders_page_shows_the_erp_message_without_a_traceback(app_without_erp):
    matricola, _ = _user_in(app_without_erp, "SUPERVISORE")
    client = app_without_erp.test_client()
    login_page = client.get("/login")
    logged_in = client.post(
        "/login", data={"matricola": matricola, "password": "password123", "csrf_token": csrf_from(login_page.text)}
    )
    assert logged_in.status_code == 302

    response = client.get("/commesse")
    assert response.status_code == 503
    assert "non risponde" in response.text
    assert "Traceback" not in response.text
    assert "OperationalError" not in response.text


# -- any SQLite ERP URL is read-only at the file level (issue 12, item 9) ----------------


@pytest.mark.parametrize(
    ("scritta", "attesa"),
    [
        ("sqlite:////srv/erp/asitron.db", "sqlite:///file:/srv/erp/asitron.db?mode=ro&uri=true"),
        ("sqlite:///erp.db", "sqlite:///file:erp.db?mode=ro&uri=true"),
        ("sqlite:///file:/srv/erp.db?mode=rwc&uri=true", "sqlite:///file:/srv/erp.db?mode=ro&uri=true"),
        ("sqlite:///file:/srv/erp.db?uri=true", "sqlite:///file:/srv/erp.db?mode=ro&uri=true"),
        ("sqlite:///file:/srv/erp.db?mode=ro&uri=true", "sqlite:///file:/srv/erp.db?mode=ro&uri=true"),
    ],
)
def test_every_sqlite_erp_url_opens_read_only(scritta, attesa):
    from sqlalchemy.engine import make_url

    from asigest.dialects import erp_url

    ottenuta = make_url(erp_url(scritta))
    assert (ottenuta.database, dict(ottenuta.query)) == (make_url(attesa).database, dict(make_url(attesa).query))


def _app_con_erp(tmp_path, database_url, erp_url):
    from asigest import create_app

    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "istanza",
            "DATABASE_URL": database_url,
            "ERP_URL": erp_url,
            "ERP_TIMEOUT": 1.0,
            "SECRET_KEY": "test-secret",
        }
    )


def test_a_plain_sqlite_erp_url_cannot_write_the_file_even_past_the_guard(app, database_url, tmp_path, erp_file):
    """Bypassing the engine's SELECT-only guard (a DBAPI cursor of its own pool), SQLite
    itself refuses: the file was opened mode=ro although the setting did not say so."""
    from asigest.extensions import db

    copia = tmp_path / "erp_copia.db"
    shutil.copy(erp_file, copia)
    altra = _app_con_erp(tmp_path, database_url, f"sqlite:///{copia}")
    with altra.app_context():
        grezza = db.engines["erp"].raw_connection()
        try:
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                grezza.cursor().execute("DELETE FROM COMMESSE")
        finally:
            grezza.close()
        for engine in db.engines.values():
            engine.dispose()


def test_a_missing_sqlite_erp_is_unreachable_not_created_empty(app, database_url, tmp_path):
    from asigest.extensions import db
    from asigest.services import auth

    mancante = tmp_path / "asitron-non-c-e.db"  # its folder exists: SQLite could create it
    altra = _app_con_erp(tmp_path, database_url, f"sqlite:///{mancante}")
    with altra.app_context():
        utente = auth.create_user(
            db.session,
            actor=None,
            matricola="ERP-M",
            nome="A",
            cognome="B",
            ruolo="SUPERVISORE",
            password="password123",
        )
        token = auth.create_token(db.session, actor=None, matricola=utente.matricola)
        db.session.remove()
    client = altra.test_client()
    risposta = client.get("/api/commesse/", headers={"Authorization": f"Bearer {token}"})
    assert risposta.status_code == 503 and risposta.get_json()["code"] == "ERP_UNAVAILABLE"
    assert client.get("/health").get_json()["databases"]["erp"] == "unreachable"
    assert not mancante.exists()
    with altra.app_context():
        for engine in db.engines.values():
            engine.dispose()
