"""``GET /api/openapi.json``: the OpenAPI 3 document, built from the schemas that
``@endpoint`` enforces (apispec + its marshmallow plugin).

Every constraint the server checks is stated (SPEC §7): lengths, ranges and patterns come
from the marshmallow validators (``base.Modello`` reads a pattern as JSON Schema does);
path parameters from the URL converters that route them (``web/converters.py``); the
codes a field must name from the live catalog (``catalogo`` in a field's metadata:
phase types, document types), so the document lists what this installation accepts
today. Each operation lists every status it can answer, with what a 400 means there;
the statuses every operation shares (401, 503, 404 on a path id, 414…) are added here.
Rules between parameters that OpenAPI 3.0 cannot write as a schema are in the
descriptions (KPI period, documents filter, OperatoreID by role).
"""

from __future__ import annotations

import copy
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify, render_template

from asigest import __version__
from asigest.services import anagrafiche as anagrafiche_service
from asigest.web import deps
from asigest.web.access import public
from asigest.web.api import bp
from asigest.web.api.base import MAX_PROFONDITA_JSON
from asigest.web.api.schemas import ErrorSchema

_ERROR_TEXT = {
    400: "Regola di business rifiutata: l'operazione non è eseguita, `code` dice quale regola.",
    401: "Token mancante o non valido (header `Authorization: Bearer …`).",
    403: "Ruolo insufficiente.",
    404: "Non trovato: un id inesistente, fuori da 1–2147483647 o non scritto in cifre (0, -1, 007…).",
    409: "Conflitto: esiste già, oppure un'operazione concorrente (code RIPROVARE): riprovare.",
    413: "File o richiesta troppo grande.",
    414: "Indirizzo troppo lungo: il server HTTP rifiuta la richiesta prima dell'applicazione.",
    422: (
        "Input non valido: tipo sbagliato, campo mancante o sconosciuto, fuori intervallo, parametro ripetuto, "
        "testo con caratteri NUL o surrogati UTF-16 isolati, JSON annidato oltre %d livelli; "
        "`errors` dà i messaggi per campo." % MAX_PROFONDITA_JSON
    ),
    503: "Database ASI_GEST non disponibile (code DATABASE_NON_DISPONIBILE): avvisare l'ufficio IT.",
}
_ERP = "Gestionale ERP non raggiungibile (code ERP_UNAVAILABLE) o database ASI_GEST non disponibile (DATABASE_NON_DISPONIBILE)."
_CONVERTER = re.compile(r"<(?:([a-z_]+)(?:\([^)]*\))?:)?([a-zA-Z_]+)>")
# Idempotency-Key (R11), as web/api/lotti.py reads it.
_IDEMPOTENCY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Chiave di idempotenza (R11): ripetere la richiesta con la stessa chiave restituisce il primo "
    "risultato senza rifare nulla. 1–100 caratteri ASCII stampabili, senza spazi (es. un UUID).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[!-~]{1,100}$"},
}
_IDEMPOTENTI = {
    ("post", "/api/lotti/{tipo}/"),
    ("put", "/api/lotti/{tipo}/{LottoID}/close"),
    ("post", "/api/fermi/"),
    ("put", "/api/fermi/{FermoID}/fine"),
}


def _schema_name(resolver_schema) -> str:
    cls = resolver_schema if isinstance(resolver_schema, type) else resolver_schema.__class__
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def _cataloghi(app) -> dict[str, list[str]]:
    """The codes fields must name today: phase types (all, active) and document types."""
    from asigest.services.anagrafiche import tipi_documento

    tipi = anagrafiche_service.list_fasi_tipo(deps.session())
    return {
        "fasi_tipo": [t.codice for t in tipi],
        "fasi_tipo_attive": [t.codice for t in tipi if t.attivo],
        "tipi_documento": list(tipi_documento(app.config)),
        # A document is downloaded with the content type of its format (DOCUMENT_EXTENSIONS).
        "tipi_contenuto": sorted(set(app.config["DOCUMENT_EXTENSIONS"].values())),
    }


