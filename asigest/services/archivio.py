"""Content-addressed storage of document bytes under ``DOCUMENTS_DIR``.

A file lives at ``<root>/ab/cd/abcd…`` where ``abcd…`` is the SHA-256 of its bytes, so:

- its path comes only from its content: the uploader's file name never reaches the
  disk, and no input can point outside the root;
- the same bytes uploaded twice are stored once;
- a stored file never changes (other bytes are another path), so it can be cached and
  its name doubles as its ETag.

Writing streams the upload in chunks through the hash into a temporary file in the root
(same file system as the final place), fsyncs it and renames it into place: readers and
crashes see the whole file or nothing. A crash can leave only a ``.caricamento-*.tmp``
file in the root or a file no row uses, never a half-written document.

Removing is the delicate part, because several rows may share one file and an upload of
the same bytes may be committing while the last other row is deleted. ``rimuovi`` moves
the file aside, asks the caller whether a row still uses it, and puts it back if so;
the upload, after its commit, checks that the file is still there and writes it again
if not (``services.documenti``). Whatever the interleaving, a committed row keeps its
file: the upload's check comes after its commit, the delete's question after the move.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LimiteSuperato(Exception):
    """The stream is longer than the allowed size; nothing was kept."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        super().__init__(f"più di {max_bytes} byte")


@dataclass(frozen=True)
class FileArchiviato:
    sha256: str
    dimensione: int
    nuovo: bool  # True when this write created the file (the bytes were not stored yet)


class Archivio:
    """The documents folder. Created on first write; nothing happens at construction."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def percorso(self, sha256: str) -> Path:
        """Where the bytes with this hash live. Raises ValueError for anything but 64 hex digits."""
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise ValueError("Sha256 non valido")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def esiste(self, sha256: str) -> bool:
        return self.percorso(sha256).is_file()

    def salva(self, stream: IO[bytes], *, max_bytes: int | None = None) -> FileArchiviato:
        """Store what ``stream`` yields from its current position, hashing as it goes.

        Never holds more than one chunk in memory. Raises LimiteSuperato (leaving no
        file behind) once more than ``max_bytes`` have been read.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd, nome_temporaneo = tempfile.mkstemp(dir=self.root, prefix=".caricamento-", suffix=".tmp")
        temporaneo: str | None = nome_temporaneo  # None once it became the stored file
        try:
            digest = hashlib.sha256()
            dimensione = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    dimensione += len(chunk)
                    if max_bytes is not None and dimensione > max_bytes:
                        raise LimiteSuperato(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            destinazione = self.percorso(sha256)
            if destinazione.is_file() and destinazione.stat().st_size == dimensione:
                return FileArchiviato(sha256, dimensione, nuovo=False)
            destinazione.parent.mkdir(parents=True, exist_ok=True)
            os.replace(nome_temporaneo, destinazione)
            temporaneo = None
            for cartella in (destinazione.parent, destinazione.parent.parent, self.root):
                _fsync_dir(cartella)
            return FileArchiviato(sha256, dimensione, nuovo=True)
        finally:
            if temporaneo is not None:
                Path(temporaneo).unlink(missing_ok=True)

    def rimuovi(self, sha256: str, *, ancora_usato: Callable[[], bool]) -> bool:
        """Delete the file unless ``ancora_usato()`` — asked after the file is moved
        aside — says a row still needs it, in which case it is put back.

        Returns True when the file was deleted. Never raises for the file system: a
        file that cannot be removed stays (logged) and only costs disk space.
        """
        percorso = self.percorso(sha256)
        da_eliminare = percorso.with_name(f".{sha256}.{uuid.uuid4().hex}.eliminando")
        try:
            os.replace(percorso, da_eliminare)
        except FileNotFoundError:
            return False
        except OSError:
            log.warning("Documento %s non rimosso dall'archivio (in uso?)", sha256, exc_info=True)
            return False
        try:
            serve = ancora_usato()
        except Exception:
            log.exception("Verifica dei riferimenti a %s non riuscita: il file resta", sha256)
            serve = True
        try:
            if serve:
                os.replace(da_eliminare, percorso)  # same bytes as any concurrent rewrite
                return False
            da_eliminare.unlink()
        except OSError:
            log.warning("Documento %s: file di servizio %s rimasto nell'archivio", sha256, da_eliminare, exc_info=True)
            return False
        return True


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry durable (POSIX; Windows has no directory fsync)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
