"""``GET /api/dashboard/kpi``: SPEC §6's object for any logged-in role, 422 for a period
that cannot be computed, and its place in the OpenAPI document.

Data: ``tests/registro_fixture.py`` — in ISO week 10 of 2026 (2–8 March) four lotti
closed (SMD: 95+5 scrap, 50, 20; CONTROLLI: 38+2 scrap), two are open (one forgotten).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from asigest.domain.periodo import Periodo, oggi, settimana_iso
from asigest.models import LogEvento
from asigest.services.kpi import calcola_kpi
from tests.registro_fixture import costruisci

SPEC_KEYS = [
    "periodo",
    "lotti_settimana",
    "lotti_per_fase",
    "pezzi_buoni",
    "pezzi_scartati",
    "scarti_percent",
    "scarti_per_fase",
    "scarti_per_macchina",
    "scarti_per_causale",
    "top_operatori",
    "lotti_aperti",
    "lotti_dimenticati",
    "resa_primo_passaggio",
    "produzione_giornaliera",
    "durata_media_minuti",
]
MARZO = "?da=2026-03-02&a=2026-03-08"


@pytest.fixture
def reg(db_session, make_user):
    return costruisci(db_session, make_user, adesso=datetime.now(UTC))


def test_needs_a_token(client):
    response = client.get("/api/dashboard/kpi")
    assert response.status_code == 401
    assert response.json["code"] == "UNAUTHENTICATED"


def test_an_operator_reads_the_kpis_of_a_period(client, api_token, reg):
    response = client.get("/api/dashboard/kpi" + MARZO, headers=api_token("OPERATORE"))
    assert response.status_code == 200, response.json
    body = response.json
    assert list(body) == SPEC_KEYS
    assert body["periodo"] == {"da": "2026-03-02", "a": "2026-03-08"}
    assert (body["lotti_settimana"], body["lotti_per_fase"]) == (4, {"SMD": 3, "PTH": 0, "CONTROLLI": 1})
    assert (body["pezzi_buoni"], body["pezzi_scartati"], body["scarti_percent"]) == (203, 7, 3.33)
    assert body["scarti_per_fase"] == [
        {"FaseTipo": "SMD", "pezzi_scartati": 5},
        {"FaseTipo": "CONTROLLI", "pezzi_scartati": 2},
    ]
    assert [m["Codice"] for m in body["scarti_per_macchina"]] == ["SMD-A", "CTRL-A"]
    assert [c["Codice"] for c in body["scarti_per_causale"]] == ["SMD-PICK", "CTRL-AOI"]
    assert body["top_operatori"] == [
        {"OperatoreID": reg.operatori["op1"].id, "Nome": "Anna Bianchi", "pezzi_buoni": 95 + 38},
        {"OperatoreID": reg.operatori["op2"].id, "Nome": "Luca Verdi", "pezzi_buoni": 50 + 20},
    ]
    assert (body["lotti_aperti"], body["lotti_dimenticati"]) == (2, 1)
    assert body["resa_primo_passaggio"] == {"SMD": 97.06, "PTH": None, "CONTROLLI": 95.0}  # 165 of 170
    assert body["durata_media_minuti"] == {"SMD": 70.0, "PTH": None, "CONTROLLI": 60.0}
    giorni = body["produzione_giornaliera"]
    assert len(giorni) == 30 and giorni[-1] == {"data": "2026-03-08", "pezzi_buoni": 0}
    assert {g["data"]: g["pezzi_buoni"] for g in giorni if g["pezzi_buoni"]} == {
        "2026-03-02": 95,
        "2026-03-03": 50,
        "2026-03-04": 38,
        "2026-03-05": 20,
    }


def test_the_answer_is_the_services_object_unchanged(client, api_token, db_session, reg, app):
    response = client.get("/api/dashboard/kpi" + MARZO, headers=api_token("SUPERVISORE"))
    atteso = calcola_kpi(
        db_session,
        Periodo(date(2026, 3, 2), date(2026, 3, 8)),
        adesso=datetime.now(UTC),
        zona=app.config["TIMEZONE"],
        ore_dimenticato=float(app.config["FORGOTTEN_HOURS"]),
    )
    assert response.json == atteso.as_api()


@pytest.mark.parametrize("query", ["", "?da=&a=", "?altro=1"])
def test_without_dates_the_current_iso_week(client, api_token, reg, app, query):
    response = client.get("/api/dashboard/kpi" + query, headers=api_token("OPERATORE"))
    assert response.status_code == 200, response.json
    settimana = settimana_iso(oggi(app.config["TIMEZONE"]))
    assert response.json["periodo"] == {"da": settimana.da.isoformat(), "a": settimana.a.isoformat()}


@pytest.mark.parametrize(
    ("query", "campo", "parola"),
    [
        ("?da=2026-03-02", "a", "data di fine"),
        ("?a=2026-03-08", "da", "data di inizio"),
        ("?da=2026-03-08&a=2026-03-02", "a", "invertirle"),
        ("?da=2025-01-01&a=2026-01-02", "a", "366 giorni"),
        ("?da=2026-02-30&a=2026-03-08", "da", "AAAA-MM-GG"),
        ("?da=ieri&a=2026-03-08", "da", "AAAA-MM-GG"),
        ("?da=9999-12-25&a=9999-12-31", "da", "2999"),
        ("?da=0001-01-01&a=0001-01-07", "da", "1900"),
    ],
)
def test_a_period_that_cannot_be_computed_is_422_naming_the_field(
    client, api_token, db_session, reg, row_count, query, campo, parola
):
    headers = api_token("SUPERVISORE")
    prima, log_prima = row_count(), db_session.scalar(select(func.count()).select_from(LogEvento))
    response = client.get("/api/dashboard/kpi" + query, headers=headers)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "VALIDATION_ERROR"
    assert campo in response.json["errors"]
    assert parola in response.json["errors"][campo][0]
    assert row_count() == prima
    assert db_session.scalar(select(func.count()).select_from(LogEvento)) == log_prima


def test_openapi_documents_the_query_and_the_answer(client):
    doc = client.get("/api/openapi.json").json
    operazione = doc["paths"]["/api/dashboard/kpi"]["get"]
    parametri = {p["name"]: p for p in operazione["parameters"] if p["in"] == "query"}
    for nome in ("da", "a"):  # a date (1900–2999), or "" as a period picker left empty sends it
        giorno, vuoto = parametri[nome]["schema"]["anyOf"]
        assert giorno["format"] == "date" and giorno["pattern"] == "^(19[0-9]{2}|2[0-9]{3})-"
        assert vuoto == {"type": "string", "maxLength": 0}
    assert "422" in operazione["responses"]
    schema = operazione["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert list(schema["properties"]) == SPEC_KEYS
