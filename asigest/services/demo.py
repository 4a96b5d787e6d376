"""The demo data set behind ``flask --app wsgi demo`` (SPEC §8).

Three parts, in this order:

1. **ERP demo database**: a SQLite file with ~400 realistic COMMESSE, written through
   its own plain engine (never the app's read-only ERP bind), with the rollback journal
   SQLite uses by default so that the read-only opener and file-lock checks behave as
   with a file other tools share.
2. **People** through ``auth.create_user``, so the hashes and audit rows are exactly
   what the application makes.
3. **Weeks of history** in one transaction: machines, ~40 configured commesse and their
   fasi, and the lotti a simulated plant would have produced in the last six weeks.

The history is a small discrete-event simulation, not random rows: machines pick work
in shift hours (Europe/Rome, Mon–Fri 06–22, Sat 06–14) in time order, and every lotto
is opened only with the quantity R5 makes available *at its opening instant* (a later
fase sees only what the previous enabled fase had closed by then). Closing follows R7,
fase totals and states follow R8, so the data passes every check the application and
the database apply. Machine speeds are scaled to the chosen workload so the SMD lines
still have a backlog at ``now``: a few lotti are open then, one of them for ~20 hours
(R13), and the last configured commesse have not started yet.

Because R5 lets only the first enabled fase make up for scrap, a later fase that
scrapped anything ends a few pieces short of QtaPrevista and stays IN_CORSO: closing
it is the supervisor's manual R8 decision, which the demo does not make up.

The same ``seed`` always gives the same data; dates are relative to ``now``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, false, func, insert, select, true

from asigest.domain.stati import APERTA, COMPLETATA, IN_CORSO
from asigest.erp.tables import commesse_table
from asigest.models import CausaleScarto, ConfigCommessa, Fase, FaseTipo, LogEvento, Lotto, Macchina, Utente
from asigest.services import audit, auth
from asigest.services.uow import transaction

log = logging.getLogger(__name__)

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
N_COMMESSE_ERP = 400
N_CONFIGURATE = 40
# Work asked of each phase type over the history / work its machines could do. Above 1
# the lines keep a backlog to the end, so lotti are in progress "now" whatever the
# seed; later phases are bounded by what the earlier ones produce anyway.
CARICO = {"SMD": 1.2, "PTH": 1.0, "CONTROLLI": 0.95}
# Share of shift time a machine spends running lotti (setups, changeovers, waiting).
RESA_TURNO = 0.8
# Azione of the row that marks a complete demo (written in the history's transaction).
AZIONE_DEMO = "DEMO_CREATA"


# -- the demo's cast: people, machines, customers, articles --------------------------


@dataclass(frozen=True)
class UtenteDemo:
    matricola: str
    nome: str
    cognome: str
    ruolo: str
    password: str | None = None
    pin: str | None = None
    reparto: str | None = None


UTENTI = (
    UtenteDemo("admin", "Amministratore", "Sistema", "ADMIN", password="admin1234"),
    UtenteDemo("supervisore", "Giulia", "Ferrari", "SUPERVISORE", password="super1234"),
    UtenteDemo("supervisore2", "Marco", "Colombo", "SUPERVISORE", password="super1234"),
    # Operators: badge 10NN, PIN NN twice (1001 → 0101), easy to type on a kiosk.
    UtenteDemo("1001", "Luca", "Esposito", "OPERATORE", pin="0101", reparto="SMD"),
    UtenteDemo("1002", "Sara", "Romano", "OPERATORE", pin="0202", reparto="SMD"),
    UtenteDemo("1003", "Andrea", "Ricci", "OPERATORE", pin="0303", reparto="SMD"),
    UtenteDemo("1004", "Francesca", "Marino", "OPERATORE", pin="0404", reparto="SMD"),
    UtenteDemo("1005", "Matteo", "Greco", "OPERATORE", pin="0505", reparto="PTH"),
    UtenteDemo("1006", "Chiara", "Bruno", "OPERATORE", pin="0606", reparto="PTH"),
    UtenteDemo("1007", "Davide", "Gallo", "OPERATORE", pin="0707", reparto="PTH"),
    UtenteDemo("1008", "Elena", "Conti", "OPERATORE", pin="0808", reparto="PTH"),
    UtenteDemo("1009", "Simone", "De Luca", "OPERATORE", pin="0909", reparto="Collaudo"),
    UtenteDemo("1010", "Valentina", "Mancini", "OPERATORE", pin="1010", reparto="Collaudo"),
    UtenteDemo("1011", "Giorgio", "Costa", "OPERATORE", pin="1111", reparto="Collaudo"),
    UtenteDemo("1012", "Martina", "Giordano", "OPERATORE", pin="1212", reparto="Collaudo"),
)
ADMIN, SUPERVISORE = UTENTI[0], UTENTI[1]


@dataclass(frozen=True)
class MacchinaDemo:
    codice: str
    descrizione: str
    fase: str
    reparto: str
    ritmo: float  # boards per hour on an average board, before calibration to the workload
    # Leaves its last lotto before ``now`` open, so the dashboard has lotti in progress.
    lascia_aperto: bool = False
    # Its last lotto was opened ~20 h ago and never closed (R13).
    dimenticata: bool = False


MACCHINE = (
    MacchinaDemo("SMD-L1", "Linea SMD 1: serigrafica, pick & place, forno a rifusione", "SMD", "SMD", 28,
                 lascia_aperto=True),
    MacchinaDemo("SMD-L2", "Linea SMD 2: pick & place ad alta velocità", "SMD", "SMD", 24),
    MacchinaDemo("SMD-L3", "Linea SMD 3: prototipi e piccole serie", "SMD", "SMD", 16, dimenticata=True),
    MacchinaDemo("PTH-01", "Banco inserimento manuale 1", "PTH", "PTH", 12, lascia_aperto=True),
    MacchinaDemo("PTH-02", "Banco inserimento manuale 2", "PTH", "PTH", 10),
    MacchinaDemo("PTH-ONDA", "Saldatrice a onda selettiva", "PTH", "PTH", 25),
    MacchinaDemo("CTRL-AOI1", "Ispezione ottica automatica (AOI)", "CONTROLLI", "Collaudo", 40, lascia_aperto=True),
    MacchinaDemo("CTRL-ICT1", "Collaudo in-circuit (ICT) a letto d'aghi", "CONTROLLI", "Collaudo", 22),
    MacchinaDemo("CTRL-COLL1", "Banco di collaudo funzionale", "CONTROLLI", "Collaudo", 16),
)

CLIENTI = (
    "Elettronica Adriatica S.p.A.",
    "Meccatronica Bresciana S.r.l.",
    "Sistemi di Potenza Veneti S.r.l.",
    "Termoregolazioni Lombarde S.p.A.",
    "Automazioni Industriali Emiliane S.r.l.",
    "Domotica Tirrenica S.r.l.",
    "Componenti Ferroviari Piemontesi S.p.A.",
    "Illuminotecnica Marchigiana S.r.l.",
    "Biomedicale Euganea S.r.l.",
    "Elettromeccanica Friulana S.p.A.",
    "Controlli Idraulici Bergamaschi S.r.l.",
    "Energia Solare Salentina S.r.l.",
    "Strumenti di Misura Toscani S.p.A.",
    "Ascensori e Sicurezza Ligure S.r.l.",
    "Motori Brushless Umbri S.r.l.",
    "Telecomunicazioni Partenopee S.p.A.",
    "Robotica Agricola Padana S.r.l.",
    "Sensoristica Alpina S.r.l.",
    "Refrigerazione Commerciale Trevigiana S.p.A.",
    "Veicoli Elettrici Romagnoli S.r.l.",
    "Audio Professionale Cremonese S.r.l.",
    "Caldaie e Bruciatori Valtellinesi S.p.A.",
    "Sistemi Antincendio Sardi S.r.l.",
    "Elettronica Navale Giuliana S.r.l.",
    "Apparecchiature Elettromedicali Siciliane S.p.A.",
)

SMD_CTRL = ("SMD", "CONTROLLI")
SMD_PTH_CTRL = ("SMD", "PTH", "CONTROLLI")
PTH_CTRL = ("PTH", "CONTROLLI")
# How many configured commesse follow each cycle: most SMD+CONTROLLI, some with PTH too.
CICLI_CONFIGURATI = ((SMD_CTRL, 25), (SMD_PTH_CTRL, 11), (PTH_CTRL, 4))

# (code prefix, description with {placeholders}, phases the board goes through, weight)
TIPI_SCHEDA = (
    ("SCH", "Scheda controllo motore BLDC {v}V", SMD_CTRL, 4),
    ("CPU", "Scheda CPU ARM Cortex-M4 con Ethernet", SMD_CTRL, 3),
    ("SEN", "Modulo sensore temperatura e umidità I2C", SMD_CTRL, 3),
    ("DRV", "Driver LED a corrente costante {ma} mA", SMD_CTRL, 3),
    ("IFC", "Scheda interfaccia CAN bus isolata", SMD_CTRL, 3),
    ("DSP", "Scheda display TFT 4,3\" con touch capacitivo", SMD_CTRL, 2),
    ("RAD", "Modulo radio LoRa 868 MHz", SMD_CTRL, 2),
    ("MIS", "Scheda acquisizione analogica 16 bit {n} canali", SMD_CTRL, 2),
    ("COM", "Gateway Modbus RTU / TCP", SMD_CTRL, 2),
    ("LED", "Barra LED {w} W per illuminazione industriale", SMD_CTRL, 2),
    ("ENC", "Scheda encoder incrementale", SMD_CTRL, 2),
    ("TST", "Tastiera a membrana con retroilluminazione", SMD_CTRL, 1),
    ("ALM", "Alimentatore switching {v}V {a}A", SMD_PTH_CTRL, 3),
    ("INV", "Scheda potenza inverter trifase {kw} kW", SMD_PTH_CTRL, 2),
    ("CTR", "Centralina caldaia a condensazione", SMD_PTH_CTRL, 2),
    ("BMS", "Scheda BMS per pacco batterie {n}S", SMD_PTH_CTRL, 1),
    ("AMP", "Amplificatore audio classe D {w} W", SMD_PTH_CTRL, 1),
    ("ASC", "Scheda quadro di manovra ascensore", SMD_PTH_CTRL, 1),
    ("VLV", "Scheda comando elettrovalvole {n} vie", SMD_PTH_CTRL, 1),
    ("PWR", "Scheda di potenza con relè di sicurezza", PTH_CTRL, 1),
    ("MRS", "Scheda morsettiera I/O {n} canali", PTH_CTRL, 1),
    ("TRF", "Scheda trasformatore e filtro EMI", PTH_CTRL, 1),
)
PARAMETRI = {
    "v": ("12", "24", "48"),
    "a": ("2", "3", "5", "10"),
    "ma": ("350", "700", "1050"),
    "n": ("4", "8", "16"),
    "w": ("20", "40", "60"),
    "kw": ("2,2", "4", "7,5"),
}
N_ARTICOLI = 60

# Ordered quantities and how often each occurs.
QUANTITA = (50, 100, 150, 200, 250, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500, 2000, 2500, 3000)
PESI_QUANTITA = (3, 6, 4, 7, 5, 7, 5, 9, 5, 4, 5, 8, 4, 5, 4, 2, 2)

NOTE_CONFIG = (
    "Prima produzione: campionatura di 5 pezzi al collaudo prima del lotto completo.",
    "Componenti forniti dal cliente in conto lavoro: verificare il kit prima di aprire.",
    "Urgente: il cliente chiede una consegna parziale di 200 pezzi.",
    "Usare pasta saldante SAC305 senza piombo, lotto dedicato.",
    "Conformal coating a cura del cliente: non applicare.",
    "Programma AOI aggiornato alla revisione corrente della DIBA.",
    "Imballo antistatico singolo con etichetta seriale.",
)
NOTA_BLOCCATA = "In attesa della DIBA aggiornata dal cliente: non avviare la produzione."

# Chance that a closed lotto has scrap, per phase type; scrap is then 0.5–3% of it.
PROBABILITA_SCARTI = {"SMD": 0.5, "PTH": 0.25, "CONTROLLI": 0.15}
NOTE_SCARTI = {
    "SMD-PASTA": "Deposito di pasta insufficiente su U4, scheda non rilavorabile.",
    "SMD-PICK": "Condensatori 0402 mancanti dopo cambio bobina.",
    "SMD-REFLOW": "Ponti di stagno sul QFN U1 dopo rifusione.",
    "PTH-SALD": "Saldature fredde sul connettore J2.",
    "PTH-INS": "Elettrolitico C12 montato con polarità invertita.",
    "CTRL-AOI": "Disallineamento confermato dal controllo visivo.",
    "CTRL-ICT": "Resistenza R17 fuori tolleranza al test in-circuit.",
    "COMP-DIF": "Lotto di integrati difettoso: segnalato all'ufficio acquisti.",
    "PCB-DIF": "Circuito stampato con piste interrotte.",
    "MANIP": "Scheda caduta durante la movimentazione.",
}


# -- summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What ``build_demo`` made (or found, when only the ERP file was rebuilt)."""

    commesse_erp: int
    configurate: int
    macchine: int
    utenti: int
    lotti: int
    lotti_aperti: int
    solo_erp: bool = False

    def describe(self) -> str:
        """One Italian line for the command line."""
        dati = (
            f"{self.configurate} configurate, {self.macchine} macchine, {self.utenti} utenti, "
            f"{_migliaia(self.lotti)} lotti ({self.lotti_aperti} aperti)"
        )
        if self.solo_erp:
            return (
                f"ERP demo ricreato: {_migliaia(self.commesse_erp)} commesse ERP. "
                f"Dati ASI_GEST già presenti e lasciati invariati: {dati}."
            )
        return f"Demo pronta: {_migliaia(self.commesse_erp)} commesse ERP, {dati}."


