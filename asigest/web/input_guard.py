"""Text no column can hold, refused before it reaches a view (SPEC §7, "Hostile input").

A NUL character makes PostgreSQL fail the statement (a 500) and SQLite store it silently
(then a search for it matches everything); a lone UTF-16 surrogate (``"\\ud800"`` in JSON)
cannot even be encoded for the driver. Neither is ever part of a real value, so both are
refused wherever the application reads text from a request:

- the JSON API checks its own inputs in ``web/api/base.py`` (``@endpoint``: body, query
  string, multipart fields) and answers 422 naming the field;
- every other request (pages, kiosk, login) goes through ``refuse_hostile_text`` here, a
  ``before_request`` hook that checks the query string, the form fields and file names,
  the path's text segments and the client address the audit log records, and answers 400
  with the Italian message (inline for htmx) — before any view or login check runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import request
from flask_babel import gettext

from asigest.errors import N_, InvalidInput
from asigest.web.errors import respond

# NUL, and any surrogate code point: in a Python str decoded from JSON or UTF-8, a
# surrogate is always a lone one (a valid pair decodes to one astral character).
_NON_AMMESSI = re.compile("[\x00\ud800-\udfff]")

TESTO_NON_AMMESSO = N_(
    "Il testo contiene caratteri non ammessi (carattere NUL o surrogato UTF-16 isolato): toglierli e riprovare."
)
CODICE = "TESTO_NON_VALIDO"


def non_ammesso(valore) -> bool:
    """True for a str with a NUL or a lone surrogate."""
    return isinstance(valore, str) and _NON_AMMESSI.search(valore) is not None


def campi_non_ammessi(coppie: Iterable[tuple[str, object]], *, campo_nome: str) -> dict[str, list[str]]:
    """``{field: [message]}`` for the (name, value) pairs holding such text; a bad name
    itself is reported under ``campo_nome`` (it cannot be echoed back safely)."""
    errori: dict[str, list[str]] = {}
    for nome, valore in coppie:
        if non_ammesso(nome):
            errori[campo_nome] = [TESTO_NON_AMMESSO]
        elif non_ammesso(valore):
            errori[nome] = [TESTO_NON_AMMESSO]
    return errori


def _indirizzo() -> Iterable[tuple[str, object]]:
    # The client address ends up in the audit log (Postazione) and in the login lockout;
    # behind ProxyFix it is whatever X-Forwarded-For said.
    yield "remote_addr", request.remote_addr


def _testi_della_richiesta() -> Iterable[tuple[str, object]]:
    yield from request.args.items(multi=True)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        yield from request.form.items(multi=True)
        for nome, upload in request.files.items(multi=True):
            yield nome, upload.filename
    yield from (request.view_args or {}).items()
    yield from _indirizzo()


def refuse_hostile_text():
    """``before_request``: outside the JSON API, 400 when any text the request carries
    holds a NUL or a lone surrogate (the data stays as it was). The API checks its own
    inputs field by field (``web/api/base.py``); here only the client address (422)."""
    if request.endpoint is None:
        return None  # no route: the 404/405 answer reads nothing the request carries
    if request.blueprint == "api":
        errori = campi_non_ammessi(_indirizzo(), campo_nome="remote_addr")
        if errori:
            raise InvalidInput(errori)
        return None
    errori = campi_non_ammessi(_testi_della_richiesta(), campo_nome="_richiesta")
    if not errori:
        return None
    tradotti = {campo: [gettext(m) for m in messaggi] for campo, messaggi in errori.items()}
    return respond(400, CODICE, gettext(TESTO_NON_AMMESSO), tradotti)


def init_app(app) -> None:
    # The first hook: before the access check (the kiosk's reads its machine code from
    # the path, the login lockout the client address) and before any view.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_hostile_text)