def _estensioni(cataloghi: dict[str, list[str]]):
    """An apispec attribute function for what our fields declare beyond validators."""

    def asigest_extras(self, field, ret, **kwargs):
        openapi = getattr(field, "openapi", None)
        if openapi is not None:  # a field that states its whole schema (QueryDate)
            descrizione = ret.get("description")
            ret.clear()
            return {**openapi, **({"description": descrizione} if descrizione else {})}
        catalogo = field.metadata.get("catalogo")
        if catalogo is None:
            return {}
        enum: list[str | None] = list(cataloghi[catalogo])
        if field.metadata.get("catalogo_vuoto"):
            enum.append("")  # "" is a value too (e.g. "" = any phase)
        if field.allow_none:
            enum.append(None)
        return {"enum": enum}

    return asigest_extras


def build_spec(app) -> dict:
    """The OpenAPI document for every ``@endpoint`` view under ``/api``."""
    cataloghi = _cataloghi(app)
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="ASI-GEST API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": (
                'Avanzamento di produzione su ERP ASITRON (SPEC §7). Errori: `{"detail", "code"}`, più `errors` '
                "per campo sui 422. Il testo con caratteri NUL o surrogati UTF-16 isolati è sempre rifiutato (422), "
                "anche dove lo schema del campo non lo può scrivere."
            )
        },
    )
    assert plugin.converter is not None  # set when APISpec initialised the plugin
    plugin.converter.add_attribute_function(_estensioni(cataloghi))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    alternative, moduli = {}, set()
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "asigest_api", None)
        if meta is None:
            continue
        path = _percorso(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            spec.path(path=path, operations={method.lower(): _operation(meta, rule, method.lower(), path, cataloghi)})
        for schema in (meta["body"], meta["form"]):
            if schema is not None and getattr(schema, "uno_tra", None):
                alternative[_schema_name(schema)] = schema.uno_tra
        if meta["form"] is not None:
            moduli.add(_schema_name(meta["form"]))
    document = spec.to_dict()
    schemas = document["components"]["schemas"]
    for name in moduli:
        # A form cannot send null: an optional field is left out (base.FormSchema).
        for proprieta in schemas[name]["properties"].values():
            _senza_null(proprieta)
    for name, campi in alternative.items():
        schemas[name] = _uno_tra(schemas[name], campi)
    return document


def _uno_tra(schema: dict, campi: tuple[str, ...]) -> dict:
    """An object that must carry exactly one of ``campi``, written as one object schema per
    choice (each without the others): generators and validators read that form alike."""
    scelte = []
    for campo in campi:
        scelta = copy.deepcopy(schema)
        for altro in campi:
            if altro != campo:
                del scelta["properties"][altro]
        scelta["required"] = [*scelta.get("required", []), campo]
        scelte.append(scelta)
    return {"oneOf": scelte}


def _operation(meta: dict, rule, method: str, path: str, cataloghi: dict) -> dict:
    operation = {
        "summary": meta["summary"],
        "description": meta["description"],
        "operationId": rule.endpoint.rsplit(".", 1)[-1],
        "security": [{"bearer": []}],
        "parameters": [
            {
                "in": "path",
                "name": _nome(name, rule.rule),
                "required": True,
                "schema": _parametro_percorso(rule, name, cataloghi),
            }
            for name in sorted(rule.arguments)
        ],
        "responses": {},
    }
    if meta["query"] is not None:
        operation["parameters"].append({"in": "query", "schema": meta["query"]})
    if (method, path) in _IDEMPOTENTI:
        operation["parameters"].append(_IDEMPOTENCY)
    if meta["body"] is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
    if meta["form"] is not None:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": meta["form"]}}}
    ok: dict[str, object] = {"description": "OK"}
    if meta["disattiva"] is not None:
        ok.update(_disattivazione(rule, *meta["disattiva"]))
    links = {
        nome: {"operationId": destinazione, "parameters": parametri}
        for nome, (destinazione, parametri) in meta["collegamenti"].items()
    }
    if links:
        ok["links"] = links
    if meta["response"] is not None:
        ok["content"] = {"application/json": {"schema": meta["response"]}}
    elif meta["binary"]:
        ok["content"] = {
            tipo: {"schema": {"type": "string", "format": "binary"}} for tipo in cataloghi["tipi_contenuto"]
        }
    operation["responses"][str(meta["status"])] = ok
    for status, description in sorted(_errori(meta, rule, method).items()):
        response = {"description": description, "content": {"application/json": {"schema": "Error"}}}
        if status == 414:
            response["content"] = {"text/html": {"schema": {"type": "string"}}}
        operation["responses"][str(status)] = response
    return operation


def _disattivazione(rule, lettura: str, campo: str) -> dict:
    """A DELETE that deactivates: its answer says the resource stays readable with
    ``campo`` false, and links to the read that shows it (``x-disattivato``: what that
    read answers from then on, until a PUT sets the flag again)."""
    (argomento,) = rule.arguments
    nome = _nome(argomento, rule.rule)
    return {
        "description": f"Disattivato, non cancellato: resta leggibile con {campo}=false (lotti e registro eventi "
        f"lo richiamano); un PUT con {campo}=true lo riattiva.",
        "links": {
            "Disattivato": {
                "operationId": lettura,
                "parameters": {nome: f"$request.path.{nome}"},
                "description": f"La lettura dopo la disattivazione risponde 200 con {campo}=false.",
                "x-disattivato": {campo: False},
            }
        },
    }


def _errori(meta: dict, rule, method: str) -> dict[int, str]:
    """Every error status of the operation with what it means: the view's own, then those
    any operation like it can answer."""
    errori = {status: testo or _ERROR_TEXT.get(status, "Errore") for status, testo in meta["errors"].items()}
    errori[401] = _ERROR_TEXT[401]
    errori[414] = _ERROR_TEXT[414]
    if rule.arguments:
        errori.setdefault(404, _ERROR_TEXT[404])
    if meta["query"] is not None or meta["body"] is not None or meta["form"] is not None:
        errori.setdefault(422, _ERROR_TEXT[422])
    if method != "get":
        errori.setdefault(409, _ERROR_TEXT[409])
    # The database can always be unavailable; the ERP only where the view says 503.
    errori[503] = _ERP if 503 in meta["errors"] else _ERROR_TEXT[503]
    return errori


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3 document of this API (public)."""
    return jsonify(_senza_null_nei_parametri(build_spec(current_app)))


@bp.get("/docs")
@public
def docs():
    """The API reference (public): Swagger UI, vendored under ``static/vendor/swagger-ui``,
    renders ``/api/openapi.json`` under the site's strict CSP."""
    return render_template("api_docs.html")


def _senza_null(schema: dict) -> None:
    """apispec writes ``nullable`` and ``default: null`` for ``load_default=None``."""
    schema.pop("nullable", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]


def _senza_null_nei_parametri(document: dict) -> dict:
    """A query string cannot carry null: an optional parameter is simply left out."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    _senza_null(parameter.get("schema", {}))
    return document


# The contract's names of path parameters (SPEC §7) for the views' Python argument names.
_NOMI_CONTRATTO = {
    "config_id": "ConfigID",
    "fase_id": "FaseID",
    "lotto_id": "LottoID",
    "utente_id": "id",
    "macchina_id": "id",
    "documento_id": "id",
    "causale_id": "id",
    "causale_fermo_id": "id",
    "fermo_id": "FermoID",
    "codice_lotto": "CodiceLotto",
}


def _percorso(regola: str) -> str:
    """A Flask rule as an OpenAPI path: ``/api/commesse/<int:commessa_id>`` → ``/api/commesse/{ID}``."""
    return _CONVERTER.sub(lambda m: "{" + _nome(m.group(2), regola) + "}", regola)


def _nome(argomento: str, percorso: str) -> str:
    """How SPEC §7 names a path parameter: ``/api/commesse/{ID}``, ``/api/fasi/commessa/{CommessaERPId}``…"""
    if argomento == "commessa_id":
        return "ID" if percorso.startswith("/api/commesse/") else "CommessaERPId"
    return _NOMI_CONTRATTO.get(argomento, argomento)


def _parametro_percorso(rule, argomento: str, cataloghi: dict) -> dict:
    """What the URL converter routes (``web/converters.py``); a phase type also lists the
    catalog's codes, lowercase as the contract writes them (``/api/lotti/smd/``)."""
    converter = rule._converters.get(argomento)
    schema = dict(getattr(converter, "openapi", {"type": "string"}))
    if argomento == "tipo":
        schema["enum"] = [codice.lower() for codice in cataloghi["fasi_tipo"]]
    return schema
