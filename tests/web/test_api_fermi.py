"""``/api/fermi``, ``/api/causali-fermo`` and ``/api/dashboard/oee`` through the Flask
client on real databases (SPEC §7, §13, R11, R15)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from asigest.models import FaseTipo, Macchina


@pytest.fixture
def macchina(db_session):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    m = Macchina(codice="SMD-API", descrizione="Linea SMD", fase_tipo_id=tipo.id, reparto="SMD", attiva=True)
    db_session.add(m)
    db_session.commit()
    return m.id


def test_start_replay_refuse_and_end_a_stop(client, api_token, macchina):
    operatore = api_token("OPERATORE")
    corpo = {"MacchinaID": macchina, "CausaleFermo": "MANCA-MAT", "Note": "Bobine 0402 finite"}
    chiave = {**operatore, "Idempotency-Key": "fermo-1"}
    primo = client.post("/api/fermi/", json=corpo, headers=chiave)
    assert primo.status_code == 201, primo.json
    fermo = primo.json
    assert fermo["Fine"] is None and fermo["CausaleFermo"] == "MANCA-MAT" and fermo["Categoria"] == "MATERIALE"
    assert fermo["Inizio"].endswith("+00:00")
    ripetuto = client.post("/api/fermi/", json=corpo, headers=chiave)
    assert ripetuto.status_code == 201 and ripetuto.json["FermoID"] == fermo["FermoID"]
    riusata = client.post("/api/fermi/", json={**corpo, "Note": "altro"}, headers=chiave)
    assert riusata.status_code == 422 and riusata.json["code"] == "IDEMPOTENCY_KEY_RIUSATA"
    secondo = client.post("/api/fermi/", json={**corpo, "CausaleFermo": "GUASTO"}, headers=operatore)
    assert secondo.status_code == 400 and secondo.json["code"] == "FERMO_IN_CORSO"

    aperti = client.get(f"/api/fermi/?MacchinaID={macchina}&aperti=true", headers=operatore)
    assert [f["FermoID"] for f in aperti.json] == [fermo["FermoID"]]
    fine = client.put(f"/api/fermi/{fermo['FermoID']}/fine", headers=operatore)
    assert fine.status_code == 200 and fine.json["Fine"] is not None
    di_nuovo = client.put(f"/api/fermi/{fermo['FermoID']}/fine", headers=operatore)
    assert di_nuovo.status_code == 400 and di_nuovo.json["code"] == "FERMO_GIA_TERMINATO"
    assert client.get(f"/api/fermi/?MacchinaID={macchina}&aperti=true", headers=operatore).json == []
    assert client.get(f"/api/fermi/{fermo['FermoID']}", headers=operatore).json["Fine"] == fine.json["Fine"]


def test_refusals(client, api_token, macchina, make_user):
    operatore = api_token("OPERATORE")
    altro = make_user(ruolo="OPERATORE")
    nome_altro = client.post(
        "/api/fermi/",
        json={"MacchinaID": macchina, "CausaleFermo": "GUASTO", "OperatoreID": altro.id},
        headers=operatore,
    )
    assert nome_altro.status_code == 403
    sconosciuta = client.post("/api/fermi/", json={"MacchinaID": macchina, "CausaleFermo": "BOH"}, headers=operatore)
    assert sconosciuta.status_code == 400 and sconosciuta.json["code"] == "CAUSALE_FERMO_NON_VALIDA"
    assert (
        client.post("/api/fermi/", json={"MacchinaID": 999999, "CausaleFermo": "GUASTO"}, headers=operatore).status_code
        == 404
    )
    malformato = client.post("/api/fermi/", json={"MacchinaID": "1"}, headers=operatore)
    assert malformato.status_code == 422 and {"MacchinaID", "CausaleFermo"} <= set(malformato.json["errors"])
    assert client.put("/api/fermi/2147483647/fine", headers=operatore).status_code == 404
    assert client.get("/api/fermi/?da=2026-13-01", headers=operatore).status_code == 422
    assert client.get("/api/fermi/").status_code == 401


def test_stop_reasons_only_admins_change(client, api_token):
    admin, operatore = api_token("ADMIN"), api_token("OPERATORE")
    elenco = client.get("/api/causali-fermo/", headers=operatore)
    assert elenco.status_code == 200 and "RIUNIONE" in {c["Codice"] for c in elenco.json}
    corpo = {"Codice": "forno", "Descrizione": "Forno non in temperatura", "Categoria": "ATTESA", "FaseTipo": "SMD"}
    assert client.post("/api/causali-fermo/", json=corpo, headers=operatore).status_code == 403
    creata = client.post("/api/causali-fermo/", json=corpo, headers=admin)
    assert creata.status_code == 201 and creata.json["Codice"] == "FORNO" and creata.json["Pianificato"] is False
    modificata = client.put(
        f"/api/causali-fermo/{creata.json['CausaleFermoID']}",
        json={"Pianificato": True, "FaseTipo": None},
        headers=admin,
    )
    assert (
        modificata.status_code == 200 and modificata.json["Pianificato"] is True and modificata.json["FaseTipo"] is None
    )
    assert client.post("/api/causali-fermo/", json=corpo, headers=admin).status_code == 409
    cattiva = client.post("/api/causali-fermo/", json={**corpo, "Codice": "X2", "Categoria": "ROTTA"}, headers=admin)
    assert cattiva.status_code == 422 and "Categoria" in cattiva.json["errors"]


def test_the_oee_object(client, api_token, macchina):
    headers = api_token("OPERATORE")
    risposta = client.get("/api/dashboard/oee?da=2026-10-19&a=2026-10-25", headers=headers)
    assert risposta.status_code == 200
    oee = risposta.json
    assert oee["periodo"] == {"da": "2026-10-19", "a": "2026-10-25"}
    riga = next(r for r in oee["macchine"] if r["MacchinaID"] == macchina)
    for chiave in (
        "Codice",
        "tempo_pianificato_min",
        "tempo_fermo_min",
        "tempo_lavoro_min",
        "pezzi_buoni",
        "pezzi_scartati",
        "disponibilita",
        "efficienza",
        "qualita",
        "oee",
        "mancante",
        "fermi_per_causale",
        "mtbf_min",
        "mttr_min",
    ):
        assert chiave in riga
    assert riga["oee"] is None and riga["mancante"] == ["calendario", "pezzi_prodotti"]
    assert (
        client.get(f"/api/dashboard/oee?MacchinaID={macchina}&FaseTipo=SMD&Reparto=SMD", headers=headers).status_code
        == 200
    )
    assert client.get("/api/dashboard/oee?da=2026-10-19", headers=headers).status_code == 422
    assert client.get("/api/dashboard/oee?da=2026-10-25&a=2026-10-19", headers=headers).status_code == 422
