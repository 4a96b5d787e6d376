"""What routes hand to services: the ASI_GEST session and the ERP gateway.

Routes call these instead of touching ``db`` or an engine themselves.
"""

from __future__ import annotations

from dataclasses import replace

from flask import current_app, g, request

from asigest.domain.actor import Actor
from asigest.erp import ErpGateway
from asigest.extensions import db


def session():
    """The request's ASI_GEST session (removed at the end of the request by Flask-SQLAlchemy)."""
    return db.session


def erp() -> ErpGateway:
    """The read-only ERP gateway on the ``erp`` bind."""
    return ErpGateway(db.engines["erp"], current_app.config.get("ERP_SCHEMA"))


def actor() -> Actor:
    """Who is acting in this request (set by ``access.enforce_access``), with the
    client address as Postazione for the audit log when none is set (kiosks set theirs)."""
    who = g.actor
    return who if who.postazione else replace(who, postazione=postazione())


def postazione() -> str:
    """Where the request comes from, for the audit log: the client address."""
    return (request.remote_addr or "?")[:100]
