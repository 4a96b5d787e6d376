"""Exports to Excel (``.xlsx``, openpyxl) and CSV: the columns of each export and two writers.

Both writers take the rows as an iterator of value tuples and never hold more than one
row (openpyxl's write-only mode streams the sheet to a temporary file; the CSV is
yielded in blocks), so a year of lotti does not sit in memory.

- Cells are typed: integers and decimals are numbers, instants are shown in the
  plant's time zone (Excel has no time zones: a naive local datetime with a date
  format), dates are dates, yes/no are booleans in Excel.
- CSV is what Italian Excel opens with a double click: UTF-8 with BOM, ``;`` between
  fields, CRLF, ``dd/mm/yyyy HH:MM`` dates and a decimal comma.
- Text that a spreadsheet would run as a formula (``=…``, and in CSV also ``+ - @``)
  is written as text: in Excel as a string cell, in CSV behind an apostrophe (OWASP's
  advice against CSV injection: notes are typed by people at the machines).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Generic, TypeAlias, TypeVar
from zoneinfo import ZoneInfo

from asigest.domain.avanzamento import percentuale
from asigest.domain.stati import LOTTO_APERTO, LOTTO_CHIUSO
from asigest.errors import N_, RuleViolation

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    from asigest.services.avanzamento import RigaAvanzamento
    from asigest.services.registro import RigaLotto

# What a cell of an export holds (datetimes are UTC-aware and shown in the plant's zone).
Valore: TypeAlias = str | int | float | bool | date | datetime | None
R = TypeVar("R")

FORMATO_DATAORA_XLSX = "dd/mm/yyyy hh:mm"
FORMATO_DATA_XLSX = "dd/mm/yyyy"
FORMATO_DATAORA_CSV = "%d/%m/%Y %H:%M"
FORMATO_DATA_CSV = "%d/%m/%Y"
# An Excel sheet holds 1,048,576 rows, the header included.
MAX_RIGHE_EXCEL = 1_048_575
# Rows per block of CSV text handed to the server.
RIGHE_PER_BLOCCO_CSV = 500
_FORMULA_XLSX = ("=",)
_FORMULA_CSV = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Colonna(Generic[R]):
    """One column of an export: its title (a msgid, translated by the caller), how to read
    its value from a row, and its width in Excel (characters)."""

    titolo: str
    valore: Callable[[R], Valore]
    larghezza: float = 12


def _durata_minuti(r: RigaLotto) -> int | None:
    if r.data_fine is None:
        return None
    return int((r.data_fine - r.data_inizio) / timedelta(minutes=1))


def _erp(nome: str) -> Callable[[RigaLotto | RigaAvanzamento], Valore]:
    def valore(r: RigaLotto | RigaAvanzamento) -> Valore:
        if r.commessa is None:
            return None
        letto: Valore = getattr(r.commessa, nome)
        return letto

    return valore


# The lotti register (rows: services.registro.RigaLotto).
COLONNE_LOTTI: tuple[Colonna[RigaLotto], ...] = (
    Colonna(N_("Codice lotto"), lambda r: r.codice_lotto, 22),
    Colonna(N_("Commessa"), lambda r: r.commessa.numero if r.commessa is not None else None, 12),
    Colonna(N_("ID commessa ERP"), lambda r: r.commessa_erp_id, 10),
    Colonna(N_("Cliente"), _erp("nomecliente"), 28),
    Colonna(N_("Articolo"), _erp("codart"), 16),
    Colonna(N_("Descrizione articolo"), _erp("desart"), 32),
    Colonna(N_("Fase"), lambda r: r.fase_tipo, 11),
    Colonna(N_("Progressivo"), lambda r: r.progressivo, 8),
    Colonna(N_("Macchina"), lambda r: r.macchina, 12),
    Colonna(N_("Operatore"), lambda r: r.operatore, 22),
    Colonna(N_("Matricola"), lambda r: r.matricola, 10),
    Colonna(N_("Inizio"), lambda r: r.data_inizio, 16),
    Colonna(N_("Fine"), lambda r: r.data_fine, 16),
    Colonna(N_("Durata (min)"), _durata_minuti, 9),
    Colonna(N_("Stato"), lambda r: LOTTO_APERTO if r.aperto else LOTTO_CHIUSO, 9),
    Colonna(N_("Dimenticato"), lambda r: r.dimenticato, 9),
    Colonna(N_("Pezzi in ingresso"), lambda r: r.qta_input, 10),
    Colonna(N_("Pezzi buoni"), lambda r: r.qta_output, 10),
    Colonna(N_("Scarti"), lambda r: r.qta_scarti, 8),
    Colonna(N_("Causale"), lambda r: r.causale, 12),
    Colonna(N_("Descrizione causale"), lambda r: r.causale_descrizione, 28),
    Colonna(N_("Note scarti"), lambda r: r.note_scarti, 28),
    Colonna(N_("Chiuso da"), lambda r: r.chiuso_da, 22),
    Colonna(N_("DIBA"), lambda r: r.diba, 14),
    Colonna(N_("Revisione"), lambda r: r.revisione, 9),
)

# Order progress (rows: services.avanzamento.RigaAvanzamento).
COLONNE_AVANZAMENTO: tuple[Colonna[RigaAvanzamento], ...] = (
    Colonna(N_("Commessa"), lambda r: r.commessa.numero if r.commessa is not None else None, 12),
    Colonna(N_("ID commessa ERP"), lambda r: r.commessa_erp_id, 10),
    Colonna(N_("Cliente"), _erp("nomecliente"), 28),
    Colonna(N_("Articolo"), _erp("codart"), 16),
    Colonna(N_("Descrizione articolo"), _erp("desart"), 32),
    Colonna(N_("Quantità ordinata"), _erp("qta"), 10),
    Colonna(N_("Data consegna"), _erp("dataconsegna"), 12),
    Colonna(N_("Stato commessa ERP"), _erp("statocommessa"), 10),
    Colonna(N_("Fase"), lambda r: r.fase_tipo, 11),
    Colonna(N_("Stato fase"), lambda r: r.stato, 12),
    Colonna(N_("Quantità prevista"), lambda r: r.qta_prevista, 10),
    Colonna(N_("Quantità prodotta"), lambda r: r.qta_prodotta, 10),
    Colonna(N_("Scarti"), lambda r: r.qta_scarti, 8),
    Colonna(N_("% avanzamento"), lambda r: percentuale(r.qta_prodotta, r.qta_prevista), 11),
    Colonna(N_("In ritardo"), lambda r: r.in_ritardo, 9),
)


def valori(colonne: Sequence[Colonna[R]], righe: Iterable[R]) -> Iterator[tuple[Valore, ...]]:
    """Each row as the tuple of its columns' values."""
    leggi = [c.valore for c in colonne]
    for riga in righe:
        yield tuple(f(riga) for f in leggi)


