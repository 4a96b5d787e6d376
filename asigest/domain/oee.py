"""OEE of machines as ISO 22400-2 defines it (SPEC §13): pure, no database, no Flask.

For a period (UTC instants ``[inizio, fine)``, whole local days of the plant) and a machine
(every instant given to ``calcola`` aware, or every one plain UTC: services/oee.py gives
plain ones, cheaper to read by the ten thousand):

- **calendar time**: the shifts of its calendar (``turni``) within the period, in the
  plant's zone — a 22:00–06:00 shift over the night the clocks go back lasts 9 hours;
- **PBT** (planned busy time, ``tempo_pianificato_min``): calendar time minus the planned
  stops (a meeting, preventive maintenance) that fall in it;
- **downtime** (``tempo_fermo_min``): the unplanned stops *within PBT*: a stop is clipped
  to the shifts, so a breakdown that runs past the shift end counts until the shift end,
  and one during the night (no shift) counts nothing;
- **APT** (actual production time, ``tempo_lavoro_min``) = PBT − downtime;
- **PQ / GQ**: good + scrap / good pieces of the lotti *closed* in the period (a lotto's
  pieces count where it closed, as the KPIs count them, even when it opened before);
- availability = APT / PBT; effectiveness = Σ(ideal cycle time × PQ) / APT (per article:
  each lotto's pieces take its own cycle time); quality = GQ / PQ; OEE = their product.

A figure whose input is missing is ``None`` and its input is named in ``mancante``:
``calendario`` (no shift for the machine), ``tempo_pianificato`` (shifts, but none in the
period), ``tempo_ciclo`` (pieces produced without an ideal cycle time), ``tempo_lavoro``
(no production time left to measure speed against), ``pezzi_prodotti`` (nothing closed).

Stops of one machine never overlap in the database (the services refuse it); should two
overlap anyway, the time is the earlier stop's, so no minute is counted twice. A running
stop counts until ``adesso``, and a period that reaches past ``adesso`` (this week) has
planned time only up to it. MTBF/MTTR are computed over the stops of category
``GUASTO`` that took some planned time: MTTR = their downtime / their number,
MTBF = APT / their number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

GUASTO = "GUASTO"
CATEGORIE_FERMO = ("GUASTO", "ATTREZZAGGIO", "MATERIALE", "ATTESA", "QUALITA", "ALTRO")

MANCA_CALENDARIO = "calendario"
MANCA_TEMPO_PIANIFICATO = "tempo_pianificato"
MANCA_TEMPO_CICLO = "tempo_ciclo"
MANCA_TEMPO_LAVORO = "tempo_lavoro"
MANCA_PEZZI = "pezzi_prodotti"

Intervallo = tuple[datetime, datetime]


# -- intervals -----------------------------------------------------------------------------


def unione(intervalli: Iterable[Intervallo]) -> list[Intervallo]:
    """The same instants as sorted, disjoint intervals (empty ones dropped)."""
    uniti: list[Intervallo] = []
    for inizio, fine in sorted(i for i in intervalli if i[1] > i[0]):
        if uniti and inizio <= uniti[-1][1]:
            uniti[-1] = (uniti[-1][0], max(uniti[-1][1], fine))
        else:
            uniti.append((inizio, fine))
    return uniti


def intersezione(a: Sequence[Intervallo], b: Sequence[Intervallo]) -> list[Intervallo]:
    """The instants in both (each given as sorted, disjoint intervals)."""
    risultato: list[Intervallo] = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na and j < nb:
        (a_inizio, a_fine), (b_inizio, b_fine) = a[i], b[j]
        inizio = a_inizio if a_inizio > b_inizio else b_inizio
        fine = a_fine if a_fine < b_fine else b_fine
        if fine > inizio:
            risultato.append((inizio, fine))
        if a_fine < b_fine:
            i += 1
        else:
            j += 1
    return risultato


def differenza(a: Sequence[Intervallo], b: Sequence[Intervallo]) -> list[Intervallo]:
    """The instants of ``a`` not in ``b`` (both sorted, disjoint), in one sweep: a
    machine's shifts of 90 days less its planned stops."""
    risultato: list[Intervallo] = []
    j, nb = 0, len(b)
    for inizio, fine in a:
        # Intervals of b that end before this one starts end before every later one too.
        while j < nb and b[j][1] <= inizio:
            j += 1
        cursore = inizio
        k = j
        while k < nb and b[k][0] < fine:
            b_inizio, b_fine = b[k]
            if b_inizio > cursore:
                risultato.append((cursore, b_inizio))
            if b_fine > cursore:
                cursore = b_fine
            k += 1
        if cursore < fine:
            risultato.append((cursore, fine))
    return risultato


