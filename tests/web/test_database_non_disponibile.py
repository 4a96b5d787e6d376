"""When the ASI_GEST database cannot write (SPEC §7, issue 12 item 5): 503
``DATABASE_NON_DISPONIBILE`` with a message for IT on the API, pages, kiosk and login,
never a 409 "try again" nor a 500; reads keep working; ``/health`` says ``degraded``.

The database is made unable to write the way a plant meets it, on a second app instance
over the same database: every new connection of its engine read-only (``PRAGMA
query_only`` on SQLite, a read-only session on PostgreSQL: a hot standby or a database
set read-only by its DBA), a SQLite file opened ``mode=ro`` (tests run as root, whom
file permissions do not stop), and a file that is not a database at all.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from asigest.errors import DatabaseNonDisponibile
from asigest.extensions import db
from asigest.models import Fase, FaseTipo, Macchina
from asigest.services import auth
from tests.conftest import csrf_from

MESSAGGIO = DatabaseNonDisponibile().text()
HX = {"HX-Request": "true"}


@pytest.fixture
def linea(client, db_session, make_config, make_user):
    """Commessa 101 configured SMD, two machines, an operator with PIN and token, a
    supervisor with password and token, and one lotto opened on SMD-L2 (to close)."""
    config = make_config(101, fasi=("SMD",), qta=500)
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add_all(
        [
            Macchina(codice="SMD-L1", descrizione="Linea 1", fase_tipo_id=tipo.id, attiva=True),
            Macchina(codice="SMD-L2", descrizione="Linea 2", fase_tipo_id=tipo.id, attiva=True),
        ]
    )
    db_session.commit()
    macchine = {m.codice: m.id for m in db_session.scalars(select(Macchina))}
    fase = db_session.scalar(select(Fase.id).where(Fase.commessa_erp_id == 101))
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    capo = make_user(ruolo="SUPERVISORE", password="password123")
    op = {"Authorization": f"Bearer {auth.create_token(db_session, actor=None, matricola=operatore.matricola)}"}
    aperto = client.post(
        "/api/lotti/smd/", json={"FaseID": fase, "QtaInput": 10, "MacchinaID": macchine["SMD-L2"]}, headers=op
    )
    assert aperto.status_code == 201, aperto.json
    return {
        "config": config.id,
        "fase": fase,
        "macchine": macchine,
        "operatore": operatore.matricola,
        "capo": capo.matricola,
        "op": op,
        "lotto": aperto.json["LottoID"],
        "sup": {"Authorization": f"Bearer {auth.create_token(db_session, actor=None, matricola=capo.matricola)}"},
    }


def _sola_lettura(application):
    """Make every connection of ``application``'s ASI_GEST engine read-only."""
    with application.app_context():
        engine = db.engines[None]

    @event.listens_for(engine, "connect")
    def _connessione_in_sola_lettura(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()
        cursor.close()

    return application


@pytest.fixture
def sola_lettura(make_app, linea):
    return _sola_lettura(make_app())


def _e_503(response):
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.json == {"detail": MESSAGGIO, "code": "DATABASE_NON_DISPONIBILE"}


def test_api_open_and_close_answer_503_not_409_and_change_nothing(sola_lettura, linea, row_count):
    browser = sola_lettura.test_client()
    prima = row_count()
    _e_503(
        browser.post(
            "/api/lotti/smd/",
            json={"FaseID": linea["fase"], "QtaInput": 5, "MacchinaID": linea["macchine"]["SMD-L1"]},
            headers=linea["op"],
        )
    )
    _e_503(browser.put(f"/api/lotti/smd/{linea['lotto']}/close", json={"QtaOutput": 10}, headers=linea["op"]))
    _e_503(browser.put(f"/api/config/{linea['config']}", json={"Note": "mai salvata"}, headers=linea["sup"]))
    assert row_count() == prima


def test_reads_keep_working(sola_lettura, linea):
    browser = sola_lettura.test_client()
    lista = browser.get("/api/lotti/smd/", headers=linea["op"])
    assert lista.status_code == 200 and [lt["LottoID"] for lt in lista.json] == [linea["lotto"]]


def test_the_login_page_answers_503_with_the_message(sola_lettura, linea):
    browser = sola_lettura.test_client()
    pagina = browser.get("/login")
    for password in ("password123", "password-sbagliata"):  # UltimoAccesso, or the failed login, cannot be written
        risposta = browser.post(
            "/login", data={"matricola": linea["capo"], "password": password, "csrf_token": csrf_from(pagina.text)}
        )
        assert risposta.status_code == 503, risposta.text[:300]
        assert "non riesce a salvare" in risposta.text and "Traceback" not in risposta.text


def test_the_kiosk_says_it_inline(sola_lettura, linea):
    browser = sola_lettura.test_client()
    pagina = browser.get("/kiosk/SMD-L1")
    dati = {"matricola": linea["operatore"], "pin": "1234", "csrf_token": csrf_from(pagina.text)}
    inline = browser.post("/kiosk/SMD-L1", data=dati, headers=HX)
    assert inline.status_code == 200 and inline.headers["HX-Retarget"] == "#messages"
    assert "non riesce a salvare" in inline.text
    intera = browser.post("/kiosk/SMD-L1", data=dati)
    assert intera.status_code == 503 and "non riesce a salvare" in intera.text


def test_health_says_degraded(sola_lettura, linea):
    risposta = sola_lettura.test_client().get("/health")
    assert risposta.status_code == 503
    assert risposta.json["status"] == "degraded" and risposta.json["databases"]["asigest"] == "error"


def test_a_sqlite_file_opened_read_only(make_app, linea, database_url):
    if not database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's mode=ro")
    percorso = database_url[len("sqlite:///") :]
    browser = make_app(DATABASE_URL=f"sqlite:///file:{percorso}?mode=ro&uri=true").test_client()
    _e_503(
        browser.post(
            "/api/lotti/smd/",
            json={"FaseID": linea["fase"], "QtaInput": 5, "MacchinaID": linea["macchine"]["SMD-L1"]},
            headers=linea["op"],
        )
    )
    salute = browser.get("/health")
    assert salute.status_code == 503 and salute.json["databases"]["asigest"] == "error"


def test_a_database_that_cannot_even_be_read_is_503_not_500(make_app, tmp_path, app):
    """A read outside any transaction (the token check of every API request) on a file
    that is not a database: the one error mapping answers 503, not a 500."""
    rotto = tmp_path / "rotto.db"
    rotto.write_bytes(b"non e' un database" * 500)
    browser = make_app(DATABASE_URL=f"sqlite:///{rotto}").test_client()
    _e_503(browser.get("/api/lotti/smd/", headers={"Authorization": "Bearer qualsiasi"}))
    pagina = browser.get("/login")
    risposta = browser.post("/login", data={"matricola": "X", "password": "y", "csrf_token": csrf_from(pagina.text)})
    assert risposta.status_code == 503 and "non riesce a salvare" in risposta.text
    salute = browser.get("/health")
    assert salute.status_code == 503 and salute.json["status"] == "degraded"
