"""The KPIs of SPEC §6 (``services/kpi.calcola_kpi``) against hand-computed values on a small
plant written through the models, on real databases.

The plant: orders 101 (SMD → CONTROLLI) and 104 (PTH; every ERP field but the id is NULL
in the ERP fixture: the KPIs never read the ERP), machines SMD-A, SMD-B (SMD), PTH-A,
CTRL-A, six operators. The March week is ISO week 13 of 2026, Monday 23 to Sunday 29
March, whose Sunday is the 23-hour day of the change to summer time (02:00 CET → 03:00
CEST). Times below are local (Europe/Rome):

    name order tipo      machine opened by from           to                  in good scrap reason
    L0   101   SMD       SMD-A   Luca      Sun 22/3 22:00 Sun 22/3 23:30       10    8    2  SMD-PASTA (1)
    L1   101   SMD       SMD-A   Anna      Mon 23/3 08:00 Mon 23/3 09:30      100   90   10  SMD-PICK
    L2   101   SMD       SMD-B   Luca      Sun 22/3 23:00 Mon 23/3 01:00      100  100    0            (2)
    L3   101   CONTROLLI CTRL-A  Sara      Wed 25/3 10:00 Wed 25/3 10:45      100   95    3  CTRL-AOI  (3)
    L4   104   PTH       PTH-A   Marco     Thu 26/3 14:00 Thu 26/3 16:00       50   40   10  PTH-SALD
    L5   101   SMD       SMD-A   Elena     Sun 29/3 01:30 Sun 29/3 03:30 CEST  20   20    0            (4)
    L6   101   CONTROLLI CTRL-A  Paolo     Sun 29/3 22:30 Sun 29/3 23:30       40   36    4  MANIP     (5)
    L7   101   SMD       SMD-B   Anna      Sun 29/3 23:45 Mon 30/3 00:30       30   30    0            (6)
    O1   101   SMD       SMD-A   Sara      Mon 30/3 09:00 open                 10
    O2   104   PTH       PTH-A   Marco     Sun 29/3 18:00 open                 10                      (7)

(1) closed the week before; (2) opened the week before; (3) 2 pieces returned, closed by
Anna; (4) 01:30 CET to 03:30 CEST: 60 real minutes; (5) Sunday night: this week;
(6) Monday: next week; (7) forgotten at ADESSO.

ADESSO is Monday 30 March 2026, 10:00 CEST.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from asigest.domain.lotti import codice_lotto
from asigest.domain.periodo import Periodo
from asigest.errors import InvalidInput
from asigest.models import CausaleScarto, ConfigCommessa, Fase, FaseTipo, Lotto, Macchina
from asigest.services.kpi import calcola_kpi

ZONA = "Europe/Rome"
ROMA = ZoneInfo(ZONA)
MARZO = Periodo(date(2026, 3, 23), date(2026, 3, 29))
ADESSO = datetime(2026, 3, 30, 10, 0, tzinfo=ROMA).astimezone(UTC)


def locale(giorno: str, ora: str, fold: int = 0) -> datetime:
    """``"2026-03-29", "23:30"`` in Rome as an aware UTC instant (``fold=1``: the second 02:30 of October)."""
    return datetime.fromisoformat(f"{giorno}T{ora}").replace(tzinfo=ROMA, fold=fold).astimezone(UTC)


@dataclass
class Impianto:
    fasi: dict = field(default_factory=dict)  # (commessa, tipo) → FaseID
    macchine: dict = field(default_factory=dict)  # codice → MacchinaID
    operatori: dict = field(default_factory=dict)  # nome → Utente
    causali: dict = field(default_factory=dict)  # codice → CausaleID
    lotti: dict = field(default_factory=dict)  # name → LottoID
    progressivi: dict = field(default_factory=dict)

    def lotto(
        self,
        session,
        nome,
        commessa,
        tipo,
        macchina,
        operatore,
        inizio,
        fine=None,
        qta_input=100,
        buoni=None,
        scarti=0,
        causale=None,
        chiuso_da=None,
    ) -> int:
        fase_id = self.fasi[(commessa, tipo)]
        n = self.progressivi[fase_id] = self.progressivi.get(fase_id, 0) + 1
        chiuso = fine is not None
        lotto = Lotto(
            fase_id=fase_id,
            progressivo=n,
            codice_lotto=codice_lotto(2026, commessa, tipo, n),
            data_inizio=inizio,
            data_fine=fine,
            qta_input=qta_input,
            qta_output=(buoni if buoni is not None else qta_input - scarti) if chiuso else None,
            qta_scarti=scarti if chiuso else None,
            causale_id=self.causali[causale] if causale else None,
            operatore_id=self.operatori[operatore].id,
            operatore_chiusura_id=self.operatori[chiuso_da or operatore].id if chiuso else None,
            macchina_id=self.macchine[macchina],
        )
        session.add(lotto)
        session.commit()
        self.lotti[nome] = lotto.id
        return lotto.id


@pytest.fixture
def impianto(db_session, make_user) -> Impianto:
    """Orders, machines and people of the plant above, without lotti."""
    imp = Impianto()
    tipi = {t.codice: t.id for t in db_session.scalars(select(FaseTipo))}
    for commessa, fasi in ((101, ("SMD", "CONTROLLI")), (104, ("PTH",))):
        db_session.add(
            ConfigCommessa(
                commessa_erp_id=commessa,
                flag_smd="SMD" in fasi,
                flag_pth="PTH" in fasi,
                flag_controlli="CONTROLLI" in fasi,
                qta_erp=500,
            )
        )
        for codice in fasi:
            fase = Fase(commessa_erp_id=commessa, fase_tipo_id=tipi[codice], stato="IN_CORSO", qta_prevista=500)
            db_session.add(fase)
            db_session.flush()
            imp.fasi[(commessa, codice)] = fase.id
    for codice, tipo in (("SMD-A", "SMD"), ("SMD-B", "SMD"), ("PTH-A", "PTH"), ("CTRL-A", "CONTROLLI")):
        macchina = Macchina(codice=codice, descrizione=codice, fase_tipo_id=tipi[tipo], attiva=True)
        db_session.add(macchina)
        db_session.flush()
        imp.macchine[codice] = macchina.id
    db_session.commit()
    for nome, cognome in (
        ("Anna", "Bianchi"),
        ("Luca", "Verdi"),
        ("Sara", "Neri"),
        ("Marco", "Gialli"),
        ("Elena", "Blu"),
        ("Paolo", "Rosa"),
    ):
        imp.operatori[nome] = make_user(ruolo="OPERATORE", password=None, pin="1234", nome=nome, cognome=cognome)
    imp.causali = {c.codice: c.id for c in db_session.scalars(select(CausaleScarto))}
    return imp


@pytest.fixture
def marzo(db_session, impianto) -> Impianto:
    """The March lotti of the table above."""
    imp, s = impianto, db_session
    imp.lotto(
        s,
        "L0",
        101,
        "SMD",
        "SMD-A",
        "Luca",
        locale("2026-03-22", "22:00"),
        locale("2026-03-22", "23:30"),
        10,
        scarti=2,
        causale="SMD-PASTA",
    )
    imp.lotto(
        s,
        "L1",
        101,
        "SMD",
        "SMD-A",
        "Anna",
        locale("2026-03-23", "08:00"),
        locale("2026-03-23", "09:30"),
        100,
        scarti=10,
        causale="SMD-PICK",
    )
    imp.lotto(s, "L2", 101, "SMD", "SMD-B", "Luca", locale("2026-03-22", "23:00"), locale("2026-03-23", "01:00"), 100)
    imp.lotto(
        s,
        "L3",
        101,
        "CONTROLLI",
        "CTRL-A",
        "Sara",
        locale("2026-03-25", "10:00"),
        locale("2026-03-25", "10:45"),
        100,
        buoni=95,
        scarti=3,
        causale="CTRL-AOI",
        chiuso_da="Anna",
    )
    imp.lotto(
        s,
        "L4",
        104,
        "PTH",
        "PTH-A",
        "Marco",
        locale("2026-03-26", "14:00"),
        locale("2026-03-26", "16:00"),
        50,
        scarti=10,
        causale="PTH-SALD",
    )
    imp.lotto(s, "L5", 101, "SMD", "SMD-A", "Elena", locale("2026-03-29", "01:30"), locale("2026-03-29", "03:30"), 20)
    imp.lotto(
        s,
        "L6",
        101,
        "CONTROLLI",
        "CTRL-A",
        "Paolo",
        locale("2026-03-29", "22:30"),
        locale("2026-03-29", "23:30"),
        40,
        scarti=4,
        causale="MANIP",
    )
    imp.lotto(s, "L7", 101, "SMD", "SMD-B", "Anna", locale("2026-03-29", "23:45"), locale("2026-03-30", "00:30"), 30)
    imp.lotto(s, "O1", 101, "SMD", "SMD-A", "Sara", locale("2026-03-30", "09:00"), None, 10)
    imp.lotto(s, "O2", 104, "PTH", "PTH-A", "Marco", locale("2026-03-29", "18:00"), None, 10)
    return imp


def kpi(session, periodo=MARZO, adesso=ADESSO, ore_dimenticato=12.0):
    return calcola_kpi(session, periodo, adesso=adesso, zona=ZONA, ore_dimenticato=ore_dimenticato)


# -- the March week, by hand ---------------------------------------------------------------------


def test_counts_and_pieces_of_the_lotti_closed_in_the_week(db_session, marzo):
    k = kpi(db_session)
    assert k.periodo == MARZO
    # L1 L2 L3 L4 L5 L6: L0 closed the Sunday before, L7 the Monday after, O1 O2 are open.
    assert k.lotti_settimana == 6
    assert k.lotti_per_fase == {"SMD": 3, "PTH": 1, "CONTROLLI": 2}
    assert (k.pezzi_buoni, k.pezzi_scartati) == (90 + 100 + 95 + 40 + 20 + 36, 10 + 3 + 10 + 4)
    # 27 / (381 + 27) = 6.617…%; the 2 pieces L3 returned were not worked and do not count.
    assert k.scarti_percent == 6.62


def test_scrap_paretos_largest_first_ties_by_code_without_zeros(db_session, marzo):
    k = kpi(db_session)
    assert k.scarti_per_fase == [
        {"FaseTipo": "PTH", "pezzi_scartati": 10},
        {"FaseTipo": "SMD", "pezzi_scartati": 10},
        {"FaseTipo": "CONTROLLI", "pezzi_scartati": 7},
    ]
    m = marzo.macchine
    assert k.scarti_per_macchina == [  # SMD-B scrapped nothing: not listed
        {"MacchinaID": m["PTH-A"], "Codice": "PTH-A", "pezzi_scartati": 10},
        {"MacchinaID": m["SMD-A"], "Codice": "SMD-A", "pezzi_scartati": 10},
        {"MacchinaID": m["CTRL-A"], "Codice": "CTRL-A", "pezzi_scartati": 7},
    ]
    c = marzo.causali
    assert k.scarti_per_causale == [
        {
            "CausaleID": c["PTH-SALD"],
            "Codice": "PTH-SALD",
            "Descrizione": "Saldatura a onda difettosa",
            "pezzi_scartati": 10,
        },
        {
            "CausaleID": c["SMD-PICK"],
            "Codice": "SMD-PICK",
            "Descrizione": "Componente mancante o disallineato (pick & place)",
            "pezzi_scartati": 10,
        },
        {"CausaleID": c["MANIP"], "Codice": "MANIP", "Descrizione": "Danno da manipolazione", "pezzi_scartati": 4},
        {
            "CausaleID": c["CTRL-AOI"],
            "Codice": "CTRL-AOI",
            "Descrizione": "Scarto rilevato da AOI",
            "pezzi_scartati": 3,
        },
    ]


def test_top_five_operators_by_good_pieces_of_the_lotti_they_opened(db_session, marzo):
    o = {nome: u.id for nome, u in marzo.operatori.items()}
    assert kpi(db_session).top_operatori == [
        {"OperatoreID": o["Luca"], "Nome": "Luca Verdi", "pezzi_buoni": 100},
        # L3 was closed by Anna: its pieces stay Sara's, who opened and worked it.
        {"OperatoreID": o["Sara"], "Nome": "Sara Neri", "pezzi_buoni": 95},
        {"OperatoreID": o["Anna"], "Nome": "Anna Bianchi", "pezzi_buoni": 90},
        {"OperatoreID": o["Marco"], "Nome": "Marco Gialli", "pezzi_buoni": 40},
        {"OperatoreID": o["Paolo"], "Nome": "Paolo Rosa", "pezzi_buoni": 36},
    ]  # Elena (20) is sixth


def test_open_and_forgotten_lotti_are_counted_now(db_session, marzo):
    k = kpi(db_session)
    assert (k.lotti_aperti, k.lotti_dimenticati) == (2, 1)  # O2 is open since 16 h
    assert kpi(db_session, ore_dimenticato=17).lotti_dimenticati == 0
    # Regardless of the period asked for.
    lontano = kpi(db_session, periodo=Periodo(date(2025, 1, 6), date(2025, 1, 12)))
    assert (lontano.lotti_aperti, lontano.lotti_dimenticati) == (2, 1)


def test_first_pass_yield_and_mean_duration_by_phase_type(db_session, marzo):
    k = kpi(db_session)
    # SMD 210 good of 220 worked; PTH 40 of 50; CONTROLLI 131 of 138 (L3's 2 returned not counted).
    assert k.resa_primo_passaggio == {"SMD": 95.45, "PTH": 80.0, "CONTROLLI": 94.93}
    # SMD: L1 90 min, L2 120 min (opened the week before), L5 60 real minutes across the
    # change to summer time (01:30 CET → 03:30 CEST); CONTROLLI (45 + 60) / 2.
    assert k.durata_media_minuti == {"SMD": 90.0, "PTH": 120.0, "CONTROLLI": 52.5}


def test_daily_output_uses_local_days_around_the_change_to_summer_time(db_session, marzo):
    giorni = kpi(db_session).produzione_giornaliera
    assert len(giorni) == 30
    assert (giorni[0]["data"], giorni[-1]["data"]) == (date(2026, 2, 28), date(2026, 3, 29))
    per_giorno = {g["data"]: g["pezzi_buoni"] for g in giorni if g["pezzi_buoni"]}
    assert per_giorno == {
        date(2026, 3, 22): 8,  # L0
        date(2026, 3, 23): 190,  # L2 (01:00) + L1
        date(2026, 3, 25): 95,
        date(2026, 3, 26): 40,
        # The 23-hour Sunday: L5 (03:30 CEST) and L6 (23:30 CEST = 21:30 UTC); L7 closed at
        # 00:30 of Monday (22:30 UTC of Sunday) belongs to the 30th, outside the chart.
        date(2026, 3, 29): 56,
    }


def test_the_next_week_starts_at_local_midnight_of_monday(db_session, marzo):
    k = kpi(db_session, periodo=Periodo(date(2026, 3, 30), date(2026, 4, 5)))
    assert (k.lotti_settimana, k.lotti_per_fase["SMD"], k.pezzi_buoni) == (1, 1, 30)  # L7 only
    # The week is not over: the chart ends today, the 30th, with L7.
    assert k.produzione_giornaliera[-1] == {"data": date(2026, 3, 30), "pezzi_buoni": 30}


def test_the_default_period_is_the_current_iso_week(db_session, marzo):
    k = kpi(db_session, periodo=Periodo(), adesso=locale("2026-03-29", "23:50"))
    assert k.periodo == MARZO
    assert k.lotti_settimana == 6


# -- the other change of time, in October ------------------------------------------------------------


def test_iso_week_and_days_around_the_change_to_winter_time(db_session, impianto):
    imp, s = impianto, db_session
    # Sunday 25 October 2026 lasts 25 hours (03:00 CEST → 02:00 CET).
    imp.lotto(s, "prima", 101, "SMD", "SMD-A", "Anna", locale("2026-10-18", "23:00"), locale("2026-10-18", "23:59"), 5)
    imp.lotto(
        s, "mezzanotte", 101, "SMD", "SMD-A", "Anna", locale("2026-10-18", "23:30"), locale("2026-10-19", "00:00"), 7
    )  # exactly at the week's first instant: in it
    # 02:30 CEST → 02:30 CET: the clock shows no time passed, an hour did.
    imp.lotto(
        s,
        "doppia",
        101,
        "SMD",
        "SMD-B",
        "Luca",
        locale("2026-10-25", "02:30"),
        locale("2026-10-25", "02:30", fold=1),
        10,
    )
    imp.lotto(
        s, "domenica", 101, "SMD", "SMD-B", "Luca", locale("2026-10-25", "22:30"), locale("2026-10-25", "23:30"), 20
    )
    imp.lotto(
        s, "lunedi", 101, "SMD", "SMD-A", "Anna", locale("2026-10-25", "23:40"), locale("2026-10-26", "00:00"), 40
    )  # exactly at the next week's first instant: not in this one
    imp.lotto(s, "dopo", 101, "SMD", "SMD-A", "Anna", locale("2026-10-26", "00:05"), locale("2026-10-26", "00:30"), 80)

    settimana = Periodo(date(2026, 10, 19), date(2026, 10, 25))
    k = kpi(s, periodo=settimana, adesso=locale("2026-11-02", "12:00"))
    assert (k.lotti_settimana, k.pezzi_buoni) == (3, 7 + 10 + 20)
    # (30 + 60 + 60) / 3: "doppia" lasted an hour although it opened and closed at 02:30.
    assert k.durata_media_minuti["SMD"] == 50.0
    giorni = {g["data"]: g["pezzi_buoni"] for g in k.produzione_giornaliera}
    assert k.produzione_giornaliera[-1]["data"] == date(2026, 10, 25)
    assert (giorni[date(2026, 10, 18)], giorni[date(2026, 10, 19)], giorni[date(2026, 10, 25)]) == (5, 7, 30)

    dopo = kpi(s, periodo=Periodo(date(2026, 10, 26), date(2026, 11, 1)), adesso=locale("2026-11-02", "12:00"))
    assert (dopo.lotti_settimana, dopo.pezzi_buoni) == (2, 120)
    assert {g["data"]: g["pezzi_buoni"] for g in dopo.produzione_giornaliera}[date(2026, 10, 26)] == 120


# -- empty, unusual and refused ------------------------------------------------------------------------


def test_an_empty_period_has_zeros_and_no_division_by_zero(db_session, impianto):
    k = kpi(db_session)
    assert (k.lotti_settimana, k.pezzi_buoni, k.pezzi_scartati, k.scarti_percent) == (0, 0, 0, 0.0)
    assert k.lotti_per_fase == {"SMD": 0, "PTH": 0, "CONTROLLI": 0}
    assert k.resa_primo_passaggio == {"SMD": None, "PTH": None, "CONTROLLI": None}
    assert k.durata_media_minuti == {"SMD": None, "PTH": None, "CONTROLLI": None}
    assert k.scarti_per_fase == k.scarti_per_macchina == k.scarti_per_causale == k.top_operatori == []
    assert [g["pezzi_buoni"] for g in k.produzione_giornaliera] == [0] * 30
    assert (k.lotti_aperti, k.lotti_dimenticati) == (0, 0)
    assert k.as_api()["scarti_percent"] == 0.0


def test_lotti_with_only_scrap_or_only_good(db_session, impianto):
    impianto.lotto(
        db_session,
        "tutto_scarto",
        104,
        "PTH",
        "PTH-A",
        "Marco",
        locale("2026-03-24", "08:00"),
        locale("2026-03-24", "09:00"),
        10,
        buoni=0,
        scarti=10,
        causale="PTH-INS",
    )
    k = kpi(db_session)
    assert (k.scarti_percent, k.resa_primo_passaggio["PTH"], k.resa_primo_passaggio["SMD"]) == (100.0, 0.0, None)
    assert k.top_operatori == []  # nobody made good pieces


def test_phase_types_active_always_inactive_only_with_lotti(db_session, marzo):
    db_session.add(FaseTipo(codice="COLLAUDO", descrizione="Collaudo finale", ordine=40, attivo=True))
    pth = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH"))
    db_session.add(FaseTipo(codice="LAVAGGIO", descrizione="Lavaggio", ordine=25, attivo=False))
    pth.attivo = False  # PTH retired after L4 closed
    db_session.commit()
    k = kpi(db_session)
    assert list(k.lotti_per_fase) == ["SMD", "PTH", "CONTROLLI", "COLLAUDO"]  # by Ordine; no LAVAGGIO
    assert (k.lotti_per_fase["PTH"], k.lotti_per_fase["COLLAUDO"]) == (1, 0)
    assert sum(k.lotti_per_fase.values()) == k.lotti_settimana
    assert (k.resa_primo_passaggio["COLLAUDO"], k.durata_media_minuti["COLLAUDO"]) == (None, None)


def test_scrap_without_a_reason_has_its_own_entry_if_the_data_breaks_r7(db_session, marzo):
    # Not possible through the application (R7); rows written by other means may hold it.
    marzo.lotto(
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
    causali = [(c["Codice"], c["pezzi_scartati"]) for c in kpi(db_session).scarti_per_causale]
    # Equal to MANIP's 4: after every code.
    assert causali == [("PTH-SALD", 10), ("SMD-PICK", 10), ("MANIP", 4), (None, 4), ("CTRL-AOI", 3)]
    assert kpi(db_session).scarti_per_causale[3] == {
        "CausaleID": None,
        "Codice": None,
        "Descrizione": None,
        "pezzi_scartati": 4,
    }


def test_the_lotti_of_an_order_with_null_erp_fields_count_like_any_other(db_session, marzo):
    # Order 104 has every ERP field but the id NULL; the KPIs read ASI_GEST only.
    k = kpi(db_session)
    assert k.lotti_per_fase["PTH"] == 1 and k.resa_primo_passaggio["PTH"] == 80.0


@pytest.mark.parametrize(
    ("periodo", "campo"),
    [
        (Periodo(date(2026, 3, 23), None), "a"),
        (Periodo(None, date(2026, 3, 29)), "da"),
        (Periodo(date(2026, 3, 29), date(2026, 3, 23)), "a"),
        (Periodo(date(2025, 1, 1), date(2026, 1, 2)), "a"),
    ],
)
def test_a_period_that_cannot_be_computed_is_refused(db_session, impianto, periodo, campo):
    with pytest.raises(InvalidInput) as errore:
        kpi(db_session, periodo=periodo)
    assert list(errore.value.errors) == [campo]


def test_a_year_is_computed(db_session, marzo):
    k = kpi(db_session, periodo=Periodo(date(2025, 12, 31), date(2026, 12, 30)))  # 365 days
    assert k.lotti_settimana == 8  # every closed lotto
    assert k.produzione_giornaliera[-1]["data"] == date(2026, 3, 30)  # today


def test_no_erp_is_needed(db_session, marzo):
    # calcola_kpi takes no gateway: it cannot depend on the ERP being up or complete.
    assert "erp" not in inspect.signature(calcola_kpi).parameters
    assert kpi(db_session).lotti_settimana == 6
