"""The plant simulation behind the demo's history (pure: no session): the shift calendar,
which orders get configured and when, and machines taking work in time order under R5."""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from asigest.demo.cast import (
    CICLI_CONFIGURATI,
    MACCHINE,
    NOTA_BLOCCATA,
    NOTE_CONFIG,
    NOTE_SCARTI,
    PROBABILITA_SCARTI,
    UTENTI,
    MacchinaDemo,
)
from asigest.demo.erp import Articolo

# The plant's default zone (SPEC §1); shift hours below are local times there.
PLANT_TZ = ZoneInfo("Europe/Rome")
# Last hour of work per weekday (Mon=0): two shifts Mon–Fri, the morning one on Saturday.
FINE_TURNI = {0: 22, 1: 22, 2: 22, 3: 22, 4: 22, 5: 14}
INIZIO_TURNO = 6
CAMBIO_TURNO = 14

GIORNI_STORICO = 44
DURATA_MIN = timedelta(minutes=20)
DURATA_MAX = timedelta(minutes=240)
# The "forgotten" lotto (R13): opened about this long before ``now`` and never closed.
LOTTO_DIMENTICATO_DA = timedelta(hours=20)
N_CONFIGURATE = 40
# Work asked of each phase type over the history / work its machines could do. Above 1
# the lines keep a backlog to the end, so lotti are in progress "now" whatever the
# seed; later phases are bounded by what the earlier ones produce anyway.
CARICO = {"SMD": 1.2, "PTH": 1.0, "CONTROLLI": 0.95}
# Share of shift time a machine spends running lotti (setups, changeovers, waiting).
RESA_TURNO = 0.8


class Calendario:
    """The plant's working windows, answered in UTC."""

    def __init__(self, zona: ZoneInfo = PLANT_TZ):
        self.zona = zona

    def finestra(self, t: datetime) -> tuple[datetime, datetime]:
        """``(start, end)`` of work from ``t`` on: ``start`` is ``t`` inside a window,
        else the next window's opening; ``end`` is that window's closing."""
        giorno = t.astimezone(self.zona).date()
        for _ in range(8):
            ora_fine = FINE_TURNI.get(giorno.weekday())
            if ora_fine is not None:
                apre = datetime.combine(giorno, time(INIZIO_TURNO), self.zona).astimezone(UTC)
                chiude = datetime.combine(giorno, time(ora_fine), self.zona).astimezone(UTC)
                if t < chiude:
                    return max(t, apre), chiude
            giorno += timedelta(days=1)
        raise AssertionError("nessun turno in una settimana")  # FINE_TURNI always has days

    def ore_lavorabili(self, da: datetime, a: datetime) -> float:
        """Working hours between two instants."""
        ore, t = 0.0, da
        while t < a:
            apre, chiude = self.finestra(t)
            if apre >= a:
                break
            ore += (min(chiude, a) - apre).total_seconds() / 3600
            t = chiude
        return ore

    def squadra(self, t: datetime) -> int:
        """0 or 1: which of a department's two teams is on duty at ``t``.

        Teams swap morning and afternoon shifts every ISO week.
        """
        locale = t.astimezone(self.zona)
        pomeriggio = locale.hour >= CAMBIO_TURNO
        return (locale.isocalendar().week + pomeriggio) % 2

    def turno(self, t: datetime) -> tuple[date, bool]:
        locale = t.astimezone(self.zona)
        return locale.date(), locale.hour >= CAMBIO_TURNO


@dataclass(eq=False)
class FaseSim:
    """A fase while the simulation runs, with the R5 terms at the simulation's clock."""

    commessa_id: int
    tipo: str
    prevista: int
    precedente: FaseSim | None
    rilascio: datetime  # the config's creation: no lotto opens before it
    consegna: date | None
    complessita: float
    prodotta: int = 0  # Σ QtaOutput of lotti closed by the clock
    consumata_chiusi: int = 0  # Σ QtaOutput + QtaScarti of lotti closed by the clock
    input_aperti: int = 0  # Σ QtaInput of lotti still open at the clock
    occupata_fino: datetime | None = None
    lotti: list[LottoSim] = field(default_factory=list)

    def disponibile(self) -> int:
        """R5 at the clock: what a new lotto may take."""
        if self.precedente is None:
            return self.prevista - self.prodotta - self.input_aperti
        return self.precedente.prodotta - self.consumata_chiusi - self.input_aperti

    def esaurita(self) -> bool:
        """Nothing more will ever become available here."""
        if self.input_aperti or self.disponibile() > 0:
            return False
        return self.precedente is None or self.precedente.esaurita()


