"""The XSS sweep: script-bearing text in every field a page shows back — ERP text
(customer, article, order reference), order notes and DIBA, machine, user and scrap
reason names, scrap notes, correction and phase-state reasons, document titles and file
names, token descriptions — and in every query parameter the pages read. Then every
page and fragment of ``app.url_map`` is fetched (office pages as ADMIN, kiosk screens
with a kiosk session, plain and htmx) and parsed: no payload may come out as markup.
The exports are checked for spreadsheet formula injection, JSON for its content type.

The ERP rows with payloads live in a test-local ERP file, so the shared fixture's row
counts stay as other tests expect.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import time
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from asigest.dialects import sqlite_readonly_url
from asigest.models import ApiToken, FaseTipo
from asigest.services import auth
from tests.conftest import csrf_from
from tests.erp_fixture import build_erp, commessa_row

# Sized to the fields they go in (the limits are the services' own).
LUNGO = '"><img src=x onerror=alert(1)><script>alert(1)</script>{{1337*1337}}<a href=javascript:alert(1)>'
NOME = "<script>alert(1)</script><svg onload=alert(1)>"
P30 = '"><img src=x onerror=alert(1)>'
P20 = "<svg onload=alert()>"
SCRIPT25 = "<script>alert(1)</script>"
FORMULA = "=cmd|' /C calc'!A0"
SSTI = "1787569"  # 1337*1337: a template that evaluated user text
MARCATORI = ("<script>alert", "<img src=x", "<svg onload", "<a href=javascript:")

# Every query parameter a page reads (a new one joins here to be swept).
PARAMETRI = (
    "q",
    "codart",
    "da",
    "a",
    "fase",
    "macchina",
    "operatore",
    "stato",
    "commessa",
    "azione",
    "entita",
    "entita_id",
    "utente",
    "ordine",
    "offset",
    "next",
    "ruolo",
    "tipo",
    "causale",
    "periodo",
    "pannello",
    "parete",
    "tutte",
    "scarica",
    "pagina",
    "lotto",
    "aperti",
    "settimana",
)
RIFLESSI = (P30, SCRIPT25, "javascript:alert(1)")


class _Markup(HTMLParser):
    """Collects what a browser would run: script elements, event-handler attributes,
    javascript: URLs and elements a payload would create."""

    URL_ATTRS = {
        "href",
        "src",
        "action",
        "formaction",
        "hx-get",
        "hx-post",
        "hx-put",
        "hx-delete",
        "data-badge-url",
        "xlink:href",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problemi: list[str] = []

    def handle_starttag(self, tag, attrs):
        valori = dict(attrs)
        for nome, valore in attrs:
            if nome.startswith("on"):
                self.problemi.append(f"<{tag} {nome}=…>")
            if nome in self.URL_ATTRS and (valore or "").strip().lower().startswith(("javascript:", "data:text")):
                self.problemi.append(f"<{tag} {nome}={valore!r}>")
        if tag == "script" and not (valori.get("src") or "").startswith("/static/"):
            self.problemi.append(f"<script src={valori.get('src')!r}>")
        if tag in {"iframe", "object", "embed", "base"} and not self._cornice_del_chiosco(tag, valori):
            self.problemi.append(f"<{tag}>")
        if tag == "img" and valori.get("src") == "x":
            self.problemi.append("<img src=x>")

    handle_startendtag = handle_starttag

    @staticmethod
    def _cornice_del_chiosco(tag: str, valori: dict) -> bool:
        """The one frame a page has by design: the kiosk's document view framing the
        document's own kiosk address (templates/kiosk/documento.html)."""
        return (
            tag == "iframe"
            and valori.get("class") == "kiosk-documento"
            and re.fullmatch(r"/kiosk/[^/]+/documenti/\d+", valori.get("src") or "") is not None
        )


def assert_inert(response, label: str):
    """The HTML of ``response`` carries no markup made from a payload."""
    body = response.get_data(as_text=True)
    parser = _Markup()
    parser.feed(body)
    assert not parser.problemi, f"{label}: {parser.problemi}"
    for marcatore in MARCATORI:
        assert marcatore not in body, f"{label}: {marcatore!r} non escapato"
    assert SSTI not in body, f"{label}: testo valutato come template"


