"""The order set-up service (``asigest.services.configurazione``): rules R1–R3, fasi with
QtaDisponibile (R5), and the audit rows written with each change — against the real
ASI_GEST database and the read-only test ERP (``tests/erp_fixture.py``)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from asigest.errors import Conflict, ErpUnavailable, InvalidInput, NotFound, RuleViolation
from asigest.extensions import db
from asigest.models import ConfigCommessa, Fase, FaseTipo, LogEvento
from asigest.services import auth, configurazione
from tests.lotti_fixture import lotto_factory

AZIONI = ("CONFIG_CREATA", "CONFIG_MODIFICATA", "CONFIG_ELIMINATA", "FASE_CREATA", "FASE_ELIMINATA")


@pytest.fixture
def actor(make_user):
    return replace(auth.actor_for(make_user("SUPERVISORE")), postazione="10.0.0.7")


@pytest.fixture
def configura(db_session, erp, actor):
    """``configura(commessa_id=101, **flags_and_texts)`` through the service."""

    def do(commessa_id=101, **kwargs):
        return configurazione.create_config(db_session, erp, actor=actor, commessa_erp_id=commessa_id, **kwargs)

    return do


@pytest.fixture
def make_lotto(db_session, make_user):
    """``make_lotto(fase, qta_input, output=None, scarti=None)``: open, or closed when ``output`` is given."""
    return lotto_factory(db_session, make_user("OPERATORE").id)


class StubErp:
    """An ERP gateway answering ``get`` with one given order (or failing)."""

    def __init__(self, real=None, fail=False, **fields):
        self.real, self.fail, self.fields, self.calls = real, fail, fields, 0

    def get(self, commessa_id):
        self.calls += 1
        if self.fail:
            raise ErpUnavailable()
        return replace(self.real.get(commessa_id), **self.fields)


def fasi_of(session, commessa_id=101) -> dict[str, Fase]:
    session.rollback()
    stmt = select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa_id).order_by(FaseTipo.ordine)
    return {f.fase_tipo.codice: f for f in session.scalars(stmt)}


def eventi(session) -> list[LogEvento]:
    session.rollback()
    return list(session.scalars(select(LogEvento).where(LogEvento.azione.in_(AZIONI)).order_by(LogEvento.id)))


def configs(session) -> list[ConfigCommessa]:
    session.rollback()
    return list(session.scalars(select(ConfigCommessa)))


def snapshot(session):
    """Everything these operations may touch, to prove a refusal changed nothing."""
    session.rollback()
    return (
        [
            (
                c.id,
                c.flag_smd,
                c.flag_pth,
                c.flag_controlli,
                c.diba,
                c.revisione,
                c.note,
                c.bloccata_documentazione,
                c.data_modifica,
            )
            for c in session.scalars(select(ConfigCommessa).order_by(ConfigCommessa.id))
        ],
        [
            (f.id, f.commessa_erp_id, f.fase_tipo_id, f.qta_prevista)
            for f in session.scalars(select(Fase).order_by(Fase.id))
        ],
        [e.id for e in session.scalars(select(LogEvento).order_by(LogEvento.id))],
    )


# -- R1/R2: configure ----------------------------------------------------------------


def test_configure_creates_the_config_and_the_fasi_of_its_flags(db_session, configura, actor):
    config = configura(101, diba="DB-ALIM-24", revisione="C", note="Prima serie")
    assert (config.flag_smd, config.flag_pth, config.flag_controlli) == (True, False, True)  # defaults
    assert (config.diba, config.revisione, config.note) == ("DB-ALIM-24", "C", "Prima serie")
    assert config.qta_erp == 500 and config.creato_da == actor.utente_id
    assert config.bloccata_documentazione is False and config.data_creazione is not None

    fasi = fasi_of(db_session)
    assert list(fasi) == ["SMD", "CONTROLLI"]
    for fase in fasi.values():
        assert (fase.stato, fase.qta_prevista, fase.qta_prodotta, fase.qta_scarti) == ("APERTA", 500, 0, 0)
        assert fase.data_apertura is None


def test_configure_writes_the_audit_rows_with_contract_names(db_session, configura, actor):
    config = configura(101, flag_pth=True, diba="DB-1", revisione="A")
    fasi = fasi_of(db_session)
    rows = eventi(db_session)
    assert [(e.azione, e.entita, e.entita_id) for e in rows] == [
        ("CONFIG_CREATA", "ConfigCommessa", config.id),
        ("FASE_CREATA", "Fasi", fasi["SMD"].id),
        ("FASE_CREATA", "Fasi", fasi["PTH"].id),
        ("FASE_CREATA", "Fasi", fasi["CONTROLLI"].id),
    ]
    assert all(e.utente_id == actor.utente_id and e.postazione == "10.0.0.7" for e in rows)
    assert rows[0].dettagli == {
        "dopo": {
            "CommessaERPId": 101,
            "FlagSMD": True,
            "FlagPTH": True,
            "FlagControlli": True,
            "DIBA": "DB-1",
            "Revisione": "A",
            "Note": None,
            "BloccataDocumentazione": False,
            "QtaERP": 500,
        }
    }
    assert rows[2].dettagli == {
        "dopo": {
            "FaseID": fasi["PTH"].id,
            "CommessaERPId": 101,
            "FaseTipo": "PTH",
            "Stato": "APERTA",
            "QtaPrevista": 500,
            "QtaProdotta": 0,
            "QtaScarti": 0,
        }
    }


def test_configure_trims_texts_and_stores_empty_ones_as_null(db_session, configura):
    config = configura(101, diba="  DB-7  ", revisione="   ", note="")
    assert (config.diba, config.revisione, config.note) == ("DB-7", None, None)


def test_configure_with_only_one_phase(db_session, configura):
    configura(101, flag_smd=False, flag_controlli=True)
    assert list(fasi_of(db_session)) == ["CONTROLLI"]


def test_at_least_one_flag(db_session, configura):
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configura(101, flag_smd=False, flag_pth=False, flag_controlli=False)
    assert refused.value.code == "NESSUNA_FASE" and refused.value.status == 400
    assert "almeno una fase" in refused.value.text()
    assert snapshot(db_session) == before


@pytest.mark.parametrize(
    ("commessa_id", "code", "words"),
    [
        (999_999, "COMMESSA_INESISTENTE", "non esiste nel gestionale"),
        (103, "COMMESSA_NON_APERTA", "stato «C»"),  # closed
        (107, "COMMESSA_NON_APERTA", "stato «S»"),  # suspended in the ERP
        (106, "COMMESSA_NON_APERTA", "stato «—»"),  # NULL state
        (104, "QTA_ERP_ASSENTE", "non ha la quantità"),  # open, QTA NULL
    ],
)
def test_only_existing_open_orders_with_a_quantity_can_be_configured(db_session, configura, commessa_id, code, words):
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configura(commessa_id)
    assert refused.value.code == code and refused.value.status == 400
    assert words in refused.value.text()
    assert snapshot(db_session) == before


@pytest.mark.parametrize("qta", [0, -5])
def test_an_erp_quantity_that_is_not_positive_is_refused(db_session, erp, actor, qta):
    with pytest.raises(RuleViolation) as refused:
        configurazione.create_config(db_session, StubErp(erp, qta=qta), actor=actor, commessa_erp_id=101)
    assert refused.value.code == "QTA_ERP_NON_VALIDA"
    assert configs(db_session) == []


def test_erp_down_configures_nothing(db_session, actor):
    before = snapshot(db_session)
    with pytest.raises(ErpUnavailable):
        configurazione.create_config(db_session, StubErp(fail=True), actor=actor, commessa_erp_id=101)
    assert snapshot(db_session) == before


def test_one_config_per_order(db_session, configura):
    first = configura(101)
    before = snapshot(db_session)
    with pytest.raises(Conflict) as refused:
        configura(101, flag_pth=True)
    assert refused.value.status == 409 and refused.value.code == "CONFIG_ESISTENTE"
    assert f"configurazione {first.id}" in refused.value.text()
    assert snapshot(db_session) == before


def test_two_requests_racing_to_configure_the_same_order(app, db_session, configura, monkeypatch):
    """The loser passed the "already configured?" check before the winner committed: the
    UNIQUE constraint refuses its insert, and it answers 409 with nothing half-written."""
    real_lookup = configurazione._config_per_commessa
    calls = []

    def lookup_while_another_request_commits(session, commessa_id):
        if not calls:
            with Session(db.engines[None]) as other:  # another request, its own connection
                other.add(
                    ConfigCommessa(
                        commessa_erp_id=commessa_id, flag_smd=True, flag_pth=False, flag_controlli=False, qta_erp=500
                    )
                )
                other.commit()
            calls.append(commessa_id)
            return None  # what the loser read before the winner's commit
        return real_lookup(session, commessa_id)

    monkeypatch.setattr(configurazione, "_config_per_commessa", lookup_while_another_request_commits)
    with pytest.raises(Conflict) as refused:
        configura(101)
    assert refused.value.code == "CONFIG_ESISTENTE"
    assert [c.flag_controlli for c in configs(db_session)] == [False]  # only the winner's
    assert fasi_of(db_session) == {}
    assert eventi(db_session) == []
    # The session is usable again.
    assert db_session.scalar(select(ConfigCommessa.commessa_erp_id)) == 101


def test_configure_is_one_transaction(db_session, configura, monkeypatch):
    """A failure after the config and its audit row were added leaves nothing behind."""
    real = configurazione._crea_fase

    controlli = db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "CONTROLLI"))

    def fail_on_controlli(session, actor, commessa_id, fase_tipo_id, qta):
        if fase_tipo_id == controlli:
            raise RuntimeError("crash simulato")
        return real(session, actor, commessa_id, fase_tipo_id, qta)

    monkeypatch.setattr(configurazione, "_crea_fase", fail_on_controlli)
    before = snapshot(db_session)
    with pytest.raises(RuntimeError):
        configura(101)
    assert snapshot(db_session) == before


def test_texts_over_their_column_size_are_invalid_input(db_session, configura):
    with pytest.raises(InvalidInput) as refused:
        configura(101, diba="D" * 51, note="n" * 2001)
    assert refused.value.status == 422
    assert set(refused.value.errors) == {"DIBA", "Note"}
    assert configs(db_session) == []


def test_an_inactive_phase_type_cannot_be_enabled(db_session, configura):
    db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH")).attivo = False
    db_session.commit()
    with pytest.raises(RuleViolation) as refused:
        configura(101, flag_pth=True)
    assert refused.value.code == "FASE_TIPO_DISATTIVATO" and "PTH" in refused.value.text()
    assert configs(db_session) == []


# -- reading -------------------------------------------------------------------------


def test_get_and_list(db_session, configura):
    a = configura(101)
    b = configura(1, flag_pth=True)
    assert configurazione.get_config(db_session, a.id).commessa_erp_id == 101
    assert [c.id for c in configurazione.list_configs(db_session)] == [b.id, a.id]  # newest first
    assert [c.id for c in configurazione.list_configs(db_session, limit=1, offset=1)] == [a.id]
    assert [c.id for c in configurazione.list_configs(db_session, commessa_erp_id=1)] == [b.id]
    for unknown in (999_999, 0, -1, 2**40):
        with pytest.raises(NotFound):
            configurazione.get_config(db_session, unknown)


# -- R2: change ----------------------------------------------------------------------


def test_update_texts_and_block_records_only_what_changed(db_session, erp, configura, actor):
    config = configura(101, diba="DB-1", revisione="A")
    configurazione.update_config(
        db_session,
        erp,
        actor=actor,
        config_id=config.id,
        revisione="B",
        note="Attenzione",
        diba="DB-1",
        bloccata_documentazione=True,
    )
    config = configs(db_session)[0]
    assert (config.diba, config.revisione, config.note, config.bloccata_documentazione) == (
        "DB-1",
        "B",
        "Attenzione",
        True,
    )
    assert config.data_modifica is not None
    last = eventi(db_session)[-1]
    assert (last.azione, last.entita, last.entita_id) == ("CONFIG_MODIFICATA", "ConfigCommessa", config.id)
    assert last.dettagli == {
        "prima": {"Revisione": "A", "Note": None, "BloccataDocumentazione": False},
        "dopo": {"Revisione": "B", "Note": "Attenzione", "BloccataDocumentazione": True},
    }


def test_a_save_that_changes_nothing_writes_nothing(db_session, erp, configura, actor):
    config = configura(101, diba="DB-1")
    before = snapshot(db_session)
    configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, diba=" DB-1 ", flag_smd=True)
    assert snapshot(db_session) == before


def test_texts_and_block_change_without_the_erp(db_session, erp, configura, actor):
    """Only creating a fase needs the ERP: notes and the documentation block can be set
    while ASITRON is down."""
    config = configura(101)
    down = StubErp(fail=True)
    configurazione.update_config(
        db_session, down, actor=actor, config_id=config.id, note="x", bloccata_documentazione=True
    )
    configurazione.update_config(db_session, down, actor=actor, config_id=config.id, flag_controlli=False)
    assert down.calls == 0
    assert list(fasi_of(db_session)) == ["SMD"]


def test_turning_a_flag_on_creates_its_fase_with_the_configured_quantity(db_session, erp, configura, actor):
    config = configura(101)
    # The ERP's QTA moved to 700 since configuration: drift (R12), not a new plan for one phase.
    configurazione.update_config(db_session, StubErp(erp, qta=700), actor=actor, config_id=config.id, flag_pth=True)
    fasi = fasi_of(db_session)
    assert list(fasi) == ["SMD", "PTH", "CONTROLLI"]
    assert fasi["PTH"].qta_prevista == 500 and fasi["PTH"].stato == "APERTA"
    assert configs(db_session)[0].qta_erp == 500
    rows = eventi(db_session)[-2:]
    assert [(e.azione, e.entita_id) for e in rows] == [
        ("FASE_CREATA", fasi["PTH"].id),
        ("CONFIG_MODIFICATA", config.id),
    ]
    assert rows[1].dettagli == {"prima": {"FlagPTH": False}, "dopo": {"FlagPTH": True}}


def test_a_fase_cannot_be_added_once_the_order_is_closed_in_the_erp(db_session, erp, configura, actor):
    config = configura(101)
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configurazione.update_config(
            db_session, StubErp(erp, statocommessa="C"), actor=actor, config_id=config.id, flag_pth=True, note="x"
        )
    assert refused.value.code == "COMMESSA_NON_APERTA"
    assert snapshot(db_session) == before


def test_turning_a_flag_off_removes_its_fase_when_it_has_no_lotti(db_session, erp, configura, actor):
    config = configura(101, flag_pth=True)
    pth = fasi_of(db_session)["PTH"]
    configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_pth=False)
    assert list(fasi_of(db_session)) == ["SMD", "CONTROLLI"]
    assert configs(db_session)[0].flag_pth is False
    rows = eventi(db_session)[-2:]
    assert [(e.azione, e.entita, e.entita_id) for e in rows] == [
        ("FASE_ELIMINATA", "Fasi", pth.id),
        ("CONFIG_MODIFICATA", "ConfigCommessa", config.id),
    ]
    assert rows[0].dettagli["prima"]["FaseTipo"] == "PTH" and "dopo" not in rows[0].dettagli


def test_turning_a_flag_off_is_refused_while_its_fase_has_lotti(db_session, erp, configura, actor, make_lotto):
    config = configura(101, flag_pth=True)
    make_lotto(fasi_of(db_session)["PTH"], 10, output=10)
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        # Everything in the same save is refused with it: the note does not change either.
        configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_pth=False, note="x")
    assert refused.value.code == "FASE_CON_LOTTI" and refused.value.status == 400
    assert "La fase PTH ha già lotti" in refused.value.text()
    assert snapshot(db_session) == before


def test_all_flags_off_is_refused(db_session, erp, configura, actor):
    config = configura(101, flag_controlli=False)
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_smd=False)
    assert refused.value.code == "NESSUNA_FASE"
    assert snapshot(db_session) == before


def test_swap_phases_in_one_save(db_session, erp, configura, actor):
    config = configura(101, flag_controlli=False)
    configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_smd=False, flag_controlli=True)
    assert list(fasi_of(db_session)) == ["CONTROLLI"]


def test_update_unknown_config(db_session, erp, actor):
    with pytest.raises(NotFound):
        configurazione.update_config(db_session, erp, actor=actor, config_id=424242, note="x")


def test_update_refuses_fields_it_does_not_own(db_session, erp, configura, actor):
    config = configura(101)
    with pytest.raises(TypeError):
        configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, commessa_erp_id=102)


# -- R3: delete ----------------------------------------------------------------------


def test_delete_removes_the_config_and_its_fasi(db_session, configura, actor):
    config = configura(101, diba="DB-1")
    fasi = fasi_of(db_session)
    configurazione.delete_config(db_session, actor=actor, config_id=config.id)
    assert configs(db_session) == [] and fasi_of(db_session) == {}
    rows = eventi(db_session)[-3:]
    assert [(e.azione, e.entita_id) for e in rows] == [
        ("FASE_ELIMINATA", fasi["SMD"].id),
        ("FASE_ELIMINATA", fasi["CONTROLLI"].id),
        ("CONFIG_ELIMINATA", config.id),
    ]
    assert rows[-1].dettagli["prima"]["DIBA"] == "DB-1" and "dopo" not in rows[-1].dettagli
    # The order can be configured again.
    configura(101)


def test_ids_of_deleted_configs_and_fasi_are_never_given_again(db_session, erp, configura, actor):
    """The audit log names configs and fasi by id: on SQLite too (AUTOINCREMENT, migration
    0009) the next row never takes a deleted row's id."""
    config = configura(101, flag_pth=True)
    primo_id, pth_id = config.id, fasi_of(db_session)["PTH"].id
    configurazione.update_config(db_session, erp, actor=actor, config_id=primo_id, flag_pth=False)
    configurazione.update_config(db_session, erp, actor=actor, config_id=primo_id, flag_pth=True)
    assert fasi_of(db_session)["PTH"].id > pth_id
    ultima_fase = max(f.id for f in fasi_of(db_session).values())
    configurazione.delete_config(db_session, actor=actor, config_id=primo_id)
    nuova = configura(101)
    assert nuova.id > primo_id
    assert min(f.id for f in fasi_of(db_session).values()) > ultima_fase
    creazioni = [e for e in eventi(db_session) if e.azione == "CONFIG_CREATA"]
    assert [e.entita_id for e in creazioni] == [primo_id, nuova.id]


