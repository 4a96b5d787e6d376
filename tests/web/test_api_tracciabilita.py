"""``GET /api/tracciabilita/{CodiceLotto}`` (SPEC §12): one node with its documents and
corrections, and its sources (indietro) or the lotti it fed (avanti), recursively."""

from __future__ import annotations

from datetime import timedelta

import pytest

from asigest.models import DocumentoTecnico
from asigest.models.types import utcnow
from asigest.services import auth, rettifiche
from tests.web.test_api_lotti import LOTTO_FIELDS, _smd_chiusi, apri_controlli, linea


def traccia(client, linea, codice, **query):
    return client.get(f"/api/tracciabilita/{codice}", query_string=query, headers=linea["headers"])


@pytest.fixture
def filiera(client, linea, db_session):
    """SMD-001 (100 good) and SMD-002 (50 good) closed; CONTROLLI-001 opened for 60,
    naming SMD-002 for 40 (then 20 FIFO from SMD-001)."""
    _smd_chiusi(client, linea)
    ctrl = apri_controlli(client, linea, Origini=[{"CodiceLotto": "2026-1234-SMD-002", "Qta": 40}])
    assert ctrl.status_code == 201, ctrl.json
    return ctrl.json


def test_backward_trace_gives_the_sources_with_what_was_drawn(client, linea, filiera):
    response = traccia(client, linea, "2026-1234-CONTROLLI-001")
    assert response.status_code == 200, response.json
    nodo = response.json
    assert list(nodo)[: len(LOTTO_FIELDS)] == LOTTO_FIELDS
    assert nodo["CodiceLotto"] == "2026-1234-CONTROLLI-001" and "Destinazioni" not in nodo
    assert [(o["CodiceLotto"], o["QtaPrelevata"]) for o in nodo["Origini"]] == [
        ("2026-1234-SMD-002", 40),
        ("2026-1234-SMD-001", 20),
    ]
    smd = nodo["Origini"][0]
    assert (smd["FaseTipo"], smd["Stato"], smd["QtaOutput"], smd["QtaScarti"]) == ("SMD", "CHIUSO", 50, 50)
    assert smd["CausaleScarto"] == "SMD-PICK" and smd["Origini"] == []  # the first fase drew from the order
    assert smd["Rettifiche"] == [] and smd["Documenti"] == []


def test_forward_trace_gives_every_lotto_that_drew(client, linea, filiera):
    nodo = traccia(client, linea, "2026-1234-smd-001", direzione="avanti").json
    assert nodo["CodiceLotto"] == "2026-1234-SMD-001" and "Origini" not in nodo
    assert [(d["CodiceLotto"], d["QtaPrelevata"], d["Destinazioni"]) for d in nodo["Destinazioni"]] == [
        ("2026-1234-CONTROLLI-001", 20, [])
    ]


def test_documents_are_those_current_when_the_lotto_opened(client, linea, filiera, db_session):
    adesso = utcnow()

    def documento(titolo, quando, **dove):
        db_session.add(
            DocumentoTecnico(
                tipo="DIBA",
                titolo=titolo,
                nome_file="d.pdf",
                content_type="application/pdf",
                dimensione=1,
                sha256=titolo[0] * 64,
                revisione="B",
                data_caricamento=quando,
                **dove,
            )
        )

    documento("a della commessa", adesso - timedelta(days=1), commessa_erp_id=101)
    documento("b dell'articolo", adesso - timedelta(days=2), codart="SCH-[X]")
    documento("c caricato dopo", adesso + timedelta(days=1), commessa_erp_id=101)
    documento("d di un'altra commessa", adesso - timedelta(days=1), commessa_erp_id=102)
    # Deleted since the lotti opened (the record stays): it was current then, so it shows.
    documento("e eliminato dopo", adesso - timedelta(days=3), commessa_erp_id=101, data_eliminazione=adesso)
    # Deleted before they opened: it does not.
    documento(
        "f eliminato prima",
        adesso - timedelta(days=3),
        commessa_erp_id=101,
        data_eliminazione=adesso - timedelta(days=2),
    )
    db_session.commit()
    nodo = traccia(client, linea, "2026-1234-CONTROLLI-001").json
    assert [(d["Titolo"], d["Sha256"][0], d["Revisione"]) for d in nodo["Documenti"]] == [
        ("a della commessa", "a", "B"),
        ("b dell'articolo", "b", "B"),
        ("e eliminato dopo", "e", "B"),
    ]
    assert [d["Titolo"] for d in nodo["Origini"][0]["Documenti"]] == [
        "a della commessa",
        "b dell'articolo",
        "e eliminato dopo",
    ]


