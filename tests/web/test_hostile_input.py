"""Hostile input never reaches the database as an error (SPEC §7, issue 12 items 1–2).

Every case is derived from the application itself — its ``url_map``, and the marshmallow
schemas ``@endpoint`` validates with — so a new route, body field or query parameter is
covered the day it is added. Run on SQLite and on PostgreSQL (``ASIGEST_TEST_DATABASE_URL``):
PostgreSQL refuses an integer from 2³¹ and a NUL, SQLite an integer from 2⁶³.

- ids beyond what an INTEGER holds, in any path, are 404;
- ``offset`` and id filters beyond it are 422 naming the parameter;
- text with a NUL or a lone UTF-16 surrogate is 422 naming the field on the API (body,
  query, multipart), 400 with the Italian message on pages, the kiosk and the login;
- JSON nested deeper than 32 levels is 422, whatever the depth (no RecursionError);
and in every case nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from marshmallow import fields
from sqlalchemy import func, select

from asigest.web.api.base import MAX_PROFONDITA_JSON
from asigest.web.input_guard import TESTO_NON_AMMESSO
from tests.conftest import csrf_from
from tests.web.test_access import is_api, is_kiosk

HUGE = [2**31, 2**63, 2**64, 10**40]
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
NUL, SURROGATE = "a\x00b", "a\ud800b"
MESSAGE = "caratteri non ammessi"


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)


def _url(rule, **values) -> str:
    """The rule's path: ``values`` for named arguments, 1 for ids, smd for a phase type, a
    machine code otherwise."""

    def value(match):
        converter, name = match.group(1), match.group(2)
        if name in values:
            return str(values[name])
        return {"int": "1", "fase_tipo": "smd"}.get(converter, "SMD-9")

    return _ARGUMENT.sub(value, rule.rule)


def _api_endpoints(app):
    """(rule, method, meta) for every ``@endpoint`` view."""
    found = []
    for rule in _rules(app):
        meta = getattr(app.view_functions[rule.endpoint], "asigest_api", None)
        if meta is not None:
            found.extend((rule, method, meta) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return found


@pytest.fixture
def admin(api_token):
    return api_token("ADMIN")


@pytest.fixture
def office(client, login, macchina_smd):
    """An ADMIN logged in on the pages, with a kiosk machine to address."""
    login("ADMIN")
    return client


def _all_rules_of_the_app():
    """An app built only to read its routes while collecting tests (nothing connects)."""
    import tempfile

    from asigest import create_app

    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tempfile.mkdtemp(),
            "DATABASE_URL": "sqlite://",
            "ERP_URL": "sqlite://",
            "SECRET_KEY": "x",
        }
    )


# -- 1. integers beyond an INTEGER -------------------------------------------------------


def test_every_int_argument_of_every_route_is_bounded(app):
    """No ``<int:…>`` escapes the bounded converter (it replaces werkzeug's app-wide)."""
    from asigest.web.converters import ID_MAX, IdConverter

    found = 0
    for rule in _rules(app):
        for _name, converter in rule._converters.items():
            assert type(converter).__name__ != "IntegerConverter" or isinstance(converter, IdConverter), rule.rule
            if isinstance(converter, IdConverter):
                assert (converter.min, converter.max) == (1, ID_MAX), rule.rule
                found += 1
    assert found >= 30  # the API's ids and the pages' (admin, registro, documenti, kiosk labels…)


@pytest.mark.parametrize("huge", HUGE)
def test_an_id_beyond_the_database_is_404_on_every_api_route(app, client, admin, row_count, huge):
    before = row_count()
    checked = 0
    for rule, method, _meta in _api_endpoints(app):
        ints = [n for n, c in rule._converters.items() if type(c).__name__ == "IdConverter"]
        for name in ints:
            url = _url(rule, **{name: huge})
            response = client.open(url, method=method, headers=admin, json={} if method in ("POST", "PUT") else None)
            assert response.status_code == 404, f"{method} {url}: {response.status_code} {response.text[:200]}"
            assert response.json["code"] == "NOT_FOUND"
            checked += 1
    assert checked >= 20
    assert row_count() == before


@pytest.mark.parametrize("huge", [2**31, 2**63])
def test_an_id_beyond_the_database_is_404_on_every_page(app, office, row_count, huge):
    """Pages and the kiosk too: ``/lotti/<id>/etichetta``, ``/documenti/<id>/file``,
    ``/admin/utenti/<id>``… (writes carry their CSRF token, so only the id can refuse them)."""
    token = csrf_from(office.get("/admin/utenti").text)
    before = row_count()
    checked = 0
    for rule in _rules(app):
        if is_api(rule):
            continue
        ints = [n for n, c in rule._converters.items() if type(c).__name__ == "IdConverter"]
        for name in ints:
            url = _url(rule, **{name: huge})
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                data = {"csrf_token": token} if method != "GET" else None
                response = office.open(url, method=method, data=data)
                assert response.status_code == 404, f"{method} {url}: {response.status_code}"
                checked += 1
    assert checked >= 20
    assert row_count() == before


@pytest.mark.parametrize("value", ["0", "-1", "007", "١٢", "1e3", "2147483648"])
def test_ids_the_router_does_not_take_are_404(client, admin, value):
    response = client.get(f"/api/lotti/smd/{value}", headers=admin)
    assert response.status_code == 404


def _query_integer_params(app):
    """(path, method, parameter) for every integer query parameter of the API."""
    found = []
    for rule, method, meta in _api_endpoints(app):
        schema = meta["query"]
        if schema is None:
            continue
        for name, field in schema.fields.items():
            if isinstance(field, fields.Integer):
                found.append((rule, method, field.data_key or name))
    return found


@pytest.mark.parametrize("huge", [2**31, 2**63, 2**64])
def test_offset_and_id_filters_beyond_an_integer_are_422_naming_them(app, client, admin, huge):
    """``offset`` above 2,147,483,647 is 422 (SPEC §7), and so is any id filter."""
    params = _query_integer_params(app)
    names = {name for _rule, _method, name in params}
    assert {"offset", "limit", "FaseID", "MacchinaID", "CommessaERPId"} <= names
    offsets = {rule.rule for rule, _m, name in params if name == "offset"}
    assert {
        "/api/config/",
        "/api/utenti/",
        "/api/macchine/",
        "/api/causali/",
        "/api/commesse/",
        "/api/commesse/search",
        "/api/lotti/<fase_tipo:tipo>/",
    } <= offsets
    for rule, method, name in params:
        url = _url(rule) + f"?{name}={huge}" + ("&q=x" if rule.rule.endswith("/search") else "")
        response = client.open(url, method=method, headers=admin)
        assert response.status_code == 422, f"{url}: {response.status_code} {response.text[:200]}"
        assert list(response.json["errors"]) == [name], url


def test_the_largest_offset_is_an_empty_page(client, admin):
    for path in (
        "/api/config/",
        "/api/utenti/",
        "/api/macchine/",
        "/api/causali/",
        "/api/commesse/",
        "/api/lotti/smd/",
    ):
        response = client.get(f"{path}?offset={2**31 - 1}", headers=admin)
        assert response.status_code == 200 and response.json == [], path


@pytest.mark.parametrize("value", ["１２", " 5", "5.0", "1e3", "+5", "", "0x10"])
def test_integers_in_a_query_string_are_plain_ascii_digits(client, admin, value):
    response = client.get("/api/lotti/smd/", query_string={"FaseID": value}, headers=admin)
    assert response.status_code == 422 and list(response.json["errors"]) == ["FaseID"]


@pytest.mark.parametrize("value", ["", "1", "yes", "on", "True", "TRUE"])
def test_booleans_in_a_query_string_are_true_or_false(client, admin, value):
    response = client.get("/api/macchine/", query_string={"Attiva": value}, headers=admin)
    assert response.status_code == 422 and list(response.json["errors"]) == ["Attiva"]
    assert client.get("/api/macchine/?Attiva=false", headers=admin).status_code == 200


def test_a_query_parameter_given_twice_is_422(client, admin):
    response = client.get("/api/lotti/smd/?MacchinaID=1&MacchinaID=2", headers=admin)
    assert response.status_code == 422 and list(response.json["errors"]) == ["MacchinaID"]


# Page parameters that are numbers somewhere (paging, filters, keyset paging, kiosk forms).
PAGE_NUMBERS = (
    "offset",
    "limit",
    "prima",
    "pagina",
    "commessa",
    "commessa_id",
    "macchina",
    "operatore",
    "utente",
    "entita_id",
    "lotto_id",
    "fase",
    "causale",
    "qta_input",
    "qta_output",
    "qta_scarti",
    "ordine",
)


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 5000, "-1", "１２", "²", "1e5", "0x1f", "nan"])
def test_page_numbers_never_answer_500(app, office, value):
    """Pages clamp or refuse (400 with the message) a paging or filter number they cannot
    use; none answers 500."""
    query = dict.fromkeys(PAGE_NUMBERS, value)
    checked = 0
    for rule in _rules(app):
        if is_api(rule) or "GET" not in rule.methods or rule.rule in ("/logout",):
            continue
        url = _url(rule)
        response = office.get(url, query_string=query)
        assert response.status_code < 500, f"GET {url}?…={value[:20]}: {response.status_code}"
        checked += 1
    assert checked >= 25


