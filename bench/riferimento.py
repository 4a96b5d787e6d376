"""The reference data set of SPEC §11, built in minutes, and a check of its invariants.

    .venv/bin/python -m bench.riferimento --instance /tmp/asigest-rif [--lotti 1000000]
        [--commesse 20000] [--macchine 60] [--operatori 300] [--anni 2] [--seed 1] [--senza-audit]
    .venv/bin/python -m bench.riferimento --instance /tmp/asigest-rif --verifica

The folder is an instance the application serves as it is
(``ASIGEST_INSTANCE_PATH=<instance>``): ``asigest.db`` (ASI_GEST) and ``erp_demo.db``
(the ERP), where the app looks by default. Building it:

1. ``flask --app wsgi init`` in the instance: the schema by the app's own migrations,
   and the base catalog (phase types, scrap reasons);
2. ``--commesse`` ERP orders over ``--anni`` years ending now, written by the demo's
   ``scrivi_erp`` (same table and columns, rollback journal), with the NULLs real ERP
   data has;
3. the plan, in memory: each configured order's fasi and their lotti as *chains*. The
   first fase splits QtaPrevista into lotti; each later-fase lotto takes exactly what one
   lotto of the previous fase produced, once that one has closed; when the first fase
   scrapped or closed lotti short, one make-up lotto opens after all of its lotti closed
   for exactly what is missing. So R5 holds at every opening instant, not only in sum;
4. machines of each phase type take the chains' lotti first come first served (the
   machine free earliest), in the plant's working week (Mon 06:00 – Sat 22:00,
   Europe/Rome; overtime around ``now`` when it falls on the weekend), 20 min – 4 h each
   and never overlapping on one machine. Durations are scaled so the machines are ~85 %
   busy; a lotto running at ``now`` stays open (at most one per machine), a handful of
   machines keep a lotto open 13–40 h (R13), and whatever would follow is not there.
   Orders are then dropped whole, at random, and a few last-fase lotti, to land on
   exactly ``--lotti``. The ERP states follow: old finished orders mostly closed; an
   order the ERP no longer has open, with no lotto open, has its fasi that scrap left
   short completed by the supervisor by hand (R8, with a reason) a little after their
   last lotto closed, so only the few intentional R12 drifts remain (a QTA changed
   among recent open orders, one order closed with a lotto still open);
5. people (operators with one shared precomputed PIN hash), machines, configs, fasi with
   their totals and states computed from their lotti (R8), lotti and, unless
   ``--senza-audit``, the LogEventi the services would have written (CONFIG_CREATA,
   FASE_CREATA, LOTTO_APERTO, LOTTO_CHIUSO with ``prima``/``dopo``, FASE_STATO_MODIFICATO
   with ``motivo`` for the fasi completed by hand), all by SQLAlchemy
   Core bulk inserts in two transactions. Not through the services: a million calls
   would take hours;
6. the draws (R14, LottiOrigini) by ``services.origini.ricostruisci_storico``, the rule
   migration 0012 applies to an installation's history: every lotto's are whole, since
   R5 holds at every opening instant;
7. ``ANALYZE``; an API token by ``flask --app wsgi token create``; a JSON summary on
   stdout and in ``<instance>/riferimento.json``.

``--verifica`` checks an existing instance by SQL (``verifica()``): fase totals and
states against their lotti (a fase short of QtaPrevista may be COMPLETATA only by hand:
with its FASE_STATO_MODIFICATO row, or without audit when the ERP closed the order),
R5 per commessa, R6 progressivi and codes, R7, one open
lotto per machine, machine of the fase's type, no overlapping lotti on a machine.

The same seed gives the same data relative to ``now``.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import logging
import math
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as ora
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, case, create_engine, event, func, insert, literal, or_, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from asigest.demo import cast  # noqa: E402
from asigest.demo.erp import Articolo, scrivi_erp  # noqa: E402
from asigest.domain import hashing  # noqa: E402
from asigest.domain.lotti import codice_lotto  # noqa: E402
from asigest.domain.stati import APERTA, COMPLETATA, IN_CORSO  # noqa: E402
from asigest.erp.tables import commesse_table  # noqa: E402
from asigest.models import (  # noqa: E402
    CausaleScarto,
    ConfigCommessa,
    Fase,
    FaseTipo,
    LogEvento,
    Lotto,
    LottoOrigine,
    Macchina,
    Utente,
)
from asigest.services import origini, riepilogo_kpi  # noqa: E402
from bench.common import VENV_BIN  # noqa: E402
from bench.dataset import bench_env  # noqa: E402

log = logging.getLogger("bench.riferimento")

# The data set this module builds, as a version: ``make bench`` (bench/completo.py) keeps
# built sets under this number and rebuilds them when it changes. Raise it with any
# change to what is generated (2: draws, LottiOrigini, R14).
GENERATORE_VERSIONE = 2

ZONA = ZoneInfo("Europe/Rome")  # the app's default TIMEZONE
UTC = UTC
ORA = 3600
GIORNO = 86400

ADMIN = ("admin", "admin1234")
SUPERVISORE = ("supervisore", "super1234")
PIN_OPERATORI = "1234"
PRIMA_MATRICOLA = 1001

# The working week, local time: Monday INIZIO_SETTIMANA to Saturday FINE_SETTIMANA, three shifts.
INIZIO_SETTIMANA = 6
FINE_SETTIMANA = 22
DURATA_MIN, DURATA_MAX = 20 * 60, 4 * ORA
PAUSA = (3 * 60, 15 * 60)  # changeover between two lotti on a machine
ATTESA = (15 * 60, 8 * ORA)  # from a lotto's close to its pieces entering the next fase
CARICO = 0.85  # share of working time the planned lotti keep the machines busy
ECCEDENZA = 1.07  # lotti planned per lotto wanted: the surplus is dropped at the end
DIMENTICATO = (13 * ORA, 40 * ORA)  # age of the lotti left open by mistake (R13)
BATCH = 10_000
COMPLETA_A_MANO = (10 * 60, 6 * ORA)  # from a fase's last lotto close to the supervisor completing it
FASE_STATO = "FASE_STATO_MODIFICATO"  # services.rettifiche.FASE_STATO
MOTIVI_A_MANO = {
    "C": (
        "Chiusura commessa: scarti non recuperabili",
        "Chiusura commessa: quantità residua non più richiesta dal cliente",
        "Commessa chiusa nell'ERP: consegna parziale concordata",
        "Chiusura commessa: schede scartate non rilavorabili",
    ),
    "S": (
        "Commessa sospesa nell'ERP: produzione chiusa con le schede disponibili",
        "Sospensione commessa: residuo non più da produrre",
    ),
}

REPARTO = {"SMD": "SMD", "PTH": "PTH", "CONTROLLI": "Collaudo"}
DESCRIZIONI_MACCHINE = {
    "SMD": (
        "Linea SMD {n}: serigrafica, pick & place, forno a rifusione",
        "Linea SMD {n}: pick & place ad alta velocità",
    ),
    "PTH": ("Banco inserimento manuale {n}", "Saldatrice a onda selettiva {n}"),
    "CONTROLLI": (
        "Ispezione ottica automatica (AOI) {n}",
        "Collaudo in-circuit (ICT) {n}",
        "Banco di collaudo funzionale {n}",
    ),
}
NOMI = (
    "Luca",
    "Sara",
    "Andrea",
    "Francesca",
    "Matteo",
    "Chiara",
    "Davide",
    "Elena",
    "Simone",
    "Valentina",
    "Giorgio",
    "Martina",
    "Alessandro",
    "Giulia",
    "Lorenzo",
    "Federica",
    "Marco",
    "Silvia",
    "Paolo",
    "Anna",
    "Stefano",
    "Laura",
    "Roberto",
    "Alessia",
    "Nicola",
    "Ilaria",
    "Fabio",
    "Roberta",
    "Emanuele",
    "Serena",
)
COGNOMI = (
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
)
SETTORI = ("Elettronica", "Meccatronica", "Automazioni", "Sistemi", "Controlli", "Impianti", "Tecnologie", "Strumenti")
LUOGHI = (
    "Lariana",
    "Cusiana",
    "Vicentina",
    "Pavese",
    "Aretina",
    "Pugliese",
    "Sabina",
    "Irpina",
    "Carnica",
    "Orobica",
    "Canavesana",
    "Brianzola",
    "Maceratese",
    "Ossolana",
    "Polesana",
)
QUANTITA = (*cast.QUANTITA, 4000, 5000)
PESI_QUANTITA = (*cast.PESI_QUANTITA, 2, 1)


# -- the plan, in memory -----------------------------------------------------------------


class Ordine:
    __slots__ = (
        "riga",
        "articolo",
        "creato",
        "configurato",
        "config_ts",
        "rilascio",
        "fasi",
        "config_id",
        "bloccata",
        "nota",
    )

    def __init__(self, riga: dict, articolo, creato: float):
        self.riga = riga
        self.articolo = articolo
        self.creato = creato
        self.configurato = False
        self.config_ts = self.rilascio = 0.0
        self.fasi: list[FasePiano] = []
        self.config_id = 0
        self.bloccata = False
        self.nota = None


class FasePiano:
    __slots__ = (
        "id",
        "ordine",
        "tipo",
        "prevista",
        "lotti",
        "recupero",
        "pendenti",
        "fine_max",
        "bloccata",
        "a_mano",
        "motivo",
    )

    def __init__(self, ordine: Ordine, tipo: str, prevista: int):
        self.id = 0
        self.ordine = ordine
        self.tipo = tipo
        self.prevista = prevista
        self.lotti: list[LottoPiano] = []  # every planned lotto, make-up included
        self.recupero: LottoPiano | None = None  # first fase: the make-up lotto, if any
        self.pendenti = 0  # first fase: pieces not yet placed or dropped
        self.fine_max = 0.0
        self.bloccata = False  # first fase: a piece did not close, so no make-up
        self.a_mano = 0.0  # when the supervisor completed it by hand (R8), 0 if not
        self.motivo: str | None = None


class LottoPiano:
    __slots__ = (
        "fase",
        "input",
        "output",
        "scarti",
        "causale",
        "nota",
        "durata",
        "succ",
        "pezzo",
        "inizio",
        "fine",
        "macchina",
        "finestra",
        "tenuto",
        "aperto",
        "id",
        "progressivo",
        "operatore",
        "operatore_chiusura",
    )

    def __init__(self, fase: FasePiano, qta: int, pezzo: bool):
        self.fase = fase
        self.input = qta
        self.output = self.scarti = 0
        self.causale = self.nota = None
        self.durata = 0.0
        self.succ: LottoPiano | None = None
        self.pezzo = pezzo  # one of the first fase's pieces (not the make-up)
        self.inizio = self.fine = 0.0
        self.macchina = self.finestra = -1
        self.tenuto = self.aperto = False
        self.id = self.progressivo = self.operatore = self.operatore_chiusura = 0


class Calendario:
    """The working windows as sorted UTC timestamps, each with its UTC offset.

    A window runs Monday 06:00 to Saturday 22:00 local; daylight saving changes on a
    Sunday night, so one offset holds for a whole window.
    """

    def __init__(self, da: float, a: float, now: float):
        self.apre: list[float] = []
        self.chiude: list[float] = []
        self.offset: list[float] = []
        giorno = datetime.fromtimestamp(da, ZONA).date()
        giorno -= timedelta(days=giorno.weekday())
        while True:
            apre = datetime.combine(giorno, ora(INIZIO_SETTIMANA), ZONA)
            chiude = datetime.combine(giorno + timedelta(days=5), ora(FINE_SETTIMANA), ZONA)
            if apre.timestamp() > a:
                break
            self.apre.append(apre.timestamp())
            self.chiude.append(chiude.timestamp())
            self.offset.append(apre.utcoffset().total_seconds())
            giorno += timedelta(days=7)
        self._straordinario(now)

    def _straordinario(self, now: float) -> None:
        """A weekend ``now``: the plant works overtime, so some lotti are running."""
        i = bisect.bisect_right(self.chiude, now)
        if i < len(self.apre) and self.apre[i] <= now:
            return
        apre = max(now - 10 * ORA, self.chiude[i - 1] if i else now - 10 * ORA)
        chiude = min(now + 14 * ORA, self.apre[i] if i < len(self.apre) else now + 14 * ORA)
        self.apre.insert(i, apre)
        self.chiude.insert(i, chiude)
        self.offset.insert(i, datetime.fromtimestamp(now, ZONA).utcoffset().total_seconds())

    def colloca(self, t: float, durata: float) -> tuple[float, int]:
        """The earliest start ≥ ``t`` with ``durata`` inside one window, and that window."""
        i = bisect.bisect_right(self.chiude, t)
        while i < len(self.apre):
            inizio = t if t > self.apre[i] else self.apre[i]
            if inizio + durata <= self.chiude[i]:
                return inizio, i
            i += 1
        return math.inf, -1

    def ore(self, da: float, a: float) -> float:
        """Working seconds between two instants."""
        return sum(max(0.0, min(c, a) - max(o, da)) for o, c in zip(self.apre, self.chiude))

    def turno(self, t: float, finestra: int) -> int:
        """Which 8-hour shift ``t`` falls in (06–14, 14–22, 22–06 local), as a running number."""
        return int((t + self.offset[finestra] - INIZIO_SETTIMANA * ORA) // (8 * ORA))


class Generatore:
    """Builds the plan (pure Python, no database) from the parameters and the catalog."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        *,
        lotti: int,
        commesse: int,
        macchine: int,
        operatori: int,
        anni: float,
        tipi: dict[str, tuple[int, int]],
        causali: dict[str, list[tuple[int, str]]],
    ):
        self.rng = rng
        self.now = now.timestamp()
        self.t0 = self.now - round(365.25 * anni) * GIORNO
        self.n_lotti = lotti
        self.n_commesse = commesse
        self.n_macchine = macchine
        self.n_operatori = operatori
        self.tipi = tipi  # code → (FaseTipoID, Ordine)
        self.causali = causali  # code → [(CausaleID, Codice)], the phase's own three times as likely
        self.calendario = Calendario(self.t0 - 21 * GIORNO, self.now + 400 * GIORNO, self.now)
        self.ordini: list[Ordine] = []
        self.macchine: list[tuple[str, str, str]] = []  # (codice, descrizione, tipo)
        self.per_tipo_macchine: dict[str, list[int]] = {}
        self.operatori: list[tuple[str, str, str, str]] = []  # (matricola, nome, cognome, reparto)
        self.squadre: dict[str, tuple[list[int], list[int], list[int]]] = {}
        self.lotti: list[LottoPiano] = []  # kept, in LottoID order
        self.dimenticati = 0

    def esegui(self) -> None:
        self._ordini()
        piano = self._piano()
        self._macchine(piano)
        self._durate(piano)
        per_macchina = self._pianifica()
        self._dimentica(per_macchina)
        self._pareggia()
        self._numera()
        self._persone()
        self._stati_erp()
        self._completa_a_mano()

    # -- ERP orders ------------------------------------------------------------------

    def _ordini(self) -> None:
        rng = self.rng
        n_clienti = max(len(cast.CLIENTI), self.n_commesse // 150)
        clienti = list(cast.CLIENTI)
        altri = [f"{s} {luogo} {forma}" for s in SETTORI for luogo in LUOGHI for forma in ("S.r.l.", "S.p.A.")]
        clienti += rng.sample(altri, min(len(altri), n_clienti - len(clienti)))
        id_clienti = sorted(rng.sample(range(4000, 4000 + 10 * len(clienti)), len(clienti)))
        articoli = self._articoli(max(cast.N_ARTICOLI, self.n_commesse // 50), len(clienti))
        pesi = list(itertools.accumulate(1 / (1 + i) ** 0.6 for i in range(len(articoli))))
        pesi_qta = list(itertools.accumulate(PESI_QUANTITA))
        inizio, fine = self.t0 - 3 * GIORNO, self.now - ORA
        istanti = sorted(rng.uniform(inizio, fine) for _ in range(self.n_commesse))
        numeri: dict[int, int] = {}
        erp_id = 100_000
        for ts in istanti:
            giorno = datetime.fromtimestamp(ts, ZONA).date()
            numeri[giorno.year] = numeri.get(giorno.year, 0) + rng.choice((1, 1, 1, 2))
            erp_id += rng.choice((1, 1, 2, 3))
            articolo = rng.choices(articoli, cum_weights=pesi)[0]
            riga = {
                "ID": erp_id,
                "ESERCIZIO": giorno.year,
                "NUMEROCOM": numeri[giorno.year],
                "RIFCOMMCLI": f"ODA {giorno.year}/{rng.randrange(1, 99999):05d}",
                "CODART": articolo.codart,
                "DESART": articolo.desart,
                "QTA": rng.choices(QUANTITA, cum_weights=pesi_qta)[0],
                "DATACONSEGNA": giorno + timedelta(days=rng.randint(20, 90)),
                "STATOCOMMESSA": "O",
                "IDCLIENTE": id_clienti[articolo.cliente],
                "NOMECLIENTE": clienti[articolo.cliente],
            }
            self.ordini.append(Ordine(riga, articolo, ts))
        self._valori_mancanti()

    def _articoli(self, quanti: int, n_clienti: int) -> list[Articolo]:
        """Boards in the demo's styles, each belonging to one customer."""
        rng = self.rng
        pesi = [t[3] for t in cast.TIPI_SCHEDA]
        articoli, codici = [], set()
        while len(articoli) < quanti:
            n = len(articoli)
            tipo = cast.TIPI_SCHEDA[n] if n < len(cast.TIPI_SCHEDA) else rng.choices(cast.TIPI_SCHEDA, weights=pesi)[0]
            prefisso, modello, fasi, _peso = tipo
            numero = rng.randrange(1000, 10000)
            codart = f"{prefisso}-{numero}-{rng.choice('AAAB')}"
            if codart in codici:
                continue
            codici.add(codart)
            articoli.append(
                Articolo(
                    codart=codart,
                    desart=modello.format(**{k: rng.choice(v) for k, v in cast.PARAMETRI.items()}),
                    cliente=n if n < n_clienti else rng.randrange(n_clienti),
                    fasi=fasi,
                    diba=f"DB-{prefisso}-{numero}",
                    revisione=rng.choice("AABBC"),
                    complessita=round(rng.uniform(0.7, 1.5), 2),
                )
            )
        return articoli

    def _valori_mancanti(self) -> None:
        """Blank columns as real ERP data does (SPEC §3). QTA, CODART and the number only
        on orders that will never be configured (they could not be: R1)."""
        rng = self.rng
        for o in self.ordini:
            riga = o.riga
            for colonna, p in (
                ("RIFCOMMCLI", 0.02),
                ("DATACONSEGNA", 0.01),
                ("NOMECLIENTE", 0.01),
                ("IDCLIENTE", 0.005),
            ):
                if rng.random() < p:
                    riga[colonna] = None
            sorte = rng.random()
            if sorte < 0.003:
                riga["QTA"] = None
            elif sorte < 0.005:
                riga["CODART"] = riga["DESART"] = None
            elif sorte < 0.0055:
                riga["NUMEROCOM"] = None

    # -- chains of lotti -------------------------------------------------------------------

    def _configurabili(self) -> list[Ordine]:
        rng = self.rng
        scelti = []
        for o in self.ordini:
            riga = o.riga
            if riga["QTA"] is None or riga["CODART"] is None or riga["NUMEROCOM"] is None:
                continue
            if rng.random() < 0.03:  # made by another plant, never configured here
                continue
            if self.now - o.creato < 3 * GIORNO and rng.random() < 0.5:  # not configured yet
                continue
            o.config_ts = min(o.creato + rng.uniform(2 * ORA, 72 * ORA), self.now - 30 * 60)
            o.rilascio = max(self.t0, o.config_ts + rng.uniform(ORA, 48 * ORA))
            scelti.append(o)
        return scelti

    def _piano(self) -> dict[str, list[LottoPiano]]:
        """Configure orders and plan their chains for ~ECCEDENZA × the lotti wanted."""
        rng = self.rng
        candidati = self._configurabili()
        obiettivo = self.n_lotti * ECCEDENZA
        ordine_tipi = sorted(self.tipi, key=lambda c: self.tipi[c][1])

        cicli = {id(o): [t for t in ordine_tipi if t in o.articolo.fasi] for o in candidati}
        # Per order: QTA, number of fasi, chance that a first-fase lotto closes whole and clean.
        termini = [
            (o.riga["QTA"], len(cicli[id(o)]), 0.95 - cast.PROBABILITA_SCARTI.get(cicli[id(o)][0], 0.4))
            for o in candidati
        ]

        def stima(pezzo: float) -> float:
            """Lotti planned with pieces of ``pezzo``: fasi × (pieces + chance of a make-up lotto)."""
            totale = 0.0
            for qta, fasi, pulito in termini:
                n = max(1, round(qta / pezzo))
                totale += fasi * (n + 1 - pulito**n)
            return totale

        if stima(math.inf) > obiettivo:
            # Fewer lotti than one per fase: configure only a share of the orders.
            quota = obiettivo / stima(math.inf)
            candidati = [o for o in candidati if rng.random() < quota]
            pezzo = math.inf
        else:
            basso, alto = 1.0, float(max(t[0] for t in termini))
            for _ in range(40):
                pezzo = (basso + alto) / 2
                basso, alto = (pezzo, alto) if stima(pezzo) > obiettivo else (basso, pezzo)
            pezzo = alto

        per_tipo: dict[str, list[LottoPiano]] = {t: [] for t in ordine_tipi}
        for o in candidati:
            o.configurato = True
            qta = o.riga["QTA"]
            o.fasi = [FasePiano(o, t, qta) for t in cicli[id(o)]]
            prima = o.fasi[0]
            livello = []
            for qta_pezzo in self._pezzi(qta, max(1, round(qta / pezzo))):
                lotto = self._lotto(prima, qta_pezzo, pezzo=True)
                livello.append(lotto)
            prima.pendenti = len(livello)
            mancano = qta - sum(lt.output for lt in livello)
            if mancano > 0:
                # Scrap and short closes in the first fase are made up by producing more (R5).
                prima.recupero = LottoPiano(prima, mancano, pezzo=False)
                prima.recupero.output = mancano
                prima.lotti.append(prima.recupero)
                livello.append(prima.recupero)
            for fase in o.fasi[1:]:
                successivi = []
                for lotto in livello:
                    if lotto.output > 0:
                        lotto.succ = self._lotto(fase, lotto.output, pezzo=False)
                        successivi.append(lotto.succ)
                livello = successivi
            for fase in o.fasi:
                per_tipo[fase.tipo].extend(fase.lotti)
        return per_tipo

    def _pezzi(self, qta: int, n: int) -> list[int]:
        """``qta`` split into ``n`` lotti of roughly equal size (multiples of 10 when large)."""
        if n <= 1:
            return [qta]
        pesi = list(itertools.accumulate(self.rng.uniform(0.8, 1.2) for _ in range(n)))
        passo = 10 if qta / n > 50 else 1
        confini = [0] + [round(qta * p / pesi[-1] / passo) * passo for p in pesi[:-1]] + [qta]
        return [b - a for a, b in zip(confini, confini[1:]) if b > a]

    def _lotto(self, fase: FasePiano, qta: int, *, pezzo: bool) -> LottoPiano:
        """A planned lotto with how it will close (R7): now and then short, scrap 0.5–3 % when any."""
        rng = self.rng
        lotto = LottoPiano(fase, qta, pezzo)
        lavorata = qta
        if qta >= 20 and rng.random() < 0.05:
            lavorata = int(qta * rng.uniform(0.5, 0.9))
        if rng.random() < cast.PROBABILITA_SCARTI.get(fase.tipo, 0.4):
            lotto.scarti = min(lavorata, max(1, round(lavorata * rng.uniform(0.005, 0.03))))
            lotto.causale, codice = rng.choice(self.causali[fase.tipo])
            if rng.random() < 0.3:
                lotto.nota = cast.NOTE_SCARTI.get(codice)
        lotto.output = lavorata - lotto.scarti
        fase.lotti.append(lotto)
        return lotto

    # -- machines and time ---------------------------------------------------------------

    def _macchine(self, piano: dict[str, list[LottoPiano]]) -> None:
        """``--macchine`` split over the phase types in proportion to their lotti (one at least)."""
        tipi = list(piano)
        totale = sum(len(v) for v in piano.values()) or 1
        quote = {t: max(1, int(self.n_macchine * len(piano[t]) / totale)) for t in tipi}
        while sum(quote.values()) < self.n_macchine:
            t = max(tipi, key=lambda x: self.n_macchine * len(piano[x]) / totale - quote[x])
            quote[t] += 1
        while sum(quote.values()) > self.n_macchine and max(quote.values()) > 1:
            quote[max(tipi, key=lambda x: quote[x])] -= 1
        for tipo in tipi:
            self.per_tipo_macchine[tipo] = []
            descrizioni = DESCRIZIONI_MACCHINE.get(tipo, ("Macchina {n}",))
            for n in range(1, quote[tipo] + 1):
                codice = {"SMD": f"SMD-L{n}", "PTH": f"PTH-{n:02d}", "CONTROLLI": f"CTRL-{n:02d}"}.get(
                    tipo, f"{tipo}-{n:02d}"
                )
                self.per_tipo_macchine[tipo].append(len(self.macchine))
                self.macchine.append((codice, descrizioni[(n - 1) % len(descrizioni)].format(n=n), tipo))

    def _durate(self, piano: dict[str, list[LottoPiano]]) -> None:
        """Durations proportional to quantity × board complexity, scaled per phase type so
        the planned lotti keep its machines CARICO busy (20 min – 4 h each, median ≤ 2 h)."""
        rng = self.rng
        capacita = self.calendario.ore(self.t0, self.now)
        pausa = sum(PAUSA) / 2
        for tipo, lotti in piano.items():
            if not lotti:
                continue
            grezze = [lt.input * lt.fase.ordine.articolo.complessita * rng.lognormvariate(0, 0.35) for lt in lotti]
            obiettivo = CARICO * len(self.per_tipo_macchine[tipo]) * capacita - len(lotti) * pausa
            campione = grezze if len(grezze) <= 20_000 else rng.sample(grezze, 20_000)
            scala = len(grezze) / len(campione)

            def totale(k: float, scala: float = scala, campione: list[float] = campione) -> float:
                return scala * sum(min(max(k * x, DURATA_MIN), DURATA_MAX) for x in campione)

            basso, alto = 0.0, 2 * ORA / statistics.median(campione)
            if totale(alto) > obiettivo:
                for _ in range(30):
                    k = (basso + alto) / 2
                    basso, alto = (k, alto) if totale(k) < obiettivo else (basso, k)
            if len(lotti) * DURATA_MIN > obiettivo:
                log.warning(
                    "Troppi lotti %s per %d macchine: molti non entrano prima di adesso.",
                    tipo,
                    len(self.per_tipo_macchine[tipo]),
                )
            for lotto, x in zip(lotti, grezze):
                lotto.durata = float(round(min(max(alto * x, DURATA_MIN), DURATA_MAX)))

    def _pianifica(self) -> list[list[LottoPiano]]:
        """Place every lotto that becomes ready before ``now`` on the machine of its type
        that is free first; returns each machine's lotti in time order."""
        rng, cal, now = self.rng, self.calendario, self.now
        sequenza = itertools.count()
        coda: list = []
        for o in self.ordini:
            if o.configurato:
                for lotto in o.fasi[0].lotti:
                    if lotto.pezzo:
                        heapq.heappush(coda, (o.rilascio + rng.uniform(0, 4 * ORA), next(sequenza), lotto))
        libere = {t: [(0.0, m) for m in ids] for t, ids in self.per_tipo_macchine.items()}
        per_macchina: list[list[LottoPiano]] = [[] for _ in self.macchine]
        while coda:
            pronto, _, lotto = heapq.heappop(coda)
            if pronto < now:
                heap = libere[lotto.fase.tipo]
                libera, m = heap[0]
                inizio, finestra = cal.colloca(max(pronto, libera + rng.uniform(*PAUSA)), lotto.durata)
                inizio = float(round(inizio)) if inizio < now else inizio
                if inizio < now:
                    heapq.heapreplace(heap, (inizio + lotto.durata, m))
                    lotto.inizio, lotto.fine = inizio, inizio + lotto.durata
                    lotto.macchina, lotto.finestra, lotto.tenuto = m, finestra, True
                    lotto.aperto = lotto.fine > now
                    per_macchina[m].append(lotto)
                    if lotto.succ is not None and not lotto.aperto:
                        heapq.heappush(coda, (lotto.fine + rng.uniform(*ATTESA), next(sequenza), lotto.succ))
            if lotto.pezzo:
                self._pezzo_risolto(lotto, coda, sequenza)
        return per_macchina

    def _pezzo_risolto(self, lotto: LottoPiano, coda: list, sequenza) -> None:
        """The make-up lotto opens after every piece of the first fase closed (R5: only then
        is what is missing known); not at all if one of them never closed."""
        fase = lotto.fase
        fase.pendenti -= 1
        if lotto.tenuto and not lotto.aperto:
            fase.fine_max = max(fase.fine_max, lotto.fine)
        else:
            fase.bloccata = True
        if fase.pendenti == 0 and fase.recupero is not None and not fase.bloccata:
            heapq.heappush(coda, (fase.fine_max + self.rng.uniform(*ATTESA), next(sequenza), fase.recupero))

    def _togli(self, lotto: LottoPiano | None) -> None:
        """Drop a lotto and everything that needed it: its successor chain and, for a first
        fase piece, the make-up lotto (sized on that piece's output)."""
        if lotto is None or not lotto.tenuto:
            return
        lotto.tenuto = False
        self._togli(lotto.succ)
        if lotto.pezzo:
            self._togli(lotto.fase.recupero)

    def _dimentica(self, per_macchina: list[list[LottoPiano]]) -> None:
        """A handful of machines whose last lotto was opened 13–40 h ago and never closed (R13)."""
        rng, now = self.rng, self.now
        quante = max(1, round(len(self.macchine) / 15))
        for m in rng.sample(range(len(self.macchine)), len(self.macchine)):
            if self.dimenticati >= quante:
                break
            lotti = [lt for lt in per_macchina[m] if lt.tenuto]
            adatti = [i for i, lt in enumerate(lotti) if now - DIMENTICATO[1] <= lt.inizio <= now - DIMENTICATO[0]]
            if not adatti:
                continue
            i = adatti[-1]
            lotto = lotti[i]
            for dopo in lotti[i + 1 :]:
                self._togli(dopo)
            self._togli(lotto.succ)
            if lotto.pezzo:
                self._togli(lotto.fase.recupero)
            lotto.aperto = True
            self.dimenticati += 1

    def _pareggia(self) -> None:
        """Exactly ``--lotti``: drop whole orders at random, then last-fase lotti (nothing
        depends on them)."""
        rng = self.rng
        configurati = [o for o in self.ordini if o.configurato]
        tenuti = sum(1 for o in configurati for f in o.fasi for lt in f.lotti if lt.tenuto)
        if tenuti < self.n_lotti:
            log.warning("Solo %d lotti entrano prima di adesso (chiesti %d).", tenuti, self.n_lotti)
        for o in rng.sample(configurati, len(configurati)):
            if tenuti <= self.n_lotti:
                break
            suoi = [lt for f in o.fasi for lt in f.lotti if lt.tenuto]
            if suoi and not any(lt.aperto for lt in suoi) and tenuti - len(suoi) >= self.n_lotti:
                for lotto in suoi:
                    lotto.tenuto = False
                o.configurato = False
                tenuti -= len(suoi)
        if tenuti > self.n_lotti:
            foglie = [
                lt
                for o in configurati
                if o.configurato
                for lt in o.fasi[-1].lotti
                if lt.tenuto and not lt.aperto and len(o.fasi) > 1
            ]
            for lotto in rng.sample(foglie, tenuti - self.n_lotti):
                lotto.tenuto = False

    def _numera(self) -> None:
        """Ids in creation order: configs and fasi by configuration time, lotti by opening
        (R6: progressivi follow opening order within a fase)."""
        fase_id = 0
        configurati = sorted((o for o in self.ordini if o.configurato), key=lambda o: o.config_ts)
        for config_id, o in enumerate(configurati, 1):
            o.config_id = config_id
            for fase in o.fasi:
                fase_id += 1
                fase.id = fase_id
                for n, lotto in enumerate(sorted((lt for lt in fase.lotti if lt.tenuto), key=lambda lt: lt.inizio), 1):
                    lotto.progressivo = n
        self.lotti = sorted(
            (lt for o in self.ordini if o.configurato for f in o.fasi for lt in f.lotti if lt.tenuto),
            key=lambda lt: (lt.inizio, lt.macchina),
        )
        for n, lotto in enumerate(self.lotti, 1):
            lotto.id = n
        senza_lotti = [o for o in self.ordini if o.configurato and not any(lt.tenuto for f in o.fasi for lt in f.lotti)]
        for o in senza_lotti:
            if self.rng.random() < 0.1:
                o.bloccata, o.nota = True, cast.NOTA_BLOCCATA
        for o in self.ordini:
            if o.configurato and not o.bloccata and self.rng.random() < 0.2:
                o.nota = self.rng.choice(cast.NOTE_CONFIG)
        if senza_lotti and not any(o.bloccata for o in senza_lotti):
            senza_lotti[-1].bloccata, senza_lotti[-1].nota = True, cast.NOTA_BLOCCATA

    # -- people ------------------------------------------------------------------------------

    def _persone(self) -> None:
        """Operators per department in proportion to its machines, in three teams that
        rotate over the shifts every week; each lotto gets whoever was on duty."""
        rng = self.rng
        tipi = [t for t in self.per_tipo_macchine if self.per_tipo_macchine[t]]
        totale = sum(len(self.per_tipo_macchine[t]) for t in tipi)
        quote = {t: max(1, round(self.n_operatori * len(self.per_tipo_macchine[t]) / totale)) for t in tipi}
        quote[max(tipi, key=lambda t: quote[t])] += self.n_operatori - sum(quote.values())
        for tipo in tipi:
            ids = []
            for _ in range(max(1, quote[tipo])):
                ids.append(len(self.operatori))
                self.operatori.append(
                    (
                        str(PRIMA_MATRICOLA + len(self.operatori)),
                        rng.choice(NOMI),
                        rng.choice(COGNOMI),
                        REPARTO.get(tipo, tipo),
                    )
                )
            self.squadre[tipo] = (ids[0::3] or ids, ids[1::3] or ids, ids[2::3] or ids)
        cal = self.calendario
        for lotto in self.lotti:
            squadre = self.squadre[lotto.fase.tipo]
            turno = cal.turno(lotto.inizio, lotto.finestra)
            lotto.operatore = rng.choice(squadre[(lotto.finestra + turno) % 3])
            if lotto.aperto:
                continue
            fine = cal.turno(lotto.fine, lotto.finestra)
            lotto.operatore_chiusura = (
                lotto.operatore if fine == turno else rng.choice(squadre[(lotto.finestra + fine) % 3])
            )

    # -- the ERP's state now ---------------------------------------------------------------

    def _stati_erp(self) -> None:
        """Old orders mostly closed, recent ones open; a few changed in the ERP after
        configuration (R12): quantity, and one closed while a lotto is still open."""
        rng, now = self.rng, self.now
        oggi = datetime.fromtimestamp(now, ZONA).date()
        con_aperti = set()
        ultima_fine: dict[int, float] = {}
        for lotto in self.lotti:
            o = lotto.fase.ordine
            if lotto.aperto:
                con_aperti.add(id(o))
            else:
                ultima_fine[id(o)] = max(ultima_fine.get(id(o), 0.0), lotto.fine)
        for o in self.ordini:
            riga = o.riga
            consegna = riga["DATACONSEGNA"] or (datetime.fromtimestamp(o.creato, ZONA).date() + timedelta(days=60))
            vecchio = (oggi - consegna).days > 20
            sorte = rng.random()
            if o.configurato:
                finito = id(o) not in con_aperti and now - ultima_fine.get(id(o), now) > 7 * GIORNO
                stato = "O"
                if vecchio and finito:
                    stato = "C" if sorte < 0.92 else ("S" if sorte < 0.925 else "O")
                elif sorte < 0.01 and id(o) not in con_aperti and (now - o.creato) < 120 * GIORNO:
                    variazione = max(10, round(riga["QTA"] * 0.2 / 10) * 10)
                    riga["QTA"] = max(10, riga["QTA"] + rng.choice((-1, 1)) * variazione)
            else:
                stato = "O"
                if now - o.creato > 45 * GIORNO:
                    stato = "C" if sorte < 0.85 else ("S" if sorte < 0.88 else "O")
                if rng.random() < 0.005:
                    stato = None
            riga["STATOCOMMESSA"] = stato
        aperti = [o for o in self.ordini if id(o) in con_aperti]
        if aperti:
            rng.choice(aperti).riga["STATOCOMMESSA"] = "C"

    def _completa_a_mano(self) -> None:
        """R8 by hand: an order the ERP no longer has open ('C', 'S'), with no lotto open,
        gets every fase that is not COMPLETATA (scrap in a later fase, or last-fase lotti
        dropped, left it short of QtaPrevista with nothing more to feed it) completed by
        the supervisor a little after the fase's last lotto closed (the order's, for a fase
        with no lotti), with a reason. The order closed while a lotto is open stays as it
        is: that drift is meant (grave, R12). Open orders are still in production."""
        rng, now = self.rng, self.now
        per_fase: dict[int, list] = {}  # id(fase) → [prodotta, lotti, aperti, last close]
        for lotto in self.lotti:
            t = per_fase.setdefault(id(lotto.fase), [0, 0, 0, 0.0])
            t[1] += 1
            if lotto.aperto:
                t[2] += 1
            else:
                t[0] += lotto.output
                t[3] = max(t[3], lotto.fine)
        vuota = [0, 0, 0, 0.0]
        for o in self.ordini:
            stato = o.riga["STATOCOMMESSA"]
            if not o.configurato or stato is None or stato == "O":
                continue
            totali = [per_fase.get(id(f), vuota) for f in o.fasi]
            fine_ordine = max(t[3] for t in totali)
            if any(t[2] for t in totali) or not fine_ordine:
                continue
            for fase, (prodotta, n, _aperti, ultima) in zip(o.fasi, totali):
                if n and prodotta >= fase.prevista:
                    continue  # COMPLETATA by R8 already
                fase.a_mano = float(min(round((ultima or fine_ordine) + rng.uniform(*COMPLETA_A_MANO)), now - 60))
                fase.motivo = rng.choice(MOTIVI_A_MANO.get(stato, MOTIVI_A_MANO["C"]))


# -- writing ------------------------------------------------------------------------------------


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(round(t), UTC)


def _loader_engine(db_path: Path):
    """A plain engine for the bulk load: no journal on disk, no fsync, a large cache."""
    engine = create_engine(f"sqlite:///{db_path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-2000000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _catalogo(engine) -> tuple[dict[str, tuple[int, int]], dict[str, list[tuple[int, str]]]]:
    """Phase types (code → (id, Ordine)) and, per type, the active scrap reasons valid for
    it, its own three times as likely as the generic ones (as the demo does)."""
    with engine.connect() as conn:
        tipi = {
            r.Codice: (r.FaseTipoID, r.Ordine)
            for r in conn.execute(select(FaseTipo.__table__).where(FaseTipo.__table__.c.Attivo == literal(True)))
        }
        causali = conn.execute(
            select(CausaleScarto.__table__).where(CausaleScarto.__table__.c.Attiva == literal(True))
        ).all()
    for codice in ("SMD", "PTH", "CONTROLLI"):
        if codice not in tipi:
            raise SystemExit(f"Il catalogo non ha il tipo di fase {codice}: eseguire flask init su un'istanza nuova.")
    per_tipo = {}
    for codice, (tipo_id, _ordine) in tipi.items():
        proprie = [(c.CausaleID, c.Codice) for c in causali if c.FaseTipoID == tipo_id]
        generiche = [(c.CausaleID, c.Codice) for c in causali if c.FaseTipoID is None]
        per_tipo[codice] = proprie * 3 + generiche
    return tipi, per_tipo


def _lotto_dict(lotto: LottoPiano, chiuso: bool) -> dict:
    """The lotto as ``services.lotti._lotto_dict`` writes it in LogEventi."""
    return {
        "CodiceLotto": _codice(lotto),
        "FaseID": lotto.fase.id,
        "Progressivo": lotto.progressivo,
        "MacchinaID": lotto.macchina + 1,
        "OperatoreID": _utente_operatore(lotto.operatore),
        "QtaInput": lotto.input,
        "QtaOutput": lotto.output if chiuso else None,
        "QtaScarti": lotto.scarti if chiuso else None,
        "CausaleID": lotto.causale if chiuso else None,
        "DataInizio": _ts(lotto.inizio).isoformat(),
        "DataFine": _ts(lotto.fine).isoformat() if chiuso else None,
    }


def _codice(lotto: LottoPiano) -> str:
    riga = lotto.fase.ordine.riga
    return codice_lotto(riga["ESERCIZIO"], riga["NUMEROCOM"], lotto.fase.tipo, lotto.progressivo)


def _utente_operatore(indice: int) -> int:
    return indice + 3  # UtenteID 1 admin, 2 supervisore, then the operators


def _batches(rows, size: int = BATCH):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _scrivi_asigest(engine, g: Generatore, tipi: dict[str, tuple[int, int]], *, audit: bool) -> int:
    """Everything in ASI_GEST; returns the LogEventi rows written."""
    creato = _ts(g.t0 - 30 * GIORNO)
    segreti = {s: hashing.hash_secret(s) for s in (ADMIN[1], SUPERVISORE[1])}
    segreti[PIN_OPERATORI] = hashing.hash_pin(PIN_OPERATORI)
    utenti = [
        {
            "UtenteID": 1,
            "Matricola": ADMIN[0],
            "Nome": "Amministratore",
            "Cognome": "Sistema",
            "Ruolo": "ADMIN",
            "PinHash": None,
            "PasswordHash": segreti[ADMIN[1]],
            "Attivo": True,
            "DataCreazione": creato,
            "UltimoAccesso": None,
        },
        {
            "UtenteID": 2,
            "Matricola": SUPERVISORE[0],
            "Nome": "Giulia",
            "Cognome": "Ferrari",
            "Ruolo": "SUPERVISORE",
            "PinHash": None,
            "PasswordHash": segreti[SUPERVISORE[1]],
            "Attivo": True,
            "DataCreazione": creato,
            "UltimoAccesso": None,
        },
    ]
    utenti += [
        {
            "UtenteID": _utente_operatore(i),
            "Matricola": matricola,
            "Nome": nome,
            "Cognome": cognome,
            "Ruolo": "OPERATORE",
            "PinHash": segreti[PIN_OPERATORI],
            "PasswordHash": None,
            "Attivo": True,
            "DataCreazione": creato,
            "UltimoAccesso": None,
        }
        for i, (matricola, nome, cognome, _reparto) in enumerate(g.operatori)
    ]
    macchine = [
        {
            "MacchinaID": i + 1,
            "Codice": codice,
            "Descrizione": descrizione,
            "FaseTipoID": tipi[tipo][0],
            "Reparto": REPARTO.get(tipo, tipo),
            "Attiva": True,
        }
        for i, (codice, descrizione, tipo) in enumerate(g.macchine)
    ]
    configurati = sorted((o for o in g.ordini if o.configurato), key=lambda o: o.config_id)
    totali = _totali_fasi(g)
    with engine.begin() as conn:
        conn.execute(insert(Utente.__table__), utenti)
        conn.execute(insert(Macchina.__table__), macchine)
        for batch in _batches(_config_row(o) for o in configurati):
            conn.execute(insert(ConfigCommessa.__table__), batch)
        for batch in _batches(_fase_row(f, tipi, totali) for o in configurati for f in o.fasi):
            conn.execute(insert(Fase.__table__), batch)
        for batch in _batches(_lotto_row(lt) for lt in g.lotti):
            conn.execute(insert(Lotto.__table__), batch)
    if not audit:
        return 0
    eventi = 0
    with engine.begin() as conn:
        for batch in _batches(_eventi(g, configurati)):
            conn.execute(insert(LogEvento.__table__), batch)
            eventi += len(batch)
    return eventi


def _totali_fasi(g: Generatore) -> dict[int, tuple]:
    """R8 from the lotti: fase id → (prodotta, scarti, aperti, first start, last end)."""
    totali: dict[int, list] = {}
    for lotto in g.lotti:
        t = totali.setdefault(lotto.fase.id, [0, 0, 0, lotto.inizio, 0.0])
        if lotto.aperto:
            t[2] += 1
        else:
            t[0] += lotto.output
            t[1] += lotto.scarti
            t[4] = max(t[4], lotto.fine)
        t[3] = min(t[3], lotto.inizio)
    return {k: tuple(v) for k, v in totali.items()}


def _config_row(o: Ordine) -> dict:
    return {
        "ConfigID": o.config_id,
        "CommessaERPId": o.riga["ID"],
        "FlagSMD": "SMD" in o.articolo.fasi,
        "FlagPTH": "PTH" in o.articolo.fasi,
        "FlagControlli": "CONTROLLI" in o.articolo.fasi,
        "DIBA": o.articolo.diba,
        "Revisione": o.articolo.revisione,
        "Note": o.nota,
        "DataCreazione": _ts(o.config_ts),
        "DataModifica": None,
        "BloccataDocumentazione": o.bloccata,
        "QtaERP": o.fasi[0].prevista,
        "CreatoDa": 2,
    }


def _fase_row(fase: FasePiano, tipi, totali) -> dict:
    prodotta, scarti, aperti, prima, ultima = totali.get(fase.id, (0, 0, 0, None, None))
    stato, chiusura = APERTA, None
    if prima is not None:
        stato = IN_CORSO
        if aperti == 0 and prodotta >= fase.prevista:
            stato, chiusura = COMPLETATA, _ts(ultima)
    if fase.a_mano and stato != COMPLETATA:
        stato, chiusura = COMPLETATA, _ts(fase.a_mano)
    return {
        "FaseID": fase.id,
        "CommessaERPId": fase.ordine.riga["ID"],
        "FaseTipoID": tipi[fase.tipo][0],
        "Stato": stato,
        "QtaPrevista": fase.prevista,
        "QtaProdotta": prodotta,
        "QtaScarti": scarti,
        "DataApertura": _ts(prima) if prima is not None else None,
        "DataChiusura": chiusura,
    }


def _lotto_row(lotto: LottoPiano) -> dict:
    chiuso = not lotto.aperto
    articolo = lotto.fase.ordine.articolo
    return {
        "LottoID": lotto.id,
        "FaseID": lotto.fase.id,
        "Progressivo": lotto.progressivo,
        "CodiceLotto": _codice(lotto),
        "DataInizio": _ts(lotto.inizio),
        "DataFine": _ts(lotto.fine) if chiuso else None,
        "QtaInput": lotto.input,
        "QtaOutput": lotto.output if chiuso else None,
        "QtaScarti": lotto.scarti if chiuso else None,
        "CausaleID": lotto.causale if chiuso else None,
        "NoteScarti": lotto.nota if chiuso else None,
        "OperatoreID": _utente_operatore(lotto.operatore),
        "OperatoreChiusuraID": _utente_operatore(lotto.operatore_chiusura) if chiuso else None,
        "MacchinaID": lotto.macchina + 1,
        "DIBA": articolo.diba,
        "Revisione": articolo.revisione,
    }


def _eventi(g: Generatore, configurati: list[Ordine]):
    """LogEventi rows in time order (LogID and DataOra agree), shaped as the services write them."""
    quando = []  # (instant, order within the instant, kind, subject)
    for o in configurati:
        quando.append((o.config_ts, 0, "config", o))
        for fase in o.fasi:
            if fase.a_mano:
                quando.append((fase.a_mano, 3, "completa", fase))
    for lotto in g.lotti:
        quando.append((lotto.inizio, 1, "apre", lotto))
        if not lotto.aperto:
            quando.append((lotto.fine, 2, "chiude", lotto))
    quando.sort(key=lambda e: (e[0], e[1]))
    codici = {i + 1: m[0] for i, m in enumerate(g.macchine)}
    for istante, _, tipo, cosa in quando:
        if tipo == "config":
            yield from _eventi_config(cosa)
            continue
        if tipo == "completa":
            yield _evento_a_mano(cosa)
            continue
        macchina = codici[cosa.macchina + 1]
        aperto = _lotto_dict(cosa, chiuso=False)
        if tipo == "apre":
            yield {
                "DataOra": _ts(istante),
                "UtenteID": _utente_operatore(cosa.operatore),
                "Postazione": macchina,
                "Azione": "LOTTO_APERTO",
                "Entita": "Lotti",
                "EntitaID": cosa.id,
                "Dettagli": {"dopo": aperto},
            }
        else:
            yield {
                "DataOra": _ts(istante),
                "UtenteID": _utente_operatore(cosa.operatore_chiusura),
                "Postazione": macchina,
                "Azione": "LOTTO_CHIUSO",
                "Entita": "Lotti",
                "EntitaID": cosa.id,
                "Dettagli": {"prima": aperto, "dopo": _lotto_dict(cosa, chiuso=True)},
            }


def _evento_a_mano(fase: FasePiano) -> dict:
    """FASE_STATO_MODIFICATO as ``rettifiche.cambia_stato_fase`` writes it: the supervisor
    completes a fase short of QtaPrevista, from the office (no Postazione, as for configs)."""
    prima = IN_CORSO if any(lt.tenuto for lt in fase.lotti) else APERTA
    quando = _ts(fase.a_mano)
    return {
        "DataOra": quando,
        "UtenteID": 2,
        "Postazione": None,
        "Azione": FASE_STATO,
        "Entita": "Fasi",
        "EntitaID": fase.id,
        "Dettagli": {
            "prima": {"Stato": prima, "DataChiusura": None},
            "dopo": {"Stato": COMPLETATA, "DataChiusura": quando.isoformat()},
            "motivo": fase.motivo,
        },
    }


def _eventi_config(o: Ordine):
    """CONFIG_CREATA and one FASE_CREATA per fase, as ``configurazione.create_config`` writes them."""
    quando = _ts(o.config_ts)
    config = _config_row(o)
    dopo = {
        k: config[k]
        for k in (
            "CommessaERPId",
            "FlagSMD",
            "FlagPTH",
            "FlagControlli",
            "DIBA",
            "Revisione",
            "Note",
            "BloccataDocumentazione",
            "QtaERP",
        )
    }
    yield {
        "DataOra": quando,
        "UtenteID": 2,
        "Postazione": None,
        "Azione": "CONFIG_CREATA",
        "Entita": "ConfigCommessa",
        "EntitaID": o.config_id,
        "Dettagli": {"dopo": dopo},
    }
    for fase in o.fasi:
        yield {
            "DataOra": quando,
            "UtenteID": 2,
            "Postazione": None,
            "Azione": "FASE_CREATA",
            "Entita": "Fasi",
            "EntitaID": fase.id,
            "Dettagli": {
                "dopo": {
                    "FaseID": fase.id,
                    "CommessaERPId": o.riga["ID"],
                    "FaseTipo": fase.tipo,
                    "Stato": APERTA,
                    "QtaPrevista": fase.prevista,
                    "QtaProdotta": 0,
                    "QtaScarti": 0,
                }
            },
        }


# -- the whole build ------------------------------------------------------------------------------


def _flask(env, *args) -> str:
    out = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def _pulisci(instance: Path) -> None:
    """A rebuild starts from no databases (the secret key and documents stay)."""
    for nome in ("asigest.db", "erp_demo.db"):
        for suffisso in ("", "-wal", "-shm", "-journal"):
            (instance / (nome + suffisso)).unlink(missing_ok=True)


def build(
    instance: Path,
    *,
    lotti: int = 1_000_000,
    commesse: int = 20_000,
    macchine: int = 60,
    operatori: int = 300,
    anni: float = 2,
    seed: int = 1,
    audit: bool = True,
    now: datetime | None = None,
) -> dict:
    """Build the reference data set in ``instance`` (its databases are replaced); returns the summary."""
    instance = Path(instance)
    instance.mkdir(parents=True, exist_ok=True)
    _pulisci(instance)
    tempi: dict[str, float] = {}
    inizio = passo = time.perf_counter()

    def fatto(nome: str) -> None:
        nonlocal passo
        adesso = time.perf_counter()
        tempi[nome] = round(adesso - passo, 1)
        passo = adesso
        log.info("%s: %.1f s", nome, tempi[nome])

    env = bench_env(instance)
    _flask(env, "init")
    db_path = instance / "asigest.db"
    engine = _loader_engine(db_path)
    tipi, causali = _catalogo(engine)
    fatto("schema")

    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    g = Generatore(
        random.Random(seed),
        now,
        lotti=lotti,
        commesse=commesse,
        macchine=macchine,
        operatori=operatori,
        anni=anni,
        tipi=tipi,
        causali=causali,
    )
    g.esegui()
    fatto("piano")

    scrivi_erp(instance / "erp_demo.db", [o.riga for o in g.ordini])
    fatto("erp")
    eventi = _scrivi_asigest(engine, g, tipi, audit=audit)
    fatto("asigest")
    with engine.begin() as conn:
        # R14: the draws the kiosk would have recorded, replayed in time order (as migration 0012 does).
        prelievi = origini.ricostruisci_storico(conn)
    log.info(prelievi.descrivi())
    fatto("origini")
    with Session(engine) as session:
        # Bulk inserts bypass the ORM: the KPIs' daily summary is rebuilt from the lotti.
        riepilogo_kpi.ricostruisci(session, ZONA.key)
        session.commit()
    fatto("riepilogo_kpi")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()
    fatto("analyze")
    token = (
        _flask(env, "token", "create", "--matricola", SUPERVISORE[0], "--descrizione", "riferimento")
        .strip()
        .splitlines()[-1]
    )
    fatto("token")

    configurati = [o for o in g.ordini if o.configurato]
    aperti = [lt for lt in g.lotti if lt.aperto]
    prima_smd = g.per_tipo_macchine["SMD"][0] + 1 if g.per_tipo_macchine.get("SMD") else None
    riepilogo = {
        "instance": str(instance),
        "now": now.isoformat(),
        "parametri": {
            "lotti": lotti,
            "commesse": commesse,
            "macchine": macchine,
            "operatori": operatori,
            "anni": anni,
            "seed": seed,
            "audit": audit,
        },
        "conteggi": {
            "commesse_erp": len(g.ordini),
            "configurate": len(configurati),
            "fasi": sum(len(o.fasi) for o in configurati),
            "lotti": len(g.lotti),
            "lotti_aperti": len(aperti),
            "lotti_dimenticati": g.dimenticati,
            "lotti_con_scarti": sum(1 for lt in g.lotti if not lt.aperto and lt.scarti),
            "fasi_completate_a_mano": sum(1 for o in configurati for f in o.fasi if f.a_mano),
            "log_eventi": eventi,
            "prelievi": prelievi.prelievi,
            "lotti_non_collocati": prelievi.lotti_non_collocati,
            "macchine": {t: len(ids) for t, ids in g.per_tipo_macchine.items()},
            "operatori": len(g.operatori),
        },
        "primo_lotto": _ts(g.lotti[0].inizio).isoformat() if g.lotti else None,
        "macchina_smd_id": prima_smd,
        "secondi": {**tempi, "totale": round(time.perf_counter() - inizio, 1)},
        "asigest_db_mb": round(db_path.stat().st_size / 2**20, 1),
        "accessi": {
            "admin": f"{ADMIN[0]} / {ADMIN[1]}",
            "supervisore": f"{SUPERVISORE[0]} / {SUPERVISORE[1]}",
            "operatori": f"badge {PRIMA_MATRICOLA}–{PRIMA_MATRICOLA + len(g.operatori) - 1}, PIN {PIN_OPERATORI}",
        },
        "token": token,
    }
    (instance / "riferimento.json").write_text(json.dumps(riepilogo, indent=2))
    return riepilogo


# -- verification -------------------------------------------------------------------------------


def verifica(instance: Path) -> dict[str, int]:
    """Rows breaking each invariant (all 0 on a good data set), plus a few counts (``n_*``).

    Read-only on both databases. Checks: fase totals and states vs their lotti (R8: a
    COMPLETATA fase short of QtaPrevista, no lotto open, only with the supervisor's
    FASE_STATO_MODIFICATO row at its DataChiusura, or, on an instance built without
    audit, when the ERP no longer has the order open), R5 per commessa, progressivi 1..n
    and CodiceLotto (R6), R7 on closed lotti (reason valid for the fase's type), open
    lotti without closing figures, one open lotto per machine, machine of the fase's
    type, no two lotti overlapping on a machine, lotti after their config, DIBA/Revisione
    stamped from the config; the draws (R14): each later-fase lotto's add up to what it
    consumes (a first-fase lotto has none), no source is open or gives more than its
    QtaOutput, every source is of the previous fase of the same order.
    """
    instance = Path(instance)
    engine = create_engine(f"sqlite:///file:{instance / 'asigest.db'}?mode=ro&uri=true")
    L, F, FT, C, M, CS, E = (
        t.__table__ for t in (Lotto, Fase, FaseTipo, ConfigCommessa, Macchina, CausaleScarto, LogEvento)
    )
    chiuso = L.c.DataFine.is_not(None)
    agg = (
        select(
            L.c.FaseID.label("fase_id"),
            func.count().label("n"),
            func.sum(case((chiuso, L.c.QtaOutput), else_=0)).label("prodotta"),
            func.sum(case((chiuso, L.c.QtaScarti), else_=0)).label("scarti"),
            func.sum(case((chiuso, L.c.QtaOutput + L.c.QtaScarti), else_=L.c.QtaInput)).label("consumata"),
            func.sum(case((chiuso, 0), else_=L.c.QtaInput)).label("input_aperti"),
            func.sum(case((chiuso, 0), else_=1)).label("aperti"),
            func.min(L.c.DataInizio).label("prima"),
            func.max(L.c.DataFine).label("ultima"),
            func.min(L.c.Progressivo).label("min_prog"),
            func.max(L.c.Progressivo).label("max_prog"),
        )
        .group_by(L.c.FaseID)
        .subquery()
    )
    n = func.coalesce(agg.c.n, 0)
    prodotta = func.coalesce(agg.c.prodotta, 0)
    completa = and_(n > 0, agg.c.aperti == 0, prodotta >= F.c.QtaPrevista)
    fasi_agg = F.outerjoin(agg, agg.c.fase_id == F.c.FaseID)
    stato_giusto = or_(
        and_(n == 0, F.c.Stato == APERTA, F.c.DataApertura.is_(None), F.c.DataChiusura.is_(None)),
        and_(completa, F.c.Stato == COMPLETATA, F.c.DataApertura == agg.c.prima, F.c.DataChiusura == agg.c.ultima),
        and_(n > 0, ~completa, F.c.Stato == IN_CORSO, F.c.DataApertura == agg.c.prima, F.c.DataChiusura.is_(None)),
    )
    # R8 by hand: COMPLETATA short of QtaPrevista, no lotto open, closed after its last lotto.
    a_mano = and_(
        F.c.Stato == COMPLETATA,
        func.coalesce(agg.c.aperti, 0) == 0,
        prodotta < F.c.QtaPrevista,
        F.c.DataChiusura.is_not(None),
        or_(
            and_(n == 0, F.c.DataApertura.is_(None)),
            and_(n > 0, F.c.DataApertura == agg.c.prima, F.c.DataChiusura >= agg.c.ultima),
        ),
    )
    # The supervisor's last hand completion of each fase (the audit row cambia_stato_fase writes).
    completate_a_mano = (
        select(E.c.EntitaID.label("fase_id"), func.max(E.c.DataOra).label("quando"))
        .where(
            E.c.Azione == FASE_STATO,
            E.c.Entita == "Fasi",
            func.json_extract(E.c.Dettagli, "$.dopo.Stato") == COMPLETATA,
        )
        .group_by(E.c.EntitaID)
        .subquery()
    )
    fasi_audit = fasi_agg.outerjoin(completate_a_mano, completate_a_mano.c.fase_id == F.c.FaseID)
    flusso = (
        select(
            F.c.FaseID,
            F.c.QtaPrevista,
            prodotta.label("prodotta"),
            func.coalesce(agg.c.consumata, 0).label("consumata"),
            func.coalesce(agg.c.input_aperti, 0).label("input_aperti"),
            func.lag(prodotta).over(partition_by=F.c.CommessaERPId, order_by=FT.c.Ordine).label("prodotta_prima"),
            func.row_number().over(partition_by=F.c.CommessaERPId, order_by=FT.c.Ordine).label("posto"),
        )
        .select_from(fasi_agg.join(FT, FT.c.FaseTipoID == F.c.FaseTipoID))
        .subquery()
    )
    r5 = or_(
        and_(flusso.c.posto == 1, flusso.c.prodotta + flusso.c.input_aperti > flusso.c.QtaPrevista),
        and_(flusso.c.posto > 1, flusso.c.consumata > flusso.c.prodotta_prima),
    )
    r7 = and_(
        chiuso,
        or_(
            L.c.QtaOutput.is_(None),
            L.c.QtaScarti.is_(None),
            L.c.QtaOutput < 0,
            L.c.QtaScarti < 0,
            L.c.QtaOutput + L.c.QtaScarti <= 0,
            L.c.QtaOutput + L.c.QtaScarti > L.c.QtaInput,
            and_(L.c.QtaScarti > 0, L.c.CausaleID.is_(None)),
            L.c.DataFine <= L.c.DataInizio,
        ),
    )
    sequenza = select(
        L.c.LottoID,
        L.c.DataInizio,
        func.lag(L.c.LottoID).over(partition_by=L.c.MacchinaID, order_by=L.c.DataInizio).label("prec_id"),
        func.lag(L.c.DataFine).over(partition_by=L.c.MacchinaID, order_by=L.c.DataInizio).label("prec_fine"),
    ).subquery()

    # R14. The fase before each one in its order's flow (NULL for the first).
    origini_t = LottoOrigine.__table__
    prima_di = (
        select(
            F.c.FaseID.label("fase_id"),
            func.lag(F.c.FaseID).over(partition_by=F.c.CommessaERPId, order_by=FT.c.Ordine).label("precedente"),
        )
        .select_from(F.join(FT, FT.c.FaseTipoID == F.c.FaseTipoID))
        .subquery()
    )
    tirati = (
        select(origini_t.c.LottoID.label("lotto_id"), func.sum(origini_t.c.Qta).label("qta"))
        .group_by(origini_t.c.LottoID)
        .subquery()
    )
    dati = (
        select(origini_t.c.LottoOrigineID.label("lotto_id"), func.sum(origini_t.c.Qta).label("qta"))
        .group_by(origini_t.c.LottoOrigineID)
        .subquery()
    )
    consumata = case((chiuso, L.c.QtaOutput + L.c.QtaScarti), else_=L.c.QtaInput)
    prelievi_errati = (
        select(L.c.LottoID)
        .select_from(
            L.join(prima_di, prima_di.c.fase_id == L.c.FaseID).outerjoin(tirati, tirati.c.lotto_id == L.c.LottoID)
        )
        .where(func.coalesce(tirati.c.qta, 0) != case((prima_di.c.precedente.is_(None), 0), else_=consumata))
    )
    fonti_oltre = (
        select(L.c.LottoID)
        .select_from(L.join(dati, dati.c.lotto_id == L.c.LottoID))
        .where(or_(L.c.DataFine.is_(None), dati.c.qta > L.c.QtaOutput))
    )
    sorgente = L.alias("sorgente")
    fuori_fase = (
        select(origini_t.c.OrigineID)
        .select_from(
            origini_t.join(L, L.c.LottoID == origini_t.c.LottoID)
            .join(prima_di, prima_di.c.fase_id == L.c.FaseID)
            .join(sorgente, sorgente.c.LottoID == origini_t.c.LottoOrigineID)
        )
        .where(or_(prima_di.c.precedente.is_(None), sorgente.c.FaseID != prima_di.c.precedente))
    )

    def conta(stmt) -> int:
        return int(conn.scalar(select(func.count()).select_from(stmt.subquery())))

    with engine.connect() as conn:
        esito = {
            "fasi_totali_errati": conn.scalar(
                select(func.count())
                .select_from(fasi_agg)
                .where(or_(F.c.QtaProdotta != prodotta, F.c.QtaScarti != func.coalesce(agg.c.scarti, 0)))
            ),
            "fasi_progressivi_non_1_n": conn.scalar(
                select(func.count()).select_from(agg).where(or_(agg.c.min_prog != 1, agg.c.max_prog != agg.c.n))
            ),
            "r5_violata": conn.scalar(select(func.count()).select_from(flusso).where(r5)),
            "r14_prelievi_diversi_dal_consumo": conta(prelievi_errati),
            "r14_fonti_aperte_o_oltre_output": conta(fonti_oltre),
            "r14_prelievi_fuori_fase": conta(fuori_fase),
            "r7_violata": conn.scalar(select(func.count()).select_from(L).where(r7)),
            "causale_non_valida_per_fase": conn.scalar(
                select(func.count())
                .select_from(L.join(F, F.c.FaseID == L.c.FaseID).join(CS, CS.c.CausaleID == L.c.CausaleID))
                .where(CS.c.FaseTipoID.is_not(None), CS.c.FaseTipoID != F.c.FaseTipoID)
            ),
            "aperti_con_quantita_di_chiusura": conn.scalar(
                select(func.count())
                .select_from(L)
                .where(
                    L.c.DataFine.is_(None),
                    or_(
                        L.c.QtaOutput.is_not(None),
                        L.c.QtaScarti.is_not(None),
                        L.c.CausaleID.is_not(None),
                        L.c.OperatoreChiusuraID.is_not(None),
                    ),
                )
            ),
            "macchine_con_piu_aperti": conta(
                select(L.c.MacchinaID).where(L.c.DataFine.is_(None)).group_by(L.c.MacchinaID).having(func.count() > 1)
            ),
            "macchina_di_altro_tipo": conn.scalar(
                select(func.count())
                .select_from(L.join(F, F.c.FaseID == L.c.FaseID).join(M, M.c.MacchinaID == L.c.MacchinaID))
                .where(M.c.FaseTipoID != F.c.FaseTipoID)
            ),
            "lotti_sovrapposti_su_macchina": conn.scalar(
                select(func.count())
                .select_from(sequenza)
                .where(
                    sequenza.c.prec_id.is_not(None),
                    or_(sequenza.c.prec_fine.is_(None), sequenza.c.prec_fine > sequenza.c.DataInizio),
                )
            ),
            "lotti_senza_config_o_prima_di_essa": conn.scalar(
                select(func.count())
                .select_from(L.join(F, F.c.FaseID == L.c.FaseID).outerjoin(C, C.c.CommessaERPId == F.c.CommessaERPId))
                .where(
                    or_(
                        C.c.ConfigID.is_(None),
                        L.c.DataInizio < C.c.DataCreazione,
                        L.c.DIBA != C.c.DIBA,
                        L.c.Revisione != C.c.Revisione,
                    )
                )
            ),
        }
        erp = _erp(instance)
        # Built without audit (no FASE_CREATA at all): a hand completion needs the ERP to
        # have closed the order instead, which is checked here, in Python (another database).
        con_audit = conn.scalar(select(E.c.LogID).where(E.c.Azione == "FASE_CREATA").limit(1)) is not None
        if con_audit:
            esito["fasi_stato_incoerente"] = conn.scalar(
                select(func.count())
                .select_from(fasi_audit)
                .where(
                    ~func.coalesce(
                        or_(stato_giusto, and_(a_mano, completate_a_mano.c.quando == F.c.DataChiusura)), False
                    )
                )
            )
        else:
            esito["fasi_stato_incoerente"] = conn.scalar(
                select(func.count()).select_from(fasi_agg).where(~func.coalesce(or_(stato_giusto, a_mano), False))
            )
            esito["fasi_stato_incoerente"] += sum(
                1
                for (commessa,) in conn.execute(
                    select(F.c.CommessaERPId).select_from(fasi_agg).where(a_mano, ~func.coalesce(stato_giusto, False))
                )
                if commessa not in erp or (erp[commessa][2] or "").strip().upper() == "O"
            )
        esito["codice_lotto_errato"] = _codici_errati(conn, erp)
        esito["n_fasi_completate_a_mano"] = conn.scalar(
            select(func.count()).select_from(fasi_agg).where(a_mano, ~func.coalesce(stato_giusto, False))
        )
        esito["riepilogo_kpi_errato"] = _riepilogo_errato(conn)
        esito["n_lotti"] = conn.scalar(select(func.count()).select_from(L))
        esito["n_lotti_aperti"] = conn.scalar(select(func.count()).select_from(L).where(L.c.DataFine.is_(None)))
        esito["n_fasi"] = conn.scalar(select(func.count()).select_from(F))
        esito["n_prelievi"] = conn.scalar(select(func.count()).select_from(origini_t))
        esito["n_log_eventi"] = conn.scalar(select(func.count()).select_from(LogEvento.__table__))
    engine.dispose()
    return {k: int(v or 0) for k, v in esito.items()}


def _riepilogo_errato(conn) -> int:
    """Rows of the KPIs' summaries that differ from the same rows computed from the lotti."""
    tenute = riepilogo_kpi.righe_tenute(conn)
    calcolate = riepilogo_kpi.aggrega(conn, ZONA.key)
    return sum(1 for chiave in tenute.keys() | calcolate.keys() if tenute.get(chiave) != calcolate.get(chiave))


def _erp(instance: Path) -> dict[int, tuple]:
    """The ERP orders, ID → (ESERCIZIO, NUMEROCOM, STATOCOMMESSA)."""
    erp = create_engine(f"sqlite:///file:{instance / 'erp_demo.db'}?mode=ro&uri=true")
    tabella = commesse_table(None)
    with erp.connect() as econn:
        ordini = {
            r.ID: (r.ESERCIZIO, r.NUMEROCOM, r.STATOCOMMESSA)
            for r in econn.execute(
                select(tabella.c.ID, tabella.c.ESERCIZIO, tabella.c.NUMEROCOM, tabella.c.STATOCOMMESSA)
            )
        }
    erp.dispose()
    return ordini


def _codici_errati(conn, erp: dict[int, tuple]) -> int:
    """R6 codes, ``ESERCIZIO-NUMEROCOM-TIPO-NNN`` from the ERP row: the ERP is another
    database, so the join is done here, in Python, as the application does it."""
    F, FT, L = Fase.__table__, FaseTipo.__table__, Lotto.__table__
    fasi = {
        r.FaseID: (r.CommessaERPId, r.Codice)
        for r in conn.execute(
            select(F.c.FaseID, F.c.CommessaERPId, FT.c.Codice).join(FT, FT.c.FaseTipoID == F.c.FaseTipoID)
        )
    }
    errati = 0
    for fase_id, progressivo, codice in conn.execute(select(L.c.FaseID, L.c.Progressivo, L.c.CodiceLotto)):
        commessa, tipo = fasi[fase_id]
        esercizio, numero, _stato = erp.get(commessa, (None, None, None))
        errati += codice != codice_lotto(esercizio, numero, tipo, progressivo)
    return errati


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--instance", required=True, type=Path, help="Cartella istanza (i suoi database vengono ricreati)."
    )
    parser.add_argument("--lotti", type=int, default=1_000_000)
    parser.add_argument("--commesse", type=int, default=20_000, help="Commesse nell'ERP.")
    parser.add_argument("--macchine", type=int, default=60)
    parser.add_argument("--operatori", type=int, default=300)
    parser.add_argument("--anni", type=float, default=2, help="Anni di storico, fino ad adesso.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--senza-audit", action="store_true", help="Nessuna riga di LogEventi per config e lotti.")
    parser.add_argument("--verifica", action="store_true", help="Solo verificare l'istanza esistente, senza ricrearla.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.verifica:
        inizio = time.perf_counter()
        esito = verifica(args.instance)
        esito["secondi"] = round(time.perf_counter() - inizio, 1)
        print(json.dumps(esito, indent=2))
        violazioni = sum(v for k, v in esito.items() if not k.startswith("n_") and k != "secondi")
        sys.exit(1 if violazioni else 0)
    if args.lotti < 1 or args.commesse < 1 or args.macchine < 3 or args.operatori < 3 or args.anni <= 0:
        parser.error("servono almeno 1 lotto, 1 commessa, 3 macchine, 3 operatori e un periodo positivo")
    riepilogo = build(
        args.instance,
        lotti=args.lotti,
        commesse=args.commesse,
        macchine=args.macchine,
        operatori=args.operatori,
        anni=args.anni,
        seed=args.seed,
        audit=not args.senza_audit,
    )
    print(json.dumps(riepilogo, indent=2))


if __name__ == "__main__":
    main()
