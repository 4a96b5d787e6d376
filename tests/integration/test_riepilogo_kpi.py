"""The KPIs' and the OEE's daily summaries (services/riepilogo_kpi.py) stays exact: after every kind of
change to the lotti it equals a rebuild from scratch, and the KPIs read from it equal
the KPIs read from the lotti themselves — on the March plant of test_kpi, whose week
holds the 23-hour day of the change to summer time."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, select

from asigest.domain.periodo import Periodo
from asigest.models import Fase, KpiGiorno, KpiRiepilogo, Lotto, TempoCiclo
from asigest.services import riepilogo_kpi
from asigest.services.auth import actor_for
from asigest.services.kpi import calcola_kpi
from asigest.services.lotti import chiudi_lotto
from asigest.services.oee import calcola_oee
from asigest.services.rettifiche import annulla_lotto, rettifica_lotto
from tests.integration.test_kpi import ADESSO, MARZO, ZONA, impianto, locale, marzo


def righe(session) -> dict:
    """Every summary row, as ``{(Tabella, (day, key)): [values…]}``."""
    session.expire_all()
    return riepilogo_kpi.righe_tenute(session.connection())


def per_tipo(session) -> dict:
    """KpiGiorni as ``{(day, FaseTipoID): (lotti, good, scrap, µs)}``."""
    return {chiave: tuple(v) for (t, chiave), v in righe(session).items() if t is riepilogo_kpi.PER_TIPO}


def da_zero(session) -> dict:
    """What a rebuild from every lotto writes (the maintained rows are put back after)."""
    mantenute = righe(session)
    riepilogo_kpi.ricostruisci(session, ZONA)
    ricostruite = righe(session)
    session.rollback()
    assert righe(session) == mantenute
    return ricostruite


def kpi(session, periodo=MARZO):
    return calcola_kpi(session, periodo, adesso=ADESSO, zona=ZONA, ore_dimenticato=12)


def test_the_march_week_by_hand(db_session, marzo):
    """Maintained by the ORM inserts alone, by hand: SMD closed L0 on Sunday 22 (90 min),
    L1 and L2 on Monday 23 (90 + 120 min), L5 on the 23-hour Sunday 29 (60 real
    minutes), L7 on Monday 30; CONTROLLI L3 on the 25th and L6 on the 29th; PTH L4."""
    tipi = set(per_tipo(db_session))
    assert riepilogo_kpi.in_uso(db_session, ZONA)
    minuti = 60_000_000
    per_giorno = {g: v for (g, _t), v in per_tipo(db_session).items()}
    assert len(tipi) == 7
    assert per_giorno[date(2026, 3, 22)] == (1, 8, 2, 90 * minuti)
    assert per_giorno[date(2026, 3, 23)] == (2, 190, 10, 210 * minuti)
    assert per_giorno[date(2026, 3, 30)] == (1, 30, 0, 45 * minuti)
    smd_29 = [v for (g, t), v in per_tipo(db_session).items() if g == date(2026, 3, 29) and v[1] == 20]
    assert smd_29 == [(1, 20, 0, 60 * minuti)]
    anna = marzo.operatori["Anna"].id  # opened L1 (Monday 23) and L7 (Monday 30); closed L3 for Sara
    per_operatore = {chiave: v for (t, chiave), v in righe(db_session).items() if t is riepilogo_kpi.PER_OPERATORE}
    assert {g: v for (g, o), v in per_operatore.items() if o == anna} == {
        date(2026, 3, 23): [1, 90],
        date(2026, 3, 30): [1, 30],
    }
    assert righe(db_session) == da_zero(db_session)


def test_closes_corrections_and_cancellations_keep_it_exact(db_session, marzo):
    """Service closes (a Core UPDATE), a correction (ORM change), a cancellation of an
    open lotto and an ORM delete of a closed one: the summary equals a rebuild."""
    imp = marzo
    anna = actor_for(imp.operatori["Anna"])
    chiudi_lotto(
        db_session,
        actor=anna,
        lotto_id=imp.lotti["O1"],
        qta_output=7,
        qta_scarti=1,
        causale="SMD-PICK",
        adesso=locale("2026-03-30", "11:00"),
    )
    assert righe(db_session) == da_zero(db_session)

    supervisore = replace(actor_for(imp.operatori["Sara"]), ruolo="SUPERVISORE")
    rettifica_lotto(
        db_session,
        actor=supervisore,
        lotto_id=imp.lotti["L1"],
        qta_output=95,
        qta_scarti=5,
        causale="SMD-PICK",
        motivo="Conteggio rifatto",
    )
    annulla_lotto(db_session, actor=supervisore, lotto_id=imp.lotti["O2"], motivo="Aperto per sbaglio")
    assert righe(db_session) == da_zero(db_session)
    assert per_tipo(db_session)[(date(2026, 3, 23), db_session.get(Lotto, imp.lotti["L1"]).fase.fase_tipo_id)][1:3] == (
        195,
        5,
    )

    l7 = db_session.get(Lotto, imp.lotti["L7"])
    db_session.commit()  # expires it: the delete must still know what it held
    db_session.delete(l7)
    db_session.commit()
    assert date(2026, 3, 30) in {g for g, _t in per_tipo(db_session)}  # O1 closed on the 30th
    assert righe(db_session) == da_zero(db_session)


def test_kpis_from_the_summary_equal_kpis_from_the_lotti(db_session, marzo):
    """Every KPI of the March week, of a 30-day period and of the DST week in October."""
    periodi = [MARZO, Periodo(date(2026, 3, 1), date(2026, 3, 30)), Periodo(date(2026, 10, 19), date(2026, 10, 25))]
    dal_riepilogo = [kpi(db_session, p) for p in periodi]
    db_session.execute(delete(KpiRiepilogo))
    db_session.commit()
    assert not riepilogo_kpi.in_uso(db_session, ZONA)
    dai_lotti = [kpi(db_session, p) for p in periodi]
    assert dal_riepilogo == dai_lotti
    assert dal_riepilogo[0].lotti_settimana == 6 and dal_riepilogo[0].pezzi_buoni == 381


def test_not_kept_without_its_row_nor_for_another_zone(db_session, marzo):
    """No KpiRiepilogo row: closes leave KpiGiorni alone and the KPIs read the lotti; a
    summary of another zone is not used, and ``assicura`` rebuilds it for the plant's."""
    db_session.execute(delete(KpiRiepilogo))
    db_session.commit()
    prima = righe(db_session)
    imp = marzo
    chiudi_lotto(
        db_session,
        actor=actor_for(imp.operatori["Anna"]),
        lotto_id=imp.lotti["O1"],
        qta_output=10,
        adesso=locale("2026-03-30", "11:00"),
    )
    assert righe(db_session) == prima
    assert riepilogo_kpi.assicura(db_session, "America/New_York") > 0
    assert not riepilogo_kpi.in_uso(db_session, ZONA)
    assert kpi(db_session).lotti_settimana == 6  # from the lotti: same figures
    assert riepilogo_kpi.assicura(db_session, ZONA) > 0
    assert riepilogo_kpi.assicura(db_session, ZONA) is None  # already kept: nothing to do
    assert righe(db_session) == da_zero(db_session)


