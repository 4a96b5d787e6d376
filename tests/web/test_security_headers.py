"""Security headers on every kind of answer, a CSP the pages really respect (no inline
script or style), the vendored htmx, the CSRF token for htmx, and the public /health."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest

from tests.conftest import csrf_from

INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.S | re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
HX_ON = re.compile(r"\shx-on[:-]", re.I)


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"nessuna CSP su {response.request.path}"
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response):
    csp = csp_directives(response)
    for directive in ("script-src", "style-src"):
        sources = csp.get(directive, csp.get("default-src"))
        assert sources, f"{directive} assente"
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, csp
        assert "*" not in sources
    assert csp.get("default-src") == ["'self'"]
    assert csp.get("object-src") == ["'none'"]
    assert csp.get("frame-ancestors") == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}


def assert_no_inline_code(page: str, label: str):
    for body in INLINE_SCRIPT.findall(page):
        assert not body.strip(), f"{label}: script inline {body[:80]!r}"
    assert not STYLE_ATTRIBUTE.search(page), f"{label}: attributo style="
    assert "<style" not in page.lower(), f"{label}: elemento <style>"
    assert not EVENT_HANDLER.search(page), f"{label}: gestore evento inline (on...=)"
    assert not HX_ON.search(page), f"{label}: hx-on richiede eval, vietato dalla CSP"


@pytest.fixture
def pages(client, login, make_config):
    """Rendered HTML of every kind of page: login, list, card (configured), 404."""
    rendered = {"login": client.get("/login")}
    login()
    make_config(101, note="nota")
    rendered["commesse"] = client.get("/commesse")
    rendered["risultati htmx"] = client.get("/commesse", headers={"HX-Request": "true"})
    rendered["scheda"] = client.get("/commesse/101")
    rendered["404"] = client.get("/commesse/999999")
    rendered["pagina inesistente"] = client.get("/non-esiste")
    assert [r.status_code for r in rendered.values()] == [200, 200, 200, 200, 404, 404]
    return rendered


def test_pages_carry_the_security_headers(pages):
    for response in pages.values():
        assert_security_headers(response)


def test_pages_contain_no_inline_script_style_or_handlers(pages):
    for label, response in pages.items():
        assert_no_inline_code(response.text, label)


def test_api_answers_and_errors_carry_the_security_headers(client, api_token):
    headers = api_token("OPERATORE")
    for response in (
        client.get("/api/commesse/", headers=headers),
        client.get("/api/commesse/999999", headers=headers),
        client.get("/api/commesse/"),  # 401
        client.get("/api/openapi.json"),
        client.get("/health"),
    ):
        assert_security_headers(response)
        assert response.headers["Content-Type"].startswith("application/json")


def test_pages_and_api_answers_are_not_cached(pages, client, api_token):
    assert "no-store" in pages["commesse"].headers["Cache-Control"]
    assert "no-store" in client.get("/api/commesse/", headers=api_token("OPERATORE")).headers["Cache-Control"]


def test_htmx_is_vendored_and_loaded_from_static(client, pages):
    response = client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    assert b"htmx" in response.data[:200]
    assert_security_headers(response)
    for label in ("login", "commesse", "scheda", "404"):
        assert re.search(
            r'<script src="/static/vendor/htmx/htmx\.min\.js\?v=[0-9a-f]{12}"[^>]*></script>', pages[label].text
        ), label


def test_htmx_is_configured_for_the_csp(pages):
    """htmx must neither inject its indicator <style> nor eval code: the CSP forbids both."""
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", pages["login"].text)
    assert meta, "meta htmx-config mancante"
    config = json.loads(html_lib.unescape(meta.group(1)))
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False


def test_body_sends_the_csrf_token_to_htmx(client, pages):
    for label in ("login", "commesse"):
        page = pages[label].text
        body = re.search(r"<body[^>]*\shx-headers='([^']*)'", page)
        assert body, f"{label}: <body> senza hx-headers"
        token = json.loads(html_lib.unescape(body.group(1)))["X-CSRFToken"]
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert token == form_token
    # …and the server accepts it as a header, the way htmx sends it.
    token = csrf_from(pages["commesse"].text)
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 302


def test_health_is_public_and_matches_the_contract(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"status", "version", "databases", "license"}
    assert body["status"] == "ok"
    assert isinstance(body["version"], str) and body["version"]
    assert body["databases"] == {"asigest": "ok", "erp": "ok"}
    assert set(body["license"]) == {"status", "licensee", "expiry"}
    assert body["license"]["status"] in {"VALID", "EXPIRING", "EXPIRED", "INVALID", "MISSING"}


def test_health_reports_an_unreachable_erp(make_app, tmp_path):
    from asigest.dialects import sqlite_readonly_url

    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    response = broken.test_client().get("/health")
    assert response.status_code == 200  # ASI-GEST itself is up
    assert response.json["status"] == "degraded"
    assert response.json["databases"] == {"asigest": "ok", "erp": "unreachable"}


# -- every kind of answer (issue 7 sweep) ------------------------------------------------


@pytest.fixture
def boom_app(make_app):
    """An extra app with a page route and an API route that crash (marked public so an
    anonymous request reaches them), answered by the 500 handler as in production."""
    from asigest.web.access import public

    extra = make_app(PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("guasto simulato")

    extra.add_url_rule("/guasto", endpoint="pages.guasto", view_func=public(boom))
    extra.add_url_rule("/api/guasto", endpoint="api.guasto", view_func=public(boom))
    return extra


def every_kind_of_answer(client, login, api_token, macchina_smd):
    """``{label: response}``: pages, fragments, JSON, redirects, static files and every
    error the app can answer with, anonymous and logged in."""
    headers = api_token("OPERATORE")
    answers = {
        "login": client.get("/login"),
        "redirect al login": client.get("/commesse"),
        "htmx 401": client.get("/commesse", headers={"HX-Request": "true"}),
        "kiosk badge": client.get(f"/kiosk/{macchina_smd}"),
        "kiosk inesistente": client.get("/kiosk/NON-ESISTE"),
        "health": client.get("/health"),
        "openapi": client.get("/api/openapi.json"),
        "static css": client.get("/static/css/app.css"),
        "static 404": client.get("/static/non-esiste.js"),
        "404 pagina": client.get("/non-esiste"),
        "405 pagina": client.get("/logout"),
        "CSRF 400": client.post("/login", data={"matricola": "X", "password": "y"}),
        "api 401": client.get("/api/commesse/"),
        "api 200": client.get("/api/commesse/", headers=headers),
        "api 404": client.get("/api/commesse/999999", headers=headers),
        "api 405": client.delete("/api/commesse/", headers=headers),
        "api 422": client.get("/api/commesse/", query_string={"limit": "mille"}, headers=headers),
        "api 404 indirizzo": client.get("/api/non-esiste", headers=headers),
    }
    login("ADMIN")
    answers.update(
        {
            "pagina": client.get("/commesse"),
            "frammento htmx": client.get("/commesse", headers={"HX-Request": "true"}),
            "dashboard": client.get("/dashboard"),
            "redirect dopo logout": client.post(
                "/logout", headers={"X-CSRFToken": csrf_from(client.get("/commesse").text)}
            ),
        }
    )
    return answers


def test_every_kind_of_answer_carries_the_security_headers(client, login, api_token, macchina_smd):
    answers = every_kind_of_answer(client, login, api_token, macchina_smd)
    statuses = {label: r.status_code for label, r in answers.items()}
    assert statuses["api 405"] == 405 and statuses["405 pagina"] == 405 and statuses["api 422"] == 422
    assert statuses["static css"] == 200 and statuses["static 404"] == 404
    for label, response in answers.items():
        try:
            assert_security_headers(response)
        except AssertionError as exc:
            raise AssertionError(f"{label} ({response.status_code}): {exc}") from None
        # Plain HTTP (development): no HSTS, which would pin browsers to an HTTPS that is not there.
        assert "Strict-Transport-Security" not in response.headers, label


def test_the_500_handler_answers_with_the_security_headers(boom_app):
    browser = boom_app.test_client()
    page = browser.get("/guasto")
    api = browser.get("/api/guasto")
    assert page.status_code == 500 and api.status_code == 500
    assert "guasto simulato" not in page.text and "Traceback" not in page.text
    assert api.json["code"] == "INTERNAL_ERROR" and "guasto" not in api.json["detail"]
    for response in (page, api):
        assert_security_headers(response)


def test_hsts_only_over_https(make_app):
    """HSTS when the request came over HTTPS, or when the site says it is HTTPS-only
    (ASIGEST_SECURE_COOKIES); behind a TLS proxy ProxyFix's X-Forwarded-Proto counts."""
    plain = make_app().test_client()
    assert "Strict-Transport-Security" not in plain.get("/login").headers
    assert plain.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"] == "max-age=31536000"

    secure = make_app(SESSION_COOKIE_SECURE=True).test_client()
    for path in ("/login", "/health", "/static/css/app.css", "/non-esiste"):
        assert secure.get(path).headers["Strict-Transport-Security"] == "max-age=31536000", path

    forwarded = {"X-Forwarded-Proto": "https"}
    assert "Strict-Transport-Security" not in make_app().test_client().get("/login", headers=forwarded).headers
    behind_proxy = make_app(PROXY_FIX=1).test_client()
    assert "Strict-Transport-Security" in behind_proxy.get("/login", headers=forwarded).headers

    off = make_app(SESSION_COOKIE_SECURE=True, HSTS_SECONDS=0).test_client()
    assert "Strict-Transport-Security" not in off.get("/login").headers
