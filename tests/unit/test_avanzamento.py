"""Order progress rules (SPEC §6): late orders and the completion percentage."""

from __future__ import annotations

from datetime import date

import pytest

from asigest.domain.avanzamento import in_ritardo, percentuale

CONSEGNA = date(2026, 12, 1)


@pytest.mark.parametrize("oggi, stato, atteso", [
    (date(2026, 11, 30), "IN_CORSO", False),
    (CONSEGNA, "IN_CORSO", False),  # due by the end of the day: not late yet
    (date(2026, 12, 2), "IN_CORSO", True),
    (date(2026, 12, 2), "APERTA", True),
    (date(2026, 12, 2), "SOSPESA", True),
    (date(2026, 12, 2), "COMPLETATA", False),
    (date(2026, 12, 2), None, True),  # no phases: nothing was completed
])
def test_late_when_the_due_date_has_passed_and_the_last_fase_is_not_complete(oggi, stato, atteso):
    assert in_ritardo(CONSEGNA, oggi, stato) is atteso


def test_an_order_without_a_due_date_is_never_late():
    assert in_ritardo(None, date(2030, 1, 1), "APERTA") is False


@pytest.mark.parametrize("prodotta, prevista, atteso", [
    (0, 500, 0.0), (145, 500, 29.0), (1, 3, 33.3), (500, 500, 100.0), (510, 500, 102.0),
    (None, 500, 0.0), (0, 0, 0.0), (5, 0, 100.0), (5, None, 100.0),
])
def test_percentage_of_the_planned_quantity(prodotta, prevista, atteso):
    assert percentuale(prodotta, prevista) == atteso
