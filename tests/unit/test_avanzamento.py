"""Order progress rules (SPEC §6): late and at-risk orders and the completion percentages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from asigest.domain.avanzamento import (
    GIORNI_A_RISCHIO,
    a_rischio,
    in_ritardo,
    percentuale,
    percentuale_commessa,
    scadenza_vicina,
)

CONSEGNA = date(2026, 12, 1)


@pytest.mark.parametrize(
    "oggi, stato, atteso",
    [
        (date(2026, 11, 30), "IN_CORSO", False),
        (CONSEGNA, "IN_CORSO", False),  # due by the end of the day: not late yet
        (date(2026, 12, 2), "IN_CORSO", True),
        (date(2026, 12, 2), "APERTA", True),
        (date(2026, 12, 2), "SOSPESA", True),
        (date(2026, 12, 2), "COMPLETATA", False),
        (date(2026, 12, 2), None, True),  # no phases: nothing was completed
    ],
)
def test_late_when_the_due_date_has_passed_and_the_last_fase_is_not_complete(oggi, stato, atteso):
    assert in_ritardo(CONSEGNA, oggi, stato) is atteso


def test_an_order_without_a_due_date_is_never_late():
    assert in_ritardo(None, date(2030, 1, 1), "APERTA") is False


@pytest.mark.parametrize(
    "prodotta, prevista, atteso",
    [
        (0, 500, 0.0),
        (145, 500, 29.0),
        (1, 3, 33.3),
        (500, 500, 100.0),
        (510, 500, 102.0),
        (None, 500, 0.0),
        (0, 0, 0.0),
        (5, 0, 100.0),
        (5, None, 100.0),
    ],
)
def test_percentage_of_the_planned_quantity(prodotta, prevista, atteso):
    assert percentuale(prodotta, prevista) == atteso


@pytest.mark.parametrize(
    "oggi, stato, atteso",
    [
        (CONSEGNA - timedelta(days=8), "IN_CORSO", False),  # more than 7 days ahead
        (CONSEGNA - timedelta(days=7), "IN_CORSO", True),  # the first day at risk
        (CONSEGNA - timedelta(days=1), "APERTA", True),
        (CONSEGNA, "SOSPESA", True),  # due today: still at risk, not yet late
        (CONSEGNA + timedelta(days=1), "IN_CORSO", False),  # late now, no longer "at risk"
        (CONSEGNA - timedelta(days=3), "COMPLETATA", False),  # the last phase is done
        (CONSEGNA - timedelta(days=3), None, True),  # no phases: nothing was completed
    ],
)
def test_at_risk_when_due_within_seven_days_and_the_last_fase_is_not_complete(oggi, stato, atteso):
    assert a_rischio(CONSEGNA, oggi, stato) is atteso


def test_late_and_at_risk_never_hold_together():
    for giorni in range(-30, 30):
        oggi = CONSEGNA + timedelta(days=giorni)
        assert not (in_ritardo(CONSEGNA, oggi, "IN_CORSO") and a_rischio(CONSEGNA, oggi, "IN_CORSO"))


def test_at_risk_window_can_be_changed_and_needs_a_due_date():
    assert GIORNI_A_RISCHIO == 7
    assert a_rischio(CONSEGNA, CONSEGNA - timedelta(days=10), "APERTA", giorni=10) is True
    assert a_rischio(None, CONSEGNA, "APERTA") is False


@pytest.mark.parametrize(
    "fasi, atteso",
    [
        ([], 0.0),
        ([(100, 100), (40, 100)], 70.0),
        ([(150, 100), (0, 100)], 50.0),  # over-production does not hide a phase still at zero
        ([(1, 3), (0, 3), (0, 3)], 11.1),
        ([(None, 100), (5, 0)], 50.0),
    ],
)
def test_order_percentage_is_the_mean_of_the_phases_capped_at_100(fasi, atteso):
    assert percentuale_commessa(fasi) == atteso


def test_only_an_order_due_soon_can_be_late_or_at_risk():
    """The page reads the phases of the other orders only for its own rows: this must hold."""
    for giorni in range(-30, 30):
        oggi = CONSEGNA + timedelta(days=giorni)
        for stato in ("APERTA", "IN_CORSO", "SOSPESA", "COMPLETATA", None):
            if in_ritardo(CONSEGNA, oggi, stato) or a_rischio(CONSEGNA, oggi, stato):
                assert scadenza_vicina(CONSEGNA, oggi)
    assert scadenza_vicina(CONSEGNA, CONSEGNA - timedelta(days=7)) is True
    assert scadenza_vicina(CONSEGNA, CONSEGNA - timedelta(days=8)) is False
    assert scadenza_vicina(CONSEGNA, CONSEGNA + timedelta(days=400)) is True  # overdue
    assert scadenza_vicina(None, CONSEGNA) is False
