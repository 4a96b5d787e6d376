"""Health check of the app's dependencies."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from asigest.domain.licenza import StatoLicenza

log = logging.getLogger(__name__)


def check(session, erp, *, version: str, licenza: StatoLicenza) -> dict:
    """``{"status", "version", "databases": {...}, "license": {...}}`` as SPEC §7 describes.

    ``status`` is ``degraded`` when either database does not answer; ``licenza`` is the
    state ``services.licenza`` read (the license never degrades the status: it is reported).
    """
    try:
        session.execute(text("SELECT 1"))
        asigest_state = "ok"
    except SQLAlchemyError as exc:
        log.warning("ASI_GEST non raggiungibile: %s", exc)
        asigest_state = "error"
    finally:
        session.rollback()
    erp_state = "ok" if erp.ping() else "unreachable"
    return {
        "status": "ok" if asigest_state == "ok" and erp_state == "ok" else "degraded",
        "version": version,
        "databases": {"asigest": asigest_state, "erp": erp_state},
        "license": licenza.riassunto(),
    }

