"""Master-data pages for admins: users, machines, scrap reasons, phase types, API tokens.

Every view here is ``@requires(ADMIN)``. Pages work as plain HTML forms; with htmx a form
swaps itself (errors inline next to the fields, typed values kept), a list row swaps
itself after an action, and a finished save answers ``HX-Redirect`` (never a 302).
Every entity's routes come from one helper, ``crud.py``; ``catalogo.py`` and
``utenti.py`` declare the entities.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template
from flask_babel import gettext
from werkzeug.wrappers import Response as WerkzeugResponse

from asigest.errors import AsigestError, InvalidInput
from asigest.services import anagrafiche as anagrafiche_service
from asigest.web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Most rows a list page shows; past it the page asks to narrow the filter.
LIMITE_ELENCO = 500

# Service errors without a field of their own, and the form field they are about.
_CAMPO_PER_CODICE = {
    "MATRICOLA_IN_USO": "matricola",
    "CODICE_IN_USO": "codice",
    "ORDINE_IN_USO": "ordine",
    "AUTO_DECLASSAMENTO": "ruolo",
    "ULTIMO_ADMIN": "ruolo",
    "MACCHINA_CON_LOTTO_APERTO": "fase_tipo",
    "FASETIPO_IN_USO": "attivo",
}


def pagina_o_frammento(pagina: str, frammento: str, *, status: int = 200, **context):
    """The whole page for a browser, just ``frammento`` for htmx (same context)."""
    template = frammento if is_htmx() else pagina
    return vary_on_htmx(make_response(render_template(template, **context), status))


def fatto(url: str, messaggio: str) -> WerkzeugResponse:
    """A save that finished: show ``messaggio`` on ``url``. htmx gets ``HX-Redirect``,
    a browser a 303 (so reloading does not post again)."""
    flash(messaggio, "ok")
    response: WerkzeugResponse
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
    else:
        response = redirect(url, code=303)
    return vary_on_htmx(response)


def errori_nel_form(form, error: AsigestError) -> int:
    """Put a service's refusal on ``form``: field messages next to their fields, the rest
    above the form. Returns the status to answer with (200 for htmx, so it swaps)."""
    if isinstance(error, InvalidInput):
        for campo, messaggi in error.errors.items():
            _aggiungi(form, campo, [gettext(m) for m in messaggi])
    else:
        _aggiungi(form, _CAMPO_PER_CODICE.get(error.code), [error.text(gettext)])
    return 200 if is_htmx() else error.status


def stato_form_errato() -> int:
    """Status for a form sent back with shape errors: 200 for htmx (so it swaps), else 422."""
    return 200 if is_htmx() else 422


def _aggiungi(form, campo: str | None, messaggi: list[str]) -> None:
    field = form._fields.get(campo) if campo else None
    if field is None:
        form.form_errors.extend(messaggi)
    else:
        field.errors = [*field.errors, *messaggi]


def testo(value: str | None) -> str:
    """A form's text as the services take it (None from an empty optional field → "")."""
    return value or ""


def tipi_documento() -> tuple[str, ...]:
    """The plant's document types (setting ``DOCUMENT_TYPES``)."""
    return anagrafiche_service.tipi_documento(current_app.config)


from asigest.web.admin import catalogo, utenti  # noqa: E402,F401  (routes register on bp)
