"""The operator's language is a user setting (``Utenti.Lingua``, SPEC §9): the admin sets
it on the user's form or through ``/api/utenti``, and the kiosk speaks it from the badge
login on — not the language an office page set in the same browser; the badge form,
before login and after *Esci*, is in the plant's default."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from asigest.models import LogEvento, Utente
from tests.conftest import csrf_from
from tests.web.test_kiosk import badge, impianto, token
from tests.web.test_pages_admin import admin, field_error, post

HX = {"HX-Request": "true"}


def _lingua_ufficio(client, code: str, macchina: str = "SMD-1") -> None:
    """The office's *English*/*Italiano* button, pressed in this browser."""
    client.post(f"/lingua/{code}", data={"csrf_token": csrf_from(client.get(f"/kiosk/{macchina}").text)})


def test_english_operator_sees_the_kiosk_in_english_from_login_on(client, impianto, make_user):
    inglese = make_user(ruolo="OPERATORE", password=None, pin="4321", nome="John", cognome="Smith", lingua="en")
    before = client.get("/kiosk/SMD-1").text
    assert '<html lang="it"' in before and "Scansionare il badge" in before
    assert badge(client, user=inglese, pin="4321").status_code == 302
    page = client.get("/kiosk/SMD-1").text
    assert '<html lang="en"' in page
    assert "Order or lot label" in page and "Log out" in page and "Commessa o etichetta lotto" not in page
    fragment = client.get("/kiosk/SMD-1/commessa", query_string={"q": "nessuna"}, headers=HX).text
    assert "Search" in fragment and "Cerca" not in fragment
    # Esci: back to the badge form, in the plant's default.
    client.post("/kiosk/SMD-1/esci", data={"csrf_token": token(client)})
    after = client.get("/kiosk/SMD-1").text
    assert '<html lang="it"' in after and "Scansionare il badge" in after


def test_the_office_language_of_the_browser_does_not_leak_into_the_kiosk(client, impianto):
    _lingua_ufficio(client, "en")
    assert '<html lang="it"' in client.get("/kiosk/SMD-1").text  # the badge form: default
    assert badge(client, user=impianto).status_code == 302  # an Italian operator
    page = client.get("/kiosk/SMD-1").text
    assert '<html lang="it"' in page and "Commessa o etichetta lotto" in page and "Esci" in page


def test_a_change_by_the_admin_applies_to_the_next_kiosk_request(client, impianto, db_session):
    assert badge(client, user=impianto).status_code == 302
    assert '<html lang="it"' in client.get("/kiosk/SMD-1").text
    from asigest.services import auth

    auth.update_user(db_session, actor=None, utente_id=impianto.id, lingua="en")
    assert '<html lang="en"' in client.get("/kiosk/SMD-1").text


def test_admin_sets_the_language_on_the_user_form(client, admin, db_session):
    token_admin = csrf_from(client.get("/admin/utenti").text)
    nuovo = client.get("/admin/utenti/nuovo").text
    assert 'name="lingua"' in nuovo and '<option selected value="it">Italiano</option>' in nuovo
    response = post(
        client,
        "/admin/utenti/nuovo",
        {"matricola": "B0900", "nome": "Anna", "cognome": "Bell", "ruolo": "OPERATORE", "pin": "9090", "lingua": "en"},
        token_admin,
    )
    assert response.status_code == 200, response.text
    utente = db_session.scalar(select(Utente).where(Utente.matricola == "B0900"))
    assert utente.lingua == "en"
    scheda = client.get(f"/admin/utenti/{utente.id}").text
    assert '<option selected value="en">English</option>' in scheda
    dati = {"matricola": "B0900", "nome": "Anna", "cognome": "Bell", "ruolo": "OPERATORE", "lingua": "it"}
    assert post(client, f"/admin/utenti/{utente.id}", dati, token_admin).status_code == 200
    db_session.rollback()
    assert db_session.get(Utente, utente.id).lingua == "it"
    riga = db_session.scalars(
        select(LogEvento).where(LogEvento.azione == "UTENTE_MODIFICATO", LogEvento.entita_id == utente.id)
    ).one()
    assert (riga.dettagli["prima"], riga.dettagli["dopo"]) == ({"Lingua": "en"}, {"Lingua": "it"})


def test_a_language_outside_the_list_is_refused_on_the_field(client, admin, db_session):
    token_admin = csrf_from(client.get("/admin/utenti").text)
    dati = {
        "matricola": "B0901",
        "nome": "Anna",
        "cognome": "Bell",
        "ruolo": "OPERATORE",
        "pin": "9090",
        "lingua": "de",
    }
    response = post(client, "/admin/utenti/nuovo", dati, token_admin)
    assert response.status_code == 200  # htmx swaps the form back with the message on the field
    assert "Lingua non valida" in field_error(response.text, "lingua")
    assert db_session.scalar(select(Utente).where(Utente.matricola == "B0901")) is None


@pytest.fixture
def admin_headers(api_token):
    return api_token("ADMIN")


def test_api_reads_and_writes_the_language(client, admin_headers, db_session):
    creato = client.post(
        "/api/utenti/",
        headers=admin_headers,
        json={"Matricola": "B0950", "Nome": "Tom", "Cognome": "Lee", "Ruolo": "OPERATORE", "Pin": "5050"},
    )
    assert creato.status_code == 201 and creato.json["Lingua"] == "it"  # the default
    utente_id = creato.json["UtenteID"]
    cambiato = client.put(f"/api/utenti/{utente_id}", headers=admin_headers, json={"Lingua": "en"})
    assert cambiato.status_code == 200 and cambiato.json["Lingua"] == "en"
    assert client.get(f"/api/utenti/{utente_id}", headers=admin_headers).json["Lingua"] == "en"
    rifiutato = client.put(f"/api/utenti/{utente_id}", headers=admin_headers, json={"Lingua": "de"})
    assert rifiutato.status_code == 422 and "Lingua" in rifiutato.json["errors"]
    db_session.rollback()
    assert db_session.get(Utente, utente_id).lingua == "en"


def test_openapi_states_the_language_values(client):
    schemi = client.get("/api/openapi.json").json["components"]["schemas"]
    lingue = [s["properties"]["Lingua"] for s in schemi.values() if "Lingua" in s.get("properties", {})]
    assert len(lingue) >= 3 and all(p.get("enum") == ["it", "en"] for p in lingue)
