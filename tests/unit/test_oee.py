"""The OEE computation (``domain/oee.py``) on its own: intervals, shifts in the plant's
zone across midnight and both daylight-saving changes, the most specific cycle time,
stops clipped to the planned time, and the figures that say what they miss."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from asigest.domain import oee

ZONA = "Europe/Rome"


def z(testo: str) -> datetime:
    return datetime.fromisoformat(testo).replace(tzinfo=UTC)


def test_intervals():
    a = [(z("2026-01-01T08:00"), z("2026-01-01T12:00")), (z("2026-01-01T13:00"), z("2026-01-01T17:00"))]
    b = [(z("2026-01-01T11:00"), z("2026-01-01T14:00"))]
    assert oee.intersezione(a, b) == [
        (z("2026-01-01T11:00"), z("2026-01-01T12:00")),
        (z("2026-01-01T13:00"), z("2026-01-01T14:00")),
    ]
    assert oee.differenza(a, b) == [
        (z("2026-01-01T08:00"), z("2026-01-01T11:00")),
        (z("2026-01-01T14:00"), z("2026-01-01T17:00")),
    ]
    assert oee.unione([*a, *b]) == [(z("2026-01-01T08:00"), z("2026-01-01T17:00"))]
    assert oee.minuti(a) == 480


def test_a_night_shift_across_both_clock_changes():
    notte = [oee.Turno(giorno_settimana=6, ora_inizio=time(22), ora_fine=time(6))]
    autunno = oee.tempo_calendario((date(2026, 10, 24), date(2026, 10, 25)), ZONA, notte)
    assert oee.minuti(autunno) == 9 * 60
    primavera = oee.tempo_calendario((date(2026, 3, 28), date(2026, 3, 29)), ZONA, notte)
    assert oee.minuti(primavera) == 7 * 60


def test_a_shift_of_the_day_before_counts_from_the_periods_start():
    notte = [oee.Turno(giorno_settimana=g, ora_inizio=time(22), ora_fine=time(6)) for g in range(1, 8)]
    # Monday 5 January 2026 only: Sunday's 22:00–06:00 gives 00:00–06:00, Monday's 22:00–24:00.
    turni = oee.tempo_calendario((date(2026, 1, 5), date(2026, 1, 5)), ZONA, notte)
    assert oee.minuti(turni) == 8 * 60
    assert turni[0][0] == z("2026-01-04T23:00")


def test_dated_rows_replace_the_week_and_the_machine_beats_its_line():
    settimana = [oee.Turno(giorno_settimana=1, ora_inizio=time(8), ora_fine=time(16))]
    festa = [oee.Turno(data=date(2026, 1, 5))]
    assert oee.turni_del_giorno(date(2026, 1, 5), festa, settimana) == []
    assert oee.turni_del_giorno(date(2026, 1, 12), festa, settimana) == settimana
    assert oee.turni_del_giorno(date(2026, 1, 5), [], []) is None
    macchina = [oee.Turno(giorno_settimana=2, ora_inizio=time(6), ora_fine=time(14))]
    # The machine has a week of its own: its line's Monday does not apply to it.
    assert oee.turni_del_giorno(date(2026, 1, 5), macchina, settimana) == []
    assert oee.tempo_calendario((date(2026, 1, 6), date(2026, 1, 6)), ZONA, []) is None


def test_the_most_specific_cycle_time_wins():
    regole = [
        oee.RegolaCiclo(None, 1, None, Decimal(50)),
        oee.RegolaCiclo(None, 1, 7, Decimal(40)),
        oee.RegolaCiclo("ART", 1, None, Decimal(30)),
        oee.RegolaCiclo("ART", 1, 7, Decimal(20)),
        oee.RegolaCiclo("ART", 2, 7, Decimal(1)),
    ]
    assert oee.tempo_ciclo(regole, codart="ART", fase_tipo_id=1, macchina_id=7) == 20
    assert oee.tempo_ciclo(regole, codart="ART", fase_tipo_id=1, macchina_id=8) == 30
    assert oee.tempo_ciclo(regole, codart="ALTRO", fase_tipo_id=1, macchina_id=7) == 40
    assert oee.tempo_ciclo(regole, codart=None, fase_tipo_id=1, macchina_id=8) == 50
    assert oee.tempo_ciclo(regole, codart="ART", fase_tipo_id=3, macchina_id=7) is None


def _fermo(inizio, fine, codice="GUASTO", categoria="GUASTO", pianificato=False):
    return oee.FermoOee(z(inizio), z(fine) if fine else None, codice, codice, categoria, pianificato)


TURNO = [(z("2026-01-05T07:00"), z("2026-01-05T15:00"))]  # 480 min
PERIODO = (z("2026-01-04T23:00"), z("2026-01-05T23:00"))


def test_overlapping_stops_count_each_minute_once():
    figure = oee.calcola(
        periodo=PERIODO,
        adesso=z("2026-01-06T00:00"),
        turni=TURNO,
        fermi=[
            _fermo("2026-01-05T08:00", "2026-01-05T09:00"),
            _fermo("2026-01-05T08:30", "2026-01-05T09:30", "MAT", "MATERIALE"),
        ],
        produzione=[],
    )
    assert figure.tempo_fermo == 90
    assert [(v.codice, v.minuti) for v in figure.fermi_per_causale] == [("GUASTO", 60), ("MAT", 30)]


def test_a_running_stop_counts_until_now_and_a_planned_one_is_no_loss():
    figure = oee.calcola(
        periodo=PERIODO,
        adesso=z("2026-01-05T14:00"),
        turni=TURNO,
        fermi=[
            _fermo("2026-01-05T07:00", "2026-01-05T07:30", "RIUNIONE", "ALTRO", pianificato=True),
            _fermo("2026-01-05T13:00", None),
        ],
        produzione=[oee.ProduzioneOee(buoni=90, scarti=10, secondi=Decimal(60))],
    )
    # Shift 07–15 up to now (14:00): 420 min, less the 30-minute meeting: 390.
    assert figure.tempo_pianificato == 390
    assert figure.tempo_fermo == 60
    assert figure.disponibilita == 330 / 390
    assert figure.efficienza == 100 / 330
    assert figure.qualita == 0.9
    assert figure.oee == (330 / 390) * (100 / 330) * 0.9
    assert figure.fermi_per_causale[0].codice == "GUASTO"
    assert (figure.guasti, figure.mttr, figure.mtbf) == (1, 60, 330)


def test_missing_inputs_are_named():
    senza = oee.calcola(periodo=PERIODO, adesso=PERIODO[1], turni=None, fermi=[], produzione=[])
    assert senza.disponibilita is None and senza.oee is None
    assert senza.mancante == ["calendario", "pezzi_prodotti"]
    senza_ciclo = oee.calcola(
        periodo=PERIODO,
        adesso=PERIODO[1],
        turni=TURNO,
        fermi=[],
        produzione=[oee.ProduzioneOee(10, 0, None, "ART-9"), oee.ProduzioneOee(10, 0, Decimal(5), "ART-1")],
    )
    assert senza_ciclo.efficienza is None and senza_ciclo.disponibilita == 1
    assert senza_ciclo.mancante == ["tempo_ciclo"] and senza_ciclo.articoli_senza_ciclo == {"ART-9"}
    fermo_tutto = oee.calcola(
        periodo=PERIODO,
        adesso=PERIODO[1],
        turni=TURNO,
        fermi=[_fermo("2026-01-05T06:00", "2026-01-05T16:00")],
        produzione=[oee.ProduzioneOee(1, 0, Decimal(5))],
    )
    assert fermo_tutto.disponibilita == 0 and fermo_tutto.efficienza is None
    assert fermo_tutto.mancante == ["tempo_lavoro"]
    nessun_turno = oee.calcola(periodo=PERIODO, adesso=PERIODO[1], turni=[], fermi=[], produzione=[])
    assert nessun_turno.mancante == ["tempo_pianificato", "pezzi_prodotti"]


def test_a_group_adds_times_and_pieces_and_skips_idle_machines_without_calendar():
    una = oee.calcola(
        periodo=PERIODO, adesso=PERIODO[1], turni=TURNO, fermi=[], produzione=[oee.ProduzioneOee(100, 0, Decimal(120))]
    )
    ferma = oee.calcola(periodo=PERIODO, adesso=PERIODO[1], turni=None, fermi=[], produzione=[])
    totale = oee.somma([una, ferma])
    assert totale.mancante == [] and totale.disponibilita == 1
    assert totale.efficienza == una.efficienza
    lavora_senza = oee.calcola(
        periodo=PERIODO, adesso=PERIODO[1], turni=None, fermi=[], produzione=[oee.ProduzioneOee(5, 0, Decimal(1))]
    )
    assert oee.somma([una, lavora_senza]).mancante == ["calendario"]
    assert oee.somma([]).mancante == ["calendario", "pezzi_prodotti"]


def test_the_planned_time_of_a_period_stops_at_now():
    """This week on Monday 10:00: the shifts after now are not planned time yet."""
    figure = oee.calcola(
        periodo=PERIODO,
        adesso=z("2026-01-05T09:00"),
        turni=TURNO,
        fermi=[],
        produzione=[oee.ProduzioneOee(60, 0, Decimal(60))],
    )
    assert figure.tempo_pianificato == 120
    assert figure.efficienza == 0.5
