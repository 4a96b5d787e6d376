"""The KPIs' pure rules (``asigest/domain/kpi.py``), the API object's keys, and the one
per-database piece of SQL the KPIs use (compiled here for each database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import column
from sqlalchemy.dialects import mssql, postgresql, sqlite

from asigest.dialects import SecondiTra
from asigest.domain import kpi as regole
from asigest.domain.periodo import Periodo
from asigest.services.kpi import Kpi

SPEC_KEYS = [
    "periodo",
    "lotti_settimana",
    "lotti_per_fase",
    "pezzi_buoni",
    "pezzi_scartati",
    "scarti_percent",
    "scarti_per_fase",
    "scarti_per_macchina",
    "scarti_per_causale",
    "top_operatori",
    "lotti_aperti",
    "lotti_dimenticati",
    "resa_primo_passaggio",
    "produzione_giornaliera",
    "durata_media_minuti",
]


# -- which periods may be asked for ---------------------------------------------------------


def test_no_dates_is_the_default_period_and_a_year_is_allowed():
    assert regole.errori_periodo(None, None) == {}
    assert regole.errori_periodo(date(2026, 3, 2), date(2026, 3, 2)) == {}
    assert regole.errori_periodo(date(2024, 1, 1), date(2024, 12, 31)) == {}  # 366 days (leap year)


@pytest.mark.parametrize(
    ("da", "a", "campo", "parola"),
    [
        (date(2026, 3, 2), None, "a", "data di fine"),
        (None, date(2026, 3, 8), "da", "data di inizio"),
        (date(2026, 3, 8), date(2026, 3, 2), "a", "invertirle"),
        (date(2025, 1, 1), date(2026, 1, 2), "a", "366 giorni"),  # 367 days
        (date(1899, 12, 31), date(1900, 1, 5), "da", "1900"),
        (date(2999, 12, 31), date(9999, 12, 31), "a", "2999"),
    ],
)
def test_a_period_that_cannot_be_computed_names_the_field_to_fix(da, a, campo, parola):
    errori = regole.errori_periodo(da, a)
    assert list(errori) == [campo]
    assert parola in errori[campo][0]


# -- the daily chart's days ---------------------------------------------------------------------


def test_the_daily_chart_ends_with_the_period_or_today_whichever_is_earlier():
    passato = regole.giorni_produzione(date(2026, 3, 8), oggi=date(2026, 11, 26))
    assert len(passato) == 30
    assert (passato[0], passato[-1]) == (date(2026, 2, 7), date(2026, 3, 8))
    assert all(b - a == timedelta(days=1) for a, b in zip(passato, passato[1:]))
    in_corso = regole.giorni_produzione(date(2026, 11, 29), oggi=date(2026, 11, 26))
    assert in_corso[-1] == date(2026, 11, 26) and in_corso[0] == date(2026, 10, 28)


# -- rounding and ordering ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parte", "totale", "atteso"),
    [(7, 210, 3.33), (1, 3, 33.33), (2, 3, 66.67), (1, 32, 3.13), (0, 5, 0.0), (5, 5, 100.0), (3, 0, None)],
)
def test_percentuale_has_two_decimals_halves_up_and_none_over_nothing(parte, totale, atteso):
    # 1/32 = 3.125 %: rounded up as by hand (Python's round() would give 3.12).
    assert regole.percentuale(parte, totale) == atteso


def test_media_minuti_has_one_decimal_and_none_without_lotti():
    assert regole.media_minuti(3 * 5400.0, 3) == 90.0
    assert regole.media_minuti(9.0, 2) == 0.1  # 4.5 s = 0.075 min, halves up
    assert regole.media_minuti(100.0, 0) is None
    assert regole.media_minuti(None, 2) is None


def test_pareto_is_largest_first_ties_by_code_and_drops_zeros():
    totali = {"SMD": 10, "PTH": 10, "CONTROLLI": 7, "ALTRO": 0}
    assert regole.pareto(totali, lambda c: c) == [("PTH", 10), ("SMD", 10), ("CONTROLLI", 7)]
    assert regole.pareto({}, lambda c: c) == []


def test_somma_per_adds_by_key():
    assert regole.somma_per([("a", 2), ("b", 1), ("a", 3), ("c", None)]) == {"a": 5, "b": 1, "c": 0}


# -- the API object ----------------------------------------------------------------------------------


def test_as_api_has_spec_keys_in_order_and_iso_dates():
    kpi = Kpi(
        periodo=Periodo(date(2026, 3, 23), date(2026, 3, 29)),
        lotti_settimana=0,
        lotti_per_fase={"SMD": 0},
        pezzi_buoni=0,
        pezzi_scartati=0,
        scarti_percent=0.0,
        produzione_giornaliera=[{"data": date(2026, 3, 29), "pezzi_buoni": 4}],
    )
    api = kpi.as_api()
    assert list(api) == SPEC_KEYS
    assert api["periodo"] == {"da": "2026-03-23", "a": "2026-03-29"}
    assert api["produzione_giornaliera"] == [{"data": "2026-03-29", "pezzi_buoni": 4}]


# -- the one per-database expression ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialetto", "atteso"),
    [
        (sqlite.dialect(), "((julianday(b) - julianday(a)) * 86400.0)"),
        (postgresql.dialect(), "EXTRACT(EPOCH FROM (b - a))"),
        (mssql.dialect(), "(CAST(DATEDIFF_BIG(millisecond, a, b) AS FLOAT) / 1000.0)"),
    ],
)
def test_seconds_between_two_instants_compiles_for_each_database(dialetto, atteso):
    assert str(SecondiTra(column("a"), column("b")).compile(dialect=dialetto)) == atteso
