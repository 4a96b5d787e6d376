"""``GET /api/avanzamento/`` (SPEC §6–7): per configured open order its ERP fields, InRitardo
and its Fasi; DATACONSEGNA ascending then ID; limits, 401/422/503 as every list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from asigest.dialects import sqlite_readonly_url
from asigest.domain.periodo import oggi as oggi_in
from asigest.models import Fase
from tests.avanzamento_fixture import PER_CONSEGNA, configura, scrivi_erp
from tests.lotti_fixture import lotto_factory
from tests.web.test_api_commesse import assert_error

CAMPI = {
    "ID",
    "ESERCIZIO",
    "NUMEROCOM",
    "CODART",
    "DESART",
    "NOMECLIENTE",
    "QTA",
    "DATACONSEGNA",
    "InRitardo",
    "ARischio",
    "Fasi",
}
CAMPI_SPEC = {"ID", "ESERCIZIO", "NUMEROCOM", "DESART", "QTA", "DATACONSEGNA", "InRitardo", "Fasi"}
CAMPI_FASE = {
    "FaseID",
    "FaseTipo",
    "Stato",
    "QtaPrevista",
    "QtaProdotta",
    "QtaScarti",
    "QtaDisponibile",
    "DataApertura",
    "DataChiusura",
}


@pytest.fixture
def giorno():
    return oggi_in("Europe/Rome")


@pytest.fixture
def api(make_app, tmp_path, giorno, db_session):
    """A client on an app whose ERP has the fixture's orders due around today, configured."""
    app = make_app(ERP_URL=sqlite_readonly_url(scrivi_erp(tmp_path / "erp.db", giorno)))
    fasi = configura(db_session)
    browser = app.test_client()
    browser.fasi = fasi
    return browser


@pytest.fixture
def headers(api_token):
    return api_token("SUPERVISORE")


def test_each_order_has_the_contract_fields_and_its_phases(api, headers, giorno):
    response = api.get("/api/avanzamento/", headers=headers)
    assert response.status_code == 200 and response.is_json
    body = response.json
    assert isinstance(body, list)
    assert all(set(c) == CAMPI for c in body) and CAMPI_SPEC <= CAMPI
    uno = next(c for c in body if c["ID"] == 1)
    chiavi = ("ESERCIZIO", "NUMEROCOM", "DESART", "QTA", "DATACONSEGNA", "InRitardo", "ARischio")
    assert {k: uno[k] for k in chiavi} == {
        "ESERCIZIO": 2026,
        "NUMEROCOM": 1001,
        "DESART": "Scheda alimentatore",
        "QTA": 100,
        "DATACONSEGNA": (giorno - timedelta(days=1)).isoformat(),
        "InRitardo": True,
        "ARischio": False,
    }
    assert [set(f) for f in uno["Fasi"]] == [CAMPI_FASE, CAMPI_FASE]
    assert [(f["FaseTipo"], f["Stato"], f["QtaPrevista"], f["QtaProdotta"], f["QtaScarti"]) for f in uno["Fasi"]] == [
        ("SMD", "COMPLETATA", 100, 100, 3),
        ("CONTROLLI", "IN_CORSO", 100, 40, 0),
    ]
    assert uno["Fasi"][0]["FaseID"] == api.fasi[(1, "SMD")]


def test_ordered_by_due_date_then_id_with_no_date_last(api, headers):
    assert [c["ID"] for c in api.get("/api/avanzamento/", headers=headers).json] == PER_CONSEGNA


def test_late_flag_and_null_erp_fields(api, headers):
    per_id = {c["ID"]: c for c in api.get("/api/avanzamento/", headers=headers).json}
    assert {i: c["InRitardo"] for i, c in per_id.items()} == {8: False, 1: True, 2: False, 3: False, 4: False, 5: False}
    assert {i for i, c in per_id.items() if c["ARischio"]} == {2, 3}
    cinque = per_id[5]
    assert (cinque["NUMEROCOM"], cinque["DESART"], cinque["CODART"], cinque["NOMECLIENTE"], cinque["DATACONSEGNA"]) == (
        None,
        None,
        None,
        None,
        None,
    )


def test_available_quantity_and_dates_are_those_of_the_phases_api(api, headers, db_session, make_user):
    lotto = lotto_factory(db_session, make_user(ruolo="OPERATORE").id)
    smd = db_session.get(Fase, api.fasi[(2, "SMD")])
    lotto(smd, 60, output=50, scarti=7)
    lotto(smd, 30)
    smd.data_apertura = lotto(smd, 10).data_inizio
    db_session.commit()
    due = next(c for c in api.get("/api/avanzamento/", headers=headers).json if c["ID"] == 2)
    attese = api.get("/api/fasi/commessa/2", headers=headers).json
    assert [f["QtaDisponibile"] for f in due["Fasi"]] == [f["QtaDisponibile"] for f in attese] == [200 - 50 - 40]
    assert due["Fasi"][0]["DataApertura"] == attese[0]["DataApertura"]
    assert due["Fasi"][0]["DataApertura"].endswith("+00:00") and due["Fasi"][0]["DataChiusura"] is None


def test_limit_and_offset(api, headers):
    assert [c["ID"] for c in api.get("/api/avanzamento/?limit=2&offset=1", headers=headers).json] == PER_CONSEGNA[1:3]
    assert api.get("/api/avanzamento/?offset=100", headers=headers).json == []
    assert len(api.get("/api/avanzamento/?limit=500", headers=headers).json) == 6


@pytest.mark.parametrize(
    "query, campo",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ],
)
def test_bad_paging_is_422_naming_the_field(api, headers, query, campo):
    body = assert_error(api.get(f"/api/avanzamento/?{query}", headers=headers), 422, "VALIDATION_ERROR")
    assert list(body["errors"]) == [campo]


def test_any_token_may_read_and_none_may_not(api, api_token):
    assert api.get("/api/avanzamento/", headers=api_token("OPERATORE")).status_code == 200
    assert_error(api.get("/api/avanzamento/"), 401, "UNAUTHENTICATED")
    assert_error(api.get("/api/avanzamento/", headers={"Authorization": "Bearer sbagliato"}), 401, "UNAUTHENTICATED")


def test_erp_down_is_503(make_app, tmp_path, headers, db_session):
    configura(db_session)
    browser = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db")).test_client()
    body = assert_error(browser.get("/api/avanzamento/", headers=headers), 503, "ERP_UNAVAILABLE")
    assert "ASITRON" in body["detail"]


def test_documented_in_openapi(client):
    doc = client.get("/api/openapi.json").json
    operazione = doc["paths"]["/api/avanzamento/"]["get"]
    limit = next(p for p in operazione["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
    assert {"200", "401", "422", "503"} <= set(operazione["responses"])
