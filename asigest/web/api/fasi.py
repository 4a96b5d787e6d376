"""``/api/fasi``: the phases of an order with their available quantity (SPEC §7, R5)."""

from __future__ import annotations

from asigest.domain.ruoli import SUPERVISORE
from asigest.services import configurazione
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_config import FaseCreateSchema, FaseDisponibileSchema


@bp.get("/fasi/commessa/<int:commessa_id>")
@endpoint(summary="Fasi di una commessa", response=FaseDisponibileSchema(many=True), errors=(404, 503))
def fasi_commessa(commessa_id: int):
    """The fasi of an order in flow order with QtaDisponibile; [] if it is not configured."""
    return configurazione.fasi_commessa(deps.session(), deps.erp(), commessa_id)


@bp.post("/fasi/")
@requires(SUPERVISORE)
@endpoint(summary="Aggiunge una fase", body=FaseCreateSchema(), response=FaseDisponibileSchema(), status=201,
          errors=(400, 403, 409, 422, 503))
def fase_create(body):
    """Add a fase of type ``FaseTipo`` to a configured order (400 if it is not configured, 409 if present)."""
    return configurazione.add_fase(deps.session(), deps.erp(), actor=deps.actor(), **body)
