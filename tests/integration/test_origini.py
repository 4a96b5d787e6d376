"""R14 — the draws (LottiOrigini): FIFO by default, named sources first, given back
newest first, kept whole by closes, corrections and cancellations, and safe with
terminals opening at the same instant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from asigest.errors import InvalidInput, RuleViolation
from asigest.models import ConfigCommessa, Fase, FaseTipo, LogEvento, Lotto, LottoOrigine, Macchina
from asigest.services import lotti as svc
from asigest.services import origini, rettifiche
from tests.integration.test_lotti import T0, _in_parallelo, apri, impianto


def chiudi(session, imp, lotto, output, scarti=0, causale=None, ore=1):
    return svc.chiudi_lotto(
        session,
        actor=imp.operatore,
        lotto_id=lotto.id,
        qta_output=output,
        qta_scarti=scarti,
        causale=causale,
        adesso=T0 + timedelta(hours=ore),
    ).lotto


def sorgente(session, erp, imp, *, qta, output, ore, macchina="SMD-1", fase="SMD"):
    """A lotto opened and closed ``ore`` hours after T0 (its place in the FIFO)."""
    lotto = apri(session, erp, imp, fase=fase, macchina=macchina, qta=qta, adesso=T0 + timedelta(hours=ore - 1)).lotto
    return chiudi(session, imp, lotto, output, ore=ore)


def tirati(session, lotto_id) -> list[tuple[str, int]]:
    """A lotto's draws as (source CodiceLotto, Qta), oldest draw first."""
    session.rollback()
    return [(d["CodiceLotto"], d["Qta"]) for d in origini.origini_dict(session, lotto_id)]


def invarianti(session):
    session.rollback()
    assert origini.violazioni(session) == []


@pytest.fixture
def tre_sorgenti(db_session, erp, impianto):
    """Three closed SMD lotti: 2026-1001-SMD-001 (20 pieces, oldest), -002 (30), -003 (25,
    newest); and a second PTH machine, PTH-2."""
    tipo = db_session.get(Fase, impianto.fasi["PTH"]).fase_tipo_id
    macchina = Macchina(codice="PTH-2", descrizione="PTH-2", fase_tipo_id=tipo, attiva=True)
    db_session.add(macchina)
    db_session.commit()
    impianto.macchine["PTH-2"] = macchina.id
    a = sorgente(db_session, erp, impianto, qta=20, output=20, ore=1)
    b = sorgente(db_session, erp, impianto, qta=30, output=30, ore=2, macchina="SMD-2")
    c = sorgente(db_session, erp, impianto, qta=25, output=25, ore=3)
    return a, b, c


def pth(session, erp, imp, qta, **kw):
    return apri(session, erp, imp, fase="PTH", macchina="PTH-1", qta=qta, adesso=T0 + timedelta(hours=5), **kw).lotto


# -- opening ---------------------------------------------------------------------------


def test_the_first_phase_draws_nothing(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto, qta=10).lotto
    assert tirati(db_session, lotto.id) == []
    invarianti(db_session)


@pytest.mark.parametrize("indovinata", ["nessuna", "sbagliata", "giusta"])
def test_the_sources_read_with_the_flow_are_used_only_for_the_fase_the_flow_names(
    db_session, erp, impianto, tre_sorgenti, indovinata
):
    """An open reads R14's sources with the order's fasi for the fase this process
    remembers before the opening one; whatever it remembers (nothing, another fase, the
    right one), the lotto draws FIFO from the fase the flow read under the lock names."""
    pth_id, smd_id = impianto.fasi["PTH"], impianto.fasi["SMD"]
    ricordata = {"nessuna": None, "sbagliata": pth_id, "giusta": smd_id}[indovinata]
    svc._PRECEDENTI.pop(pth_id, None)
    if ricordata is not None:
        svc._PRECEDENTI[pth_id] = ricordata
    lotto = pth(db_session, erp, impianto, 35)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 15)]
    assert svc._PRECEDENTI[pth_id] == smd_id
    invarianti(db_session)


def test_a_later_phase_draws_fifo_from_the_oldest_closed_sources(db_session, erp, impianto, tre_sorgenti):
    lotto = pth(db_session, erp, impianto, 35)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 15)]
    # The next lotto takes up where the first stopped.
    secondo = apri(
        db_session, erp, impianto, fase="PTH", macchina="PTH-2", qta=30, adesso=T0 + timedelta(hours=6)
    ).lotto
    assert tirati(db_session, secondo.id) == [("2026-1001-SMD-002", 15), ("2026-1001-SMD-003", 15)]
    invarianti(db_session)


