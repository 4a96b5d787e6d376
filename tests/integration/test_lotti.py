"""Opening and closing lotti: R4–R9, R11, and concurrency with separate sessions per terminal."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from asigest.errors import Forbidden, InvalidInput, RuleViolation
from asigest.models import ConfigCommessa, Fase, FaseTipo, LogEvento, Lotto, Macchina, RichiestaEseguita
from asigest.services import lotti as svc
from asigest.services.auth import actor_for

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def impianto(db_session, make_user):
    """Commessa 1 (QTA 100 in the ERP fixture) configured SMD → PTH → CONTROLLI, machines, people."""

    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(
        ConfigCommessa(
            commessa_erp_id=1,
            flag_smd=True,
            flag_pth=True,
            flag_controlli=True,
            diba="DB-1",
            revisione="C",
            qta_erp=100,
        )
    )
    fasi = {}
    for codice in ("SMD", "PTH", "CONTROLLI"):
        fasi[codice] = Fase(commessa_erp_id=1, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=100)
        db_session.add(fasi[codice])
    macchine = {}
    for codice, tipo in (("SMD-1", "SMD"), ("SMD-2", "SMD"), ("PTH-1", "PTH"), ("CTRL-1", "CONTROLLI")):
        macchine[codice] = Macchina(codice=codice, descrizione=codice, fase_tipo_id=tipi[tipo].id, attiva=True)
        db_session.add(macchine[codice])
    db_session.commit()
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    collega = make_user(ruolo="OPERATORE", password=None, pin="4321")
    capo = make_user(ruolo="SUPERVISORE")

    class Impianto:
        pass

    imp = Impianto()
    imp.fasi = {k: v.id for k, v in fasi.items()}
    imp.macchine = {k: v.id for k, v in macchine.items()}
    imp.operatore, imp.collega, imp.capo = actor_for(operatore), actor_for(collega), actor_for(capo)
    return imp


def apri(session, erp, imp, fase="SMD", macchina="SMD-1", qta=10, actor=None, **kw):
    return svc.apri_lotto(
        session,
        erp,
        actor=actor or imp.operatore,
        fase_id=imp.fasi[fase],
        macchina_id=imp.macchine[macchina],
        qta_input=qta,
        adesso=kw.pop("adesso", T0),
        **kw,
    )


def test_first_lotto_gets_its_code_stamps_diba_and_starts_the_fase(db_session, erp, impianto):
    esito = apri(db_session, erp, impianto)
    lotto = esito.lotto
    assert (lotto.progressivo, lotto.codice_lotto) == (1, "2026-1001-SMD-001")
    assert (lotto.diba, lotto.revisione, lotto.qta_input) == ("DB-1", "C", 10)
    fase = db_session.get(Fase, impianto.fasi["SMD"])
    assert fase.stato == "IN_CORSO" and fase.data_apertura == T0
    log = db_session.scalars(select(LogEvento).where(LogEvento.azione == "LOTTO_APERTO")).all()
    assert [(e.entita_id, e.postazione) for e in log] == [(lotto.id, "SMD-1")]


def test_close_updates_totals_and_frees_the_remainder(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto, qta=60).lotto
    svc.chiudi_lotto(
        db_session,
        actor=impianto.operatore,
        lotto_id=lotto.id,
        qta_output=50,
        qta_scarti=2,
        causale="SMD-PICK",
        adesso=T0 + timedelta(hours=1),
    )
    fase = db_session.get(Fase, impianto.fasi["SMD"])
    assert (fase.qta_prodotta, fase.qta_scarti, fase.stato) == (50, 2, "IN_CORSO")
    # R5: 100 planned − 50 good; the scrap is made up by producing more.
    assert svc._disponibile(db_session, fase) == 50
    # A later fase can take only what SMD produced.
    pth = db_session.get(Fase, impianto.fasi["PTH"])
    assert svc._disponibile(db_session, pth) == 50
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=51)
    assert refused.value.code == "QUANTITA_NON_DISPONIBILE"


def test_fase_completes_when_enough_good_pieces_and_nothing_open(db_session, erp, impianto):
    primo = apri(db_session, erp, impianto, qta=60).lotto
    secondo = apri(db_session, erp, impianto, macchina="SMD-2", qta=40).lotto
    svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=primo.id, qta_output=60)
    assert db_session.get(Fase, impianto.fasi["SMD"]).stato == "IN_CORSO"
    svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=secondo.id, qta_output=40)
    fase = db_session.get(Fase, impianto.fasi["SMD"])
    assert (fase.stato, fase.qta_prodotta) == ("COMPLETATA", 100)
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, qta=1)
    assert refused.value.code == "FASE_COMPLETATA"


@pytest.mark.parametrize(
    "modifica, codice",
    [
        (lambda s, imp: setattr(s.get(Fase, imp.fasi["SMD"]), "stato", "SOSPESA"), "FASE_SOSPESA"),
        (lambda s, imp: setattr(s.get(Macchina, imp.macchine["SMD-1"]), "attiva", False), "MACCHINA_NON_ATTIVA"),
        (
            lambda s, imp: setattr(s.scalar(select(ConfigCommessa)), "bloccata_documentazione", True),
            "BLOCCATA_DOCUMENTAZIONE",
        ),
        (
            lambda s, imp: setattr(
                s.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD")), "documenti_richiesti", ["PROGRAMMA_SMD"]
            ),
            "DOCUMENTI_MANCANTI",
        ),
    ],
)
def test_each_r4_condition_refuses_with_its_own_code(db_session, erp, impianto, modifica, codice):
    modifica(db_session, impianto)
    db_session.commit()
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto)
    assert refused.value.code == codice
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 0
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_APERTO")) == 0


def test_missing_documents_are_listed_in_the_refusal(db_session, erp, impianto):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    tipo.documenti_richiesti = ["PROGRAMMA_SMD", "SCHEMA_MONTAGGIO"]
    db_session.commit()
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto)
    assert "PROGRAMMA_SMD" in refused.value.text() and "SCHEMA_MONTAGGIO" in refused.value.text()


def test_machine_of_another_phase_and_busy_machine_are_refused(db_session, erp, impianto):
    with pytest.raises(RuleViolation) as wrong:
        apri(db_session, erp, impianto, macchina="PTH-1")
    assert wrong.value.code == "MACCHINA_FASE_DIVERSA"
    apri(db_session, erp, impianto)
    with pytest.raises(RuleViolation) as busy:
        apri(db_session, erp, impianto, qta=5)
    assert busy.value.code == "MACCHINA_OCCUPATA"


@pytest.mark.parametrize("qta", [0, -1, 101])
def test_quantity_out_of_availability_is_refused(db_session, erp, impianto, qta):
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, qta=qta)
    assert refused.value.code == "QUANTITA_NON_DISPONIBILE"


def test_operator_cannot_open_in_another_operators_name(db_session, erp, impianto):
    with pytest.raises(Forbidden):
        apri(db_session, erp, impianto, operatore_id=impianto.collega.utente_id)
    esito = apri(db_session, erp, impianto, actor=impianto.capo, operatore_id=impianto.collega.utente_id)
    assert esito.lotto.operatore_id == impianto.collega.utente_id


def test_a_supervisor_must_name_the_operator(db_session, erp, impianto):
    with pytest.raises(InvalidInput) as refused:
        apri(db_session, erp, impianto, actor=impianto.capo)
    assert list(refused.value.errors) == ["OperatoreID"]
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 0
    esito = apri(db_session, erp, impianto, actor=impianto.capo, operatore_id=impianto.operatore.utente_id)
    assert esito.lotto.operatore_id == impianto.operatore.utente_id
    # An operator acts as itself without naming anyone.
    assert apri(db_session, erp, impianto, macchina="SMD-2").lotto.operatore_id == impianto.operatore.utente_id


@pytest.mark.parametrize(
    "output, scarti, causale, campo",
    [
        (0, 0, None, "QtaOutput"),
        (8, 3, "SMD-PICK", "QtaOutput"),  # 11 > 10 in input
        (5, 1, None, "CausaleScarto"),
        (-1, 0, None, "QtaOutput"),
        (10, 0, "SMD-PICK", "CausaleScarto"),  # a reason without scrap (R7)
    ],
)
def test_r7_refusals_name_the_field_and_leave_the_lotto_open(db_session, erp, impianto, output, scarti, causale, campo):
    lotto = apri(db_session, erp, impianto).lotto
    with pytest.raises(svc.ChiusuraNonValida) as refused:
        svc.chiudi_lotto(
            db_session,
            actor=impianto.operatore,
            lotto_id=lotto.id,
            qta_output=output,
            qta_scarti=scarti,
            causale=causale,
        )
    assert campo in refused.value.errors
    db_session.rollback()
    assert db_session.get(Lotto, lotto.id).data_fine is None
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 0


def test_reason_of_another_phase_is_refused(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto).lotto
    with pytest.raises(RuleViolation) as refused:
        svc.chiudi_lotto(
            db_session, actor=impianto.operatore, lotto_id=lotto.id, qta_output=8, qta_scarti=2, causale="PTH-SALD"
        )
    assert refused.value.code == "CAUSALE_NON_VALIDA"


def test_closing_twice_is_refused(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto).lotto
    svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=lotto.id, qta_output=10)
    with pytest.raises(RuleViolation) as refused:
        svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=lotto.id, qta_output=10)
    assert refused.value.code == "LOTTO_GIA_CHIUSO"
    assert db_session.get(Fase, impianto.fasi["SMD"]).qta_prodotta == 10


def test_a_replayed_key_returns_the_first_result_and_creates_nothing(db_session, erp, impianto):
    primo = apri(db_session, erp, impianto, chiave="tap-1", impronta="apri")
    replica = apri(db_session, erp, impianto, chiave="tap-1", impronta="apri")
    assert replica.ripetuto and replica.lotto.id == primo.lotto.id
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1
    chiusura = svc.chiudi_lotto(
        db_session, actor=impianto.operatore, lotto_id=primo.lotto.id, qta_output=10, chiave="tap-2", impronta="chiudi"
    )
    di_nuovo = svc.chiudi_lotto(
        db_session, actor=impianto.operatore, lotto_id=primo.lotto.id, qta_output=10, chiave="tap-2", impronta="chiudi"
    )
    assert not chiusura.ripetuto and di_nuovo.ripetuto
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 1


def test_a_replayed_open_whose_lotto_was_closed_since_opens_nothing(db_session, erp, impianto):
    """R11 without a look-up first: the replay's work would succeed (the machine is free
    again), so only the key's UNIQUE constraint tells it is a replay — and it must then
    answer the first lotto, with nothing of the second attempt left behind."""
    primo = apri(db_session, erp, impianto, chiave="tap-1", impronta="apri").lotto
    svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=primo.id, qta_output=10)
    eventi = conta(db_session, "LOTTO_APERTO")
    replica = apri(db_session, erp, impianto, chiave="tap-1", impronta="apri")
    assert replica.ripetuto and replica.lotto.id == primo.id
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1
    assert conta(db_session, "LOTTO_APERTO") == eventi
    with pytest.raises(svc.ChiaveRiusata):
        apri(db_session, erp, impianto, qta=20, chiave="tap-1", impronta="apri 20")
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1


def test_an_order_remembered_for_another_fase_is_read_again(db_session, erp, impianto, monkeypatch):
    """The process remembers each fase's order; one remembered wrongly (a fase id given
    again to another order) is noticed under the lock and the fase's own order is read."""
    monkeypatch.setitem(svc._COMMESSE_DELLE_FASI, impianto.fasi["SMD"], 2)
    lotto = apri(db_session, erp, impianto).lotto
    commessa = erp.get(1)
    assert lotto.codice_lotto.startswith(f"{commessa.esercizio}-{commessa.numerocom}-SMD-")
    assert svc._COMMESSE_DELLE_FASI[impianto.fasi["SMD"]] == 1


