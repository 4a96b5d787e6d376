"""R12 on the supervisor pages: the orders list flags drifting rows and, in a panel
the page loads with htmx, lists every drifting order (grave first, in red); the order
card says what changed and what to do."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.lotti_fixture import lotto_factory
from tests.web.conftest import rows_by_id

HTMX = {"HX-Request": "true"}


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


@pytest.fixture
def lotto_aperto(db_session, make_user):
    """``lotto_aperto(commessa_id)``: open a lotto in the order's first fase."""
    from sqlalchemy import select

    from asigest.models import Fase

    make = lotto_factory(db_session, make_user(ruolo="OPERATORE", password=None, pin="1234").id)

    def open_one(commessa_id):
        fase = db_session.scalars(select(Fase).where(Fase.commessa_erp_id == commessa_id).order_by(Fase.id)).first()
        return make(fase, 10)

    return open_one


PANNELLO = "/commesse?pannello=scostamenti"


def panel_html(client) -> str:
    """The drift panel as the list page loads it (htmx GET of its placeholder's URL)."""
    page = client.get("/commesse").text
    assert f'hx-get="{PANNELLO}" hx-trigger="load"' in page
    response = client.get(PANNELLO, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    return response.text


def panel(html: str) -> str | None:
    match = re.search(r'<section class="panel scostamenti".*?</section>', html, re.S)
    return match.group(0) if match else None


def panel_rows(html: str) -> list[tuple[int, str]]:
    """``(commessa ID, row class)`` of the panel's rows, in order."""
    return [(int(i), cls) for cls, i in re.findall(r'<tr class="([\w-]+)" data-commessa="(\d+)">', panel(html) or "")]


def banner(html: str) -> str | None:
    match = re.search(r'<div class="message (message-\w+) scostamento" id="scostamento"[^>]*>(.*?)</div>', html, re.S)
    return (match.group(1), unescape(match.group(2))) if match else None


# -- orders list ---------------------------------------------------------------------


def test_list_flags_a_row_whose_quantity_changed(client, supervisore, make_config):
    make_config(101, qta=400)
    make_config(40, qta=100)
    rows = rows_by_id(client.get("/commesse").text)
    assert "Quantità cambiata nel gestionale" in rows[101] and "badge warn scostamento-flag" in rows[101]
    assert "Configurata" in rows[40] and "scostamento-flag" not in rows[40]


def test_htmx_results_keep_the_flags_but_not_the_panel(client, supervisore, make_config):
    make_config(101, qta=400)
    fragment = client.get("/commesse?q=1234", headers=HTMX)
    assert "<html" not in fragment.text and panel(fragment.text) is None and PANNELLO not in fragment.text
    assert "Quantità cambiata nel gestionale" in rows_by_id(fragment.text)[101]


def test_panel_without_htmx_is_just_the_list(client, supervisore, make_config):
    make_config(101, qta=400)
    response = client.get(PANNELLO)
    assert response.status_code == 200 and "<html" in response.text and "Commesse aperte" in response.text


def test_panel_lists_drifting_orders_grave_first(client, supervisore, make_config, fase_aperta, lotto_aperto):
    make_config(101, qta=400)  # quantity
    make_config(107)  # suspended in the ERP
    make_config(103)  # closed in the ERP, with a lotto open: grave
    fase_aperta(103, "SMD")
    lotto_aperto(103)
    make_config(999_001)  # not in the ERP any more
    make_config(1, qta=100)  # fine
    html = panel_html(client)
    block = panel(html)
    assert "Commesse con scostamenti dal gestionale" in block
    assert panel_rows(html) == [
        (103, "scostamento-grave"),
        (101, "scostamento"),
        (107, "scostamento"),
        (999_001, "scostamento"),
    ]
    grave = re.search(r'data-commessa="103">(.*?)</tr>', block, re.S).group(1)
    assert 'href="/commesse/103"' in grave and "Grave" in grave and "stato «C»" in unescape(grave)
    assert "era 400, ora è 500" in block
    assert "Non esiste più nel gestionale." in block and "ID gestionale 999001" in block
    assert "/commesse/999001" not in block  # no card to open for an order the ERP lost


def test_normal_end_is_not_in_the_panel(client, supervisore, make_config, fase_aperta):
    make_config(103, fasi=("SMD",))
    fase = fase_aperta(103, "SMD")
    from asigest.extensions import db

    fase.stato = "COMPLETATA"
    db.session.commit()
    assert panel_html(client).strip() == ""


def test_panel_is_for_supervisors(client, login, make_config):
    make_config(101, qta=400)
    login("OPERATORE")
    html = client.get("/commesse").text
    assert PANNELLO not in html and panel(html) is None
    assert panel(client.get(PANNELLO, headers=HTMX).text) is None
    assert "Quantità cambiata nel gestionale" in rows_by_id(html)[101]


def test_long_panel_keeps_the_rest_one_click_away(client, supervisore, make_config):
    for commessa_id in range(1, 13):
        make_config(commessa_id, qta=7)
    html = panel_html(client)
    block = panel(html)
    assert len(panel_rows(html)) == 12
    assert "<details" in block and "Mostra le altre 2 commesse con scostamenti" in block


def test_list_answers_503_when_the_erp_is_unreachable_even_with_drift_to_compute(
    make_app, make_user, make_config, tmp_path
):
    from asigest.dialects import sqlite_readonly_url
    from tests.web.conftest import login_on

    make_config(101, qta=400)
    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    browser = broken.test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    response = browser.get("/commesse")
    assert response.status_code == 503 and "Il gestionale ASITRON non risponde" in response.text


# -- order card ----------------------------------------------------------------------------


def test_card_warns_about_the_quantity(client, supervisore, make_config):
    make_config(101, qta=400)
    livello, testo = banner(client.get("/commesse/101").text)
    assert livello == "message-warn"
    assert (
        "era 400, ora è 500" in testo
        and "pianificano ancora 400 pezzi" in testo
        and "verificare con l'ufficio" in testo
    )


def test_card_of_an_order_closed_with_open_lotti_is_red(client, supervisore, make_config, fase_aperta, lotto_aperto):
    make_config(103)
    fase_aperta(103, "SMD")
    lotto_aperto(103)
    lotto_aperto(103)
    livello, testo = banner(client.get("/commesse/103").text)
    assert livello == "message-error"
    assert "stato «C»" in testo and "Ci sono 2 lotti ancora aperti" in testo and "chiuderli o annullarli" in testo


def test_card_of_a_suspended_order_in_production(client, supervisore, make_config):
    make_config(107)
    livello, testo = banner(client.get("/commesse/107").text)
    assert livello == "message-warn" and "stato «S»" in testo and "La produzione non è finita" in testo


def test_card_of_a_finished_order_closed_in_the_erp_has_no_banner(client, supervisore, make_config, fase_aperta):
    make_config(103, fasi=("SMD",))
    fase = fase_aperta(103, "SMD")
    from asigest.extensions import db

    fase.stato = "COMPLETATA"
    db.session.commit()
    html = client.get("/commesse/103").text
    assert banner(html) is None
    assert "Non aperta nel gestionale (stato «C»)" in unescape(html)  # the header still says it


def test_card_of_an_unchanged_order_has_no_banner(client, supervisore, make_config):
    make_config(101, qta=500)
    assert banner(client.get("/commesse/101").text) is None


def test_production_panel_fragment_keeps_the_banner(client, supervisore, make_config):
    make_config(101, qta=400)
    fragment = client.get("/commesse/101/produzione", headers=HTMX)
    assert "<html" not in fragment.text and banner(fragment.text)[0] == "message-warn"


def test_panel_never_lists_more_than_a_hundred(client, supervisore, db_session):
    from sqlalchemy import insert, select

    from asigest.models import ConfigCommessa, Fase, FaseTipo

    smd = db_session.scalar(select(FaseTipo.id).where(FaseTipo.codice == "SMD"))
    ids = range(700_001, 700_106)  # 105 orders the ERP does not have
    db_session.execute(
        insert(ConfigCommessa),
        [
            {"commessa_erp_id": i, "flag_smd": True, "flag_pth": False, "flag_controlli": False, "qta_erp": 5}
            for i in ids
        ],
    )
    db_session.execute(
        insert(Fase), [{"commessa_erp_id": i, "fase_tipo_id": smd, "stato": "APERTA", "qta_prevista": 5} for i in ids]
    )
    db_session.commit()
    html = panel_html(client)
    assert len(panel_rows(html)) == 100
    assert (
        "Mostra le altre 95 commesse con scostamenti" in html
        and "Altre 5 commesse con scostamenti non sono elencate" in html
    )


def test_panel_says_when_the_erp_is_unreachable(make_app, make_user, make_config, tmp_path):
    from asigest.dialects import sqlite_readonly_url
    from tests.web.conftest import login_on

    make_config(101, qta=400)
    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"))
    browser = broken.test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    response = browser.get(PANNELLO, headers=HTMX)
    assert response.headers["HX-Retarget"] == "#messages"
    assert "Il gestionale ASITRON non risponde" in response.text and "Traceback" not in response.text
