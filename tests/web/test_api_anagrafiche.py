"""The SPEC §7 contract of ``/api/utenti``, ``/api/macchine`` and ``/api/causali``: shapes,
status codes, error bodies, the role matrix, and never a hash in any answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from asigest.domain import hashing
from asigest.models import ApiToken, CausaleFermo, CausaleScarto, Fase, FaseTipo, LogEvento, Lotto, Macchina, Utente
from tests.web.test_api_commesse import assert_error, is_aware_iso

UTENTE_FIELDS = {
    "UtenteID",
    "Matricola",
    "Nome",
    "Cognome",
    "Ruolo",
    "Attivo",
    "Lingua",
    "DataCreazione",
    "UltimoAccesso",
}
MACCHINA_FIELDS = {"MacchinaID", "Codice", "Descrizione", "FaseTipo", "Reparto", "Attiva"}
CAUSALE_FIELDS = {"CausaleID", "Codice", "Descrizione", "FaseTipo", "Attiva"}


@pytest.fixture
def admin_headers(api_token):
    return api_token("ADMIN")


def current_user_id(db_session) -> int:
    """The user behind the newest token (the caller of the test)."""
    db_session.rollback()
    return db_session.scalar(select(ApiToken.utente_id).order_by(ApiToken.id.desc()))


@pytest.fixture
def macchina(db_session):
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    record = Macchina(codice="SMD-L1", descrizione="Linea 1", fase_tipo_id=smd.id, reparto="SMD", attiva=True)
    db_session.add(record)
    db_session.commit()
    return record


@pytest.fixture
def operatore(make_user):
    return make_user(ruolo="OPERATORE", matricola="OP1", password=None, pin="1234", nome="Luca", cognome="Verdi")


def no_secrets(response) -> None:
    text = response.get_data(as_text=True)
    assert "argon2" not in text
    for key in ("PinHash", "PasswordHash", "pin_hash", "password_hash", "Pin", "Password"):
        assert f'"{key}"' not in text


# -- utenti ----------------------------------------------------------------------------------------


def test_create_user_returns_201_with_the_contract_fields_and_no_secret(client, admin_headers, db_session):
    response = client.post(
        "/api/utenti/",
        headers=admin_headers,
        json={
            "Matricola": "B0042",
            "Nome": "Giulia",
            "Cognome": "Ferri",
            "Ruolo": "OPERATORE",
            "Pin": "0425",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json
    assert set(body) == UTENTE_FIELDS
    assert (body["Matricola"], body["Nome"], body["Cognome"], body["Ruolo"], body["Attivo"]) == (
        "B0042",
        "Giulia",
        "Ferri",
        "OPERATORE",
        True,
    )
    assert is_aware_iso(body["DataCreazione"]) and body["UltimoAccesso"] is None
    no_secrets(response)
    stored = db_session.get(Utente, body["UtenteID"])
    assert hashing.verify_secret(stored.pin_hash, "0425")  # leading zero kept: a PIN is text
    assert stored.password_hash is None


def test_user_answers_never_hold_a_hash(client, admin_headers, operatore):
    for response in (
        client.get("/api/utenti/", headers=admin_headers),
        client.get(f"/api/utenti/{operatore.id}", headers=admin_headers),
        client.put(
            f"/api/utenti/{operatore.id}", headers=admin_headers, json={"Pin": "5678", "Password": "nuova-password"}
        ),
        client.post(
            "/api/utenti/",
            headers=admin_headers,
            json={
                "Matricola": "S9",
                "Nome": "Elena",
                "Cognome": "Conti",
                "Ruolo": "SUPERVISORE",
                "Password": "password-lunga",
            },
        ),
    ):
        assert response.status_code in (200, 201), response.text
        no_secrets(response)
        rows = response.json if isinstance(response.json, list) else [response.json]
        assert all(set(row) == UTENTE_FIELDS for row in rows)


def test_list_users_is_an_array_with_limit_offset_and_filters(client, admin_headers, operatore, make_user):
    make_user(ruolo="SUPERVISORE", matricola="S1", nome="Elena", cognome="Conti")
    everyone = client.get("/api/utenti/", headers=admin_headers).json
    assert [u["Cognome"] for u in everyone] == ["Conti", "Rossi", "Verdi"]
    assert [u["Matricola"] for u in client.get("/api/utenti/?limit=1&offset=1", headers=admin_headers).json] == [
        everyone[1]["Matricola"]
    ]
    assert [u["Matricola"] for u in client.get("/api/utenti/?Ruolo=OPERATORE", headers=admin_headers).json] == ["OP1"]
    assert [u["Matricola"] for u in client.get("/api/utenti/?q=verd", headers=admin_headers).json] == ["OP1"]
    assert client.get("/api/utenti/?Attivo=false", headers=admin_headers).json == []
    assert_error(client.get("/api/utenti/?limit=501", headers=admin_headers), 422, "VALIDATION_ERROR")
    assert_error(client.get("/api/utenti/?Ruolo=CAPO", headers=admin_headers), 422, "VALIDATION_ERROR")


def test_duplicate_badge_is_409(client, admin_headers, operatore):
    response = client.post(
        "/api/utenti/",
        headers=admin_headers,
        json={
            "Matricola": "OP1",
            "Nome": "Altro",
            "Cognome": "Utente",
            "Ruolo": "OPERATORE",
            "Pin": "9999",
        },
    )
    body = assert_error(response, 409, "MATRICOLA_IN_USO")
    assert "OP1" in body["detail"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE"}, "Matricola"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "CAPO"}, "Ruolo"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE", "Pin": 1234}, "Pin"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE", "Pin": "12"}, "Pin"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "ADMIN", "Password": "corta"}, "Password"),
        ({"Matricola": "X1", "Nome": " ", "Cognome": "B", "Ruolo": "OPERATORE"}, "Nome"),
        ({"Matricola": "X" * 31, "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE"}, "Matricola"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE", "PinHash": "$argon2id$…"}, "PinHash"),
        ({"Matricola": "X1", "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE", "Attivo": "forse"}, "Attivo"),
    ],
)
def test_malformed_user_is_422_on_its_field(client, admin_headers, row_count, payload, field):
    before = row_count()
    body = assert_error(client.post("/api/utenti/", headers=admin_headers, json=payload), 422, "VALIDATION_ERROR")
    assert list(body["errors"]) == [field], body
    assert row_count() == before


def test_update_user_changes_what_is_sent(client, admin_headers, operatore, db_session):
    response = client.put(
        f"/api/utenti/{operatore.id}", headers=admin_headers, json={"Cognome": "Bianchi", "Pin": "8642"}
    )
    assert response.status_code == 200, response.text
    assert (response.json["Nome"], response.json["Cognome"], response.json["Ruolo"]) == ("Luca", "Bianchi", "OPERATORE")
    stored = db_session.get(Utente, operatore.id)
    assert hashing.verify_secret(stored.pin_hash, "8642")
    azioni = [
        e.azione
        for e in db_session.scalars(
            select(LogEvento)
            .where(LogEvento.entita_id == operatore.id, LogEvento.entita == "Utenti")
            .order_by(LogEvento.id)
        )
    ]
    assert azioni[-2:] == ["UTENTE_MODIFICATO", "PIN_REIMPOSTATO"]
    # An empty body changes nothing and is fine.
    assert client.put(f"/api/utenti/{operatore.id}", headers=admin_headers, json={}).json["Cognome"] == "Bianchi"


def test_update_user_refusals(client, admin_headers, operatore, make_user, db_session):
    make_user(ruolo="OPERATORE", matricola="OP2", password=None, pin="1111")
    assert_error(
        client.put(f"/api/utenti/{operatore.id}", headers=admin_headers, json={"Matricola": "OP2"}),
        409,
        "MATRICOLA_IN_USO",
    )
    body = assert_error(
        client.put(f"/api/utenti/{operatore.id}", headers=admin_headers, json={"Pin": "abc"}), 422, "VALIDATION_ERROR"
    )
    assert list(body["errors"]) == ["Pin"]
    assert_error(client.put("/api/utenti/999999", headers=admin_headers, json={"Nome": "X"}), 404, "NOT_FOUND")
    me = current_user_id(db_session)
    assert_error(
        client.put(f"/api/utenti/{me}", headers=admin_headers, json={"Attivo": False}), 400, "AUTO_DISATTIVAZIONE"
    )
    assert_error(
        client.put(f"/api/utenti/{me}", headers=admin_headers, json={"Ruolo": "SUPERVISORE"}), 400, "AUTO_DECLASSAMENTO"
    )


def test_delete_user_deactivates_and_their_token_stops(client, admin_headers, api_token, db_session):
    other_headers = api_token("SUPERVISORE")
    other = current_user_id(db_session)
    assert client.get("/api/macchine/", headers=other_headers).status_code == 200

    response = client.delete(f"/api/utenti/{other}", headers=admin_headers)
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/utenti/{other}", headers=admin_headers).json["Attivo"] is False
    assert db_session.get(Utente, other) is not None  # never deleted
    assert_error(client.get("/api/macchine/", headers=other_headers), 401, "UNAUTHENTICATED")
    # Again: nothing to do, still 204.
    assert client.delete(f"/api/utenti/{other}", headers=admin_headers).status_code == 204
    assert_error(client.delete("/api/utenti/999999", headers=admin_headers), 404, "NOT_FOUND")


def test_admin_cannot_delete_themself(client, admin_headers, db_session):
    me = current_user_id(db_session)
    assert_error(client.delete(f"/api/utenti/{me}", headers=admin_headers), 400, "AUTO_DISATTIVAZIONE")
    assert client.get(f"/api/utenti/{me}", headers=admin_headers).json["Attivo"] is True


def test_get_unknown_user_is_404(client, admin_headers):
    assert_error(client.get("/api/utenti/999999", headers=admin_headers), 404, "NOT_FOUND")


# -- macchine ----------------------------------------------------------------------------------------


def test_machine_create_read_update_delete(client, admin_headers, db_session):
    response = client.post(
        "/api/macchine/",
        headers=admin_headers,
        json={
            "Codice": "pth-onda",
            "Descrizione": "Saldatrice a onda",
            "FaseTipo": "PTH",
            "Reparto": "PTH",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json
    assert set(created) == MACCHINA_FIELDS
    assert (created["Codice"], created["FaseTipo"], created["Reparto"], created["Attiva"]) == (
        "PTH-ONDA",
        "PTH",
        "PTH",
        True,
    )
    mid = created["MacchinaID"]
    assert client.get(f"/api/macchine/{mid}", headers=admin_headers).json == created

    updated = client.put(
        f"/api/macchine/{mid}", headers=admin_headers, json={"Reparto": None, "Descrizione": "Onda"}
    ).json
    assert (updated["Reparto"], updated["Descrizione"], updated["Codice"]) == (None, "Onda", "PTH-ONDA")

    assert client.delete(f"/api/macchine/{mid}", headers=admin_headers).status_code == 204
    assert client.get(f"/api/macchine/{mid}", headers=admin_headers).json["Attiva"] is False
    assert db_session.get(Macchina, mid) is not None


def test_machine_refusals(client, admin_headers, macchina):
    assert_error(
        client.post("/api/macchine/", headers=admin_headers, json={"Codice": "smd-l1", "FaseTipo": "SMD"}),
        409,
        "CODICE_IN_USO",
    )
    body = assert_error(
        client.post("/api/macchine/", headers=admin_headers, json={"Codice": "X1", "FaseTipo": "FORNO"}),
        422,
        "VALIDATION_ERROR",
    )
    assert list(body["errors"]) == ["FaseTipo"]
    body = assert_error(
        client.post("/api/macchine/", headers=admin_headers, json={"Codice": "X 1"}), 422, "VALIDATION_ERROR"
    )
    # The schema stops a missing field and a malformed code before the rules run.
    assert set(body["errors"]) == {"Codice", "FaseTipo"}
    body = assert_error(
        client.post("/api/macchine/", headers=admin_headers, json={"Codice": "X 1", "FaseTipo": "SMD"}),
        422,
        "VALIDATION_ERROR",
    )
    assert list(body["errors"]) == ["Codice"]
    assert_error(client.put("/api/macchine/999999", headers=admin_headers, json={"Reparto": "X"}), 404, "NOT_FOUND")
    assert_error(client.delete("/api/macchine/999999", headers=admin_headers), 404, "NOT_FOUND")
    assert_error(client.get("/api/macchine/999999", headers=admin_headers), 404, "NOT_FOUND")


def test_machine_with_an_open_lotto_cannot_be_deleted(client, admin_headers, macchina, operatore, db_session):
    fase = Fase(commessa_erp_id=101, fase_tipo_id=macchina.fase_tipo_id, stato="IN_CORSO", qta_prevista=100)
    db_session.add(fase)
    db_session.flush()
    db_session.add(
        Lotto(
            fase_id=fase.id,
            progressivo=1,
            codice_lotto="2026-1234-SMD-001",
            data_inizio=datetime.now(UTC),
            qta_input=10,
            operatore_id=operatore.id,
            macchina_id=macchina.id,
        )
    )
    db_session.commit()
    body = assert_error(
        client.delete(f"/api/macchine/{macchina.id}", headers=admin_headers), 400, "MACCHINA_CON_LOTTO_APERTO"
    )
    assert "2026-1234-SMD-001" in body["detail"]
    assert_error(
        client.put(f"/api/macchine/{macchina.id}", headers=admin_headers, json={"FaseTipo": "PTH"}),
        400,
        "MACCHINA_CON_LOTTO_APERTO",
    )


def test_machine_list_filters(client, api_token, macchina, db_session):
    headers = api_token("OPERATORE")
    assert [m["Codice"] for m in client.get("/api/macchine/", headers=headers).json] == ["SMD-L1"]
    assert client.get("/api/macchine/?FaseTipo=PTH", headers=headers).json == []
    assert [m["Codice"] for m in client.get("/api/macchine/?FaseTipo=smd&Attiva=true", headers=headers).json] == [
        "SMD-L1"
    ]
    assert client.get("/api/macchine/?Attiva=false", headers=headers).json == []
    assert_error(client.get("/api/macchine/?limit=0", headers=headers), 422, "VALIDATION_ERROR")


# -- causali -----------------------------------------------------------------------------------------


def test_scrap_reason_create_and_update(client, admin_headers, db_session):
    response = client.post("/api/causali/", headers=admin_headers, json={"Codice": "umid", "Descrizione": "Umidità"})
    assert response.status_code == 201, response.text
    created = response.json
    assert set(created) == CAUSALE_FIELDS
    assert (created["Codice"], created["FaseTipo"], created["Attiva"]) == ("UMID", None, True)  # null = any phase

    cid = created["CausaleID"]
    updated = client.put(f"/api/causali/{cid}", headers=admin_headers, json={"FaseTipo": "SMD", "Attiva": False}).json
    assert (updated["FaseTipo"], updated["Attiva"], updated["Descrizione"]) == ("SMD", False, "Umidità")
    back = client.put(f"/api/causali/{cid}", headers=admin_headers, json={"FaseTipo": None}).json
    assert back["FaseTipo"] is None and set(back) == CAUSALE_FIELDS

    assert_error(
        client.post("/api/causali/", headers=admin_headers, json={"Codice": "MANIP", "Descrizione": "X"}),
        409,
        "CODICE_IN_USO",
    )
    body = assert_error(
        client.post("/api/causali/", headers=admin_headers, json={"Codice": "Y"}), 422, "VALIDATION_ERROR"
    )
    assert list(body["errors"]) == ["Descrizione"]
    body = assert_error(
        client.put(f"/api/causali/{cid}", headers=admin_headers, json={"FaseTipo": "FORNO"}), 422, "VALIDATION_ERROR"
    )
    assert list(body["errors"]) == ["FaseTipo"]
    assert_error(client.put("/api/causali/999999", headers=admin_headers, json={"Attiva": True}), 404, "NOT_FOUND")


def test_scrap_reasons_for_a_phase(client, api_token):
    headers = api_token("OPERATORE")
    rows = client.get("/api/causali/?FaseTipo=CONTROLLI&Attiva=true", headers=headers).json
    assert {r["Codice"] for r in rows} == {"CTRL-AOI", "CTRL-ICT", "COMP-DIF", "PCB-DIF", "MANIP"}
    assert all(set(r) == CAUSALE_FIELDS for r in rows)
    assert {r["FaseTipo"] for r in rows} == {"CONTROLLI", None}
    assert len(client.get("/api/causali/", headers=headers).json) == 10


# -- role matrix -------------------------------------------------------------------------------------

EVERYONE = ("OPERATORE", "SUPERVISORE", "ADMIN")
ADMIN_ONLY = ("ADMIN",)

# (method, path template, JSON body, lowest… the roles allowed, success status)
ENDPOINTS = [
    ("GET", "/api/utenti/", None, ADMIN_ONLY, 200),
    (
        "POST",
        "/api/utenti/",
        {"Matricola": "NEW1", "Nome": "N", "Cognome": "C", "Ruolo": "OPERATORE", "Pin": "1234"},
        ADMIN_ONLY,
        201,
    ),
    ("GET", "/api/utenti/{utente}", None, ADMIN_ONLY, 200),
    ("PUT", "/api/utenti/{utente}", {"Nome": "Cambiato"}, ADMIN_ONLY, 200),
    ("DELETE", "/api/utenti/{utente}", None, ADMIN_ONLY, 204),
    ("GET", "/api/macchine/", None, EVERYONE, 200),
    ("POST", "/api/macchine/", {"Codice": "NEW-1", "FaseTipo": "SMD"}, ADMIN_ONLY, 201),
    ("GET", "/api/macchine/{macchina}", None, EVERYONE, 200),
    ("PUT", "/api/macchine/{macchina}", {"Reparto": "Nuovo"}, ADMIN_ONLY, 200),
    ("DELETE", "/api/macchine/{macchina}", None, ADMIN_ONLY, 204),
    ("GET", "/api/causali/", None, EVERYONE, 200),
    ("POST", "/api/causali/", {"Codice": "NEW-1", "Descrizione": "Nuova"}, ADMIN_ONLY, 201),
    ("PUT", "/api/causali/{causale}", {"Descrizione": "Cambiata"}, ADMIN_ONLY, 200),
    ("GET", "/api/causali-fermo/", None, EVERYONE, 200),
    ("POST", "/api/causali-fermo/", {"Codice": "NEW-1", "Descrizione": "Nuova", "Categoria": "ALTRO"}, ADMIN_ONLY, 201),
    ("PUT", "/api/causali-fermo/{causale_fermo}", {"Descrizione": "Cambiata"}, ADMIN_ONLY, 200),
]


@pytest.mark.parametrize("ruolo", EVERYONE)
@pytest.mark.parametrize(
    ("method", "path", "payload", "allowed", "success"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS]
)
def test_role_matrix(
    client, api_token, operatore, macchina, db_session, row_count, ruolo, method, path, payload, allowed, success
):
    causale = db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "MANIP"))
    causale_fermo = db_session.scalar(select(CausaleFermo.id).where(CausaleFermo.codice == "RIUNIONE"))
    url = path.format(utente=operatore.id, macchina=macchina.id, causale=causale.id, causale_fermo=causale_fermo)
    headers = api_token(ruolo)
    before = row_count()
    response = client.open(url, method=method, headers=headers, json=payload)
    if ruolo in allowed:
        assert response.status_code == success, response.text
    else:
        assert_error(response, 403, "FORBIDDEN")
        assert row_count() == before  # nothing written, not even an audit row
    assert "argon2" not in response.get_data(as_text=True)


def test_every_master_data_route_is_in_the_matrix(app):
    """A new route under these paths must join the role matrix above."""
    routes = {
        (
            method,
            rule.rule.replace("<int:utente_id>", "{utente}")
            .replace("<int:macchina_id>", "{macchina}")
            .replace("<int:causale_id>", "{causale}")
            .replace("<int:causale_fermo_id>", "{causale_fermo}"),
        )
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api/utenti", "/api/macchine", "/api/causali"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == {(m, p) for m, p, *_ in ENDPOINTS}


# -- OpenAPI -----------------------------------------------------------------------------------------


def test_openapi_documents_the_master_data_contract(client):
    doc = client.get("/api/openapi.json").json
    schemas = doc["components"]["schemas"]
    paths = doc["paths"]
    for path, methods in {
        "/api/utenti/": {"get", "post"},
        "/api/utenti/{id}": {"get", "put", "delete"},
        "/api/macchine/": {"get", "post"},
        "/api/macchine/{id}": {"get", "put", "delete"},
        "/api/causali/": {"get", "post"},
        "/api/causali/{id}": {"put"},
    }.items():
        assert set(paths[path]) == methods, path
    assert "201" in paths["/api/utenti/"]["post"]["responses"]
    assert "204" in paths["/api/utenti/{id}"]["delete"]["responses"]
    assert "409" in paths["/api/macchine/"]["post"]["responses"]
    assert set(schemas["Utente"]["properties"]) == UTENTE_FIELDS  # the answer: no Pin, no Password, no hash
    crea = schemas["UtenteCrea"]["properties"]
    assert {"Pin", "Password"} <= set(crea) and crea["Pin"].get("writeOnly") is True
    assert set(schemas["Macchina"]["properties"]) == MACCHINA_FIELDS
    assert set(schemas["Causale"]["properties"]) == CAUSALE_FIELDS
    assert schemas["UtenteCrea"]["properties"]["Matricola"]["maxLength"] == 30
