"""Roles and what each may do: the one definition the access checks use."""

OPERATORE = "OPERATORE"
SUPERVISORE = "SUPERVISORE"
ADMIN = "ADMIN"

RUOLI = (OPERATORE, SUPERVISORE, ADMIN)

# Each role can do everything the roles before it can.
_RANK = {OPERATORE: 1, SUPERVISORE: 2, ADMIN: 3}


def ha_ruolo(ruolo_utente: str, ruolo_minimo: str) -> bool:
    """True when ``ruolo_utente`` is ``ruolo_minimo`` or above it (ADMIN > SUPERVISORE > OPERATORE)."""
    return _RANK.get(ruolo_utente, 0) >= _RANK[ruolo_minimo]