def minuti_dentro(intervalli: Sequence[Intervallo], dentro: Sequence[Intervallo]) -> list[float]:
    """The minutes of each of ``intervalli`` that fall inside ``dentro``, in one sweep:
    both sorted by start and disjoint, so the cost follows their lengths added, not
    multiplied (a machine's hundreds of stops against its hundreds of shifts)."""
    risultato = []
    j, n = 0, len(dentro)
    for inizio, fine in intervalli:
        while j < n and dentro[j][1] <= inizio:
            j += 1
        secondi = 0.0
        k = j
        while k < n and dentro[k][0] < fine:
            d_inizio, d_fine = dentro[k]
            da = inizio if inizio > d_inizio else d_inizio
            a = fine if fine < d_fine else d_fine
            if a > da:
                secondi += (a - da).total_seconds()
            k += 1
        risultato.append(secondi / 60)
    return risultato


def minuti(intervalli: Iterable[Intervallo]) -> float:
    return sum((fine - inizio).total_seconds() for inizio, fine in intervalli) / 60


# -- the shift calendar ----------------------------------------------------------------------


@dataclass(frozen=True)
class Turno:
    """A calendar row as plain values: weekly (``giorno_settimana`` 1–7) or dated
    (``data``); a dated row without times closes the day."""

    giorno_settimana: int | None = None
    data: date | None = None
    ora_inizio: time | None = None
    ora_fine: time | None = None


def _locale_utc(giorno: date, ora: time, zona: ZoneInfo) -> datetime:
    # A wall time the clocks skip (02:30 on the spring change) is read with the offset
    # before the change (fold=0), i.e. as the instant one hour later in summer time.
    return datetime.combine(giorno, ora, tzinfo=zona).astimezone(UTC)


def turni_del_giorno(giorno: date, *livelli: Sequence[Turno]) -> list[Turno] | None:
    """The shifts of ``giorno`` from calendar levels, most specific first (the machine's,
    then its Reparto's): the first level with a dated row for the day decides it (a row
    without times: closed); otherwise the first level with any weekly row gives that
    weekday's shifts. None when no level has a weekly row nor a dated row for the day."""
    for livello in livelli:
        datati = [t for t in livello if t.data == giorno]
        if datati:
            return [t for t in datati if t.ora_inizio is not None]
    for livello in livelli:
        if any(t.giorno_settimana is not None for t in livello):
            return [t for t in livello if t.giorno_settimana == giorno.isoweekday()]
    return None


def tempo_calendario(giorni: tuple[date, date], zona: str, *livelli: Sequence[Turno]) -> list[Intervallo] | None:
    """The planned production time of local days ``giorni`` (both included) as UTC
    intervals, or None when the calendar says nothing about the machine in them.

    A shift belongs to the day it starts on; one that ends at or before its start ends
    the next day. The shift of the day before the period is read too, and everything is
    clipped to the period: a night shift started on Sunday counts from Monday 00:00.
    """
    da, a = giorni
    fuso = ZoneInfo(zona)
    inizio, fine = _locale_utc(da, time(0), fuso), _locale_utc(a + timedelta(days=1), time(0), fuso)
    intervalli: list[Intervallo] = []
    noto = False
    giorno = da - timedelta(days=1)
    while giorno <= a:
        turni = turni_del_giorno(giorno, *livelli)
        if turni is not None:
            noto = noto or giorno >= da
            for t in turni:
                assert t.ora_inizio is not None and t.ora_fine is not None  # (turni_del_giorno)
                giorno_fine = giorno + timedelta(days=1) if t.ora_fine <= t.ora_inizio else giorno
                intervalli.append((_locale_utc(giorno, t.ora_inizio, fuso), _locale_utc(giorno_fine, t.ora_fine, fuso)))
        giorno += timedelta(days=1)
    if not noto:
        return None
    return intersezione(unione(intervalli), [(inizio, fine)])