def test_delete_is_refused_while_a_fase_has_lotti(db_session, configura, actor, make_lotto):
    config = configura(101)
    make_lotto(fasi_of(db_session)["SMD"], 50)  # open
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configurazione.delete_config(db_session, actor=actor, config_id=config.id)
    assert refused.value.code == "CONFIG_CON_LOTTI" and "SMD" in refused.value.text()
    assert snapshot(db_session) == before


def test_delete_unknown_config(db_session, actor):
    with pytest.raises(NotFound):
        configurazione.delete_config(db_session, actor=actor, config_id=424242)


# -- a fase by hand --------------------------------------------------------------------


def test_add_fase_turns_its_flag_on(db_session, erp, configura, actor):
    config = configura(101)
    fase = configurazione.add_fase(db_session, erp, actor=actor, commessa_erp_id=101, fase_tipo="PTH")
    assert (fase.fase_tipo.codice, fase.qta_prevista, fase.stato, fase.qta_disponibile) == ("PTH", 500, "APERTA", 0)
    assert configs(db_session)[0].flag_pth is True
    rows = eventi(db_session)[-2:]
    assert [(e.azione, e.entita_id) for e in rows] == [("FASE_CREATA", fase.id), ("CONFIG_MODIFICATA", config.id)]


def test_add_fase_of_a_plant_defined_type(db_session, erp, configura, actor):
    db_session.add(
        FaseTipo(codice="COLLAUDO", descrizione="Collaudo finale", ordine=40, documenti_richiesti=[], attivo=True)
    )
    db_session.commit()
    configura(101)
    fase = configurazione.add_fase(db_session, erp, actor=actor, commessa_erp_id=101, fase_tipo="COLLAUDO")
    assert fase.fase_tipo.codice == "COLLAUDO"
    assert list(fasi_of(db_session)) == ["SMD", "CONTROLLI", "COLLAUDO"]