def _migliaia(n: int) -> str:
    """``1234`` → ``1.234``, the Italian way."""
    return f"{n:,}".replace(",", ".")


# -- public interface ------------------------------------------------------------------


def is_loaded(session) -> bool:
    """True when the demo's history is in ASI_GEST.

    Checked on the marker row written in the same transaction as the history rather than
    on the demo users: users are created first, one commit each, so a run that failed
    later leaves them behind without the rest, and that must not count as loaded.
    """
    marker = select(LogEvento.id).where(LogEvento.azione == AZIONE_DEMO).limit(1)
    return session.scalar(marker) is not None


def logins_text() -> str:
    """The demo logins and kiosk addresses, in Italian, for the command line."""
    righe = ["Accessi demo (pagina /login, campi matricola e password):"]
    righe.append(f"  {'Ruolo':<13}{'Matricola':<15}Password")
    for u in UTENTI:
        if u.password:
            righe.append(f"  {u.ruolo.capitalize():<13}{u.matricola:<15}{u.password}")
    righe.append("Operatori (badge = matricola, poi PIN sul terminale):")
    righe.append(f"  {'Matricola':<11}{'PIN':<6}{'Nome':<21}Reparto")
    for u in UTENTI:
        if u.pin:
            righe.append(f"  {u.matricola:<11}{u.pin:<6}{u.nome + ' ' + u.cognome:<21}{u.reparto}")
    righe.append("Terminali (un browser per macchina):")
    for m in MACCHINE:
        righe.append(f"  /kiosk/{m.codice:<12}{m.descrizione}")
    return "\n".join(righe)


