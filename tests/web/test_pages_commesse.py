"""Supervisor pages ``/commesse`` (list with live search) and ``/commesse/<ID>`` (the card),
over the ERP rows of ``tests/erp_fixture.py``."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import listed_ids, rows_by_id

OPEN_IDS = set(range(1, 41)) | {101, 102, 104, 105}
NOT_OPEN_IDS = {103, 106, 107}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


def results_block(html: str) -> str:
    """The ``#risultati`` container of the full page."""
    start = html.index('id="risultati"')
    return html[start:]


# -- list ----------------------------------------------------------------------------


def test_list_shows_open_orders_newest_first_in_pages_of_25(app, client, supervisore):
    assert app.config["PAGE_SIZE"] == 25
    first = client.get("/commesse")
    assert first.status_code == 200
    ids_first = listed_ids(first.text)
    assert len(ids_first) == 25
    # 2026/1234 is the newest number; then 2026/1040, 2026/1039…
    assert ids_first[:3] == [101, 40, 39]
    assert "Successive" in first.text
    assert 'href="/commesse?offset=25"' in first.text
    assert "Precedenti" not in first.text

    second = client.get("/commesse?offset=25")
    ids_second = listed_ids(second.text)
    assert len(ids_second) == len(OPEN_IDS) - 25
    assert "Successive" not in second.text and "Precedenti" in second.text
    assert set(ids_first) | set(ids_second) == OPEN_IDS
    assert not set(ids_first) & set(ids_second)
    assert ids_second[-2:] == [102, 104]  # 2025/1234, then the one without ESERCIZIO


def test_list_never_shows_orders_that_are_not_open(client, supervisore):
    shown = set(listed_ids(client.get("/commesse").text)) | set(listed_ids(client.get("/commesse?offset=25").text))
    assert not shown & NOT_OPEN_IDS
    assert "Commessa chiusa" not in client.get("/commesse?offset=25").text


@pytest.mark.parametrize("offset", ["abc", "-5", "", "1e3", "99999999999999999999"])
def test_garbage_offset_does_not_crash(client, supervisore, offset):
    response = client.get(f"/commesse?offset={offset}")
    assert response.status_code == 200


@pytest.mark.parametrize("offset", [str(2**31), "9" * 30, "１２"])
def test_an_offset_that_is_no_row_number_shows_the_first_page(client, supervisore, offset):
    """Beyond an INTEGER or not plain digits: the first page (not an empty one far away)."""
    first = listed_ids(client.get("/commesse").text)
    assert listed_ids(client.get("/commesse", query_string={"offset": offset}).text) == first


def test_offset_past_the_end_shows_the_empty_message(client, supervisore):
    response = client.get("/commesse?offset=1000")
    assert response.status_code == 200
    assert "Nessuna commessa aperta nel gestionale." in response.text
    assert "Precedenti" in response.text  # a way back


def test_search_input_is_live(client, supervisore):
    html = client.get("/commesse").text
    field = re.search(r'<input[^>]*name="q"[^>]*>', html, re.S).group(0)
    assert 'hx-get="/commesse"' in field
    assert re.search(r'hx-trigger="[^"]*input[^"]*"', field)
    assert 'hx-target="#risultati"' in field
    assert 'id="risultati"' in html


def test_htmx_request_gets_only_the_results_fragment(client, supervisore):
    page = client.get("/commesse")
    fragment = client.get("/commesse", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<body" not in fragment.text
    assert "<table" in fragment.text
    assert listed_ids(fragment.text) == listed_ids(results_block(page.text))
    for response in (page, fragment):
        assert "HX-Request" in response.headers.get("Vary", "")


def test_htmx_history_restore_gets_the_full_page(client, supervisore):
    response = client.get("/commesse", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.text


def test_search_by_year_and_number(client, supervisore):
    for headers in ({}, HTMX):
        response = client.get("/commesse?q=2026/1234", headers=headers)
        assert listed_ids(response.text) == [101]  # not 102, which is 2025/1234


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("1234", [101, 102]),  # NUMEROCOM alone: both years
        ("ORD-00007", [7]),  # RIFCOMMCLI
        ("sch-[x]", [101]),  # CODART, case-insensitive, brackets literal
        ("alimentatore", [101]),  # DESART
        ("adriatica", [101]),  # NOMECLIENTE
        ("50%_", [101]),  # LIKE wildcards match literally
        ("%", [101]),
        ("_", [101]),
        ("Più Già", [105]),  # Unicode
    ],
)
def test_search_fields(client, supervisore, q, expected):
    response = client.get("/commesse", query_string={"q": q})
    assert listed_ids(response.text) == expected


def test_search_without_results_says_so_in_italian(client, supervisore):
    response = client.get("/commesse", query_string={"q": "nessuna-corrispondenza"}, headers=HTMX)
    assert response.status_code == 200
    assert "Nessuna commessa aperta corrisponde a «nessuna-corrispondenza»." in response.text
    assert listed_ids(response.text) == []


def test_search_text_is_escaped(client, supervisore):
    response = client.get("/commesse", query_string={"q": "<b>x</b>"})
    assert "<b>x</b>" not in response.text
    assert "&lt;b&gt;x&lt;/b&gt;" in response.text


