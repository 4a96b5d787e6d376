"""The supervisor's corrections over the API: ``PUT /api/fasi/{id}/stato``,
``PUT /api/lotti/{tipo}/{id}/rettifica`` and the ``annulla`` extension — status codes,
contract fields, and nothing written on refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from asigest.models import Fase, FaseTipo, LogEvento, Lotto, Macchina
from asigest.services import auth
from tests.web.test_api_lotti import LOTTO_FIELDS

FASE_FIELDS = [
    "FaseID",
    "CommessaERPId",
    "FaseTipo",
    "Stato",
    "QtaPrevista",
    "QtaProdotta",
    "QtaScarti",
    "DataApertura",
    "DataChiusura",
    "QtaDisponibile",
]


@pytest.fixture
def linea(db_session, make_config, make_user):
    """Commessa 101 (QTA 500) SMD + CONTROLLI, a machine each, an operator and a supervisor with tokens."""
    make_config(101, fasi=("SMD", "CONTROLLI"), qta=500)
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    smd = Macchina(codice="SMD-L1", descrizione="Linea 1", fase_tipo_id=tipi["SMD"].id, attiva=True)
    smd2 = Macchina(codice="SMD-L2", descrizione="Linea 2", fase_tipo_id=tipi["SMD"].id, attiva=True)
    ctrl = Macchina(codice="AOI-1", descrizione="AOI", fase_tipo_id=tipi["CONTROLLI"].id, attiva=True)
    db_session.add_all([smd, smd2, ctrl])
    db_session.commit()
    fasi = {f.fase_tipo.codice: f.id for f in db_session.scalars(select(Fase).where(Fase.commessa_erp_id == 101))}
    headers = {}
    for ruolo in ("OPERATORE", "SUPERVISORE"):
        user = make_user(ruolo=ruolo, password=None if ruolo == "OPERATORE" else "password123", pin="1234")
        headers[ruolo] = {
            "Authorization": f"Bearer {auth.create_token(db_session, actor=None, matricola=user.matricola)}"
        }
    return {
        "fasi": fasi,
        "smd": smd.id,
        "smd2": smd2.id,
        "ctrl": ctrl.id,
        "op": headers["OPERATORE"],
        "capo": headers["SUPERVISORE"],
    }


def apri(client, linea, fase="SMD", macchina="smd", qta=100, headers=None):
    response = client.post(
        f"/api/lotti/{fase.lower()}/",
        json={"FaseID": linea["fasi"][fase], "QtaInput": qta, "MacchinaID": linea[macchina]},
        headers=headers or linea["op"],
    )
    assert response.status_code == 201, response.json
    return response.json


def chiuso(client, linea, output=95, scarti=3, causale="SMD-PICK", **kw):
    lotto = apri(client, linea, **kw)
    tipo = lotto["FaseTipo"].lower()
    response = client.put(
        f"/api/lotti/{tipo}/{lotto['LottoID']}/close",
        json={"QtaOutput": output, "QtaScarti": scarti, "CausaleScarto": causale},
        headers=linea["op"],
    )
    assert response.status_code == 200, response.json
    return response.json


def rettifica(client, linea, lotto_id, body, tipo="smd", headers=None):
    return client.put(f"/api/lotti/{tipo}/{lotto_id}/rettifica", json=body, headers=headers or linea["capo"])


def stato(client, linea, body, fase="SMD", headers=None):
    return client.put(f"/api/fasi/{linea['fasi'][fase]}/stato", json=body, headers=headers or linea["capo"])


@pytest.fixture
def invariato(db_session):
    """``invariato()`` → a snapshot of lotti, fasi and the audit log, to compare after a refusal."""

    def snapshot():
        db_session.rollback()
        return (
            [
                (x.id, x.qta_output, x.qta_scarti, x.causale_id, x.data_fine)
                for x in db_session.scalars(select(Lotto).order_by(Lotto.id))
            ],
            [
                (f.id, f.stato, f.qta_prodotta, f.qta_scarti, f.data_chiusura)
                for f in db_session.scalars(select(Fase).order_by(Fase.id))
            ],
            db_session.scalar(select(func.count()).select_from(LogEvento)),
        )

    return snapshot


# -- PUT /api/fasi/{id}/stato ------------------------------------------------------------------


def test_state_change_answers_the_fase_with_its_availability(client, linea, db_session):
    response = stato(client, linea, {"Stato": "SOSPESA", "Motivo": "Manca la pasta saldante"})
    assert response.status_code == 200, response.json
    assert list(response.json) == FASE_FIELDS
    assert (response.json["Stato"], response.json["FaseTipo"], response.json["QtaDisponibile"]) == (
        "SOSPESA",
        "SMD",
        500,
    )
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "FASE_STATO_MODIFICATO"))
    assert evento.dettagli["motivo"] == "Manca la pasta saldante"
    ripresa = stato(client, linea, {"Stato": "IN_CORSO", "Motivo": "Arrivata"})
    assert ripresa.status_code == 200 and ripresa.json["Stato"] == "APERTA"  # no lotti yet
    completa = stato(client, linea, {"Stato": "COMPLETATA", "Motivo": "Ordine annullato dal cliente"})
    assert completa.json["Stato"] == "COMPLETATA" and completa.json["DataChiusura"].endswith("+00:00")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"Stato": "CHIUSA", "Motivo": "x"}, "Stato"),
        ({"Motivo": "x"}, "Stato"),
        ({"Stato": "SOSPESA"}, "Motivo"),
        ({"Stato": "SOSPESA", "Motivo": "   "}, "Motivo"),
        ({"Stato": "SOSPESA", "Motivo": None}, "Motivo"),
        ({"Stato": "SOSPESA", "Motivo": "x" * 501}, "Motivo"),
        ({"Stato": "SOSPESA", "Motivo": "x", "Extra": 1}, "Extra"),
    ],
)
def test_unknown_state_or_missing_reason_is_422(client, linea, invariato, body, field):
    prima = invariato()
    response = stato(client, linea, body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"] and response.json["code"] == "VALIDATION_ERROR"
    assert invariato() == prima


def test_state_refusals_are_400_with_a_code(client, linea, invariato):
    apri(client, linea)
    prima = invariato()
    response = stato(client, linea, {"Stato": "COMPLETATA", "Motivo": "Basta così"})
    assert response.status_code == 400 and response.json["code"] == "FASE_LOTTI_APERTI"
    assert "1" in response.json["detail"]
    response = stato(client, linea, {"Stato": "IN_CORSO", "Motivo": "x"})
    assert response.status_code == 400 and response.json["code"] == "STATO_INVARIATO"
    assert invariato() == prima


def test_state_change_needs_a_supervisor_and_a_known_fase(client, linea, invariato):
    prima = invariato()
    assert stato(client, linea, {"Stato": "SOSPESA", "Motivo": "x"}, headers=linea["op"]).status_code == 403
    assert (
        client.put(f"/api/fasi/{linea['fasi']['SMD']}/stato", json={"Stato": "SOSPESA", "Motivo": "x"}).status_code
        == 401
    )
    assert (
        client.put(
            "/api/fasi/999999/stato", json={"Stato": "SOSPESA", "Motivo": "x"}, headers=linea["capo"]
        ).status_code
        == 404
    )
    assert (
        client.put(
            "/api/fasi/99999999999/stato", json={"Stato": "SOSPESA", "Motivo": "x"}, headers=linea["capo"]
        ).status_code
        == 404
    )
    assert invariato() == prima


# -- PUT /api/lotti/{tipo}/{id}/rettifica --------------------------------------------------------


def test_correction_answers_the_corrected_lotto_and_recomputes_the_fase(client, linea, db_session):
    lotto = chiuso(client, linea, output=95, scarti=3)
    response = rettifica(
        client,
        linea,
        lotto["LottoID"],
        {"QtaOutput": 90, "QtaScarti": 8, "CausaleScarto": "SMD-REFLOW", "Motivo": "Ricontati"},
    )
    assert response.status_code == 200, response.json
    assert list(response.json) == LOTTO_FIELDS
    assert (response.json["QtaOutput"], response.json["QtaScarti"], response.json["CausaleScarto"]) == (
        90,
        8,
        "SMD-REFLOW",
    )
    assert response.json["Stato"] == "CHIUSO" and response.json["DataFine"] == lotto["DataFine"]
    fasi = client.get("/api/fasi/commessa/101", headers=linea["capo"]).json
    smd = next(f for f in fasi if f["FaseTipo"] == "SMD")
    assert (smd["QtaProdotta"], smd["QtaScarti"]) == (90, 8)
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "LOTTO_RETTIFICATO"))
    assert (evento.dettagli["prima"]["QtaOutput"], evento.dettagli["dopo"]["QtaOutput"], evento.dettagli["motivo"]) == (
        95,
        90,
        "Ricontati",
    )
    assert evento.postazione  # the client address, as for every office change


def test_no_scrap_clears_the_reason(client, linea):
    lotto = chiuso(client, linea, output=95, scarti=3)
    response = rettifica(
        client,
        linea,
        lotto["LottoID"],
        {"QtaOutput": 98, "QtaScarti": 0, "CausaleScarto": None, "Motivo": "Falso scarto"},
    )
    assert response.status_code == 200 and response.json["CausaleScarto"] is None
    response = rettifica(client, linea, lotto["LottoID"], {"QtaOutput": 97, "QtaScarti": 0, "Motivo": "Ancora"})
    assert response.status_code == 200


def test_correction_refusals_are_400_and_write_nothing(client, linea, invariato):
    lotto = chiuso(client, linea, output=60, scarti=0, causale=None, qta=60)
    controlli = chiuso(client, linea, output=55, scarti=0, causale=None, fase="CONTROLLI", macchina="ctrl", qta=55)
    aperto = apri(client, linea, macchina="smd2", qta=100)
    prima = invariato()
    casi = [
        (lotto["LottoID"], "smd", {"QtaOutput": 61, "QtaScarti": 0, "Motivo": "x"}, "CHIUSURA_NON_VALIDA", "QtaOutput"),
        (
            lotto["LottoID"],
            "smd",
            {"QtaOutput": 50, "QtaScarti": 5, "Motivo": "x"},
            "CHIUSURA_NON_VALIDA",
            "CausaleScarto",
        ),
        (
            lotto["LottoID"],
            "smd",
            {"QtaOutput": 59, "QtaScarti": 0, "CausaleScarto": "SMD-PICK", "Motivo": "x"},
            "CHIUSURA_NON_VALIDA",
            "CausaleScarto",
        ),
        (lotto["LottoID"], "smd", {"QtaOutput": 60, "QtaScarti": 0, "Motivo": "x"}, "RETTIFICA_INVARIATA", None),
        (
            lotto["LottoID"],
            "smd",
            {"QtaOutput": 50, "QtaScarti": 0, "Motivo": "x"},
            "RETTIFICA_SUPERA_DISPONIBILE",
            None,
        ),
        (
            lotto["LottoID"],
            "smd",
            {"QtaOutput": 55, "QtaScarti": 5, "CausaleScarto": "CTRL-AOI", "Motivo": "x"},
            "CAUSALE_NON_VALIDA",
            None,
        ),
        (lotto["LottoID"], "controlli", {"QtaOutput": 59, "QtaScarti": 0, "Motivo": "x"}, "TIPO_FASE_DIVERSO", None),
        (aperto["LottoID"], "smd", {"QtaOutput": 10, "QtaScarti": 0, "Motivo": "x"}, "LOTTO_APERTO", None),
    ]
    for lotto_id, tipo, body, code, field in casi:
        response = rettifica(client, linea, lotto_id, body, tipo=tipo)
        assert response.status_code == 400, (code, response.json)
        assert response.json["code"] == code
        if field:
            assert field in response.json["errors"]
    assert (
        "CONTROLLI"
        in rettifica(client, linea, lotto["LottoID"], {"QtaOutput": 50, "QtaScarti": 0, "Motivo": "x"}).json["detail"]
    )
    assert controlli["Stato"] == "CHIUSO"
    assert invariato() == prima


@pytest.mark.parametrize(
    "body, field",
    [
        ({"QtaOutput": 1, "QtaScarti": 0}, "Motivo"),
        ({"QtaOutput": 1, "QtaScarti": 0, "Motivo": ""}, "Motivo"),
        ({"QtaScarti": 0, "Motivo": "x"}, "QtaOutput"),
        ({"QtaOutput": 1, "Motivo": "x"}, "QtaScarti"),
        ({"QtaOutput": "1", "QtaScarti": 0, "Motivo": "x"}, "QtaOutput"),
        ({"QtaOutput": -1, "QtaScarti": 0, "Motivo": "x"}, "QtaOutput"),
        ({"QtaOutput": 1, "QtaScarti": 0, "Motivo": "x", "NoteScarti": "n"}, "NoteScarti"),
    ],
)
def test_malformed_correction_is_422(client, linea, invariato, body, field):
    lotto = chiuso(client, linea)
    prima = invariato()
    response = rettifica(client, linea, lotto["LottoID"], body)
    assert response.status_code == 422 and field in response.json["errors"]
    assert invariato() == prima


def test_correction_is_for_supervisors_and_known_lotti(client, linea, invariato):
    lotto = chiuso(client, linea)
    prima = invariato()
    body = {"QtaOutput": 90, "QtaScarti": 0, "Motivo": "x"}
    assert rettifica(client, linea, lotto["LottoID"], body, headers=linea["op"]).status_code == 403
    assert client.put(f"/api/lotti/smd/{lotto['LottoID']}/rettifica", json=body).status_code == 401
    assert rettifica(client, linea, 999999, body).status_code == 404
    assert rettifica(client, linea, 99999999999, body).status_code == 404
    assert rettifica(client, linea, lotto["LottoID"], body, tipo="nessuno").status_code == 404
    assert invariato() == prima


# -- POST /api/lotti/{tipo}/{id}/annulla -------------------------------------------------------


def test_cancel_answers_what_the_log_keeps_and_the_lotto_is_gone(client, linea, db_session):
    lotto = apri(client, linea, qta=40)
    response = client.post(
        f"/api/lotti/smd/{lotto['LottoID']}/annulla", json={"Motivo": "Commessa sbagliata"}, headers=linea["capo"]
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["LottoID"], body["CodiceLotto"], body["Stato"], body["QtaInput"]) == (
        lotto["LottoID"],
        lotto["CodiceLotto"],
        "ANNULLATO",
        40,
    )
    assert (body["CommessaERPId"], body["FaseTipo"], body["DataInizio"]) == (101, "SMD", lotto["DataInizio"])
    assert client.get(f"/api/lotti/smd/{lotto['LottoID']}", headers=linea["capo"]).status_code == 404
    fasi = client.get("/api/fasi/commessa/101", headers=linea["capo"]).json
    smd = next(f for f in fasi if f["FaseTipo"] == "SMD")
    assert (smd["Stato"], smd["DataApertura"], smd["QtaDisponibile"]) == ("APERTA", None, 500)


def test_replayed_open_key_of_a_cancelled_lotto_is_400(client, linea):
    headers = {**linea["op"], "Idempotency-Key": "mes-7"}
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 10, "MacchinaID": linea["smd"]}
    primo = client.post("/api/lotti/smd/", json=payload, headers=headers)
    client.post(f"/api/lotti/smd/{primo.json['LottoID']}/annulla", json={"Motivo": "errore"}, headers=linea["capo"])
    replica = client.post("/api/lotti/smd/", json=payload, headers=headers)
    assert replica.status_code == 400 and replica.json["code"] == "LOTTO_ANNULLATO"
    assert "annullato" in replica.json["detail"]


def test_cancel_refusals(client, linea, invariato):
    chiuso_ = chiuso(client, linea)
    aperto = apri(client, linea, macchina="smd2", qta=100)
    prima = invariato()
    response = client.post(f"/api/lotti/smd/{chiuso_['LottoID']}/annulla", json={"Motivo": "x"}, headers=linea["capo"])
    assert response.status_code == 400 and response.json["code"] == "LOTTO_CHIUSO"
    url = f"/api/lotti/smd/{aperto['LottoID']}/annulla"
    assert client.post(url, json={}, headers=linea["capo"]).status_code == 422
    assert client.post(url, json={"Motivo": " "}, headers=linea["capo"]).status_code == 422
    assert client.post(url, json={"Motivo": "x"}, headers=linea["op"]).status_code == 403
    assert (
        client.post(
            f"/api/lotti/controlli/{aperto['LottoID']}/annulla", json={"Motivo": "x"}, headers=linea["capo"]
        ).status_code
        == 400
    )
    assert client.post("/api/lotti/smd/999999/annulla", json={"Motivo": "x"}, headers=linea["capo"]).status_code == 404
    assert invariato() == prima


def test_openapi_documents_the_new_operations(client):
    spec = client.get("/api/openapi.json").json
    assert "put" in spec["paths"]["/api/fasi/{FaseID}/stato"]
    assert "put" in spec["paths"]["/api/lotti/{tipo}/{LottoID}/rettifica"]
    assert "post" in spec["paths"]["/api/lotti/{tipo}/{LottoID}/annulla"]
    assert set(spec["components"]["schemas"]["FaseStato"]["required"]) == {"Stato", "Motivo"}
    assert set(spec["components"]["schemas"]["Rettifica"]["required"]) == {"QtaOutput", "QtaScarti", "Motivo"}
