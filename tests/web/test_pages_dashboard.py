"""The dashboard page (SPEC §6, issue 6): the numbers of a period people can read and
share, charts drawn as SVG on the server, the 60-second htmx refresh that keeps the
period, the late / at-risk orders and drift panels, the wall screen, and bad input
answered in Italian (never an error page).

The plant is ``tests/registro_fixture.py``: in ISO week 10 of 2026 (2–8 March) four lotti
were closed — 95 good + 5 scrap (SMD-PICK, SMD-A, Anna Bianchi), 50 good (SMD-B, Luca
Verdi), 38 + 2 (CTRL-AOI, CTRL-A, Anna Bianchi), 20 good (SMD-A, Luca Verdi) — and two
lotti are open now, one of them for days (forgotten).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from asigest.domain.periodo import mezzanotte_utc
from asigest.models.types import utcnow
from tests.registro_fixture import costruisci
from tests.web.conftest import login_on

HTMX = {"HX-Request": "true"}
SETTIMANA_10 = "/dashboard?da=2026-03-02&a=2026-03-08"


@pytest.fixture
def impianto(db_session, make_user):
    return costruisci(db_session, make_user, adesso=utcnow())


def oggi_roma() -> date:
    return utcnow().astimezone(ZoneInfo("Europe/Rome")).date()


def cifra(html: str, ident: str) -> str:
    """The text of a figure (``<dd id=…>``), links and spaces stripped."""
    match = re.search(rf'id="{ident}"[^>]*>(.*?)</(?:dd|span)>', html, re.S)
    assert match, f"{ident} non trovato"
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def conteggio(html: str, ident: str) -> str:
    """A panel's count with its words (``1 in ritardo``)."""
    match = re.search(rf'id="{ident}"[^>]*><span class="num">([^<]*)</span>([^<]*)<', html)
    assert match, f"{ident} non trovato"
    return unescape(f"{match.group(1)}{match.group(2)}").strip()


def svg(html: str, ident: str) -> str:
    match = re.search(rf'<svg[^>]*aria-labelledby="{ident}-titolo[^"]*"[^>]*>.*?</svg>', html, re.S)
    assert match, f"grafico {ident} non trovato"
    return match.group(0)


def barre_verticali(svg_html: str) -> list[tuple[float, float]]:
    """``(y, height)`` of each bar, left to right."""
    return [
        (float(y), float(h))
        for y, h in re.findall(
            r'<rect class="barra" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg_html
        )
    ]