def test_pager_keeps_the_search(client, supervisore):
    response = client.get("/commesse", query_string={"q": "Scheda di prova"})
    assert "Successive" in response.text
    assert re.search(r'href="/commesse\?q=Scheda\+di\+prova&amp;offset=25"', response.text)


def test_configured_orders_are_marked(client, supervisore, make_config):
    make_config(101)
    rows = rows_by_id(client.get("/commesse").text)
    assert "Configurata" in rows[101]
    assert "Configurata" not in rows[40] and "Da configurare" in rows[40]


def test_list_shows_erp_text_escaped(client, supervisore):
    rows = rows_by_id(client.get("/commesse").text)
    assert "PO 50%_sconto" in rows[101] and "SCH-[X]" in rows[101]
    assert "Elettronica Adriatica S.p.A." in rows[101]


def test_null_erp_fields_render_as_dash(client, supervisore):
    response = client.get("/commesse?offset=25")
    row = rows_by_id(response.text)[104]
    assert "?/78" in row
    assert row.count("—") >= 4  # customer, reference, article, quantity, due date


# -- the order card ------------------------------------------------------------------


def test_card_shows_the_erp_order(client, supervisore):
    response = client.get("/commesse/101")
    assert response.status_code == 200
    html = response.text
    for text in (
        "2026/1234",
        "Elettronica Adriatica S.p.A.",
        "PO 50%_sconto",
        "SCH-[X]",
        "Scheda alimentatore 24V",
        "500",
        "01/12/2026",
        "Aperta nel gestionale",
    ):
        assert text in html, text
    assert "non è ancora configurata" in html


def test_card_of_a_configured_order_shows_its_phases(client, supervisore, make_config, fase_aperta):
    make_config(101, fasi=("SMD", "CONTROLLI"), diba="DB-ALIM-24", revisione="C")
    fase_aperta(101, "SMD", prodotta=125, scarti=3)
    html = client.get("/commesse/101").text
    assert "DB-ALIM-24" in html and ">C<" in html
    phases = re.findall(r'<td class="strong">(\w+)</td>', html)
    assert phases == ["SMD", "CONTROLLI"]  # flow order
    assert re.findall(r'class="badge stato-[a-z_]+">([^<]+)<', html) == ["in corso", "aperta"]
    assert "125" in html and "25%" in html  # 125 of 500
    assert "PTH" not in phases


def test_card_escapes_config_notes(client, supervisore, make_config):
    make_config(101, note="<script>alert(1)</script>")
    html = client.get("/commesse/101").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_card_escapes_erp_text(client, supervisore):
    html = client.get("/commesse/103").text
    assert "Chiusi &amp; Figli" in html
    assert "Chiusi & Figli" not in html


@pytest.mark.parametrize(("commessa_id", "stato"), [(103, "C"), (106, "—"), (107, "S")])
def test_card_of_an_order_not_open_in_the_erp(client, supervisore, commessa_id, stato):
    response = client.get(f"/commesse/{commessa_id}")
    assert response.status_code == 200
    assert f"Non aperta nel gestionale (stato «{stato}»)" in response.text


def test_card_with_null_erp_fields(client, supervisore):
    response = client.get("/commesse/104")
    assert response.status_code == 200
    assert "?/78" in response.text
    assert "Descrizione assente nel gestionale" in response.text
    assert response.text.count("—") >= 5


@pytest.mark.parametrize("commessa_id", ["999999", "0", "99999999999"])
def test_unknown_order_is_a_404_page_in_italian(client, supervisore, commessa_id):
    response = client.get(f"/commesse/{commessa_id}")
    assert response.status_code == 404
    assert "<html" in response.text
    assert "Non trovato" in response.text
    if commessa_id == "999999":
        assert "La commessa 999999 non esiste nel gestionale." in response.text


def test_unknown_order_via_htmx_gets_the_inline_message(client, supervisore):
    response = client.get("/commesse/999999", headers=HTMX)
    assert "<html" not in response.text
    assert "La commessa 999999 non esiste nel gestionale." in response.text
    assert response.headers["HX-Retarget"] == "#messages"


def test_home_leads_supervisors_to_the_dashboard(client, supervisore):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")


def test_pages_answer_503_when_the_erp_is_unreachable(make_app, make_user, tmp_path):
    from asigest.dialects import sqlite_readonly_url
    from tests.web.conftest import login_on

    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    browser = broken.test_client()
    user = make_user()
    assert login_on(browser, user.matricola).status_code == 302  # login never needs the ERP
    for url in ("/commesse", "/commesse/101"):
        response = browser.get(url)
        assert response.status_code == 503
        assert "Il gestionale ASITRON non risponde" in response.text
        assert "Traceback" not in response.text


def test_card_of_a_configured_order_links_to_its_whole_trace(client, supervisore, make_config):
    make_config(101, fasi=("SMD", "CONTROLLI"))
    html = client.get("/commesse/101").text
    assert 'id="traccia-commessa-link" href="/tracciabilita?commessa=101"' in html
    traccia = client.get("/tracciabilita?commessa=101")
    assert traccia.status_code == 200 and 'id="traccia-commessa"' in traccia.text
    assert "Commessa 2026/1234" in traccia.text and 'aria-invalid="true"' not in traccia.text
    # An order not set up for production has no trace to offer.
    assert "traccia-commessa-link" not in client.get("/commesse/5").text
