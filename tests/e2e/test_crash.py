"""Crash safety (R9, R11): the real server killed with SIGKILL while terminals write.

The app runs as ``make run`` runs it (gunicorn, 2 workers × 4 threads; ``--preload`` only
to halve the restart time) on a throwaway database (SQLite, or PostgreSQL with
``ASIGEST_TEST_DATABASE_URL``). Six terminals, each
an operator with its own API token and SMD machine, loop over open → close through the
JSON API, two or three terminals per fase; two more work CONTROLLI, the fase after SMD,
so their opens draw from SMD's closed lotti (R14) and their closes give back; every
request carries an ``Idempotency-Key``
and, when the connection breaks or the server is down, is sent again with the same key
until the server answers — what line software does. Meanwhile the test kills the whole
process group (master and workers) at random moments and restarts it, ``CICLI`` times,
and kills it once more at the end instead of stopping it.

Then, straight on the database:

- SQLite ``PRAGMA integrity_check`` and ``foreign_key_check``;
- no half-written lotto: a closed one has DataFine, QtaOutput, QtaScarti,
  OperatoreChiusuraID, a reason when it has scrap and 0 < output + scrap ≤ input; an open
  one has none of them;
- each fase's QtaProdotta / QtaScarti equal the sums over its closed lotti (R8);
- progressivi of each fase are exactly 1…n (R6: no duplicate, no gap) and no machine has
  two open lotti (R4);
- every lotto has exactly one LOTTO_APERTO row in LogEventi, every closed lotto exactly
  one LOTTO_CHIUSO row (whose "dopo" holds its quantities), an open lotto none, and no
  LogEventi row names a lotto that does not exist (R9: change and audit row together);
- each lotto has its one-time key in RichiesteEseguite for its open and for its close;
- the KPIs' daily summary (KpiGiorni, kept in the close's transaction) equals a recount;
- the draws (R14): each CONTROLLI lotto's add up to what it consumes, no SMD lotto gave
  more than its QtaOutput, no draw from an open lotto, another order or another fase;

and against what the terminals saw: every answer 2xx is in the database as answered
(acknowledged = durable), and the database holds nothing that no terminal was told of
(each operation done exactly once, although many were sent twice or more).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import create_engine, func, select, text

from asigest.models import Fase, LogEvento, Lotto, RichiestaEseguita
from tests.server_fixture import (
    CAUSALE_SMD,
    Impianto,
    database_usa_e_getta,
    prepara_impianto,
    serve_gunicorn,
)

TERMINALI = 6
TERMINALI_CONTROLLI = 2
FASI = 3
CICLI = 7
LIMITE_OPERAZIONE_S = 45  # a terminal gives up (and the test fails) after this long without an answer


class Terminale(threading.Thread):
    """An operator's line software: open a lotto, close it, again; resend until answered."""

    def __init__(self, n: int, porta: int, impianto: Impianto, fermo: threading.Event, *, controlli: bool = False):
        super().__init__(name=f"terminale-{'controlli-' if controlli else ''}{n}", daemon=True)
        self.porta = porta
        self.tipo = "controlli" if controlli else "smd"
        macchine, fasi, operatori = (
            (impianto.macchine_controlli, impianto.fasi_controlli, impianto.operatori_controlli)
            if controlli
            else (impianto.macchine, impianto.fasi, impianto.operatori)
        )
        self.macchina_id = macchine[n][0]
        self.fase_id = fasi[n % len(fasi)]
        self.token = operatori[n][2]
        self.attese = 0  # CONTROLLI opens refused while SMD had produced too little (400, tried again)
        self.fermo = fermo
        self.rng = random.Random(n)
        self.conn: http.client.HTTPConnection | None = None
        # What the server answered 2xx: LottoID → the lotto in the answer.
        self.aperture: dict[int, dict] = {}
        self.chiusure: dict[int, dict] = {}
        self.inviate = 0  # requests that reached a server, resends included
        self.rifiutate = 0  # connections refused while the server was down (not sent)
        self.confermate = 0  # answered 2xx
        self.in_volo = 0  # sent, and the connection lost before the answer (killed mid-request)
        self.dopo_reinvio = 0  # operations answered only after a resend
        self.repliche = 0  # of which the first attempt had committed: the resend got its result (R11)
        self.riprovare = 0  # 409 RIPROVARE (write contention), resent
        self.errori: list[str] = []

    def chiama(self, metodo: str, percorso: str, dati: dict, atteso: int) -> dict | None:
        """Send until the server answers; resends keep the first Idempotency-Key."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        corpo = json.dumps(dati)
        limite = time.monotonic() + LIMITE_OPERAZIONE_S
        perse = 0
        while time.monotonic() < limite:
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.porta, timeout=20)
                self.inviate += 1
                inviata = time.time()
                self.conn.request(metodo, percorso, body=corpo, headers=headers)
                risposta = self.conn.getresponse()
                stato, testo = risposta.status, risposta.read()
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, ConnectionRefusedError):
                    self.inviate -= 1
                    self.rifiutate += 1
                else:
                    self.in_volo += 1
                    perse += 1
                self.conn.close()
                self.conn = None
                time.sleep(0.05)
                continue
            if stato == atteso:
                self.confermate += 1
                lotto = json.loads(testo)
                if perse:
                    self.dopo_reinvio += 1
                    # Done (DataInizio/DataFine) before this resend left: an earlier attempt committed.
                    fatto = lotto["DataFine"] if metodo == "PUT" else lotto["DataInizio"]
                    self.repliche += datetime.fromisoformat(fatto).timestamp() < inviata
                return lotto
            if stato == 409:
                self.riprovare += 1
                time.sleep(0.02)
                continue
            if stato == 400 and json.loads(testo).get("code") == "QUANTITA_NON_DISPONIBILE" and self.tipo != "smd":
                return {}  # CONTROLLI ahead of SMD: the caller waits for more pieces
            self.errori.append(f"{metodo} {percorso} → HTTP {stato}: {testo[:300]!r}")
            return None
        self.errori.append(f"{metodo} {percorso}: nessuna risposta in {LIMITE_OPERAZIONE_S} s")
        return None

    def run(self):
        try:
            while not self.fermo.is_set():
                qta = self.rng.randint(1, 20)
                lotto = self.chiama(
                    "POST",
                    f"/api/lotti/{self.tipo}/",
                    {"FaseID": self.fase_id, "MacchinaID": self.macchina_id, "QtaInput": qta},
                    201,
                )
                if lotto is None:
                    return
                if not lotto:
                    self.attese += 1
                    time.sleep(0.1)
                    continue
                self.aperture[lotto["LottoID"]] = lotto
                if self.fermo.is_set():
                    return  # this lotto stays open: the checks cover open lotti too
                scarti = min(qta, self.rng.choice((0, 0, 0, 1, 2)))
                uscita = self.rng.randint(0 if scarti else 1, qta - scarti)
                chiudi = {"QtaOutput": uscita, "QtaScarti": scarti}
                if scarti:
                    chiudi["CausaleScarto"] = CAUSALE_SMD if self.tipo == "smd" else "CTRL-AOI"
                chiuso = self.chiama("PUT", f"/api/lotti/{self.tipo}/{lotto['LottoID']}/close", chiudi, 200)
                if chiuso is None:
                    return
                self.chiusure[chiuso["LottoID"]] = chiuso
        except Exception as exc:  # a bug in the test client must fail the test, not vanish
            self.errori.append(f"{type(exc).__name__}: {exc}")
        finally:
            if self.conn is not None:
                self.conn.close()


@pytest.fixture
def impianto(tmp_path):
    with database_usa_e_getta(tmp_path) as url:
        yield prepara_impianto(url, tmp_path, macchine=TERMINALI, commesse=FASI, controlli=TERMINALI_CONTROLLI)


def test_sigkill_during_writes_loses_nothing_acknowledged_and_leaves_nothing_half_done(
    impianto, serve_gunicorn, tmp_path
):
    inizio = time.monotonic()
    server = serve_gunicorn(impianto, "crash", workers=2, threads=4, preload=True)
    fermo = threading.Event()
    terminali = [Terminale(n, server.porta, impianto, fermo) for n in range(TERMINALI)] + [
        Terminale(n, server.porta, impianto, fermo, controlli=True) for n in range(TERMINALI_CONTROLLI)
    ]
    for t in terminali:
        t.start()
    rng = random.Random()
    try:
        for _ in range(CICLI):
            time.sleep(rng.uniform(0.3, 1.5))  # kill at a random moment of steady writing
            server.uccidi()
            time.sleep(rng.uniform(0.0, 0.3))
            server.avvia()
        time.sleep(0.5)
    finally:
        fermo.set()
        for t in terminali:
            t.join(LIMITE_OPERAZIONE_S + 5)
    server.uccidi()  # the end is a crash too: nothing is flushed by a clean shutdown
    assert not server.errori_nel_log(), server.coda_log()

    errori = [e for t in terminali for e in t.errori]
    assert not errori, "richieste rifiutate o senza risposta:\n" + "\n".join(errori[:20])
    assert not any(t.is_alive() for t in terminali)
    aperture = {k: v for t in terminali for k, v in t.aperture.items()}
    chiusure = {k: v for t in terminali for k, v in t.chiusure.items()}
    in_volo = sum(t.in_volo for t in terminali)

    engine = create_engine(impianto.database_url)
    try:
        with engine.connect() as conn:
            _controlla_database(conn, aperture, chiusure)
            n_lotti = conn.scalar(select(func.count()).select_from(Lotto))
    finally:
        engine.dispose()

    inviate = sum(t.inviate for t in terminali)
    confermate = sum(t.confermate for t in terminali)
    print(
        f"\n[crash {engine.dialect.name}] {CICLI} cicli SIGKILL (+1 finale), {server.avvii} avvii, "
        f"{TERMINALI} terminali SMD + {TERMINALI_CONTROLLI} CONTROLLI, {time.monotonic() - inizio:.1f} s: "
        f"{inviate} richieste inviate, "
        f"{confermate} confermate (2xx), {in_volo} perse in volo (connessione chiusa dal kill prima della "
        f"risposta), {sum(t.rifiutate for t in terminali)} connessioni rifiutate a server spento; "
        f"{sum(t.dopo_reinvio for t in terminali)} operazioni confermate "
        f"solo dopo un reinvio (di cui {sum(t.repliche for t in terminali)} già eseguite prima del kill: "
        f"il reinvio ha avuto il primo risultato), "
        f"{sum(t.riprovare for t in terminali)} 409 riprovate, {sum(t.attese for t in terminali)} aperture "
        f"CONTROLLI in attesa di pezzi SMD; {len(aperture)} aperture e {len(chiusure)} "
        f"chiusure confermate = {n_lotti} lotti nel database"
    )
    # The kills must have hit requests in flight, or the test proved nothing.
    assert in_volo >= CICLI, f"solo {in_volo} richieste perse in volo nei {CICLI} kill"
    assert len(chiusure) >= 20


def _controlla_database(conn, aperture: dict[int, dict], chiusure: dict[int, dict]) -> None:
    problemi: list[str] = []
    if conn.dialect.name == "sqlite":
        assert conn.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []

    lotti = {r.LottoID: r for r in conn.execute(select(Lotto.__table__))}
    for r in lotti.values():
        if r.DataFine is None:
            if any(v is not None for v in (r.QtaOutput, r.QtaScarti, r.CausaleID, r.OperatoreChiusuraID, r.NoteScarti)):
                problemi.append(f"lotto aperto {r.LottoID} con dati di chiusura")
        else:
            if None in (r.QtaOutput, r.QtaScarti, r.OperatoreChiusuraID):
                problemi.append(f"lotto chiuso {r.LottoID} senza quantità o operatore di chiusura")
            elif not 0 < r.QtaOutput + r.QtaScarti <= r.QtaInput or (r.QtaScarti > 0) != (r.CausaleID is not None):
                problemi.append(f"lotto chiuso {r.LottoID} con quantità o causale incoerenti")

    fasi = conn.execute(select(Fase.__table__)).all()
    for fase in fasi:
        suoi = [r for r in lotti.values() if r.FaseID == fase.FaseID]
        chiusi = [r for r in suoi if r.DataFine is not None]
        if (fase.QtaProdotta, fase.QtaScarti) != (sum(r.QtaOutput for r in chiusi), sum(r.QtaScarti for r in chiusi)):
            problemi.append(
                f"fase {fase.FaseID}: totali {fase.QtaProdotta}/{fase.QtaScarti} diversi dalle somme dei lotti"
            )
        if sorted(r.Progressivo for r in suoi) != list(range(1, len(suoi) + 1)):
            problemi.append(f"fase {fase.FaseID}: progressivi non 1…{len(suoi)}")
        if suoi and (fase.Stato != "IN_CORSO" or fase.DataApertura is None):
            problemi.append(f"fase {fase.FaseID}: stato {fase.Stato} con lotti")
    aperti_per_macchina = Counter(r.MacchinaID for r in lotti.values() if r.DataFine is None)
    problemi += [f"macchina {m}: {n} lotti aperti" for m, n in aperti_per_macchina.items() if n > 1]

    log = LogEvento.__table__
    eventi = conn.execute(select(log.c.Azione, log.c.EntitaID, log.c.Dettagli).where(log.c.Entita == "Lotti")).all()
    aperto = Counter(e.EntitaID for e in eventi if e.Azione == "LOTTO_APERTO")
    chiuso = Counter(e.EntitaID for e in eventi if e.Azione == "LOTTO_CHIUSO")
    for lotto_id, r in lotti.items():
        if aperto[lotto_id] != 1:
            problemi.append(f"lotto {lotto_id}: {aperto[lotto_id]} righe LOTTO_APERTO")
        if chiuso[lotto_id] != (r.DataFine is not None):
            problemi.append(f"lotto {lotto_id}: {chiuso[lotto_id]} righe LOTTO_CHIUSO")
    problemi += [f"LogEventi nomina il lotto {i}, che non esiste" for i in (set(aperto) | set(chiuso)) - set(lotti)]
    for e in eventi:
        if e.Azione == "LOTTO_CHIUSO" and e.EntitaID in lotti:
            dopo, r = (e.Dettagli or {}).get("dopo") or {}, lotti[e.EntitaID]
            if (dopo.get("QtaOutput"), dopo.get("QtaScarti")) != (r.QtaOutput, r.QtaScarti):
                problemi.append(f"lotto {e.EntitaID}: LOTTO_CHIUSO registra {dopo} diverso dal lotto")

    richieste = RichiestaEseguita.__table__
    chiavi = Counter(tuple(r) for r in conn.execute(select(richieste.c.Operazione, richieste.c.EntitaID)))
    for lotto_id, r in lotti.items():
        if chiavi[("LOTTO_APERTO", lotto_id)] != 1 or chiavi[("LOTTO_CHIUSO", lotto_id)] != (r.DataFine is not None):
            problemi.append(f"lotto {lotto_id}: chiavi una-tantum mancanti o doppie")

    # What the terminals were told, against what is stored.
    for lotto_id, visto in aperture.items():
        r = lotti.get(lotto_id)
        if r is None:
            problemi.append(f"apertura confermata del lotto {lotto_id} persa")
        elif (r.FaseID, r.MacchinaID, r.QtaInput, r.Progressivo, r.CodiceLotto) != (
            visto["FaseID"],
            visto["MacchinaID"],
            visto["QtaInput"],
            visto["Progressivo"],
            visto["CodiceLotto"],
        ):
            problemi.append(f"lotto {lotto_id}: diverso da quanto confermato all'apertura")
    for lotto_id, visto in chiusure.items():
        r = lotti.get(lotto_id)
        if r is None or r.DataFine is None:
            problemi.append(f"chiusura confermata del lotto {lotto_id} persa")
        elif (r.QtaOutput, r.QtaScarti) != (visto["QtaOutput"], visto["QtaScarti"]):
            problemi.append(f"lotto {lotto_id}: quantità diverse da quelle confermate alla chiusura")
    problemi += [f"lotto {i} nel database ma mai confermato a un terminale" for i in set(lotti) - set(aperture)]
    problemi += [
        f"lotto {i} chiuso nel database ma chiusura mai confermata"
        for i, r in lotti.items()
        if r.DataFine is not None and i not in chiusure
    ]

    problemi += _riepilogo_kpi(conn)
    problemi += _prelievi(conn)
    assert not problemi, f"{len(problemi)} incoerenze:\n" + "\n".join(problemi[:30])


def _prelievi(conn) -> list[str]:
    """R14 after the kills: every draw written with its lotto's open, close or nothing."""
    from asigest.models import LottoOrigine
    from asigest.services import origini

    trovati = [f"R14: {v}" for v in origini.violazioni(conn)]
    aperti_controlli = conn.scalar(select(func.count()).select_from(LottoOrigine))
    return trovati + ([] if aperti_controlli else ["nessun prelievo: i terminali CONTROLLI non hanno lavorato"])


def _riepilogo_kpi(conn) -> list[str]:
    """The KPIs' daily summaries, kept in the close's transaction, equal a recount from the lotti."""
    try:
        from asigest.services import riepilogo_kpi
    except ImportError:  # no summary tables in this version
        return []
    zona = riepilogo_kpi.zona_attiva(conn)
    if zona is None:
        return ["riepilogo KPI non in uso dopo init"]
    tenute, attese = riepilogo_kpi.righe_tenute(conn), riepilogo_kpi.aggrega(conn, zona)
    return [] if tenute == attese else [f"riepilogo KPI diverso dal ricalcolo sui lotti: {tenute} ≠ {attese}"]
