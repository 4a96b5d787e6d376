"""Technical documents pages: the order card's documents section, upload, download."""

from flask import Blueprint

bp = Blueprint("documenti", __name__)

from flask import render_template  # noqa: E402


@bp.get("/commesse/<int:commessa_id>/documenti")
def sezione_commessa(commessa_id: int):
    """The documents section of an order card (htmx fragment)."""
    return render_template("documenti/_sezione.html", commessa_id=commessa_id, documenti=[])
