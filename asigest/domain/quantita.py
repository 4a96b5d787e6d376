"""R5 — the quantity a new lotto may take in each fase of a commessa (QtaDisponibile).

A lotto *consumes* pieces from its fase: its QtaInput while it is open, its QtaOutput +
QtaScarti once closed (a closed lotto's unused remainder returns to availability).

- The **first** enabled fase (in FaseTipo.Ordine order) draws from the order itself:
  ``QtaPrevista − Σ QtaOutput(closed) − Σ QtaInput(open)``. Its own scrap is not
  subtracted, so scrap is made up by producing more until QtaPrevista good pieces exist.
- A **later** fase draws only from what the previous enabled fase has produced:
  ``Σ QtaOutput(closed lotti of the previous fase) − Σ consumed(this fase)``.

This is the one place that computes it: the order card, ``/api/fasi`` and the kiosk
(which pre-fills QtaInput with it and refuses more, R4) all call ``qta_disponibili``.
Pure functions over plain numbers: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsumiFase:
    """What one fase's lotti add up to, with the fase's planned quantity.

    ``output_chiusi`` / ``scarti_chiusi``: Σ QtaOutput / Σ QtaScarti of its closed lotti;
    ``input_aperti``: Σ QtaInput of its open lotti.
    """

    qta_prevista: int
    output_chiusi: int = 0
    scarti_chiusi: int = 0
    input_aperti: int = 0

    @property
    def consumata(self) -> int:
        """Pieces taken from this fase's supply so far: open lotti's input, closed lotti's output + scrap."""
        return self.input_aperti + self.output_chiusi + self.scarti_chiusi


def qta_disponibili(fasi: Sequence[ConsumiFase]) -> list[int]:
    """QtaDisponibile (R5) of each fase, in the same order as ``fasi``.

    ``fasi`` are the enabled fasi of one commessa **in FaseTipo.Ordine order** (the
    caller sorts); the first one draws from its QtaPrevista, each later one from the
    good output of the one before it.

    Never negative: the raw figure can drop below zero only when quantities were
    changed after the fact (a correction, R10, lowering a closed lotto's output that a
    later fase had already taken). Such a fase shows 0 — nothing more can be taken —
    rather than a negative number nobody can act on; the totals that explain it stay
    visible on the fase itself.
    """
    disponibili: list[int] = []
    precedente: ConsumiFase | None = None
    for fase in fasi:
        if precedente is None:
            grezza = fase.qta_prevista - fase.output_chiusi - fase.input_aperti
        else:
            grezza = precedente.output_chiusi - fase.consumata
        disponibili.append(max(0, grezza))
        precedente = fase
    return disponibili


def esaurita(*, precedente_completata: bool, attiva: bool, disponibile: int, lotti_aperti: int) -> bool:
    """R8, second half: a later fase whose previous fase is COMPLETATA, with nothing
    available and no lotto open, can never get another piece (what was scrapped
    upstream never arrives), so it is complete too, short of its QtaPrevista.

    ``attiva``: the fase is APERTA or IN_CORSO (a SOSPESA fase is the supervisor's to
    decide; a COMPLETATA one has nothing left to do).
    """
    return precedente_completata and attiva and disponibile <= 0 and lotti_aperti == 0
