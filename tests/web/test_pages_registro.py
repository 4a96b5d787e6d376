"""The lotti register page (``/lotti``): filters from the query string, sortable columns,
htmx paging, links to each lotto, its order and its history, and no 500 on any input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from asigest.models.types import utcnow
from tests.registro_fixture import T, costruisci

_RIGA = re.compile(r"<tr>(.*?)</tr>", re.S)
_CODICE = re.compile(r'class="strong code">([^<]+)</a>')


@pytest.fixture
def reg(db_session, make_user):
    return costruisci(db_session, make_user, adesso=utcnow())


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


def codici(html: str) -> list[str]:
    """The CodiceLotto of each listed row, in order."""
    return [m for riga in _RIGA.findall(html) for m in _CODICE.findall(riga)]


def riga_di(html: str, codice: str) -> str:
    return next(r for r in _RIGA.findall(html) if f">{codice}<" in r)


def link(html: str, testo: str) -> str:
    """The href of the first link whose text contains ``testo``."""
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*>[^<]*' + re.escape(testo), html)
    assert match, f"nessun link «{testo}»"
    return unescape(match.group(1))


TUTTI = [
    "2026-1001-SMD-002",
    "2026-1001-PTH-001",
    "2026-1001-SMD-001",
    "2026-1234-CONTROLLI-001",
    "2026-1234-SMD-002",
    "2026-1234-SMD-001",
]


def test_any_logged_in_user_reads_the_register(client, login, reg):
    login("OPERATORE")
    response = client.get("/lotti")
    assert response.status_code == 200
    assert codici(response.text) == TUTTI
    # The audit log is for supervisors: no link that would only refuse an operator.
    assert "/eventi?" not in response.text


def test_a_row_links_to_its_lotto_order_and_history(client, supervisore, reg):
    html = client.get("/lotti").text
    riga = riga_di(html, "2026-1234-SMD-001")
    lotto_id = reg.lotti["a1"]
    assert f'href="/lotti/{lotto_id}"' in riga
    assert 'href="/commesse/101">2026/1234</a>' in riga
    assert f'href="/eventi?entita=Lotti&amp;entita_id={lotto_id}"' in riga
    assert "SMD-A" in riga and "Anna Bianchi" in riga and "OP1" in riga
    assert "02/03/2026 08:00" in riga and "02/03/2026 09:00" in riga  # plant time (UTC+1 in March)
    assert re.search(r'<td class="num">100</td>\s*<td class="num">95</td>\s*<td class="num">5</td>', riga)
    assert 'title="Componente mancante o disallineato (pick &amp; place)">SMD-PICK' in riga


def test_open_and_forgotten_lotti_are_marked(client, supervisore, reg):
    html = client.get("/lotti").text
    assert 'badge dimenticato">dimenticato' in riga_di(html, "2026-1001-PTH-001")
    assert 'badge stato-in_corso">aperto' in riga_di(html, "2026-1001-SMD-002")
    assert 'class="badge">chiuso' in riga_di(html, "2026-1001-SMD-001")


@pytest.mark.parametrize(
    "query, attesi",
    [
        ("fase=SMD", ["2026-1001-SMD-002", "2026-1001-SMD-001", "2026-1234-SMD-002", "2026-1234-SMD-001"]),
        ("fase=pth", ["2026-1001-PTH-001"]),
        ("commessa=2026/1234", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-002", "2026-1234-SMD-001"]),
        ("commessa=1234", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-002", "2026-1234-SMD-001"]),
        ("commessa=101", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-002", "2026-1234-SMD-001"]),
        ("stato=aperti", ["2026-1001-SMD-002", "2026-1001-PTH-001"]),
        ("stato=chiusi&fase=SMD", ["2026-1001-SMD-001", "2026-1234-SMD-002", "2026-1234-SMD-001"]),
        ("dimenticati=1", ["2026-1001-PTH-001"]),
        ("con_scarti=1", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-001"]),
        ("da=2026-03-03&a=2026-03-04", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-002"]),
        ("da=03/03/2026&a=04/03/2026", ["2026-1234-CONTROLLI-001", "2026-1234-SMD-002"]),
    ],
)
def test_filters_from_the_query_string(client, supervisore, reg, query, attesi):
    response = client.get(f"/lotti?{query}")
    assert response.status_code == 200
    assert codici(response.text) == attesi


def test_machine_operator_and_reason_filters_use_the_lists(client, supervisore, reg):
    html = client.get("/lotti").text
    assert f'<option value="{reg.macchine["SMD-A"]}" >SMD-A</option>' in html
    assert f'<option value="{reg.operatori["op2"].id}" >Verdi Luca · OP2</option>' in html
    smd_a = client.get(f"/lotti?macchina={reg.macchine['SMD-A']}").text
    assert codici(smd_a) == ["2026-1001-SMD-001", "2026-1234-SMD-001"]
    assert f'<option value="{reg.macchine["SMD-A"]}" selected>SMD-A</option>' in smd_a
    assert codici(client.get(f"/lotti?operatore={reg.operatori['op2'].id}").text) == [
        "2026-1001-SMD-001",
        "2026-1234-SMD-002",
    ]
    assert codici(client.get(f"/lotti?causale={reg.causali['CTRL-AOI']}").text) == ["2026-1234-CONTROLLI-001"]


def test_the_order_found_is_named_next_to_its_field(client, supervisore, reg):
    html = client.get("/lotti?commessa=1234").text
    assert "2026/1234 · Elettronica Adriatica S.p.A. · SCH-[X]" in html


def test_a_dst_day_covers_its_23_local_hours(client, supervisore, db_session, make_user):
    reg = costruisci(db_session, make_user, adesso=utcnow(), storia=False)
    for nome, inizio in (
        ("prima", datetime(2026, 3, 28, 22, 59, tzinfo=UTC)),
        ("mezzanotte", datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        ("sera", datetime(2026, 3, 29, 21, 59, tzinfo=UTC)),
        ("dopo", datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
    ):
        reg.lotto(db_session, nome, 101, "SMD", "SMD-A", "op1", inizio, inizio + timedelta(minutes=10))
    html = client.get("/lotti?da=2026-03-29&a=2026-03-29").text
    assert codici(html) == ["2026-1234-SMD-003", "2026-1234-SMD-002"]
    assert "29/03/2026 23:59" in html and "29/03/2026 00:00" in html


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, campo, messaggio",
    [
        ("da=ieri", "da", "Data non valida: usare il formato gg/mm/aaaa."),
        ("a=2026-02-30", "a", "Data non valida: usare il formato gg/mm/aaaa."),
        ("da=9999-12-31", "da", "Data non valida: usare il formato gg/mm/aaaa."),
        ("da=2026-03-05&a=2026-03-01", "a", "La data finale precede quella iniziale: correggere il periodo."),
        ("fase=SALDATURA", "fase", "Tipo di fase sconosciuto: sceglierlo dall&#39;elenco."),
        ("macchina=abc", "macchina", "Macchina sconosciuta: sceglierla dall&#39;elenco."),
        ("macchina=999999", "macchina", "Macchina sconosciuta: sceglierla dall&#39;elenco."),
        ("operatore=-1", "operatore", "Operatore sconosciuto: sceglierlo dall&#39;elenco."),
        ("causale=1e9", "causale", "Causale sconosciuta: sceglierla dall&#39;elenco."),
        ("stato=forse", "stato", "Stato non valido: scegliere tutti, aperti o chiusi."),
        ("commessa=abc", "commessa", "Scrivere la commessa come 2026/1234, 1234 o con il codice di un suo lotto."),
        ("commessa=2026/99999", "commessa", "Commessa 2026/99999 non trovata nel gestionale: controllare il numero."),
    ],
)
def test_a_bad_filter_gets_a_message_next_to_its_field_and_no_list(client, supervisore, reg, query, campo, messaggio):
    response = client.get(f"/lotti?{query}")
    assert response.status_code == 400
    assert f'<p class="field-error" id="filtro-{campo}-err">{messaggio}</p>' in response.text
    assert f'aria-describedby="filtro-{campo}-err"' in response.text
    assert "Correggere i filtri indicati per vedere i lotti." in response.text
    assert codici(response.text) == []
    assert "Esporta Excel" not in response.text


def test_a_bad_filter_keeps_what_was_typed(client, supervisore, reg):
    html = client.get("/lotti?da=ieri&commessa=%3Cb%3Exx&fase=SMD").text
    assert 'name="da" value="ieri"' in html
    assert 'value="&lt;b&gt;xx"' in html and "<b>xx" not in html
    assert '<option value="SMD" selected>SMD</option>' in html


def test_htmx_gets_bad_filters_inline_with_200(client, supervisore, reg):
    response = client.get("/lotti?da=ieri", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert 'id="filtro-da-err"' in response.text


@pytest.mark.parametrize(
    "query",
    [
        "offset=-5",
        "offset=abc",
        "offset=99999999999999999999",
        "ordine=%27%3B--",
        "ordine=-",
        "ordine=--fine",
        "da=%00",
        "commessa=" + "9" * 200,
        "dimenticati=forse",
        "con_scarti=%FF",
        "fase=%E2%82%AC",
        "a=0000-00-00",
        "macchina=" + "1" * 40,
        "stato=APERTI&stato=chiusi",
        "commessa=2026/" + "9" * 12,
        "commessa=%25",
    ],
)
def test_garbage_never_answers_500(client, supervisore, reg, query):
    response = client.get(f"/lotti?{query}")
    assert response.status_code in (200, 400)
    assert "Traceback" not in response.text and "Errore imprevisto" not in response.text
    assert client.get(f"/lotti?{query}", headers={"HX-Request": "true"}).status_code == 200


@pytest.mark.parametrize("offset", [str(2**31), "9" * 30, "１"])
def test_an_offset_that_is_no_row_number_shows_the_first_page(client, supervisore, reg, offset):
    response = client.get("/lotti", query_string={"offset": offset})
    assert response.status_code == 200 and codici(response.text) == TUTTI


def test_an_unknown_sort_is_the_default_without_a_message(client, supervisore, reg):
    response = client.get("/lotti?ordine=nome")
    assert response.status_code == 200
    assert codici(response.text) == TUTTI
    assert 'name="ordine" value="-inizio"' in response.text


def test_erp_down_the_register_still_works_with_a_notice(make_app, make_user, db_session, tmp_path):
    from asigest.dialects import sqlite_readonly_url
    from tests.web.conftest import login_on

    costruisci(db_session, make_user, adesso=utcnow())
    browser = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db")).test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    response = browser.get("/lotti")
    assert response.status_code == 200
    assert "Il gestionale ASITRON non risponde: le commesse sono indicate con il loro ID" in response.text
    assert codici(response.text) == TUTTI
    assert 'href="/commesse/101">#101</a>' in response.text
    # The order filter needs the ERP: it says so next to the field instead of failing.
    filtrata = browser.get("/lotti?commessa=2026/1234")
    assert filtrata.status_code == 400
    assert "la commessa non si può cercare ora" in filtrata.text


# -- sort, paging, htmx ---------------------------------------------------------------------


def test_column_headers_sort_and_keep_the_filters(client, supervisore, reg):
    html = client.get("/lotti?fase=SMD&con_scarti=").text
    href = link(html, "Scarti")
    assert parse_qs(urlsplit(href).query) == {"fase": ["SMD"], "ordine": ["-scarti"]}
    ordinata = client.get(href).text
    assert codici(ordinata) == ["2026-1234-SMD-001", "2026-1001-SMD-001", "2026-1234-SMD-002", "2026-1001-SMD-002"]
    assert 'aria-sort="descending"' in ordinata
    # Clicking the sorted column again reverses it.
    assert parse_qs(urlsplit(link(ordinata, "Scarti")).query)["ordine"] == ["scarti"]
    assert parse_qs(urlsplit(link(html, "Lotto")).query)["ordine"] == ["codice"]
    assert 'name="ordine" value="-scarti"' in ordinata  # the filter form keeps the sort


def test_paging_with_htmx_keeps_filters_and_sort(client, supervisore, db_session, make_user):
    reg = costruisci(db_session, make_user, adesso=utcnow(), storia=False)
    for n in range(52):
        inizio = T + timedelta(minutes=n)
        reg.lotto(db_session, f"x{n}", 101, "SMD", "SMD-A", "op1", inizio, inizio + timedelta(minutes=1), 10)
    prima = client.get("/lotti?fase=SMD&ordine=inizio").text
    assert len(codici(prima)) == 50 and codici(prima)[0] == "2026-1234-SMD-001"
    assert "Precedenti" not in prima and "Lotti 1–50" in prima
    succ = link(prima, "Successivi")
    assert parse_qs(urlsplit(succ).query) == {"fase": ["SMD"], "ordine": ["inizio"], "offset": ["50"]}
    assert f'hx-get="{succ.replace("&", "&amp;")}" hx-target="#registro" hx-push-url="true"' in prima
    frammento = client.get(succ, headers={"HX-Request": "true"})
    assert "<html" not in frammento.text and 'class="registro-filtri"' in frammento.text
    assert "HX-Request" in frammento.headers["Vary"]
    assert codici(frammento.text) == ["2026-1234-SMD-051", "2026-1234-SMD-052"]
    assert "Successivi" not in frammento.text
    assert parse_qs(urlsplit(link(frammento.text, "Precedenti")).query)["offset"] == ["0"]


def test_filter_form_refreshes_with_htmx_and_exports_carry_the_filters(client, supervisore, reg):
    html = client.get("/lotti?fase=SMD&stato=chiusi&ordine=codice").text
    assert (
        'hx-get="/lotti" hx-target="#registro" hx-push-url="true" hx-trigger="submit, change from:.filtro-subito"'
        in html
    )
    xlsx = link(html, "Esporta Excel")
    assert urlsplit(xlsx).path == "/lotti/esporta.xlsx"
    assert parse_qs(urlsplit(xlsx).query) == {"fase": ["SMD"], "stato": ["chiusi"], "ordine": ["codice"]}
    assert urlsplit(link(html, "Esporta CSV")).path == "/lotti/esporta.csv"


def test_an_empty_result_says_so(client, supervisore, reg):
    html = client.get("/lotti?da=2020-01-01&a=2020-01-31").text
    assert "Nessun lotto corrisponde ai filtri scelti." in html


def test_every_row_links_to_the_trace_of_its_lotto(client, login, reg):
    login("OPERATORE")  # the register and the trace are for every office login
    html = client.get("/lotti").text
    for codice in TUTTI:
        assert f'href="/tracciabilita?codice={codice}"' in riga_di(html, codice)
    traccia = client.get(link(riga_di(html, "2026-1234-CONTROLLI-001"), "tracciabilità"))
    assert traccia.status_code == 200
    assert 'value="2026-1234-CONTROLLI-001"' in traccia.text and "Da dove vengono i pezzi" in traccia.text
    assert 'aria-invalid="true"' not in traccia.text
