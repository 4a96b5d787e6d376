"""A supervisor's hand corrections: fase states (R8 by hand), lotto corrections (R10) and
cancelling a lotto opened by mistake — every refusal leaves data and audit log untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from asigest.errors import InvalidInput, NotFound, RuleViolation
from asigest.models import CausaleScarto, Fase, LogEvento, Lotto, LottoOrigine, RichiestaEseguita
from asigest.services import lotti as svc
from asigest.services import rettifiche
from tests.integration.test_lotti import T0, _in_parallelo, apri, impianto


def chiudi(session, imp, lotto, output, scarti=0, causale=None):
    return svc.chiudi_lotto(
        session,
        actor=imp.operatore,
        lotto_id=lotto.id,
        qta_output=output,
        qta_scarti=scarti,
        causale=causale,
        adesso=T0 + timedelta(hours=1),
    ).lotto


def lotto_chiuso(session, erp, imp, *, fase="SMD", macchina="SMD-1", qta=60, output=50, scarti=0, causale=None):
    lotto = apri(session, erp, imp, fase=fase, macchina=macchina, qta=qta).lotto
    return chiudi(session, imp, lotto, output, scarti, causale)


def rettifica(session, imp, lotto_id, output, scarti=0, causale=None, motivo="Conteggio sbagliato", **kw):
    return rettifiche.rettifica_lotto(
        session,
        actor=imp.capo,
        lotto_id=lotto_id,
        qta_output=output,
        qta_scarti=scarti,
        causale=causale,
        motivo=motivo,
        **kw,
    )


def stato(session, imp, fase, nuovo, motivo="Manca materiale", **kw):
    return rettifiche.cambia_stato_fase(
        session, actor=imp.capo, fase_id=imp.fasi[fase], stato=nuovo, motivo=motivo, **kw
    )


def eventi(session, azione):
    session.rollback()
    return session.scalars(select(LogEvento).where(LogEvento.azione == azione).order_by(LogEvento.id)).all()


def fotografia(session):
    """Everything a refused operation must leave as it was."""
    session.rollback()
    fasi = [
        (f.id, f.stato, f.qta_prodotta, f.qta_scarti, f.data_apertura, f.data_chiusura)
        for f in session.scalars(select(Fase).order_by(Fase.id))
    ]
    lotti = [
        (x.id, x.data_fine, x.qta_output, x.qta_scarti, x.causale_id)
        for x in session.scalars(select(Lotto).order_by(Lotto.id))
    ]
    log = session.scalar(select(func.count()).select_from(LogEvento))
    return fasi, lotti, log


def fase_di(session, imp, codice="SMD"):
    session.rollback()
    return session.get(Fase, imp.fasi[codice])


def metti(session, imp, codice, stato_fase):
    fase = session.get(Fase, imp.fasi[codice])
    fase.stato = stato_fase
    session.commit()


# -- fase states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "da, lotti, chiesto, atteso",
    [
        ("APERTA", "nessuno", "SOSPESA", "SOSPESA"),
        ("IN_CORSO", "aperto", "SOSPESA", "SOSPESA"),
        ("SOSPESA", "nessuno", "SOSPESA", "STATO_INVARIATO"),
        ("COMPLETATA", "chiuso", "SOSPESA", "FASE_COMPLETATA"),
        ("APERTA", "nessuno", "COMPLETATA", "COMPLETATA"),
        ("IN_CORSO", "chiuso", "COMPLETATA", "COMPLETATA"),
        ("SOSPESA", "chiuso", "COMPLETATA", "COMPLETATA"),
        ("IN_CORSO", "aperto", "COMPLETATA", "FASE_LOTTI_APERTI"),
        ("SOSPESA", "aperto", "COMPLETATA", "FASE_LOTTI_APERTI"),
        ("COMPLETATA", "chiuso", "COMPLETATA", "STATO_INVARIATO"),
        ("SOSPESA", "nessuno", "IN_CORSO", "APERTA"),
        ("SOSPESA", "aperto", "IN_CORSO", "IN_CORSO"),
        ("SOSPESA", "chiuso", "APERTA", "IN_CORSO"),
        ("COMPLETATA", "chiuso", "IN_CORSO", "IN_CORSO"),
        ("COMPLETATA", "nessuno", "APERTA", "APERTA"),
        ("APERTA", "nessuno", "IN_CORSO", "STATO_INVARIATO"),
        ("IN_CORSO", "chiuso", "APERTA", "STATO_INVARIATO"),
        ("IN_CORSO", "aperto", "IN_CORSO", "STATO_INVARIATO"),
    ],
)
def test_phase_transitions(db_session, erp, impianto, da, lotti, chiesto, atteso):
    if lotti == "aperto":
        apri(db_session, erp, impianto, qta=10)
    elif lotti == "chiuso":
        lotto_chiuso(db_session, erp, impianto, qta=10, output=10)
    metti(db_session, impianto, "SMD", da)
    if atteso in ("SOSPESA", "COMPLETATA", "APERTA", "IN_CORSO"):
        fase = stato(db_session, impianto, "SMD", chiesto, adesso=T0 + timedelta(days=1))
        assert fase.stato == atteso
        assert fase_di(db_session, impianto).stato == atteso
        [evento] = eventi(db_session, "FASE_STATO_MODIFICATO")
        assert evento.entita == "Fasi" and evento.entita_id == impianto.fasi["SMD"]
        assert evento.dettagli["prima"]["Stato"] == da and evento.dettagli["dopo"]["Stato"] == atteso
        assert evento.dettagli["motivo"] == "Manca materiale"
        assert evento.utente_id == impianto.capo.utente_id
    else:
        prima = fotografia(db_session)
        with pytest.raises(RuleViolation) as refused:
            stato(db_session, impianto, "SMD", chiesto)
        assert refused.value.code == atteso
        assert fotografia(db_session) == prima


def test_completing_short_sets_the_closing_date_and_reopening_clears_it(db_session, erp, impianto):
    lotto_chiuso(db_session, erp, impianto, qta=40, output=40)
    quando = T0 + timedelta(days=2)
    fase = stato(db_session, impianto, "SMD", "COMPLETATA", motivo="Cliente ha ridotto l'ordine", adesso=quando)
    assert (fase.stato, fase.qta_prodotta, fase.qta_prevista, fase.data_chiusura) == ("COMPLETATA", 40, 100, quando)
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, qta=10)
    assert refused.value.code == "FASE_COMPLETATA"
    fase = stato(db_session, impianto, "SMD", "IN_CORSO", motivo="Riprendiamo")
    assert (fase.stato, fase.data_chiusura) == ("IN_CORSO", None)
    chiusura, riapertura = eventi(db_session, "FASE_STATO_MODIFICATO")
    assert chiusura.dettagli["prima"] == {"Stato": "IN_CORSO", "DataChiusura": None}
    assert chiusura.dettagli["dopo"] == {"Stato": "COMPLETATA", "DataChiusura": quando.isoformat()}
    assert riapertura.dettagli["prima"]["DataChiusura"] == quando.isoformat()
    assert riapertura.dettagli["motivo"] == "Riprendiamo"
    assert apri(db_session, erp, impianto, qta=10).lotto.progressivo == 2


def test_suspended_fase_refuses_new_lotti_but_open_ones_still_close(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto, qta=10).lotto
    stato(db_session, impianto, "SMD", "SOSPESA")
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, macchina="SMD-2", qta=10)
    assert refused.value.code == "FASE_SOSPESA"
    chiudi(db_session, impianto, lotto, 10)
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.qta_prodotta) == ("SOSPESA", 10)


@pytest.mark.parametrize("motivo", [None, "", "   ", "x" * 501, 42])
def test_state_change_needs_a_reason(db_session, erp, impianto, motivo):
    prima = fotografia(db_session)
    with pytest.raises(InvalidInput) as refused:
        stato(db_session, impianto, "SMD", "SOSPESA", motivo=motivo)
    assert list(refused.value.errors) == ["Motivo"]
    assert fotografia(db_session) == prima


def test_reason_is_stored_stripped(db_session, erp, impianto):
    stato(db_session, impianto, "SMD", "SOSPESA", motivo="  " + "m" * 500 + "\n")
    assert eventi(db_session, "FASE_STATO_MODIFICATO")[0].dettagli["motivo"] == "m" * 500


@pytest.mark.parametrize("chiesto", ["CHIUSA", "sospesa", ""])
def test_unknown_state_is_invalid_input(db_session, erp, impianto, chiesto):
    prima = fotografia(db_session)
    with pytest.raises(InvalidInput) as refused:
        stato(db_session, impianto, "SMD", chiesto)
    assert list(refused.value.errors) == ["Stato"]
    assert fotografia(db_session) == prima


@pytest.mark.parametrize("fase_id", [999_999, 2**31, 0])
def test_unknown_fase_is_not_found(db_session, impianto, fase_id):
    with pytest.raises(NotFound):
        rettifiche.cambia_stato_fase(db_session, actor=impianto.capo, fase_id=fase_id, stato="SOSPESA", motivo="x")


def test_offered_transitions_match_what_the_service_accepts():
    assert rettifiche.transizioni("APERTA") == ("SOSPESA", "COMPLETATA")
    assert rettifiche.transizioni("IN_CORSO", lotti_aperti=2) == ("SOSPESA",)
    assert rettifiche.transizioni("SOSPESA") == ("IN_CORSO", "COMPLETATA")
    assert rettifiche.transizioni("SOSPESA", lotti_aperti=1) == ("IN_CORSO",)
    assert rettifiche.transizioni("COMPLETATA") == ("IN_CORSO",)


# -- corrections (R10) ---------------------------------------------------------------------------


def test_correction_recomputes_totals_and_logs_before_after_and_reason(db_session, erp, impianto):
    lotto = lotto_chiuso(db_session, erp, impianto, qta=60, output=50, scarti=2, causale="SMD-PICK")
    corretto = rettifica(
        db_session,
        impianto,
        lotto.id,
        45,
        5,
        "SMD-REFLOW",
        motivo="  Ricontati a fine turno ",
        adesso=T0 + timedelta(hours=3),
    )
    assert (corretto.qta_output, corretto.qta_scarti, corretto.causale.codice) == (45, 5, "SMD-REFLOW")
    fase = fase_di(db_session, impianto)
    assert (fase.qta_prodotta, fase.qta_scarti, fase.stato) == (45, 5, "IN_CORSO")
    [evento] = eventi(db_session, "LOTTO_RETTIFICATO")
    assert (evento.entita, evento.entita_id, evento.utente_id) == ("Lotti", lotto.id, impianto.capo.utente_id)
    d = evento.dettagli
    assert d["motivo"] == "Ricontati a fine turno"
    assert (d["prima"]["QtaOutput"], d["prima"]["QtaScarti"], d["prima"]["CausaleScarto"]) == (50, 2, "SMD-PICK")
    assert (d["dopo"]["QtaOutput"], d["dopo"]["QtaScarti"], d["dopo"]["CausaleScarto"]) == (45, 5, "SMD-REFLOW")
    assert d["prima"]["Fase"] == {"QtaProdotta": 50, "QtaScarti": 2, "Stato": "IN_CORSO"}
    assert d["dopo"]["Fase"] == {"QtaProdotta": 45, "QtaScarti": 5, "Stato": "IN_CORSO"}
    # The close itself stays as it was: DataFine and the closing operator are not the supervisor's.
    db_session.rollback()
    assert db_session.get(Lotto, lotto.id).operatore_chiusura_id == impianto.operatore.utente_id


def test_totals_are_the_sums_of_the_lotti_after_several_corrections(db_session, erp, impianto):
    a = lotto_chiuso(db_session, erp, impianto, qta=30, output=30)
    b = lotto_chiuso(db_session, erp, impianto, macchina="SMD-2", qta=30, output=20, scarti=5, causale="MANIP")
    aperto = apri(db_session, erp, impianto, qta=20).lotto
    # A total patched by hand must not survive: the correction recomputes from the lotti.
    fase = db_session.get(Fase, impianto.fasi["SMD"])
    fase.qta_prodotta, fase.qta_scarti = 999, 999
    db_session.commit()
    rettifica(db_session, impianto, a.id, 28, 2, "SMD-PICK")
    rettifica(db_session, impianto, b.id, 25, 0)
    rettifica(db_session, impianto, a.id, 29, 1, "SMD-PICK")
    db_session.rollback()
    somme = db_session.execute(
        select(func.sum(Lotto.qta_output), func.sum(Lotto.qta_scarti)).where(Lotto.fase_id == impianto.fasi["SMD"])
    ).one()
    fase = fase_di(db_session, impianto)
    assert (fase.qta_prodotta, fase.qta_scarti) == tuple(somme) == (54, 1)
    assert db_session.get(Lotto, b.id).causale_id is None  # no scrap, no reason
    assert db_session.get(Lotto, aperto.id).data_fine is None
    assert len(eventi(db_session, "LOTTO_RETTIFICATO")) == 3


def test_correction_that_a_later_phase_already_used_is_refused(db_session, erp, impianto):
    smd = lotto_chiuso(db_session, erp, impianto, qta=60, output=50)
    pth = lotto_chiuso(
        db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=40, output=38, scarti=2, causale="PTH-SALD"
    )
    prima = fotografia(db_session)
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, smd.id, 30, 0)
    assert refused.value.code == "RETTIFICA_SUPERA_DISPONIBILE"
    testo = refused.value.text()
    assert "PTH" in testo and "40" in testo and "30" in testo
    assert fotografia(db_session) == prima
    # Down to what PTH used is fine; after PTH's own correction, lower still.
    rettifica(db_session, impianto, smd.id, 40, 0)
    rettifica(db_session, impianto, pth.id, 28, 2, "PTH-SALD")
    rettifica(db_session, impianto, smd.id, 30, 0)
    assert (fase_di(db_session, impianto, "SMD").qta_prodotta, fase_di(db_session, impianto, "PTH").qta_prodotta) == (
        30,
        28,
    )
    # …and CONTROLLI, two phases down, is checked against PTH the same way.
    lotto_chiuso(db_session, erp, impianto, fase="CONTROLLI", macchina="CTRL-1", qta=28, output=28)
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, pth.id, 20, 10, "PTH-SALD")
    assert refused.value.code == "RETTIFICA_SUPERA_DISPONIBILE" and "CONTROLLI" in refused.value.text()


def test_open_lotti_of_a_later_phase_count_as_used(db_session, erp, impianto):
    smd = lotto_chiuso(db_session, erp, impianto, qta=60, output=50)
    apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=45)
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, smd.id, 44, 6, "SMD-PICK")
    assert refused.value.code == "RETTIFICA_SUPERA_DISPONIBILE"
    rettifica(db_session, impianto, smd.id, 45, 5, "SMD-PICK")


def test_availability_reads_the_corrected_figures(db_session, erp, impianto):
    lotto_chiuso(db_session, erp, impianto, qta=60, output=30)
    pth = lotto_chiuso(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=30, output=20)
    # PTH now consumes 20 + 5 of the 30 SMD produced: 5 are left for a new PTH lotto.
    rettifica(db_session, impianto, pth.id, 20, 5, "PTH-INS")
    with pytest.raises(RuleViolation):
        apri(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=6)


def test_first_phase_correction_may_overrun_the_plan(db_session, erp, impianto):
    """The first phase draws from the order, not from a phase: recording pieces really made is allowed."""
    lotto = lotto_chiuso(db_session, erp, impianto, qta=100, output=50, scarti=0)
    apri(db_session, erp, impianto, macchina="SMD-2", qta=50)
    rettifica(db_session, impianto, lotto.id, 90, 0)
    assert fase_di(db_session, impianto).qta_prodotta == 90


def test_correction_that_reduces_an_existing_shortfall_is_allowed(db_session, erp, impianto):
    smd = lotto_chiuso(db_session, erp, impianto, qta=60, output=50)
    pth = lotto_chiuso(db_session, erp, impianto, fase="PTH", macchina="PTH-1", qta=50, output=50)
    # A shortfall left by data written outside the service (an import, an old bug)…
    db_session.execute(Lotto.__table__.update().where(Lotto.__table__.c.LottoID == smd.id).values(QtaOutput=30))
    db_session.commit()
    # …does not block a correction that does not make it worse.
    rettifica(db_session, impianto, pth.id, 45, 5, "PTH-INS")
    rettifica(db_session, impianto, smd.id, 35, 0)
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, smd.id, 34, 0)
    assert refused.value.code == "RETTIFICA_SUPERA_DISPONIBILE"


@pytest.mark.parametrize(
    "output, scarti, causale, campo",
    [
        (0, 0, None, "QtaOutput"),
        (55, 10, "SMD-PICK", "QtaOutput"),  # 65 > 60 in input
        (40, 5, None, "CausaleScarto"),
        (-1, 0, None, "QtaOutput"),
        (10, -2, None, "QtaScarti"),
        (52, 0, "SMD-PICK", "CausaleScarto"),  # the reason must go with the scrap (R7)
    ],
)
def test_r7_holds_on_corrections(db_session, erp, impianto, output, scarti, causale, campo):
    lotto = lotto_chiuso(db_session, erp, impianto, qta=60, output=50, scarti=2, causale="SMD-PICK")
    prima = fotografia(db_session)
    with pytest.raises(svc.ChiusuraNonValida) as refused:
        rettifica(db_session, impianto, lotto.id, output, scarti, causale)
    assert campo in refused.value.errors
    assert fotografia(db_session) == prima


def test_correction_refusals_leave_everything_as_it_was(db_session, erp, impianto):
    chiuso = lotto_chiuso(db_session, erp, impianto, qta=60, output=50, scarti=2, causale="SMD-PICK")
    aperto = apri(db_session, erp, impianto, macchina="SMD-2", qta=10).lotto
    prima = fotografia(db_session)
    casi = [
        ({"lotto_id": aperto.id, "output": 5}, "LOTTO_APERTO"),
        ({"lotto_id": chiuso.id, "output": 50, "scarti": 2, "causale": "SMD-PICK"}, "RETTIFICA_INVARIATA"),
        ({"lotto_id": chiuso.id, "output": 48, "scarti": 2, "causale": "PTH-SALD"}, "CAUSALE_NON_VALIDA"),
        ({"lotto_id": chiuso.id, "output": 48, "scarti": 2, "causale": "NON-ESISTE"}, "CAUSALE_NON_VALIDA"),
        ({"lotto_id": chiuso.id, "output": 48, "fase_tipo": "pth"}, "TIPO_FASE_DIVERSO"),
    ]
    for kwargs, codice in casi:
        lotto_id = kwargs.pop("lotto_id")
        with pytest.raises(RuleViolation) as refused:
            rettifica(db_session, impianto, lotto_id, kwargs.pop("output"), **kwargs)
        assert refused.value.code == codice, kwargs
        assert fotografia(db_session) == prima, codice
    with pytest.raises(NotFound):
        rettifica(db_session, impianto, 999_999, 1)
    with pytest.raises(InvalidInput) as refused:
        rettifica(db_session, impianto, chiuso.id, 40, 2, "SMD-PICK", motivo=" ")
    assert list(refused.value.errors) == ["Motivo"]
    assert fotografia(db_session) == prima


def test_a_retired_reason_may_be_kept_but_not_chosen(db_session, erp, impianto):
    lotto = lotto_chiuso(db_session, erp, impianto, qta=60, output=50, scarti=2, causale="SMD-PICK")
    for codice in ("SMD-PICK", "SMD-PASTA"):
        db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == codice)).attiva = False
    db_session.commit()
    rettifica(db_session, impianto, lotto.id, 49, 3, "SMD-PICK")
    with pytest.raises(RuleViolation) as refused:
        rettifica(db_session, impianto, lotto.id, 49, 3, "SMD-PASTA")
    assert refused.value.code == "CAUSALE_NON_VALIDA"
    codici = [
        c.codice for c in rettifiche.causali_per_fase(db_session, lotto.fase.fase_tipo_id, attuale_id=lotto.causale_id)
    ]
    assert "SMD-PICK" in codici and "SMD-PASTA" not in codici and "PTH-SALD" not in codici and "MANIP" in codici


def test_completed_fase_stays_completed_when_totals_drop(db_session, erp, impianto):
    lotto = lotto_chiuso(db_session, erp, impianto, qta=100, output=100)
    assert fase_di(db_session, impianto).stato == "COMPLETATA"
    rettifica(db_session, impianto, lotto.id, 90, 10, "SMD-PICK")
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.qta_prodotta, fase.qta_scarti) == ("COMPLETATA", 90, 10)
    evento = eventi(db_session, "LOTTO_RETTIFICATO")[0]
    assert evento.dettagli["dopo"]["Fase"]["Stato"] == "COMPLETATA"


def test_in_progress_fase_completes_when_the_correction_reaches_the_plan(db_session, erp, impianto):
    lotto = lotto_chiuso(db_session, erp, impianto, qta=100, output=95, scarti=5, causale="SMD-PICK")
    assert fase_di(db_session, impianto).stato == "IN_CORSO"
    rettifica(db_session, impianto, lotto.id, 100, 0, adesso=T0 + timedelta(days=1))
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.data_chiusura) == ("COMPLETATA", T0 + timedelta(days=1))


# -- cancelling a lotto opened by mistake -------------------------------------------------------


def test_cancel_deletes_the_lotto_and_sends_the_fase_back_to_aperta(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto, qta=10, chiave="tocco-1", impronta="apri SMD-1 10").lotto
    lotto_id, codice = lotto.id, lotto.codice_lotto
    tolto = rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=lotto_id, motivo="Commessa sbagliata")
    assert (tolto["LottoID"], tolto["CodiceLotto"], tolto["QtaInput"], tolto["FaseTipo"]) == (
        lotto_id,
        codice,
        10,
        "SMD",
    )
    db_session.rollback()
    assert db_session.get(Lotto, lotto_id) is None
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.data_apertura, fase.qta_prodotta) == ("APERTA", None, 0)
    [evento] = eventi(db_session, "LOTTO_ANNULLATO")
    assert (evento.entita, evento.entita_id, evento.dettagli["motivo"]) == ("Lotti", lotto_id, "Commessa sbagliata")
    assert evento.dettagli["prima"] == tolto and "dopo" not in evento.dettagli
    annullato = rettifiche.lotto_annullato(db_session, lotto_id)
    assert (annullato.dati, annullato.motivo, annullato.da.id) == (tolto, "Commessa sbagliata", impianto.capo.utente_id)
    # The double tap that opened it, replayed now, learns it was cancelled…
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, qta=10, chiave="tocco-1", impronta="apri SMD-1 10")
    assert refused.value.code == "LOTTO_ANNULLATO"
    # …also once a new lotto took the cancelled number — never its LottoID (AUTOINCREMENT
    # on SQLite, migration 0004), so the audit rows of each stay apart.
    nuovo = apri(db_session, erp, impianto, qta=10).lotto
    assert (nuovo.progressivo, nuovo.codice_lotto) == (1, codice)
    assert nuovo.id > lotto_id
    assert [
        e.azione
        for e in db_session.scalars(
            select(LogEvento).where(LogEvento.entita == "Lotti", LogEvento.entita_id == nuovo.id)
        )
    ] == ["LOTTO_APERTO"]
    with pytest.raises(RuleViolation) as refused:
        apri(db_session, erp, impianto, qta=10, chiave="tocco-1", impronta="apri SMD-1 10")
    assert refused.value.code == "LOTTO_ANNULLATO"
    assert db_session.scalar(select(func.count()).select_from(Lotto)) == 1


def test_cancel_keeps_the_fase_in_progress_when_other_lotti_remain(db_session, erp, impianto):
    lotto_chiuso(db_session, erp, impianto, qta=30, output=30)
    aperto = apri(db_session, erp, impianto, macchina="SMD-2", qta=20).lotto
    rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="Doppio")
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.qta_prodotta) == ("IN_CORSO", 30) and fase.data_apertura is not None
    # The machine is free again and the pieces are back in availability.
    assert svc._disponibile(db_session, fase) == 70
    assert apri(db_session, erp, impianto, macchina="SMD-2", qta=70).lotto.progressivo == 2


def test_cancel_of_a_suspended_fases_only_lotto_keeps_it_suspended(db_session, erp, impianto):
    aperto = apri(db_session, erp, impianto, qta=20).lotto
    stato(db_session, impianto, "SMD", "SOSPESA")
    rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="Errore")
    fase = fase_di(db_session, impianto)
    assert (fase.stato, fase.data_apertura) == ("SOSPESA", None)
    assert stato(db_session, impianto, "SMD", "IN_CORSO").stato == "APERTA"


def test_cancel_refusals(db_session, erp, impianto):
    chiuso = lotto_chiuso(db_session, erp, impianto, qta=30, output=30)
    aperto = apri(db_session, erp, impianto, macchina="SMD-2", qta=20).lotto
    prima = fotografia(db_session)
    with pytest.raises(RuleViolation) as refused:
        rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=chiuso.id, motivo="x")
    assert refused.value.code == "LOTTO_CHIUSO" and "rettifica" in refused.value.text()
    with pytest.raises(RuleViolation) as refused:
        rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="x", fase_tipo="pth")
    assert refused.value.code == "TIPO_FASE_DIVERSO"
    with pytest.raises(InvalidInput):
        rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="")
    with pytest.raises(NotFound):
        rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=999_999, motivo="x")
    assert fotografia(db_session) == prima
    rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="x")
    with pytest.raises(NotFound):
        rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=aperto.id, motivo="x")


def test_cancelled_key_row_is_detached_not_deleted(db_session, erp, impianto):
    lotto = apri(db_session, erp, impianto, qta=10, chiave="k-1", impronta="apri SMD-1 10").lotto
    rettifiche.annulla_lotto(db_session, actor=impianto.capo, lotto_id=lotto.id, motivo="x")
    db_session.rollback()
    riga = db_session.scalar(select(RichiestaEseguita).where(RichiestaEseguita.chiave == "k-1"))
    assert riga is not None and riga.entita_id is None


# -- concurrency: a correction and an open in the next phase --------------------------------------


def test_correction_and_open_in_the_next_phase_never_overdraw(app, db_session, erp, impianto):
    """SMD produced 50; at the same instant a supervisor lowers it to 20 and a PTH terminal
    opens 40. Either the open goes first (then the correction is refused) or the correction
    does (then the open is refused): PTH never holds more than SMD produced."""
    smd = lotto_chiuso(db_session, erp, impianto, qta=60, output=50)
    capo, operatore = impianto.capo, impianto.operatore

    def lavoro(i, session):
        if i == 0:
            return rettifiche.rettifica_lotto(
                session, actor=capo, lotto_id=smd.id, qta_output=20, qta_scarti=0, causale=None, motivo="Ricontati"
            ).qta_output
        return svc.apri_lotto(
            session,
            erp,
            actor=operatore,
            fase_id=impianto.fasi["PTH"],
            macchina_id=impianto.macchine["PTH-1"],
            qta_input=40,
        ).lotto.qta_input

    for _ in range(3):
        esiti = _in_parallelo(app, 2, lavoro)
        riusciti = [e for e in esiti if isinstance(e, int)]
        rifiuti = [e for e in esiti if isinstance(e, RuleViolation)]
        assert len(riusciti) == 1 and len(rifiuti) == 1, esiti
        assert rifiuti[0].code in ("RETTIFICA_SUPERA_DISPONIBILE", "QUANTITA_NON_DISPONIBILE")
        db_session.rollback()
        prodotti = db_session.get(Lotto, smd.id).qta_output
        presi = db_session.scalar(
            select(func.coalesce(func.sum(Lotto.qta_input), 0)).where(Lotto.fase_id == impianto.fasi["PTH"])
        )
        assert presi <= prodotti
        # Reset for the next round (the PTH lotto's draws go with it).
        db_session.execute(delete(LottoOrigine))
        for lotto in db_session.scalars(select(Lotto).where(Lotto.fase_id == impianto.fasi["PTH"])):
            db_session.delete(lotto)
        db_session.get(Lotto, smd.id).qta_output = 50
        db_session.commit()
