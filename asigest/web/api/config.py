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
@endpoint(summary="Configurazioni commesse", query=ConfigListQuery(), response=ConfigSchema(many=True), errors=(422,))
def config_list(query):
    """Configs, newest first; ``CommessaERPId`` narrows to one order's."""
    return configurazione.list_configs(deps.session(), **query)


@bp.post("/config/")
@requires(SUPERVISORE)
@endpoint(summary="Configura una commessa", body=ConfigCreateSchema(), response=ConfigSchema(), status=201,
          errors=(400, 403, 409, 422, 503))
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
@endpoint(summary="Modifica una configurazione", body=ConfigUpdateSchema(), response=ConfigSchema(),
          errors=(400, 403, 404, 409, 422, 503))
def config_update(config_id: int, body):
    """Change the fields sent; a flag turned off is refused (400) while its fase has lotti."""
    return configurazione.update_config(deps.session(), deps.erp(), actor=deps.actor(), config_id=config_id, **body)


@bp.delete("/config/<int:config_id>")
@requires(SUPERVISORE)
@endpoint(summary="Elimina una configurazione", status=204, errors=(400, 403, 404))
def config_delete(config_id: int):
    """Delete a config and its fasi (R3); refused (400) while any fase has lotti."""
    configurazione.delete_config(deps.session(), actor=deps.actor(), config_id=config_id)
    return "", 204