def test_add_fase_refusals(db_session, erp, configura, actor):
    def add(tipo, commessa_id=101):
        return configurazione.add_fase(db_session, erp, actor=actor, commessa_erp_id=commessa_id, fase_tipo=tipo)

    with pytest.raises(RuleViolation) as refused:
        add("SMD")
    assert refused.value.code == "CONFIG_ASSENTE"
    configura(101)
    with pytest.raises(Conflict) as refused:
        add("SMD")
    assert refused.value.code == "FASE_ESISTENTE" and refused.value.status == 409
    with pytest.raises(InvalidInput) as refused:
        add("NON-ESISTE")
    assert list(refused.value.errors) == ["FaseTipo"]
    db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH")).attivo = False
    db_session.commit()
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        add("PTH")
    assert refused.value.code == "FASE_TIPO_DISATTIVATO"
    assert snapshot(db_session) == before


def test_a_fase_cannot_be_added_ahead_of_a_fase_with_lotti(db_session, erp, configura, actor, make_lotto):
    """R2: PTH added before a CONTROLLI that already has lotti would make CONTROLLI count
    pieces never produced upstream; by hand or by turning its flag on, it is refused."""
    config = configura(101)  # SMD, CONTROLLI
    make_lotto(fasi_of(db_session)["CONTROLLI"], 10)
    before = snapshot(db_session)
    with pytest.raises(RuleViolation) as refused:
        configurazione.add_fase(db_session, erp, actor=actor, commessa_erp_id=101, fase_tipo="PTH")
    assert refused.value.code == "FASE_PRIMA_DI_FASE_CON_LOTTI" and refused.value.status == 400
    assert "La fase PTH non si può aggiungere" in refused.value.text()
    assert "prima della fase CONTROLLI" in refused.value.text()
    assert snapshot(db_session) == before
    with pytest.raises(RuleViolation) as refused:
        configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_pth=True, note="x")
    assert refused.value.code == "FASE_PRIMA_DI_FASE_CON_LOTTI"
    assert snapshot(db_session) == before


