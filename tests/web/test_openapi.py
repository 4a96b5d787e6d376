"""``/api/openapi.json``: public, OpenAPI 3, and generated from the schemas that validate
requests (so its limits are the enforced ones) and dump answers (so its fields are the
returned ones)."""

from __future__ import annotations

import re

import pytest

DETAIL_PATH = re.compile(r"^/api/commesse/\{[A-Za-z_]+\}$")


@pytest.fixture
def doc(client):
    response = client.get("/api/openapi.json")  # no token: it is public
    assert response.status_code == 200
    assert response.is_json
    return response.json


def resolve(doc, node):
    """Follow a local ``$ref`` (one level is all the document uses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/components/schemas/"), ref
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def operation(doc, path):
    return doc["paths"][path]["get"]


def query_parameter(op, name):
    matches = [p for p in op["parameters"] if p["in"] == "query" and p["name"] == name]
    assert len(matches) == 1, f"parametro {name}: {op['parameters']}"
    return matches[0]


def detail_path(doc) -> str:
    paths = [p for p in doc["paths"] if DETAIL_PATH.match(p)]
    assert len(paths) == 1, list(doc["paths"])
    return paths[0]


def response_schema(doc, op, status="200"):
    return op["responses"][status]["content"]["application/json"]["schema"]


def test_document_is_openapi_3_with_the_commesse_paths(doc):
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert "/api/commesse/" in doc["paths"]
    assert "/api/commesse/search" in doc["paths"]
    detail_path(doc)


def test_bearer_security_is_declared_and_used(doc):
    schemes = doc["components"]["securitySchemes"]
    name, scheme = next((n, s) for n, s in schemes.items() if s.get("scheme") == "bearer")
    assert scheme["type"] == "http"
    for path in ("/api/commesse/", "/api/commesse/search", detail_path(doc)):
        op = operation(doc, path)
        assert {name: []} in op["security"]
        assert "401" in op["responses"]


def test_limit_bounds_come_from_the_validating_schema(doc, client, api_token):
    """Same numbers in the document as in the 422s: the document is built from the schema."""
    from asigest.web.api.schemas import MAX_LIMIT

    for path in ("/api/commesse/", "/api/commesse/search"):
        limit = query_parameter(operation(doc, path), "limit")["schema"]
        assert limit["type"] == "integer"
        assert limit["minimum"] == 1
        assert limit["maximum"] == MAX_LIMIT == 500
        assert limit.get("default") == 100
        offset = query_parameter(operation(doc, path), "offset")["schema"]
        assert offset["minimum"] == 0
    headers = api_token("OPERATORE")
    assert client.get(f"/api/commesse/?limit={MAX_LIMIT}", headers=headers).status_code == 200
    assert client.get(f"/api/commesse/?limit={MAX_LIMIT + 1}", headers=headers).status_code == 422


def test_search_marks_q_required(doc):
    assert query_parameter(operation(doc, "/api/commesse/search"), "q")["required"] is True
    assert query_parameter(operation(doc, "/api/commesse/"), "q").get("required", False) is False


def test_error_responses_use_the_error_schema(doc):
    op = operation(doc, "/api/commesse/")
    error = resolve(doc, response_schema(doc, op, "422"))
    assert {"detail", "code", "errors"} <= set(error["properties"])
    assert "404" in operation(doc, detail_path(doc))["responses"]


def test_list_response_fields_match_what_the_api_returns(doc, client, api_token):
    schema = response_schema(doc, operation(doc, "/api/commesse/"))
    assert schema["type"] == "array"
    item = resolve(doc, schema["items"])
    returned = client.get("/api/commesse/?limit=1", headers=api_token("OPERATORE")).json[0]
    assert set(item["properties"]) == set(returned)


def test_detail_response_has_config_and_fasi(doc, client, api_token, make_config):
    detail = resolve(doc, response_schema(doc, operation(doc, detail_path(doc))))
    properties = detail["properties"]
    assert {"Config", "Fasi", "Configurata", "ID"} <= set(properties)
    assert properties["Fasi"]["type"] == "array"
    fase = resolve(doc, properties["Fasi"]["items"])
    config_refs = [resolve(doc, s) for s in properties["Config"].get("anyOf", [properties["Config"]]) if "$ref" in s]
    assert config_refs, properties["Config"]
    config = config_refs[0]

    make_config(101)
    returned = client.get("/api/commesse/101", headers=api_token("OPERATORE")).json
    assert set(properties) == set(returned)
    assert set(config["properties"]) == set(returned["Config"])
    assert set(fase["properties"]) == set(returned["Fasi"][0])


def test_document_passes_the_openapi_validator(doc):
    validator = pytest.importorskip("openapi_spec_validator")
    validate = getattr(validator, "validate", None) or validator.validate_spec  # name before 0.7
    validate(doc)


@pytest.mark.parametrize(
    "path, parameters",
    [
        ("/api/commesse/{ID}", {"ID": "integer"}),
        ("/api/config/{ConfigID}", {"ConfigID": "integer"}),
        ("/api/fasi/commessa/{CommessaERPId}", {"CommessaERPId": "integer"}),
        ("/api/fasi/{FaseID}/stato", {"FaseID": "integer"}),
        ("/api/lotti/{tipo}/", {"tipo": "string"}),
        ("/api/lotti/{tipo}/{LottoID}/close", {"tipo": "string", "LottoID": "integer"}),
        ("/api/lotti/{tipo}/{LottoID}/rettifica", {"tipo": "string", "LottoID": "integer"}),
        ("/api/utenti/{id}", {"id": "integer"}),
    ],
)
def test_paths_use_the_contracts_parameter_names_and_types(doc, path, parameters):
    """SPEC §7 names the path parameters; the document says them as the contract does,
    and a phase type in the path is a string, not a number."""
    assert path in doc["paths"], sorted(doc["paths"])
    for op in doc["paths"][path].values():
        found = {p["name"]: p["schema"]["type"] for p in op["parameters"] if p["in"] == "path"}
        assert found == parameters


# -- every constraint the server enforces is in the document (SPEC §7, issue 12 item 9) --------


def _endpoints(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        meta = getattr(app.view_functions[rule.endpoint], "asigest_api", None)
        if meta is not None:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method.lower(), meta


def _doc_path(rule) -> str:
    from asigest.web.api.openapi import _CONVERTER, _nome

    return _CONVERTER.sub(lambda m: "{" + _nome(m.group(2), rule.rule) + "}", rule.rule)


def _properties(doc, schema_ref) -> list[dict]:
    """The property maps of a request body schema (each choice of a oneOf)."""
    schema = resolve(doc, schema_ref)
    return [s["properties"] for s in schema.get("oneOf", [schema])]


def _input_fields(app, doc):
    """(where, field, documented property) for every field of every input schema."""
    for rule, method, meta in _endpoints(app):
        op = doc["paths"][_doc_path(rule)][method]
        if meta["query"] is not None:
            for name, field in meta["query"].fields.items():
                key = field.data_key or name
                yield f"{method} {rule.rule} ?{key}", field, query_parameter(op, key)["schema"]
        for kind, media in (("body", "application/json"), ("form", "multipart/form-data")):
            schema = meta[kind]
            if schema is None:
                continue
            for properties in _properties(doc, op["requestBody"]["content"][media]["schema"]):
                yield from _campi(doc, f"{method} {rule.rule}", schema, properties)


def _campi(doc, where, schema, properties):
    """The fields of ``schema`` with their documented properties, and those of the
    objects a list of them holds (``Origini`` of an open: each {CodiceLotto, Qta})."""
    from marshmallow import fields

    for name, field in schema.fields.items():
        key = field.data_key or name
        if key not in properties:
            continue
        yield f"{where} {key}", field, properties[key]
        interno = field.inner if isinstance(field, fields.List) else None
        if isinstance(interno, fields.Nested):
            annidato = resolve(doc, properties[key]["items"])["properties"]
            yield from _campi(doc, f"{where} {key}[]", interno.schema, annidato)


def test_every_validator_is_stated_in_the_document(app, doc):
    """Length → minLength/maxLength, Range → minimum/maximum, OneOf → enum, a pattern →
    the same pattern: read from the validators of every input field of every operation."""
    from marshmallow import validate

    from asigest.web.api.base import Modello

    checked = 0
    for where, field, prop in _input_fields(app, doc):
        for v in field.validators:
            if isinstance(v, validate.Length):
                # A list states its length in items, a text in characters.
                massimo, minimo = (
                    ("maxItems", "minItems") if prop.get("type") == "array" else ("maxLength", "minLength")
                )
                if v.max is not None:
                    assert prop.get(massimo, 10**9) <= v.max, (where, prop)
                if v.min:
                    assert prop.get(minimo, 0) >= v.min, (where, prop)
            elif isinstance(v, validate.Range):
                assert prop.get("minimum") == v.min and prop.get("maximum") == v.max, (where, prop)
            elif isinstance(v, validate.OneOf):
                assert set(v.choices) <= set(prop["enum"]), (where, prop)
            elif isinstance(v, Modello):
                assert prop["pattern"] == v.regex.pattern, (where, prop)
            checked += 1
    assert checked >= 100


def test_every_text_input_states_its_shape_and_every_integer_its_bounds(app, doc):
    """A text says at least "no NUL" (a pattern) or lists its values; a number is bounded
    by what an INTEGER holds — so a client (and the fuzzer) knows what is refused."""
    from marshmallow import fields

    from asigest.web.converters import ID_MAX

    for where, field, prop in _input_fields(app, doc):
        if isinstance(field, fields.String):
            assert "pattern" in prop or "enum" in prop or "anyOf" in prop, (where, prop)
            assert "maxLength" in prop or "enum" in prop or "anyOf" in prop, (where, prop)
        if isinstance(field, fields.Integer):
            assert prop["minimum"] >= 0 and prop["maximum"] <= ID_MAX, (where, prop)
        assert not prop.get("nullable") or where.split()[-1][0] != "?", f"{where}: una query non porta null"


def test_offset_and_limit_state_their_bounds(app, doc):
    for rule, method, meta in _endpoints(app):
        if meta["query"] is None or "offset" not in meta["query"].fields:
            continue
        op = doc["paths"][_doc_path(rule)][method]
        assert query_parameter(op, "offset")["schema"] == {
            "type": "integer",
            "default": 0,
            "minimum": 0,
            "maximum": 2**31 - 1,
        }, rule.rule
        assert query_parameter(op, "limit")["schema"]["maximum"] == 500


def test_path_parameters_state_what_the_router_takes(app, doc, client, api_token):
    """Ids: 1–2147483647 (the converter's bound: beyond is 404); a phase type: the
    converter's pattern and the catalog's codes, lowercase as SPEC §7 writes them; a
    CodiceLotto: the label's characters, at most 40."""
    checked = 0
    for path, operations in doc["paths"].items():
        for op in operations.values():
            for p in op["parameters"]:
                if p["in"] != "path":
                    continue
                if p["name"] == "tipo":
                    assert p["schema"]["enum"] == ["smd", "pth", "controlli"]
                    assert p["schema"]["pattern"] == "^[A-Za-z][A-Za-z0-9_]{0,19}$"
                elif p["name"] == "CodiceLotto":
                    assert p["schema"] == {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"}
                else:
                    assert p["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, (path, p)
                checked += 1
    assert checked >= 25
    headers = api_token("ADMIN")
    assert client.get("/api/macchine/2147483647", headers=headers).status_code == 404
    assert client.get("/api/lotti/forno/", headers=headers).status_code == 404
    assert client.get("/api/tracciabilita/" + "A" * 41, headers=headers).status_code == 404


def test_the_idempotency_key_header_is_declared_as_enforced(doc):
    from asigest.web.api.base import _CHIAVE_VALIDA

    for path, method in (
        ("/api/lotti/{tipo}/", "post"),
        ("/api/lotti/{tipo}/{LottoID}/close", "put"),
        ("/api/fermi/", "post"),
        ("/api/fermi/{FermoID}/fine", "put"),
    ):
        (header,) = [p for p in doc["paths"][path][method]["parameters"] if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header["required"] is False
        schema = header["schema"]
        assert (schema["minLength"], schema["maxLength"]) == (1, 100)
        pattern = re.compile(schema["pattern"].replace("$", r"\Z"))
        for key in ["a", "x" * 100, "x" * 101, "con spazio", "è", "\t", "550e8400-e29b-41d4-a716-446655440000"]:
            assert bool(pattern.search(key)) == bool(_CHIAVE_VALIDA.fullmatch(key)), key


def test_every_operation_states_every_status_it_can_answer(app, doc):
    """401 and 503 (database) everywhere, 414 from the HTTP server, 404 where a path has an
    id, 422 where there is input, 409 on writes (RIPROVARE), and what a 400 means."""
    from asigest.web.api.openapi import _ERROR_TEXT

    for rule, method, meta in _endpoints(app):
        responses = doc["paths"][_doc_path(rule)][method]["responses"]
        where = f"{method} {rule.rule}"
        assert {"401", "414", "503"} <= set(responses), where
        if rule.arguments:
            assert "404" in responses, where
        if meta["query"] or meta["body"] or meta["form"]:
            assert "422" in responses, where
        if method != "get":
            assert "409" in responses, where
        if "400" in responses:
            assert responses["400"]["description"] != _ERROR_TEXT[400], f"{where}: quale regola dà il 400?"
        assert responses["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}


def test_deactivating_deletes_are_declared_and_true(doc, client, api_token, db_session):
    """DELETE on a user or a machine deactivates (SPEC §7): the document links the answer
    to the read, which then answers 200 with the flag false."""
    from sqlalchemy import select

    from asigest.models import FaseTipo, Macchina

    headers = api_token("ADMIN")
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-X", descrizione="", fase_tipo_id=tipo.id, attiva=True))
    db_session.commit()
    macchina_id = db_session.scalar(select(Macchina.id).where(Macchina.codice == "SMD-X"))
    utente_id = client.post(
        "/api/utenti/", headers=headers, json={"Matricola": "X9", "Nome": "A", "Cognome": "B", "Ruolo": "OPERATORE"}
    ).json["UtenteID"]
    for path, lettura, campo, ident in (
        ("/api/utenti/{id}", "utente_get", "Attivo", utente_id),
        ("/api/macchine/{id}", "macchina_get", "Attiva", macchina_id),
    ):
        answer = doc["paths"][path]["delete"]["responses"]["204"]
        (link,) = answer["links"].values()
        assert link["operationId"] == lettura and link["x-disattivato"] == {campo: False}
        assert doc["paths"][path]["get"]["operationId"] == lettura
        url = path.replace("{id}", str(ident))
        assert client.delete(url, headers=headers).status_code == 204
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.json[campo] is False


def test_links_lead_to_operations_that_exist_with_their_parameters(doc):
    operations = {op["operationId"]: (path, op) for path, ops in doc["paths"].items() for op in ops.values()}
    checked = 0
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    target_path, target = operations[link["operationId"]]
                    names = {p["name"] for p in target["parameters"] if p["in"] == "path"}
                    assert set(link["parameters"]) == names, (path, link)
                    checked += 1
    assert checked >= 30


def test_catalog_codes_follow_the_catalog(app, client, db_session):
    """The phase types a body may name are today's (an admin may add or retire one)."""
    from asigest.models import FaseTipo

    db_session.add(FaseTipo(codice="FORNO", descrizione="Forno", ordine=40, documenti_richiesti=[], attivo=False))
    db_session.commit()
    doc = client.get("/api/openapi.json").json
    schemas = doc["components"]["schemas"]
    assert schemas["FaseCreate"]["properties"]["FaseTipo"]["enum"] == ["SMD", "PTH", "CONTROLLI", "FORNO"]
    assert schemas["MacchinaCrea"]["properties"]["FaseTipo"]["enum"] == ["SMD", "PTH", "CONTROLLI"]
    assert schemas["CausaleCrea"]["properties"]["FaseTipo"]["enum"] == ["SMD", "PTH", "CONTROLLI", "", None]
    tipi = doc["paths"]["/api/lotti/{tipo}/"]["get"]["parameters"][0]["schema"]["enum"]
    assert tipi == ["smd", "pth", "controlli", "forno"]
    documento = doc["paths"]["/api/documenti/{id}/file"]["get"]["responses"]["200"]["content"]
    assert set(documento) == set(app.config["DOCUMENT_EXTENSIONS"].values())


def test_the_document_is_valid_openapi(doc):
    """Checked with the meta-schema schemathesis loads it with (the fuzzer's own reading)."""
    import schemathesis

    schemathesis.openapi.from_dict(doc).validate()


def test_origini_of_an_open_are_documented(doc):
    """R14: the sources a caller names, with their constraints and the 422 codes."""
    operazione = doc["paths"]["/api/lotti/{tipo}/"]["post"]
    corpo = resolve(doc, operazione["requestBody"]["content"]["application/json"]["schema"])
    origini = corpo["properties"]["Origini"]
    assert origini["type"] == "array" and origini["maxItems"] == 50
    origine = resolve(doc, origini["items"])
    assert origine["required"] == ["CodiceLotto"]
    assert origine["properties"]["CodiceLotto"]["maxLength"] == 40
    assert origine["properties"]["Qta"]["minimum"] == 1
    assert origine.get("additionalProperties") is False
    assert "ORIGINE_INSUFFICIENTE" in operazione["responses"]["422"]["description"]
