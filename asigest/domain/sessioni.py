"""Login sessions that the server can end (pure rules, no database).

A browser's session is a row in ``Sessioni`` (``models/sessioni.py``) plus a random
secret in the signed cookie; the row holds only the secret's SHA-256. A request is
authenticated only while its row is open, so ending the row ends the session on every
worker and server at once, whatever copies of the cookie exist.

Why a session ends (``MotivoFine``):

- ``LOGOUT``: *Esci* in the office; ``ESCI``: *Esci* at the kiosk;
- ``INATTIVITA``: a kiosk request found the session idle longer than the setting;
- ``NUOVO_ACCESSO``: the same browser logged in again (the new login replaces it);
- ``PASSWORD``, ``PIN``, ``DISATTIVATO``: the user's password or PIN was changed, or the
  user deactivated — every open session of that user ends.
"""

from __future__ import annotations

UFFICIO = "UFFICIO"
KIOSK = "KIOSK"
TIPI = (UFFICIO, KIOSK)

LOGOUT = "LOGOUT"
ESCI = "ESCI"
INATTIVITA = "INATTIVITA"
NUOVO_ACCESSO = "NUOVO_ACCESSO"
PASSWORD = "PASSWORD"
PIN = "PIN"
DISATTIVATO = "DISATTIVATO"
MOTIVI_FINE = (LOGOUT, ESCI, INATTIVITA, NUOVO_ACCESSO, PASSWORD, PIN, DISATTIVATO)


def inattiva(ultimo: int, adesso: int, limite_secondi: int) -> bool:
    """True when a kiosk session last used at ``ultimo`` (Unix seconds) has been idle
    longer than ``limite_secondi`` at ``adesso``."""
    return adesso - ultimo > limite_secondi
