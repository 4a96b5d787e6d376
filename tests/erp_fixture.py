"""A throwaway ERP database for tests: COMMESSE rows that cover the cases real data has
(NULL columns, closed orders, LIKE wildcards and Unicode in text)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, insert

from asigest.erp.tables import commesse_table


def commessa_row(id, esercizio=2026, numerocom=None, **fields):
    row = {
        "ID": id,
        "ESERCIZIO": esercizio,
        "NUMEROCOM": numerocom if numerocom is not None else id,
        "RIFCOMMCLI": f"ORD-{id:05d}",
        "CODART": f"ART-{id % 7:03d}",
        "DESART": f"Scheda di prova {id}",
        "QTA": 100,
        "DATACONSEGNA": date(2026, 12, 1),
        "STATOCOMMESSA": "O",
        "IDCLIENTE": 10 + id % 3,
        "NOMECLIENTE": "Cliente Generico S.r.l.",
    }
    row.update(fields)
    return row


def standard_rows() -> list[dict]:
    """The rows every test can rely on (ids are stable: tests name them)."""
    rows = [commessa_row(i, numerocom=1000 + i) for i in range(1, 41)]  # 40 open: 1001..1040
    rows += [
        commessa_row(
            101,
            numerocom=1234,
            RIFCOMMCLI="PO 50%_sconto",
            CODART="SCH-[X]",
            DESART="Scheda alimentatore 24V",
            NOMECLIENTE="Elettronica Adriatica S.p.A.",
            QTA=500,
        ),
        commessa_row(
            102,
            esercizio=2025,
            numerocom=1234,
            DESART="Scheda relè ordine vecchio",
            NOMECLIENTE="Meccatronica Bresciana",
        ),
        commessa_row(103, numerocom=77, STATOCOMMESSA="C", DESART="Commessa chiusa", NOMECLIENTE="Chiusi & Figli"),
        commessa_row(
            104,
            numerocom=78,
            ESERCIZIO=None,
            RIFCOMMCLI=None,
            CODART=None,
            DESART=None,
            QTA=None,
            DATACONSEGNA=None,
            IDCLIENTE=None,
            NOMECLIENTE=None,
        ),
        commessa_row(105, numerocom=79, DESART="Centralina Più Già — ünïcode", NOMECLIENTE="Città Sàlute"),
        commessa_row(106, numerocom=80, STATOCOMMESSA=None, DESART="Stato nullo"),
        commessa_row(107, numerocom=81, STATOCOMMESSA="S", DESART="Sospesa in ERP"),
    ]
    return rows


def build_erp(path: Path, rows: list[dict] | None = None) -> Path:
    """Write a fresh ERP SQLite file (rollback journal, like a file other tools can lock)."""
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    table = commesse_table(None)
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), rows if rows is not None else standard_rows())
    engine.dispose()
    return path
