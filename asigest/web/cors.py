"""Cross-origin browser clients of the JSON API (SPEC §7): only the origins listed in
``ASIGEST_CORS_ORIGINS`` (none by default), e.g. a separate front end's development
server ``http://localhost:5173`` or an internal address in production.

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) on an
  API route or ``/health`` is answered here, before the token check: a browser never
  sends the token with it. An allowed origin gets 204 with the methods and headers the
  API reads; any other origin gets 403 ``ORIGINE_NON_CONSENTITA`` and no CORS header,
  so the browser refuses the call.
- Every answer of the API (errors too) to an allowed origin names that origin in
  ``Access-Control-Allow-Origin``, with ``Vary: Origin`` so a cache never hands one
  origin's answer to another.
- ``Access-Control-Allow-Credentials`` is never sent, with a wildcard or without: the
  API authenticates by the ``Authorization: Bearer`` header, which a script sets itself,
  and the office's session cookie must never be usable from another site. ``*`` in the
  list allows every origin without credentials (for a public test install only).

Pages, the kiosk and static files are never shared with other origins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext

from asigest.errors import N_

WILDCARD = "*"
METODI = "GET, POST, PUT, DELETE"
INTESTAZIONI = "Authorization, Content-Type, Idempotency-Key, Accept-Language"
ESPOSTE = "Content-Disposition, WWW-Authenticate, Allow"
MAX_AGE = "600"  # seconds a browser may reuse a preflight's answer
CODICE = "ORIGINE_NON_CONSENTITA"
TESTO_RIFIUTO = N_(
    "Origine %(origine)s non consentita: aggiungerla a ASIGEST_CORS_ORIGINS sul server per chiamare l'API da lì."
)
_ORIGINE = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$")


def origini(valore: str | Iterable[str] | None) -> tuple[str, ...]:
    """The allowed origins from the setting (text: separated by commas or spaces).

    Each is ``scheme://host[:port]`` as a browser sends it (no path, no trailing slash),
    or ``*``. Raises ValueError naming the first one that is not.
    """
    if valore is None:
        return ()
    voci = re.split(r"[\s,]+", valore) if isinstance(valore, str) else list(valore)
    risultato: list[str] = []
    for voce in voci:
        voce = voce.strip()
        if not voce:
            continue
        if voce != WILDCARD:
            voce = voce.lower()
            if not _ORIGINE.match(voce):
                raise ValueError(
                    f"ASIGEST_CORS_ORIGINS: {voce!r} non è un'origine: scrivere schema://host[:porta], "
                    "senza percorso né '/' finale (es. http://localhost:5173), oppure *."
                )
        if voce not in risultato:
            risultato.append(voce)
    return tuple(risultato)


def _condiviso() -> bool:
    """Is this request's route one other origins may call (the API and /health)?"""
    return request.blueprint == "api" or request.endpoint == "health.health"


def _consentita(origine: str) -> bool:
    consentite: tuple[str, ...] = current_app.config["CORS_ORIGINS"]
    return WILDCARD in consentite or origine.lower() in consentite


def _intestazione_origine(origine: str) -> str:
    return WILDCARD if WILDCARD in current_app.config["CORS_ORIGINS"] else origine


def rispondi_preflight() -> Response | None:
    """``before_request`` (the first): answer a CORS preflight without reading a token."""
    origine = request.headers.get("Origin")
    if (
        request.method != "OPTIONS"
        or not origine
        or "Access-Control-Request-Method" not in request.headers
        or request.endpoint is None
        or not _condiviso()
    ):
        return None
    if not _consentita(origine):
        risposta = jsonify({"detail": gettext(TESTO_RIFIUTO, origine=origine[:200]), "code": CODICE})
        risposta.status_code = 403
        risposta.headers["Vary"] = "Origin"
        return risposta
    risposta = current_app.response_class(status=204)
    risposta.headers["Access-Control-Allow-Origin"] = _intestazione_origine(origine)
    risposta.headers["Access-Control-Allow-Methods"] = METODI
    risposta.headers["Access-Control-Allow-Headers"] = INTESTAZIONI
    risposta.headers["Access-Control-Max-Age"] = MAX_AGE
    risposta.headers["Vary"] = "Origin"
    return risposta


def intestazioni_cors(risposta: Response) -> Response:
    """``after_request``: name an allowed origin on the API's answers (errors included)."""
    if request.endpoint is None or not _condiviso() or not current_app.config["CORS_ORIGINS"]:
        return risposta
    risposta.vary.add("Origin")
    origine = request.headers.get("Origin")
    if origine and _consentita(origine) and "Access-Control-Allow-Origin" not in risposta.headers:
        risposta.headers["Access-Control-Allow-Origin"] = _intestazione_origine(origine)
        risposta.headers["Access-Control-Expose-Headers"] = ESPOSTE
    risposta.headers.pop("Access-Control-Allow-Credentials", None)
    return risposta


def init_app(app: Flask) -> None:
    app.config["CORS_ORIGINS"] = origini(app.config.get("CORS_ORIGINS"))
    # Before every other hook (input guard, access check): a preflight carries no token.
    app.before_request_funcs.setdefault(None, []).insert(0, rispondi_preflight)
    app.after_request(intestazioni_cors)
