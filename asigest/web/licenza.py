"""The license banner on every page (SPEC §10): a context processor hands templates a
function, so the license is read only by pages that show the banner, not by fragments."""

from __future__ import annotations

from flask_babel import gettext

from asigest.domain import licenza as regole
from asigest.web import deps

_LIVELLO = {regole.MISSING: "info", regole.EXPIRING: "warn", regole.INVALID: "err"}


def avviso() -> dict | None:
    """``{"stato", "livello", "testo"}`` for the banner, or None when the license is VALID."""
    stato = deps.licenza()
    if stato.stato == regole.VALID:
        return None
    livello = _LIVELLO.get(stato.stato) or ("err" if stato.oltre_tolleranza else "warn")
    return {"stato": stato.stato, "livello": livello, "testo": stato.testo(gettext)}


def init_app(app) -> None:
    @app.context_processor
    def _avviso_licenza():
        return {"avviso_licenza": avviso}
