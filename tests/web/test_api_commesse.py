"""The SPEC §7 contract of ``/api/commesse/``, ``/api/commesse/search`` and
``/api/commesse/{ID}``: field names, formats, limits, status codes and error bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timezone

import pytest

ERP_FIELDS = [
    "ID",
    "ESERCIZIO",
    "NUMEROCOM",
    "RIFCOMMCLI",
    "CODART",
    "DESART",
    "QTA",
    "DATACONSEGNA",
    "STATOCOMMESSA",
    "IDCLIENTE",
    "NOMECLIENTE",
]
LIST_FIELDS = set(ERP_FIELDS) | {"Configurata"}
CONFIG_FIELDS = {
    "ConfigID",
    "CommessaERPId",
    "FlagSMD",
    "FlagPTH",
    "FlagControlli",
    "DIBA",
    "Revisione",
    "Note",
    "DataCreazione",
    "DataModifica",
    "BloccataDocumentazione",
}
# Other ConfigCommessa columns (SPEC §4) the API may show; anything else is off-contract.
CONFIG_OPTIONAL = {"QtaERP", "CreatoDa"}
FASE_FIELDS = {
    "FaseID",
    "CommessaERPId",
    "FaseTipo",
    "Stato",
    "QtaPrevista",
    "QtaProdotta",
    "QtaScarti",
    "DataApertura",
    "DataChiusura",
}
FASE_OPTIONAL = {"QtaDisponibile"}
OPEN_COUNT = 44  # tests/erp_fixture.py: 1..40, 101, 102, 104, 105


@pytest.fixture
def headers(api_token):
    return api_token("SUPERVISORE")


def assert_error(response, status, code):
    """The error body of SPEC §7: exactly detail + code (+ errors on 422), no stack trace."""
    assert response.status_code == status, response.text
    assert response.is_json
    body = response.json
    expected = {"detail", "code", "errors"} if status == 422 else {"detail", "code"}
    assert set(body) == expected, body
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


def is_aware_iso(value: str) -> bool:
    parsed = datetime.fromisoformat(value)
    return "T" in value and parsed.tzinfo is not None and parsed.utcoffset() is not None


# -- list and search -----------------------------------------------------------------


def test_list_returns_open_orders_as_a_json_array(client, headers):
    response = client.get("/api/commesse/", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    rows = response.json
    assert isinstance(rows, list)
    assert len(rows) == OPEN_COUNT  # default limit 100 covers them all
    for row in rows:
        assert set(row) == LIST_FIELDS
        assert row["STATOCOMMESSA"] == "O"
    assert [r["ID"] for r in rows[:3]] == [101, 40, 39]  # newest first


def test_list_item_formats(client, headers, make_config):
    make_config(101)
    rows = {r["ID"]: r for r in client.get("/api/commesse/", headers=headers).json}
    row = rows[101]
    assert row == {
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
        "Configurata": True,
    }
    assert date.fromisoformat(row["DATACONSEGNA"])
    assert rows[1]["Configurata"] is False
    assert rows[104] == {
        **dict.fromkeys(ERP_FIELDS),
        "ID": 104,
        "NUMEROCOM": 78,
        "STATOCOMMESSA": "O",
        "Configurata": False,
    }


def test_limit_and_offset_page_the_list(client, headers):
    everything = [r["ID"] for r in client.get("/api/commesse/", headers=headers).json]
    page = client.get("/api/commesse/?limit=10&offset=5", headers=headers).json
    assert [r["ID"] for r in page] == everything[5:15]
    assert client.get("/api/commesse/?limit=500", headers=headers).status_code == 200
    assert client.get("/api/commesse/?offset=1000", headers=headers).json == []


def test_list_accepts_a_filter(client, headers):
    rows = client.get("/api/commesse/?q=2026/1234", headers=headers).json
    assert [r["ID"] for r in rows] == [101]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=501", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
    ],
)
def test_bad_paging_is_422_with_the_field(client, headers, query, field):
    for path in ("/api/commesse/", "/api/commesse/search"):
        body = assert_error(client.get(f"{path}?q=x&{query}", headers=headers), 422, "VALIDATION_ERROR")
        assert list(body["errors"]) == [field]
        assert all(isinstance(m, str) and m for m in body["errors"][field])


def test_limit_over_500_says_why_in_italian(client, headers):
    body = assert_error(client.get("/api/commesse/?limit=501", headers=headers), 422, "VALIDATION_ERROR")
    assert body["errors"]["limit"] == ["Deve essere tra 1 e 500."]


def test_search_matches_the_contract_fields(client, headers):
    def ids(q):
        response = client.get("/api/commesse/search", query_string={"q": q}, headers=headers)
        assert response.status_code == 200
        assert all(set(r) == LIST_FIELDS for r in response.json)
        return [r["ID"] for r in response.json]

    assert ids("2026/1234") == [101]
    assert ids("1234") == [101, 102]
    assert ids("ORD-00007") == [7]
    assert ids("sch-[x]") == [101]
    assert ids("alimentatore") == [101]
    assert ids("adriatica") == [101]
    assert ids("50%_") == [101]
    assert ids("Commessa chiusa") == []  # closed orders are not searched
    assert ids("Stato nullo") == []


def test_list_and_search_read_the_copy_of_the_open_orders(client, headers, db_session):
    """The routes pass ASIGEST_COMMESSE_APERTE_SECONDS (30 s by default) to the service:
    the answers come from the copy, at most that old (services/commesse_aperte.py)."""
    from datetime import timedelta

    from sqlalchemy import select

    from asigest.models import CommessaAperta, StatoCommesseAperte
    from asigest.models.types import utcnow

    prima = utcnow()
    ids = [r["ID"] for r in client.get("/api/commesse/", headers=headers).json]
    assert [r["ID"] for r in client.get("/api/commesse/search?q=1234", headers=headers).json] == [101, 102]
    stato = db_session.scalar(select(StatoCommesseAperte))
    assert stato is not None and prima - timedelta(seconds=30) < stato.aggiornata_il <= utcnow()
    assert set(db_session.scalars(select(CommessaAperta.id))) == set(ids)


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20%20%20", "?limit=5"])
def test_search_needs_q(client, headers, query):
    body = assert_error(client.get(f"/api/commesse/search{query}", headers=headers), 422, "VALIDATION_ERROR")
    assert "q" in body["errors"]


def test_search_q_over_100_characters_is_422(client, headers):
    body = assert_error(client.get("/api/commesse/search?q=" + "x" * 101, headers=headers), 422, "VALIDATION_ERROR")
    assert "q" in body["errors"]


# -- one order -----------------------------------------------------------------------


def test_detail_of_an_unconfigured_order(client, headers):
    response = client.get("/api/commesse/101", headers=headers)
    assert response.status_code == 200
    body = response.json
    assert set(body) == set(ERP_FIELDS) | {"Configurata", "Config", "Fasi"}
    assert body["ID"] == 101 and body["DATACONSEGNA"] == "2026-12-01"
    assert body["Configurata"] is False
    assert body["Config"] is None
    assert body["Fasi"] == []


def test_detail_of_a_configured_order(client, headers, make_config, fase_aperta):
    make_config(101, fasi=("SMD", "PTH", "CONTROLLI"), diba="DB-ALIM-24", revisione="C", note="Nota")
    fase_aperta(101, "PTH", prodotta=40, scarti=2, apertura=datetime(2026, 3, 2, 7, 30, tzinfo=UTC))
    body = client.get("/api/commesse/101", headers=headers).json
    assert body["Configurata"] is True

    config = body["Config"]
    assert CONFIG_FIELDS <= set(config) <= CONFIG_FIELDS | CONFIG_OPTIONAL
    assert config["CommessaERPId"] == 101
    assert (config["FlagSMD"], config["FlagPTH"], config["FlagControlli"]) == (True, True, True)
    assert (config["DIBA"], config["Revisione"], config["Note"]) == ("DB-ALIM-24", "C", "Nota")
    assert config["BloccataDocumentazione"] is False
    assert is_aware_iso(config["DataCreazione"])
    assert config["DataModifica"] is None or is_aware_iso(config["DataModifica"])

    fasi = body["Fasi"]
    assert [f["FaseTipo"] for f in fasi] == ["SMD", "PTH", "CONTROLLI"]  # flow order
    for fase in fasi:
        assert FASE_FIELDS <= set(fase) <= FASE_FIELDS | FASE_OPTIONAL
        assert fase["CommessaERPId"] == 101 and fase["QtaPrevista"] == 500
    pth = fasi[1]
    assert (pth["Stato"], pth["QtaProdotta"], pth["QtaScarti"]) == ("IN_CORSO", 40, 2)
    assert is_aware_iso(pth["DataApertura"])
    assert datetime.fromisoformat(pth["DataApertura"]) == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert pth["DataChiusura"] is None
    assert fasi[0]["Stato"] == "APERTA" and fasi[0]["DataApertura"] is None
    # SPEC §7: fasi carry QtaDisponibile (R5): the first phase its plan, the later ones
    # what the phase before has produced in lotti (none yet).
    assert [f["QtaDisponibile"] for f in fasi] == [500, 0, 0]


def test_closed_order_is_reachable_by_id(client, headers):
    response = client.get("/api/commesse/103", headers=headers)
    assert response.status_code == 200
    assert response.json["STATOCOMMESSA"] == "C" and response.json["Config"] is None


def test_detail_with_null_erp_fields(client, headers):
    body = client.get("/api/commesse/104", headers=headers).json
    assert body["ESERCIZIO"] is None and body["DATACONSEGNA"] is None and body["QTA"] is None


@pytest.mark.parametrize("commessa_id", ["999999", "0", "99999999999"])
def test_unknown_id_is_404_json(client, headers, commessa_id):
    body = assert_error(client.get(f"/api/commesse/{commessa_id}", headers=headers), 404, "NOT_FOUND")
    if commessa_id == "999999":
        assert body["detail"] == "La commessa 999999 non esiste nel gestionale."


# -- access and protocol errors ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/commesse/", "/api/commesse/search?q=x", "/api/commesse/101"])
def test_no_token_is_401(client, path):
    assert_error(client.get(path), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("path", ["/api/commesse/", "/api/commesse/search?q=x", "/api/commesse/101"])
def test_an_operator_can_read(client, api_token, path):
    assert client.get(path, headers=api_token("OPERATORE")).status_code == 200


def test_unknown_api_path_is_404_json(client, headers):
    assert_error(client.get("/api/nope", headers=headers), 404, "NOT_FOUND")
    assert_error(client.get("/api/nope"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/commesse/"), ("DELETE", "/api/commesse/101"), ("PUT", "/api/commesse/search")]
)
def test_wrong_method_is_405_json(client, headers, method, path):
    response = client.open(path, method=method, headers=headers, json={})
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_api_answers_503_when_the_erp_is_unreachable(make_app, api_token, tmp_path):
    from asigest.dialects import sqlite_readonly_url

    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    browser = broken.test_client()
    headers = api_token("SUPERVISORE")
    for path in ("/api/commesse/", "/api/commesse/search?q=x", "/api/commesse/101"):
        body = assert_error(browser.get(path, headers=headers), 503, "ERP_UNAVAILABLE")
        assert "ASITRON" in body["detail"]
