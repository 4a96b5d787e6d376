"""Pure rules about an order's progress (avanzamento, SPEC §6): how far a phase and an
order are, when an order is late and when it is at risk of becoming late. No database,
no Flask."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from asigest.domain.stati import COMPLETATA

# An order due within this many days (today included) whose last phase is not done is
# "a rischio": the dashboard and the progress page show it in amber before it turns red.
GIORNI_A_RISCHIO = 7


def in_ritardo(dataconsegna: date | None, oggi: date, stato_ultima_fase: str | None) -> bool:
    """An order is late when its due date has passed and its last phase is not COMPLETATA.

    ``oggi`` is today in the plant's zone: the order is due *by the end of*
    ``dataconsegna``, so it is late from the next day. ``stato_ultima_fase`` is the state
    of the phase last in the flow (highest FaseTipo.Ordine); None (no phases) counts as
    not completed. Without a due date in the ERP an order is never late.
    """
    if dataconsegna is None:
        return False
    return oggi > dataconsegna and stato_ultima_fase != COMPLETATA


def a_rischio(
    dataconsegna: date | None, oggi: date, stato_ultima_fase: str | None, *, giorni: int = GIORNI_A_RISCHIO
) -> bool:
    """An order is *at risk* when it is due within ``giorni`` days — from today (due
    today) to ``oggi + giorni`` included — and its last phase is not COMPLETATA.

    It is the warning before :func:`in_ritardo`: the two never hold together (the day
    after the due date the order is late, no longer at risk). Without a due date an
    order is never at risk; ``stato_ultima_fase`` as in :func:`in_ritardo`.
    """
    if dataconsegna is None:
        return False
    return oggi <= dataconsegna <= oggi + timedelta(days=giorni) and stato_ultima_fase != COMPLETATA


def scadenza_vicina(dataconsegna: date | None, oggi: date, *, giorni: int = GIORNI_A_RISCHIO) -> bool:
    """True when an order is due by ``oggi + giorni`` (overdue included): only such an
    order can be :func:`in_ritardo` or :func:`a_rischio`, so only for it do the phases
    decide those flags. Without a due date, False."""
    return dataconsegna is not None and dataconsegna <= oggi + timedelta(days=giorni)


def percentuale(prodotta: int | None, prevista: int | None) -> float:
    """QtaProdotta as a percentage of QtaPrevista, one decimal; over-production shows above 100.

    With nothing planned (0 or None) it is 100 once something was produced, else 0.
    """
    prodotta = prodotta or 0
    if not prevista:
        return 100.0 if prodotta > 0 else 0.0
    return round(100.0 * prodotta / prevista, 1)


def percentuale_commessa(fasi: Iterable[tuple[int | None, int | None]]) -> float:
    """How far an order is as a whole: the mean of its phases' :func:`percentuale`
    (``(prodotta, prevista)`` pairs), each capped at 100, one decimal; 0 without phases.

    Capped so that one phase producing beyond plan does not hide another still at
    zero: 100 means every phase has produced its planned quantity.
    """
    valori = [min(percentuale(prodotta, prevista), 100.0) for prodotta, prevista in fasi]
    return round(sum(valori) / len(valori), 1) if valori else 0.0
