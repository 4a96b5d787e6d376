"""R12 drift over the real databases: which configured orders ``scostamenti`` flags, in
what order, with the ERP fixture's orders (open QTA 100/500, closed 'C', suspended 'S',
NULL state) and configs whose stamped QtaERP differs, or whose order is not in the ERP."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from asigest.erp import ErpGateway
from asigest.errors import ErpUnavailable
from asigest.models import ConfigCommessa, Fase, FaseTipo
from asigest.services import drift
from asigest.services.commesse import get_commessa
from tests.lotti_fixture import lotto_factory

MANCANTE = 999_001  # no such ID in the ERP fixture


@pytest.fixture
def configura(db_session):
    """``configura(commessa_id, qta=100, stati=("APERTA", "APERTA"))`` → {codice: Fase}: a
    config with QtaERP ``qta`` and SMD/CONTROLLI fasi in the given states."""
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}

    def make(commessa_id, qta=100, stati=("APERTA", "APERTA")):
        db_session.add(
            ConfigCommessa(commessa_erp_id=commessa_id, flag_smd=True, flag_pth=False, flag_controlli=True, qta_erp=qta)
        )
        fasi = {}
        for codice, stato in zip(("SMD", "CONTROLLI"), stati):
            fasi[codice] = Fase(
                commessa_erp_id=commessa_id, fase_tipo_id=tipi[codice].id, stato=stato, qta_prevista=qta or 1
            )
            db_session.add(fasi[codice])
        db_session.commit()
        return fasi

    return make


@pytest.fixture
def lotto(db_session, make_user):
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    return lotto_factory(db_session, operatore.id)


def per_id(session, erp):
    return {x.commessa_erp_id: x.scostamento for x in drift.scostamenti(session, erp)}


def test_nothing_configured_nothing_flagged(db_session, erp):
    assert drift.scostamenti(db_session, erp) == []


def test_unchanged_order_is_not_flagged(db_session, erp, configura):
    configura(1, qta=100)
    configura(101, qta=500)
    assert per_id(db_session, erp) == {}


def test_quantity_changed_in_the_erp(db_session, erp, configura):
    configura(101, qta=400)  # the ERP says 500 now
    s = per_id(db_session, erp)[101]
    assert s.tipi == ("QTA",) and not s.grave and (s.qta_configurata, s.qta_erp) == (400, 500)


@pytest.mark.parametrize(("commessa_id", "stato"), [(103, "C"), (106, None), (107, "S")])
def test_order_no_longer_open_while_in_production(db_session, erp, configura, commessa_id, stato):
    configura(commessa_id, stati=("COMPLETATA", "IN_CORSO"))
    s = per_id(db_session, erp)[commessa_id]
    assert s.tipi == ("STATO",) and not s.grave and s.stato_erp == stato


def test_closed_order_with_open_lotti_is_grave(db_session, erp, configura, lotto):
    fasi = configura(103, stati=("IN_CORSO", "APERTA"))
    lotto(fasi["SMD"], 10)
    lotto(fasi["SMD"], 10)
    lotto(fasi["SMD"], 10, output=10)
    s = per_id(db_session, erp)[103]
    assert s.grave and s.lotti_aperti == 2


def test_closed_after_all_fasi_completed_is_the_normal_end(db_session, erp, configura, lotto):
    fasi = configura(103, stati=("COMPLETATA", "COMPLETATA"))
    lotto(fasi["SMD"], 100, output=100)
    assert per_id(db_session, erp) == {}


def test_completed_fasi_but_a_lotto_left_open_still_counts(db_session, erp, configura, lotto):
    fasi = configura(103, stati=("COMPLETATA", "COMPLETATA"))
    lotto(fasi["CONTROLLI"], 5)
    assert per_id(db_session, erp)[103].grave


def test_order_missing_from_the_erp(db_session, erp, configura, lotto):
    configura(MANCANTE)
    fasi = configura(MANCANTE + 1)
    lotto(fasi["SMD"], 10)
    found = {x.commessa_erp_id: x for x in drift.scostamenti(db_session, erp)}
    assert found[MANCANTE].scostamento.tipi == ("ASSENTE",) and not found[MANCANTE].scostamento.grave
    assert found[MANCANTE].commessa is None
    assert found[MANCANTE + 1].scostamento.grave


def test_grave_first_then_newest_order_then_missing(db_session, erp, configura, lotto):
    configura(101, qta=1)  # 2026/1234, quantity
    configura(102, qta=1)  # 2025/1234, quantity
    configura(107)  # 2026/81, suspended
    configura(MANCANTE)  # not in the ERP
    lotto(configura(103)["SMD"], 10)  # 2026/77, closed with a lotto open: grave
    ordine = [x.commessa_erp_id for x in drift.scostamenti(db_session, erp)]
    assert ordine == [103, 101, 107, 102, MANCANTE]
    assert [x.commessa.numero for x in drift.scostamenti(db_session, erp)[:4]] == [
        "2026/77",
        "2026/1234",
        "2026/81",
        "2025/1234",
    ]


def test_many_orders_stay_under_the_sql_server_parameter_limit(db_session, erp, mssql_compatible):
    """2,100 configured orders missing from the ERP: every one flagged, and no statement
    binds more than 2,100 parameters (``mssql_compatible`` fails the test otherwise)."""
    smd = db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "SMD"))
    ids = list(range(800_001, 802_101))
    db_session.execute(
        insert(ConfigCommessa),
        [
            {"commessa_erp_id": i, "flag_smd": True, "flag_pth": False, "flag_controlli": False, "qta_erp": 10}
            for i in ids
        ],
    )
    db_session.execute(
        insert(Fase), [{"commessa_erp_id": i, "fase_tipo_id": smd, "stato": "APERTA", "qta_prevista": 10} for i in ids]
    )
    db_session.commit()
    trovati = drift.scostamenti(db_session, erp)
    assert sorted(x.commessa_erp_id for x in trovati) == ids
    assert drift.scostamenti_di(db_session, [erp.get(1)]) == {}


def test_rows_already_read_get_their_drift_without_the_erp(db_session, erp, configura):
    configura(101, qta=400)
    configura(1, qta=100)
    righe = erp.list_open(limit=100)
    trovati = drift.scostamenti_di(db_session, righe)
    assert set(trovati) == {101} and trovati[101].quantita_cambiata


def test_the_order_card_carries_its_drift(db_session, erp, configura, lotto):
    lotto(configura(103)["SMD"], 10)
    assert get_commessa(db_session, erp, 103).scostamento.grave
    assert get_commessa(db_session, erp, 105).scostamento is None  # not configured
    configura(105)
    assert get_commessa(db_session, erp, 105).scostamento is None


def test_unreachable_erp_propagates(db_session, configura, tmp_path):
    from sqlalchemy import create_engine

    from asigest.dialects import erp_engine_options, install_readonly_guard, sqlite_readonly_url

    configura(101)
    url = sqlite_readonly_url(tmp_path / "manca.db")
    engine = create_engine(url, **erp_engine_options(url, 1.0))
    install_readonly_guard(engine)
    try:
        with pytest.raises(ErpUnavailable):
            drift.scostamenti(db_session, ErpGateway(engine))
    finally:
        engine.dispose()