def build_demo(session, erp_path: Path, *, seed: int = 2026, now: datetime | None = None) -> DemoSummary:
    """Write the demo ERP file at ``erp_path`` and, unless already there, the demo's
    people, machines, configured commesse and six weeks of lotti in ASI_GEST.

    When ASI_GEST already holds the demo (``is_loaded``) only the ERP file is rebuilt:
    with the same seed it has the same orders, ids and quantities as the first time,
    so the configurations still match it. Existing users with a demo badge are kept
    as they are. ``now`` must be timezone-aware; it defaults to the current instant.

    Raises ValueError for a naive ``now``, InvalidInput/Conflict from user creation, and
    the database's IntegrityError if ASI_GEST already has machines with the demo codes
    (the history then rolls back as a whole).
    """
    now = _utc(now)
    erp_path = Path(erp_path)
    articoli, ordini = genera_erp(random.Random(f"{seed}:erp"), now.date())
    if is_loaded(session):
        pianta_scostamenti(session, ordini)
        scrivi_erp(erp_path, ordini)
        log.info("Dati demo già presenti in ASI_GEST: ricreato solo l'ERP demo %s", erp_path)
        return _conta(session, len(ordini), solo_erp=True)
    scrivi_erp(erp_path, ordini)
    utenti = _utenti_demo(session)
    with transaction(session):
        _crea_storico(session, random.Random(f"{seed}:storico"), ordini, articoli, utenti, now)
        audit.record(session, None, AZIONE_DEMO, "Demo", None, dopo={"seed": seed, "now": now.isoformat()})
    # The ERP "changes" after configuration, as it does in a plant, so the supervisor
    # pages have drift (R12) to show.
    pianta_scostamenti(session, ordini)
    scrivi_erp(erp_path, ordini)
    return _conta(session, len(ordini))