# -- 2. text a column cannot hold ----------------------------------------------------------


def _body_string_fields(app):
    """(rule, method, field) for every JSON string field of every body schema."""
    found = []
    for rule, method, meta in _api_endpoints(app):
        schema = meta["body"]
        if schema is None:
            continue
        for name, field in schema.fields.items():
            if isinstance(field, fields.String) and not field.dump_only:
                found.append((rule, method, field.data_key or name))
    return found


def _body_cases():
    app = _all_rules_of_the_app()
    return [
        pytest.param(rule.rule, method, name, id=f"{method} {rule.rule} {name}")
        for rule, method, name in _body_string_fields(app)
    ]


@pytest.mark.parametrize("text", [NUL, SURROGATE, "\x00", "\udfff", "ok\ud83d"], ids=repr)
@pytest.mark.parametrize("path, method, name", _body_cases())
def test_every_body_text_field_refuses_nul_and_lone_surrogates(app, client, admin, row_count, path, method, name, text):
    rule = next(r for r in app.url_map.iter_rules() if r.rule == path)
    before = row_count()
    body = json.dumps({name: text})  # json.dumps writes the lone surrogate as "\ud800", as a client would
    response = client.open(_url(rule), method=method, data=body, content_type="application/json", headers=admin)
    assert response.status_code == 422, f"{method} {path} {name}: {response.status_code} {response.text[:200]}"
    assert response.json["errors"] == {name: [TESTO_NON_AMMESSO]}
    assert row_count() == before


