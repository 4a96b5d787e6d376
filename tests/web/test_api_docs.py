"""/api/docs: the API reference page is public, carries the site's CSP, has no inline code,
loads the vendored Swagger UI and points it at /api/openapi.json; the footer links it."""

from __future__ import annotations

from pathlib import Path

from tests.web.test_security_headers import assert_no_inline_code, assert_security_headers

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "swagger-ui"


def test_reference_page_is_public_and_csp_clean(client):
    risposta = client.get("/api/docs")
    assert risposta.status_code == 200
    assert risposta.mimetype == "text/html"
    assert_security_headers(risposta)
    pagina = risposta.get_data(as_text=True)
    assert_no_inline_code(pagina, "/api/docs")
    assert 'data-url="/api/openapi.json"' in pagina
    for file in ("vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css", "js/api-docs.js"):
        assert f"/static/{file}?v=" in pagina
        assert client.get(f"/static/{file}").status_code == 200


def test_vendored_viewer_is_the_published_package():
    leggimi = (VENDOR / "README.md").read_text()
    assert "swagger-ui-dist@5.35.0" in leggimi
    assert "Apache" in (VENDOR / "LICENSE").read_text()
    assert (VENDOR / "swagger-ui-bundle.js").stat().st_size > 1_000_000


def test_footer_links_the_reference(client):
    assert 'href="/api/docs"' in client.get("/login").get_data(as_text=True)
