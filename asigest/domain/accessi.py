"""Login throttling: how many wrong passwords or PINs a badge and a client address may
send before they are locked out for a while (pure rules, no database).

Policy (settings ``LOGIN_*``, see ``config.py``): after ``max_badge`` failures for one
badge within ``finestra`` the badge is locked for ``blocco``; after ``max_indirizzo``
failures from one client address within ``finestra`` the address is locked for
``blocco``. A lock starts at the failure that reaches the threshold, so it always lasts
the full ``blocco``. A successful login resets the badge's count (not the address's).
Attempts made while locked are refused without checking the secret and are not counted,
so a lock cannot be stretched indefinitely and the rows kept per badge or address stay few.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

TIPO_PASSWORD = "PASSWORD"
TIPO_PIN = "PIN"
TIPI = (TIPO_PASSWORD, TIPO_PIN)


@dataclass(frozen=True)
class LimitiAccesso:
    max_badge: int = 5
    max_indirizzo: int = 20
    finestra: timedelta = timedelta(minutes=15)
    blocco: timedelta = timedelta(minutes=15)
    conservazione: timedelta = timedelta(days=30)

    @property
    def orizzonte(self) -> timedelta:
        """How far back a failure can still matter: the window plus the lock it can start."""
        return self.finestra + self.blocco


def fine_blocco(fallimenti: list[datetime], massimo: int, limiti: LimitiAccesso) -> datetime | None:
    """When the lock started by these failures ends, or None when they start none.

    ``fallimenti`` are the failure instants (any order) of one badge or one address. A
    lock starts at every failure that is the ``massimo``-th within ``limiti.finestra``
    and lasts ``limiti.blocco``; the latest such end is returned.
    """
    if massimo <= 0 or len(fallimenti) < massimo:
        return None
    tempi = sorted(fallimenti)
    fine = None
    for i in range(massimo - 1, len(tempi)):
        if tempi[i] - tempi[i - massimo + 1] <= limiti.finestra:
            candidato = tempi[i] + limiti.blocco
            fine = candidato if fine is None or candidato > fine else fine
    return fine


def minuti_residui(fine: datetime, adesso: datetime) -> int:
    """Whole minutes left until ``fine`` (at least 1), as people read them."""
    return max(1, math.ceil((fine - adesso).total_seconds() / 60))
