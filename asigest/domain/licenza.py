"""The license (SPEC §10): the vendor-signed document, its signature, and what it allows today.

A license file is one JSON object::

    {"license": {"format": 1, "license_id": "…", "licensee": "…", "issued": "2026-11-26",
                 "expiry": "2027-12-31", "max_terminals": 20, "features": ["…"], "grace_days": 14},
     "signature": "<base64 of the Ed25519 signature>"}

The signature covers the canonical JSON of the ``license`` object (keys sorted, no
spaces, UTF-8), so re-indenting the file keeps it valid and changing any value breaks it.
``expiry`` is the last day the license is in force; ``grace_days`` (signed, default 14)
more days keep everything working with a warning; from the day after, opening new
lotti is refused while closing, reading and exporting keep working.

The grace period is carried only inside the signed document, never in the customer's
settings: a setting would let anyone lengthen it at will.

MISSING (no file) is demo mode and works. INVALID (unreadable, tampered, signed with
another key) behaves like MISSING, with its own banner: refusing work on an invalid file
would stop a plant because of a damaged file while deleting that file would restart it,
so stopping protects nothing. Only a genuine license, past its grace, refuses new lotti.

No Flask, no database: time comes in as ``oggi``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from asigest.errors import N_, AsigestError, RuleViolation

VALID = "VALID"
EXPIRING = "EXPIRING"
EXPIRED = "EXPIRED"
INVALID = "INVALID"
MISSING = "MISSING"
STATI = (VALID, EXPIRING, EXPIRED, INVALID, MISSING)

FORMATO = 1
GIORNI_PREAVVISO = 30
TOLLERANZA_PREDEFINITA = 14
_MAX_BYTES = 64 * 1024  # a license is a few hundred bytes; anything far bigger is not one


class LicenzaNonValida(AsigestError):
    """The file, its signature or one of its fields cannot be trusted."""

    status = 422
    code = "LICENZA_NON_VALIDA"
    default_message = N_("file di licenza non valido")


@dataclass(frozen=True)
class Licenza:
    """The signed content of a license file."""

    licenziatario: str
    scadenza: date
    max_terminali: int
    emessa: date
    funzioni: tuple[str, ...] = ()
    id_licenza: str | None = None
    giorni_tolleranza: int = TOLLERANZA_PREDEFINITA

    @property
    def fine_tolleranza(self) -> date:
        """The last day of the grace period: new lotti are refused from the day after."""
        return self.scadenza + timedelta(days=self.giorni_tolleranza)

    @property
    def blocco_dal(self) -> date:
        """The first day new lotti are refused."""
        return self.fine_tolleranza + timedelta(days=1)

    def documento(self) -> dict[str, object]:
        """The ``license`` object of the file, as signed."""
        dati: dict[str, object] = {
            "format": FORMATO,
            "licensee": self.licenziatario,
            "issued": self.emessa.isoformat(),
            "expiry": self.scadenza.isoformat(),
            "max_terminals": self.max_terminali,
            "features": list(self.funzioni),
            "grace_days": self.giorni_tolleranza,
        }
        if self.id_licenza:
            dati["license_id"] = self.id_licenza
        return dati


def _data(dati: Mapping[str, object], chiave: str) -> date:
    valore = dati.get(chiave)
    try:
        if not isinstance(valore, str):
            raise TypeError(valore)
        return date.fromisoformat(valore)
    except (TypeError, ValueError):
        raise LicenzaNonValida(N_("il campo %(campo)s deve essere una data AAAA-MM-GG"), campo=chiave) from None


def _intero(dati: Mapping[str, object], chiave: str, *, minimo: int, predefinito: int | None = None) -> int:
    valore = dati.get(chiave, predefinito)
    # bool is an int in Python; true is not a number of terminals.
    if not isinstance(valore, int) or isinstance(valore, bool) or valore < minimo:
        raise LicenzaNonValida(
            N_("il campo %(campo)s deve essere un numero intero non minore di %(minimo)s"), campo=chiave, minimo=minimo
        )
    return valore


def da_documento(dati: object) -> Licenza:
    """Read a ``license`` object (signed or about to be). Raises LicenzaNonValida."""
    if not isinstance(dati, dict):
        raise LicenzaNonValida(N_("il contenuto della licenza non è un oggetto JSON"))
    if dati.get("format", FORMATO) != FORMATO:
        raise LicenzaNonValida(
            N_("formato di licenza %(formato)s sconosciuto: aggiornare ASI-GEST"), formato=dati.get("format")
        )
    licenziatario = dati.get("licensee")
    if not isinstance(licenziatario, str) or not licenziatario.strip():
        raise LicenzaNonValida(N_("manca l'intestatario (licensee)"))
    funzioni = dati.get("features", [])
    if not isinstance(funzioni, list) or not all(isinstance(f, str) and f for f in funzioni):
        raise LicenzaNonValida(N_("il campo features deve essere un elenco di nomi"))
    id_licenza = dati.get("license_id")
    if id_licenza is not None and not isinstance(id_licenza, str):
        raise LicenzaNonValida(N_("il campo license_id deve essere un testo"))
    return Licenza(
        licenziatario=licenziatario.strip(),
        scadenza=_data(dati, "expiry"),
        max_terminali=_intero(dati, "max_terminals", minimo=1),
        emessa=_data(dati, "issued"),
        funzioni=tuple(funzioni),
        id_licenza=id_licenza or None,
        giorni_tolleranza=_intero(dati, "grace_days", minimo=0, predefinito=TOLLERANZA_PREDEFINITA),
    )


# -- signature -------------------------------------------------------------------------


def canonico(documento: Mapping[str, object]) -> bytes:
    """The bytes that are signed: keys sorted, no whitespace, UTF-8."""
    return json.dumps(documento, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def firma(licenza: Licenza, chiave_privata: Ed25519PrivateKey) -> str:
    """The license file's text: the document and its base64 signature (vendor side)."""
    documento = licenza.documento()
    firmata = base64.b64encode(chiave_privata.sign(canonico(documento))).decode("ascii")
    return json.dumps({"license": documento, "signature": firmata}, indent=2, ensure_ascii=False) + "\n"


