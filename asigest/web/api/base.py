"""The API's schema machinery: one marshmallow schema per input and output, used both to
validate requests and to generate ``/api/openapi.json``.

``@endpoint(...)`` loads and validates the query string and the body — JSON (``body=``)
or multipart/form-data with files (``form=``) — (422 with ``errors`` per field on
failure), calls the view with the loaded values, and dumps what the view returns with
the response schema. The same decorator records the schemas on the view, so the OpenAPI
document cannot drift from what is enforced.

Hostile input stops here, before a schema or a service sees it (SPEC §7): text with a
NUL or a lone UTF-16 surrogate anywhere (422 naming the field), JSON nested deeper than
``MAX_PROFONDITA_JSON`` (checked on the raw text, before the parser could recurse), a
query parameter given twice. Validators are written so that the JSON Schema apispec
derives from them says exactly what they accept (``Modello``: a pattern read as JSON
Schema reads it), and query strings take plain ``true``/``false`` and ASCII integers only.
"""

from __future__ import annotations

import json
import re
from functools import wraps

from flask import current_app, jsonify, request
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

from asigest.domain.richieste import corpo_canonico, impronta
from asigest.errors import N_, InvalidInput
from asigest.web.input_guard import campi_non_ammessi, non_ammesso

# Deeper JSON is refused before parsing: json.loads recurses once per level and a body
# of a few kilobytes of "[" would exhaust the stack (RecursionError, a 500). The API's
# bodies are flat objects; 32 leaves room for any future nesting.
MAX_PROFONDITA_JSON = 32

_JSON_NON_VALIDO = N_("Inviare un oggetto JSON con Content-Type: application/json.")
_TROPPO_ANNIDATO = N_("JSON annidato troppo in profondità: al massimo 32 livelli.")
_RIPETUTO = N_("Indicare il parametro una volta sola.")

# Italian messages for marshmallow's own errors (the API speaks Italian, SPEC §7).
fields.Field.default_error_messages.update(
    {
        "required": N_("Campo obbligatorio."),
        "null": N_("Il campo non può essere vuoto (null)."),
        "validator_failed": N_("Valore non valido."),
    }
)
fields.Integer.default_error_messages.update(
    {"invalid": N_("Deve essere un numero intero."), "too_large": N_("Numero troppo grande.")}
)
fields.String.default_error_messages.update({"invalid": N_("Deve essere un testo.")})
fields.Boolean.default_error_messages.update({"invalid": N_("Deve essere true o false.")})
fields.Date.default_error_messages.update({"invalid": N_("Data non valida: usare AAAA-MM-GG.")})


# -- validators whose JSON Schema is exact ---------------------------------------------

# Every character str.strip() removes (str.isspace), spelled out: JSON Schema's "\s" is
# not Python's, and a value made only of these is blank to the services.
SPAZI = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Patterns in JSON Schema (ECMA 262) syntax, which Python's re also reads the same way.
TESTO = r"^[^\u0000]*$"  # any text without NUL
# ... and not blank. Written so no two parts can match the same character: the check is
# linear, whatever the text (a NUL after a long text would otherwise backtrack quadratically).
NON_VUOTO = r"^[" + SPAZI + r"]*[^\u0000" + SPAZI + r"][^\u0000]*$"
CODICE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # machine and scrap-reason codes (uppercased on save)
CODICE_FASE = r"^[A-Za-z][A-Za-z0-9_]*$"  # phase-type codes


