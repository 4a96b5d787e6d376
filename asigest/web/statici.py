"""Static files the browser keeps: every ``url_for('static', …)`` carries ``v=`` (the
first 12 hex digits of the file's SHA-256), and a request with the current ``v`` is
answered ``Cache-Control: public, max-age=31536000, immutable``.

A kiosk goes from the badge form to the operator's screen and back all shift long;
without this, each page revalidated its stylesheets and scripts (four requests answered
304, 25–50 ms before the screen is usable: issue 14). A new release changes the file,
so its ``v`` and its address: nothing stale is ever used. A request without ``v`` (or
with an old one) keeps Flask's default, revalidated each time.

In templates, ``url_for`` of a static file or of a page without arguments is built once
per process (per application root) and then reused: those addresses are the same on
every request, and building each cost 4–12 µs, some twenty on every page (issue 16).
A file changed while the server runs keeps its old ``v`` in pages until a restart (a
release restarts the server); its content is still served fresh, since the old ``v``
is then answered without the long cache. With ``debug`` on nothing is memoised.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, has_request_context, request, url_for

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


# At most this many memoised addresses per app: the templates name a few dozen.
_MEMO_MASSIMO = 1000


def url_for_memo(app: Flask):
    """``url_for`` for templates: a static file's or an argument-less page's address built
    once per (application root, endpoint, file), anything else by Flask's ``url_for``."""
    memo: dict[tuple[str, str, str | None], str] = {}

    def indirizzo(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or app.debug or not has_request_context():
            return url_for(endpoint, **values)
        if not values:
            chiave = (request.script_root, endpoint, None)
        elif endpoint == "static" and len(values) == 1 and isinstance(values.get("filename"), str):
            chiave = (request.script_root, endpoint, values["filename"])
        else:
            return url_for(endpoint, **values)
        noto = memo.get(chiave)
        if noto is None:
            noto = url_for(endpoint, **values)
            if len(memo) < _MEMO_MASSIMO:
                memo[chiave] = noto
        return noto

    return indirizzo


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = url_for_memo(app)
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
