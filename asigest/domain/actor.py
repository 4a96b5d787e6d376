"""Who performs an operation: passed explicitly to every service."""

from __future__ import annotations

from dataclasses import dataclass

from asigest.domain.ruoli import ha_ruolo


@dataclass(frozen=True)
class Actor:
    """``sessione_id`` is the login session (Sessioni) the actor acts through; None for
    an API token, the CLI or a test."""

    utente_id: int
    matricola: str
    ruolo: str
    nome: str = ""
    postazione: str | None = None
    sessione_id: int | None = None
    lingua: str = "it"  # Utenti.Lingua: the kiosk's language from this person's login on

    def puo(self, ruolo_minimo: str) -> bool:
        """True when this actor's role is ``ruolo_minimo`` or above."""
        return ha_ruolo(self.ruolo, ruolo_minimo)
