"""``/api/commesse``: the ERP's open orders, search, and one order with its set-up."""

from __future__ import annotations

from asigest.services import commesse as commesse_service
from asigest.services.configurazione import con_disponibile
from asigest.web import deps
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas import CommessaDettaglioSchema, CommessaSchema, CommesseQuery, SearchQuery


@bp.get("/commesse/")
@endpoint(
    summary="Commesse aperte",
    query=CommesseQuery(),
    response=CommessaSchema(many=True),
    errors=(422, 503),
    collegamenti={
        "Commessa": ("commessa_get", {"ID": "$response.body#/0/ID"}),
        "Fasi": ("fasi_commessa", {"CommessaERPId": "$response.body#/0/ID"}),
    },
)
def commesse_list(query):
    """Open ERP orders (STATOCOMMESSA = 'O'), newest first, with ``Configurata``."""
    pagina = commesse_service.list_commesse(deps.session(), deps.erp(), freschezza=deps.freschezza_commesse(), **query)
    return pagina.items


@bp.get("/commesse/search")
@endpoint(
    summary="Cerca commesse",
    query=SearchQuery(),
    response=CommessaSchema(many=True),
    errors=(422, 503),
    collegamenti={
        "Commessa": ("commessa_get", {"ID": "$response.body#/0/ID"}),
        "Fasi": ("fasi_commessa", {"CommessaERPId": "$response.body#/0/ID"}),
    },
)
def commesse_search(query):
    """Open orders matching ``q``: NUMEROCOM, ``2026/1234``, RIFCOMMCLI, CODART, DESART, NOMECLIENTE."""
    pagina = commesse_service.list_commesse(deps.session(), deps.erp(), freschezza=deps.freschezza_commesse(), **query)
    return pagina.items


@bp.get("/commesse/<int:commessa_id>")
@endpoint(summary="Una commessa", response=CommessaDettaglioSchema(), errors=(404, 503))
def commessa_get(commessa_id: int):
    """One ERP order in any state, with ``Config`` (or null) and its ``Fasi`` (with QtaDisponibile, R5)."""
    session = deps.session()
    dettaglio = commesse_service.get_commessa(session, deps.erp(), commessa_id)
    return commesse_service.CommessaDettaglio(
        dettaglio.commessa, dettaglio.config, con_disponibile(session, dettaglio.fasi), dettaglio.scostamento
    )