@dataclass(eq=False)
class LottoSim:
    fase: FaseSim
    progressivo: int
    macchina: str
    operatore: str
    inizio: datetime
    qta_input: int
    fine: datetime | None = None  # None: still open at ``now``
    qta_output: int | None = None
    qta_scarti: int | None = None
    causale: str | None = None
    note_scarti: str | None = None
    operatore_chiusura: str | None = None

    def chiusura(self) -> tuple[datetime, int, int]:
        """(fine, qta_output, qta_scarti) of a lotto planned to close; ValueError for one left open."""
        if self.fine is None or self.qta_output is None or self.qta_scarti is None:
            raise ValueError(f"lotto {self.progressivo} di {self.macchina} lasciato aperto")
        return self.fine, self.qta_output, self.qta_scarti


@dataclass(eq=False)
class MacchinaSim:
    demo: MacchinaDemo
    ritmo: float
    orizzonte: datetime  # opens no lotto at or after this instant
    ultima_fase: FaseSim | None = None
    # Machines meant to leave a lotto open keep their latest one open (for R5) until
    # they open the next: whichever is latest at the horizon then simply stays open.
    in_sospeso: LottoSim | None = None

    @property
    def lascia_aperto(self) -> bool:
        return self.demo.lascia_aperto or self.demo.dimenticata


