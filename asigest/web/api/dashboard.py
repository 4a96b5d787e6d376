"""``/api/dashboard/kpi``: the KPIs of SPEC §6 (definitions in ``asigest/services/kpi.py``)."""

from __future__ import annotations

from flask import current_app

from asigest.domain.periodo import Periodo
from asigest.models.types import utcnow
from asigest.services.kpi import calcola_kpi
from asigest.web import deps
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_dashboard import KpiQuery, KpiSchema


@bp.get("/dashboard/kpi")
@endpoint(summary="KPI della dashboard", query=KpiQuery(), response=KpiSchema(), errors=(422,))
def dashboard_kpi(query):
    """The KPIs of the lotti closed from ``da`` to ``a`` (local days, both included, at most
    366), or of the current ISO week without dates; any logged-in role may read them."""
    config = current_app.config
    kpi = calcola_kpi(
        deps.session(),
        Periodo(query["da"], query["a"]),
        adesso=utcnow(),
        zona=config["TIMEZONE"],
        ore_dimenticato=float(config["FORGOTTEN_HOURS"]),
    )
    return kpi.as_api()