def test_an_open_source_is_never_drawn(db_session, erp, impianto):
    sorgente(db_session, erp, impianto, qta=20, output=20, ore=1)
    apri(db_session, erp, impianto, macchina="SMD-2", qta=50, adesso=T0 + timedelta(hours=2))
    lotto = pth(db_session, erp, impianto, 20)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20)]
    invarianti(db_session)


def test_named_sources_are_drawn_first_then_fifo(db_session, erp, impianto, tre_sorgenti):
    scelte = [origini.Scelta("2026-1001-smd-003", 10), origini.Scelta("2026-1001-SMD-002")]
    lotto = pth(db_session, erp, impianto, 70, origini=scelte)
    # -003: the 10 asked; -002: all it has (30); then FIFO: -001 (20), and -003's last 10.
    assert tirati(db_session, lotto.id) == [
        ("2026-1001-SMD-003", 20),
        ("2026-1001-SMD-002", 30),
        ("2026-1001-SMD-001", 20),
    ]
    invarianti(db_session)


def test_the_open_is_audited_with_its_draws(db_session, erp, impianto, tre_sorgenti):
    lotto = pth(db_session, erp, impianto, 25)
    db_session.rollback()
    evento = db_session.scalar(
        select(LogEvento).where(LogEvento.azione == "LOTTO_APERTO", LogEvento.entita_id == lotto.id)
    )
    assert evento.dettagli["dopo"]["Origini"] == [
        {"CodiceLotto": "2026-1001-SMD-001", "Qta": 20},
        {"CodiceLotto": "2026-1001-SMD-002", "Qta": 5},
    ]


