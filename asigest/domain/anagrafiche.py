"""Master-data rules with no database: how codes, names and secrets must look.

Services collect field errors with ``CampiErrati`` and raise them all at once, so a form
shows every wrong field in one round.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from asigest.errors import N_, InvalidInput

# Machine and scrap-reason codes end up in addresses (``/kiosk/SMD-L1``) and on labels:
# uppercase letters, digits and . _ - only.
_CODICE = re.compile(r"[A-Z0-9][A-Z0-9._-]*")
# A phase type's code is also part of CodiceLotto (``2026-1234-SMD-003``, split on "-")
# and of the lotti API path (``/api/lotti/smd/``): no dash, no dot.
_CODICE_FASE = re.compile(r"[A-Z][A-Z0-9_]*")

# One msgid per length, so translations never need a filled-in number.
TROPPO_LUNGO = {
    20: N_("Al massimo 20 caratteri."),
    30: N_("Al massimo 30 caratteri."),
    50: N_("Al massimo 50 caratteri."),
    60: N_("Al massimo 60 caratteri."),
    100: N_("Al massimo 100 caratteri."),
    200: N_("Al massimo 200 caratteri."),
}

PIN_MIN, PIN_MAX = 4, 8
PASSWORD_MIN = 8
PASSWORD_MAX = 200

# The languages a user can have the kiosk in (Utenti.Lingua, held by a CHECK too).
LINGUE = ("it", "en")
LINGUA_PREDEFINITA = "it"


T = TypeVar("T")


class CampiErrati(dict[str, list[str]]):
    """``{field: [message, ...]}`` gathered while checking a request."""

    def add(self, campo: str, messaggio: str) -> None:
        self.setdefault(campo, []).append(messaggio)

    def raise_if_any(self) -> None:
        """Raise InvalidInput (HTTP 422) with every collected message, if there is one."""
        if self:
            raise InvalidInput(dict(self))

    def valido(self, valore: T | None) -> T:
        """A value a checker returned, once ``raise_if_any`` has passed. A checker returns
        None only after recording an error, so None here is a bug, not bad input."""
        if valore is None:
            raise AssertionError("valore controllato mancante senza un errore registrato")
        return valore


def testo(errori: CampiErrati, campo: str, valore: str | None, *, massimo: int, vuoto: str | None) -> str | None:
    """``valore`` trimmed; records an error when it is too long, or empty and ``vuoto`` (the
    message for a missing value) is given. Returns None for an optional empty value."""
    pulito = (valore or "").strip()
    if not pulito:
        if vuoto:
            errori.add(campo, vuoto)
        return None
    if len(pulito) > massimo:
        errori.add(campo, TROPPO_LUNGO[massimo])
    return pulito


def codice(errori: CampiErrati, campo: str, valore: str | None, *, massimo: int, fase: bool = False) -> str | None:
    """A master-data code, trimmed and uppercased; records an error when missing or malformed."""
    pulito = (valore or "").strip().upper()
    if not pulito:
        errori.add(campo, N_("Indicare il codice."))
        return None
    if len(pulito) > massimo:
        errori.add(campo, TROPPO_LUNGO[massimo])
    elif fase and not _CODICE_FASE.fullmatch(pulito):
        errori.add(campo, N_("Usare solo lettere, cifre e _ (iniziando con una lettera), senza spazi né trattini."))
    elif not fase and not _CODICE.fullmatch(pulito):
        errori.add(campo, N_("Usare solo lettere, cifre e i segni . _ - senza spazi."))
    return pulito


def pin_valido(pin: str) -> bool:
    """A PIN is 4 to 8 digits (typed on the kiosk's numeric keypad)."""
    return pin.isascii() and pin.isdigit() and PIN_MIN <= len(pin) <= PIN_MAX


def password_valida(password: str) -> bool:
    """A password has at least 8 characters (and a sane upper bound for hashing)."""
    return PASSWORD_MIN <= len(password) <= PASSWORD_MAX


def controlla_pin(errori: CampiErrati, pin: str | None, campo: str = "pin") -> None:
    if pin is not None and not pin_valido(pin):
        errori.add(campo, N_("Il PIN deve avere da 4 a 8 cifre."))


def controlla_password(errori: CampiErrati, password: str | None, campo: str = "password") -> None:
    if password is None:
        return
    if len(password) < PASSWORD_MIN:
        errori.add(campo, N_("La password deve avere almeno 8 caratteri."))
    elif len(password) > PASSWORD_MAX:
        errori.add(campo, TROPPO_LUNGO[200])


def controlla_lingua(errori: CampiErrati, lingua: str | None, campo: str = "lingua") -> None:
    """Record an error when ``lingua`` is given and is not one of ``LINGUE``."""
    if lingua is not None and lingua not in LINGUE:
        errori.add(campo, N_("Lingua non valida: usare it (italiano) o en (inglese)."))


def differenze(prima: Mapping[str, object], dopo: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """The keys whose value changed, as (before, after) dicts for the audit log."""
    cambiati = [k for k in dopo if prima.get(k) != dopo[k]]
    return {k: prima.get(k) for k in cambiati}, {k: dopo[k] for k in cambiati}