def conta(session, azione: str) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == azione))


def test_a_key_is_refused_for_any_other_request(db_session, erp, impianto):
    """R11: a key belongs to one request; with another it answers ChiaveRiusata and does
    nothing — never the first request's result."""
    primo = apri(db_session, erp, impianto, chiave="k", impronta="apri SMD-1").lotto
    with pytest.raises(svc.ChiaveRiusata) as refused:
        svc.chiudi_lotto(
            db_session, actor=impianto.operatore, lotto_id=primo.id, qta_output=10, chiave="k", impronta="chiudi"
        )
    assert (refused.value.status, refused.value.code) == (422, "IDEMPOTENCY_KEY_RIUSATA")
    assert list(refused.value.errors) == ["Idempotency-Key"]
    with pytest.raises(svc.ChiaveRiusata):
        apri(db_session, erp, impianto, macchina="SMD-2", qta=5, chiave="k", impronta="apri SMD-2")
    db_session.rollback()
    assert db_session.get(Lotto, primo.id).data_fine is None
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1
    assert (conta(db_session, "LOTTO_APERTO"), conta(db_session, "LOTTO_CHIUSO")) == (1, 0)
    # The same key stays the first request's, and the same request still gets its result.
    assert apri(db_session, erp, impianto, chiave="k", impronta="apri SMD-1").lotto.id == primo.id
    # Another caller's key of the same name is another key.
    altro = apri(
        db_session, erp, impianto, macchina="SMD-2", qta=5, actor=impianto.collega, chiave="k", impronta="apri SMD-2"
    ).lotto
    assert altro.id != primo.id


