"""Static files the browser keeps: every ``url_for('static', …)`` carries ``v=`` (the
first 12 hex digits of the file's SHA-256), and a request with the current ``v`` is
answered ``Cache-Control: public, max-age=31536000, immutable``.

A kiosk goes from the badge form to the operator's screen and back all shift long;
without this, each page revalidated its stylesheets and scripts (four requests answered
304, 25–50 ms before the screen is usable: issue 14). A new release changes the file,
so its ``v`` and its address: nothing stale is ever used. A request without ``v`` (or
with an old one) keeps Flask's default, revalidated each time.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, request

UN_ANNO = 365 * 24 * 3600

_versioni: dict[str, tuple[float, str]] = {}


def versione(cartella: str, filename: str) -> str | None:
    """The content version of a static file (None when it does not exist), recomputed
    only when the file's modification time changes."""
    percorso = os.path.join(cartella, filename)
    try:
        mtime = os.stat(percorso).st_mtime
    except OSError:
        return None
    noto = _versioni.get(percorso)
    if noto is None or noto[0] != mtime:
        with open(percorso, "rb") as handle:
            noto = (mtime, hashlib.sha256(handle.read()).hexdigest()[:12])
        _versioni[percorso] = noto
    return noto[1]


def init_app(app: Flask) -> None:
    cartella = app.static_folder
    if cartella is None:  # the app factory always sets it (PROJECT_ROOT/static)
        return

    @app.url_defaults
    def _aggiungi_versione(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            v = versione(cartella, values["filename"])
            if v:
                values["v"] = v

    @app.after_request
    def _tieni_in_cache(response):
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            v = request.args.get("v")
            if v and v == versione(cartella, filename):
                response.cache_control.public = True
                response.cache_control.max_age = UN_ANNO
                response.cache_control.immutable = True
                response.cache_control.no_cache = None
        return response