@pytest.mark.parametrize(
    "scelte, codice",
    [
        ([("2026-9999-SMD-001", 5)], "ORIGINE_SCONOSCIUTA"),
        ([("2026-1001-PTH-001", 5)], "ORIGINE_FASE_SBAGLIATA"),
        ([("2026-1001-SMD-004", 5)], "ORIGINE_APERTA"),
        ([("2026-1001-SMD-001", 21)], "ORIGINE_INSUFFICIENTE"),
        ([("2026-1001-SMD-001", 5), ("2026-1001-SMD-001", 5)], "ORIGINE_RIPETUTA"),
        ([("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 30)], "ORIGINI_OLTRE_QUANTITA"),
    ],
)
def test_a_named_source_that_cannot_give_is_refused_and_nothing_changes(
    db_session, erp, impianto, tre_sorgenti, scelte, codice
):
    # A PTH lotto (the wrong phase for a PTH source) and an open SMD lotto.
    pth(db_session, erp, impianto, 5)
    apri(db_session, erp, impianto, macchina="SMD-2", qta=5, adesso=T0 + timedelta(hours=4))
    db_session.rollback()
    lotti_prima = db_session.scalar(select(func.count()).select_from(Lotto))
    with pytest.raises(InvalidInput) as refused:
        apri(
            db_session,
            erp,
            impianto,
            fase="PTH",
            macchina="PTH-2",
            qta=40,
            origini=[origini.Scelta(c, q) for c, q in scelte],
        )
    assert refused.value.code == codice and refused.value.status == 422
    assert "Origini" in refused.value.errors
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == lotti_prima
    invarianti(db_session)


def test_a_source_of_another_order_is_refused(db_session, erp, impianto, tre_sorgenti):
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(ConfigCommessa(commessa_erp_id=2, flag_smd=True, flag_pth=True, flag_controlli=False, qta_erp=100))
    smd2 = Fase(commessa_erp_id=2, fase_tipo_id=tipi["SMD"].id, stato="APERTA", qta_prevista=100)
    db_session.add_all([smd2, Fase(commessa_erp_id=2, fase_tipo_id=tipi["PTH"].id, stato="APERTA", qta_prevista=100)])
    db_session.commit()
    altro = svc.apri_lotto(
        db_session,
        erp,
        actor=impianto.operatore,
        fase_id=smd2.id,
        macchina_id=impianto.macchine["SMD-2"],
        qta_input=10,
        adesso=T0 + timedelta(hours=3),
    ).lotto
    chiudi(db_session, impianto, altro, 10, ore=4)
    with pytest.raises(InvalidInput) as refused:
        pth(db_session, erp, impianto, 10, origini=[origini.Scelta("2026-1002-SMD-001", 5)])
    assert refused.value.code == "ORIGINE_ALTRA_COMMESSA"


def test_an_exhausted_source_is_refused(db_session, erp, impianto, tre_sorgenti):
    pth(db_session, erp, impianto, 20)
    with pytest.raises(InvalidInput) as refused:
        apri(
            db_session,
            erp,
            impianto,
            fase="PTH",
            macchina="PTH-2",
            qta=5,
            origini=[origini.Scelta("2026-1001-SMD-001")],
        )
    assert refused.value.code == "ORIGINE_ESAURITA"


def test_sources_named_for_the_first_phase_are_refused(db_session, erp, impianto):
    with pytest.raises(InvalidInput) as refused:
        apri(db_session, erp, impianto, qta=5, origini=[origini.Scelta("2026-1001-SMD-001", 1)])
    assert refused.value.code == "ORIGINI_PRIMA_FASE"


# -- closing, correcting, cancelling -----------------------------------------------------


def test_a_short_close_gives_the_remainder_back_newest_draw_first(db_session, erp, impianto, tre_sorgenti):
    lotto = pth(db_session, erp, impianto, 60)
    assert tirati(db_session, lotto.id) == [
        ("2026-1001-SMD-001", 20),
        ("2026-1001-SMD-002", 30),
        ("2026-1001-SMD-003", 10),
    ]
    chiudi(db_session, impianto, lotto, 40, 2, "PTH-SALD", ore=6)
    # 18 given back: all 10 of -003, then 8 of -002.
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 22)]
    evento = db_session.scalar(
        select(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO", LogEvento.entita_id == lotto.id)
    )
    assert evento.dettagli["prima"]["Origini"][-1] == {"CodiceLotto": "2026-1001-SMD-003", "Qta": 10}
    assert evento.dettagli["dopo"]["Origini"][-1] == {"CodiceLotto": "2026-1001-SMD-002", "Qta": 22}
    # What was given back is drawn by the next lotto.
    altro = apri(db_session, erp, impianto, fase="PTH", macchina="PTH-2", qta=33, adesso=T0 + timedelta(hours=7)).lotto
    assert tirati(db_session, altro.id) == [("2026-1001-SMD-002", 8), ("2026-1001-SMD-003", 25)]
    invarianti(db_session)


def rettifica(session, imp, lotto_id, output, scarti=0, causale=None):
    return rettifiche.rettifica_lotto(
        session,
        actor=imp.capo,
        lotto_id=lotto_id,
        qta_output=output,
        qta_scarti=scarti,
        causale=causale,
        motivo="Ricontati",
    )


def test_a_correction_keeps_the_draws_equal_to_what_the_lotto_consumes(db_session, erp, impianto, tre_sorgenti):
    lotto = chiudi(db_session, impianto, pth(db_session, erp, impianto, 50), 40, ore=6)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 20)]
    rettifica(db_session, impianto, lotto.id, 30)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 10)]
    rettifica(db_session, impianto, lotto.id, 45, 3, "PTH-SALD")
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 28)]
    evento = db_session.scalars(
        select(LogEvento).where(LogEvento.azione == "LOTTO_RETTIFICATO").order_by(LogEvento.id.desc()).limit(1)
    ).one()
    assert evento.dettagli["prima"]["Origini"][-1]["Qta"] == 10
    assert evento.dettagli["dopo"]["Origini"][-1]["Qta"] == 28
    invarianti(db_session)


def test_a_source_cannot_be_corrected_below_what_it_gave(db_session, erp, impianto, tre_sorgenti):
    a, _, _ = tre_sorgenti
    lotto = chiudi(db_session, impianto, pth(db_session, erp, impianto, 30), 30, ore=6)
    db_session.rollback()
    log_prima = db_session.scalar(select(func.count()).select_from(LogEvento))
    # -001 gave its 20 pieces to the PTH lotto: 19 good would leave a piece from nowhere,
    # even though the other SMD lotti still have pieces to give.
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, a.id, 19, 1, "SMD-PICK")
    assert refused.value.code == "RETTIFICA_SOTTO_PRELIEVI"
    assert "2026-1001-PTH-001" in refused.value.text() and "20" in refused.value.text()
    db_session.rollback()
    assert db_session.get(Lotto, a.id).qta_output == 20
    assert db_session.scalar(select(func.count()).select_from(LogEvento)) == log_prima
    # After the PTH lotto gives some back, the source may go down.
    rettifica(db_session, impianto, lotto.id, 25)
    assert tirati(db_session, lotto.id) == [("2026-1001-SMD-001", 20), ("2026-1001-SMD-002", 5)]
    invarianti(db_session)