class Simulazione:
    """Machines taking work in time order; see the package docstring (``asigest/demo``).

    Lotti are opened in non-decreasing start order (the machine free earliest goes
    next), and a closed lotto's quantities count only from its DataFine on, so every
    availability check sees what R5 would have seen at that instant. A close held back
    (``MacchinaSim.in_sospeso``) counts as open a little longer than it was, which can
    only make availability smaller than R5's, never larger.
    """

    def __init__(self, rng: random.Random, fasi: list[FaseSim], causali: dict[str, list[str]], now: datetime):
        self.rng = rng
        self.now = now
        self.calendario = Calendario()
        self.causali = causali
        self.fasi_per_tipo: dict[str, list[FaseSim]] = {}
        for fase in fasi:
            self.fasi_per_tipo.setdefault(fase.tipo, []).append(fase)
        self.squadre = _squadre()
        self.chiusure: list[tuple[datetime, int, LottoSim]] = []
        self.sequenza = itertools.count()
        self.lotti: list[LottoSim] = []

    def esegui(self, inizio: datetime) -> list[LottoSim]:
        """Run from ``inizio`` to ``now``; returns every lotto in opening order."""
        coda: list[tuple[datetime, int, MacchinaSim]] = []
        ritmi = self._ritmi(inizio)
        for ordine, demo in enumerate(MACCHINE):
            orizzonte = self.now - LOTTO_DIMENTICATO_DA if demo.dimenticata else self.now
            macchina = MacchinaSim(demo, ritmi[demo.codice], orizzonte)
            partenza, _ = self.calendario.finestra(inizio + timedelta(minutes=self.rng.randint(0, 90)))
            heapq.heappush(coda, (partenza, ordine, macchina))
        while coda:
            t, ordine, macchina = heapq.heappop(coda)
            if t >= macchina.orizzonte:
                if macchina.in_sospeso:
                    self._lascia_aperto(macchina.in_sospeso)
                continue
            self._chiudi_fino_a(t)
            heapq.heappush(coda, (self._lavora(macchina, t), ordine, macchina))
        return self.lotti

    def _ritmi(self, inizio: datetime) -> dict[str, float]:
        """Each machine's speed, scaled per phase type so that the commesse to produce
        make the load in CARICO (kept within 0.3–3 times the nominal speed)."""
        ore = self.calendario.ore_lavorabili(inizio, self.now) * RESA_TURNO
        ritmi = {}
        for tipo, carico in CARICO.items():
            macchine = [m for m in MACCHINE if m.fase == tipo]
            lavoro = sum(f.prevista * f.complessita for f in self.fasi_per_tipo.get(tipo, ()) if f.rilascio < self.now)
            capacita = sum(m.ritmo for m in macchine) * ore * carico
            fattore = min(max(lavoro / capacita if capacita else 1.0, 0.3), 3.0)
            ritmi.update({m.codice: m.ritmo * fattore for m in macchine})
        return ritmi

    def _chiudi_fino_a(self, t: datetime) -> None:
        """Apply every close that happened by ``t`` to its fase's R5 terms."""
        while self.chiusure and self.chiusure[0][0] <= t:
            _, _, lotto = heapq.heappop(self.chiusure)
            _fine, buoni, scarti = lotto.chiusura()
            fase = lotto.fase
            fase.input_aperti -= lotto.qta_input
            fase.prodotta += buoni
            fase.consumata_chiusi += buoni + scarti

    def _lavora(self, macchina: MacchinaSim, t: datetime) -> datetime:
        """Open (and plan the close of) one lotto on ``macchina`` at ``t`` if there is
        work; returns when the machine is next free."""
        _, chiude = self.calendario.finestra(t)
        if chiude - t < DURATA_MIN:
            return self.calendario.finestra(chiude)[0]
        fase = self._scegli_fase(macchina, t)
        if fase is None:
            return self.calendario.finestra(t + timedelta(minutes=self.rng.randint(20, 60)))[0]
        if macchina.in_sospeso:
            self._pianifica_chiusura(macchina.in_sospeso)
            macchina.in_sospeso = None
            self._chiudi_fino_a(t)
        lotto = self._apri(macchina, fase, t, chiude)
        # Another lotto of the same fase needs a short setup; another board a changeover.
        stessa = macchina.ultima_fase is fase
        cambio = timedelta(minutes=self.rng.randint(5, 20) if stessa else self.rng.randint(20, 60))
        macchina.ultima_fase = fase
        fine = lotto.chiusura()[0]
        prossimo = self.calendario.finestra(fine + cambio)[0]
        if macchina.lascia_aperto:
            macchina.in_sospeso = lotto
        elif fine > self.now:
            # Still running at ``now``: the plant has not closed it yet.
            self._lascia_aperto(lotto)
        else:
            self._pianifica_chiusura(lotto)
        return prossimo

    def _scegli_fase(self, macchina: MacchinaSim, t: datetime) -> FaseSim | None:
        """The fase this machine works on next: the one it was on, else the earliest
        due one nobody else is working on, else any with work available."""
        candidate = [f for f in self.fasi_per_tipo.get(macchina.demo.fase, ()) if self._lavorabile(f, t)]
        if not candidate:
            return None
        if macchina.ultima_fase in candidate:
            return macchina.ultima_fase
        return min(
            candidate,
            key=lambda f: (f.occupata_fino is not None and f.occupata_fino > t, f.consegna or date.max, f.commessa_id),
        )

    def _lavorabile(self, fase: FaseSim, t: datetime) -> bool:
        if fase.rilascio > t:
            return False
        disponibile = fase.disponibile()
        if disponibile <= 0:
            return False
        # Downstream waits for a reasonable batch while upstream is still producing.
        return disponibile >= 30 or fase.precedente is None or fase.precedente.esaurita()

    def _apri(self, macchina: MacchinaSim, fase: FaseSim, t: datetime, chiude: datetime) -> LottoSim:
        """A lotto sized for a 60–230 minute run that ends before the shift closes."""
        rng = self.rng
        ritmo = macchina.ritmo / fase.complessita
        massimo = min(DURATA_MAX, chiude - t)
        obiettivo = min(timedelta(minutes=rng.uniform(60, 230)), massimo)
        qta = max(1, min(fase.disponibile(), int(ritmo * obiettivo.total_seconds() / 3600)))
        if qta > 50 and qta < fase.disponibile():
            qta -= qta % 10
        lavorata, scarti, causale = self._esito(fase.tipo, qta)
        durata = timedelta(hours=lavorata / ritmo) * rng.uniform(0.9, 1.12)
        durata = max(DURATA_MIN, min(durata, massimo))
        lotto = LottoSim(
            fase=fase,
            progressivo=len(fase.lotti) + 1,
            macchina=macchina.demo.codice,
            operatore=self._operatore(macchina.demo.reparto, t),
            inizio=t,
            qta_input=qta,
            fine=t + durata,
            qta_output=lavorata - scarti,
            qta_scarti=scarti,
            causale=causale,
        )
        if causale and rng.random() < 0.3:
            lotto.note_scarti = NOTE_SCARTI.get(causale)
        lotto.operatore_chiusura = self._operatore_chiusura(lotto)
        fase.lotti.append(lotto)
        fase.input_aperti += qta
        fase.occupata_fino = lotto.fine
        self.lotti.append(lotto)
        return lotto

    def _esito(self, tipo: str, qta: int) -> tuple[int, int, str | None]:
        """``(worked, scrapped, reason)`` for a close: now and then a lotto is closed
        short and the rest goes back to availability; scrap is 0.5–3% when there is any."""
        rng = self.rng
        lavorata = qta
        if qta >= 20 and rng.random() < 0.05:
            lavorata = int(qta * rng.uniform(0.5, 0.9))
        if rng.random() >= PROBABILITA_SCARTI.get(tipo, 0.4):
            return lavorata, 0, None
        scarti = min(lavorata, max(1, round(lavorata * rng.uniform(0.005, 0.03))))
        causali = self.causali[tipo]
        return lavorata, scarti, rng.choice(causali)

    def _operatore(self, reparto: str, t: datetime) -> str:
        return self.rng.choice(self.squadre[reparto][self.calendario.squadra(t)])

    def _operatore_chiusura(self, lotto: LottoSim) -> str:
        """Whoever opened it, unless the shift changed in between."""
        fine = lotto.chiusura()[0]
        if self.calendario.turno(lotto.inizio) == self.calendario.turno(fine):
            return lotto.operatore
        reparto = next(m.reparto for m in MACCHINE if m.codice == lotto.macchina)
        return self._operatore(reparto, fine)

    def _pianifica_chiusura(self, lotto: LottoSim) -> None:
        heapq.heappush(self.chiusure, (lotto.chiusura()[0], next(self.sequenza), lotto))

    def _lascia_aperto(self, lotto: LottoSim) -> None:
        """Turn the planned close into an open lotto: it keeps consuming QtaInput (R5)."""
        lotto.fine = lotto.qta_output = lotto.qta_scarti = lotto.causale = lotto.note_scarti = None
        lotto.operatore_chiusura = None
        lotto.fase.occupata_fino = self.now + timedelta(days=365)


