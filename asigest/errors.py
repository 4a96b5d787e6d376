"""Domain errors. Each has an HTTP status and a stable ``code``; ``web/errors.py`` is the
one place that turns them into JSON, an htmx fragment or a page.

Messages are Italian source strings (the msgids of the translation catalog) with
``%(name)s`` placeholders filled from ``params``; the web layer translates them, so this
module does not import Flask.
"""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:
    """Mark a message for translation without translating it here (pybabel keyword)."""
    return message


class AsigestError(Exception):
    status = 400
    code = "ERRORE"
    default_message = N_("Operazione non riuscita.")
    # ``{field: [message, ...]}`` for the errors that name fields (InvalidInput and others).
    errors: dict[str, list[str]] | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None, **params: object) -> None:
        self.message = message or self.default_message
        if code:
            self.code = code
        self.params = params
        super().__init__(self.text())

    def text(self, translate: Callable[[str], str] = lambda s: s) -> str:
        """The message, translated by ``translate`` and filled with its parameters."""
        template = translate(self.message)
        return template % self.params if self.params else template


class InvalidInput(AsigestError):
    """Malformed input: wrong type, missing field, out of range (HTTP 422)."""

    status = 422
    code = "VALIDATION_ERROR"
    default_message = N_("Dati non validi: correggere i campi indicati e riprovare.")
    errors: dict[str, list[str]]  # always set (empty when only the message applies)

    def __init__(
        self,
        errors: dict[str, list[str]] | None = None,
        message: str | None = None,
        *,
        code: str | None = None,
        **params: object,
    ) -> None:
        self.errors = errors or {}
        super().__init__(message, code=code, **params)


class RuleViolation(AsigestError):
    """A business rule (R1–R13) refused the operation (HTTP 400)."""

    status = 400
    code = "RULE_VIOLATION"


class Unauthenticated(AsigestError):
    status = 401
    code = "UNAUTHENTICATED"
    default_message = N_("Accesso richiesto: indicare un token valido (Authorization: Bearer …).")


class Forbidden(AsigestError):
    status = 403
    code = "FORBIDDEN"
    default_message = N_("Il tuo ruolo non permette questa operazione.")


class NotFound(AsigestError):
    status = 404
    code = "NOT_FOUND"
    default_message = N_("Elemento non trovato: controllare il codice e riprovare.")


class Conflict(AsigestError):
    status = 409
    code = "CONFLICT"
    default_message = N_("Esiste già: non è stato creato nulla di nuovo.")


class ErpUnavailable(AsigestError):
    status = 503
    code = "ERP_UNAVAILABLE"
    default_message = N_(
        "Il gestionale ASITRON non risponde. Riprovare tra qualche minuto; "
        "se il problema continua, avvisare l'ufficio IT."
    )


class DatabaseNonDisponibile(AsigestError):
    """The ASI_GEST database cannot write now (disk or log full, read-only, I/O error,
    unreachable): nothing was saved and trying again will not help until IT acts (HTTP 503).
    Raised by the unit of work (services/uow.py) for every service; never retried."""

    status = 503
    code = "DATABASE_NON_DISPONIBILE"
    default_message = N_(
        "Il database di ASI-GEST non riesce a salvare: non è stato salvato nulla. "
        "Avvisare l'ufficio IT (controllare lo spazio su disco e i permessi del database), "
        "poi ripetere l'operazione."
    )
