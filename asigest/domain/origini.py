"""R14 — which closed lotti of the previous phase a lotto's pieces come from (the draws).

A lotto of a later fase *draws* what it consumes (R5: QtaInput while open, QtaOutput +
QtaScarti once closed) from closed lotti of the previous enabled fase of the same order,
its *sources*. A source gives at most its QtaOutput, less what other lotti already drew
from it (its *residuo*).

- **Opening** draws QtaInput: first from the sources the operator named (scanned label,
  or ``Origini`` in the API body), in the order given, then from the oldest closed
  sources (FIFO: by DataFine, then LottoID).
- **Giving back** (a short close, a correction that lowers what the lotto consumes)
  takes pieces off the newest draws first, so the sources drawn first keep theirs.
- **History** (``ricostruisci``): the draws of lotti recorded before R14, replayed in time
  order by the same rules.

Pure functions over plain numbers: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Fonte:
    """A closed lotto of the previous fase that still has pieces to give."""

    lotto_id: int
    residuo: int


def preleva(
    fonti: Sequence[Fonte], qta: int, scelte: Sequence[tuple[int, int | None]] = ()
) -> tuple[dict[int, int], int]:
    """Draw ``qta`` pieces: first ``scelte`` (``(LottoID, Qta)`` in order; Qta None = as
    much as that source has, up to what is still needed), then FIFO over ``fonti`` (given
    oldest first). Returns ``({LottoOrigineID: Qta}`` in draw order, pieces not placed).

    The caller has checked that each chosen source is one of ``fonti`` with enough
    residuo and that the chosen quantities do not exceed ``qta``.
    """
    residui = {f.lotto_id: f.residuo for f in fonti}
    presi: dict[int, int] = {}
    manca = qta

    def prendi(lotto_id: int, quanti: int) -> None:
        nonlocal manca
        quanti = min(quanti, residui.get(lotto_id, 0), manca)
        if quanti > 0:
            presi[lotto_id] = presi.get(lotto_id, 0) + quanti
            residui[lotto_id] -= quanti
            manca -= quanti

    for lotto_id, quanti in scelte:
        prendi(lotto_id, manca if quanti is None else quanti)
    for fonte in fonti:
        if manca == 0:
            break
        prendi(fonte.lotto_id, residui[fonte.lotto_id])
    return presi, manca


def restituisci(prelievi: Sequence[tuple[int, int]], qta: int) -> dict[int, int]:
    """Give ``qta`` pieces back from ``prelievi`` (``(LottoOrigineID, Qta)``, oldest draw
    first): the newest draws give first. Returns the new Qta of each draw that changed
    (0: the draw goes); more than was drawn is given back only up to what was drawn."""
    nuove: dict[int, int] = {}
    for lotto_id, quanti in reversed(prelievi):
        if qta <= 0:
            break
        resa = min(quanti, qta)
        nuove[lotto_id] = quanti - resa
        qta -= resa
    return nuove


# -- history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LottoStorico:
    """A lotto as the database holds it (figures after any correction)."""

    lotto_id: int
    inizio: datetime
    fine: datetime | None
    qta_input: int
    qta_output: int | None
    qta_scarti: int | None

    @property
    def consumata(self) -> int:
        """R5: QtaInput while open, QtaOutput + QtaScarti once closed."""
        if self.fine is None:
            return self.qta_input
        return (self.qta_output or 0) + (self.qta_scarti or 0)


@dataclass
class Ricostruzione:
    """The draws rebuilt for one pair of fasi: ``(LottoID, LottoOrigineID, Qta)`` rows and,
    per lotto that could not draw all it consumes, the pieces left unplaced."""

    prelievi: list[tuple[int, int, int]] = field(default_factory=list)
    non_collocati: dict[int, int] = field(default_factory=dict)


_CHIUDE_FONTE, _CHIUDE, _APRE = 0, 1, 2


def ricostruisci(fonti: Iterable[LottoStorico], lotti: Iterable[LottoStorico]) -> Ricostruzione:
    """Rebuild the draws of ``lotti`` (one fase) from ``fonti`` (the lotti of the previous
    enabled fase of the same order), replaying what happened in time order: a source
    becomes available when it closes, a lotto draws its QtaInput FIFO when it opens and
    gives the remainder back (newest draw first) when it closes.

    At one instant, sources close first, then lotti close (giving back), then lotti open —
    as R5 counts what is available at an instant.
    A lotto that found too few closed sources when it opened (figures corrected since,
    clocks out of step) takes what is still missing at its close from the sources
    closed by then, FIFO; what it still lacks is reported in ``non_collocati``.
    """
    eventi: list[tuple[datetime, int, int, LottoStorico]] = []
    for f in fonti:
        if f.fine is not None and (f.qta_output or 0) > 0:
            eventi.append((f.fine, _CHIUDE_FONTE, f.lotto_id, f))
    for lt in lotti:
        eventi.append((lt.inizio, _APRE, lt.lotto_id, lt))
        if lt.fine is not None:
            eventi.append((max(lt.fine, lt.inizio), _CHIUDE, lt.lotto_id, lt))
    eventi.sort(key=lambda e: (e[0], e[1], e[2]))

    aperte: list[int] = []  # sources in FIFO order
    residui: dict[int, int] = {}
    tirati: dict[int, dict[int, int]] = {}  # per lotto: {source: qta}, in draw order

    def pesca(lotto_id: int, qta: int) -> None:
        """FIFO over the closed sources (``preleva`` without its copies: histories are long)."""
        mie = tirati.setdefault(lotto_id, {})
        for sorgente in aperte:
            if qta == 0:
                break
            quanti = min(residui[sorgente], qta)
            if quanti > 0:
                mie[sorgente] = mie.get(sorgente, 0) + quanti
                residui[sorgente] -= quanti
                qta -= quanti

    for _quando, tipo, lotto_id, lotto in eventi:
        if tipo == _CHIUDE_FONTE:
            aperte.append(lotto_id)
            residui[lotto_id] = lotto.qta_output or 0
            continue
        if lotto_id not in tirati:  # its open (a lotto closed at the instant it opened: now)
            pesca(lotto_id, lotto.qta_input)
        if tipo == _CHIUDE:
            mie = tirati[lotto_id]
            differenza = lotto.consumata - sum(mie.values())
            if differenza < 0:
                for sorgente, nuova in restituisci(list(mie.items()), -differenza).items():
                    residui[sorgente] += mie[sorgente] - nuova
                    mie[sorgente] = nuova
            elif differenza > 0:
                pesca(lotto_id, differenza)

    esito = Ricostruzione()
    for lotto_id, mie in tirati.items():
        for sorgente, quanti in mie.items():
            if quanti > 0:
                esito.prelievi.append((lotto_id, sorgente, quanti))
    consumi = {e[2]: e[3].consumata for e in eventi if e[1] != _CHIUDE_FONTE}
    for lotto_id, consumata in consumi.items():
        mancano = consumata - sum(tirati.get(lotto_id, {}).values())
        if mancano > 0:
            esito.non_collocati[lotto_id] = mancano
    return esito