def test_the_body_fields_list_is_complete(app):
    """The sweep above reaches every text field the issue found failing."""
    names = {name for _rule, _method, name in _body_string_fields(app)}
    assert {
        "Note",
        "NoteScarti",
        "CausaleScarto",
        "DIBA",
        "Revisione",
        "FaseTipo",
        "Motivo",
        "Matricola",
        "Nome",
        "Cognome",
        "Pin",
        "Password",
        "Codice",
        "Descrizione",
        "Reparto",
    } <= names


def test_a_valid_surrogate_pair_is_an_ordinary_character(client, admin, make_config):
    config = make_config(101)
    response = client.put(
        f"/api/config/{config.id}",
        headers=admin,
        data=json.dumps({"Note": "ok \U0001f600"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.text
    assert response.json["Note"] == "ok \U0001f600"


@pytest.mark.parametrize("where", ["key", "nested"])
def test_nul_in_a_key_or_inside_a_nested_value_is_refused_too(client, admin, row_count, make_config, where):
    config = make_config(101)
    body = {"No\x00te": "x"} if where == "key" else {"Note": ["a", {"b": "c\x00"}]}
    before = row_count()
    response = client.put(f"/api/config/{config.id}", headers=admin, json=body)
    assert response.status_code == 422
    assert list(response.json["errors"]) == (["_body"] if where == "key" else ["Note"])
    assert row_count() == before


def _query_string_params(app):
    found = []
    for rule, method, meta in _api_endpoints(app):
        schema = meta["query"]
        if schema is None:
            continue
        for name, field in schema.fields.items():
            found.append((rule, method, field.data_key or name))
    return found


def test_every_query_parameter_refuses_nul(app, client, admin, row_count):
    before = row_count()
    params = _query_string_params(app)
    assert {"q", "FaseTipo", "CODART", "Ruolo", "da"} <= {name for _r, _m, name in params}
    for rule, method, name in params:
        url = _url(rule)
        response = client.open(url, method=method, query_string={name: NUL}, headers=admin)
        assert response.status_code == 422, f"{url}?{name}: {response.status_code} {response.text[:200]}"
        assert response.json["errors"] == {name: [TESTO_NON_AMMESSO]}, url
    # An unknown parameter is ignored, but not with a NUL in it.
    response = client.get("/api/causali/", query_string={"altro": "\x00"}, headers=admin)
    assert response.status_code == 422
    assert row_count() == before


def test_a_nul_search_no_longer_matches_every_order(client, admin):
    response = client.get("/api/commesse/search", query_string={"q": "\x00"}, headers=admin)
    assert response.status_code == 422 and list(response.json["errors"]) == ["q"]
    assert client.get("/api/causali/?FaseTipo=%00", headers=admin).status_code == 422


def test_invalid_utf8_in_a_query_string_is_not_a_500(client, admin):
    response = client.get("/api/commesse/search?q=%ED%A0%80", headers=admin)  # a surrogate encoded as UTF-8
    assert response.status_code == 200  # werkzeug reads it as U+FFFD, an ordinary character


@pytest.mark.parametrize("field", ["Tipo", "Titolo", "Revisione", "CODART", "CommessaERPId"])
@pytest.mark.parametrize("text", [NUL, "\x00"], ids=repr)
def test_multipart_fields_refuse_nul(client, api_token, row_count, field, text):
    import io

    data = {"file": (io.BytesIO(b"%PDF-1.4\n"), "a.pdf"), "Tipo": "DIBA", "Titolo": "T", field: text}
    headers = api_token("SUPERVISORE")
    before = row_count()
    response = client.post("/api/documenti/", data=data, headers=headers, content_type="multipart/form-data")
    assert response.status_code == 422 and response.json["errors"] == {field: [TESTO_NON_AMMESSO]}
    assert row_count() == before


@pytest.mark.parametrize("depth", [MAX_PROFONDITA_JSON + 1, 1_000, 100_000])
@pytest.mark.parametrize("shape", ["array", "object", "in a field"])
def test_json_nested_too_deep_is_422_without_recursing(client, admin, row_count, make_config, depth, shape):
    config = make_config(101)
    if shape == "array":
        body = "[" * depth + "]" * depth
    elif shape == "object":
        body = '{"a":' * depth + "1" + "}" * depth
    else:
        body = '{"Note": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    before = row_count()
    response = client.put(f"/api/config/{config.id}", headers=admin, data=body, content_type="application/json")
    assert response.status_code == 422, response.text[:200]
    assert response.json["errors"] == {"_body": ["JSON annidato troppo in profondità: al massimo 32 livelli."]}
    assert row_count() == before


def test_json_at_the_depth_limit_reaches_the_schema(client, admin, make_config):
    """32 levels is allowed: the refusal is the schema's (Note must be a text), not the depth's."""
    config = make_config(101)
    body = '{"Note": ' + "[" * (MAX_PROFONDITA_JSON - 1) + "]" * (MAX_PROFONDITA_JSON - 1) + "}"
    response = client.put(f"/api/config/{config.id}", headers=admin, data=body, content_type="application/json")
    assert response.status_code == 422 and list(response.json["errors"]) == ["Note"]


def test_brackets_inside_strings_do_not_count_as_depth(client, admin, make_config):
    config = make_config(101)
    body = json.dumps({"Note": "[" * 200 + '\\"{' * 50})
    response = client.put(f"/api/config/{config.id}", headers=admin, data=body, content_type="application/json")
    assert response.status_code == 200, response.text[:300]


@pytest.mark.parametrize("body", [b"\xff\xfe\x00", b'{"Note": "\xed\xa0\x80"}', b"", b"nan"])
def test_bytes_that_are_not_json_are_422(client, admin, make_config, body):
    config = make_config(101)
    response = client.put(f"/api/config/{config.id}", headers=admin, data=body, content_type="application/json")
    assert response.status_code == 422 and list(response.json["errors"]) == ["_body"]


# -- pages, kiosk and login ----------------------------------------------------------------


def test_every_page_refuses_nul_in_the_query_string(app, office, row_count):
    before = row_count()
    checked = 0
    for rule in _rules(app):
        if is_api(rule) or "GET" not in rule.methods:
            continue
        url = _url(rule)
        response = office.get(url, query_string={"q": NUL})
        assert response.status_code == 400, f"GET {url}: {response.status_code}"
        assert MESSAGE in response.text
        checked += 1
    assert checked >= 25
    assert row_count() == before


def test_htmx_gets_the_refusal_inline(office):
    response = office.get("/lotti", query_string={"q": NUL}, headers={"HX-Request": "true"})
    assert MESSAGE in response.text and "<html" not in response.text
    assert response.headers["HX-Retarget"] == "#messages"


def test_login_with_a_nul_is_400_and_records_no_attempt(client, db_session, make_user):
    from asigest.models import TentativoAccesso

    make_user("ADMIN", matricola="CAPO")
    token = csrf_from(client.get("/login").text)
    before = db_session.scalar(select(func.count()).select_from(TentativoAccesso))
    response = client.post("/login", data={"matricola": "CA\x00PO", "password": "x", "csrf_token": token})
    assert response.status_code == 400 and MESSAGE in response.text
    assert db_session.scalar(select(func.count()).select_from(TentativoAccesso)) == before


@pytest.mark.parametrize("text", [NUL, "\x00"], ids=repr)
def test_page_forms_refuse_nul(app, office, row_count, text):
    """Every page write (CSRF token included) with a NUL in a field is 400 and writes nothing."""
    token = csrf_from(office.get("/admin/utenti").text)
    before = row_count()
    checked = 0
    for rule in _rules(app):
        if is_api(rule) or rule.rule in ("/logout",) or not ({"POST", "PUT", "DELETE"} & rule.methods):
            continue
        for method in sorted({"POST", "PUT", "DELETE"} & rule.methods):
            response = office.open(_url(rule), method=method, data={"csrf_token": token, "nome": text})
            assert response.status_code == 400, f"{method} {rule.rule}: {response.status_code}"
            checked += 1
    assert checked >= 20
    assert row_count() == before


def test_a_kiosk_path_with_a_nul_is_400(app, client):
    for rule in _rules(app):
        if is_kiosk(rule) or rule.rule == "/kiosk/<codice>":
            url = _url(rule, codice="SMD%00")
            response = client.open(url, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])
            assert response.status_code == 400, f"{url}: {response.status_code}"


def test_a_client_address_with_a_nul_is_refused(client, admin):
    """Behind ProxyFix the address is what X-Forwarded-For said; it ends up in the audit log."""
    response = client.get("/api/macchine/", headers=admin, environ_base={"REMOTE_ADDR": "10.0.0.1\x00"})
    assert response.status_code == 422 and list(response.json["errors"]) == ["remote_addr"]
    response = client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.1\x00"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 5000, "-1", "１２"])
def test_kiosk_forms_never_answer_500_on_numbers(app, client, make_user, macchina_smd, row_count, value):
    """The kiosk's open and close forms with numbers no row or quantity can be: a message,
    never a 500, nothing written."""
    from tests.web.test_access import _kiosk_session

    operatore = make_user("OPERATORE", password=None, pin="1234")
    _kiosk_session(client, macchina_smd, operatore.id)
    token = csrf_from(client.get(f"/kiosk/{macchina_smd}/commessa").text)
    before = row_count()
    for azione in ("apri", "chiudi"):
        response = client.post(
            f"/kiosk/{macchina_smd}/{azione}",
            data={
                "csrf_token": token,
                **dict.fromkeys(("commessa_id", "lotto_id", "qta_input", "qta_output", "qta_scarti"), value),
            },
        )
        assert response.status_code < 500, f"{azione}: {response.status_code}"
    assert row_count() == before


def test_a_method_no_route_takes_is_405_whatever_the_body(client, admin):
    """No view runs, so nothing is read: the answer is the router's (405 with Allow)."""
    response = client.put(
        "/api/documenti/", data={"Titolo": "a\x00b"}, headers=admin, content_type="multipart/form-data"
    )
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    response = client.put("/lotti", data={"q": "a\x00b"})
    assert response.status_code == 405


@pytest.mark.parametrize("q", ["³", "²5", "٣", "2026/²"])
def test_a_search_for_digits_int_cannot_read_is_plain_text(client, admin, office, q):
    """Found by the fuzzer: "³".isdigit() is true but int("³") fails (a 500 on the API and
    on the orders page)."""
    assert client.get("/api/commesse/search", query_string={"q": q}, headers=admin).status_code == 200
    assert client.get("/api/commesse/", query_string={"q": q}, headers=admin).status_code == 200
    assert office.get("/commesse", query_string={"q": q}).status_code == 200


def test_counting_the_depth_is_linear_in_the_body(client, admin, make_config):
    """The depth is counted in one pass: a megabyte of escaped quotes with no closing one
    (quadratic for a scan that retries at every quote: minutes) is answered at once."""
    import time

    config = make_config(101)
    body = '{"Note": "' + '\\"' * 500_000
    inizio = time.monotonic()
    response = client.put(f"/api/config/{config.id}", headers=admin, data=body, content_type="application/json")
    assert response.status_code == 422
    assert time.monotonic() - inizio < 5


def test_every_pattern_of_the_api_is_checked_in_linear_time(app):
    """A pattern validator sees texts of any length (marshmallow runs it even after the
    length check failed): none may backtrack quadratically on a long text."""
    import time

    from asigest.web.api.base import Modello

    modelli = {
        v.regex.pattern: v
        for _rule, _method, meta in _api_endpoints(app)
        for schema in (meta["query"], meta["body"], meta["form"])
        if schema is not None
        for field in schema.fields.values()
        for v in field.validators
        if isinstance(v, Modello)
    }
    assert len(modelli) >= 5
    for pattern, modello in modelli.items():
        for testo in (" " * 400_000 + "a" * 400_000 + "\x00", "a" * 800_000 + "\x00", "A-" * 400_000 + " "):
            inizio = time.monotonic()
            with contextlib.suppress(Exception):
                modello(testo)
            assert time.monotonic() - inizio < 2, pattern