def verifica(testo: bytes | str, chiave_pubblica: Ed25519PublicKey) -> Licenza:
    """The license in ``testo`` if its signature is the vendor's; raises LicenzaNonValida otherwise.

    The signature is checked before any field is read, so a tampered file is reported
    as tampered whatever it contains.
    """
    if len(testo) > _MAX_BYTES:
        raise LicenzaNonValida(N_("il file è troppo grande per essere una licenza"))
    try:
        contenuto = json.loads(testo)
    except (ValueError, UnicodeDecodeError):
        raise LicenzaNonValida(N_("il file non è JSON leggibile")) from None
    if not isinstance(contenuto, dict) or not isinstance(contenuto.get("license"), dict):
        raise LicenzaNonValida(N_("il file non contiene l'oggetto license"))
    try:
        firmata = base64.b64decode(contenuto.get("signature") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise LicenzaNonValida(N_("la firma non è base64 valido")) from None
    try:
        chiave_pubblica.verify(firmata, canonico(contenuto["license"]))
    except (InvalidSignature, ValueError):
        raise LicenzaNonValida(
            N_("la firma non corrisponde: file modificato dopo l'emissione o firmato da un altro fornitore")
        ) from None
    return da_documento(contenuto["license"])


# The vendor's public key, part of this module's code (compiled in the release wheel: see
# docs/decisioni/2026-12-07-nucleo-compilato.md), not a file beside it that could be
# swapped. It is kept as two halves whose XOR is the key's 32 raw bytes, so the key
# itself appears in no installed file: replacing its bytes in a file finds nothing.
# A new vendor key pair: ``flask --app wsgi license keygen`` prints the two lines to put here.
_CHIAVE_A = "9c9858cce02d83c6078a39cb968b0edacabe78925cf28bdff2ffb85259e399a7"
_CHIAVE_B = "0476c0c8aa6453304c774426c2837d35b7a50187125e283c2457e150446b15d3"


def chiave_fornitore() -> Ed25519PublicKey:
    """The vendor's public key, the only one a running installation verifies licenses with."""
    grezza = bytes(a ^ b for a, b in zip(bytes.fromhex(_CHIAVE_A), bytes.fromhex(_CHIAVE_B), strict=True))
    return Ed25519PublicKey.from_public_bytes(grezza)


def righe_chiave(pem: bytes, maschera: bytes) -> str:
    """The two source lines that embed the public key in ``pem`` (``maschera``: 32 random bytes)."""
    grezza = chiave_pubblica(pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if len(maschera) != len(grezza):
        raise ValueError("la maschera deve essere di 32 byte")
    meta = bytes(a ^ b for a, b in zip(grezza, maschera, strict=True))
    return f'_CHIAVE_A = "{meta.hex()}"\n_CHIAVE_B = "{maschera.hex()}"\n'


def chiave_pubblica(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its PEM text. Raises LicenzaNonValida."""
    try:
        chiave = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise LicenzaNonValida(N_("la chiave pubblica del fornitore non è un PEM leggibile")) from None
    if not isinstance(chiave, Ed25519PublicKey):
        raise LicenzaNonValida(N_("la chiave pubblica del fornitore non è una chiave Ed25519"))
    return chiave


def chiave_privata(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from its (unencrypted) PEM text. Raises LicenzaNonValida."""
    try:
        chiave = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise LicenzaNonValida(N_("la chiave privata non è un PEM leggibile (senza password)")) from None
    if not isinstance(chiave, Ed25519PrivateKey):
        raise LicenzaNonValida(N_("la chiave privata non è una chiave Ed25519"))
    return chiave


def nuova_coppia() -> tuple[bytes, bytes]:
    """A new vendor key pair as (private PEM, public PEM)."""
    privata = Ed25519PrivateKey.generate()
    return (
        privata.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        privata.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


# -- state -----------------------------------------------------------------------------


def _giorno(d: date) -> str:
    return d.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class StatoLicenza:
    """What the license allows on ``oggi``. ``licenza`` is set only when it is genuine."""

    stato: str
    oggi: date
    licenza: Licenza | None = None
    motivo: LicenzaNonValida | None = None  # why INVALID

    @property
    def licenziatario(self) -> str | None:
        return self.licenza.licenziatario if self.licenza else None

    @property
    def scadenza(self) -> date | None:
        return self.licenza.scadenza if self.licenza else None

    @property
    def giorni_rimasti(self) -> int | None:
        """Days until expiry (0 on the last day, negative once expired)."""
        return (self.licenza.scadenza - self.oggi).days if self.licenza else None

    @property
    def fine_tolleranza(self) -> date | None:
        return self.licenza.fine_tolleranza if self.licenza else None

    @property
    def blocco_dal(self) -> date | None:
        """The first day new lotti are refused."""
        return self.licenza.blocco_dal if self.licenza else None

    @property
    def oltre_tolleranza(self) -> bool:
        return self.licenza is not None and self.oggi > self.licenza.fine_tolleranza

    @property
    def apertura_consentita(self) -> bool:
        """Can a new lotto be opened? Refused only past a genuine license's grace period."""
        return not self.oltre_tolleranza

    @property
    def max_terminali(self) -> int | None:
        """Active machines (kiosk terminals) allowed; None (no limit) in demo mode and when INVALID."""
        return self.licenza.max_terminali if self.licenza else None

    @property
    def funzioni(self) -> tuple[str, ...]:
        return self.licenza.funzioni if self.licenza else ()

    def riassunto(self) -> dict[str, str | None]:
        """The ``license`` object of ``/health`` (SPEC §7)."""
        return {
            "status": self.stato,
            "licensee": self.licenziatario,
            "expiry": self.scadenza.isoformat() if self.scadenza else None,
        }

    def messaggio(self) -> tuple[str, dict[str, str | int | None]]:
        """The Italian message (a msgid) and its parameters, for the banner and ``license show``."""
        lic = self.licenza
        if self.stato == MISSING:
            return N_(
                "Nessuna licenza installata: modalità dimostrativa. Per l'uso in produzione installare il "
                "file di licenza ricevuto dal fornitore (impostazione ASIGEST_LICENSE_FILE)."
            ), {}
        if self.stato == INVALID:
            return N_(
                "Licenza non valida (%(motivo)s). ASI-GEST funziona come in modalità dimostrativa: "
                "avvisare l'amministratore, che deve reinstallare il file ricevuto dal fornitore."
            ), {"motivo": self.motivo.message if self.motivo else ""}
        assert lic is not None, "VALID, EXPIRING and EXPIRED states carry their license"
        parametri = {
            "licenziatario": lic.licenziatario,
            "scadenza": _giorno(lic.scadenza),
            "giorni": self.giorni_rimasti,
            "blocco": _giorno(lic.blocco_dal),
        }
        if self.stato == VALID:
            return N_("Licenza valida, intestata a %(licenziatario)s, fino al %(scadenza)s."), parametri
        if self.stato == EXPIRING:
            return N_(
                "La licenza scade il %(scadenza)s (giorni rimasti: %(giorni)s): chiedere il rinnovo al fornitore."
            ), parametri
        if not self.oltre_tolleranza:
            return N_(
                "Licenza scaduta il %(scadenza)s: dal %(blocco)s non sarà più possibile aprire nuovi lotti. "
                "Chiedere subito il rinnovo al fornitore."
            ), parametri
        return MESSAGGIO_BLOCCO, parametri

    def testo(self, translate: Callable[[str], str] = lambda s: s) -> str:
        """The message translated by ``translate`` (the reason of an INVALID one too)."""
        messaggio, parametri = self.messaggio()
        if self.stato == INVALID and self.motivo is not None:
            parametri = {**parametri, "motivo": self.motivo.text(translate)}
        return translate(messaggio) % parametri if parametri else translate(messaggio)


MESSAGGIO_BLOCCO = N_(
    "Licenza scaduta il %(scadenza)s: non è possibile aprire nuovi lotti. Chiudere i lotti aperti, "
    "consultare ed esportare i dati è ancora possibile. Contattare l'amministratore per rinnovare la licenza."
)


def stato(licenza: Licenza | None, oggi: date, *, motivo: LicenzaNonValida | None = None) -> StatoLicenza:
    """The state of a verified license (or of none, or of one refused for ``motivo``) on ``oggi``."""
    if motivo is not None:
        return StatoLicenza(INVALID, oggi, motivo=motivo)
    if licenza is None:
        return StatoLicenza(MISSING, oggi)
    giorni = (licenza.scadenza - oggi).days
    if giorni < 0:
        nome = EXPIRED
    elif giorni <= GIORNI_PREAVVISO:
        nome = EXPIRING
    else:
        nome = VALID
    return StatoLicenza(nome, oggi, licenza=licenza)


def richiedi_apertura(stato_licenza: StatoLicenza | None) -> None:
    """Refuse a new lotto past a genuine license's grace period (closing is never refused).

    ``None`` means the caller holds no license context (demo builder, scripts): allowed.
    Raises RuleViolation LICENZA_SCADUTA.
    """
    if stato_licenza is not None and not stato_licenza.apertura_consentita:
        raise RuleViolation(MESSAGGIO_BLOCCO, code="LICENZA_SCADUTA", **stato_licenza.messaggio()[1])


def richiedi_terminale_libero(stato_licenza: StatoLicenza | None, attive: int) -> None:
    """Refuse putting one more machine in service when ``attive`` already fill the licensed terminals.

    Raises RuleViolation TERMINALI_ESAURITI.
    """
    massimo = stato_licenza.max_terminali if stato_licenza is not None else None
    if massimo is not None and attive >= massimo:
        raise RuleViolation(
            N_(
                "La licenza permette %(massimo)s terminali (macchine attive) e ne sono già attivi %(attive)s: "
                "disattivare una macchina non più usata o chiedere al fornitore una licenza con più terminali."
            ),
            code="TERMINALI_ESAURITI",
            massimo=massimo,
            attive=attive,
        )