# -- cycle times -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegolaCiclo:
    codart: str | None
    fase_tipo_id: int
    macchina_id: int | None
    secondi: Decimal


def tempo_ciclo(
    regole: Iterable[RegolaCiclo], *, codart: str | None, fase_tipo_id: int, macchina_id: int
) -> Decimal | None:
    """The ideal seconds per piece, most specific row first: article on this machine,
    article on any machine of the phase type, this machine for any article, the phase
    type for any article. The article comes before the machine: a board's own cycle time
    says more than a machine's average. None when no row applies."""
    migliore: tuple[int, Decimal] | None = None
    for r in regole:
        if r.fase_tipo_id != fase_tipo_id:
            continue
        if r.codart is not None and r.codart != codart:
            continue
        if r.macchina_id is not None and r.macchina_id != macchina_id:
            continue
        peso = (2 if r.codart is not None else 0) + (1 if r.macchina_id is not None else 0)
        if migliore is None or peso > migliore[0]:
            migliore = (peso, r.secondi)
    return None if migliore is None else migliore[1]


# -- stops and production --------------------------------------------------------------------


class FermoOee(NamedTuple):
    """A stop as the figures read it. A tuple, not a dataclass: a 90-day period holds
    tens of thousands of them, and building a frozen dataclass cost several times more."""

    inizio: datetime
    fine: datetime | None  # None: running
    codice: str
    descrizione: str
    categoria: str
    pianificato: bool


@dataclass(frozen=True)
class ProduzioneOee:
    """Pieces of lotti closed in the period, one row per article (or any grouping that
    shares a cycle time); ``secondi`` None when no cycle time applies."""

    buoni: int
    scarti: int
    secondi: Decimal | None
    codart: str | None = None


@dataclass(frozen=True)
class VoceFermo:
    """A stop reason's unplanned minutes within the planned time (the loss Pareto)."""

    codice: str
    descrizione: str
    categoria: str
    minuti: float
    fermi: int


