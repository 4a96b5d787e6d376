"""The API's schema machinery: one marshmallow schema per input and output, used both to
validate requests and to generate ``/api/openapi.json``.

``@endpoint(...)`` loads and validates the query string and the body — JSON (``body=``)
or multipart/form-data with files (``form=``) — (422 with ``errors`` per field on
failure), calls the view with the loaded values, and dumps what the view returns with
the response schema. The same decorator records the schemas on the view, so the OpenAPI
document cannot drift from what is enforced.
"""

from __future__ import annotations

from functools import wraps

from flask import jsonify, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields
from werkzeug.datastructures import FileStorage

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


class FormSchema(ItalianSchema):
    """multipart/form-data bodies: unknown fields are refused as in JSON bodies; an empty
    text field or a file input left empty counts as absent (a form cannot send null)."""

    class Meta:
        unknown = RAISE


class FileField(fields.Field):
    """An uploaded file (werkzeug ``FileStorage`` with a name); ``string/binary`` in OpenAPI."""

    default_error_messages = {"invalid": N_("Inviare un file (parte di tipo file del modulo multipart).")}

    def __init__(self, **kwargs):
        metadata = {"type": "string", "format": "binary", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage) or not value.filename:
            raise self.make_error("invalid")
        return value


def _form_payload() -> dict:
    if request.mimetype != "multipart/form-data":
        raise InvalidInput({"_body": [N_("Inviare un modulo multipart/form-data (Content-Type: multipart/form-data).")]})
    payload = {name: value for name, value in request.form.items() if value != ""}
    payload.update({name: upload for name, upload in request.files.items() if upload.filename})
    return payload


def _load(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput({k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}) from None


def endpoint(*, summary: str, query: Schema | None = None, body: Schema | None = None,
             form: Schema | None = None, response: Schema | None = None, binary: bool = False,
             status: int = 200, errors: tuple[int, ...] = ()):
    """Validate input with ``query`` and ``body`` (JSON) or ``form`` (multipart), dump the
    result with ``response``, document both. ``binary``: the view answers with file bytes
    (documented as ``application/octet-stream``) instead of JSON."""

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
            if form is not None:
                kwargs["form"] = _load(form, _form_payload())
            result = view(*args, **kwargs)
            if response is None:
                return result
            return jsonify(response.dump(result)), status

        wrapper.asigest_api = {
            "summary": summary,
            "query": query,
            "body": body,
            "form": form,
            "response": response,
            "binary": binary,
            "status": status,
            "errors": errors,
            "description": (view.__doc__ or "").strip(),
        }
        return wrapper

    return decorate
