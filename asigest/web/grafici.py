"""Server-rendered SVG charts: where each bar goes, as plain numbers.

The dashboard draws its charts as SVG in the page (``templates/dashboard/_grafici.html``),
with no script and no ``style`` attribute (the Content-Security-Policy forbids both):
geometry travels in SVG attributes (``x``, ``y``, ``width``, ``height``), colours and
type sizes in the stylesheet. These functions compute that geometry in the chart's
own coordinate system (its ``viewBox``; the stylesheet scales the drawing to its box),
so they are pure and tested without a browser. Each bar keeps the item it was made
from (``dato``) for the template to label, link and tabulate.

- ``colonne``: vertical bars over a value axis with round ticks (daily output);
- ``barre``: horizontal bars, longest = largest value, with each item's share of the
  total and the running (Pareto) share;
- ``pareto``: the largest items, the rest summed into one "others" entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def _arrotonda(valore: float) -> float:
    """SVG coordinates with one decimal: precise enough on any screen, short in the page."""
    return round(valore, 1)


def scala(massimo: float, tacche: int = 4) -> list[float]:
    """The values of a round axis from 0 that reaches at least ``massimo``.

    Steps are 1, 2, 2.5 or 5 times a power of ten, about ``tacche`` of them; with nothing
    to show (``massimo`` ≤ 0) the axis is 0–1, so no bar is ever divided by zero.
    """
    if massimo <= 0:
        return [0.0, 1.0]
    grezzo = massimo / tacche
    potenza = 10 ** math.floor(math.log10(grezzo))
    passo = next(m * potenza for m in (1, 2, 2.5, 5, 10) if m * potenza >= grezzo)
    if passo < 1:
        passo = 1.0  # counts of pieces and lotti: no fractional ticks
    n = math.ceil(massimo / passo - 1e-9)
    return [round(i * passo, 6) for i in range(n + 1)]


@dataclass(frozen=True)
class Colonna:
    """One vertical bar: its box in the viewBox, the value and the item it shows."""

    x: float
    y: float
    larghezza: float
    altezza: float
    valore: float
    dato: Any
    centro: float  # x of the bar's middle, for its label under the axis


@dataclass(frozen=True)
class Tacca:
    """A value on the axis and the height (y) of its grid line."""

    y: float
    valore: float


@dataclass(frozen=True)
class Istogramma:
    """A vertical bar chart: size of the viewBox, the plot area, bars and ticks."""

    larghezza: int
    altezza: int
    sinistra: float  # plot area: x from sinistra to destra, y from alto (top) to base
    destra: float
    alto: float
    base: float
    colonne: list[Colonna]
    tacche: list[Tacca]

    @property
    def massimo(self) -> float:
        return self.tacche[-1].valore


def colonne(
    valori: Sequence[float],
    dati: Sequence[Any] | None = None,
    *,
    larghezza: int = 760,
    altezza: int = 240,
    margine_sinistro: int = 56,
    margine_destro: int = 8,
    margine_alto: int = 12,
    margine_basso: int = 34,
    vuoto: float = 0.25,
) -> Istogramma:
    """Vertical bars of ``valori`` (≥ 0), left to right, each as high as its value on a
    round axis (``scala``) — so heights are proportional to the values.

    ``dati`` are the items behind the values (default: the values); ``vuoto`` is the gap
    between bars as a share of each bar's slot. The margins leave room for the axis
    labels (left) and the item labels (bottom).
    """
    dati = list(valori) if dati is None else list(dati)
    if len(dati) != len(valori):
        raise ValueError("valori e dati devono avere la stessa lunghezza")
    sinistra, destra = float(margine_sinistro), float(larghezza - margine_destro)
    alto, base = float(margine_alto), float(altezza - margine_basso)
    assi = scala(max(valori, default=0))
    cima = assi[-1]
    slot = (destra - sinistra) / max(len(valori), 1)
    barre = []
    for i, (valore, dato) in enumerate(zip(valori, dati)):
        h = (base - alto) * max(valore, 0) / cima
        x = sinistra + i * slot + slot * vuoto / 2
        barre.append(
            Colonna(
                x=_arrotonda(x),
                y=_arrotonda(base - h),
                larghezza=_arrotonda(slot * (1 - vuoto)),
                altezza=_arrotonda(h),
                valore=valore,
                dato=dato,
                centro=_arrotonda(sinistra + (i + 0.5) * slot),
            )
        )
    tacche = [Tacca(y=_arrotonda(base - (base - alto) * v / cima), valore=v) for v in assi]
    return Istogramma(larghezza, altezza, sinistra, destra, alto, base, barre, tacche)


@dataclass(frozen=True)
class Barra:
    """One horizontal bar: its row (``y``, top of the bar), length, value, the share of
    the total and the running share up to and including this bar (Pareto), in percent."""

    y: float
    lunghezza: float
    valore: float
    quota: float
    cumulata: float
    dato: Any
    testo_y: float  # baseline for the bar's labels, vertically centred on the bar


@dataclass(frozen=True)
class BarreOrizzontali:
    """A horizontal bar chart: size of the viewBox, where bars start and may end, the bars."""

    larghezza: int
    altezza: int
    inizio: float  # x where every bar starts (labels sit left of it)
    fine: float  # x where the longest bar ends (values sit right of it)
    spessore: float
    barre: list[Barra]
    totale: float


def barre(
    valori: Sequence[float],
    dati: Sequence[Any] | None = None,
    *,
    larghezza: int = 560,
    etichette: int = 190,
    numeri: int = 110,
    riga: int = 30,
    spessore: int = 20,
) -> BarreOrizzontali:
    """Horizontal bars of ``valori`` (≥ 0), top to bottom in the order given (largest first
    for a Pareto), the largest as long as the room allows and the others in proportion.

    ``etichette`` is the room left of the bars for the items' names, ``numeri`` the room
    right of them for the value and share; ``riga`` the height of each row. Shares are
    0 when the total is 0.
    """
    dati = list(valori) if dati is None else list(dati)
    if len(dati) != len(valori):
        raise ValueError("valori e dati devono avere la stessa lunghezza")
    inizio, fine = float(etichette), float(larghezza - numeri)
    massimo = max(valori, default=0)
    totale = sum(max(v, 0) for v in valori)
    lista, cumulato = [], 0.0
    for i, (valore, dato) in enumerate(zip(valori, dati)):
        valore_pos = max(valore, 0)
        cumulato += valore_pos
        lunghezza = (fine - inizio) * valore_pos / massimo if massimo > 0 else 0.0
        y = i * riga + (riga - spessore) / 2
        lista.append(
            Barra(
                y=_arrotonda(y),
                lunghezza=_arrotonda(lunghezza),
                valore=valore,
                quota=round(100 * valore_pos / totale, 1) if totale else 0.0,
                cumulata=round(100 * cumulato / totale, 1) if totale else 0.0,
                dato=dato,
                testo_y=_arrotonda(y + spessore / 2 + 5),
            )
        )
    return BarreOrizzontali(larghezza, max(len(lista), 1) * riga, inizio, fine, float(spessore), lista, totale)


@dataclass(frozen=True)
class Altre:
    """The items a Pareto chart groups into one row: how many they are."""

    quante: int


def pareto(voci: Sequence[tuple[Any, float]], *, massimo: int = 8) -> list[tuple[Any, float]]:
    """``(item, value)`` largest first, at most ``massimo`` rows: beyond that, the smallest
    are summed into one last ``(Altre(n), sum)`` row so the total stays whole. Items with
    value 0 are left out."""
    ordinate = sorted((v for v in voci if v[1] > 0), key=lambda v: v[1], reverse=True)
    if len(ordinate) <= massimo:
        return ordinate
    tenute, resto = ordinate[: massimo - 1], ordinate[massimo - 1 :]
    return [*tenute, (Altre(len(resto)), sum(v for _, v in resto))]