def test_a_key_kept_before_fingerprints_replays_only_its_own_operation(db_session, erp, impianto):
    """Keys recorded before migration 0008 have Impronta '': what can still be told of
    their request (operation, fase, lotto) must match."""
    primo = apri(db_session, erp, impianto).lotto
    secondo = apri(db_session, erp, impianto, macchina="SMD-2", qta=5).lotto
    uid = impianto.operatore.utente_id
    db_session.add_all(
        [
            RichiestaEseguita(utente_id=uid, chiave="vecchia-apri", operazione="LOTTO_APERTO", entita_id=primo.id),
            RichiestaEseguita(utente_id=uid, chiave="vecchia-chiudi", operazione="LOTTO_CHIUSO", entita_id=secondo.id),
        ]
    )
    db_session.commit()
    assert apri(db_session, erp, impianto, chiave="vecchia-apri", impronta="x").lotto.id == primo.id
    with pytest.raises(svc.ChiaveRiusata):
        apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", chiave="vecchia-apri", impronta="x")
    with pytest.raises(svc.ChiaveRiusata):
        svc.chiudi_lotto(
            db_session, actor=impianto.operatore, lotto_id=primo.id, qta_output=10, chiave="vecchia-apri", impronta="x"
        )
    with pytest.raises(svc.ChiaveRiusata):
        svc.chiudi_lotto(
            db_session,
            actor=impianto.operatore,
            lotto_id=primo.id,
            qta_output=10,
            chiave="vecchia-chiudi",
            impronta="x",
        )
    assert conta(db_session, "LOTTO_CHIUSO") == 0


