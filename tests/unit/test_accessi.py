"""The lockout rule (domain/accessi.py): when failures start a lock and how long it lasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from asigest.domain.accessi import LimitiAccesso, fine_blocco, minuti_residui

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LIMITI = LimitiAccesso()


def minuti(*valori):
    return [T0 + timedelta(minutes=m) for m in valori]


def test_fewer_failures_than_the_threshold_lock_nothing():
    assert fine_blocco(minuti(0, 1, 2, 3), 5, LIMITI) is None
    assert fine_blocco([], 5, LIMITI) is None


def test_the_fifth_failure_within_the_window_locks_for_the_full_lock_time():
    assert fine_blocco(minuti(0, 1, 2, 3, 14), 5, LIMITI) == T0 + timedelta(minutes=14 + 15)
    # Exactly at the window's edge still counts; order does not matter.
    assert fine_blocco(minuti(15, 0, 5, 10, 12), 5, LIMITI) == T0 + timedelta(minutes=30)


def test_failures_spread_wider_than_the_window_lock_nothing():
    assert fine_blocco(minuti(0, 4, 8, 12, 16, 20, 24), 5, LIMITI) is None


def test_the_latest_lock_wins():
    tempi = minuti(0, 1, 2, 3, 4) + minuti(40, 41, 42, 43, 44)
    assert fine_blocco(tempi, 5, LIMITI) == T0 + timedelta(minutes=59)


def test_a_zero_threshold_disables_the_lock():
    assert fine_blocco(minuti(0, 1, 2), 0, LIMITI) is None


def test_remaining_minutes_round_up_and_never_show_zero():
    assert minuti_residui(T0 + timedelta(minutes=14, seconds=1), T0) == 15
    assert minuti_residui(T0 + timedelta(seconds=5), T0) == 1
    assert minuti_residui(T0 + timedelta(minutes=15), T0) == 15


def test_defaults_are_the_documented_policy():
    assert (LIMITI.max_badge, LIMITI.max_indirizzo) == (5, 20)
    assert LIMITI.finestra == LIMITI.blocco == timedelta(minutes=15)
    assert LIMITI.orizzonte == timedelta(minutes=30)
