"""R5: the available quantity of each fase (``asigest.domain.quantita``), on plain numbers."""

from __future__ import annotations

import pytest

from asigest.domain.lotti import numero_commessa
from asigest.domain.quantita import ConsumiFase, esaurita, qta_disponibili


def test_a_new_order_has_its_whole_quantity_in_the_first_fase_and_nothing_after():
    assert qta_disponibili([ConsumiFase(500), ConsumiFase(500), ConsumiFase(500)]) == [500, 0, 0]


def test_no_fasi_no_quantities():
    assert qta_disponibili([]) == []


def test_open_lotti_consume_their_input():
    # SMD has a lotto of 120 open: 380 are left to start, and PTH has nothing yet.
    assert qta_disponibili([ConsumiFase(500, input_aperti=120), ConsumiFase(500)]) == [380, 0]


def test_scrap_in_the_first_fase_is_made_up_by_producing_more():
    # A lotto of 100 closed with 95 good and 5 scrapped: 5 more must be started to reach 100.
    smd = ConsumiFase(100, output_chiusi=95, scarti_chiusi=5)
    assert qta_disponibili([smd]) == [5]


def test_an_unused_remainder_of_a_closed_lotto_returns_to_availability():
    # Input 100 closed with 60 good + 2 scrapped: the 38 never worked are available again.
    smd = ConsumiFase(100, output_chiusi=60, scarti_chiusi=2)
    assert qta_disponibili([smd]) == [40]


def test_a_later_fase_can_take_only_what_the_previous_one_produced():
    smd = ConsumiFase(500, output_chiusi=200, scarti_chiusi=10, input_aperti=100)
    pth = ConsumiFase(500)
    assert qta_disponibili([smd, pth]) == [200, 200]


def test_open_lotti_of_the_previous_fase_give_nothing_to_the_next():
    smd = ConsumiFase(500, input_aperti=300)
    assert qta_disponibili([smd, ConsumiFase(500)]) == [200, 0]


def test_a_later_fase_consumes_open_input_and_closed_output_plus_scrap():
    smd = ConsumiFase(500, output_chiusi=300)
    pth = ConsumiFase(500, output_chiusi=150, scarti_chiusi=10, input_aperti=50)
    controlli = ConsumiFase(500, output_chiusi=100, scarti_chiusi=5, input_aperti=20)
    # PTH: 300 − (50 + 150 + 10) = 90; CONTROLLI draws from PTH's 150 good: 150 − (20 + 100 + 5) = 25.
    assert qta_disponibili([smd, pth, controlli]) == [200, 90, 25]


def test_scrap_in_a_later_fase_is_lost_to_it():
    # PTH scrapped 10 of SMD's 100 good pieces: they cannot be taken again.
    smd = ConsumiFase(100, output_chiusi=100)
    pth = ConsumiFase(100, output_chiusi=90, scarti_chiusi=10)
    assert qta_disponibili([smd, pth]) == [0, 0]


def test_the_chain_follows_the_enabled_fasi_only():
    # SMD + CONTROLLI (no PTH): CONTROLLI draws straight from SMD.
    smd = ConsumiFase(500, output_chiusi=120)
    controlli = ConsumiFase(500, output_chiusi=40, input_aperti=30)
    assert qta_disponibili([smd, controlli]) == [380, 50]


def test_a_single_later_style_fase_still_draws_from_its_prevista():
    # An order configured for CONTROLLI alone: it is the first fase.
    assert qta_disponibili([ConsumiFase(80, output_chiusi=30, scarti_chiusi=4, input_aperti=10)]) == [40]


def test_the_first_fase_is_done_when_its_good_output_reaches_prevista():
    smd = ConsumiFase(100, output_chiusi=100, scarti_chiusi=7)
    assert qta_disponibili([smd, ConsumiFase(100)]) == [0, 100]


@pytest.mark.parametrize(
    "fasi",
    [
        # First fase over-produced against a QtaPrevista lowered afterwards.
        [ConsumiFase(100, output_chiusi=120)],
        # A correction (R10) lowered SMD's output after PTH had taken it.
        [ConsumiFase(100, output_chiusi=50), ConsumiFase(100, output_chiusi=70, scarti_chiusi=5)],
    ],
)
def test_never_negative(fasi):
    assert qta_disponibili(fasi)[-1] == 0


def test_consumata_adds_open_input_and_closed_output_and_scrap():
    assert ConsumiFase(10, output_chiusi=3, scarti_chiusi=2, input_aperti=4).consumata == 9


def test_a_later_fase_with_nothing_left_upstream_is_exhausted():
    assert esaurita(precedente_completata=True, attiva=True, disponibile=0, lotti_aperti=0)


@pytest.mark.parametrize(
    "precedente_completata, attiva, disponibile, lotti_aperti",
    [
        (False, True, 0, 0),  # the previous fase may still produce
        (True, False, 0, 0),  # suspended (or already complete): the supervisor's call
        (True, True, 6, 0),  # pieces are still waiting for it
        (True, True, 0, 1),  # a lotto is still open
    ],
)
def test_a_fase_that_can_still_get_or_finish_pieces_is_not_exhausted(
    precedente_completata, attiva, disponibile, lotti_aperti
):
    assert not esaurita(
        precedente_completata=precedente_completata, attiva=attiva, disponibile=disponibile, lotti_aperti=lotti_aperti
    )


@pytest.mark.parametrize(
    ("codice", "numero"),
    [("2026-1234-SMD-007", "2026/1234"), ("2025-0077-PTH-001", "2025/77"), ("0-1234-SMD-001", None), ("x", None)],
)
def test_a_lotto_code_names_its_order_as_people_read_it(codice, numero):
    assert numero_commessa(codice) == numero