def test_a_key_needs_its_fingerprint(db_session, erp, impianto):
    with pytest.raises(ValueError):
        apri(db_session, erp, impianto, chiave="k")
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 0


def test_closing_needs_no_erp(app, db_session, erp, impianto, tmp_path):
    from sqlalchemy import create_engine

    from asigest.dialects import sqlite_readonly_url
    from asigest.erp import ErpGateway

    lotto = apri(db_session, erp, impianto).lotto
    assert not ErpGateway(create_engine(sqlite_readonly_url(tmp_path / "nessuno.db"))).ping()
    # chiudi_lotto takes no gateway at all: an unreachable ERP cannot stop a close.
    svc.chiudi_lotto(db_session, actor=impianto.operatore, lotto_id=lotto.id, qta_output=10)


# -- concurrency: each terminal its own thread, app context and session --------------------


def _in_parallelo(app, n, lavoro):
    """Run ``lavoro(i, session)`` in ``n`` threads released together; returns results/errors."""
    from asigest.extensions import db

    barriera = threading.Barrier(n)
    esiti: list = [None] * n

    def terminale(i):
        with app.app_context():
            barriera.wait()
            try:
                esiti[i] = lavoro(i, db.session)
            except Exception as exc:  # collected and asserted by the caller
                esiti[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=terminale, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return esiti


def test_twelve_terminals_opening_at_once_get_twelve_distinct_progressivi(app, db_session, erp, impianto):
    tipo_smd = db_session.get(Fase, impianto.fasi["SMD"]).fase_tipo_id
    ids = []
    for i in range(12):
        m = Macchina(codice=f"SMD-X{i}", descrizione="", fase_tipo_id=tipo_smd, attiva=True)
        db_session.add(m)
        db_session.flush()
        ids.append(m.id)
    db_session.commit()
    capo = impianto.capo

    def apri_su(i, session):
        return svc.apri_lotto(
            session,
            erp,
            actor=capo,
            fase_id=impianto.fasi["SMD"],
            macchina_id=ids[i],
            qta_input=5,
            operatore_id=impianto.operatore.utente_id,
        ).lotto.progressivo

    esiti = _in_parallelo(app, 12, apri_su)
    assert sorted(esiti) == list(range(1, 13)), esiti
    db_session.rollback()
    codici = db_session.scalars(select(Lotto.codice_lotto)).all()
    assert len(set(codici)) == 12


def test_ten_simultaneous_closes_of_one_lotto_give_one_success(app, db_session, erp, impianto):
    lotto_id = apri(db_session, erp, impianto).lotto.id
    operatore = impianto.operatore

    def chiudi(i, session):
        return svc.chiudi_lotto(session, actor=operatore, lotto_id=lotto_id, qta_output=10).lotto.id

    esiti = _in_parallelo(app, 10, chiudi)
    successi = [e for e in esiti if e == lotto_id]
    rifiuti = [e for e in esiti if isinstance(e, RuleViolation)]
    assert len(successi) == 1, esiti
    assert len(rifiuti) == 9 and all(r.code == "LOTTO_GIA_CHIUSO" for r in rifiuti)
    db_session.rollback()
    assert db_session.get(Fase, impianto.fasi["SMD"]).qta_prodotta == 10
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 1


def test_two_opens_on_one_machine_give_one_lotto(app, db_session, erp, impianto):
    operatore, collega = impianto.operatore, impianto.collega

    def apri_come(i, session):
        actor = operatore if i == 0 else collega
        return svc.apri_lotto(
            session,
            erp,
            actor=actor,
            fase_id=impianto.fasi["SMD"],
            macchina_id=impianto.macchine["SMD-1"],
            qta_input=10,
        ).lotto.id

    esiti = _in_parallelo(app, 2, apri_come)
    aperti = [e for e in esiti if isinstance(e, int)]
    rifiuti = [e for e in esiti if isinstance(e, RuleViolation)]
    assert len(aperti) == 1 and len(rifiuti) == 1, esiti
    assert rifiuti[0].code == "MACCHINA_OCCUPATA"


def test_one_key_on_two_fasi_at_the_same_instant_makes_one_lotto_and_one_refusal(app, db_session, erp, impianto):
    """Two different requests with one key lock different fasi and run side by side:
    UNIQUE(UtenteID, Chiave) lets one commit; the other, retried, finds the key with
    another fingerprint — ChiaveRiusata, never the other's lotto."""
    svc.chiudi_lotto(
        db_session, actor=impianto.operatore, lotto_id=apri(db_session, erp, impianto, qta=60).lotto.id, qta_output=60
    )
    operatore = impianto.operatore
    richieste = [("SMD", "SMD-1"), ("PTH", "PTH-1")]
    for giro in range(4):
        chiave = f"stessa-{giro}"

        def tocca(i, session, chiave=chiave):
            fase, macchina = richieste[i]
            return svc.apri_lotto(
                session,
                erp,
                actor=operatore,
                fase_id=impianto.fasi[fase],
                macchina_id=impianto.macchine[macchina],
                qta_input=5,
                chiave=chiave,
                impronta=f"apri {macchina}",
            ).lotto.id

        esiti = _in_parallelo(app, 2, tocca)
        aperti = [e for e in esiti if isinstance(e, int)]
        rifiuti = [e for e in esiti if isinstance(e, svc.ChiaveRiusata)]
        assert len(aperti) == 1 and len(rifiuti) == 1, (giro, esiti)
        db_session.rollback()
        lotto = db_session.get(Lotto, aperti[0])
        svc.chiudi_lotto(db_session, actor=operatore, lotto_id=lotto.id, qta_output=5)
    assert conta(db_session, "LOTTO_APERTO") == 1 + 4


def test_double_tap_at_the_same_instant_creates_one_lotto(app, db_session, erp, impianto):
    operatore = impianto.operatore

    def tocca(i, session):
        return svc.apri_lotto(
            session,
            erp,
            actor=operatore,
            fase_id=impianto.fasi["SMD"],
            macchina_id=impianto.macchine["SMD-1"],
            qta_input=10,
            chiave="stesso-tocco",
            impronta="tocco",
        ).lotto.id

    esiti = _in_parallelo(app, 2, tocca)
    assert esiti[0] == esiti[1] and isinstance(esiti[0], int), esiti
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1


def test_writes_take_the_sqlite_write_lock_at_begin(app, db_session, erp, impianto):
    """On SQLite a write that starts as a plain BEGIN fails at once when another worker
    committed after its first read; the operation must begin IMMEDIATE instead."""
    from sqlalchemy import event

    from asigest.extensions import db

    engine = db.engines[None]
    if engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's; PostgreSQL locks the fase row")
    seen: list[str] = []
    listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        apri(db_session, erp, impianto)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins and begins[0] == "BEGIN IMMEDIATE"


def test_a_database_that_stays_locked_answers_try_again_not_500(db_session, erp, impianto, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from asigest.errors import Conflict
    from asigest.services import uow

    def sempre_bloccato(session, operazione, **kwargs):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    # The retry loop every write goes through (uow.con_riprova_o_conflitto calls it).
    monkeypatch.setattr(uow, "con_riprova", sempre_bloccato)
    with pytest.raises(Conflict) as refused:
        apri(db_session, erp, impianto)
    assert refused.value.code == "RIPROVARE"


# -- an ERP that does not answer never holds the write ----------------------------------------


@pytest.fixture
def erp_bloccato(erp_file, tmp_path):
    """A gateway on a copy of the ERP whose file another process holds locked (BEGIN
    EXCLUSIVE on its rollback journal): every read waits the engine's 1.5 s timeout."""
    import shutil
    import sqlite3

    from sqlalchemy import create_engine

    from asigest.dialects import configure_erp_engine, erp_engine_options, sqlite_readonly_url
    from asigest.erp import ErpGateway

    copia = tmp_path / "erp_bloccato.db"
    shutil.copy(erp_file, copia)
    blocco = sqlite3.connect(copia, isolation_level=None)
    assert blocco.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    blocco.execute("BEGIN EXCLUSIVE")
    url = sqlite_readonly_url(copia)
    engine = create_engine(url, **erp_engine_options(url, 1.5))
    configure_erp_engine(engine)
    yield ErpGateway(engine)
    blocco.rollback()
    blocco.close()
    engine.dispose()


def test_an_open_waiting_on_the_erp_does_not_hold_up_a_close(app, db_session, erp, impianto, erp_bloccato):
    """The ERP is read before the write begins: while an open waits on a locked ERP, a
    close in the same fase (which needs no ERP) is not queued behind it."""
    import time

    from asigest.errors import ErpUnavailable

    lotto_id = apri(db_session, erp, impianto, macchina="SMD-2").lotto.id
    db_session.commit()
    partito = threading.Event()

    def lavoro(i, session):
        if i == 0:
            partito.set()
            return apri(session, erp_bloccato, impianto)
        partito.wait()
        time.sleep(0.3)  # the open is now waiting on the ERP
        inizio = time.monotonic()
        svc.chiudi_lotto(session, actor=impianto.collega, lotto_id=lotto_id, qta_output=10)
        return time.monotonic() - inizio

    apertura, durata_chiusura = _in_parallelo(app, 2, lavoro)
    assert isinstance(apertura, ErpUnavailable)
    assert durata_chiusura < 0.8, f"la chiusura ha aspettato l'ERP: {durata_chiusura:.2f} s"


def test_a_replayed_open_gets_its_lotto_while_the_erp_does_not_answer(db_session, erp, impianto, erp_bloccato):
    """The replay is answered before the ERP failure: the line software's retry learns
    its lotto was opened instead of a 503."""
    primo = apri(db_session, erp, impianto, chiave="K-1", impronta="apri fase 1")
    replica = apri(db_session, erp_bloccato, impianto, chiave="K-1", impronta="apri fase 1")
    assert replica.ripetuto and replica.lotto.id == primo.lotto.id


# -- R8: a later fase that can never get another piece completes ---------------------------


def _chiudi(session, imp, lotto, output, scarti=0, causale=None):
    return svc.chiudi_lotto(
        session, actor=imp.operatore, lotto_id=lotto.id, qta_output=output, qta_scarti=scarti, causale=causale
    )


def _stati(session, imp):
    session.expire_all()
    return {k: session.get(Fase, v).stato for k, v in imp.fasi.items()}


def test_a_later_fase_completes_short_when_its_scrap_can_never_be_made_up(db_session, erp, impianto):
    _chiudi(db_session, impianto, apri(db_session, erp, impianto, qta=100).lotto, 100)
    pth = apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=100).lotto
    _chiudi(db_session, impianto, pth, 94, 6, "PTH-SALD")
    # SMD is complete, PTH has 0 available and nothing open: 94/100 is all it will ever make.
    assert _stati(db_session, impianto) == {"SMD": "COMPLETATA", "PTH": "COMPLETATA", "CONTROLLI": "APERTA"}
    assert db_session.get(Fase, impianto.fasi["PTH"]).data_chiusura is not None
    controlli = apri(db_session, erp, impianto, fase="CONTROLLI", macchina="CTRL-1", qta=94).lotto
    _chiudi(db_session, impianto, controlli, 94)
    assert _stati(db_session, impianto)["CONTROLLI"] == "COMPLETATA"


def test_a_later_fase_waits_while_upstream_may_still_produce_or_a_lotto_is_open(db_session, erp, impianto):
    smd = apri(db_session, erp, impianto, qta=50).lotto
    _chiudi(db_session, impianto, smd, 50)
    pth = apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=50).lotto
    _chiudi(db_session, impianto, pth, 50)
    # SMD can still make 50 more: PTH, with 0 available now, is not done.
    assert _stati(db_session, impianto)["PTH"] == "IN_CORSO"
    ultimo_smd = apri(db_session, erp, impianto, qta=50).lotto
    _chiudi(db_session, impianto, ultimo_smd, 50)
    aperto = apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=48).lotto
    assert _stati(db_session, impianto)["PTH"] == "IN_CORSO"  # a lotto is open: never completed under it
    _chiudi(db_session, impianto, aperto, 46, 2, "PTH-SALD")
    # 2 pieces still wait for PTH: it is not exhausted.
    assert _stati(db_session, impianto)["PTH"] == "IN_CORSO"


