"""Online copy of the SQLite ASI_GEST database (``flask --app wsgi backup PATH``).

The copy is made with SQLite's own backup API (``sqlite3.Connection.backup``) in one
step: every page is read inside one read transaction, so the copy is the database as it
was at one instant — every lotto with its fase totals and its LogEventi row, never half
of an operation — while the application keeps writing (in WAL mode a reader does not
block writers, and writers do not disturb the reader's snapshot). Copying the file with
``cp`` while the app runs is *not* safe: the last commits may still be in ``-wal``.

The copy is written to a temporary file next to the destination, checked with
``PRAGMA integrity_check``, switched to the rollback journal (one self-contained file,
readable without ``-wal``/``-shm``; the app turns WAL back on when it opens it), made
durable with fsync and only then renamed into place: a crash or a full disk leaves the
previous backup untouched and at most a ``.asigest-backup-*.tmp`` file.

Only SQLite: PostgreSQL and SQL Server have their own online backups (``pg_dump``,
``BACKUP DATABASE``), which the refusal message names. The technical documents are files
outside the database (content-addressed, never changed once written): they are copied
with the file system's tools, after the database (README, "Backup e ripristino").
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from asigest.errors import N_, RuleViolation

log = logging.getLogger(__name__)

# How long the copy waits for a lock before giving up (a writer holds SQLite's lock for
# milliseconds; a checkpoint or a schema change a little longer).
ATTESA_LOCK_SECONDI = 30


@dataclass(frozen=True)
class CopiaEseguita:
    """The backup written: where, how big, how long it took."""

    percorso: Path
    dimensione: int
    secondi: float


def percorso_sqlite(database_url: str) -> Path:
    """The file behind a SQLite URL (plain or ``file:…?uri=true``).

    Raises RuleViolation BACKUP_NON_SQLITE for another database (naming its own backup
    tool), BACKUP_SQLITE_IN_MEMORIA for an in-memory database.
    """
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise RuleViolation(
            N_("Indirizzo del database non valido: controllare ASIGEST_DATABASE_URL."), code="BACKUP_URL_NON_VALIDO"
        ) from None
    nome = url.get_backend_name()
    if nome == "postgresql":
        raise RuleViolation(
            N_(
                "Il database ASI_GEST è PostgreSQL: fare la copia con pg_dump (ripristino con pg_restore), "
                "non con questo comando, che copia solo database SQLite."
            ),
            code="BACKUP_NON_SQLITE",
        )
    if nome == "mssql":
        raise RuleViolation(
            N_(
                "Il database ASI_GEST è su SQL Server: usare i backup di SQL Server (BACKUP DATABASE o il piano "
                "di manutenzione del DBA), non questo comando, che copia solo database SQLite."
            ),
            code="BACKUP_NON_SQLITE",
        )
    if nome != "sqlite":
        raise RuleViolation(
            N_("Il database ASI_GEST (%(tipo)s) non è SQLite: usare lo strumento di backup del suo server."),
            code="BACKUP_NON_SQLITE",
            tipo=nome,
        )
    database = url.database or ""
    if database.startswith("file:"):
        database = database[len("file:") :]
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise RuleViolation(
            N_("Il database ASI_GEST è in memoria: non c'è un file da copiare."), code="BACKUP_SQLITE_IN_MEMORIA"
        )
    return Path(database)


def nome_predefinito(adesso: datetime | None = None) -> str:
    """``asigest-AAAAMMGG-HHMMSS.db`` (UTC), the file name used when PATH is a folder."""
    return f"asigest-{(adesso or datetime.now(UTC)):%Y%m%d-%H%M%S}.db"


def copia_database(
    database_url: str, destinazione: str | os.PathLike[str], *, sovrascrivi: bool = False
) -> CopiaEseguita:
    """Write a consistent copy of the SQLite database at ``database_url`` to ``destinazione``.

    When ``destinazione`` is an existing folder the copy gets a dated name inside it (a
    path ending in a separator must be one). An existing file is replaced only with
    ``sovrascrivi``. Safe while the application
    writes. Raises RuleViolation: BACKUP_NON_SQLITE, BACKUP_SQLITE_IN_MEMORIA,
    BACKUP_URL_NON_VALIDO, BACKUP_ORIGINE_ASSENTE, BACKUP_DESTINAZIONE_ESISTENTE,
    BACKUP_CARTELLA_ASSENTE, BACKUP_STESSO_FILE, BACKUP_NON_RIUSCITO (SQLite or the disk
    refused; nothing was replaced).
    """
    origine = percorso_sqlite(database_url)
    if not origine.is_file():
        raise RuleViolation(
            N_("Il database %(percorso)s non esiste: controllare ASIGEST_DATABASE_URL."),
            code="BACKUP_ORIGINE_ASSENTE",
            percorso=str(origine),
        )
    cartella_voluta = isinstance(destinazione, str) and destinazione.endswith(("/", os.sep))
    destinazione = Path(destinazione)
    if destinazione.is_dir():
        destinazione /= nome_predefinito()
    elif cartella_voluta:  # "backup/" names a folder, never a file called "backup"
        raise _cartella_assente(destinazione)
    _controlla_destinazione(origine, destinazione, sovrascrivi)

    inizio = time.perf_counter()
    fd, nome_temporaneo = tempfile.mkstemp(dir=destinazione.parent, prefix=".asigest-backup-", suffix=".tmp")
    os.close(fd)
    copia = Path(nome_temporaneo)
    temporaneo: Path | None = copia  # None once it became the destination
    try:
        _copia(origine, copia)
        _verifica(copia)
        with open(copia, "rb") as handle:
            os.fsync(handle.fileno())
        if destinazione.exists() and not sovrascrivi:  # appeared while we copied
            raise _esiste(destinazione)
        os.replace(copia, destinazione)
        temporaneo = None
        _fsync_cartella(destinazione.parent)
    except sqlite3.Error as exc:
        log.warning("Backup di %s non riuscito: %s", origine, exc)
        raise RuleViolation(
            N_(
                "Copia non riuscita (%(motivo)s): il backup precedente, se c'era, è intatto. Riprovare; "
                "se si ripete, controllare lo spazio su disco e i permessi della cartella."
            ),
            code="BACKUP_NON_RIUSCITO",
            motivo=str(exc),
        ) from None
    except OSError as exc:
        log.warning("Backup di %s non riuscito: %s", origine, exc)
        raise RuleViolation(
            N_(
                "Copia non riuscita (%(motivo)s): il backup precedente, se c'era, è intatto. Controllare lo "
                "spazio su disco e i permessi della cartella, poi riprovare."
            ),
            code="BACKUP_NON_RIUSCITO",
            motivo=exc.strerror or str(exc),
        ) from None
    finally:
        if temporaneo is not None:
            temporaneo.unlink(missing_ok=True)
    return CopiaEseguita(destinazione, destinazione.stat().st_size, time.perf_counter() - inizio)


def _controlla_destinazione(origine: Path, destinazione: Path, sovrascrivi: bool) -> None:
    if not destinazione.parent.is_dir():
        raise _cartella_assente(destinazione.parent)
    if destinazione.exists():
        if destinazione.resolve() == origine.resolve():
            raise RuleViolation(
                N_("La destinazione è il database stesso: indicare un altro file."), code="BACKUP_STESSO_FILE"
            )
        if not sovrascrivi:
            raise _esiste(destinazione)


def _cartella_assente(cartella: Path) -> RuleViolation:
    return RuleViolation(
        N_("La cartella %(cartella)s non esiste: crearla prima, o indicare un'altra destinazione."),
        code="BACKUP_CARTELLA_ASSENTE",
        cartella=str(cartella),
    )


def _esiste(destinazione: Path) -> RuleViolation:
    return RuleViolation(
        N_(
            "Il file %(percorso)s esiste già: indicare un altro nome, una cartella (il nome sarà datato) "
            "oppure aggiungere --overwrite per sostituirlo."
        ),
        code="BACKUP_DESTINAZIONE_ESISTENTE",
        percorso=str(destinazione),
    )


def _copia(origine: Path, temporaneo: Path) -> None:
    # The source is opened read-only: the backup can never write the live database.
    sorgente = sqlite3.connect(f"{origine.resolve().as_uri()}?mode=ro", uri=True, timeout=ATTESA_LOCK_SECONDI)
    try:
        copia = sqlite3.connect(temporaneo, timeout=ATTESA_LOCK_SECONDI)
        try:
            # pages=-1: the whole database in one step, i.e. in one read transaction.
            # (In several steps a write by the app between two steps would restart the
            # copy, which under steady writing might never finish.)
            sorgente.backup(copia, pages=-1)
            copia.execute("PRAGMA journal_mode=DELETE")
        finally:
            copia.close()
    finally:
        sorgente.close()


def _verifica(percorso: Path) -> None:
    conn = sqlite3.connect(percorso)
    try:
        esito = [riga[0] for riga in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if esito != ["ok"]:
        raise sqlite3.DatabaseError("integrity_check: " + "; ".join(map(str, esito[:5])))


def _fsync_cartella(cartella: Path) -> None:
    """Make the rename durable (POSIX; Windows has no directory fsync)."""
    try:
        fd = os.open(cartella, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