# The machine whose open lotto's order the demo ERP closes (R12 in red).
MACCHINA_COMMESSA_CHIUSA = "CTRL-AOI1"


def pianta_scostamenti(session, ordini: list[dict]) -> dict[int, str]:
    """Change two configured orders in the demo ERP rows, as the office would after
    configuration (R12): the order of the lotto left open on CTRL-AOI1 is closed
    ('C': grave, lotti are being worked for it), and the most recently configured order
    that has no lotto yet gets 100 more pieces. Chosen from ASI_GEST's rows, so the
    ERP-only rebuild plants the same ones. Returns ``{ERP ID: what changed}``.
    """
    per_id = {o["ID"]: o for o in ordini}
    piantati: dict[int, str] = {}
    chiusa = session.scalar(
        select(Fase.commessa_erp_id)
        .join(Lotto, Lotto.fase_id == Fase.id)
        .join(Macchina, Macchina.id == Lotto.macchina_id)
        .where(Macchina.codice == MACCHINA_COMMESSA_CHIUSA, Lotto.data_fine.is_(None))
    )
    if chiusa in per_id:
        per_id[chiusa]["STATOCOMMESSA"] = "C"
        piantati[chiusa] = "STATOCOMMESSA"
    con_lotti = select(Fase.commessa_erp_id).join(Lotto, Lotto.fase_id == Fase.id)
    nuova = session.scalars(
        select(ConfigCommessa)
        .where(ConfigCommessa.commessa_erp_id.not_in(con_lotti), ConfigCommessa.bloccata_documentazione == false())
        .order_by(ConfigCommessa.id.desc())
    ).first()
    if nuova is not None and nuova.commessa_erp_id in per_id and nuova.qta_erp:
        per_id[nuova.commessa_erp_id]["QTA"] = nuova.qta_erp + 100
        piantati[nuova.commessa_erp_id] = "QTA"
    return piantati


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("build_demo needs an aware datetime for now")
    return now.astimezone(timezone.utc)


