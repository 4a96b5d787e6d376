"""The order progress page (``/avanzamento``): a progress bar per phase, late (red) and at-risk
(amber) orders, filters and sort from the address, htmx results that leave the filter form
alone, paging, exports with the same filters, the ERP down, and no 500 on any input."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from asigest.dialects import sqlite_readonly_url
from asigest.domain.periodo import oggi as oggi_in
from tests.avanzamento_fixture import PER_CONSEGNA, configura, scrivi_erp
from tests.web.conftest import login_on

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_RIGA = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_ID = re.compile(r'<td><a href="/commesse/(\d+)"')


def listed_ids(html: str) -> list[int]:
    """The ERP IDs of the listed orders, in order."""
    return [int(m) for riga in _RIGA.findall(html) for m in _ID.findall(riga)]


def rows_by_id(html: str) -> dict[int, str]:
    """``{ERP ID: that order's row}``."""
    return {int(m): riga for riga in _RIGA.findall(html) for m in _ID.findall(riga)}


@pytest.fixture
def giorno():
    return oggi_in("Europe/Rome")


@pytest.fixture
def sito(make_app, tmp_path, giorno, db_session):
    """An app whose ERP has the fixture's orders due around today, configured; not logged in."""
    app = make_app(ERP_URL=sqlite_readonly_url(scrivi_erp(tmp_path / "erp.db", giorno)))
    configura(db_session)
    return app.test_client()


@pytest.fixture
def browser(sito, make_user):
    """``sito`` logged in as a supervisor."""
    assert login_on(sito, make_user(ruolo="SUPERVISORE").matricola).status_code == 302
    return sito


def link(html: str, testo: str) -> str:
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*>[^<]*' + re.escape(testo), html)
    assert match, f"nessun link «{testo}»"
    return unescape(match.group(1))


def test_any_logged_in_user_sees_the_open_configured_orders_soonest_due_first(sito, make_user):
    assert login_on(sito, make_user(ruolo="OPERATORE").matricola).status_code == 302
    response = sito.get("/avanzamento")
    assert response.status_code == 200
    assert listed_ids(response.text) == PER_CONSEGNA
    assert re.search(r'<a href="/avanzamento"\s+aria-current="page">Avanzamento</a>', response.text)


def test_each_phase_has_a_progress_bar_with_produced_planned_scrap_and_state(browser):
    riga = rows_by_id(browser.get("/avanzamento").text)[2]
    assert '<progress max="100" value="25.0"' in riga
    assert "50 / 200" in riga and "scarti 7" in riga
    assert 'badge stato-in_corso">in corso' in riga
    assert '<td class="num strong">25%</td>' in riga
    uno = rows_by_id(browser.get("/avanzamento").text)[1]
    assert uno.count("<progress") == 2 and '<progress max="100" value="100' in uno


def test_over_production_fills_the_bar_and_shows_the_real_percentage(browser, db_session):
    from asigest.models import Fase

    fase = db_session.query(Fase).filter_by(commessa_erp_id=2).one()
    fase.qta_prodotta = 260
    db_session.commit()
    riga = rows_by_id(browser.get("/avanzamento").text)[2]
    assert '<progress max="100" value="100"' in riga and ">130%</progress>" in riga


def test_late_orders_are_red_and_those_at_risk_amber(browser):
    html = browser.get("/avanzamento").text
    righe = rows_by_id(html)
    assert 'class="in-ritardo"' in _tr(html, 1) and 'badge ritardo">in ritardo di 1 giorno' in righe[1]
    assert 'class="a-rischio"' in _tr(html, 2) and 'badge rischio">a rischio: scade oggi' in righe[2]
    assert 'badge rischio">a rischio: scade tra 7 giorni' in righe[3]
    for tranquilla in (8, 4, 5):
        assert 'class="in-tempo"' in _tr(html, tranquilla)
        assert "badge ritardo" not in righe[tranquilla] and "badge rischio" not in righe[tranquilla]
    assert "6 commesse" in html and 'badge ritardo">1 in ritardo' in html and 'badge rischio">2 a rischio' in html


def _tr(html: str, commessa_id: int) -> str:
    """The opening ``<tr …>`` tag of an order's row."""
    return re.search(r'(<tr [^>]*>)\s*<td><a href="/commesse/%d"' % commessa_id, html).group(1)


def test_null_erp_fields_show_as_dashes(browser):
    riga = rows_by_id(browser.get("/avanzamento").text)[5]
    assert ">2026/?</a>" in riga
    assert "<td>—</td>" in riga  # no customer
    assert '<td class="data">—' in riga  # no due date


def test_all_configured_orders_on_request(browser):
    html = browser.get("/avanzamento?tutte=1").text
    righe = rows_by_id(html)
    assert listed_ids(html) == [6, 8, 1, 2, 3, 4, 5, 999]
    assert ">#999</a>" in righe[999] and "non più nel gestionale" in righe[999]
    assert "chiusa nel gestionale" in righe[6]


@pytest.mark.parametrize(
    "query, attesi",
    [
        ("q=2026/1003", [3]),
        ("q=adriatica", [1]),
        ("fase=PTH", [3]),
        ("fase=controlli&stato=in_corso", [1]),
        ("stato=COMPLETATA", [8, 1, 4]),
        ("ritardo=1", [1]),
        ("rischio=on", [2, 3]),
        ("ritardo=1&rischio=1&ordine=-consegna", [3, 2, 1]),
        ("q=nessuna-commessa", []),
    ],
)
def test_filters_from_the_address(browser, query, attesi):
    response = browser.get(f"/avanzamento?{query}")
    assert response.status_code == 200
    assert listed_ids(response.text) == attesi
    if not attesi:
        assert "Nessuna commessa corrisponde ai filtri scelti." in response.text


def test_the_form_shows_back_what_was_chosen(browser):
    html = browser.get("/avanzamento?q=adriatica&fase=smd&stato=in_corso&ritardo=1&ordine=-avanzamento").text
    assert 'name="q" value="adriatica"' in html
    assert '<option value="SMD" selected>' in html and '<option value="IN_CORSO" selected>' in html
    assert 'name="ritardo" value="1" checked' in html and 'name="rischio" value="1" checked' not in html
    assert '<option value="-avanzamento" selected>' in html


@pytest.mark.parametrize("query, campo", [("fase=XYZ", "fase"), ("stato=CHIUSA", "stato")])
def test_an_unknown_choice_is_reported_on_its_field_and_nothing_is_listed(browser, query, campo):
    response = browser.get(f"/avanzamento?{query}")
    assert response.status_code == 400
    assert f'id="filtro-{campo}-err"' in response.text and 'aria-invalid="true"' in response.text
    assert listed_ids(response.text) == []
    assert "Correggere i filtri indicati" in response.text


@pytest.mark.parametrize(
    "ordine, attesi",
    [
        ("-consegna", [4, 3, 2, 1, 8, 5]),
        ("numero", [1, 2, 3, 4, 8, 5]),
        ("cliente", [4, 8, 1, 2, 3, 5]),
        ("-avanzamento", [8, 4, 1, 2, 5, 3]),
        ("ritardo", [1, 2, 3, 8, 4, 5]),
    ],
)
def test_sort(browser, ordine, attesi):
    assert listed_ids(browser.get(f"/avanzamento?ordine={ordine}").text) == attesi


def test_column_headers_sort_keep_the_filters_and_mark_the_direction(browser):
    html = browser.get("/avanzamento?rischio=1").text
    assert re.search(r'aria-sort="ascending">\s*<a href="[^"]*ordine=-consegna', html)
    cliente = link(html, "Cliente")
    assert parse_qs(urlsplit(cliente).query) == {"rischio": ["1"], "ordine": ["cliente"]}
    # Progress starts from the most advanced; the others from the lowest.
    assert re.search(r'<a href="[^"]*ordine=-avanzamento" class="ordina">Avanzamento</a>', html)
    html = browser.get(cliente).text
    assert listed_ids(html) == [2, 3] and re.search(r'aria-sort="ascending">\s*<a href="[^"]*ordine=-cliente', html)


def test_htmx_gets_the_results_only_and_the_form_stays(browser):
    response = browser.get("/avanzamento?fase=PTH", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers.get("Vary", "")
    assert "<html" not in response.text and 'id="avanzamento-filtri"' not in response.text
    assert listed_ids(response.text) == [3]
    pagina = browser.get("/avanzamento").text
    assert re.search(r'<form id="avanzamento-filtri"[^>]*hx-target="#avanzamento-risultati"', pagina)
    assert '<div id="avanzamento-risultati">' in pagina


def test_paging_keeps_filters_and_sort(browser, monkeypatch):
    from asigest.web import avanzamento as pagina_avanzamento

    monkeypatch.setattr(pagina_avanzamento, "RIGHE_PER_PAGINA", 2)
    html = browser.get("/avanzamento?ordine=-consegna&fase=SMD").text
    assert listed_ids(html) == [4, 3]
    successive = link(html, "Successive")
    assert parse_qs(urlsplit(successive).query) == {"ordine": ["-consegna"], "fase": ["SMD"], "offset": ["2"]}
    assert f'hx-get="{successive}"'.replace("&", "&amp;") in html
    html = browser.get(successive, headers={"HX-Request": "true"}).text
    assert listed_ids(html) == [2, 1] and "Precedenti" in html and "Commesse 3–4 di 6" in html


def test_exports_carry_the_filters_and_sort(browser):
    html = browser.get("/avanzamento?ritardo=1&rischio=1&ordine=-consegna").text
    excel = link(html, "Esporta Excel")
    assert urlsplit(excel).path == "/avanzamento/esporta.xlsx"
    assert parse_qs(urlsplit(excel).query) == {"ordine": ["-consegna"], "ritardo": ["1"], "rischio": ["1"]}
    assert urlsplit(link(html, "Esporta CSV")).path == "/avanzamento/esporta.csv"
    response = browser.get(excel)
    assert response.status_code == 200 and response.mimetype == XLSX
    righe = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))[1:]
    assert [(r[0], r[8]) for r in righe] == [
        ("2026/1003", "SMD"),
        ("2026/1003", "PTH"),
        ("2026/1002", "SMD"),
        ("2026/1001", "SMD"),
        ("2026/1001", "CONTROLLI"),
    ]
    assert [r[14] for r in righe] == [False, False, False, True, True]


