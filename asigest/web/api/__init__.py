"""The JSON API under ``/api`` (SPEC §7). Bearer tokens only, so no CSRF (no cookies)."""

from flask import Blueprint

from asigest.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)

from asigest.web.api import (  # noqa: E402,F401  (routes register on bp)
    anagrafiche,
    avanzamento,
    commesse,
    config,
    dashboard,
    documenti,
    fasi,
    fermi,
    lotti,
    openapi,
    rettifiche,
    tracciabilita,
)
