"""``/api/avanzamento/``: the progress of the configured orders open in the ERP (SPEC §6–7)."""

from __future__ import annotations

from flask import current_app

from asigest.domain.periodo import oggi
from asigest.services import avanzamento
from asigest.web import deps
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_avanzamento import AvanzamentoQuery, CommessaAvanzamentoSchema


@bp.get("/avanzamento/")
@endpoint(
    summary="Avanzamento delle commesse",
    query=AvanzamentoQuery(),
    response=CommessaAvanzamentoSchema(many=True),
    errors=(422, 503),
)
def avanzamento_list(query):
    """Configured orders open in the ERP, DATACONSEGNA ascending (none last) then ID, each with
    ``InRitardo``, ``ARischio`` and its ``Fasi`` in flow order with QtaDisponibile."""
    pagina = avanzamento.avanzamento_commesse(
        deps.session(),
        deps.erp(),
        oggi=oggi(current_app.config["TIMEZONE"]),
        limit=query["limit"],
        offset=query["offset"],
        con_disponibile=True,
    )
    return pagina.items
