"""What a one-time key (R11) is bound to: the fingerprint of the request it was first used for.

A key belongs to one request — the caller (the key is stored per user), the operation
and its input. The web layer describes the request in plain values (an API call: its
method, path and canonical body; a kiosk form: its operation, machine and lotto or
order) and stores this fingerprint with the key; the same key with another fingerprint
is refused instead of answered with the first request's result. Pure: no Flask, no database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# Length of the stored fingerprint (SHA-256 in hex): RichiesteEseguite.Impronta.
LUNGHEZZA_IMPRONTA = 64


def impronta(*parti: str) -> str:
    """SHA-256 (hex) of the request described by ``parti``, in order.

    Each part is length-prefixed, so no two different lists of parts can be joined into
    the same text (``("a/b", "c")`` and ``("a", "b/c")`` differ).
    """
    digest = hashlib.sha256()
    for parte in parti:
        dati = parte.encode("utf-8")
        digest.update(b"%d:" % len(dati))
        digest.update(dati)
    return digest.hexdigest()


def corpo_canonico(corpo: Mapping[str, object]) -> str:
    """A JSON body written one way only: sorted keys, no spaces, ASCII escapes — two
    bodies with the same values give the same text whatever their order or spacing."""
    return json.dumps(corpo, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
