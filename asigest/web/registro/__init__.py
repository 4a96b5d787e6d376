"""Supervisor pages about lotti: the register (``/lotti``, filters, sort, htmx paging,
exports) and one lotto (``/lotti/<id>``: its data, history, correction and cancellation)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("registro", __name__)

from asigest.web.registro import elenco, esporta, lotto  # noqa: E402,F401  (routes register on bp)
