"""OEE (SPEC §13, ``services/oee.calcola_oee``) against a week worked out by hand, on real databases.

The week is ISO week 43 of 2026, Monday 19 to Sunday 25 October, in Europe/Rome; its
Sunday is the 25-hour day the clocks go back (03:00 CEST → 02:00 CET). The period in
UTC: Sun 18/10 22:00Z to Sun 25/10 23:00Z. ADESSO is Monday 26 October, 10:00 CET.

Machine SMD-A (Reparto SMD), calendar of its own:
    Mon–Fri 06:00–14:00 and 14:00–22:00          5 × 16 h = 80 h
    Sat 22:00–06:00 (into Sunday, across the change): 20:00Z–05:00Z = 9 h (not 8)
    the Saturday before (17/10 22:00 – 18/10 06:00) ends before the period: 0
    calendar time 89 h = 5340 min
  stops (local time):
    S1 GUASTO       Mon 19/10 21:30–23:00: past the 22:00 shift end, counts 30 min
    S2 RIUNIONE     Wed 21/10 10:00–10:30: planned, 30 min out of the planned time
    S3 ATTREZZAGGIO Tue 20/10 13:30–14:45: over a shift change with no gap, 75 min
    S4 MANCA-MAT    Sun 25/10 01:30 CEST – 02:30 CET (23:30Z–01:30Z): 120 min, not 60
    S5 GUASTO       Thu 22/10 03:00–04:00: no shift, 0 min, not a failure
  PBT = 5340 − 30 = 5310; downtime = 30 + 75 + 120 = 225; APT = 5310 − 225 = 5085
  lotti on SMD-A of order 101 (CODART SCH-[X]):
    LA1 closed Tue 20/10 12:00       4000 good  40 scrap
    LA2 opened Sat 17/10, closed Mon 19/10 08:00: counts here (closed in the week) 2000 good
    LA3 closed Sun 25/10 23:30 CET (22:30Z, before 23:00Z)   1000 good  60 scrap
    LA4 closed Mon 26/10 00:30 CET: next week                  (500)
    LA5 closed Sun 18/10 23:30 CEST (21:30Z): the week before  (700)
  PQ = 4040 + 2000 + 1060 = 7100, GQ = 7000
  cycle times: SCH-[X] on SMD (any machine) 30 s; SMD-A any article 40 s → the article's 30 s
  ideal time = 30 s × 7100 = 213000 s = 3550 min
  availability  = 5085 / 5310 = 0.957627 → 0.9576
  effectiveness = 3550 / 5085 = 0.698132 → 0.6981
  quality       = 7000 / 7100 = 0.985915 → 0.9859
  OEE = 3550 / 5310 × 7000 / 7100 = 0.659134 → 0.6591
  speed loss = 5085 − 3550 = 1535 min; scrap loss = 30 s × 100 = 50 min
  Pareto: MANCA-MAT 120, ATTREZZAGGIO 75, GUASTO 30; failures 1 (S1): MTTR 30, MTBF 5085

Machine PTH-A (Reparto PTH), the Reparto's calendar:
    Mon–Fri 08:00–17:00; Fri 23/10 closed (holiday); Sat 24/10 08:00–12:00 (extra)
    calendar time 4 × 9 h + 4 h = 40 h = 2400 min
  stops:
    T1 ATTREZZAGGIO Mon 19/10 16:30–17:30: 30 min (to the shift end)
    T2 MANUT-PREV   Tue 20/10 08:00–09:00: planned (category GUASTO), 60 min out, not a failure
    T3 GUASTO       Fri 23/10 09:00–10:00: the holiday, 0 min, not a failure
    T4 GUASTO       Sat 24/10 11:00 – still running at ADESSO: 60 min (to 12:00)
  PBT = 2400 − 60 = 2340; downtime = 30 + 60 = 90; APT = 2250
  lotti of order 2 (CODART ART-002): LB1 300 good 20 scrap, LB2 180 good → PQ 500, GQ 480
  no cycle time for PTH at all: effectiveness and OEE null, mancante ["tempo_ciclo"]
  availability = 2250 / 2340 = 0.961538 → 0.9615; quality = 480 / 500 = 0.96
  failures 1 (T4): MTTR 60, MTBF 2250

Machine CTRL-A: no calendar, nothing happened: every factor null (calendario,
pezzi_prodotti), and left out of the total.

Total: calendar 7740, planned stops 90, PBT 7650, downtime 315, APT 7335;
availability 7335 / 7650 = 0.958824 → 0.9588; quality 7480 / 7600 = 0.984211 → 0.9842;
effectiveness and OEE null (PTH-A has no cycle time); Pareto MANCA-MAT 120,
ATTREZZAGGIO 105, GUASTO 90; failures 2: MTTR 90 / 2 = 45, MTBF 7335 / 2 = 3667.5.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from asigest.domain.lotti import codice_lotto
from asigest.domain.periodo import Periodo
from asigest.errors import InvalidInput
from asigest.models import (
    CalendarioTurni,
    CausaleFermo,
    ConfigCommessa,
    Fase,
    FaseTipo,
    KpiRiepilogo,
    Lotto,
    Macchina,
    TempoCiclo,
)
from asigest.models.fermi import Fermo
from asigest.services import riepilogo_kpi
from asigest.services.oee import calcola_oee

ZONA = "Europe/Rome"
ROMA = ZoneInfo(ZONA)
SETTIMANA = Periodo(date(2026, 10, 19), date(2026, 10, 25))
ADESSO = datetime(2026, 10, 26, 10, 0, tzinfo=ROMA).astimezone(UTC)


def locale(giorno: str, ora: str) -> datetime:
    return datetime.fromisoformat(f"{giorno}T{ora}").replace(tzinfo=ROMA).astimezone(UTC)


def utc(testo: str) -> datetime:
    return datetime.fromisoformat(testo).replace(tzinfo=UTC)


@pytest.fixture
def settimana(db_session, make_user):
    s = db_session
    tipi = {t.codice: t.id for t in s.scalars(select(FaseTipo))}
    causali = {c.codice: c.id for c in s.scalars(select(CausaleFermo))}
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    macchine = {}
    for codice, tipo, reparto in (("SMD-A", "SMD", "SMD"), ("PTH-A", "PTH", "PTH"), ("CTRL-A", "CONTROLLI", None)):
        m = Macchina(codice=codice, descrizione=codice, fase_tipo_id=tipi[tipo], reparto=reparto, attiva=True)
        s.add(m)
        s.flush()
        macchine[codice] = m.id
    fasi = {}
    for commessa, tipo in ((101, "SMD"), (2, "PTH")):
        s.add(
            ConfigCommessa(
                commessa_erp_id=commessa, flag_smd=tipo == "SMD", flag_pth=tipo == "PTH", flag_controlli=False
            )
        )
        fase = Fase(commessa_erp_id=commessa, fase_tipo_id=tipi[tipo], stato="IN_CORSO", qta_prevista=100000)
        s.add(fase)
        s.flush()
        fasi[commessa] = (fase.id, tipo)

    a, b = macchine["SMD-A"], macchine["PTH-A"]
    for giorno in range(1, 6):
        s.add(CalendarioTurni(macchina_id=a, giorno_settimana=giorno, ora_inizio=time(6), ora_fine=time(14)))
        s.add(CalendarioTurni(macchina_id=a, giorno_settimana=giorno, ora_inizio=time(14), ora_fine=time(22)))
        s.add(CalendarioTurni(reparto="PTH", giorno_settimana=giorno, ora_inizio=time(8), ora_fine=time(17)))
    s.add(CalendarioTurni(macchina_id=a, giorno_settimana=6, ora_inizio=time(22), ora_fine=time(6)))
    s.add(CalendarioTurni(reparto="PTH", data=date(2026, 10, 23), note="Festa del patrono"))
    s.add(CalendarioTurni(reparto="PTH", data=date(2026, 10, 24), ora_inizio=time(8), ora_fine=time(12)))

    def fermo(macchina, causale, inizio, fine):
        s.add(
            Fermo(
                macchina_id=macchina, causale_id=causali[causale], operatore_id=operatore.id, inizio=inizio, fine=fine
            )
        )

    fermo(a, "GUASTO", locale("2026-10-19", "21:30"), locale("2026-10-19", "23:00"))
    fermo(a, "RIUNIONE", locale("2026-10-21", "10:00"), locale("2026-10-21", "10:30"))
    fermo(a, "ATTREZZAGGIO", locale("2026-10-20", "13:30"), locale("2026-10-20", "14:45"))
    fermo(a, "MANCA-MAT", utc("2026-10-24T23:30"), utc("2026-10-25T01:30"))
    fermo(a, "GUASTO", locale("2026-10-22", "03:00"), locale("2026-10-22", "04:00"))
    fermo(b, "ATTREZZAGGIO", locale("2026-10-19", "16:30"), locale("2026-10-19", "17:30"))
    fermo(b, "MANUT-PREV", locale("2026-10-20", "08:00"), locale("2026-10-20", "09:00"))
    fermo(b, "GUASTO", locale("2026-10-23", "09:00"), locale("2026-10-23", "10:00"))
    fermo(b, "GUASTO", locale("2026-10-24", "11:00"), None)

    s.add(TempoCiclo(codart="SCH-[X]", fase_tipo_id=tipi["SMD"], secondi_per_pezzo=Decimal(30)))
    s.add(TempoCiclo(fase_tipo_id=tipi["SMD"], macchina_id=a, secondi_per_pezzo=Decimal(40)))

    progressivi: dict[int, int] = {}

    def lotto(commessa, macchina, inizio, fine, buoni, scarti=0):
        fase_id, tipo = fasi[commessa]
        n = progressivi[fase_id] = progressivi.get(fase_id, 0) + 1
        s.add(
            Lotto(
                fase_id=fase_id,
                progressivo=n,
                codice_lotto=codice_lotto(2026, commessa, tipo, n),
                data_inizio=inizio,
                data_fine=fine,
                qta_input=buoni + scarti,
                qta_output=buoni,
                qta_scarti=scarti,
                operatore_id=operatore.id,
                operatore_chiusura_id=operatore.id,
                macchina_id=macchina,
            )
        )

    lotto(101, a, locale("2026-10-20", "08:00"), locale("2026-10-20", "12:00"), 4000, 40)
    lotto(101, a, locale("2026-10-17", "23:00"), locale("2026-10-19", "08:00"), 2000)
    lotto(101, a, locale("2026-10-25", "20:00"), locale("2026-10-25", "23:30"), 1000, 60)
    lotto(101, a, locale("2026-10-25", "23:40"), locale("2026-10-26", "00:30"), 500)
    lotto(101, a, locale("2026-10-18", "20:00"), locale("2026-10-18", "23:30"), 700)
    lotto(2, b, locale("2026-10-21", "09:00"), locale("2026-10-21", "15:00"), 300, 20)
    lotto(2, b, locale("2026-10-22", "09:00"), locale("2026-10-22", "15:00"), 180)
    s.commit()
    return macchine


def _oee(db_session, erp, **filtri):
    return calcola_oee(db_session, erp, SETTIMANA, zona=ZONA, adesso=ADESSO, **filtri).as_api()


def test_the_hand_computed_week(db_session, erp, settimana):
    oee = _oee(db_session, erp)
    assert oee["periodo"] == {"da": "2026-10-19", "a": "2026-10-25"}
    righe = {r["Codice"]: r for r in oee["macchine"]}

    a = righe["SMD-A"]
    assert a["MacchinaID"] == settimana["SMD-A"]
    assert a["tempo_calendario_min"] == 5340
    assert a["tempo_fermi_pianificati_min"] == 30
    assert a["tempo_pianificato_min"] == 5310
    assert a["tempo_fermo_min"] == 225
    assert a["tempo_lavoro_min"] == 5085
    assert (a["pezzi_buoni"], a["pezzi_scartati"]) == (7000, 100)
    assert a["disponibilita"] == 0.9576
    assert a["efficienza"] == 0.6981
    assert a["qualita"] == 0.9859
    assert a["oee"] == 0.6591
    assert a["mancante"] == []
    assert a["perdita_velocita_min"] == 1535
    assert a["perdita_scarti_min"] == 50
    assert [(v["Codice"], v["minuti"], v["fermi"]) for v in a["fermi_per_causale"]] == [
        ("MANCA-MAT", 120, 1),
        ("ATTREZZAGGIO", 75, 1),
        ("GUASTO", 30, 1),
    ]
    assert (a["guasti"], a["mttr_min"], a["mtbf_min"]) == (1, 30, 5085)

    b = righe["PTH-A"]
    assert b["tempo_calendario_min"] == 2400
    assert b["tempo_fermi_pianificati_min"] == 60
    assert b["tempo_pianificato_min"] == 2340
    assert b["tempo_fermo_min"] == 90
    assert b["tempo_lavoro_min"] == 2250
    assert (b["pezzi_buoni"], b["pezzi_scartati"]) == (480, 20)
    assert b["disponibilita"] == 0.9615
    assert b["efficienza"] is None
    assert b["qualita"] == 0.96
    assert b["oee"] is None
    assert b["mancante"] == ["tempo_ciclo"]
    assert b["articoli_senza_tempo_ciclo"] == ["ART-002"]
    assert b["perdita_velocita_min"] is None
    assert [(v["Codice"], v["minuti"]) for v in b["fermi_per_causale"]] == [("GUASTO", 60), ("ATTREZZAGGIO", 30)]
    assert (b["guasti"], b["mttr_min"], b["mtbf_min"]) == (1, 60, 2250)

    c = righe["CTRL-A"]
    assert c["tempo_pianificato_min"] is None
    assert c["disponibilita"] is None and c["oee"] is None
    assert c["mancante"] == ["calendario", "pezzi_prodotti"]

    t = oee["totale"]
    assert t["tempo_calendario_min"] == 7740
    assert t["tempo_fermi_pianificati_min"] == 90
    assert t["tempo_pianificato_min"] == 7650
    assert t["tempo_fermo_min"] == 315
    assert t["tempo_lavoro_min"] == 7335
    assert (t["pezzi_buoni"], t["pezzi_scartati"]) == (7480, 120)
    assert t["disponibilita"] == 0.9588
    assert t["qualita"] == 0.9842
    assert t["efficienza"] is None and t["oee"] is None
    assert t["mancante"] == ["tempo_ciclo"]
    assert [(v["Codice"], v["minuti"], v["fermi"]) for v in t["fermi_per_causale"]] == [
        ("MANCA-MAT", 120, 1),
        ("ATTREZZAGGIO", 105, 2),
        ("GUASTO", 90, 2),
    ]
    assert (t["guasti"], t["mttr_min"], t["mtbf_min"]) == (2, 45, 3667.5)


def test_a_line_and_a_phase_type_are_their_machines_figures(db_session, erp, settimana):
    per_reparto = _oee(db_session, erp, reparto="SMD")
    assert [r["Codice"] for r in per_reparto["macchine"]] == ["SMD-A"]
    assert per_reparto["totale"]["oee"] == 0.6591
    per_tipo = _oee(db_session, erp, fase_tipo="pth")
    assert [r["Codice"] for r in per_tipo["macchine"]] == ["PTH-A"]
    assert per_tipo["totale"]["disponibilita"] == 0.9615
    una = _oee(db_session, erp, macchina_id=settimana["SMD-A"])
    assert una["totale"]["tempo_lavoro_min"] == 5085
    tutto = _oee(db_session, erp)
    assert {r["Reparto"]: r["tempo_pianificato_min"] for r in tutto["reparti"]} == {
        None: None,  # CTRL-A, no Reparto and no calendar
        "PTH": 2340,
        "SMD": 5310,
    }
    assert {r["FaseTipo"]: r["disponibilita"] for r in tutto["fasi_tipo"]}["SMD"] == 0.9576


def test_the_machines_own_cycle_time_when_the_article_has_none(db_session, erp, settimana):
    """Without the article's row, SMD-A's own 40 s applies: 40 × 7100 s = 4733.33 min."""
    db_session.execute(TempoCiclo.__table__.delete().where(TempoCiclo.codart.is_not(None)))
    db_session.commit()
    a = next(r for r in _oee(db_session, erp)["macchine"] if r["Codice"] == "SMD-A")
    assert a["efficienza"] == round(4733.3333 / 5085, 4)


def test_a_period_must_be_whole(db_session, erp):
    with pytest.raises(InvalidInput):
        calcola_oee(db_session, erp, Periodo(date(2026, 10, 19), None), zona=ZONA, adesso=ADESSO)


def test_the_same_figures_from_the_daily_summary_and_from_the_lotti(db_session, erp, settimana):
    """KpiProduzioneGiorni (in use, as ``init`` leaves it) and the lotti themselves (no
    KpiRiepilogo row) give every figure alike, for the whole plant, one machine and one
    phase type, with cycle times by machine and phase type only (the summary is read);
    LA3 closed at 23:30 on the 25-hour Sunday and LA4 at 00:30 on Monday fall on their
    local days. With a cycle time by article the pieces are read by order from the lotti."""
    assert riepilogo_kpi.in_uso(db_session, ZONA)
    con_articolo = _oee(db_session, erp)
    db_session.execute(TempoCiclo.__table__.delete().where(TempoCiclo.codart.is_not(None)))
    db_session.commit()
    prove = [{}, {"macchina_id": settimana["SMD-A"]}, {"fase_tipo": "SMD"}]
    dal_riepilogo = [_oee(db_session, erp, **filtri) for filtri in prove]
    a = next(r for r in dal_riepilogo[0]["macchine"] if r["Codice"] == "SMD-A")
    assert (a["pezzi_buoni"], a["pezzi_scartati"], a["efficienza"]) == (7000, 100, round(4733.3333 / 5085, 4))

    db_session.execute(delete(KpiRiepilogo))
    db_session.commit()
    assert not riepilogo_kpi.in_uso(db_session, ZONA)
    assert [_oee(db_session, erp, **filtri) for filtri in prove] == dal_riepilogo
    smd = db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "SMD"))
    db_session.add(TempoCiclo(codart="SCH-[X]", fase_tipo_id=smd, secondi_per_pezzo=Decimal(30)))
    db_session.commit()
    assert _oee(db_session, erp) == con_articolo