class Modello(validate.Regexp):
    """A pattern as JSON Schema reads it: a search, where a closing ``$`` is the end of
    the string (Python's ``$`` also matches before a final newline). apispec publishes
    ``regex.pattern`` as the field's ``pattern``, so the document and the check agree."""

    def __init__(self, pattern: str, *, error: str):
        super().__init__(pattern, error=error)
        self._cerca = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)

    def __call__(self, value):
        if self._cerca.search(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# -- query-string fields ----------------------------------------------------------------


class QueryInteger(fields.Integer):
    """An integer written in ASCII digits (optional leading "-"): not " 5", "５", "1e3" or "5.0"."""

    _CIFRE = re.compile(r"-?[0-9]+")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self._CIFRE.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryBoolean(fields.Boolean):
    """``true`` or ``false``, as the document says (marshmallow's own also takes "", 1, on, yes…)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "true":
            return True
        if value == "false":
            return False
        raise self.make_error("invalid")


class QueryDate(fields.Date):
    """A day as ``AAAA-MM-GG`` only (date.fromisoformat also reads "20260302" and "2026-W10-1").

    ``openapi`` is the parameter's schema in the document (openapi.py uses it as given)."""

    _GIORNO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def __init__(self, *, openapi: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.openapi = openapi

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self._GIORNO.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


# -- JSON body fields ---------------------------------------------------------------------


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false`` (marshmallow's own also takes 1, "yes", "on"…)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """Only JSON integers: not ``"101"``, ``1.5`` or ``true``."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


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


# -- loading a request ------------------------------------------------------------------


def _rifiuta_testo(coppie, campo_nome: str) -> None:
    errori = campi_non_ammessi(coppie, campo_nome=campo_nome)
    if errori:
        raise InvalidInput(errori)


def _query_payload(schema: Schema) -> dict:
    """The query string as one value per parameter; a known parameter given twice, or any
    text with NUL or a lone surrogate, is 422."""
    argomenti = request.args  # once: each use of ``request`` goes through its context-local proxy
    _rifiuta_testo(argomenti.items(multi=True), "_query")
    noti = {campo.data_key or nome for nome, campo in schema.fields.items()}
    ripetuti = {nome: [_RIPETUTO] for nome in noti if len(argomenti.getlist(nome)) > 1}
    if ripetuti:
        raise InvalidInput(ripetuti)
    return argomenti.to_dict()


# One pass over the text: a JSON string (to its closing quote, escapes included, or to the
# end if it has none) or a bracket. Never backtracks into an earlier quote, so the time is
# linear in the body whatever its quotes and backslashes.
_TOKEN_JSON = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


def profondita_json(testo: str, limite: int = MAX_PROFONDITA_JSON) -> int:
    """How deep the arrays and objects of JSON ``testo`` nest, counted on the text (strings
    skipped) without parsing it; stops counting past ``limite``."""
    livello = massimo = 0
    for token in _TOKEN_JSON.finditer(testo):
        carattere = token.group()[0]
        if carattere in "[{":
            livello += 1
            if livello > massimo:
                massimo = livello
                if massimo > limite:
                    break
        elif carattere in "]}":
            livello -= 1
    return massimo


def _json_payload():
    """The parsed JSON body; 422 when it is not JSON, nests too deep or carries text with
    NUL or a lone surrogate (in a value or a key)."""
    if not request.is_json:
        raise InvalidInput({"_body": [_JSON_NON_VALIDO]})
    dati = request.get_data(cache=True)
    try:
        testo = dati.decode(json.detect_encoding(dati))
    except (UnicodeDecodeError, LookupError):
        raise InvalidInput({"_body": [_JSON_NON_VALIDO]}) from None
    if profondita_json(testo) > MAX_PROFONDITA_JSON:
        raise InvalidInput({"_body": [_TROPPO_ANNIDATO]})
    try:
        payload = current_app.json.loads(testo)
    except (ValueError, RecursionError):  # RecursionError: a nesting the count above missed
        raise InvalidInput({"_body": [_JSON_NON_VALIDO]}) from None
    if isinstance(payload, dict):
        _rifiuta_testo(((chiave, _testi(valore)) for chiave, valore in payload.items()), "_body")
    else:
        _rifiuta_testo([("_body", _testi(payload))], "_body")
    return payload


def _testi(valore) -> str | None:
    """The first text inside a JSON value (keys included) that holds a NUL or a lone
    surrogate; None when there is none. The depth is bounded above, so recursion is safe."""
    if isinstance(valore, str):
        return valore if non_ammesso(valore) else None
    if isinstance(valore, dict):
        valori = [*valore.keys(), *valore.values()]
    elif isinstance(valore, list):
        valori = valore
    else:
        return None
    for elemento in valori:
        trovato = _testi(elemento)
        if trovato is not None:
            return trovato
    return None


def _form_payload() -> dict[str, str | FileStorage]:
    if request.mimetype != "multipart/form-data":
        raise InvalidInput(
            {"_body": [N_("Inviare un modulo multipart/form-data (Content-Type: multipart/form-data).")]}
        )
    _rifiuta_testo(request.form.items(multi=True), "_body")
    _rifiuta_testo(((nome, upload.filename) for nome, upload in request.files.items(multi=True)), "_body")
    payload: dict[str, str | FileStorage] = {name: value for name, value in request.form.items() if value != ""}
    payload.update({name: upload for name, upload in request.files.items() if upload.filename})
    return payload


def _load(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise InvalidInput({k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}) from None


def endpoint(
    *,
    summary: str,
    query: Schema | None = None,
    body: Schema | None = None,
    form: Schema | None = None,
    response: Schema | None = None,
    binary: bool = False,
    status: int = 200,
    errors: tuple[int, ...] | dict[int, str | None] = (),
    disattiva: tuple[str, str] | None = None,
    collegamenti: dict[str, tuple[str, dict]] | None = None,
):
    """Validate input with ``query`` and ``body`` (JSON) or ``form`` (multipart), dump the
    result with ``response``, document both. ``binary``: the view answers with file bytes
    (documented as ``application/octet-stream``) instead of JSON. ``errors``: the error
    statuses the view's services can answer, optionally with what each means here (the
    business rules behind a 400); those every operation shares are added by openapi.py.
    ``disattiva``: (the reading view, the flag) of a DELETE that deactivates instead of
    removing — the resource stays readable with the flag false (SPEC §7), and the
    document says so with a link from the DELETE's answer to that read.
    ``collegamenti``: OpenAPI links of the success answer, ``{name: (operationId of the
    view it leads to, {parameter: runtime expression})}`` — the workflows a client (and
    the fuzzer) follows: a list to its items, an opened lotto to its close…"""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query is not None:
                kwargs["query"] = _load(query, _query_payload(query))
            if body is not None:
                kwargs["body"] = _load(body, _json_payload())
            if form is not None:
                kwargs["form"] = _load(form, _form_payload())
            result = view(*args, **kwargs)
            if response is None:
                return result
            return jsonify(response.dump(result)), status

        # The view's API metadata, read by openapi.build_spec (a function attribute:
        # mypy does not let one be added to a function).
        wrapper.asigest_api = {  # type: ignore[attr-defined]
            "summary": summary,
            "query": query,
            "body": body,
            "form": form,
            "response": response,
            "binary": binary,
            "status": status,
            "errors": dict(errors) if isinstance(errors, dict) else dict.fromkeys(errors),
            "disattiva": disattiva,
            "collegamenti": collegamenti or {},
            "description": (view.__doc__ or "").strip(),
        }
        return wrapper

    return decorate


# An Idempotency-Key is kept as sent (RichiesteEseguite.Chiave, VARCHAR(100)): a longer
# one cut short, or one with characters a SQL Server code page would change, could
# match another request's key and replay the wrong answer, so it is refused instead.
_CHIAVE_VALIDA = re.compile(r"[\x21-\x7e]{1,100}")


def chiave_idempotenza(body: dict) -> dict:
    """``chiave`` and ``impronta`` for the service: the request's ``Idempotency-Key``
    (1–100 printable ASCII characters, or none) and the fingerprint of this request —
    method, path (with its ids) and the validated body written canonically, so the same
    values in another order or spacing are the same request (R11).

    Raises InvalidInput for any other key (nothing is done)."""
    chiave = (request.headers.get("Idempotency-Key") or "").strip()
    if not chiave:
        return {"chiave": None, "impronta": None}
    if not _CHIAVE_VALIDA.fullmatch(chiave):
        raise InvalidInput(
            {
                "Idempotency-Key": [
                    N_(
                        "Chiave di idempotenza non valida: usare da 1 a 100 caratteri ASCII stampabili, senza spazi "
                        "(ad esempio un UUID)."
                    )
                ]
            }
        )
    return {"chiave": chiave, "impronta": impronta(request.method, request.path, corpo_canonico(body))}