def test_the_detector_catches_what_it_looks_for():
    """The sweep's own check: raw payloads fail it, escaped ones pass."""
    from markupsafe import escape
    from werkzeug.wrappers import Response

    for raw in (
        LUNGO,
        NOME,
        P30,
        P20,
        '<a href="JavaScript:alert(1)">x</a>',
        '<p title="x" onclick="y">',
        '<script src="https://evil.example/x.js"></script>',
        "1787569",
    ):
        with pytest.raises(AssertionError):
            assert_inert(Response(f"<p>{raw}</p>", mimetype="text/html"), "prova")
    for raw in (LUNGO, NOME, P30, P20):
        assert_inert(Response(f'<p title="{escape(raw)}">{escape(raw)}</p>', mimetype="text/html"), "prova")


def ok(response, label):
    assert response.status_code < 300, f"{label}: {response.status_code} {response.get_data(as_text=True)[:400]}"
    return response.json if response.is_json else response


@pytest.fixture
def xss_erp(tmp_path):
    return build_erp(
        tmp_path / "erp_xss.db",
        [
            commessa_row(1, numerocom=4001, RIFCOMMCLI=NOME, CODART=P30, DESART=LUNGO, NOMECLIENTE=LUNGO, QTA=100),
            commessa_row(
                2,
                numerocom=4002,
                RIFCOMMCLI=FORMULA,
                CODART="+SUM(A1)",
                DESART=FORMULA,
                NOMECLIENTE="@SUM(1+1)*cmd|' /C calc'!A0",
                QTA=100,
            ),
            commessa_row(3, numerocom=4003, DESART="Scheda pulita", NOMECLIENTE="Cliente pulito"),
        ],
    )


