"""The JSON API under ``/api`` (SPEC §7). Bearer tokens only, so no CSRF (no cookies)."""

from flask import Blueprint

from asigest.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)

from asigest.web.api import anagrafiche, commesse, config, documenti, fasi, lotti, openapi, rettifiche  # noqa: E402,F401  (routes register on bp)
from asigest.web.api import avanzamento  # noqa: E402,F401
from asigest.web.api import dashboard  # noqa: E402,F401  (KPIs, issue 6)
