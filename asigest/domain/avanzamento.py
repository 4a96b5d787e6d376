"""Pure rules about an order's progress (avanzamento, SPEC §6): how far a phase is and
when an order is late. No database, no Flask."""

from __future__ import annotations

from datetime import date

from asigest.domain.stati import COMPLETATA


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


def percentuale(prodotta: int | None, prevista: int | None) -> float:
    """QtaProdotta as a percentage of QtaPrevista, one decimal; over-production shows above 100.

    With nothing planned (0 or None) it is 100 once something was produced, else 0.
    """
    prodotta = prodotta or 0
    if not prevista:
        return 100.0 if prodotta > 0 else 0.0
    return round(100.0 * prodotta / prevista, 1)