@pytest.fixture
def sporco(make_app, xss_erp, db_session, api_token):
    """An app on the payload ERP, and ASI_GEST data full of payloads, made through the API
    (the same validation people's input goes through). Returns ``(app, ids)``."""
    app = make_app(ERP_URL=sqlite_readonly_url(xss_erp))
    api = app.test_client()
    h = api_token("ADMIN")

    config = ok(
        api.post(
            "/api/config/",
            json={
                "CommessaERPId": 1,
                "FlagSMD": True,
                "FlagPTH": False,
                "FlagControlli": True,
                "DIBA": NOME,
                "Revisione": P20,
                "Note": LUNGO,
            },
            headers=h,
        ),
        "config 1",
    )
    ok(
        api.post(
            "/api/config/",
            json={
                "CommessaERPId": 2,
                "FlagSMD": True,
                "FlagControlli": False,
                "DIBA": FORMULA,
                "Revisione": "=1+1",
                "Note": FORMULA,
            },
            headers=h,
        ),
        "config 2",
    )
    macchina = ok(
        api.post(
            "/api/macchine/",
            json={"Codice": "SMD-X", "Descrizione": LUNGO, "FaseTipo": "SMD", "Reparto": NOME},
            headers=h,
        ),
        "macchina",
    )
    causale = ok(
        api.post("/api/causali/", json={"Codice": "XSS", "Descrizione": LUNGO, "FaseTipo": None}, headers=h), "causale"
    )
    operatore = ok(
        api.post(
            "/api/utenti/",
            json={"Matricola": P30, "Nome": NOME, "Cognome": FORMULA, "Ruolo": "OPERATORE", "Pin": "2468"},
            headers=h,
        ),
        "operatore",
    )
    fasi = {f["FaseTipo"]: f for f in ok(api.get("/api/fasi/commessa/1", headers=h), "fasi")}
    fasi2 = {f["FaseTipo"]: f for f in ok(api.get("/api/fasi/commessa/2", headers=h), "fasi 2")}

    def apri(fase, qta=10):
        return ok(
            api.post(
                "/api/lotti/smd/",
                json={
                    "FaseID": fase["FaseID"],
                    "QtaInput": qta,
                    "MacchinaID": macchina["MacchinaID"],
                    "OperatoreID": operatore["UtenteID"],
                },
                headers=h,
            ),
            "apri",
        )

    chiuso = apri(fasi["SMD"])
    ok(
        api.put(
            f"/api/lotti/smd/{chiuso['LottoID']}/close",
            json={"QtaOutput": 7, "QtaScarti": 3, "CausaleScarto": "XSS", "NoteScarti": LUNGO},
            headers=h,
        ),
        "chiudi",
    )
    ok(
        api.put(
            f"/api/lotti/smd/{chiuso['LottoID']}/rettifica",
            json={"QtaOutput": 6, "QtaScarti": 4, "CausaleScarto": "XSS", "Motivo": LUNGO},
            headers=h,
        ),
        "rettifica",
    )
    formula = apri(fasi2["SMD"])
    ok(
        api.put(
            f"/api/lotti/smd/{formula['LottoID']}/close",
            json={"QtaOutput": 5, "QtaScarti": 5, "CausaleScarto": "XSS", "NoteScarti": FORMULA},
            headers=h,
        ),
        "chiudi 2",
    )
    aperto = apri(fasi["SMD"])  # stays open: the kiosk shows it
    ok(
        api.put(
            f"/api/fasi/{fasi['CONTROLLI']['FaseID']}/stato", json={"Stato": "SOSPESA", "Motivo": LUNGO}, headers=h
        ),
        "stato fase",
    )
    documento = ok(
        api.post(
            "/api/documenti/",
            data={
                "file": (io.BytesIO(b"<html><script>alert(1)</script></html>"), "<img src=x onerror=alert(1)>.txt"),
                "Tipo": "ISTRUZIONI",
                "Titolo": LUNGO,
                "Revisione": P20,
                "CommessaERPId": "1",
            },
            headers=h,
        ),
        "documento",
    )
    ok(
        api.post(
            "/api/documenti/",
            data={
                "file": (io.BytesIO(b"%PDF-1.4\n"), "disegno.pdf"),
                "Tipo": "DIBA",
                "Titolo": SCRIPT25,
                "CODART": P30,
            },
            headers=h,
        ),
        "documento articolo",
    )
    auth.create_token(db_session, actor=None, matricola=P30, descrizione=NOME)
    causale_fermo = ok(
        api.post(
            "/api/causali-fermo/",
            json={"Codice": "XSS-F", "Descrizione": NOME, "Categoria": "ALTRO", "FaseTipo": None},
            headers=h,
        ),
        "causale di fermo",
    )
    fermo = ok(
        api.post(
            "/api/fermi/",
            json={
                "MacchinaID": macchina["MacchinaID"],
                "CausaleFermo": "XSS-F",
                "Note": NOME,
                "OperatoreID": operatore["UtenteID"],
            },
            headers=h,
        ),
        "fermo",
    )
    from asigest.domain.actor import Actor
    from asigest.services import pianificazione

    capo = Actor(utente_id=operatore["UtenteID"], matricola=P30, ruolo="SUPERVISORE")
    turno = pianificazione.aggiungi_turno(
        db_session, actor=capo, reparto=NOME, giorno_settimana=1, ora_inizio=time(6), ora_fine=time(14), note=NOME
    )
    tempo = pianificazione.imposta_tempo_ciclo(db_session, actor=capo, fase_tipo="SMD", codart=P30[:30], secondi="12")
    return app, {
        "fermo_id": fermo["FermoID"],
        "turno_id": turno.id,
        "tempo_id": tempo.id,
        "causale_fermo_id": causale_fermo["CausaleFermoID"],
        "commessa_id": 1,
        "config_id": config["ConfigID"],
        "macchina_id": macchina["MacchinaID"],
        "causale_id": causale["CausaleID"],
        "utente_id": operatore["UtenteID"],
        "fase_id": fasi["SMD"]["FaseID"],
        "fase_tipo_id": db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "SMD")),
        "lotto_id": chiuso["LottoID"],
        "codice_lotto": chiuso["CodiceLotto"],
        "lotto_aperto": aperto["LottoID"],
        "documento_id": documento["DocumentoID"],
        "token_id": db_session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc())),
        "codice": "SMD-X",
        "tipo": "smd",
    }


