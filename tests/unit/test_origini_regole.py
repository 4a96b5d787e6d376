"""R14's pure rules (``domain/origini.py``): FIFO, named sources first, giving back newest
first, and the history replayed in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asigest.domain.origini import Fonte, LottoStorico, preleva, restituisci, ricostruisci

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ore(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_fifo_takes_the_oldest_sources_first():
    assert preleva([Fonte(1, 10), Fonte(2, 10), Fonte(3, 10)], 15) == ({1: 10, 2: 5}, 0)


def test_named_sources_come_first_and_merge_with_fifo():
    fonti = [Fonte(1, 10), Fonte(2, 10), Fonte(3, 10)]
    # 3 gives the 4 asked, 2 all it has; FIFO then empties 1 and takes the last piece from 3.
    assert preleva(fonti, 25, [(3, 4), (2, None)]) == ({3: 5, 2: 10, 1: 10}, 0)


def test_what_no_source_has_is_reported():
    assert preleva([Fonte(1, 4)], 6) == ({1: 4}, 2)


def test_giving_back_starts_from_the_newest_draw():
    assert restituisci([(1, 10), (2, 5), (3, 4)], 7) == {3: 0, 2: 2}
    assert restituisci([(1, 3)], 9) == {1: 0}


def lotto(i, inizio, fine, qta_input, output=None, scarti=None):
    return LottoStorico(i, ore(inizio), ore(fine) if fine is not None else None, qta_input, output, scarti)


def test_history_is_replayed_in_time_order():
    fonti = [lotto(1, 0, 1, 10, 10, 0), lotto(2, 0, 3, 10, 10, 0)]
    # 11 opens at 2 (only source 1 is closed: 8 of it), closes at 4 with 6: gives 2 back.
    # 12 opens at 5 and takes 4 of source 1, then 10 of source 2 — short of nothing.
    lotti = [lotto(11, 2, 4, 8, 5, 1), lotto(12, 5, None, 14)]
    esito = ricostruisci(fonti, lotti)
    assert esito.prelievi == [(11, 1, 6), (12, 1, 4), (12, 2, 10)]
    assert esito.non_collocati == {}


def test_a_lotto_short_at_its_open_takes_the_rest_at_its_close():
    fonti = [lotto(1, 0, 1, 5, 5, 0), lotto(2, 0, 3, 10, 10, 0)]
    esito = ricostruisci(fonti, [lotto(11, 2, 4, 8, 8, 0)])
    assert esito.prelievi == [(11, 1, 5), (11, 2, 3)]
    assert esito.non_collocati == {}


def test_at_one_instant_sources_close_and_lotti_give_back_before_others_open():
    fonti = [lotto(1, 0, 2, 10, 10, 0)]
    lotti = [lotto(11, 2, 3, 10, 6, 0), lotto(12, 3, 3, 4, 4, 0)]
    esito = ricostruisci(fonti, lotti)
    assert esito.prelievi == [(11, 1, 6), (12, 1, 4)]
    assert esito.non_collocati == {}


def test_pieces_from_nowhere_are_counted():
    esito = ricostruisci([lotto(1, 0, 1, 5, 5, 0)], [lotto(11, 2, None, 7)])
    assert esito.prelievi == [(11, 1, 5)]
    assert esito.non_collocati == {11: 2}
