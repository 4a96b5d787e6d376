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
@endpoint(
    summary="Fasi di una commessa",
    response=FaseDisponibileSchema(many=True),
    errors=(404, 503),
    collegamenti={"Stato": ("fase_stato", {"FaseID": "$response.body#/0/FaseID"})},
)
def fasi_commessa(commessa_id: int):
    """The fasi of an order in flow order with QtaDisponibile; [] if it is not configured."""
    return configurazione.fasi_commessa(deps.session(), deps.erp(), commessa_id)


@bp.post("/fasi/")
@requires(SUPERVISORE)
@endpoint(
    summary="Aggiunge una fase",
    body=FaseCreateSchema(),
    response=FaseDisponibileSchema(),
    status=201,
    errors={
        400: "R2 rifiuta la fase: commessa non configurata (CONFIG_ASSENTE), tipo di fase disattivato "
        "(FASE_TIPO_DISATTIVATO), fase prima di una che ha già lotti, commessa non più aperta.",
        403: None,
        409: "La commessa ha già una fase di questo tipo (FASE_ESISTENTE).",
        422: None,
        503: None,
    },
    collegamenti={"Stato": ("fase_stato", {"FaseID": "$response.body#/FaseID"})},
)
def fase_create(body):
    """Add a fase of type ``FaseTipo`` to a configured order (400 if it is not configured, 409 if present)."""
    return configurazione.add_fase(deps.session(), deps.erp(), actor=deps.actor(), **body)
