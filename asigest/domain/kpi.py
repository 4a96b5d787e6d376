"""Pure rules of the KPIs (SPEC §6): which periods may be asked for, which days the daily
output chart shows, how percentages and means are rounded, how Pareto lists are ordered.
No database, no Flask; ``asigest/services/kpi.py`` reads the lotti and applies these.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from asigest.errors import N_

# The longest period the KPIs are computed for: a year, leap day included. Longer
# periods read too many lotti for an interactive answer; an export covers them.
MAX_GIORNI_PERIODO = 366
# The daily output chart: this many local days, the last one included.
GIORNI_PRODUZIONE = 30
# Top operators shown.
MAX_OPERATORI = 5
# Days people may ask for: any plausible production date, far from the calendar's ends
# (the day after 31/12/9999 does not exist).
DATA_MINIMA, DATA_MASSIMA = date(1900, 1, 1), date(2999, 12, 31)

K = TypeVar("K", bound=Hashable)


def errori_periodo(da: date | None, a: date | None) -> dict[str, list[str]]:
    """``{}`` when ``da``..``a`` is a period the KPIs can be asked for, else the messages by
    field (``da``/``a``): both days or neither (neither = the default period), each
    between DATA_MINIMA and DATA_MASSIMA, ``da`` not after ``a``, at most
    MAX_GIORNI_PERIODO days (both ends included)."""
    fuori = {
        campo: [N_("Data fuori dall'intervallo ammesso: scegliere un giorno tra il 1900 e il 2999.")]
        for campo, giorno in (("da", da), ("a", a))
        if giorno is not None and not DATA_MINIMA <= giorno <= DATA_MASSIMA
    }
    if fuori:
        return fuori
    if da is None and a is None:
        return {}
    if da is None:
        return {"da": [N_("Indicare anche la data di inizio (da), oppure nessuna delle due date.")]}
    if a is None:
        return {"a": [N_("Indicare anche la data di fine (a), oppure nessuna delle due date.")]}
    if da > a:
        return {"a": [N_("La data di fine (a) viene prima della data di inizio (da): invertirle.")]}
    if (a - da).days + 1 > MAX_GIORNI_PERIODO:
        return {
            "a": [
                N_(
                    "Periodo troppo lungo: al massimo 366 giorni. Per periodi più lunghi usare "
                    "l'esportazione del registro lotti."
                )
            ]
        }
    return {}


def giorni_produzione(ultimo_del_periodo: date, oggi: date) -> list[date]:
    """The days of the daily output chart, oldest first: GIORNI_PRODUZIONE local days
    ending with the period's last day, or with today when the period ends in the future."""
    ultimo = min(ultimo_del_periodo, oggi)
    return [ultimo - timedelta(days=n) for n in range(GIORNI_PRODUZIONE - 1, -1, -1)]


def percentuale(parte: int, totale: int) -> float | None:
    """``100 · parte / totale`` with 2 decimals, halves rounded up (as by hand); None when
    ``totale`` is 0 (nothing to divide: the caller decides what that shows)."""
    if not totale:
        return None
    return float((Decimal(100 * parte) / Decimal(totale)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def media_minuti(secondi: float | None, quanti: int) -> float | None:
    """The mean of ``quanti`` durations summing to ``secondi``, in minutes with 1 decimal
    (halves up); None when there are none."""
    if not quanti or secondi is None:
        return None
    minuti = Decimal(repr(float(secondi))) / Decimal(60 * quanti)
    return float(minuti.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def pareto(totali: Mapping[K, int], spareggio: Callable[[K], object]) -> list[tuple[K, int]]:
    """``(key, total)`` pairs for a Pareto chart: largest first, equal totals by
    ``spareggio(key)`` (a code), and only totals above zero."""
    return sorted(((k, v) for k, v in totali.items() if v > 0), key=lambda kv: (-kv[1], spareggio(kv[0])))


def somma_per(righe: Iterable[tuple[K, int | None]]) -> dict[K, int]:
    """Add up ``(key, amount)`` pairs by key (a None amount, as a SUM over no row, is 0).

    The amount is typed as it comes: compiled (mypyc, the release wheel) a wrong type
    is refused at the call, and the rows do carry None."""
    totali: dict[K, int] = {}
    for chiave, quanti in righe:
        totali[chiave] = totali.get(chiave, 0) + (quanti or 0)
    return totali
