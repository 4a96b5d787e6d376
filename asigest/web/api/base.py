"""The API's schema machinery: one marshmallow schema per input and output, used both to
validate requests and to generate ``/api/openapi.json``.

``@endpoint(...)`` loads and validates the query string and JSON body (422 with
``errors`` per field on failure), calls the view with the loaded values, and dumps what
the view returns with the response schema. The same decorator records the schemas on the
view, so the OpenAPI document cannot drift from what is enforced.
"""

from __future__ import annotations

from functools import wraps

from flask import jsonify, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from asigest.errors import N_, InvalidInput

# Italian messages for marshmallow's own errors (the API speaks Italian, SPEC §7).
fields.Field.default_error_messages.update(
    {
        "required": N_("Campo obbligatorio."),
        "null": N_("Il campo non può essere vuoto (null)."),
        "validator_failed": N_("Valore non valido."),
    }
)
fields.Integer.default_error_messages.update({"invalid": N_("Deve essere un numero intero."), "too_large": N_("Numero troppo grande.")})
fields.String.default_error_messages.update({"invalid": N_("Deve essere un testo.")})
fields.Boolean.default_error_messages.update({"invalid": N_("Deve essere true o false.")})
fields.Date.default_error_messages.update({"invalid": N_("Data non valida: usare AAAA-MM-GG.")})


class ItalianSchema(Schema):
    error_messages = {
        "unknown": N_("Campo sconosciuto."),
        "type": N_("Il corpo della richiesta deve essere un oggetto JSON."),
    }


class QuerySchema(ItalianSchema):
    """Query strings ignore parameters they do not know (cache busters, tracking)."""

    class Meta:
        unknown = EXCLUDE


class BodySchema(ItalianSchema):
    """JSON bodies refuse fields they do not know, so a typo is reported, not ignored."""

    class Meta:
        unknown = RAISE


def _load(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput({k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}) from None


def endpoint(*, summary: str, query: Schema | None = None, body: Schema | None = None,
             response: Schema | None = None, status: int = 200, errors: tuple[int, ...] = ()):
    """Validate input with ``query``/``body``, dump the result with ``response``, document both."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query is not None:
                kwargs["query"] = _load(query, request.args.to_dict())
            if body is not None:
                payload = request.get_json(silent=True)
                if payload is None:
                    raise InvalidInput({"_body": [N_("Inviare un oggetto JSON con Content-Type: application/json.")]})
                kwargs["body"] = _load(body, payload)
            result = view(*args, **kwargs)
            if response is None:
                return result
            return jsonify(response.dump(result)), status

        wrapper.asigest_api = {
            "summary": summary,
            "query": query,
            "body": body,
            "response": response,
            "status": status,
            "errors": errors,
            "description": (view.__doc__ or "").strip(),
        }
        return wrapper

    return decorate
