"""The SPEC §7 contract of ``/api/config/`` and ``/api/fasi/``: field names, defaults,
status codes (201/204/400/403/404/409/422/503), error bodies and the role matrix."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from asigest.models import ConfigCommessa, Fase, FaseTipo, LogEvento
from tests.lotti_fixture import lotto_factory
from tests.web.test_api_commesse import CONFIG_FIELDS, CONFIG_OPTIONAL, FASE_FIELDS, assert_error, is_aware_iso

FASE_OUT = FASE_FIELDS | {"QtaDisponibile"}


@pytest.fixture
def headers(api_token):
    return api_token("SUPERVISORE")


@pytest.fixture
def crea(client, headers):
    """``crea(**body)`` → the POST response (CommessaERPId 101 unless given)."""

    def post(**body):
        return client.post("/api/config/", json={"CommessaERPId": 101, **body}, headers=headers)

    return post


@pytest.fixture
def make_lotto(db_session, make_user):
    return lotto_factory(db_session, make_user("OPERATORE").id)


def fase(session, codice, commessa_id=101) -> Fase:
    session.rollback()
    return session.scalar(
        select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa_id, FaseTipo.codice == codice)
    )


def config_count(session) -> int:
    session.rollback()
    return len(session.scalars(select(ConfigCommessa.id)).all())


# -- POST /api/config/ -------------------------------------------------------------------


def test_create_answers_201_with_the_config_and_its_defaults(client, crea, headers):
    response = crea(DIBA="DB-ALIM-24", Revisione="C", Note="Prima serie")
    assert response.status_code == 201, response.text
    body = response.json
    assert CONFIG_FIELDS <= set(body) <= CONFIG_FIELDS | CONFIG_OPTIONAL
    assert body["CommessaERPId"] == 101 and isinstance(body["ConfigID"], int)
    assert (body["FlagSMD"], body["FlagPTH"], body["FlagControlli"]) == (True, False, True)
    assert (body["DIBA"], body["Revisione"], body["Note"]) == ("DB-ALIM-24", "C", "Prima serie")
    assert body["BloccataDocumentazione"] is False
    assert is_aware_iso(body["DataCreazione"]) and body["DataModifica"] is None
    assert body["QtaERP"] == 500

    fasi = client.get("/api/fasi/commessa/101", headers=headers).json
    assert [(f["FaseTipo"], f["QtaPrevista"], f["QtaDisponibile"], f["Stato"]) for f in fasi] == [
        ("SMD", 500, 500, "APERTA"),
        ("CONTROLLI", 500, 0, "APERTA"),
    ]


def test_create_records_who_and_from_where(client, crea, db_session):
    crea()
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "CONFIG_CREATA"))
    assert evento.utente_id is not None and evento.postazione == "127.0.0.1"


def test_second_config_for_an_order_is_409(crea, db_session):
    first = crea().json
    body = assert_error(crea(FlagPTH=True), 409, "CONFIG_ESISTENTE")
    assert str(first["ConfigID"]) in body["detail"]
    assert config_count(db_session) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"FlagSMD": False, "FlagControlli": False}, "NESSUNA_FASE"),
        ({"CommessaERPId": 999_999}, "COMMESSA_INESISTENTE"),
        ({"CommessaERPId": 103}, "COMMESSA_NON_APERTA"),
        ({"CommessaERPId": 107}, "COMMESSA_NON_APERTA"),
        ({"CommessaERPId": 106}, "COMMESSA_NON_APERTA"),
        ({"CommessaERPId": 104}, "QTA_ERP_ASSENTE"),
    ],
)
def test_rule_refusals_are_400_and_change_nothing(crea, row_count, body, code):
    before = row_count()
    detail = assert_error(crea(**body), 400, code)["detail"]
    assert detail.endswith(".") and len(detail) > 20  # a sentence that says what to do
    assert row_count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"CommessaERPId": None}, "CommessaERPId"),
        ({"CommessaERPId": "101"}, "CommessaERPId"),
        ({"CommessaERPId": 1.5}, "CommessaERPId"),
        ({"CommessaERPId": True}, "CommessaERPId"),
        ({"CommessaERPId": 0}, "CommessaERPId"),
        ({"CommessaERPId": 2**31}, "CommessaERPId"),
        ({"FlagSMD": "yes"}, "FlagSMD"),
        ({"FlagPTH": 1}, "FlagPTH"),
        ({"FlagControlli": None}, "FlagControlli"),
        ({"DIBA": 123}, "DIBA"),
        ({"DIBA": "D" * 51}, "DIBA"),
        ({"Revisione": "R" * 21}, "Revisione"),
        ({"Note": "n" * 2001}, "Note"),
        ({"BloccataDocumentazione": True}, "BloccataDocumentazione"),  # not a POST field
        ({"Colore": "rosso"}, "Colore"),
    ],
)
def test_malformed_create_is_422_with_the_field(crea, row_count, body, field):
    before = row_count()
    errors = assert_error(crea(**body), 422, "VALIDATION_ERROR")["errors"]
    assert list(errors) == [field]
    assert row_count() == before


def test_missing_order_id_and_non_json_bodies_are_422(client, headers):
    assert (
        "CommessaERPId"
        in assert_error(client.post("/api/config/", json={}, headers=headers), 422, "VALIDATION_ERROR")["errors"]
    )
    assert_error(client.post("/api/config/", json=[101], headers=headers), 422, "VALIDATION_ERROR")
    assert_error(client.post("/api/config/", data="CommessaERPId=101", headers=headers), 422, "VALIDATION_ERROR")


def test_error_messages_are_italian(crea):
    errors = assert_error(crea(FlagSMD="yes", Colore=1), 422, "VALIDATION_ERROR")["errors"]
    assert errors == {"FlagSMD": ["Deve essere true o false."], "Colore": ["Campo sconosciuto."]}


# -- GET /api/config/ ----------------------------------------------------------------------


def test_list_is_an_array_newest_first_with_paging_and_filter(client, crea, headers):
    ids = [crea(CommessaERPId=n).json["ConfigID"] for n in (1, 2, 3)]
    listed = client.get("/api/config/", headers=headers).json
    assert [c["ConfigID"] for c in listed] == ids[::-1]
    assert all(CONFIG_FIELDS <= set(c) <= CONFIG_FIELDS | CONFIG_OPTIONAL for c in listed)
    assert [c["ConfigID"] for c in client.get("/api/config/?limit=1&offset=1", headers=headers).json] == [ids[1]]
    assert [c["CommessaERPId"] for c in client.get("/api/config/?CommessaERPId=2", headers=headers).json] == [2]
    assert client.get("/api/config/?offset=50", headers=headers).json == []


@pytest.mark.parametrize("query", ["limit=501", "limit=0", "offset=-1", "limit=abc"])
def test_list_paging_limits_are_422(client, headers, query):
    assert_error(client.get(f"/api/config/?{query}", headers=headers), 422, "VALIDATION_ERROR")


# -- GET, PUT, DELETE /api/config/{ConfigID} -----------------------------------------------


def test_get_one(client, crea, headers):
    created = crea().json
    response = client.get(f"/api/config/{created['ConfigID']}", headers=headers)
    assert response.status_code == 200 and response.json == created


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("config_id", ["424242", "0", "99999999999"])
def test_unknown_config_is_404(client, headers, method, config_id):
    response = client.open(f"/api/config/{config_id}", method=method, json={"Note": "x"}, headers=headers)
    assert_error(response, 404, "NOT_FOUND")


def test_update_changes_only_what_is_sent(client, crea, headers):
    created = crea(DIBA="DB-1", Revisione="A", Note="n").json
    response = client.put(
        f"/api/config/{created['ConfigID']}",
        json={"Revisione": "B", "BloccataDocumentazione": True, "Note": None},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json
    assert (body["DIBA"], body["Revisione"], body["Note"], body["BloccataDocumentazione"]) == ("DB-1", "B", None, True)
    assert is_aware_iso(body["DataModifica"])
    assert datetime.fromisoformat(body["DataModifica"]) >= datetime.fromisoformat(body["DataCreazione"])
    assert client.get(f"/api/config/{created['ConfigID']}", headers=headers).json == body


def test_update_turns_phases_on_and_off(client, crea, headers):
    config_id = crea().json["ConfigID"]
    body = client.put(f"/api/config/{config_id}", json={"FlagPTH": True, "FlagControlli": False}, headers=headers).json
    assert (body["FlagSMD"], body["FlagPTH"], body["FlagControlli"]) == (True, True, False)
    assert [f["FaseTipo"] for f in client.get("/api/fasi/commessa/101", headers=headers).json] == ["SMD", "PTH"]


def test_update_refusals(client, crea, headers, db_session, make_lotto, row_count):
    config_id = crea(FlagPTH=True).json["ConfigID"]
    make_lotto(fase(db_session, "PTH"), 20, output=20)
    before = row_count()
    detail = assert_error(
        client.put(f"/api/config/{config_id}", json={"FlagPTH": False}, headers=headers), 400, "FASE_CON_LOTTI"
    )["detail"]
    assert "PTH" in detail
    assert_error(
        client.put(
            f"/api/config/{config_id}",
            json={"FlagSMD": False, "FlagPTH": False, "FlagControlli": False},
            headers=headers,
        ),
        400,
        "NESSUNA_FASE",
    )
    for bad in ({"CommessaERPId": 102}, {"FlagSMD": "no"}, {"DIBA": ["x"]}):
        errors = assert_error(
            client.put(f"/api/config/{config_id}", json=bad, headers=headers), 422, "VALIDATION_ERROR"
        )["errors"]
        assert list(errors) == list(bad)
    assert row_count() == before


def test_empty_update_is_a_no_op(client, crea, headers):
    created = crea().json
    response = client.put(f"/api/config/{created['ConfigID']}", json={}, headers=headers)
    assert response.status_code == 200 and response.json == created


def test_delete_is_204_and_removes_the_fasi(client, crea, headers):
    config_id = crea().json["ConfigID"]
    response = client.delete(f"/api/config/{config_id}", headers=headers)
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"/api/config/{config_id}", headers=headers), 404, "NOT_FOUND")
    assert client.get("/api/fasi/commessa/101", headers=headers).json == []
    assert crea().status_code == 201  # configurable again


def test_delete_with_lotti_is_400(client, crea, headers, db_session, make_lotto):
    config_id = crea().json["ConfigID"]
    make_lotto(fase(db_session, "SMD"), 10)
    assert (
        "SMD"
        in assert_error(client.delete(f"/api/config/{config_id}", headers=headers), 400, "CONFIG_CON_LOTTI")["detail"]
    )
    assert client.get(f"/api/config/{config_id}", headers=headers).status_code == 200


# -- /api/fasi -------------------------------------------------------------------------------


def test_fasi_with_available_quantity(client, crea, headers, db_session, make_lotto):
    crea(FlagPTH=True)
    make_lotto(fase(db_session, "SMD"), 100, output=95, scarti=5)
    make_lotto(fase(db_session, "SMD"), 50)
    make_lotto(fase(db_session, "PTH"), 40)
    response = client.get("/api/fasi/commessa/101", headers=headers)
    assert response.status_code == 200
    fasi = response.json
    for f in fasi:
        assert set(f) == FASE_OUT
        assert f["CommessaERPId"] == 101 and f["DataApertura"] is None and f["DataChiusura"] is None
    # SMD: 500 − 95 − 50 open = 355; PTH: 95 good − 40 open = 55; CONTROLLI: nothing from PTH yet.
    assert [(f["FaseTipo"], f["QtaDisponibile"]) for f in fasi] == [("SMD", 355), ("PTH", 55), ("CONTROLLI", 0)]


def test_fasi_of_an_unconfigured_order_is_an_empty_list(client, headers):
    response = client.get("/api/fasi/commessa/1", headers=headers)
    assert response.status_code == 200 and response.json == []


@pytest.mark.parametrize("commessa_id", ["999999", "0", "99999999999"])
def test_fasi_of_an_unknown_order_is_404(client, headers, commessa_id):
    assert_error(client.get(f"/api/fasi/commessa/{commessa_id}", headers=headers), 404, "NOT_FOUND")


def test_add_fase_by_hand(client, crea, headers):
    config_id = crea().json["ConfigID"]
    response = client.post("/api/fasi/", json={"CommessaERPId": 101, "FaseTipo": "PTH"}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json
    assert set(body) == FASE_OUT
    assert (body["FaseTipo"], body["Stato"], body["QtaPrevista"], body["QtaDisponibile"]) == ("PTH", "APERTA", 500, 0)
    assert client.get(f"/api/config/{config_id}", headers=headers).json["FlagPTH"] is True
    assert [f["FaseTipo"] for f in client.get("/api/fasi/commessa/101", headers=headers).json] == [
        "SMD",
        "PTH",
        "CONTROLLI",
    ]


def test_add_fase_refusals(client, crea, headers, row_count):
    def post(**body):
        return client.post("/api/fasi/", json=body, headers=headers)

    before = row_count()
    assert_error(post(CommessaERPId=101, FaseTipo="SMD"), 400, "CONFIG_ASSENTE")
    assert row_count() == before
    crea()
    before = row_count()
    assert_error(post(CommessaERPId=101, FaseTipo="SMD"), 409, "FASE_ESISTENTE")
    assert list(assert_error(post(CommessaERPId=101, FaseTipo="VERNICIATURA"), 422, "VALIDATION_ERROR")["errors"]) == [
        "FaseTipo"
    ]
    assert list(assert_error(post(CommessaERPId=101), 422, "VALIDATION_ERROR")["errors"]) == ["FaseTipo"]
    assert list(assert_error(post(CommessaERPId="101", FaseTipo="PTH"), 422, "VALIDATION_ERROR")["errors"]) == [
        "CommessaERPId"
    ]
    assert list(
        assert_error(post(CommessaERPId=101, FaseTipo="PTH", Stato="APERTA"), 422, "VALIDATION_ERROR")["errors"]
    ) == ["Stato"]
    assert row_count() == before


def test_a_fase_ahead_of_a_fase_with_lotti_is_400(client, crea, headers, make_lotto, db_session, row_count):
    config_id = crea().json["ConfigID"]  # SMD, CONTROLLI
    make_lotto(fase(db_session, "CONTROLLI"), 20, output=20)
    before = row_count()
    body = assert_error(
        client.post("/api/fasi/", json={"CommessaERPId": 101, "FaseTipo": "PTH"}, headers=headers),
        400,
        "FASE_PRIMA_DI_FASE_CON_LOTTI",
    )
    assert "PTH" in body["detail"] and "CONTROLLI" in body["detail"]
    assert_error(
        client.put(f"/api/config/{config_id}", json={"FlagPTH": True}, headers=headers),
        400,
        "FASE_PRIMA_DI_FASE_CON_LOTTI",
    )
    assert row_count() == before and fase(db_session, "PTH") is None
    assert [f["QtaDisponibile"] for f in client.get("/api/fasi/commessa/101", headers=headers).json] == [500, 0]


# -- roles -------------------------------------------------------------------------------------

WRITES = [
    ("POST", "/api/config/", {"CommessaERPId": 102}),
    ("PUT", "/api/config/{id}", {"Note": "x"}),
    ("DELETE", "/api/config/{id}", None),
    ("POST", "/api/fasi/", {"CommessaERPId": 101, "FaseTipo": "PTH"}),
]
READS = ["/api/config/", "/api/config/{id}", "/api/fasi/commessa/101"]


@pytest.fixture
def configured(crea):
    return crea().json["ConfigID"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
@pytest.mark.parametrize(("ruolo", "allowed"), [("OPERATORE", False), ("SUPERVISORE", True), ("ADMIN", True)])
def test_writes_need_a_supervisor(client, api_token, configured, row_count, method, path, body, ruolo, allowed):
    headers = api_token(ruolo)
    before = row_count()
    response = client.open(path.format(id=configured), method=method, json=body, headers=headers)
    if allowed:
        assert response.status_code in (200, 201, 204), response.text
    else:
        assert_error(response, 403, "FORBIDDEN")
        assert row_count() == before


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("ruolo", ["OPERATORE", "SUPERVISORE", "ADMIN"])
def test_every_role_reads(client, api_token, configured, path, ruolo):
    assert client.get(path.format(id=configured), headers=api_token(ruolo)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/config/"),
        ("POST", "/api/config/"),
        ("GET", "/api/config/1"),
        ("PUT", "/api/config/1"),
        ("DELETE", "/api/config/1"),
        ("GET", "/api/fasi/commessa/101"),
        ("POST", "/api/fasi/"),
    ],
)
def test_no_token_is_401(client, method, path):
    assert_error(client.open(path, method=method, json={}), 401, "UNAUTHENTICATED")


# -- ERP down ----------------------------------------------------------------------------------


def test_erp_down(make_app, api_token, crea, tmp_path):
    from asigest.dialects import sqlite_readonly_url

    crea()  # 101 configured while the ERP answers
    browser = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db")).test_client()
    headers = api_token("SUPERVISORE")
    assert (
        "ASITRON"
        in assert_error(
            browser.post("/api/config/", json={"CommessaERPId": 1}, headers=headers), 503, "ERP_UNAVAILABLE"
        )["detail"]
    )
    assert_error(browser.get("/api/fasi/commessa/1", headers=headers), 503, "ERP_UNAVAILABLE")
    assert_error(
        browser.post("/api/fasi/", json={"CommessaERPId": 101, "FaseTipo": "PTH"}, headers=headers),
        503,
        "ERP_UNAVAILABLE",
    )
    # What needs only ASI_GEST keeps working.
    assert [f["FaseTipo"] for f in browser.get("/api/fasi/commessa/101", headers=headers).json] == ["SMD", "CONTROLLI"]
    config_id = browser.get("/api/config/", headers=headers).json[0]["ConfigID"]
    response = browser.put(f"/api/config/{config_id}", json={"BloccataDocumentazione": True}, headers=headers)
    assert response.status_code == 200 and response.json["BloccataDocumentazione"] is True


# -- OpenAPI -------------------------------------------------------------------------------------


def test_openapi_documents_the_config_and_fasi_routes(client, api_token, configured):
    from tests.web.test_openapi import resolve

    doc = client.get("/api/openapi.json").json
    config_path = next(p for p in doc["paths"] if p.startswith("/api/config/{"))
    assert set(doc["paths"]["/api/config/"]) == {"get", "post"}
    assert set(doc["paths"][config_path]) == {"get", "put", "delete"}
    assert "post" in doc["paths"]["/api/fasi/"]

    post = doc["paths"]["/api/config/"]["post"]
    assert {"201", "400", "403", "409", "422", "503"} <= set(post["responses"])
    request = resolve(doc, post["requestBody"]["content"]["application/json"]["schema"])
    assert set(request["properties"]) == {
        "CommessaERPId",
        "FlagSMD",
        "FlagPTH",
        "FlagControlli",
        "DIBA",
        "Revisione",
        "Note",
    }
    assert request["required"] == ["CommessaERPId"]
    assert request["properties"]["FlagPTH"]["default"] is False
    assert request["properties"]["DIBA"]["maxLength"] == 50
    put = resolve(doc, doc["paths"][config_path]["put"]["requestBody"]["content"]["application/json"]["schema"])
    assert "BloccataDocumentazione" in put["properties"] and "CommessaERPId" not in put["properties"]
    assert "204" in doc["paths"][config_path]["delete"]["responses"]

    fasi_path = next(p for p in doc["paths"] if p.startswith("/api/fasi/commessa/"))
    schema = doc["paths"][fasi_path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    returned = client.get("/api/fasi/commessa/101", headers=api_token("OPERATORE")).json[0]
    assert set(resolve(doc, schema["items"])["properties"]) == set(returned) == FASE_OUT
