"""What routes hand to services: the ASI_GEST session and the ERP gateway.

Routes call these instead of touching ``db`` or an engine themselves.
"""

from __future__ import annotations

from dataclasses import replace

from flask import current_app, g, request

from asigest.domain.actor import Actor
from asigest.domain.licenza import StatoLicenza
from asigest.domain.periodo import oggi
from asigest.erp import ErpGateway
from asigest.erp.gateway import ProtezioneErp
from asigest.extensions import db
from asigest.services import licenza as licenza_service
from asigest.services import uow


def session():
    """The request's ASI_GEST session (removed at the end of the request by Flask-SQLAlchemy)."""
    uow.di_una_richiesta(db.session)
    return db.session


def erp() -> ErpGateway:
    """The read-only ERP gateway on the ``erp`` bind, behind the process's ``ProtezioneErp``."""
    return ErpGateway(db.engines["erp"], current_app.config.get("ERP_SCHEMA"), protezione=protezione_erp())


def freschezza_commesse() -> float:
    """How old (seconds) the copy of the ERP's open orders may be when the orders list and
    search read it; 0: they ask the ERP (``services/commesse_aperte.py``)."""
    return float(current_app.config["COMMESSE_APERTE_SECONDS"])


_PROTEZIONE_ERP = "asigest.protezione_erp"


def protezione_erp() -> ProtezioneErp:
    """The app's circuit breaker and bulkhead for the ERP, one per process (made on first
    use: after gunicorn forks its workers). ``setdefault`` keeps one even when two
    threads make it at the same instant."""
    protezione = current_app.extensions.get(_PROTEZIONE_ERP)
    if protezione is None:
        nuova = ProtezioneErp(
            pausa=current_app.config["ERP_PAUSA_SECONDS"], max_attese=current_app.config["ERP_MAX_ATTESE"]
        )
        protezione = current_app.extensions.setdefault(_PROTEZIONE_ERP, nuova)
    return protezione


def licenza() -> StatoLicenza:
    """The license's state today in the plant's zone, read once per request (``g``): the
    services that it limits (opening lotti, machines in service) receive it as a value."""
    if "licenza" not in g:
        g.licenza = licenza_service.stato_corrente(current_app.config, oggi=oggi(current_app.config["TIMEZONE"]))
    return g.licenza


def actor() -> Actor:
    """Who is acting in this request (set by ``access.enforce_access``), with the
    client address as Postazione for the audit log when none is set (kiosks set theirs)."""
    who = g.actor
    return who if who.postazione else replace(who, postazione=postazione())


def postazione() -> str:
    """Where the request comes from, for the audit log: the client address."""
    return (request.remote_addr or "?")[:100]
