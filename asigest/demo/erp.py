"""The demo ERP: ~60 boards and ~400 COMMESSE rows, and the SQLite file that holds them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert

from asigest.demo.cast import CLIENTI, N_ARTICOLI, PARAMETRI, PESI_QUANTITA, QUANTITA, TIPI_SCHEDA
from asigest.erp.tables import commesse_table

N_COMMESSE_ERP = 400


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