def _conta(session, commesse_erp: int, *, solo_erp: bool = False) -> DemoSummary:
    def count(column, *where):
        return session.scalar(select(func.count(column)).where(*where))

    return DemoSummary(
        commesse_erp=commesse_erp,
        configurate=count(ConfigCommessa.id),
        macchine=count(Macchina.id),
        utenti=count(Utente.id),
        lotti=count(Lotto.id),
        lotti_aperti=count(Lotto.id, Lotto.data_fine.is_(None)),
        solo_erp=solo_erp,
    )


# -- ERP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Articolo:
    codart: str
    desart: str
    cliente: int  # index in CLIENTI
    fasi: tuple[str, ...]
    diba: str
    revisione: str
    complessita: float  # > 1: slower than the average board on every machine


def genera_articoli(rng: random.Random) -> list[Articolo]:
    """About 60 boards, each belonging to one customer (contract manufacturing).

    Every kind of board comes first, once, then more by weight; the first boards (the
    most ordered ones, see ``genera_erp``) go one to each customer, so every customer
    and every production cycle shows up in the orders.
    """
    articoli: list[Articolo] = []
    codici: set[str] = set()
    pesi = [t[3] for t in TIPI_SCHEDA]
    ogni_tipo = rng.sample(TIPI_SCHEDA, len(TIPI_SCHEDA))
    while len(articoli) < N_ARTICOLI:
        n = len(articoli)
        tipo = ogni_tipo[n] if n < len(ogni_tipo) else rng.choices(TIPI_SCHEDA, weights=pesi)[0]
        prefisso, modello, fasi, _peso = tipo
        numero = rng.randrange(1000, 9999)
        codart = f"{prefisso}-{numero}-{rng.choice('AAAB')}"
        if codart in codici:
            continue
        codici.add(codart)
        desart = modello.format(**{k: rng.choice(v) for k, v in PARAMETRI.items()})
        articoli.append(
            Articolo(
                codart=codart,
                desart=desart,
                cliente=n if n < len(CLIENTI) else rng.randrange(len(CLIENTI)),
                fasi=fasi,
                diba=f"DB-{prefisso}-{numero}",
                revisione=rng.choice("AABBC"),
                complessita=round(rng.uniform(0.7, 1.5), 2),
            )
        )
    return articoli


def _rif_cliente(rng: random.Random, stile: int, anno: int) -> str:
    """The customer's own order reference, in the style that customer's ERP uses."""
    if stile == 0:
        return f"PO-45{rng.randrange(10**8):08d}"
    if stile == 1:
        return f"ODA {anno}/{rng.randrange(1, 999):04d}"
    if stile == 2:
        return f"OA-{anno % 100:02d}-{rng.randrange(1, 9999):04d}"
    return f"Ord. {rng.randrange(10000, 99999)}"


