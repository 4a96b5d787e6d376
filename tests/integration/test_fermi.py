"""Machine stops (R15, ``services/fermi.py``) on real databases: one running stop per
machine held by the database, one-time keys (R11), the supervisor's additions,
corrections and splits with their notes and audit rows, the base catalog's reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from asigest.domain.actor import Actor
from asigest.errors import Forbidden, InvalidInput, RuleViolation
from asigest.models import CausaleFermo, FaseTipo, LogEvento, Macchina
from asigest.models.fermi import Fermo
from asigest.services import fermi
from asigest.services.catalog import BASE_CAUSALI_FERMO
from asigest.services.lotti import ChiaveRiusata

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def macchina(db_session):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    m = Macchina(codice="SMD-F1", descrizione="Linea SMD 1", fase_tipo_id=tipo.id, reparto="SMD", attiva=True)
    db_session.add(m)
    db_session.commit()
    return m


def _actor(user) -> Actor:
    return Actor(utente_id=user.id, matricola=user.matricola, ruolo=user.ruolo, postazione="SMD-F1")


@pytest.fixture
def operatore(make_user):
    return _actor(make_user(ruolo="OPERATORE", password=None, pin="1234"))


@pytest.fixture
def capoturno(make_user):
    return _actor(make_user(ruolo="SUPERVISORE"))


def _azioni(session, fermo_id):
    return list(
        session.scalars(
            select(LogEvento.azione)
            .where(LogEvento.entita == "Fermi", LogEvento.entita_id == fermo_id)
            .order_by(LogEvento.id)
        )
    )


def test_the_base_catalog_has_the_standard_stop_reasons(db_session):
    causali = {c.codice: c for c in db_session.scalars(select(CausaleFermo))}
    assert set(causali) == {c[0] for c in BASE_CAUSALI_FERMO}
    assert causali["RIUNIONE"].pianificato and not causali["GUASTO"].pianificato
    assert causali["GUASTO"].categoria == "GUASTO"


def test_start_and_end_a_stop_with_its_audit_rows(db_session, macchina, operatore):
    esito = fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="guasto", adesso=T0)
    fermo = esito.fermo
    assert fermo.fine is None and fermo.causale.codice == "GUASTO" and fermo.operatore_id == operatore.utente_id
    assert fermi.fermo_in_corso(db_session, macchina.id).id == fermo.id
    fine = fermi.termina_fermo(
        db_session, actor=operatore, fermo_id=fermo.id, macchina_id=macchina.id, adesso=T0 + timedelta(minutes=12)
    )
    assert fine.fermo.fine == T0 + timedelta(minutes=12)
    assert fermi.fermo_in_corso(db_session, macchina.id) is None
    assert _azioni(db_session, fermo.id) == ["FERMO_INIZIATO", "FERMO_TERMINATO"]
    with pytest.raises(RuleViolation) as rifiuto:
        fermi.termina_fermo(db_session, actor=operatore, fermo_id=fermo.id)
    assert rifiuto.value.code == "FERMO_GIA_TERMINATO"


def test_one_running_stop_per_machine(db_session, macchina, operatore):
    fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", adesso=T0)
    with pytest.raises(RuleViolation) as rifiuto:
        fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="MANCA-MAT", adesso=T0)
    assert rifiuto.value.code == "FERMO_IN_CORSO"
    assert db_session.scalar(select(func.count()).select_from(Fermo)) == 1


def test_the_database_itself_refuses_a_second_running_stop(db_session, macchina, operatore):
    """The filtered unique index, not only the service: two rows with Fine NULL."""
    causale = db_session.scalar(select(CausaleFermo.id).where(CausaleFermo.codice == "GUASTO"))
    riga = {"MacchinaID": macchina.id, "CausaleFermoID": causale, "OperatoreID": operatore.utente_id, "Inizio": T0}
    db_session.execute(insert(Fermo.__table__), [riga])
    db_session.execute(
        insert(Fermo.__table__), [{**riga, "Inizio": T0 - timedelta(hours=2), "Fine": T0 - timedelta(hours=1)}]
    )
    db_session.commit()
    with pytest.raises(IntegrityError):
        db_session.execute(insert(Fermo.__table__), [{**riga, "Inizio": T0 + timedelta(minutes=1)}])
        db_session.commit()
    db_session.rollback()


def test_a_replayed_key_returns_the_first_stop(db_session, macchina, operatore):
    kwargs = {"actor": operatore, "macchina_id": macchina.id, "causale": "GUASTO", "chiave": "k1", "impronta": "x"}
    primo = fermi.inizia_fermo(db_session, **kwargs, adesso=T0)
    secondo = fermi.inizia_fermo(db_session, **kwargs, adesso=T0 + timedelta(seconds=2))
    assert secondo.ripetuto and secondo.fermo.id == primo.fermo.id
    with pytest.raises(ChiaveRiusata):
        fermi.inizia_fermo(db_session, **{**kwargs, "impronta": "altra"})
    fine = {"actor": operatore, "fermo_id": primo.fermo.id, "chiave": "k2", "impronta": "y"}
    fermi.termina_fermo(db_session, **fine, adesso=T0 + timedelta(minutes=5))
    di_nuovo = fermi.termina_fermo(db_session, **fine, adesso=T0 + timedelta(minutes=6))
    assert di_nuovo.ripetuto and di_nuovo.fermo.fine == T0 + timedelta(minutes=5)
    with pytest.raises(ChiaveRiusata):
        fermi.termina_fermo(db_session, **{**fine, "chiave": "k1", "impronta": "x"})


def test_reasons_of_another_phase_or_inactive_are_refused(db_session, macchina, operatore):
    pth = db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "PTH"))
    db_session.add(CausaleFermo(codice="ONDA", descrizione="Onda", fase_tipo_id=pth, categoria="GUASTO"))
    db_session.commit()
    for codice in ("ONDA", "NON-ESISTE"):
        with pytest.raises(RuleViolation) as rifiuto:
            fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale=codice)
        assert rifiuto.value.code == "CAUSALE_FERMO_NON_VALIDA"
    assert "ONDA" not in {c.codice for c in fermi.causali_per_macchina(db_session, macchina)}


def test_an_operator_declares_stops_only_as_itself(db_session, macchina, operatore, capoturno):
    with pytest.raises(Forbidden):
        fermi.inizia_fermo(
            db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", operatore_id=capoturno.utente_id
        )


def test_a_forgotten_stop_added_with_a_note(db_session, macchina, operatore, capoturno):
    adesso = T0 + timedelta(days=1)
    with pytest.raises(Forbidden):
        fermi.registra_fermo(
            db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", inizio=T0, fine=T0, motivo="x"
        )
    with pytest.raises(InvalidInput) as senza_nota:
        fermi.registra_fermo(
            db_session,
            actor=capoturno,
            macchina_id=macchina.id,
            causale="GUASTO",
            inizio=T0,
            fine=T0 + timedelta(hours=1),
            motivo=" ",
            adesso=adesso,
        )
    assert "Motivo" in senza_nota.value.errors
    fermo = fermi.registra_fermo(
        db_session,
        actor=capoturno,
        macchina_id=macchina.id,
        causale="MANCA-MAT",
        inizio=T0,
        fine=T0 + timedelta(hours=1),
        motivo="Dimenticato dal turno di notte",
        adesso=adesso,
    )
    evento = db_session.scalar(select(LogEvento).where(LogEvento.entita == "Fermi", LogEvento.entita_id == fermo.id))
    assert evento.azione == "FERMO_REGISTRATO" and evento.dettagli["motivo"] == "Dimenticato dal turno di notte"
    with pytest.raises(RuleViolation) as sovrapposto:
        fermi.registra_fermo(
            db_session,
            actor=capoturno,
            macchina_id=macchina.id,
            causale="GUASTO",
            inizio=T0 + timedelta(minutes=30),
            fine=T0 + timedelta(hours=2),
            motivo="doppio",
            adesso=adesso,
        )
    assert sovrapposto.value.code == "FERMI_SOVRAPPOSTI"
    with pytest.raises(InvalidInput) as futuro:
        fermi.registra_fermo(
            db_session,
            actor=capoturno,
            macchina_id=macchina.id,
            causale="GUASTO",
            inizio=adesso,
            fine=adesso + timedelta(hours=1),
            motivo="futuro",
            adesso=adesso,
        )
    assert "Fine" in futuro.value.errors


def test_correct_and_split_keep_before_and_after(db_session, macchina, operatore, capoturno):
    adesso = T0 + timedelta(days=1)
    fermo = fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", adesso=T0).fermo
    fermi.termina_fermo(db_session, actor=operatore, fermo_id=fermo.id, adesso=T0 + timedelta(hours=2))
    corretto = fermi.correggi_fermo(
        db_session,
        actor=capoturno,
        fermo_id=fermo.id,
        inizio=T0 - timedelta(minutes=10),
        motivo="Iniziato prima della dichiarazione",
        adesso=adesso,
    )
    assert corretto.inizio == T0 - timedelta(minutes=10)
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "FERMO_RETTIFICATO"))
    assert evento.dettagli["prima"]["Inizio"] == T0.isoformat()
    assert evento.dettagli["dopo"]["Inizio"] == (T0 - timedelta(minutes=10)).isoformat()

    primo, secondo = fermi.dividi_fermo(
        db_session,
        actor=capoturno,
        fermo_id=fermo.id,
        alle=T0 + timedelta(hours=1),
        causale="MANCA-MAT",
        motivo="Riparato, poi in attesa del ricambio",
        adesso=adesso,
    )
    assert (primo.fine, secondo.inizio, secondo.fine) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    )
    assert (primo.causale.codice, secondo.causale.codice) == ("GUASTO", "MANCA-MAT")
    assert _azioni(db_session, fermo.id)[-1] == "FERMO_DIVISO"
    with pytest.raises(InvalidInput):
        fermi.dividi_fermo(
            db_session, actor=capoturno, fermo_id=primo.id, alle=T0 + timedelta(hours=3), causale="GUASTO", motivo="x"
        )


def test_splitting_a_running_stop_leaves_its_second_part_running(db_session, macchina, operatore, capoturno):
    fermo = fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", adesso=T0).fermo
    _, secondo = fermi.dividi_fermo(
        db_session,
        actor=capoturno,
        fermo_id=fermo.id,
        alle=T0 + timedelta(minutes=20),
        causale="ATTESA-OP",
        motivo="In attesa del manutentore",
        adesso=T0 + timedelta(minutes=30),
    )
    assert secondo.fine is None
    assert fermi.fermo_in_corso(db_session, macchina.id).id == secondo.id


def test_list_stops_by_machine_period_and_state(db_session, macchina, operatore):
    uno = fermi.inizia_fermo(db_session, actor=operatore, macchina_id=macchina.id, causale="GUASTO", adesso=T0).fermo
    fermi.termina_fermo(db_session, actor=operatore, fermo_id=uno.id, adesso=T0 + timedelta(hours=1))
    due = fermi.inizia_fermo(
        db_session, actor=operatore, macchina_id=macchina.id, causale="PULIZIA", adesso=T0 + timedelta(hours=3)
    ).fermo
    assert [f.id for f in fermi.list_fermi(db_session, macchina_id=macchina.id)] == [due.id, uno.id]
    assert [f.id for f in fermi.list_fermi(db_session, aperti=True)] == [due.id]
    assert [f.id for f in fermi.list_fermi(db_session, da=T0 + timedelta(hours=2))] == [due.id]
    assert [f.id for f in fermi.list_fermi(db_session, a=T0 + timedelta(hours=2))] == [uno.id]
    assert [f.id for f in fermi.list_fermi(db_session, causale="PULIZIA", reparto="SMD")] == [due.id]


def test_stop_reasons_admin(db_session, capoturno):
    nuova = fermi.salva_causale_fermo(
        db_session,
        actor=capoturno,
        codice="forno",
        descrizione="Forno in temperatura",
        categoria="ATTESA",
        fase_tipo="SMD",
    )
    assert nuova.codice == "FORNO" and nuova.fase_tipo.codice == "SMD" and not nuova.pianificato
    modificata = fermi.salva_causale_fermo(
        db_session, actor=capoturno, causale_id=nuova.id, pianificato=True, fase_tipo=None, cambia_fase_tipo=True
    )
    assert modificata.pianificato and modificata.fase_tipo_id is None
    with pytest.raises(InvalidInput):
        fermi.salva_causale_fermo(db_session, actor=capoturno, codice="X", descrizione="x", categoria="ROTTO")
    from asigest.errors import Conflict

    with pytest.raises(Conflict):
        fermi.salva_causale_fermo(db_session, actor=capoturno, codice="GUASTO", descrizione="x", categoria="GUASTO")