def test_a_cancelled_lotto_gives_its_pieces_back(db_session, erp, impianto, tre_sorgenti):
    lotto = pth(db_session, erp, impianto, 30)
    evento = rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=lotto.id, motivo="Aperto per errore")
    assert evento["Origini"] == [
        {"CodiceLotto": "2026-1001-SMD-001", "Qta": 20},
        {"CodiceLotto": "2026-1001-SMD-002", "Qta": 10},
    ]
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(LottoOrigine)) == 0
    nuovo = pth(db_session, erp, impianto, 20)
    assert tirati(db_session, nuovo.id) == [("2026-1001-SMD-001", 20)]
    invarianti(db_session)


def test_controlli_draws_from_pth_not_from_smd(db_session, erp, impianto, tre_sorgenti):
    lotto = chiudi(db_session, impianto, pth(db_session, erp, impianto, 40), 38, 2, "PTH-SALD", ore=6)
    ctrl = apri(
        db_session, erp, impianto, fase="CONTROLLI", macchina="CTRL-1", qta=38, adesso=T0 + timedelta(hours=7)
    ).lotto
    assert tirati(db_session, ctrl.id) == [(lotto.codice_lotto, 38)]
    invarianti(db_session)


# -- terminals at the same instant -------------------------------------------------------


def test_terminals_opening_at_once_never_share_a_sources_last_pieces(app, db_session, erp, impianto, tre_sorgenti):
    """Eight PTH terminals open 10 pieces each at the same instant from 75 SMD pieces:
    seven get their lotto, drawn from sources that never give more than they made."""
    tipo = db_session.get(Fase, impianto.fasi["PTH"]).fase_tipo_id
    ids = []
    for i in range(8):
        m = Macchina(codice=f"PTH-X{i}", descrizione="", fase_tipo_id=tipo, attiva=True)
        db_session.add(m)
        db_session.flush()
        ids.append(m.id)
    db_session.commit()
    operatore = impianto.operatore
    # Two name the newest source: FIFO reaches it only once the older ones are empty.
    scelte = [None, [origini.Scelta("2026-1001-SMD-003", 10)], None, None] * 2

    def apri_su(i, session):
        return svc.apri_lotto(
            session,
            erp,
            actor=operatore,
            fase_id=impianto.fasi["PTH"],
            macchina_id=ids[i],
            qta_input=10,
            origini=scelte[i],
            adesso=T0 + timedelta(hours=5),
        ).lotto.id

    esiti = _in_parallelo(app, 8, apri_su)
    aperti = [e for e in esiti if isinstance(e, int)]
    rifiutati = [e for e in esiti if not isinstance(e, int)]
    # 75 pieces: seven lotti of 10; the last to go finds 5.
    assert len(aperti) == 7, esiti
    assert [e.code for e in rifiutati] == ["QUANTITA_NON_DISPONIBILE"], esiti
    db_session.rollback()
    assert db_session.scalar(select(func.sum(LottoOrigine.qta))) == 70
    invarianti(db_session)


# -- history ---------------------------------------------------------------------------


def test_the_origini_command_rebuilds_missing_draws_and_says_so(app, db_session, erp, impianto, tre_sorgenti):
    """``flask --app wsgi origini``: what an installation migrated by an offline SQL script runs."""
    lotto = chiudi(db_session, impianto, pth(db_session, erp, impianto, 40), 35, ore=6)
    attesi = tirati(db_session, lotto.id)
    db_session.execute(LottoOrigine.__table__.delete())
    db_session.commit()
    esito = app.test_cli_runner().invoke(args=["origini"])
    assert esito.exit_code == 0, esito.output
    assert "2 prelievi ricostruiti per 1 lotti" in esito.output and "tutti i pezzi collocati" in esito.output
    assert tirati(db_session, lotto.id) == attesi
    # Run again, it leaves the draws as they are.
    assert "0 prelievi" in app.test_cli_runner().invoke(args=["origini"]).output
    invarianti(db_session)
