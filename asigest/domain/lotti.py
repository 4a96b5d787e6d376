"""Pure rules about lotti: their code (R6), what closing needs (R7), when one is forgotten (R13),
and how an operator's scan is read. No database, no Flask."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from asigest.errors import N_

# 2026-1234-SMD-003 (the fase code may contain letters, digits and underscores).
_CODICE_LOTTO = re.compile(r"^\s*(\d{4})-(\d{1,9})-([A-Z0-9_]+)-(\d{1,6})\s*$", re.I)
_NUMERO = re.compile(r"^\s*(?:(\d{4})\s*/\s*)?(\d{1,9})\s*$")


def codice_lotto(esercizio: int | None, numerocom: int | None, fase_codice: str, progressivo: int) -> str:
    """``2026-1234-SMD-003``: the label people read and scan (R6).

    A commessa with a NULL year or number in the ERP still gets a unique code: ``0``
    stands in for the missing part, and uniqueness is held by the database anyway.
    """
    return f"{esercizio or 0}-{numerocom or 0}-{fase_codice}-{progressivo:03d}"


def numero_commessa(codice: str) -> str | None:
    """The order as people read it (``2026/1234``) from a lotto's code, which carries its
    year and number; None when the code does not (a year or number the ERP left NULL)."""
    trovato = _CODICE_LOTTO.match(codice)
    if trovato is None or int(trovato[1]) == 0 or int(trovato[2]) == 0:
        return None
    return f"{trovato[1]}/{int(trovato[2])}"


@dataclass(frozen=True)
class Scansione:
    """What an operator typed or scanned at the kiosk, understood.

    Exactly one of: a lotto code, a year/number pair, or a bare number (this year's).
    """

    codice_lotto: str | None = None
    esercizio: int | None = None
    numerocom: int | None = None


def leggi_scansione(testo: str) -> Scansione | None:
    """Read ``2026-1234-SMD-003``, ``2026/1234`` or ``1234``; None for anything else."""
    testo = (testo or "").strip()
    if _CODICE_LOTTO.match(testo):
        return Scansione(codice_lotto=testo.upper())
    match = _NUMERO.match(testo)
    if match:
        anno = int(match.group(1)) if match.group(1) else None
        return Scansione(esercizio=anno, numerocom=int(match.group(2)))
    return None


def errori_chiusura(
    qta_input: int, qta_output: int | None, qta_scarti: int | None, ha_causale: bool
) -> dict[str, list[str]]:
    """R7, field by field: ``{}`` when a lotto with ``qta_input`` may close with these figures.

    QtaOutput ≥ 0, QtaScarti ≥ 0, 0 < QtaOutput + QtaScarti ≤ QtaInput; a scrap reason
    whenever QtaScarti > 0 and none when QtaScarti = 0 (a reason without scrap would
    count in the scrap Pareto for nothing). A remainder (less than QtaInput) is allowed:
    it goes back to the fase's availability. ``ha_causale``: a reason was given.
    """
    errori: dict[str, list[str]] = {}
    if qta_output is None or qta_output < 0:
        errori["QtaOutput"] = [N_("Indicare i pezzi buoni (0 o più).")]
    if qta_scarti is None or qta_scarti < 0:
        errori["QtaScarti"] = [N_("Indicare gli scarti (0 o più).")]
    if errori or qta_output is None or qta_scarti is None:  # (each None has its message)
        return errori
    totale = qta_output + qta_scarti
    if totale == 0:
        errori["QtaOutput"] = [N_("Buoni e scarti sono entrambi zero: indicare quanti pezzi sono stati lavorati.")]
    elif totale > qta_input:
        errori["QtaOutput"] = [N_("Buoni + scarti superano i pezzi entrati nel lotto: ricontare.")]
    if qta_scarti > 0 and not ha_causale:
        errori["CausaleScarto"] = [N_("Ci sono scarti: scegliere la causale.")]
    elif qta_scarti == 0 and ha_causale:
        errori["CausaleScarto"] = [N_("Senza scarti non si indica la causale: toglierla, oppure indicare gli scarti.")]
    return errori


def resto_chiusura(qta_input: int, qta_output: int | None, qta_scarti: int | None) -> int:
    """The pieces a close leaves unaccounted (R7 allows it: they go back to the fase's
    availability). The kiosk asks the operator to confirm the figure (SPEC §9); 0 when
    the figures are incomplete or reach the input."""
    if qta_output is None or qta_scarti is None:
        return 0
    return max(0, qta_input - qta_output - qta_scarti)


def dimenticato(data_inizio: datetime, adesso: datetime, limite_ore: float) -> bool:
    """R13: an open lotto started more than ``limite_ore`` hours ago is flagged."""
    return adesso - data_inizio > timedelta(hours=limite_ore)