@dataclass
class FigureOee:
    """The figures of one machine, or of a group (``somma``). Times are minutes."""

    tempo_calendario: float = 0.0
    tempo_fermi_pianificati: float = 0.0
    tempo_pianificato: float = 0.0
    tempo_fermo: float = 0.0
    pezzi_buoni: int = 0
    pezzi_scartati: int = 0
    # Σ ideal seconds × pieces, over the pieces that have a cycle time.
    secondi_ideali: Decimal = Decimal(0)
    pezzi_senza_ciclo: int = 0
    articoli_senza_ciclo: set[str] = field(default_factory=set)
    senza_calendario: bool = False
    guasti: int = 0
    tempo_guasti: float = 0.0
    fermi_per_causale: list[VoceFermo] = field(default_factory=list)

    @property
    def tempo_lavoro(self) -> float:
        return self.tempo_pianificato - self.tempo_fermo

    @property
    def pezzi_prodotti(self) -> int:
        return self.pezzi_buoni + self.pezzi_scartati

    @property
    def tempo_ideale(self) -> float:
        """Minutes the pieces with a cycle time would take at the ideal pace."""
        return float(self.secondi_ideali) / 60

    def _mancante_disponibilita(self) -> list[str]:
        if self.senza_calendario:
            return [MANCA_CALENDARIO]
        return [MANCA_TEMPO_PIANIFICATO] if self.tempo_pianificato <= 0 else []

    def _mancante_efficienza(self) -> list[str]:
        mancante = self._mancante_disponibilita()
        if self.pezzi_senza_ciclo:
            mancante.append(MANCA_TEMPO_CICLO)
        if not mancante and self.tempo_lavoro <= 0:
            mancante.append(MANCA_TEMPO_LAVORO)
        return mancante

    def _mancante_qualita(self) -> list[str]:
        return [MANCA_PEZZI] if self.pezzi_prodotti == 0 else []

    @property
    def mancante(self) -> list[str]:
        """Every input the figures miss, each named once, in a fixed order."""
        nomi = self._mancante_efficienza() + self._mancante_qualita()
        return list(dict.fromkeys(nomi))

    @property
    def disponibilita(self) -> float | None:
        return None if self._mancante_disponibilita() else self.tempo_lavoro / self.tempo_pianificato

    @property
    def efficienza(self) -> float | None:
        return None if self._mancante_efficienza() else self.tempo_ideale / self.tempo_lavoro

    @property
    def qualita(self) -> float | None:
        return None if self._mancante_qualita() else self.pezzi_buoni / self.pezzi_prodotti

    @property
    def oee(self) -> float | None:
        d, e, q = self.disponibilita, self.efficienza, self.qualita
        return None if d is None or e is None or q is None else d * e * q

    @property
    def perdita_velocita(self) -> float | None:
        """Minutes lost to running slower than ideal: APT − ideal time (None without it)."""
        return None if self._mancante_efficienza() else self.tempo_lavoro - self.tempo_ideale

    @property
    def perdita_scarti(self) -> float | None:
        """Minutes spent at the ideal pace on pieces that were scrapped (None without cycle times)."""
        if self.pezzi_senza_ciclo or self.pezzi_prodotti == 0:
            return None
        return self.tempo_ideale * self.pezzi_scartati / self.pezzi_prodotti

    @property
    def mtbf(self) -> float | None:
        return None if self.guasti == 0 or self._mancante_disponibilita() else self.tempo_lavoro / self.guasti

    @property
    def mttr(self) -> float | None:
        return None if self.guasti == 0 else self.tempo_guasti / self.guasti