def genera_erp(rng: random.Random, oggi: date) -> tuple[list[Articolo], list[dict]]:
    """The demo's boards and ~400 COMMESSE rows over last year and this one, oldest first.

    Everything but the dates is independent of ``oggi``, so the same seed gives the same
    ids, numbers and quantities on any day. Due dates run from ~60 days ago to ~150 days
    ahead; most orders due more than two weeks ago are closed, newer ones mostly open.
    """
    articoli = genera_articoli(rng)
    id_clienti = sorted(rng.sample(range(4000, 5000), len(CLIENTI)))
    stili = [rng.randrange(4) for _ in CLIENTI]
    # A few boards are "runners" ordered again and again.
    pesi_articoli = [1 / (1 + i) ** 0.6 for i in range(len(articoli))]
    anno_precedente = int(N_COMMESSE_ERP * 0.35)
    numeri = {oggi.year - 1: 1000, oggi.year: 1000}
    erp_id = 41873
    righe = []
    for i in range(N_COMMESSE_ERP):
        articolo = rng.choices(articoli, weights=pesi_articoli)[0]
        esercizio = oggi.year - 1 if i < anno_precedente else oggi.year
        # Other order types share the ERP's counters: ids and numbers have small gaps.
        numeri[esercizio] += rng.choice((1, 1, 1, 2))
        erp_id += rng.choice((1, 1, 2, 3))
        scadenza = -60 + round(i * 210 / (N_COMMESSE_ERP - 1)) + rng.randint(-6, 6)
        sorte = rng.random()
        stato = "O"
        if sorte < 0.015:
            stato = "S"
        elif scadenza < -14 and sorte < 0.8 or sorte > 0.96:
            stato = "C"
        righe.append(
            {
                "ID": erp_id,
                "ESERCIZIO": esercizio,
                "NUMEROCOM": numeri[esercizio],
                "RIFCOMMCLI": _rif_cliente(rng, stili[articolo.cliente], esercizio),
                "CODART": articolo.codart,
                "DESART": articolo.desart,
                "QTA": rng.choices(QUANTITA, weights=PESI_QUANTITA)[0],
                "DATACONSEGNA": oggi + timedelta(days=scadenza),
                "STATOCOMMESSA": stato,
                "IDCLIENTE": id_clienti[articolo.cliente],
                "NOMECLIENTE": CLIENTI[articolo.cliente],
            }
        )
    _togli_valori(rng, righe)
    return articoli, righe


def _togli_valori(rng: random.Random, righe: list[dict]) -> None:
    """Blank a handful of columns, because real ERP data has such rows (SPEC §3)."""
    for colonna, quante in (("RIFCOMMCLI", 7), ("DATACONSEGNA", 4), ("NOMECLIENTE", 3)):
        for riga in rng.sample(righe, quante):
            riga[colonna] = None


def scrivi_erp(path: Path, righe: list[dict]) -> None:
    """Create the ERP SQLite file at ``path`` from scratch with ``righe`` in COMMESSE."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A journal left by a crashed writer would be replayed into the new file.
    for stale in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
        stale.unlink(missing_ok=True)
    # A plain writable engine with SQLite's default rollback journal: never WAL, so the
    # application's read-only opener needs no -shm file it could not create.
    engine = create_engine(f"sqlite:///{path}")
    try:
        table = commesse_table(None)
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(table), righe)
    finally:
        engine.dispose()


# -- people -------------------------------------------------------------------------------


def _utenti_demo(session) -> dict[str, Utente]:
    """The demo users by matricola, created where missing (one commit each, by create_user)."""
    utenti = {}
    for u in UTENTI:
        esistente = session.scalar(select(Utente).where(Utente.matricola == u.matricola))
        utenti[u.matricola] = esistente or auth.create_user(
            session,
            actor=None,
            matricola=u.matricola,
            nome=u.nome,
            cognome=u.cognome,
            ruolo=u.ruolo,
            password=u.password,
            pin=u.pin,
        )
    return utenti


# -- the plant simulation (pure: no session) ------------------------------------------------


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
                apre = datetime.combine(giorno, time(INIZIO_TURNO), self.zona).astimezone(timezone.utc)
                chiude = datetime.combine(giorno, time(ora_fine), self.zona).astimezone(timezone.utc)
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
    """Machines taking work in time order; see the module docstring.

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
        coda = []
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
            fase = lotto.fase
            fase.input_aperti -= lotto.qta_input
            fase.prodotta += lotto.qta_output
            fase.consumata_chiusi += lotto.qta_output + lotto.qta_scarti

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
        prossimo = self.calendario.finestra(lotto.fine + cambio)[0]
        if macchina.lascia_aperto:
            macchina.in_sospeso = lotto
        elif lotto.fine > self.now:
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
        if self.calendario.turno(lotto.inizio) == self.calendario.turno(lotto.fine):
            return lotto.operatore
        reparto = next(m.reparto for m in MACCHINE if m.codice == lotto.macchina)
        return self._operatore(reparto, lotto.fine)

    def _pianifica_chiusura(self, lotto: LottoSim) -> None:
        heapq.heappush(self.chiusure, (lotto.fine, next(self.sequenza), lotto))

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
        o for o in ordini
        if o["STATOCOMMESSA"] == "O" and o["QTA"]
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
    mai = datetime.max.replace(tzinfo=timezone.utc)
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


