"""``GET /api/tracciabilita/{CodiceLotto}``: a lotto's genealogy (SPEC §12, R14)."""

from __future__ import annotations

from asigest.services import tracciabilita
from asigest.web import deps
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_tracciabilita import NodoTracciaSchema, TracciaQuery


@bp.get("/tracciabilita/<codice_lotto:codice_lotto>")
@endpoint(
    summary="Tracciabilità di un lotto",
    query=TracciaQuery(),
    response=NodoTracciaSchema(),
    errors={404: "Nessun lotto con questo CodiceLotto.", 422: None, 503: None},
)
def traccia(codice_lotto: str, query):
    """The lotto with its documents and corrections, and its sources (indietro) or the lotti it fed (avanti)."""
    return tracciabilita.traccia(deps.session(), deps.erp(), codice_lotto, **query)
