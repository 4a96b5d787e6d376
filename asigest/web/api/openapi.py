"""``GET /api/openapi.json``: the OpenAPI 3 document, built from the schemas that
``@endpoint`` enforces (apispec + its marshmallow plugin)."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from asigest import __version__
from asigest.web.access import public
from asigest.web.api import bp
from asigest.web.api.schemas import ErrorSchema

_ERROR_TEXT = {
    400: "Regola di business rifiutata",
    401: "Token mancante o non valido",
    403: "Ruolo insufficiente",
    404: "Non trovato",
    409: "Duplicato",
    413: "File o richiesta troppo grande",
    422: "Input non valido (campo → messaggi in `errors`)",
    503: "ERP non raggiungibile",
}
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")


def _schema_name(resolver_schema) -> str:
    cls = resolver_schema if isinstance(resolver_schema, type) else resolver_schema.__class__
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build_spec(app) -> dict:
    """The OpenAPI document for every ``@endpoint`` view under ``/api``."""
    spec = APISpec(
        title="ASI-GEST API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "Avanzamento di produzione su ERP ASITRON (SPEC §7)."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "asigest_api", None)
        if meta is None:
            continue
        path = _CONVERTER.sub(lambda m: "{" + _nome(m.group(1), rule.rule) + "}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            spec.path(path=path, operations={method.lower(): _operation(meta, rule)})
    return spec.to_dict()


def _operation(meta: dict, rule) -> dict:
    operation = {
        "summary": meta["summary"],
        "description": meta["description"],
        "security": [{"bearer": []}],
        "parameters": [
            {"in": "path", "name": _nome(name, rule.rule), "required": True, "schema": _tipo(rule, name)}
            for name in sorted(rule.arguments)
        ],
        "responses": {},
    }
    if meta["query"] is not None:
        operation["parameters"].append({"in": "query", "schema": meta["query"]})
    if meta["body"] is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
    if meta["form"] is not None:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": meta["form"]}}}
    ok = {"description": "OK"}
    if meta["response"] is not None:
        ok["content"] = {"application/json": {"schema": meta["response"]}}
    elif meta["binary"]:
        ok["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    operation["responses"][str(meta["status"])] = ok
    for status in sorted({401, *meta["errors"]}):
        operation["responses"][str(status)] = {
            "description": _ERROR_TEXT.get(status, "Errore"),
            "content": {"application/json": {"schema": "Error"}},
        }
    return operation


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3 document of this API (public)."""
    return jsonify(build_spec(current_app))


# The contract's names of path parameters (SPEC §7) for the views' Python argument names.
_NOMI_CONTRATTO = {
    "config_id": "ConfigID", "fase_id": "FaseID", "lotto_id": "LottoID",
    "utente_id": "id", "macchina_id": "id", "documento_id": "id", "causale_id": "id",
}


def _nome(argomento: str, percorso: str) -> str:
    """How SPEC §7 names a path parameter: ``/api/commesse/{ID}``, ``/api/fasi/commessa/{CommessaERPId}``…"""
    if argomento == "commessa_id":
        return "ID" if percorso.startswith("/api/commesse/") else "CommessaERPId"
    return _NOMI_CONTRATTO.get(argomento, argomento)


def _tipo(rule, argomento: str) -> dict:
    """The parameter's JSON type from its URL converter (``<int:…>`` or a plain string like ``{tipo}``)."""
    converter = rule._converters.get(argomento)
    return {"type": "integer"} if type(converter).__name__ == "IntegerConverter" else {"type": "string"}