def test_a_fase_may_be_added_after_the_worked_ones(db_session, erp, configura, actor, make_lotto):
    db_session.add(
        FaseTipo(codice="COLLAUDO", descrizione="Collaudo finale", ordine=40, documenti_richiesti=[], attivo=True)
    )
    db_session.commit()
    config = configura(101, flag_controlli=False)  # SMD only
    make_lotto(fasi_of(db_session)["SMD"], 10, output=10)
    configurazione.update_config(db_session, erp, actor=actor, config_id=config.id, flag_pth=True)
    configurazione.add_fase(db_session, erp, actor=actor, commessa_erp_id=101, fase_tipo="COLLAUDO")
    assert list(fasi_of(db_session)) == ["SMD", "PTH", "COLLAUDO"]


# -- R5 over real lotti ----------------------------------------------------------------


@pytest.fixture
def lotti_queries(app):
    """Counts the statements that read the Lotti table."""
    seen = []

    def listen(conn, clauseelement, multiparams, params, execution_options):
        if '"Lotti"' in str(clauseelement):
            seen.append(str(clauseelement))

    engine = db.engines[None]
    event.listen(engine, "before_execute", listen)
    yield seen
    event.remove(engine, "before_execute", listen)


def test_fasi_with_available_quantity(db_session, erp, configura, make_lotto, lotti_queries):
    configura(101, flag_pth=True)
    fasi = fasi_of(db_session)
    make_lotto(fasi["SMD"], 100, output=95, scarti=5)
    make_lotto(fasi["SMD"], 200, output=180, scarti=0)  # 20 never worked: back to availability
    make_lotto(fasi["SMD"], 120)  # open
    make_lotto(fasi["PTH"], 100, output=90, scarti=4)
    make_lotto(fasi["PTH"], 50)  # open
    make_lotto(fasi["CONTROLLI"], 30)  # open

    lotti_queries.clear()
    result = configurazione.fasi_commessa(db_session, erp, 101)
    assert len(lotti_queries) == 1  # one aggregate, however many fasi and lotti

    assert [f.fase_tipo.codice for f in result] == ["SMD", "PTH", "CONTROLLI"]
    by_code = {f.fase_tipo.codice: f for f in result}
    # SMD: 500 − (95 + 180) − 120 open = 105: its scrap is made up by producing more.
    assert by_code["SMD"].qta_disponibile == 105
    # PTH: SMD's 275 good − (90 + 4 closed + 50 open) = 131.
    assert by_code["PTH"].qta_disponibile == 131
    # CONTROLLI: PTH's 90 good − 30 open = 60.
    assert by_code["CONTROLLI"].qta_disponibile == 60
    assert [f.lotti for f in result] == [3, 2, 1]


def test_fasi_of_an_unconfigured_or_unknown_order(db_session, erp):
    assert configurazione.fasi_commessa(db_session, erp, 101) == []
    with pytest.raises(NotFound):
        configurazione.fasi_commessa(db_session, erp, 999_999)


def test_fasi_are_readable_while_the_erp_is_down(db_session, configura):
    configura(101)
    down = StubErp(fail=True)
    assert [f.qta_disponibile for f in configurazione.fasi_commessa(db_session, down, 101)] == [500, 0]
    assert down.calls == 0
