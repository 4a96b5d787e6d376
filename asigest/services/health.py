"""Health check of the app's dependencies."""

from __future__ import annotations

import logging
from typing import TypedDict

from asigest import dialects
from asigest.domain.licenza import StatoLicenza
from asigest.erp import ErpGateway
from asigest.services.uow import DbSession

log = logging.getLogger(__name__)


class Databases(TypedDict):
    asigest: str  # "ok" or "error"
    erp: str  # "ok" or "unreachable"


class Salute(TypedDict):
    """The ``/health`` answer (SPEC §7)."""

    status: str  # "ok" or "degraded"
    version: str
    databases: Databases
    license: dict[str, str | None]


def check(session: DbSession, erp: ErpGateway, *, version: str, licenza: StatoLicenza) -> Salute:
    """``{"status", "version", "databases": {...}, "license": {...}}`` as SPEC §7 describes.

    ``databases.asigest`` is ``error`` when ASI_GEST cannot *write*, not only when it does
    not answer: a disk-full or read-only database still answers reads, while every open,
    close and login fails. ``dialects.sonda_scrittura`` writes one row and rolls it back
    (nothing is left behind; its docstring says what each database can show that way).
    ``erp`` is ``unreachable`` when the ERP gateway's ping fails — at once while its
    circuit breaker is open or its waiting places are taken, so this answer never waits
    on a locked ERP longer than one ERP call (``erp.gateway.ProtezioneErp``).
    ``status`` is ``degraded`` when either is not ``ok``; ``licenza`` is the state
    ``services.licenza`` read (the license never degrades the status: it is reported).
    """
    session.rollback()  # the probe uses a connection of its own; hold no other meanwhile
    motivo = dialects.sonda_scrittura(session.get_bind().engine)
    if motivo is None:
        asigest_state = "ok"
    else:
        log.warning("ASI_GEST non può scrivere: %s", motivo)
        asigest_state = "error"
    erp_state = "ok" if erp.ping() else "unreachable"
    return {
        "status": "ok" if asigest_state == "ok" and erp_state == "ok" else "degraded",
        "version": version,
        "databases": {"asigest": asigest_state, "erp": erp_state},
        "license": licenza.riassunto(),
    }
