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