def calcola(
    *,
    periodo: Intervallo,
    adesso: datetime,
    turni: list[Intervallo] | None,
    fermi: Iterable[FermoOee],
    produzione: Iterable[ProduzioneOee],
) -> FigureOee:
    """The figures of one machine over ``periodo`` (UTC ``[inizio, fine)``).

    ``turni``: its planned production time in the period (``tempo_calendario``), None
    when it has no calendar. ``fermi``: its stops that touch the period (any order).
    ``produzione``: the pieces of its lotti closed in the period with their cycle times.
    """
    figure = FigureOee(senza_calendario=turni is None)
    # A period that reaches past now (this week) counts the shifts up to now only: time
    # not yet lived is neither planned production nor lost.
    calendario = intersezione(unione(turni or []), [(periodo[0], min(periodo[1], adesso))])
    figure.tempo_calendario = minuti(calendario)

    # Each stop's own instants in the period: sorted by start, an overlap left to the earlier one.
    # (Comparisons written out, not max/min, and one pass that sorts the stops into planned
    # and unplanned: these loops run once per stop, tens of thousands of times for a
    # plant's 90 days.)
    pianificati: list[Intervallo] = []
    non_pianificati: list[FermoOee] = []
    intervalli: list[Intervallo] = []
    fine_precedente, fine_periodo = periodo[0], periodo[1]
    for fermo in sorted(fermi, key=_inizio):
        inizio = fermo.inizio if fermo.inizio > fine_precedente else fine_precedente
        fine = fermo.fine or adesso
        if fine > fine_periodo:
            fine = fine_periodo
        if fine > inizio:
            if fermo.pianificato:
                pianificati.append((inizio, fine))
            else:
                non_pianificati.append(fermo)
                intervalli.append((inizio, fine))
            fine_precedente = fine
    pianificati = unione(pianificati)
    pbt = differenza(calendario, pianificati)
    figure.tempo_fermi_pianificati = minuti(intersezione(calendario, pianificati))
    figure.tempo_pianificato = minuti(pbt)

    voci: dict[str, tuple[FermoOee, float, int]] = {}
    tempo_fermo = tempo_guasti = 0.0
    guasti = 0
    for fermo, perso in zip(non_pianificati, minuti_dentro(intervalli, pbt), strict=True):
        if perso <= 0:
            continue
        voce = voci.get(fermo.codice)
        voci[fermo.codice] = (fermo, perso, 1) if voce is None else (fermo, voce[1] + perso, voce[2] + 1)
        tempo_fermo += perso
        if fermo.categoria == GUASTO:
            guasti += 1
            tempo_guasti += perso
    figure.tempo_fermo, figure.guasti, figure.tempo_guasti = tempo_fermo, guasti, tempo_guasti
    figure.fermi_per_causale = _pareto(
        VoceFermo(f.codice, f.descrizione, f.categoria, m, n) for f, m, n in voci.values()
    )

    for riga in produzione:
        figure.pezzi_buoni += riga.buoni
        figure.pezzi_scartati += riga.scarti
        pezzi = riga.buoni + riga.scarti
        if riga.secondi is None:
            if pezzi:
                figure.pezzi_senza_ciclo += pezzi
                figure.articoli_senza_ciclo.add(riga.codart or "")
        else:
            figure.secondi_ideali += riga.secondi * pezzi
    return figure


_inizio = attrgetter("inizio")


def _pareto(voci: Iterable[VoceFermo]) -> list[VoceFermo]:
    return sorted(voci, key=lambda v: (-v.minuti, v.codice))


def somma(figure: Iterable[FigureOee]) -> FigureOee:
    """The figures of a group of machines (a line, a phase type, the plant): times and
    pieces add up, so each factor is the group's own ratio, not an average of ratios.
    A machine without a calendar leaves the group's time-based figures missing only if
    something happened on it (pieces or stops); an idle machine without one is left out."""
    totale = FigureOee()
    # Per reason: the first entry (its description and category), Σ minutes, Σ stops.
    voci: dict[str, tuple[VoceFermo, float, int]] = {}
    contate = 0
    for f in figure:
        attiva = f.pezzi_prodotti > 0 or bool(f.fermi_per_causale)
        if f.senza_calendario and not attiva:
            continue
        contate += 1
        totale.senza_calendario = totale.senza_calendario or f.senza_calendario
        for nome in (
            "tempo_calendario",
            "tempo_fermi_pianificati",
            "tempo_pianificato",
            "tempo_fermo",
            "pezzi_buoni",
            "pezzi_scartati",
            "secondi_ideali",
            "pezzi_senza_ciclo",
            "guasti",
            "tempo_guasti",
        ):
            setattr(totale, nome, getattr(totale, nome) + getattr(f, nome))
        totale.articoli_senza_ciclo |= f.articoli_senza_ciclo
        for v in f.fermi_per_causale:
            prima = voci.get(v.codice)
            voci[v.codice] = (
                (v, v.minuti, v.fermi) if prima is None else (prima[0], prima[1] + v.minuti, prima[2] + v.fermi)
            )
    if contate == 0:
        totale.senza_calendario = True
    totale.fermi_per_causale = _pareto(
        VoceFermo(v.codice, v.descrizione, v.categoria, minuti, fermi) for v, minuti, fermi in voci.values()
    )
    return totale


def frazione(valore: float | None) -> float | None:
    """A factor as the API gives it: a fraction with 4 decimals."""
    return None if valore is None else round(valore, 4)


def arrotonda_minuti(valore: float | None) -> float | None:
    return None if valore is None else round(valore, 2)