def _squadre() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each department's operators split into the two shift teams."""
    per_reparto: dict[str, list[str]] = {}
    for u in UTENTI:
        if u.reparto:
            per_reparto.setdefault(u.reparto, []).append(u.matricola)
    return {r: (tuple(m[0::2]), tuple(m[1::2])) for r, m in per_reparto.items()}


# -- choosing and configuring commesse --------------------------------------------------------


@dataclass(frozen=True)
class ConfigPiano:
    ordine: dict  # the ERP row
    articolo: Articolo
    creata: datetime
    bloccata: bool
    nota: str | None


def scegli_configurate(
    rng: random.Random, ordini: list[dict], articoli: dict[str, Articolo], now: datetime
) -> list[ConfigPiano]:
    """~40 open orders due from a month ago to ~3 months ahead, configured one after
    another over the history window in due-date order (earliest first), as a planning
    office would. The last one is blocked waiting for documentation."""
    oggi = now.date()
    candidati = [
        o
        for o in ordini
        if o["STATOCOMMESSA"] == "O"
        and o["QTA"]
        and (o["DATACONSEGNA"] is None or -30 <= (o["DATACONSEGNA"] - oggi).days <= 95)
    ]
    scelti = _per_ciclo(rng, candidati, articoli)
    scelti.sort(key=lambda o: (o["DATACONSEGNA"] or date.max, o["ID"]))
    calendario = Calendario()
    primo = now - timedelta(days=GIORNI_STORICO)
    passo = (timedelta(days=GIORNI_STORICO) - timedelta(hours=20)) / max(1, len(scelti))
    piani = []
    for i, ordine in enumerate(scelti):
        quando = primo + passo * i + timedelta(minutes=rng.randint(0, 600))
        creata = min(calendario.finestra(quando)[0] + timedelta(minutes=rng.randint(30, 240)), now - timedelta(hours=1))
        ultima = i == len(scelti) - 1
        nota = NOTA_BLOCCATA if ultima else (rng.choice(NOTE_CONFIG) if rng.random() < 0.3 else None)
        piani.append(ConfigPiano(ordine, articoli[ordine["CODART"]], creata, bloccata=ultima, nota=nota))
    return piani


def _per_ciclo(rng: random.Random, candidati: list[dict], articoli: dict[str, Articolo]) -> list[dict]:
    """N_CONFIGURATE orders in the proportions of CICLI_CONFIGURATI, topped up from any
    cycle when one has too few candidates."""
    scelti = []
    for ciclo, quanti in CICLI_CONFIGURATI:
        del_ciclo = [o for o in candidati if articoli[o["CODART"]].fasi == ciclo]
        scelti += rng.sample(del_ciclo, min(quanti, len(del_ciclo)))
    presi = {o["ID"] for o in scelti}
    resto = [o for o in candidati if o["ID"] not in presi]
    return scelti + rng.sample(resto, min(max(0, N_CONFIGURATE - len(scelti)), len(resto)))


def fasi_del_piano(piani: list[ConfigPiano], ordine_tipi: list[str]) -> list[FaseSim]:
    """The FaseSim of every enabled flag, chained in FaseTipo order (blocked configs'
    fasi are made but never released)."""
    fasi = []
    mai = datetime.max.replace(tzinfo=UTC)
    for piano in piani:
        precedente = None
        for tipo in ordine_tipi:
            if tipo not in piano.articolo.fasi:
                continue
            fase = FaseSim(
                commessa_id=piano.ordine["ID"],
                tipo=tipo,
                prevista=piano.ordine["QTA"],
                precedente=precedente,
                rilascio=mai if piano.bloccata else piano.creata,
                consegna=piano.ordine["DATACONSEGNA"],
                complessita=piano.articolo.complessita,
            )
            fasi.append(fase)
            precedente = fase
    return fasi