def test_an_export_with_a_wrong_filter_goes_back_to_the_page(browser):
    response = browser.get("/avanzamento/esporta.xlsx?fase=XYZ")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/avanzamento"


def test_erp_down_shows_a_clear_message(make_app, tmp_path, make_user, db_session):
    configura(db_session)
    down = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db")).test_client()
    assert login_on(down, make_user().matricola).status_code == 302
    response = down.get("/avanzamento")
    assert response.status_code == 503 and "Il gestionale ASITRON non risponde" in response.text
    frammento = down.get("/avanzamento?fase=SMD", headers={"HX-Request": "true"})
    assert frammento.headers.get("HX-Retarget") == "#messages" and "ASITRON" in frammento.text


def test_no_inline_style_or_script(browser):
    html = browser.get("/avanzamento?tutte=1").text
    assert "style=" not in html and "<script>" not in html and " on" + "change=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


@pytest.mark.parametrize(
    "query",
    [
        "offset=abc",
        "offset=-5",
        "offset=99999999999",
        "ordine=%3Cscript%3E",
        "q=" + "x" * 500,
        "ritardo=forse",
        "q=%25_%5B",
        "q=%C2%B2",
        "q=12345678901234567890",
        "stato=",
        "fase=",
        "tutte=0",
    ],
)
def test_odd_input_never_breaks_the_page(browser, query):
    response = browser.get(f"/avanzamento?{query}")
    assert response.status_code == 200
    assert "<script>" not in response.text


@pytest.mark.parametrize("offset", [str(2**31), "9" * 30, "１"])
def test_an_offset_that_is_no_row_number_shows_the_first_page(browser, offset):
    first = listed_ids(browser.get("/avanzamento").text)
    assert first and listed_ids(browser.get("/avanzamento", query_string={"offset": offset}).text) == first


def test_the_page_needs_a_login(sito):
    response = sito.get("/avanzamento")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def test_due_dates_are_shown_as_dates(browser, giorno):
    riga = rows_by_id(browser.get("/avanzamento").text)[3]
    assert (giorno + timedelta(days=7)).strftime("%d/%m/%Y") in riga