# -- writing the history -------------------------------------------------------------------------


def _crea_storico(
    session, rng: random.Random, ordini: list[dict], articoli: list[Articolo], utenti: dict[str, Utente], now: datetime
) -> None:
    """Machines, configs, fasi, lotti and their audit rows, inside the caller's transaction."""
    tipi = {ft.codice: ft for ft in session.scalars(select(FaseTipo).order_by(FaseTipo.ordine, FaseTipo.id))}
    macchine = _salva_macchine(session, tipi)
    per_tipo, id_causali = _causali(session, tipi)
    piani = scegli_configurate(rng, ordini, {a.codart: a for a in articoli}, now)
    fasi_sim = fasi_del_piano(piani, list(tipi))
    lotti_sim = Simulazione(rng, fasi_sim, per_tipo, now).esegui(now - timedelta(days=GIORNI_STORICO))

    supervisore = utenti[SUPERVISORE.matricola]
    configs = [_salva_config(session, piano, supervisore) for piano in piani]
    fasi = {fs: _salva_fase(session, fs, tipi[fs.tipo]) for fs in fasi_sim}
    piano_di = {p.ordine["ID"]: p for p in piani}
    lotti = [
        _salva_lotto(session, ls, fasi[ls.fase], piano_di[ls.fase.commessa_id], macchine, utenti, id_causali)
        for ls in lotti_sim
    ]
    session.flush()
    _scrivi_eventi(session, piani, configs, supervisore, lotti_sim, lotti, utenti)


def _salva_macchine(session, tipi: dict[str, FaseTipo]) -> dict[str, Macchina]:
    macchine = {
        m.codice: Macchina(
            codice=m.codice, descrizione=m.descrizione, fase_tipo_id=tipi[m.fase].id, reparto=m.reparto, attiva=True
        )
        for m in MACCHINE
    }
    session.add_all(macchine.values())
    return macchine


