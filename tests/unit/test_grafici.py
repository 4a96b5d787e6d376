"""The dashboard's chart geometry: bars as high (or long) as their values, round axes,
shares that add up, and empty data drawn without dividing by zero."""

from __future__ import annotations

import pytest

from asigest.web.grafici import Altre, barre, colonne, pareto, scala


@pytest.mark.parametrize(
    "massimo, attesa",
    [
        (0, [0, 1]),
        (-5, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 25, 50, 75, 100]),
        (101, [0, 50, 100, 150]),
        (987, [0, 250, 500, 750, 1000]),
        (12_345, [0, 5000, 10_000, 15_000]),
    ],
)
def test_the_axis_is_round_and_reaches_the_largest_value(massimo, attesa):
    assert scala(massimo) == attesa


def test_one_bar_per_value_with_heights_proportional_to_the_values():
    valori = [10, 0, 25, 40, 5]
    g = colonne(valori, ["a", "b", "c", "d", "e"], larghezza=500, altezza=200)
    assert len(g.colonne) == 5
    assert [c.dato for c in g.colonne] == ["a", "b", "c", "d", "e"]
    area = g.base - g.alto
    for c, v in zip(g.colonne, valori):
        assert c.altezza == pytest.approx(area * v / g.massimo, abs=0.1)
        assert c.y + c.altezza == pytest.approx(g.base, abs=0.1)  # every bar stands on the axis
    assert g.colonne[3].altezza == pytest.approx(4 * g.colonne[0].altezza, abs=0.2)
    assert g.colonne[1].altezza == 0
    assert g.massimo >= 40
    # Left to right, same width, inside the plot area.
    xs = [c.x for c in g.colonne]
    assert xs == sorted(xs) and len({c.larghezza for c in g.colonne}) == 1
    assert g.colonne[0].x >= g.sinistra and g.colonne[-1].x + g.colonne[-1].larghezza <= g.destra + 0.1


def test_axis_ticks_go_from_the_base_up_to_the_top_of_the_plot():
    g = colonne([3, 97], larghezza=400, altezza=200)
    assert [t.valore for t in g.tacche] == [0, 25, 50, 75, 100]
    assert g.tacche[0].y == g.base and g.tacche[-1].y == g.alto
    ys = [t.y for t in g.tacche]
    assert ys == sorted(ys, reverse=True)


def test_an_empty_period_draws_flat_bars_without_dividing_by_zero():
    g = colonne([0] * 30)
    assert len(g.colonne) == 30 and all(c.altezza == 0 for c in g.colonne)
    assert g.massimo == 1
    assert colonne([]).colonne == []


def test_values_and_items_must_match():
    with pytest.raises(ValueError):
        colonne([1, 2], ["a"])
    with pytest.raises(ValueError):
        barre([1, 2], ["a"])


def test_horizontal_bars_are_as_long_as_their_values_with_shares_and_running_share():
    b = barre([60, 30, 10], ["x", "y", "z"], larghezza=600, etichette=200, numeri=100, riga=30, spessore=20)
    assert [r.dato for r in b.barre] == ["x", "y", "z"]
    assert b.barre[0].lunghezza == pytest.approx(b.fine - b.inizio)
    assert b.barre[1].lunghezza == pytest.approx(b.barre[0].lunghezza / 2, abs=0.1)
    assert b.barre[2].lunghezza == pytest.approx(b.barre[0].lunghezza / 6, abs=0.1)
    assert [r.quota for r in b.barre] == [60.0, 30.0, 10.0]
    assert [r.cumulata for r in b.barre] == [60.0, 90.0, 100.0]
    assert [r.y for r in b.barre] == [5.0, 35.0, 65.0]
    assert b.altezza == 90 and b.totale == 100


def test_horizontal_bars_of_nothing_have_no_length_and_no_share():
    b = barre([0, 0])
    assert all(r.lunghezza == 0 and r.quota == 0 and r.cumulata == 0 for r in b.barre)
    assert barre([]).barre == [] and barre([]).altezza > 0


def test_pareto_keeps_the_largest_and_sums_the_rest_into_one_row():
    voci = [(f"c{i}", v) for i, v in enumerate([5, 50, 0, 20, 1, 7, 3, 9, 2, 4])]
    righe = pareto(voci, massimo=4)
    assert [n for n, _ in righe[:3]] == ["c1", "c3", "c7"]
    altre, somma = righe[3]
    assert isinstance(altre, Altre) and altre.quante == 6  # zero left out
    assert somma == 5 + 1 + 7 + 3 + 2 + 4
    assert sum(v for _, v in righe) == sum(v for _, v in voci)
    assert pareto(voci[:3], massimo=4) == [("c1", 50), ("c0", 5)]
    assert pareto([]) == []
