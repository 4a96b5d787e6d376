"""Supervisor pages: the ERP orders list and the order card."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from asigest.services import commesse as commesse_service
from asigest.web import deps
from asigest.web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    """The start page for people who are logged in: the orders list."""
    return redirect(url_for("pages.commesse"))


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    """A page's numeric query argument; out-of-range or garbage falls back to a sane value."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(minimum, min(value, maximum))


@bp.get("/commesse")
def commesse():
    """Open ERP orders with live search; htmx requests get just the results fragment."""
    q = (request.args.get("q") or "").strip()[:100]
    limit = current_app.config["PAGE_SIZE"]
    offset = _int_arg("offset", 0, 0, 10_000_000)
    pagina = commesse_service.list_commesse(deps.session(), deps.erp(), q=q or None, limit=limit, offset=offset)
    template = "commesse/_risultati.html" if is_htmx() else "commesse/lista.html"
    return vary_on_htmx(current_app.make_response(render_template(template, pagina=pagina, q=q)))


@bp.get("/commesse/<int:commessa_id>")
def commessa(commessa_id: int):
    """The order card: ERP data, production set-up and phases."""
    dettaglio = commesse_service.get_commessa(deps.session(), deps.erp(), commessa_id)
    return render_template("commesse/scheda.html", d=dettaglio)