def test_two_terminals_closing_the_first_lotti_of_a_day_at_once(app, db_session, marzo):
    """Two sessions close lotti of the same type on a new day at the same instant: both
    count (the row one of them inserts, the other updates)."""
    from asigest.extensions import db

    imp = marzo
    chiudi_lotto(
        db_session,
        actor=actor_for(imp.operatori["Marco"]),
        lotto_id=imp.lotti["O2"],
        qta_output=10,
        adesso=locale("2026-03-30", "10:30"),
    )  # frees PTH-A; O1 stays open on SMD-A
    # SMD-A holds O1: close it, then open one lotto on each SMD machine.
    chiudi_lotto(
        db_session,
        actor=actor_for(imp.operatori["Sara"]),
        lotto_id=imp.lotti["O1"],
        qta_output=10,
        adesso=locale("2026-03-30", "10:45"),
    )
    aperti = [
        imp.lotto(db_session, f"N{n}", 101, "SMD", macchina, "Luca", locale("2026-03-31", "08:00"), None, 10)
        for n, macchina in enumerate(("SMD-A", "SMD-B"))
    ]
    attore = actor_for(imp.operatori["Luca"])
    barriera = threading.Barrier(2)
    errori = []

    def chiudi(lotto_id):
        with app.app_context():
            sessione = db.session
            try:
                barriera.wait(5)
                chiudi_lotto(
                    sessione,
                    actor=attore,
                    lotto_id=lotto_id,
                    qta_output=9,
                    qta_scarti=1,
                    causale="SMD-PICK",
                    adesso=locale("2026-04-01", "09:00"),
                )
            except Exception as exc:  # reported below
                errori.append(exc)
            finally:
                db.session.remove()

    fili = [threading.Thread(target=chiudi, args=(lotto_id,)) for lotto_id in aperti]
    for filo in fili:
        filo.start()
    for filo in fili:
        filo.join(30)
    assert not errori
    db_session.rollback()  # a new snapshot: the threads' commits
    giorno = {v for (g, _t), v in per_tipo(db_session).items() if g == date(2026, 4, 1)}
    assert giorno == {(2, 18, 2, 2 * 25 * 3_600_000_000)}
    assert righe(db_session) == da_zero(db_session)