# -- Excel -----------------------------------------------------------------------------


def scrivi_xlsx(
    destinazione: str | IO[bytes],
    titoli: Sequence[str],
    larghezze: Sequence[float],
    righe: Iterable[Sequence[Valore]],
    *,
    zona: str,
    foglio: str,
    max_righe: int = MAX_RIGHE_EXCEL,
) -> int:
    """Write an ``.xlsx`` to ``destinazione`` (a path or a binary file): a bold, frozen
    header row with an autofilter over the data, then ``righe``. Returns the data rows written.

    Raises RuleViolation TROPPE_RIGHE_EXCEL past ``max_righe`` (what a sheet holds): a
    file Excel would cut short is worse than none.
    """
    # openpyxl (with lxml) is a fifth of the app's import time: loaded by the first export,
    # not by every worker and command at start.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    tz = ZoneInfo(zona)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=foglio[:31])
    # Widths and the frozen row are written before the first row: set them first.
    for indice, larghezza in enumerate(larghezze, start=1):
        ws.column_dimensions[get_column_letter(indice)].width = larghezza
    ws.freeze_panes = "A2"
    grassetto, a_capo = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    intestazione = []
    for titolo in titoli:
        cella = WriteOnlyCell(ws, value=_testo_xlsx(titolo))
        cella.font, cella.alignment = grassetto, a_capo
        intestazione.append(cella)
    ws.append(intestazione)
    scritte = 0
    for riga in righe:
        if scritte == max_righe:
            raise RuleViolation(
                N_(
                    "L'esportazione supera le %(max)s righe di un foglio Excel: restringere il periodo "
                    "o scaricare il CSV."
                ),
                code="TROPPE_RIGHE_EXCEL",
                max=max_righe,
            )
        ws.append([_cella_xlsx(ws, valore, tz) for valore in riga])
        scritte += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(titoli)))}{scritte + 1}"
    wb.save(destinazione)
    return scritte


def _cella_xlsx(ws: WriteOnlyWorksheet, valore: Valore, tz: ZoneInfo) -> Cell | Valore:
    from openpyxl.cell import WriteOnlyCell  # loaded by scrivi_xlsx already: a lookup

    if valore is None or isinstance(valore, (bool, int, float)):
        return valore
    if isinstance(valore, datetime):
        cella = WriteOnlyCell(ws, value=valore.astimezone(tz).replace(tzinfo=None) if valore.tzinfo else valore)
        cella.number_format = FORMATO_DATAORA_XLSX
        return cella
    if isinstance(valore, date):
        cella = WriteOnlyCell(ws)
        cella.value = valore  # (the stubs' WriteOnlyCell takes no date; the Cell it makes does)
        cella.number_format = FORMATO_DATA_XLSX
        return cella
    testo = _testo_xlsx(str(valore))
    if testo.startswith(_FORMULA_XLSX):
        cella = WriteOnlyCell(ws, value=testo)
        cella.data_type = "s"  # openpyxl would store "=…" as a formula
        return cella
    return testo


def _testo_xlsx(testo: str) -> str:
    # Control characters are not allowed in the sheet's XML; openpyxl refuses them.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", testo)


# -- CSV ---------------------------------------------------------------------------------


def righe_csv(
    titoli: Sequence[str], righe: Iterable[Sequence[Valore]], *, zona: str, vero: str, falso: str
) -> Iterator[bytes]:
    """The CSV as blocks of bytes: BOM and header first, then ``RIGHE_PER_BLOCCO_CSV`` rows a block."""
    tz = ZoneInfo(zona)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([_testo_csv(t) for t in titoli])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    in_blocco = 0
    for riga in righe:
        writer.writerow([_cella_csv(valore, tz, vero, falso) for valore in riga])
        in_blocco += 1
        if in_blocco == RIGHE_PER_BLOCCO_CSV:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            in_blocco = 0
    if in_blocco:
        yield buffer.getvalue().encode("utf-8")


def _cella_csv(valore: Valore, tz: ZoneInfo, vero: str, falso: str) -> str:
    if valore is None:
        return ""
    if isinstance(valore, bool):
        return vero if valore else falso
    if isinstance(valore, int):
        return str(valore)
    if isinstance(valore, float):
        return f"{valore:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(valore, datetime):
        return (valore.astimezone(tz) if valore.tzinfo else valore).strftime(FORMATO_DATAORA_CSV)
    if isinstance(valore, date):
        return valore.strftime(FORMATO_DATA_CSV)
    return _testo_csv(str(valore))


def _testo_csv(testo: str) -> str:
    return "'" + testo if testo.startswith(_FORMULA_CSV) else testo
