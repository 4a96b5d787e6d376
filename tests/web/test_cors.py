"""CORS (SPEC §7, web/cors.py): only the origins in ASIGEST_CORS_ORIGINS, none by default;
preflights answered without a token; never credentials, with a wildcard or without."""

from __future__ import annotations

import pytest

from asigest.web import cors

PERMESSA = "http://localhost:5173"
ALTRA = "http://evil.example:5173"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


@pytest.fixture
def app_cors(make_app, api_token):
    return make_app(CORS_ORIGINS=f"{PERMESSA}, https://mes.fabbrica.lan")


def test_origins_setting_is_parsed_and_checked():
    assert cors.origini(None) == ()
    assert cors.origini("") == ()
    assert cors.origini(" HTTP://LocalHost:5173 ,https://mes.lan  https://mes.lan") == (
        "http://localhost:5173",
        "https://mes.lan",
    )
    assert cors.origini("*") == ("*",)
    assert cors.origini(["http://[::1]:8080"]) == ("http://[::1]:8080",)
    for sbagliata in ("http://localhost:5173/", "localhost:5173", "ftp://x", "http://x/app", "http://x:123456"):
        with pytest.raises(ValueError, match="ASIGEST_CORS_ORIGINS"):
            cors.origini(sbagliata)


def test_invalid_setting_stops_the_start(make_app):
    with pytest.raises(ValueError, match="non è un'origine"):
        make_app(CORS_ORIGINS="http://localhost:5173/app")


def test_default_allows_no_origin(client, api_token):
    risposta = client.options("/api/commesse/", headers={"Origin": PERMESSA, **PREFLIGHT})
    assert risposta.status_code == 403
    assert risposta.get_json()["code"] == "ORIGINE_NON_CONSENTITA"
    assert "Access-Control-Allow-Origin" not in risposta.headers
    risposta = client.get("/api/commesse/", headers={"Origin": PERMESSA, **api_token()})
    assert risposta.status_code == 200
    assert "Access-Control-Allow-Origin" not in risposta.headers


def test_preflight_of_allowed_origin_needs_no_token(app_cors):
    client = app_cors.test_client()
    for percorso in ("/api/commesse/", "/api/lotti/smd/", "/api/lotti/smd/5/close", "/health"):
        risposta = client.options(percorso, headers={"Origin": PERMESSA, **PREFLIGHT})
        assert risposta.status_code == 204, (percorso, risposta.get_data(as_text=True))
        assert risposta.headers["Access-Control-Allow-Origin"] == PERMESSA
        assert "POST" in risposta.headers["Access-Control-Allow-Methods"]
        assert "PUT" in risposta.headers["Access-Control-Allow-Methods"]
        intestazioni = risposta.headers["Access-Control-Allow-Headers"].lower()
        assert {"authorization", "content-type", "idempotency-key"} <= {h.strip() for h in intestazioni.split(",")}
        assert "Origin" in risposta.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in risposta.headers


def test_preflight_of_other_origin_is_refused(app_cors):
    client = app_cors.test_client()
    risposta = client.options("/api/commesse/", headers={"Origin": ALTRA, **PREFLIGHT})
    assert risposta.status_code == 403
    assert risposta.get_json()["code"] == "ORIGINE_NON_CONSENTITA"
    assert ALTRA in risposta.get_json()["detail"]
    assert not [h for h, _ in risposta.headers.items() if h.lower().startswith("access-control-")]


def test_answers_name_the_allowed_origin_only(app_cors, api_token):
    client = app_cors.test_client()
    token = api_token()
    risposta = client.get("/api/commesse/", headers={"Origin": PERMESSA, **token})
    assert risposta.status_code == 200
    assert risposta.headers["Access-Control-Allow-Origin"] == PERMESSA
    assert "Origin" in risposta.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in risposta.headers
    # Errors carry it too, so the page can read the message.
    risposta = client.get("/api/commesse/", headers={"Origin": PERMESSA})
    assert risposta.status_code == 401
    assert risposta.headers["Access-Control-Allow-Origin"] == PERMESSA
    risposta = client.get("/api/commesse/", headers={"Origin": ALTRA, **token})
    assert risposta.status_code == 200  # the server answers; the browser withholds it from ALTRA's page
    assert "Access-Control-Allow-Origin" not in risposta.headers
    assert "Origin" in risposta.headers["Vary"]


def test_a_preflight_still_needs_a_token_for_the_real_call(app_cors):
    client = app_cors.test_client()
    assert client.options("/api/commesse/", headers={"Origin": PERMESSA, **PREFLIGHT}).status_code == 204
    assert client.get("/api/commesse/", headers={"Origin": PERMESSA}).status_code == 401


def test_pages_and_kiosk_are_never_shared(app_cors):
    client = app_cors.test_client()
    for percorso in ("/login", "/kiosk/SMD-L1"):
        risposta = client.get(percorso, headers={"Origin": PERMESSA})
        assert "Access-Control-Allow-Origin" not in risposta.headers, percorso
    risposta = client.options("/login", headers={"Origin": PERMESSA, **PREFLIGHT})
    assert "Access-Control-Allow-Origin" not in risposta.headers


def test_wildcard_never_with_credentials(make_app, api_token):
    client = make_app(CORS_ORIGINS="*").test_client()
    risposta = client.options("/api/commesse/", headers={"Origin": ALTRA, **PREFLIGHT})
    assert risposta.status_code == 204
    assert risposta.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in risposta.headers
    risposta = client.get("/api/commesse/", headers={"Origin": ALTRA, **api_token()})
    assert risposta.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in risposta.headers


def test_environment_setting(monkeypatch, make_app):
    monkeypatch.setenv("ASIGEST_CORS_ORIGINS", "http://10.0.0.5:8080 http://localhost:5173")
    assert make_app().config["CORS_ORIGINS"] == ("http://10.0.0.5:8080", "http://localhost:5173")
