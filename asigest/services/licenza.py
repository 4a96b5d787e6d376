"""Reading the installed license and issuing new ones (SPEC §10).

The application verifies licenses with the vendor's public key, which is part of the
rules' code (``domain.licenza.chiave_fornitore``; compiled in the release wheel), not a
file that could be swapped. ``LICENSE_PUBLIC_KEY`` (a PEM path) replaces it only in a
test app (``TESTING``): the test suite signs its licenses with throwaway keys. No
environment variable or production setting names another key.

The file is read and verified at every check (it is a few hundred bytes and a
signature check takes microseconds), so every worker process sees a new or renewed
license at once and no cached state can disagree with the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from asigest.domain import licenza as regole
from asigest.domain.licenza import Licenza, LicenzaNonValida, StatoLicenza
from asigest.errors import N_, Conflict, InvalidInput


def _percorso(settings: Mapping[str, object], nome: str) -> str | os.PathLike[str] | None:
    """The file path a setting names (None or empty when unset)."""
    valore = settings.get(nome)
    if valore is None or isinstance(valore, str | os.PathLike):
        return valore
    raise TypeError(f"{nome} deve essere un percorso di file, non {valore!r}")


def percorso_chiave(settings: Mapping[str, object]) -> Path | None:
    """Another public key to verify with: ``LICENSE_PUBLIC_KEY``, in a test app only;
    None (the vendor's, built in) everywhere else."""
    configurata = _percorso(settings, "LICENSE_PUBLIC_KEY")
    return Path(configurata) if configurata and settings.get("TESTING") else None


def leggi_stato(
    file_licenza: str | os.PathLike[str] | None, *, chiave: str | os.PathLike[str] | None = None, oggi: date
) -> StatoLicenza:
    """The state of the license file on ``oggi``, verified with the vendor's built-in
    public key, or with the PEM at ``chiave`` when given (tests, ``license show --public-key``).

    MISSING when no file is configured or the file does not exist; INVALID when it (or
    the key) cannot be read or the signature does not match. Never raises.
    """
    if not file_licenza or not Path(file_licenza).is_file():
        return regole.stato(None, oggi)
    try:
        pubblica = regole.chiave_fornitore() if chiave is None else regole.chiave_pubblica(_leggi(chiave))
        licenza = regole.verifica(_leggi(file_licenza), pubblica)
    except LicenzaNonValida as motivo:
        return regole.stato(None, oggi, motivo=motivo)
    return regole.stato(licenza, oggi)


def stato_corrente(settings: Mapping[str, object], *, oggi: date) -> StatoLicenza:
    """The state of the license the settings name (``LICENSE_FILE``, ``LICENSE_PUBLIC_KEY``)."""
    return leggi_stato(_percorso(settings, "LICENSE_FILE"), chiave=percorso_chiave(settings), oggi=oggi)


def _leggi(percorso: str | os.PathLike[str]) -> bytes:
    try:
        with open(percorso, "rb") as handle:
            return handle.read(64 * 1024 + 1)
    except OSError as exc:
        raise LicenzaNonValida(
            N_("file %(file)s non leggibile (%(errore)s)"),
            file=str(percorso),
            errore=exc.strerror or type(exc).__name__,
        ) from None


# -- vendor side -------------------------------------------------------------------------


def genera_chiavi(cartella: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new vendor key pair into ``cartella``: ``private.pem`` (mode 0600) and ``public.pem``.

    Raises Conflict when either file exists already (a key is never overwritten:
    licenses signed with it would stop verifying).
    """
    cartella = Path(cartella)
    privata, pubblica = cartella / "private.pem", cartella / "public.pem"
    for esistente in (privata, pubblica):
        if esistente.exists():
            raise Conflict(
                N_("%(file)s esiste già: non viene sovrascritto. Scegliere un'altra cartella."),
                code="CHIAVE_ESISTENTE",
                file=str(esistente),
            )
    cartella.mkdir(parents=True, exist_ok=True)
    pem_privata, pem_pubblica = regole.nuova_coppia()
    # O_EXCL: refuse a file that appeared meanwhile; 0600 from the first byte written.
    fd = os.open(privata, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem_privata)
    fd = os.open(pubblica, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem_pubblica)
    return privata, pubblica


def emetti(
    *,
    chiave_privata: str | os.PathLike[str],
    licenziatario: str,
    scadenza: date,
    max_terminali: int,
    funzioni: tuple[str, ...] = (),
    giorni_tolleranza: int = regole.TOLLERANZA_PREDEFINITA,
    id_licenza: str | None = None,
    oggi: date,
    uscita: str | os.PathLike[str],
) -> Licenza:
    """Sign a license with the vendor's private key and write it to ``uscita``.

    Raises InvalidInput (a field or the key is wrong), Conflict (``uscita`` exists).
    """
    try:
        licenza = regole.da_documento(
            Licenza(
                licenziatario=licenziatario,
                scadenza=scadenza,
                max_terminali=max_terminali,
                emessa=oggi,
                funzioni=tuple(funzioni),
                id_licenza=id_licenza,
                giorni_tolleranza=giorni_tolleranza,
            ).documento()
        )
        privata = regole.chiave_privata(_leggi(chiave_privata))
    except LicenzaNonValida as errore:
        raise InvalidInput(message=N_("Licenza non emessa: %(motivo)s."), motivo=errore.text()) from None
    uscita = Path(uscita)
    if uscita.exists():
        raise Conflict(
            N_("%(file)s esiste già: non viene sovrascritto. Scegliere un altro nome."),
            code="LICENZA_ESISTENTE",
            file=str(uscita),
        )
    uscita.write_text(regole.firma(licenza, privata), encoding="utf-8")
    return licenza