_ARG = re.compile(r"<(?:[^:>]+:)?(\w+)>")


def _url(rule, ids) -> str:
    def value(match):
        name = match.group(1)
        assert name in ids, f"{rule.rule}: aggiungere un valore per <{name}> allo sweep XSS"
        return str(ids[name])

    return _ARG.sub(value, rule.rule)


def _browser(app):
    """A plain test client: this app is not the session app whose context the test holds,
    so its requests get contexts of their own, and streamed exports are read in theirs."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def _kiosk_browser(app, ids):
    browser = _browser(app)
    page = browser.get("/kiosk/SMD-X")
    response = browser.post("/kiosk/SMD-X", data={"matricola": P30, "pin": "2468", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302, response.text[:300]
    return browser


def _office_browser(app, make_user):
    admin = make_user(ruolo="ADMIN", nome=NOME, cognome=LUNGO[:60])
    browser = _browser(app)
    page = browser.get("/login")
    response = browser.post(
        "/login", data={"matricola": admin.matricola, "password": "password123", "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 302
    return browser


def test_no_page_or_fragment_renders_a_payload_as_markup(sporco, make_user):
    app, ids = sporco
    office = _office_browser(app, make_user)
    kiosk = _kiosk_browser(app, ids)
    swept = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        formati = ("csv", "xlsx") if "<formato>" in rule.rule else (None,)
        for formato in formati:
            url = _url(rule, {**ids, "formato": formato})
            browser = kiosk if rule.rule.startswith("/kiosk/") else office
            for riflesso in (None, *RIFLESSI):
                query = dict.fromkeys(PARAMETRI, riflesso) if riflesso else {}
                for extra in ({}, {"HX-Request": "true"}):
                    label = f"GET {url} {'htmx ' if extra else ''}{'?' + riflesso if riflesso else ''}"
                    response = browser.get(url, query_string=query, headers=extra)
                    assert response.status_code < 500, label
                    if response.status_code in (301, 302, 303):
                        continue
                    if response.mimetype == "text/html":
                        assert_inert(response, label)
                    else:
                        # Files and exports: never something a browser would render as a page.
                        assert response.mimetype not in {"image/svg+xml", "application/xhtml+xml"}, label
                        assert response.headers["X-Content-Type-Options"] == "nosniff", label
                        response.get_data()  # read (and close) a streamed export
                    swept.append(label)
    # Kiosk screens, office pages, exports: a sweep that reached little proves little.
    assert len(swept) >= 250, len(swept)
    # The lotto and its label, the order card with the ERP text, the events with reasons.
    for must in ("/commesse/1", "/lotti/", "/eventi", "/kiosk/SMD-X/commessa", "/admin/utenti/", "/dashboard"):
        assert any(must in label for label in swept), must


def test_the_payloads_are_shown_escaped_where_people_read_them(sporco, make_user):
    """Escaped, not dropped: the text is on the page as text (a sweep that found nothing
    because nothing was shown would prove nothing)."""
    app, ids = sporco
    office = _office_browser(app, make_user)
    escaped_img = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
    escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url, attesi in {
        "/commesse/1": [escaped_script],  # ERP DESART / NOMECLIENTE, config notes
        "/commesse?q=4001": [escaped_img],  # ERP CODART in the list
        f"/lotti/{ids['lotto_id']}": [escaped_script],  # scrap notes, causale
        "/eventi": [escaped_script],  # reasons in the audit log
        "/admin/macchine": [escaped_script],
        "/admin/causali": [escaped_script],
        "/admin/utenti": [escaped_script],
        "/admin/token": [escaped_script],
        "/commesse/1/documenti": [escaped_script],
    }.items():
        page = office.get(url, headers={"HX-Request": "true"} if url.endswith("/documenti") else {}).get_data(
            as_text=True
        )
        for atteso in attesi:
            normal = page.replace("&#39;", "'").replace("&quot;", "&#34;")
            assert atteso in normal, f"{url}: {atteso!r} non trovato"
    kiosk = _kiosk_browser(app, ids)
    card = kiosk.get("/kiosk/SMD-X").get_data(as_text=True)
    assert escaped_script in card  # the open lotto's order: ERP text on the kiosk
    reflected = kiosk.get("/kiosk/SMD-X/commessa", query_string={"q": SCRIPT25}, headers={"HX-Request": "true"})
    assert SCRIPT25 not in reflected.get_data(as_text=True)


def test_login_forms_echo_the_typed_badge_escaped(client, make_app, sporco):
    app, _ = sporco
    browser = app.test_client()
    page = browser.get("/login")
    response = browser.post("/login", data={"matricola": P30, "password": "x", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 400
    assert_inert(response, "login")
    response = browser.get("/login", query_string={"next": "javascript:alert(1)"})
    assert_inert(response, "login next")
    page = browser.get("/kiosk/SMD-X")
    response = browser.post("/kiosk/SMD-X", data={"matricola": P30, "pin": "1", "csrf_token": csrf_from(page.text)})
    assert response.status_code == 400
    assert_inert(response, "kiosk badge")


def test_login_next_never_leads_off_site(sporco, make_user):
    """``?next=`` after login: only same-site paths (no javascript:, no //host)."""
    app, _ = sporco
    user = make_user()
    for target in ("javascript:alert(1)", "//evil.example/", "https://evil.example/", "/\\evil.example"):
        browser = app.test_client()
        page = browser.get("/login", query_string={"next": target})
        response = browser.post(
            "/login",
            data={
                "matricola": user.matricola,
                "password": "password123",
                "next": target,
                "csrf_token": csrf_from(page.text),
            },
        )
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (target, location)


def test_api_answers_are_json_never_html(sporco, api_token):
    app, ids = sporco
    api = app.test_client()
    h = api_token("ADMIN")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or "GET" not in rule.methods:
            continue
        url = _url(rule, ids)
        response = api.get(url, headers=h, query_string={"q": SCRIPT25})
        assert response.status_code < 500, url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        if rule.endpoint == "api.documento_file":
            assert response.mimetype == "text/plain"  # the uploaded "HTML" stays text
        elif rule.endpoint == "api.docs":  # the API reference page: static, reflects nothing
            assert response.mimetype == "text/html"
            assert "<script>" not in response.get_data(as_text=True)
        else:
            assert response.mimetype == "application/json", url


def _celle_csv(response) -> list[str]:
    testo = response.get_data().decode("utf-8-sig")
    return [cella for riga in csv.reader(io.StringIO(testo), delimiter=";") for cella in riga]


def _pericolosa(cella: str) -> bool:
    if not cella or cella[0] not in "=+-@\t\r":
        return False
    return not re.fullmatch(r"-\d+([.,]\d+)?", cella)  # a negative number is just a number


@pytest.mark.parametrize("url", ["/lotti/esporta.csv", "/avanzamento/esporta.csv"])
def test_csv_exports_neutralise_formulas(sporco, make_user, url):
    app, _ = sporco
    office = _office_browser(app, make_user)
    response = office.get(url)
    assert response.status_code == 200
    celle = _celle_csv(response)
    assert any("cmd|" in c for c in celle), "i dati con formule non sono nell'esportazione"
    assert [c for c in celle if _pericolosa(c)] == []


@pytest.mark.parametrize("url", ["/lotti/esporta.xlsx", "/avanzamento/esporta.xlsx"])
def test_xlsx_exports_hold_no_formulas(sporco, make_user, url):
    app, _ = sporco
    office = _office_browser(app, make_user)
    response = office.get(url)
    assert response.status_code == 200
    foglio = load_workbook(io.BytesIO(response.data)).active
    celle = [c for riga in foglio.iter_rows() for c in riga if c.value is not None]
    assert any(isinstance(c.value, str) and "cmd|" in c.value for c in celle)
    assert [c.coordinate for c in celle if c.data_type == "f"] == []
