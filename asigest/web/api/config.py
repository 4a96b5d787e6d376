"""``/api/config``: how ERP orders are set up for production (SPEC §7, rules R1–R3)."""

from __future__ import annotations

from asigest.domain.ruoli import SUPERVISORE
from asigest.services import configurazione
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas import ConfigSchema
from asigest.web.api.schemas_config import (
    ConfigCreateSchema,
    ConfigListQuery,
    ConfigUpdateSchema,
)


@bp.get("/config/")
@endpoint(
    summary="Configurazioni commesse",
    query=ConfigListQuery(),
    response=ConfigSchema(many=True),
    errors=(422,),
    collegamenti={
        **{
            nome: (vista, {"ConfigID": "$response.body#/0/ConfigID"})
            for nome, vista in (
                ("Configurazione", "config_get"),
                ("Modifica", "config_update"),
                ("Elimina", "config_delete"),
            )
        },
        "Fasi": ("fasi_commessa", {"CommessaERPId": "$response.body#/0/CommessaERPId"}),
        "Commessa": ("commessa_get", {"ID": "$response.body#/0/CommessaERPId"}),
    },
)
def config_list(query):
    """Configs, newest first; ``CommessaERPId`` narrows to one order's."""
    return configurazione.list_configs(deps.session(), **query)


@bp.post("/config/")
@requires(SUPERVISORE)
@endpoint(
    summary="Configura una commessa",
    body=ConfigCreateSchema(),
    response=ConfigSchema(),
    status=201,
    errors={
        400: "R1 rifiuta la configurazione: commessa inesistente nel gestionale (COMMESSA_INESISTENTE) o "
        "non aperta (COMMESSA_NON_APERTA), senza quantità valida (QTA_ERP_ASSENTE, "
        "QTA_ERP_NON_VALIDA), nessuna fase (NESSUNA_FASE), tipo di fase disattivato o assente.",
        403: None,
        409: "Commessa già configurata (CONFIG_ESISTENTE).",
        422: None,
        503: None,
    },
    collegamenti={
        **{
            nome: (vista, {"ConfigID": "$response.body#/ConfigID"})
            for nome, vista in (
                ("Configurazione", "config_get"),
                ("Modifica", "config_update"),
                ("Elimina", "config_delete"),
            )
        },
        "Fasi": ("fasi_commessa", {"CommessaERPId": "$response.body#/CommessaERPId"}),
    },
)
def config_create(body):
    """Configure an open ERP order (R1) and create the fasi of its flags (R2); 409 if already configured."""
    return configurazione.create_config(deps.session(), deps.erp(), actor=deps.actor(), **body)


@bp.get("/config/<int:config_id>")
@endpoint(summary="Una configurazione", response=ConfigSchema(), errors=(404,))
def config_get(config_id: int):
    """One config by ConfigID."""
    return configurazione.get_config(deps.session(), config_id)


@bp.put("/config/<int:config_id>")
@requires(SUPERVISORE)
@endpoint(
    summary="Modifica una configurazione",
    body=ConfigUpdateSchema(),
    response=ConfigSchema(),
    errors={
        400: "R2 rifiuta la modifica: una fase con lotti non si toglie (FASE_CON_LOTTI) né si aggiunge una "
        "fase prima di una con lotti, nessuna fase (NESSUNA_FASE), tipo di fase disattivato o "
        "assente, commessa non più aperta nel gestionale.",
        403: None,
        404: None,
        409: "Modifica concorrente (MODIFICA_CONCORRENTE): rileggere e riprovare.",
        422: None,
        503: None,
    },
)
def config_update(config_id: int, body):
    """Change the fields sent; a flag turned off is refused (400) while its fase has lotti."""
    return configurazione.update_config(deps.session(), deps.erp(), actor=deps.actor(), config_id=config_id, **body)


@bp.delete("/config/<int:config_id>")
@requires(SUPERVISORE)
@endpoint(
    summary="Elimina una configurazione",
    status=204,
    errors={
        400: "R3: una fase ha già lotti (CONFIG_CON_LOTTI); per fermare la produzione si sospende la fase.",
        403: None,
        404: None,
    },
)
def config_delete(config_id: int):
    """Delete a config and its fasi (R3); refused (400) while any fase has lotti."""
    configurazione.delete_config(deps.session(), actor=deps.actor(), config_id=config_id)
    return "", 204