def test_scrap_by_machine_and_reason_follows_corrections(db_session, marzo):
    """KpiScartiGiorni (the Pareto lists): a correction changing a lotto's reason, an ORM
    change of its machine, and scrap without a reason (R7 broken by rows written outside
    the application, CausaleID 0 in the summary) keep it equal to a rebuild, and the
    Pareto lists read from it equal those read from the lotti."""
    imp = marzo
    supervisore = replace(actor_for(imp.operatori["Sara"]), ruolo="SUPERVISORE")
    rettifica_lotto(
        db_session,
        actor=supervisore,
        lotto_id=imp.lotti["L1"],
        qta_output=95,
        qta_scarti=5,
        causale="SMD-PASTA",
        motivo="Causale corretta",
    )
    assert righe(db_session) == da_zero(db_session)
    l1 = db_session.get(Lotto, imp.lotti["L1"])
    scarti = {chiave: v for (t, chiave), v in righe(db_session).items() if t is riepilogo_kpi.PER_SCARTI}
    assert scarti[(date(2026, 3, 23), l1.macchina_id, imp.causali["SMD-PASTA"])][1] >= 5

    l1.macchina_id = imp.macchine["SMD-B"]
    db_session.commit()
    assert righe(db_session) == da_zero(db_session)
    imp.lotto(
        db_session,
        "senza",
        101,
        "SMD",
        "SMD-B",
        "Elena",
        locale("2026-03-24", "08:00"),
        locale("2026-03-24", "09:00"),
        20,
        scarti=4,
    )
    assert righe(db_session) == da_zero(db_session)
    scarti = {chiave: v for (t, chiave), v in righe(db_session).items() if t is riepilogo_kpi.PER_SCARTI}
    assert scarti[(date(2026, 3, 24), imp.macchine["SMD-B"], riepilogo_kpi.SENZA_CAUSALE)] == [1, 4]

    dal_riepilogo = kpi(db_session)
    db_session.execute(delete(KpiRiepilogo))
    db_session.commit()
    dai_lotti = kpi(db_session)
    assert dal_riepilogo.scarti_per_macchina == dai_lotti.scarti_per_macchina
    assert dal_riepilogo.scarti_per_causale == dai_lotti.scarti_per_causale
    assert any(voce["CausaleID"] is None for voce in dal_riepilogo.scarti_per_causale)