def _causali(session, tipi: dict[str, FaseTipo]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Active scrap reasons valid per phase type (R7), the phase's own ones three times
    as likely as the generic ones; and their ids by code."""
    query = select(CausaleScarto).where(CausaleScarto.attiva == true()).order_by(CausaleScarto.codice)
    attive = list(session.scalars(query))
    per_tipo = {}
    for codice, tipo in tipi.items():
        proprie = [c.codice for c in attive if c.fase_tipo_id == tipo.id]
        generiche = [c.codice for c in attive if c.fase_tipo_id is None]
        per_tipo[codice] = proprie * 3 + generiche
    return per_tipo, {c.codice: c.id for c in attive}


def _salva_config(session, piano: ConfigPiano, supervisore: Utente) -> ConfigCommessa:
    fasi = piano.articolo.fasi
    config = ConfigCommessa(
        commessa_erp_id=piano.ordine["ID"],
        flag_smd="SMD" in fasi,
        flag_pth="PTH" in fasi,
        flag_controlli="CONTROLLI" in fasi,
        diba=piano.articolo.diba,
        revisione=piano.articolo.revisione,
        note=piano.nota,
        data_creazione=piano.creata,
        bloccata_documentazione=piano.bloccata,
        qta_erp=piano.ordine["QTA"],
        creato_da=supervisore.id,
    )
    session.add(config)
    return config


def _salva_fase(session, fs: FaseSim, tipo: FaseTipo) -> Fase:
    """The Fase row with its R8 totals and state, computed from the simulated lotti."""
    chiusi = [lt for lt in fs.lotti if lt.fine is not None]
    prodotta = sum(lt.qta_output for lt in chiusi)
    fase = Fase(
        commessa_erp_id=fs.commessa_id,
        fase_tipo_id=tipo.id,
        stato=APERTA,
        qta_prevista=fs.prevista,
        qta_prodotta=prodotta,
        qta_scarti=sum(lt.qta_scarti for lt in chiusi),
        data_apertura=fs.lotti[0].inizio if fs.lotti else None,
    )
    if fs.lotti:
        fase.stato = IN_CORSO
    if fs.lotti and len(chiusi) == len(fs.lotti) and prodotta >= fs.prevista:
        fase.stato = COMPLETATA
        fase.data_chiusura = max(lt.fine for lt in chiusi)
    session.add(fase)
    return fase


def _salva_lotto(session, ls: LottoSim, fase: Fase, piano: ConfigPiano, macchine, utenti, id_causali) -> Lotto:
    ordine = piano.ordine
    lotto = Lotto(
        fase=fase,
        progressivo=ls.progressivo,
        codice_lotto=f"{ordine['ESERCIZIO']}-{ordine['NUMEROCOM']}-{ls.fase.tipo}-{ls.progressivo:03d}",
        data_inizio=ls.inizio,
        data_fine=ls.fine,
        qta_input=ls.qta_input,
        qta_output=ls.qta_output,
        qta_scarti=ls.qta_scarti,
        causale_id=id_causali[ls.causale] if ls.causale else None,
        note_scarti=ls.note_scarti,
        operatore_id=utenti[ls.operatore].id,
        operatore_chiusura_id=utenti[ls.operatore_chiusura].id if ls.operatore_chiusura else None,
        macchina=macchine[ls.macchina],
        diba=piano.articolo.diba,
        revisione=piano.articolo.revisione,
    )
    session.add(lotto)
    return lotto


def _scrivi_eventi(session, piani, configs, supervisore: Utente, lotti_sim, lotti, utenti) -> None:
    """The audit history, added in time order so LogID and DataOra agree."""
    eventi = []
    chi_configura = auth.actor_for(supervisore)
    for piano, config in zip(piani, configs):
        dopo = {
            "CommessaERPId": config.commessa_erp_id,
            "FlagSMD": config.flag_smd,
            "FlagPTH": config.flag_pth,
            "FlagControlli": config.flag_controlli,
            "DIBA": config.diba,
            "Revisione": config.revisione,
            "QtaERP": config.qta_erp,
            "BloccataDocumentazione": config.bloccata_documentazione,
        }
        eventi.append((piano.creata, chi_configura, "CONFIG_CREATA", "ConfigCommessa", config.id, None, dopo))
    for ls, lotto in zip(lotti_sim, lotti):
        postazione = ls.macchina
        aperto = {
            "CodiceLotto": lotto.codice_lotto,
            "FaseID": lotto.fase_id,
            "FaseTipo": ls.fase.tipo,
            "QtaInput": lotto.qta_input,
            "MacchinaID": lotto.macchina_id,
            "OperatoreID": lotto.operatore_id,
        }
        chi_apre = auth.actor_for(utenti[ls.operatore], postazione)
        eventi.append((ls.inizio, chi_apre, "LOTTO_APERTO", "Lotti", lotto.id, None, aperto))
        if ls.fine is not None:
            chiuso = {
                "CodiceLotto": lotto.codice_lotto,
                "QtaOutput": lotto.qta_output,
                "QtaScarti": lotto.qta_scarti,
                "CausaleScarto": ls.causale,
                "NoteScarti": lotto.note_scarti,
            }
            chi_chiude = auth.actor_for(utenti[ls.operatore_chiusura], postazione)
            eventi.append((ls.fine, chi_chiude, "LOTTO_CHIUSO", "Lotti", lotto.id, {"Stato": "APERTO"}, chiuso))
    eventi.sort(key=lambda e: e[0])
    for quando, actor, azione, entita, entita_id, prima, dopo in eventi:
        evento = audit.record(session, actor, azione, entita, entita_id, prima=prima, dopo=dopo)
        # History happened in the past: the row carries the instant of the event itself.
        evento.data_ora = quando
