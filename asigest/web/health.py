"""``GET /health``: is the app up, can it reach both databases (SPEC §7)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from asigest import __version__
from asigest.services import health as health_service
from asigest.web import deps
from asigest.web.access import public

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health():
    """Status of the app, its two databases and the license; 503 when ASI_GEST cannot write
    (down, disk full, read-only: ``services.health.check``)."""
    report = health_service.check(deps.session(), deps.erp(), version=__version__, licenza=deps.licenza())
    return jsonify(report), (200 if report["databases"]["asigest"] == "ok" else 503)
