"""The demo's cast: people, machines, customers, boards, quantities and notes (data only)."""

from __future__ import annotations

from dataclasses import dataclass


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
    MacchinaDemo(
        "SMD-L1", "Linea SMD 1: serigrafica, pick & place, forno a rifusione", "SMD", "SMD", 28, lascia_aperto=True
    ),
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
    ("DSP", 'Scheda display TFT 4,3" con touch capacitivo', SMD_CTRL, 2),
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
