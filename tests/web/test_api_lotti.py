"""``/api/lotti/{tipo}``: the contract of SPEC §7 for line software."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from asigest.models import Fase, FaseTipo, LogEvento, Lotto, Macchina
from asigest.services import auth

LOTTO_FIELDS = [
    "LottoID",
    "FaseID",
    "CommessaERPId",
    "FaseTipo",
    "Progressivo",
    "CodiceLotto",
    "Stato",
    "DataInizio",
    "DataFine",
    "QtaInput",
    "QtaOutput",
    "QtaScarti",
    "CausaleScarto",
    "NoteScarti",
    "OperatoreID",
    "OperatoreChiusuraID",
    "MacchinaID",
    "DIBA",
    "Revisione",
]


@pytest.fixture
def linea(db_session, make_config, make_user):
    """Commessa 101 (QTA 500) configured SMD + CONTROLLI, one machine each, an operator with a token."""
    make_config(101, fasi=("SMD", "CONTROLLI"), qta=500, diba="DB-101", revisione="B")
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    smd = Macchina(codice="SMD-L1", descrizione="Linea 1", fase_tipo_id=tipi["SMD"].id, attiva=True)
    smd2 = Macchina(codice="SMD-L2", descrizione="Linea 2", fase_tipo_id=tipi["SMD"].id, attiva=True)
    ctrl = Macchina(codice="AOI-1", descrizione="AOI", fase_tipo_id=tipi["CONTROLLI"].id, attiva=True)
    db_session.add_all([smd, smd2, ctrl])
    db_session.commit()
    fasi = {f.fase_tipo.codice: f.id for f in db_session.scalars(select(Fase).where(Fase.commessa_erp_id == 101))}
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    altro = make_user(ruolo="OPERATORE", password=None, pin="4321")
    token = auth.create_token(db_session, actor=None, matricola=operatore.matricola)
    return {
        "fasi": fasi,
        "smd": smd.id,
        "smd2": smd2.id,
        "ctrl": ctrl.id,
        "operatore": operatore.id,
        "altro": altro.id,
        "headers": {"Authorization": f"Bearer {token}"},
    }


def apri(client, linea, tipo="smd", **body):
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 100, "MacchinaID": linea["smd"], **body}
    return client.post(f"/api/lotti/{tipo}/", json=payload, headers=linea["headers"])


def test_open_returns_201_with_the_contract_fields(client, linea):
    response = apri(client, linea)
    assert response.status_code == 201, response.json
    body = response.json
    assert list(body) == LOTTO_FIELDS
    assert body["CodiceLotto"] == "2026-1234-SMD-001"
    assert (body["Stato"], body["FaseTipo"], body["CommessaERPId"]) == ("APERTO", "SMD", 101)
    assert (body["DIBA"], body["Revisione"], body["OperatoreID"]) == ("DB-101", "B", linea["operatore"])
    assert body["DataInizio"].endswith("+00:00") and body["DataFine"] is None


def test_close_then_read_and_list(client, linea):
    lotto = apri(client, linea).json
    response = client.put(
        f"/api/lotti/smd/{lotto['LottoID']}/close",
        json={"QtaOutput": 95, "QtaScarti": 3, "CausaleScarto": "SMD-PICK", "NoteScarti": "ugello"},
        headers=linea["headers"],
    )
    assert response.status_code == 200, response.json
    assert (response.json["Stato"], response.json["QtaOutput"], response.json["CausaleScarto"]) == (
        "CHIUSO",
        95,
        "SMD-PICK",
    )
    assert client.get(f"/api/lotti/smd/{lotto['LottoID']}", headers=linea["headers"]).json["QtaScarti"] == 3
    chiusi = client.get("/api/lotti/smd/?aperti=false", headers=linea["headers"]).json
    aperti = client.get("/api/lotti/smd/?aperti=true", headers=linea["headers"]).json
    assert [x["LottoID"] for x in chiusi] == [lotto["LottoID"]] and aperti == []
    assert client.get("/api/lotti/controlli/", headers=linea["headers"]).json == []
    fasi = client.get("/api/fasi/commessa/101", headers=linea["headers"]).json
    smd = next(f for f in fasi if f["FaseTipo"] == "SMD")
    assert (smd["QtaProdotta"], smd["QtaScarti"]) == (95, 3)


def test_idempotency_key_replays_the_first_result(client, linea, db_session):
    headers = {**linea["headers"], "Idempotency-Key": "mes-42"}
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 100, "MacchinaID": linea["smd"]}
    first = client.post("/api/lotti/smd/", json=payload, headers=headers)
    again = client.post("/api/lotti/smd/", json=payload, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json["LottoID"] == first.json["LottoID"]
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1


def _riusata(response):
    assert response.status_code == 422, response.json
    assert response.json["code"] == "IDEMPOTENCY_KEY_RIUSATA" and list(response.json["errors"]) == ["Idempotency-Key"]
    assert "nuova chiave" in response.json["detail"]


def _eventi(db_session, azione):
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == azione))


def test_an_open_key_replayed_on_a_close_closes_nothing(client, linea, db_session):
    """Issue 12 item 3: the open's key on the lotto's close answered 200 with the open lotto."""
    headers = {**linea["headers"], "Idempotency-Key": "K-2907"}
    lotto = apri(client, linea, tipo="smd")  # without a key: a plain open
    aperto = client.post(
        "/api/lotti/smd/",
        json={"FaseID": linea["fasi"]["SMD"], "QtaInput": 5, "MacchinaID": linea["smd2"]},
        headers=headers,
    )
    assert aperto.status_code == 201 and lotto.status_code == 201
    _riusata(client.put(f"/api/lotti/smd/{aperto.json['LottoID']}/close", json={"QtaOutput": 5}, headers=headers))
    assert client.get(f"/api/lotti/smd/{aperto.json['LottoID']}", headers=linea["headers"]).json["Stato"] == "APERTO"
    assert _eventi(db_session, "LOTTO_CHIUSO") == 0


def test_a_close_key_replayed_on_another_lotto_closes_nothing(client, linea, db_session):
    primo = apri(client, linea).json
    secondo = apri(client, linea, MacchinaID=linea["smd2"], QtaInput=50).json
    headers = {**linea["headers"], "Idempotency-Key": "chiusura-1"}
    chiuso = client.put(f"/api/lotti/smd/{primo['LottoID']}/close", json={"QtaOutput": 100}, headers=headers)
    assert chiuso.status_code == 200 and chiuso.json["Stato"] == "CHIUSO"
    _riusata(client.put(f"/api/lotti/smd/{secondo['LottoID']}/close", json={"QtaOutput": 50}, headers=headers))
    assert client.get(f"/api/lotti/smd/{secondo['LottoID']}", headers=linea["headers"]).json["Stato"] == "APERTO"
    assert _eventi(db_session, "LOTTO_CHIUSO") == 1
    # The same close again is the same request: its first answer.
    di_nuovo = client.put(
        f"/api/lotti/smd/{primo['LottoID']}/close", json={"QtaScarti": 0, "QtaOutput": 100}, headers=headers
    )
    assert di_nuovo.status_code == 200 and di_nuovo.json == chiuso.json
    _riusata(client.put(f"/api/lotti/smd/{primo['LottoID']}/close", json={"QtaOutput": 99}, headers=headers))
    assert _eventi(db_session, "LOTTO_CHIUSO") == 1


def test_an_open_key_with_another_body_opens_nothing(client, linea, db_session):
    headers = {**linea["headers"], "Idempotency-Key": "apertura-1"}
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 100, "MacchinaID": linea["smd"]}
    first = client.post("/api/lotti/smd/", json=payload, headers=headers)
    assert first.status_code == 201
    _riusata(
        client.post("/api/lotti/smd/", json={**payload, "MacchinaID": linea["smd2"], "QtaInput": 10}, headers=headers)
    )
    _riusata(
        client.post(
            "/api/lotti/controlli/",
            json={**payload, "FaseID": linea["fasi"]["CONTROLLI"], "MacchinaID": linea["ctrl"]},
            headers=headers,
        )
    )
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1
    assert _eventi(db_session, "LOTTO_APERTO") == 1
    # The same values in another order and spacing are the same request.
    testo = '{ "MacchinaID": %d, "QtaInput": 100, "FaseID": %d }' % (linea["smd"], linea["fasi"]["SMD"])
    again = client.post("/api/lotti/smd/", data=testo, content_type="application/json", headers=headers)
    assert again.status_code == 201 and again.json["LottoID"] == first.json["LottoID"]


@pytest.mark.parametrize("chiave", ["k" * 101, "chiave con spazi", "chiavè-àccentata"])
def test_an_idempotency_key_that_could_collide_is_refused(client, linea, db_session, chiave):
    """Longer than the stored 100 characters, or not printable ASCII: two different keys
    could be stored alike and replay the wrong answer, so the request is refused."""
    prima = "k" * 100
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 100, "MacchinaID": linea["smd"]}
    assert (
        client.post("/api/lotti/smd/", json=payload, headers={**linea["headers"], "Idempotency-Key": prima}).status_code
        == 201
    )
    response = client.post(
        "/api/lotti/smd/",
        json=payload,
        headers={**linea["headers"], "Idempotency-Key": chiave.encode().decode("latin-1")},
    )
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]
    assert "ASCII" in response.json["errors"]["Idempotency-Key"][0]
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1


def test_operator_naming_another_operator_gets_403(client, linea, db_session):
    response = apri(client, linea, OperatoreID=linea["altro"])
    assert response.status_code == 403
    assert response.json["code"] == "FORBIDDEN"
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 0


@pytest.mark.parametrize("ruolo", ["SUPERVISORE", "ADMIN"])
def test_office_callers_must_name_the_operator(client, linea, db_session, make_user, ruolo):
    """SPEC §7: OperatoreID is required unless the caller is an OPERATORE."""
    capo = make_user(ruolo=ruolo)
    headers = {"Authorization": "Bearer " + auth.create_token(db_session, actor=None, matricola=capo.matricola)}
    payload = {"FaseID": linea["fasi"]["SMD"], "QtaInput": 100, "MacchinaID": linea["smd"]}
    response = client.post("/api/lotti/smd/", json=payload, headers=headers)
    assert response.status_code == 422 and list(response.json["errors"]) == ["OperatoreID"]
    assert "operatore" in response.json["errors"]["OperatoreID"][0]
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 0
    response = client.post("/api/lotti/smd/", json={**payload, "OperatoreID": linea["operatore"]}, headers=headers)
    assert response.status_code == 201 and response.json["OperatoreID"] == linea["operatore"]


def test_path_type_must_match_the_fase(client, linea):
    response = apri(client, linea, tipo="pth")
    assert response.status_code == 400 and response.json["code"] == "TIPO_FASE_DIVERSO"
    assert apri(client, linea, tipo="nessuno").status_code == 404
    lotto = apri(client, linea).json
    assert client.get(f"/api/lotti/controlli/{lotto['LottoID']}", headers=linea["headers"]).status_code == 400


def test_rule_refusals_are_400_with_a_code(client, linea):
    assert apri(client, linea, QtaInput=501).json["code"] == "QUANTITA_NON_DISPONIBILE"
    lotto = apri(client, linea).json
    busy = apri(client, linea, QtaInput=1)
    assert busy.status_code == 400 and busy.json["code"] == "MACCHINA_OCCUPATA"
    over = client.put(f"/api/lotti/smd/{lotto['LottoID']}/close", json={"QtaOutput": 101}, headers=linea["headers"])
    assert over.status_code == 400 and "QtaOutput" in over.json["errors"]
    no_reason = client.put(
        f"/api/lotti/smd/{lotto['LottoID']}/close", json={"QtaOutput": 90, "QtaScarti": 2}, headers=linea["headers"]
    )
    assert no_reason.status_code == 400 and "CausaleScarto" in no_reason.json["errors"]
    reason_no_scrap = client.put(
        f"/api/lotti/smd/{lotto['LottoID']}/close",
        json={"QtaOutput": 100, "QtaScarti": 0, "CausaleScarto": "SMD-PICK"},
        headers=linea["headers"],
    )
    assert reason_no_scrap.status_code == 400 and list(reason_no_scrap.json["errors"]) == ["CausaleScarto"]
    assert client.get(f"/api/lotti/smd/{lotto['LottoID']}", headers=linea["headers"]).json["Stato"] == "APERTO"
    ok = client.put(f"/api/lotti/smd/{lotto['LottoID']}/close", json={"QtaOutput": 100}, headers=linea["headers"])
    assert ok.status_code == 200
    twice = client.put(f"/api/lotti/smd/{lotto['LottoID']}/close", json={"QtaOutput": 100}, headers=linea["headers"])
    assert twice.status_code == 400 and twice.json["code"] == "LOTTO_GIA_CHIUSO"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"QtaInput": 10, "MacchinaID": 1}, "FaseID"),
        ({"FaseID": 1, "QtaInput": "10", "MacchinaID": 1}, "QtaInput"),
        ({"FaseID": 1, "QtaInput": 0, "MacchinaID": 1}, "QtaInput"),
        ({"FaseID": 1, "QtaInput": 10, "MacchinaID": 1, "Extra": 1}, "Extra"),
    ],
)
def test_malformed_open_is_422_with_the_field(client, linea, payload, field):
    response = client.post("/api/lotti/smd/", json=payload, headers=linea["headers"])
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_lotti_need_a_token(client, linea):
    assert client.get("/api/lotti/smd/").status_code == 401
    assert client.post("/api/lotti/smd/", json={}).status_code == 401


# -- Origini (R14) -------------------------------------------------------------------------


def _smd_chiusi(client, linea):
    """Two closed SMD lotti: 2026-1234-SMD-001 (100 good) and -002 (50 good)."""
    for macchina, buoni in ((linea["smd"], 100), (linea["smd2"], 50)):
        lotto = apri(client, linea, QtaInput=100, MacchinaID=macchina).json
        chiusa = client.put(
            f"/api/lotti/smd/{lotto['LottoID']}/close",
            json={"QtaOutput": buoni, "QtaScarti": 100 - buoni, "CausaleScarto": "SMD-PICK"}
            if buoni < 100
            else {"QtaOutput": buoni},
            headers=linea["headers"],
        )
        assert chiusa.status_code == 200, chiusa.json


def apri_controlli(client, linea, **body):
    payload = {"FaseID": linea["fasi"]["CONTROLLI"], "QtaInput": 60, "MacchinaID": linea["ctrl"], **body}
    return client.post("/api/lotti/controlli/", json=payload, headers=linea["headers"])


def test_open_with_origini_draws_from_the_named_source_first(client, linea, db_session):
    from asigest.services import origini

    _smd_chiusi(client, linea)
    response = apri_controlli(client, linea, Origini=[{"CodiceLotto": "2026-1234-SMD-002", "Qta": 40}])
    assert response.status_code == 201, response.json
    assert list(response.json) == LOTTO_FIELDS
    db_session.rollback()
    assert origini.origini_dict(db_session, response.json["LottoID"]) == [
        {"CodiceLotto": "2026-1234-SMD-002", "Qta": 40},
        {"CodiceLotto": "2026-1234-SMD-001", "Qta": 20},
    ]


@pytest.mark.parametrize(
    "origini, codice",
    [
        ([{"CodiceLotto": "2026-1234-SMD-009", "Qta": 5}], "ORIGINE_SCONOSCIUTA"),
        ([{"CodiceLotto": "2026-1234-SMD-002", "Qta": 51}], "ORIGINE_INSUFFICIENTE"),
        ([{"CodiceLotto": "2026-1234-SMD-002"}, {"CodiceLotto": "2026-1234-SMD-002"}], "ORIGINE_RIPETUTA"),
        ([{"CodiceLotto": "2026-1234-SMD-001", "Qta": 61}], "ORIGINI_OLTRE_QUANTITA"),
    ],
)
def test_a_source_that_cannot_give_is_422_with_its_code(client, linea, db_session, origini, codice):
    _smd_chiusi(client, linea)
    response = apri_controlli(client, linea, Origini=origini)
    assert response.status_code == 422, response.json
    assert response.json["code"] == codice and "Origini" in response.json["errors"]
    assert "lotto" in response.json["detail"].lower()
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 2


@pytest.mark.parametrize(
    "origini",
    [
        [{"Qta": 5}],
        [{"CodiceLotto": "2026-1234-SMD-001", "Qta": 0}],
        [{"CodiceLotto": "2026-1234-SMD-001", "Qta": "5"}],
        [{"CodiceLotto": "2026 1234", "Qta": 5}],
        [{"CodiceLotto": "2026-1234-SMD-001", "Qta": 5, "Extra": 1}],
        [{"CodiceLotto": f"2026-1234-SMD-{n:03d}"} for n in range(51)],
        "2026-1234-SMD-001",
    ],
)
def test_malformed_origini_are_422_on_the_field(client, linea, origini):
    response = apri_controlli(client, linea, Origini=origini)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "VALIDATION_ERROR"
    assert "Origini" in response.json["errors"]


def test_origini_in_the_first_phase_are_422(client, linea):
    response = apri(client, linea, Origini=[{"CodiceLotto": "2026-1234-SMD-001", "Qta": 1}])
    assert response.status_code == 422 and response.json["code"] == "ORIGINI_PRIMA_FASE"


# Statements per open + close of a later-phase lotto through the API (R14 draws, keys,
# audit rows and KPI summaries included): 36 before issue 16; each one costs the server
# CPU and, on SQLite, time under the write lock (bench/profile_scrittura.py prints them).
# 20 after its second pass, plus the close's UPDATE of the OEE's production summary
# (KpiProduzioneGiorni, issue 17); 20 again since the open reads R14's sources with the
# order's fasi (third pass: docs/benchmark.md lists what each statement serves).
STATEMENTS_PER_PAIR = 20


def test_an_api_open_and_close_pair_stays_within_its_statement_budget(app, client, linea):
    from sqlalchemy import event

    from asigest.extensions import db

    def coppia(n: int) -> dict:
        chiave = {**linea["headers"], "Idempotency-Key": f"coppia-{n}-apri"}
        body = {"FaseID": linea["fasi"]["CONTROLLI"], "QtaInput": 10, "MacchinaID": linea["ctrl"]}
        aperto = client.post("/api/lotti/controlli/", json=body, headers=chiave)
        assert aperto.status_code == 201, aperto.json
        assert (aperto.json["Stato"], aperto.json["FaseTipo"], aperto.json["CommessaERPId"]) == (
            "APERTO",
            "CONTROLLI",
            101,
        )
        chiave = {**linea["headers"], "Idempotency-Key": f"coppia-{n}-chiudi"}
        chiuso = client.put(
            f"/api/lotti/controlli/{aperto.json['LottoID']}/close", json={"QtaOutput": 10}, headers=chiave
        )
        assert chiuso.status_code == 200, chiuso.json
        assert (chiuso.json["Stato"], chiuso.json["QtaOutput"], chiuso.json["CodiceLotto"]) == (
            "CHIUSO",
            10,
            aperto.json["CodiceLotto"],
        )
        return chiuso.json

    sorgente = apri(client, linea).json  # the SMD lotto the CONTROLLI lotti draw from (R14)
    client.put(f"/api/lotti/smd/{sorgente['LottoID']}/close", json={"QtaOutput": 100}, headers=linea["headers"])
    coppia(0)  # the fase's first lotto and the day's first KPI rows write once more
    statements: list[str] = []

    def conta(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engines = [db.engines[None], db.engines["erp"]]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", conta)
    try:
        coppia(1)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", conta)
    assert len(statements) <= STATEMENTS_PER_PAIR, f"{len(statements)} statements:\n" + "\n".join(statements)
    assert any(s.startswith('INSERT INTO "LottiOrigini"') for s in statements)
