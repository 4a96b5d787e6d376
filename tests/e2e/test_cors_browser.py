"""CORS in a real browser: a page served on another origin (a second local port) calls
the API with a bearer token. From an origin listed in ASIGEST_CORS_ORIGINS the call and
its preflight succeed and the page reads the answer; from another origin Chromium
refuses it (the preflight gets no CORS header)."""

from __future__ import annotations

import threading

import pytest
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from asigest.extensions import db

PAGINA = """<!doctype html>
<html><head><meta charset="utf-8"><title>Front end</title>
<script src="/front.js" defer></script></head>
<body><p id="esito">in attesa</p></body></html>
"""
# The API's address and the token come in the page's fragment (never sent to this server).
SCRIPT = """
const [api, token] = decodeURIComponent(location.hash.slice(1)).split("|");
const esito = document.getElementById("esito");
fetch(api + "/api/commesse/?limit=2", {headers: {"Authorization": "Bearer " + token}})
  .then((r) => r.json().then((corpo) => { esito.textContent = "ok " + r.status + " " + corpo.length; }))
  .catch((e) => { esito.textContent = "rifiutato " + e.name; });
"""


def _front_end(richiesta_environ, start_response):
    richiesta = Request(richiesta_environ)
    if richiesta.path == "/front.js":
        risposta = Response(SCRIPT, mimetype="text/javascript")
    else:
        risposta = Response(PAGINA, mimetype="text/html")
    return risposta(richiesta_environ, start_response)


class _Servito:
    def __init__(self, wsgi):
        self.server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def ferma(self):
        self.server.shutdown()


@pytest.fixture
def serviti():
    avviati: list[_Servito] = []

    def avvia(wsgi) -> _Servito:
        servito = _Servito(wsgi)
        avviati.append(servito)
        return servito

    yield avvia
    for servito in avviati:
        servito.ferma()


def test_allowed_origin_calls_the_api_and_another_is_refused(
    browser, serviti, database_url, erp_file, tmp_path, api_token
):
    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url

    permesso = serviti(_front_end)
    estraneo = serviti(_front_end)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path / "instance",
            "DATABASE_URL": database_url,
            "ERP_URL": sqlite_readonly_url(erp_file),
            "SECRET_KEY": "test-secret",
            "CORS_ORIGINS": permesso.url,
        }
    )
    try:
        api = serviti(app)
        token = api_token()["Authorization"].removeprefix("Bearer ")

        browser.get(f"{permesso.url}/#{api.url}|{token}")
        WebDriverWait(browser, 10).until(lambda d: d.find_element("id", "esito").text != "in attesa")
        assert browser.find_element("id", "esito").text == "ok 200 2"

        browser.get(f"{estraneo.url}/#{api.url}|{token}")
        WebDriverWait(browser, 10).until(lambda d: d.find_element("id", "esito").text != "in attesa")
        assert browser.find_element("id", "esito").text == "rifiutato TypeError"
        console = " ".join(e["message"] for e in browser.get_log("browser"))
        assert "CORS policy" in console, console
    finally:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()