def test_completing_a_fase_by_hand_completes_the_exhausted_ones_after_it(db_session, erp, impianto):
    from asigest.services import rettifiche

    _chiudi(db_session, impianto, apri(db_session, erp, impianto, qta=60).lotto, 60)
    _chiudi(db_session, impianto, apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=60).lotto, 60)
    db_session.get(Fase, impianto.fasi["CONTROLLI"]).stato = "SOSPESA"
    db_session.commit()
    assert _stati(db_session, impianto)["PTH"] == "IN_CORSO"
    rettifiche.cambia_stato_fase(
        db_session, actor=impianto.capo, fase_id=impianto.fasi["SMD"], stato="COMPLETATA", motivo="Ordine ridotto"
    )
    # PTH took all 60 SMD made: done. CONTROLLI is suspended: the supervisor's to decide.
    assert _stati(db_session, impianto) == {"SMD": "COMPLETATA", "PTH": "COMPLETATA", "CONTROLLI": "SOSPESA"}


def test_a_correction_that_uses_up_the_last_pieces_completes_the_later_fase(db_session, erp, impianto):
    from asigest.services import rettifiche

    _chiudi(db_session, impianto, apri(db_session, erp, impianto, qta=100).lotto, 100)
    pth = apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=100).lotto
    _chiudi(db_session, impianto, pth, 94)  # 6 pieces not counted go back to PTH
    assert _stati(db_session, impianto)["PTH"] == "IN_CORSO"
    rettifiche.rettifica_lotto(
        db_session,
        actor=impianto.capo,
        lotto_id=pth.id,
        qta_output=94,
        qta_scarti=6,
        causale="PTH-SALD",
        motivo="I 6 mancanti erano scarti",
    )
    assert _stati(db_session, impianto)["PTH"] == "COMPLETATA"
