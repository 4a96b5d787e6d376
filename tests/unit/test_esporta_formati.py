"""The export writers on their own: typed Excel cells, CSV as Italian Excel reads it,
formula-looking text kept as text, and a sheet that would overflow refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from asigest.errors import RuleViolation
from asigest.services import esporta

ESTATE = datetime(2026, 7, 1, 6, 30, tzinfo=UTC)  # 08:30 in Rome (CEST)
INVERNO = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)  # 07:30 in Rome (CET)
RIGHE = [
    ("L-1", 10, 2.5, True, ESTATE, date(2026, 12, 1), None, "=SUM(A1)"),
    ("L-2", 0, 33.3, False, INVERNO, None, 'testo; con "virgolette"\na capo', "-5 pezzi"),
]
TITOLI = ["Codice", "Intero", "Decimale", "Sì/no", "Istante", "Data", "Testo", "Formula"]


def xlsx(righe=RIGHE, **kw):
    buffer = io.BytesIO()
    scritte = esporta.scrivi_xlsx(
        buffer, TITOLI, [10] * len(TITOLI), iter(righe), zona="Europe/Rome", foglio="Prova", **kw
    )
    buffer.seek(0)
    return scritte, load_workbook(buffer).active


def test_xlsx_cells_are_typed_and_instants_are_plant_time():
    scritte, ws = xlsx()
    assert scritte == 2
    prima, seconda = ws[2], ws[3]
    assert [c.value for c in prima[:4]] == ["L-1", 10, 2.5, True]
    assert prima[4].value == datetime(2026, 7, 1, 8, 30) and seconda[4].value == datetime(2026, 1, 15, 7, 30)
    assert prima[4].number_format == "dd/mm/yyyy hh:mm" and prima[5].number_format == "dd/mm/yyyy"
    assert prima[6].value is None
    assert prima[7].value == "=SUM(A1)" and prima[7].data_type == "s"
    assert seconda[7].value == "-5 pezzi"
    assert ws.title == "Prova" and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H3"


def test_xlsx_drops_control_characters_it_cannot_store():
    _, ws = xlsx([("L\x01-1", 1, 1.0, False, ESTATE, None, "bip\x07", "x")])
    assert ws["A2"].value == "L-1" and ws["G2"].value == "bip"


def test_xlsx_refuses_more_rows_than_a_sheet_holds():
    with pytest.raises(RuleViolation) as refused:
        xlsx(RIGHE * 2, max_righe=3)
    assert refused.value.code == "TROPPE_RIGHE_EXCEL"
    assert xlsx(RIGHE, max_righe=2)[0] == 2


def test_csv_is_what_italian_excel_opens():
    blocchi = list(esporta.righe_csv(TITOLI, iter(RIGHE), zona="Europe/Rome", vero="Sì", falso="No"))
    dati = b"".join(blocchi)
    assert dati.startswith(b"\xef\xbb\xbf" + b"Codice;Intero;Decimale;")
    testo = dati.decode("utf-8-sig")
    righe = list(csv.reader(io.StringIO(testo, newline=""), delimiter=";"))
    assert righe[0] == TITOLI
    assert righe[1] == ["L-1", "10", "2,5", "Sì", "01/07/2026 08:30", "01/12/2026", "", "'=SUM(A1)"]
    assert righe[2] == [
        "L-2",
        "0",
        "33,3",
        "No",
        "15/01/2026 07:30",
        "",
        'testo; con "virgolette"\na capo',
        "'-5 pezzi",
    ]
    assert testo.count("\r\n") == 3  # the header and two rows; the newline inside a quoted field stays


def test_csv_comes_in_blocks():
    righe = [("L", n, 1.0, False, ESTATE, None, None, "x") for n in range(esporta.RIGHE_PER_BLOCCO_CSV * 2 + 1)]
    blocchi = list(esporta.righe_csv(TITOLI, iter(righe), zona="Europe/Rome", vero="Sì", falso="No"))
    assert len(blocchi) == 1 + 3