def test_production_by_machine_and_phase_type_follows_every_change(db_session, erp, marzo):
    """KpiProduzioneGiorni (the OEE's pieces): by hand for the March plant, then a service
    close, a correction, a cancellation of an open lotto, an ORM move of a closed lotto to
    another order's fase and machine, and an ORM delete keep it equal to a rebuild; the
    OEE read from it equals the OEE read from the lotti (whole plant, a 31-day period,
    one machine)."""
    imp = marzo
    tipi = {codice: db_session.get(Fase, imp.fasi[(101, codice)]).fase_tipo_id for codice in ("SMD", "CONTROLLI")}
    pth = db_session.get(Fase, imp.fasi[(104, "PTH")]).fase_tipo_id

    def produzione() -> dict:
        return {chiave: v for (t, chiave), v in righe(db_session).items() if t is riepilogo_kpi.PER_PRODUZIONE}

    a, b = imp.macchine["SMD-A"], imp.macchine["SMD-B"]
    iniziale = produzione()
    assert iniziale[(date(2026, 3, 23), a, tipi["SMD"])] == [1, 90, 10]
    assert iniziale[(date(2026, 3, 23), b, tipi["SMD"])] == [1, 100, 0]  # L2, closed at 01:00 local
    assert iniziale[(date(2026, 3, 30), b, tipi["SMD"])] == [1, 30, 0]  # L7, 00:30 local on the 30th
    assert len(iniziale) == 8

    supervisore = replace(actor_for(imp.operatori["Sara"]), ruolo="SUPERVISORE")
    chiudi_lotto(
        db_session,
        actor=actor_for(imp.operatori["Anna"]),
        lotto_id=imp.lotti["O1"],
        qta_output=7,
        qta_scarti=1,
        causale="SMD-PICK",
        adesso=locale("2026-03-30", "11:00"),
    )
    rettifica_lotto(
        db_session,
        actor=supervisore,
        lotto_id=imp.lotti["L1"],
        qta_output=95,
        qta_scarti=5,
        causale="SMD-PICK",
        motivo="Conteggio rifatto",
    )
    annulla_lotto(db_session, actor=supervisore, lotto_id=imp.lotti["O2"], motivo="Aperto per sbaglio")
    assert produzione()[(date(2026, 3, 30), a, tipi["SMD"])] == [1, 7, 1]
    assert produzione()[(date(2026, 3, 23), a, tipi["SMD"])] == [1, 95, 5]
    assert righe(db_session) == da_zero(db_session)

    l3 = db_session.get(Lotto, imp.lotti["L3"])
    l3.fase_id, l3.progressivo, l3.macchina_id = imp.fasi[(104, "PTH")], 99, imp.macchine["PTH-A"]
    db_session.commit()
    assert (date(2026, 3, 25), imp.macchine["CTRL-A"], tipi["CONTROLLI"]) not in produzione()
    assert produzione()[(date(2026, 3, 25), imp.macchine["PTH-A"], pth)] == [1, 95, 3]
    db_session.delete(db_session.get(Lotto, imp.lotti["L7"]))
    db_session.commit()
    assert (date(2026, 3, 30), b, tipi["SMD"]) not in produzione()
    assert righe(db_session) == da_zero(db_session)

    db_session.add(TempoCiclo(fase_tipo_id=tipi["SMD"], secondi_per_pezzo=Decimal(20)))
    db_session.commit()
    periodi = [MARZO, Periodo(date(2026, 3, 1), date(2026, 3, 31))]

    def oee() -> list:
        return [calcola_oee(db_session, erp, p, zona=ZONA, adesso=ADESSO).as_api() for p in periodi] + [
            calcola_oee(db_session, erp, MARZO, zona=ZONA, adesso=ADESSO, macchina_id=a).as_api()
        ]

    dal_riepilogo = oee()
    # The week's good pieces: L1 95 (corrected), L2 100, L3 95 (moved), L4 40, L5 20, L6 36.
    assert dal_riepilogo[0]["totale"]["pezzi_buoni"] == 95 + 100 + 95 + 40 + 20 + 36
    db_session.execute(delete(KpiRiepilogo))
    db_session.commit()
    assert oee() == dal_riepilogo


def test_a_close_waits_for_a_rebuild_and_is_counted_once(app, db_session, marzo):
    """A rebuild holds the KpiRiepilogo row; a close reads the zone under a shared lock
    (with its lotto, in one statement) so it waits for the rebuild to commit and then
    adds itself to the rebuilt rows: counted once, never lost nor twice."""
    from asigest.extensions import db

    imp = marzo
    riepilogo_kpi.ricostruisci(db_session, ZONA)  # holds the row until commit
    errori: list[Exception] = []
    chiuso = threading.Event()

    def chiudi():
        with app.app_context():
            try:
                chiudi_lotto(
                    db.session,
                    actor=actor_for(imp.operatori["Marco"]),
                    lotto_id=imp.lotti["O2"],
                    qta_output=10,
                    adesso=locale("2026-03-30", "10:30"),
                )
                chiuso.set()
            except Exception as exc:  # reported below
                errori.append(exc)
            finally:
                db.session.remove()

    filo = threading.Thread(target=chiudi)
    filo.start()
    assert not chiuso.wait(1.0), "the close did not wait for the rebuild"
    db_session.commit()
    filo.join(30)
    assert not errori and chiuso.is_set()
    db_session.rollback()
    assert righe(db_session) == da_zero(db_session)
