"""Technical documents, the pure rules: which file formats are accepted and how each is
recognised, how an uploader's file name becomes a safe display name, how sizes read.

Nothing here touches Flask, a session or the disk.

Formats are chosen by **extension** and then **confirmed by the first bytes** where the
format has a fixed signature (PDF, PNG, JPEG, ZIP and the Office files that are ZIPs).
The content type the browser declares is ignored: browsers send
``application/octet-stream`` for half of what a plant uses (STEP, Gerber) and whatever
the PC's registry says for the rest. The stored ContentType therefore always comes from
the plant's list, so a file is never served with a type its uploader chose (an HTML
page renamed ``.pdf`` is refused, not served).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

# Extension → content type for the formats a plant exchanges with customers and CAM.
FORMATI_NOTI: dict[str, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "txt": "text/plain",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
    "gbr": "application/vnd.gerber",
    "step": "model/step",
    "stp": "model/step",
    "dxf": "image/vnd.dxf",
}
# The default of the DOCUMENT_EXTENSIONS setting: every known format.
FORMATI_PREDEFINITI: dict[str, str] = dict(FORMATI_NOTI)
GENERICO = "application/octet-stream"

# Formats with a fixed signature: at least one of these must open the file (PDF may
# have a little junk before its header, which readers accept, hence the window).
_FIRME: dict[str, tuple[tuple[bytes, int], ...]] = {
    "pdf": ((b"%PDF-", 1024),),
    "png": ((b"\x89PNG\r\n\x1a\n", 0),),
    "jpg": ((b"\xff\xd8\xff", 0),),
    "jpeg": ((b"\xff\xd8\xff", 0),),
    "zip": ((b"PK\x03\x04", 0), (b"PK\x05\x06", 0)),
    "xlsx": ((b"PK\x03\x04", 0),),
    "docx": ((b"PK\x03\x04", 0),),
}
# How many leading bytes ``contenuto_coerente`` needs to see.
BYTES_FIRMA = 1024 + 8

# Windows refuses these as file names whatever the extension; a download must save.
_RISERVATI = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_VIETATI = re.compile(r'[\\/:*?"<>|]')
_SPAZI = re.compile(r"\s+")
_ESTENSIONE = re.compile(r"^[a-z0-9]{1,16}$")
MAX_NOME_FILE = 200
NOME_VUOTO = "documento"


def formati(valore: str | Mapping[str, str | None] | Iterable[str]) -> dict[str, str]:
    """The DOCUMENT_EXTENSIONS setting as ``{extension: content type}``.

    Accepts a mapping, a list of extensions, or the environment's text form
    ``"pdf,png,pos=text/plain"``; an extension without a type gets the known one, or
    ``application/octet-stream`` (always downloaded, never shown in the browser).
    Raises ValueError for an extension that is not 1–16 letters or digits.
    """
    tipi_per_estensione: Mapping[str, str | None]
    if isinstance(valore, str):
        voci = [v.strip() for v in valore.split(",") if v.strip()]
        tipi_per_estensione = {ext: tipo for ext, _, tipo in (v.partition("=") for v in voci)}
    elif isinstance(valore, Mapping):
        tipi_per_estensione = valore
    else:
        tipi_per_estensione = dict.fromkeys(valore, "")
    risultato = {}
    for ext, tipo in tipi_per_estensione.items():
        ext = ext.strip().lower().lstrip(".")
        if not _ESTENSIONE.match(ext):
            raise ValueError(f"Estensione non valida in DOCUMENT_EXTENSIONS: {ext!r}")
        risultato[ext] = (tipo or "").strip() or FORMATI_NOTI.get(ext, GENERICO)
    return risultato


def tipi(valore: str | Iterable[str | None]) -> tuple[str, ...]:
    """The DOCUMENT_TYPES setting as a tuple of codes (text form: ``"DIBA,ALTRO"``)."""
    codici = valore.split(",") if isinstance(valore, str) else valore
    return tuple(dict.fromkeys(t.strip().upper() for t in codici if t and t.strip()))


def nome_file_sicuro(nome: str | None) -> str:
    """The uploader's file name made safe to show and to offer as a download name.

    Keeps only the last path component (``../../etc/passwd`` → ``passwd``, a Windows
    ``C:\\x\\y.pdf`` → ``y.pdf``), drops control and invisible formatting characters
    (newlines, NUL, right-to-left overrides that disguise an extension), replaces the
    characters Windows forbids in names, trims dots and spaces at the ends, avoids
    Windows device names and keeps at most ``MAX_NOME_FILE`` characters with the
    extension intact. It is never used as a path: files are stored by their SHA-256.
    """
    testo = unicodedata.normalize("NFC", nome or "")
    testo = re.split(r"[\\/]", testo)[-1]
    testo = "".join(
        " " if ch.isspace() else ch for ch in testo if ch.isspace() or not unicodedata.category(ch).startswith("C")
    )
    testo = _VIETATI.sub("_", _SPAZI.sub(" ", testo)).strip(" .")
    if len(testo) > MAX_NOME_FILE:
        radice, punto, ext = testo.rpartition(".")
        if punto and radice and len(ext) <= 16:
            testo = radice[: MAX_NOME_FILE - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            testo = testo[:MAX_NOME_FILE].rstrip(" .")
    radice = testo.partition(".")[0]
    if radice.upper() in _RISERVATI:
        testo = "_" + testo
    return testo or NOME_VUOTO


def estensione(nome: str) -> str:
    """The lower-case extension of a (sanitised) file name; ``""`` when it has none."""
    radice, punto, ext = nome.rpartition(".")
    return ext.lower() if punto and radice else ""


def contenuto_coerente(ext: str, inizio: bytes) -> bool:
    """True when the file's first bytes fit its extension (always True for formats
    without a fixed signature, such as text, CSV, STEP, Gerber)."""
    firme = _FIRME.get(ext)
    if not firme:
        return True
    return any(inizio.find(firma, 0, finestra + len(firma)) != -1 for firma, finestra in firme)


def mostrabile_nel_browser(content_type: str) -> bool:
    """PDF and raster images open in the browser's own viewer (``inline``); everything
    else is downloaded (``attachment``)."""
    return content_type in {"application/pdf", "image/png", "image/jpeg"}


def scala_dimensione(byte: int) -> tuple[float, str]:
    """A size in the largest binary unit that keeps it ≥ 1: ``(1.5, "MB")``."""
    valore, unita = float(byte), "byte"
    for prossima in ("KB", "MB", "GB"):
        if valore < 1024:
            break
        valore, unita = valore / 1024, prossima
    return valore, unita


def dimensione_leggibile(byte: int) -> str:
    """A size as a message shows it: ``512 byte``, ``1.5 KB``, ``50 MB``."""
    valore, unita = scala_dimensione(byte)
    testo = str(int(valore)) if unita == "byte" else f"{valore:.1f}".rstrip("0").rstrip(".")
    return f"{testo} {unita}"