def test_corrections_come_with_their_notes(client, linea, filiera, db_session, make_user):
    capo = auth.actor_for(make_user(ruolo="SUPERVISORE", matricola="CAPO9"))
    smd1 = traccia(client, linea, "2026-1234-SMD-001").json
    rettifiche.rettifica_lotto(
        db_session,
        actor=capo,
        lotto_id=smd1["LottoID"],
        qta_output=98,
        qta_scarti=2,
        causale="SMD-PICK",
        motivo="Due schede graffiate al riconteggio",
    )
    nodo = traccia(client, linea, "2026-1234-CONTROLLI-001").json
    corretto = nodo["Origini"][1]
    assert corretto["QtaOutput"] == 98
    [rettifica] = corretto["Rettifiche"]
    assert rettifica["Motivo"] == "Due schede graffiate al riconteggio"
    assert (rettifica["Prima"]["QtaOutput"], rettifica["Dopo"]["QtaOutput"]) == (100, 98)
    assert rettifica["UtenteID"] == capo.utente_id and rettifica["DataOra"].endswith("+00:00")


def test_unknown_code_is_404_and_bad_direction_422(client, linea, filiera):
    response = traccia(client, linea, "2026-1234-SMD-999")
    assert response.status_code == 404 and "2026-1234-SMD-999" in response.json["detail"]
    response = traccia(client, linea, "2026-1234-SMD-001", direzione="su")
    assert response.status_code == 422 and "direzione" in response.json["errors"]
    assert client.get("/api/tracciabilita/2026 1234", headers=linea["headers"]).status_code == 404


def test_the_trace_needs_a_token(client, linea, filiera):
    assert client.get("/api/tracciabilita/2026-1234-SMD-001").status_code == 401


def test_the_trace_is_documented(client):
    doc = client.get("/api/openapi.json").json
    operazione = doc["paths"]["/api/tracciabilita/{CodiceLotto}"]["get"]
    [parametro] = [p for p in operazione["parameters"] if p["in"] == "path"]
    assert parametro["schema"]["pattern"].startswith("^[A-Za-z0-9]")
    [direzione] = [p for p in operazione["parameters"] if p["name"] == "direzione"]
    assert set(direzione["schema"]["enum"]) == {"indietro", "avanti"}
    nodo = doc["components"]["schemas"]["NodoTraccia"]["properties"]
    assert {"CodiceLotto", "Documenti", "Rettifiche", "Origini", "Destinazioni"} <= set(nodo)
    assert nodo["Origini"]["items"]["$ref"] == "#/components/schemas/NodoTraccia"
    assert "QtaPrelevata" in nodo  # on linked nodes: the schema refuses any other property


def test_every_field_of_every_node_is_in_the_document(client, linea, filiera):
    """The fuzzer validates responses against NodoTraccia (additionalProperties: false):
    a linked node's QtaPrelevata must be declared there."""
    proprieta = set(client.get("/api/openapi.json").json["components"]["schemas"]["NodoTraccia"]["properties"])
    radice = traccia(client, linea, "2026-1234-CONTROLLI-001").json
    avanti = traccia(client, linea, "2026-1234-SMD-001", direzione="avanti").json
    nodi = [radice, *radice["Origini"], avanti, *avanti["Destinazioni"]]
    assert all(set(n) <= proprieta for n in nodi), [set(n) - proprieta for n in nodi]
    assert "QtaPrelevata" not in radice and all("QtaPrelevata" in n for n in radice["Origini"])
