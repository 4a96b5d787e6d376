"""``/tracciabilita``: a lotto's genealogy on screen (SPEC §12) — a scan field, the tree
of the lotti it came from and the lotti it went into. Read-only, for every office login.

The code is in the query string (``?codice=…``), so a trace is a link people can share
and the lotto page can point at. An unknown code or an unreachable ERP is said on the
page, next to the field that keeps what was typed.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext

from asigest.errors import ErpUnavailable, NotFound
from asigest.services import tracciabilita
from asigest.web import deps

bp = Blueprint("tracciabilita", __name__)

_MAX_CODICE = 40


@bp.get("/tracciabilita")
def pagina():
    """The scan field and, for a code, the backward tree and the forward one."""
    codice = (request.args.get("codice") or "").strip()[:_MAX_CODICE]
    indietro = avanti = errore = None
    if codice:
        try:
            indietro = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.INDIETRO)
            avanti = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.AVANTI)
        except (NotFound, ErpUnavailable) as exc:
            errore = exc.text(gettext)
    return render_template("tracciabilita/pagina.html", codice=codice, indietro=indietro, avanti=avanti, errore=errore)