def barre_orizzontali(svg_html: str) -> list[tuple[str, float]]:
    """``(label, length)`` of each horizontal bar, top to bottom."""
    etichette = [unescape(t) for t in re.findall(r'<text class="etichetta"[^>]*>(.*?)</text>', svg_html)]
    lunghezze = [float(w) for w in re.findall(r'<rect class="barra" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg_html)]
    return list(zip(etichette, lunghezze))


# -- the numbers ------------------------------------------------------------------------


def test_supervisor_reads_the_numbers_of_a_week(client, login, impianto):
    login("SUPERVISORE")
    response = client.get(SETTIMANA_10)
    assert response.status_code == 200
    html = response.text
    assert "Settimana 10 del 2026" in html and "02/03/2026 – 08/03/2026" in html
    assert cifra(html, "kpi-lotti") == "4"
    assert cifra(html, "kpi-buoni") == "203"
    assert cifra(html, "kpi-scarti") == "3,33 %"  # 7 / 210
    assert "7 pezzi scartati" in html
    assert cifra(html, "kpi-aperti") == "2"
    # R13: the forgotten lotto is red and leads to the register's filter.
    assert cifra(html, "kpi-dimenticati") == "1"
    assert re.search(r'<div class="cifra allarme">\s*<dt>Lotti dimenticati', html)
    assert 'href="/lotti?dimenticati=1"' in html
    # Per phase: SMD 3 lotti, PTH none, CONTROLLI 1, with their scrap and first-pass yield.
    riga_smd = re.search(r'<th scope="row">SMD</th>(.*?)</tr>', html, re.S).group(1)
    assert [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", riga_smd, re.S)][
        :3
    ] == ["3", "5", "97,06 %"]  # 165 good of 170 worked
    # Pareto: scrap by reason and by machine, largest first; top operators.
    assert [e for e, _ in barre_orizzontali(svg(html, "pareto-causali"))][0].startswith("SMD-PICK")
    assert [e for e, _ in barre_orizzontali(svg(html, "pareto-macchine"))] == ["SMD-A", "CTRL-A"]
    operatori = barre_orizzontali(svg(html, "operatori"))
    assert [e for e, _ in operatori] == ["Anna Bianchi", "Luca Verdi"]  # 133 and 70 good pieces
    assert operatori[1][1] == pytest.approx(operatori[0][1] * 70 / 133, abs=0.2)
    # The numbers sit right-aligned, in Italian format.
    assert 'class="valore num" id="kpi-buoni"' in html


def test_the_daily_chart_has_thirty_bars_as_high_as_the_good_pieces(client, login, impianto):
    login("SUPERVISORE")
    html = client.get(SETTIMANA_10).text
    grafico = svg(html, "grafico-giorni")
    barre = barre_verticali(grafico)
    assert len(barre) == 30 and 'data-barre="30"' in grafico
    # 30 days ending Sunday 8 March: Mon 2 → 95, Tue 3 → 50, Wed 4 → 38, Thu 5 → 20.
    altezze = [h for _, h in barre]
    assert altezze[:23] == [0] * 23 and altezze[-3:] == [0, 0, 0]
    lun, mar, mer, gio = altezze[23:27]
    assert mar == pytest.approx(lun * 50 / 95, abs=0.2)
    assert mer == pytest.approx(lun * 38 / 95, abs=0.2)
    assert gio == pytest.approx(lun * 20 / 95, abs=0.2)
    basi = {round(y + h, 1) for y, h in barre}
    assert len(basi) == 1  # every bar stands on the axis
    # The days of the chosen week stand out; a hidden table repeats the numbers.
    assert grafico.count('class="colonna nel-periodo') == 7
    assert "<title" in grafico and "<desc" in grafico
    tabella = re.search(
        r'<div class="visually-hidden"><table>\s*<caption>Pezzi buoni per giorno</caption>.*?</table>', html, re.S
    ).group(0)
    assert '<td>02/03/2026</td><td class="num">95</td>' in tabella
    assert "style=" not in html  # the CSP forbids style attributes


def test_an_operator_sees_the_dashboard_without_the_drift_panel(client, login, impianto):
    login("OPERATORE")
    response = client.get(SETTIMANA_10)
    assert response.status_code == 200 and cifra(response.text, "kpi-lotti") == "4"
    assert 'hx-get="/dashboard/commesse"' in response.text
    assert "/dashboard/scostamenti" not in response.text
    assert client.get("/dashboard/scostamenti", headers=HTMX).status_code == 200  # the inline refusal
    assert "Il tuo ruolo non permette" in client.get("/dashboard/scostamenti", headers=HTMX).text
    assert client.get("/dashboard/scostamenti").status_code == 403


@pytest.mark.parametrize(
    "ruolo, dove", [("SUPERVISORE", "/dashboard"), ("ADMIN", "/dashboard"), ("OPERATORE", "/commesse")]
)
def test_home_sends_supervisors_to_the_dashboard_and_operators_to_the_orders(client, login, ruolo, dove):
    login(ruolo)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == dove


def test_navigation_has_the_dashboard_first(client, login):
    login("SUPERVISORE")
    html = client.get("/dashboard").text
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    links = re.findall(r'<a href="([^"]+)"', nav)
    assert links[:2] == ["/dashboard", "/commesse"]
    assert re.search(r'<a href="/dashboard" aria-current="page">Cruscotto</a>', nav)


def test_an_empty_period_shows_zeros_without_errors(client, login, impianto):
    login("SUPERVISORE")
    response = client.get("/dashboard?da=2025-01-06&a=2025-01-12")
    assert response.status_code == 200
    html = response.text
    assert cifra(html, "kpi-lotti") == "0" and cifra(html, "kpi-buoni") == "0" and cifra(html, "kpi-scarti") == "0 %"
    assert html.count("Nessuno scarto nel periodo.") == 2 and "Nessun lotto chiuso nel periodo." in html
    barre = barre_verticali(svg(html, "grafico-giorni"))
    assert len(barre) == 30 and all(h == 0 for _, h in barre)
    assert "Nessun pezzo buono in questi giorni." in svg(html, "grafico-giorni")
    riga_pth = re.search(r'<th scope="row">PTH</th>(.*?)</tr>', html, re.S).group(1)
    assert "—" in riga_pth  # no yield and no duration without closed lotti


def test_a_fresh_plant_renders(client, login):
    login("SUPERVISORE")
    response = client.get("/dashboard")
    assert response.status_code == 200 and cifra(response.text, "kpi-lotti") == "0"


# -- the period -------------------------------------------------------------------------


def test_default_is_this_iso_week_and_the_refresh_follows_the_calendar(client, login):
    login("SUPERVISORE")
    html = client.get("/dashboard").text
    oggi = oggi_roma()
    lunedi = oggi - timedelta(days=oggi.isoweekday() - 1)
    anno, settimana, _ = oggi.isocalendar()
    assert f"Settimana {settimana} del {anno}" in html
    assert f'name="da" value="{lunedi.isoformat()}"' in html
    assert f'name="a" value="{(lunedi + timedelta(days=6)).isoformat()}"' in html
    # No dates in the refresh: a screen left open on Sunday night shows the new week on Monday.
    assert 'id="cruscotto-numeri" class="cruscotto-numeri" hx-get="/dashboard"' in html
    assert 'hx-trigger="every 60s"' in html
    assert re.search(r'<a class="button" href="/dashboard" aria-current="true">Questa settimana</a>', html)


def test_presets_choose_today_last_week_and_the_last_30_days(client, login):
    login("SUPERVISORE")
    html = unescape(client.get("/dashboard").text)
    oggi = oggi_roma()
    lunedi_scorso = oggi - timedelta(days=oggi.isoweekday() - 1 + 7)
    assert f'href="/dashboard?da={oggi}&a={oggi}">Oggi</a>' in html
    assert f'href="/dashboard?da={lunedi_scorso}&a={lunedi_scorso + timedelta(days=6)}">Settimana scorsa</a>' in html
    assert f'href="/dashboard?da={oggi - timedelta(days=29)}&a={oggi}">Ultimi 30 giorni</a>' in html
    scorsa = client.get(f"/dashboard?da={lunedi_scorso}&a={lunedi_scorso + timedelta(days=6)}").text
    assert re.search(r'aria-current="true">Settimana scorsa</a>', scorsa)
    assert f"Settimana {lunedi_scorso.isocalendar()[1]} del" in scorsa


def test_the_fragment_answers_the_numbers_only_and_keeps_the_period(client, login, impianto):
    login("SUPERVISORE")
    page = client.get(SETTIMANA_10).text
    refresh = re.search(r'id="cruscotto-numeri" class="cruscotto-numeri" hx-get="([^"]+)"', page).group(1)
    assert unescape(refresh) == SETTIMANA_10
    response = client.get(unescape(refresh), headers=HTMX)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    fragment = response.text
    assert "<html" not in fragment and "<form" not in fragment and "mainnav" not in fragment
    assert fragment.lstrip().startswith('<div id="cruscotto-numeri"')
    assert cifra(fragment, "kpi-lotti") == "4" and cifra(fragment, "kpi-buoni") == "203"
    assert 'hx-trigger="every 60s"' in fragment and 'hx-swap="outerHTML"' in fragment


@pytest.mark.parametrize(
    "query, campo, messaggio",
    [
        ("da=ieri&a=2026-03-08", "da", "Data non valida: usare il formato gg/mm/aaaa."),
        ("da=2026-03-02&a=2026-13-40", "a", "Data non valida: usare il formato gg/mm/aaaa."),
        ("da=31/02/2026", "da", "Data non valida"),
        ("da=0001-01-01&a=2026-01-01", "da", "Data non valida"),
        ("da=2026-03-08&a=2026-03-02", "a", "viene prima della data di inizio"),
        ("da=2024-01-01&a=2026-01-01", "a", "Periodo troppo lungo: al massimo 366 giorni"),
        ("da=" + "9" * 500, "da", "Data non valida"),
    ],
)
def test_a_bad_period_gets_an_italian_message_and_this_week(client, login, impianto, query, campo, messaggio):
    login("SUPERVISORE")
    response = client.get(f"/dashboard?{query}")
    assert response.status_code == 400
    html = unescape(response.text)
    assert re.search(rf'<p class="field-error" id="periodo-{campo}-err">[^<]*{re.escape(messaggio)}', html)
    assert f'id="periodo-{campo}"' in html and 'aria-invalid="true"' in html
    assert "Intanto il cruscotto mostra la settimana corrente" in html
    assert f"Settimana {oggi_roma().isocalendar()[1]} del" in html
    # The refresh does not carry the bad period; htmx gets this week's numbers, not an error.
    assert 'class="cruscotto-numeri" hx-get="/dashboard"' in html
    fragment = client.get(f"/dashboard?{query}", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text


def test_dates_typed_the_italian_way_and_open_ended_periods(client, login, impianto):
    login("SUPERVISORE")
    html = client.get("/dashboard?da=02/03/2026&a=08/03/2026").text
    assert "Settimana 10 del 2026" in html and cifra(html, "kpi-lotti") == "4"
    # Only the end: the seven days up to it.
    html = client.get("/dashboard?a=2026-03-04").text
    assert "Dal 26/02/2026 al 04/03/2026" in html and cifra(html, "kpi-lotti") == "3"
    # Only the start: up to today.
    html = client.get("/dashboard?da=2026-03-05").text
    assert f"Dal 05/03/2026 al {oggi_roma():%d/%m/%Y}" in html and cifra(html, "kpi-lotti") == "1"
    # A single day that is today is called so.
    oggi = oggi_roma().isoformat()
    assert "Oggi, " in client.get(f"/dashboard?da={oggi}&a={oggi}").text


# -- late / at-risk orders and drift --------------------------------------------------------


@pytest.fixture
def erp_con_scadenze(tmp_path, make_app, db_session):
    """An app on an ERP whose due dates are around today (``tests/avanzamento_fixture.py``):
    order 1 late, 2 and 3 at risk, the others neither."""
    from asigest.dialects import sqlite_readonly_url
    from tests.avanzamento_fixture import configura, scrivi_erp

    percorso = scrivi_erp(tmp_path / "erp_scadenze.db", oggi_roma())
    configura(db_session)
    return make_app(ERP_URL=sqlite_readonly_url(percorso))


def test_late_and_at_risk_orders_most_urgent_first(erp_con_scadenze, make_user):
    browser = erp_con_scadenze.test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    page = browser.get("/dashboard").text
    assert 'id="cruscotto-commesse"' in page and 'hx-get="/dashboard/commesse" hx-trigger="load"' in page
    response = browser.get("/dashboard/commesse", headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    html = unescape(response.text)
    assert conteggio(html, "conta-ritardo") == "1 in ritardo" and conteggio(html, "conta-rischio") == "2 a rischio"
    in_ritardo = re.search(
        r'<table class="grid commesse-da-seguire" id="commesse-in-ritardo">.*?</table>', html, re.S
    ).group(0)
    a_rischio = re.search(
        r'<table class="grid commesse-da-seguire" id="commesse-a-rischio">.*?</table>', html, re.S
    ).group(0)
    assert re.findall(r'data-commessa="(\d+)"', in_ritardo) == ["1"]
    assert re.findall(r'data-commessa="(\d+)"', a_rischio) == ["2", "3"]  # due today, then in 7 days
    assert 'href="/commesse/1"' in in_ritardo and "da 1 giorno" in in_ritardo
    assert "SMD 100 %" in in_ritardo and "CONTROLLI 40 %" in in_ritardo
    assert "oggi" in a_rischio and "tra 7 giorni" in a_rischio
    assert 'href="/avanzamento?ritardo=1"' in html and 'href="/avanzamento?rischio=1"' in html
    assert 'hx-trigger="every 300s"' in html


def test_without_the_erp_the_numbers_still_show_and_the_panels_say_why(make_app, make_user, tmp_path, impianto):
    from asigest.dialects import sqlite_readonly_url

    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    browser = broken.test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    page = browser.get(SETTIMANA_10)
    assert page.status_code == 200 and cifra(page.text, "kpi-buoni") == "203"  # the KPIs never need the ERP
    for url in ("/dashboard/commesse", "/dashboard/scostamenti"):
        response = browser.get(url, headers=HTMX)
        assert response.status_code == 200
        assert "Il gestionale ASITRON non risponde" in response.text and 'role="alert"' in response.text
    parete = browser.get("/dashboard/parete")
    assert parete.status_code == 200 and cifra(parete.text, "parete-ritardo") == "—"
    assert "Gestionale non raggiungibile" in parete.text


def test_drift_panel_counts_the_orders_and_names_the_first(client, login, make_config):
    make_config(101, qta=400)  # the ERP now says 500
    login("SUPERVISORE")
    assert 'hx-get="/dashboard/scostamenti" hx-trigger="load"' in client.get("/dashboard").text
    html = unescape(client.get("/dashboard/scostamenti", headers=HTMX).text)
    assert conteggio(html, "conta-scostamenti") == "1 commessa con scostamenti"
    assert 'data-commessa="101"' in html and "Quantità: era 400, ora è 500." in html
    assert 'href="/commesse"' in html and 'hx-trigger="every 300s"' in html


def test_drift_panel_when_nothing_drifted(client, login):
    login("SUPERVISORE")
    html = unescape(client.get("/dashboard/scostamenti", headers=HTMX).text)
    assert "Nessuna commessa in produzione è cambiata nel gestionale" in html


# -- wall screen ----------------------------------------------------------------------------


def test_wall_screen_shows_today_and_this_week_without_controls(client, login, impianto, db_session):
    # Closed a moment ago, never before today's local midnight.
    inizio = max(utcnow() - timedelta(minutes=2), mezzanotte_utc(oggi_roma(), "Europe/Rome"))
    impianto.lotto(
        db_session,
        "oggi",
        101,
        "SMD",
        "SMD-A",
        "op2",
        inizio,
        inizio + timedelta(seconds=30),
        30,
        scarti=3,
        causale="SMD-PICK",
    )
    login("SUPERVISORE")
    assert client.get("/dashboard?parete=1").headers["Location"] == "/dashboard/parete"
    response = client.get("/dashboard/parete")
    assert response.status_code == 200
    html = response.text
    assert '<body class="parete"' in html
    for vietato in ("<form", "<nav", "<a ", "<input", "<button", "style="):
        assert vietato not in html, vietato
    assert cifra(html, "parete-oggi-buoni") == "27" and cifra(html, "parete-oggi-lotti") == "1"
    assert cifra(html, "parete-oggi-scarti") == "10 %"
    assert cifra(html, "parete-sett-buoni") == "27"
    assert cifra(html, "parete-aperti") == "2" and cifra(html, "parete-dimenticati") == "1"
    assert f"Settimana {oggi_roma().isocalendar()[1]}" in html
    assert len(barre_verticali(svg(html, "parete-giorni"))) == 30
    assert 'hx-get="/dashboard/parete" hx-trigger="every 60s" hx-swap="outerHTML"' in html
    fragment = client.get("/dashboard/parete", headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "HX-Request" in fragment.headers["Vary"]
    assert fragment.text.lstrip().startswith('<div id="parete"')


def test_dashboard_pages_need_login(client):
    for url in ("/dashboard", "/dashboard/parete", "/dashboard/commesse", "/dashboard/scostamenti"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
        response = client.get(url, headers=HTMX)
        assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
