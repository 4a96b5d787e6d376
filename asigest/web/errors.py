"""The one mapping from errors to responses: JSON for ``/api``, an inline message
fragment for htmx, a full page otherwise. Nothing ever shows a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from asigest.errors import N_, AsigestError
from asigest.services.uow import errore_database
from asigest.web.htmx import is_htmx, vary_on_htmx

log = logging.getLogger(__name__)

# Italian messages for the HTTP errors people can cause.
_HTTP_MESSAGES: dict[int, tuple[str | None, str]] = {
    400: (N_("Richiesta non valida: ricaricare la pagina e riprovare."), "BAD_REQUEST"),
    401: (N_("Accesso richiesto: indicare un token valido (Authorization: Bearer …)."), "UNAUTHENTICATED"),
    403: (N_("Il tuo ruolo non permette questa operazione."), "FORBIDDEN"),
    404: (N_("Pagina o elemento non trovato: controllare l'indirizzo."), "NOT_FOUND"),
    405: (N_("Metodo non consentito per questo indirizzo."), "METHOD_NOT_ALLOWED"),
    413: (N_("File troppo grande: ridurne la dimensione e riprovare."), "TOO_LARGE"),
    415: (N_("Formato della richiesta non supportato: inviare JSON."), "UNSUPPORTED_MEDIA_TYPE"),
}
_INTERNAL = N_("Errore imprevisto: l'operazione non è stata eseguita. Riprovare; se si ripete, avvisare l'ufficio IT.")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def respond(status: int, code: str, message: str, errors: dict[str, list[str]] | None = None) -> ResponseReturnValue:
    """Build the response for an error in the form the caller expects."""
    if _wants_json():
        body: dict[str, object] = {"detail": message, "code": code}
        if status == 422 or errors:
            # 422 always names the fields; a rule refusal (400) does when it can (R7 on close).
            body["errors"] = errors or {}
        response = jsonify(body)
        response.status_code = status
        return response
    if is_htmx():
        response = vary_on_htmx(
            current_app.make_response(
                render_template("_message.html", message=message, level="error", errors=errors or {})
            )
        )
        # htmx ignores 4xx/5xx bodies by default; 200 + a retarget puts the message inline.
        return response, 200, {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
    try:
        page = render_template("errors/error.html", status=status, message=message, errors=errors or {})
    except Exception:  # the error page itself failed: answer plainly rather than not at all
        log.exception("Pagina di errore non disponibile")
        page = f"<!doctype html><title>{status}</title><p>{escape(message)}</p>"
    return vary_on_htmx(current_app.make_response(page)), status


def _translate_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    return {field: [gettext(m) for m in messages] for field, messages in errors.items()}


def handle_asigest_error(error: AsigestError) -> Response:
    errors = _translate_errors(error.errors) if error.errors else None
    response = current_app.make_response(respond(error.status, error.code, error.text(gettext), errors))
    if error.status == 401 and _wants_json():
        # RFC 9110/6750: a 401 names the scheme that would be accepted.
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def handle_csrf_error(error: CSRFError) -> ResponseReturnValue:
    message = gettext("Il modulo è scaduto o non è valido: ricaricare la pagina e riprovare.")
    return respond(400, "CSRF", message)


def handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500  # every HTTPException raised has its code
    message, code = _HTTP_MESSAGES.get(status, (None, "HTTP_%s" % error.code))
    response = current_app.make_response(
        respond(status, code, gettext(message) if message else error.description or "")
    )
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # RFC 9110: a 405 lists the methods the address does accept.
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_database_error(error: DBAPIError) -> ResponseReturnValue:
    """A database error no service turned into a domain error (e.g. a read on a database
    that has become unreadable): the same answer as the unit of work gives (503
    DATABASE_NON_DISPONIBILE, 409 for a conflict); anything else is unexpected."""
    tradotto = errore_database(error)
    if tradotto is None:
        return handle_unexpected(error)
    log.error(
        "Errore del database su %s %s: %s",
        request.method,
        request.path,
        error.orig if error.orig is not None else error,
    )
    return handle_asigest_error(tradotto)


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    log.error("Errore imprevisto su %s %s", request.method, request.path, exc_info=error)
    return respond(500, "INTERNAL_ERROR", gettext(_INTERNAL))


def init_app(app: Flask) -> None:
    app.register_error_handler(AsigestError, handle_asigest_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
