"""The order card's production panel: a supervisor configures, edits and deletes the set-up
with htmx (fragments, inline errors keeping what was typed) or plain form posts; an
operator only reads."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from asigest.models import ConfigCommessa, Fase, FaseTipo
from tests.conftest import csrf_from
from tests.lotti_fixture import lotto_factory

HTMX = {"HX-Request": "true"}


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


@pytest.fixture
def make_lotto(db_session, make_user):
    return lotto_factory(db_session, make_user("OPERATORE").id)


def token(client, commessa_id=101) -> str:
    return csrf_from(client.get(f"/commesse/{commessa_id}").text)


def field(html: str, name: str) -> str:
    """The ``<input>`` or ``<textarea>…</textarea>`` named ``name``."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>|<textarea[^>]*name="{name}"[^>]*>[^<]*</textarea>', html)
    assert match, f"campo {name} assente"
    return match.group(0)


def checked(html: str, name: str) -> bool:
    return re.search(r"\schecked(\s|>|=)", field(html, name)) is not None


def phase_rows(html: str) -> dict[str, list[str]]:
    """``{FaseTipo: [cell texts]}`` of the phases table."""
    rows = {}
    for code, body in re.findall(r'<tr data-fase="(\w+)">(.*?)</tr>', html, re.S):
        rows[code] = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
    return rows


def saved_config(session, commessa_id=101) -> ConfigCommessa | None:
    session.rollback()
    return session.scalar(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id == commessa_id))


def fase(session, codice, commessa_id=101) -> Fase:
    session.rollback()
    return session.scalar(
        select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa_id, FaseTipo.codice == codice)
    )


def is_fragment(response) -> bool:
    return "<html" not in response.text and "<body" not in response.text


# -- configure ----------------------------------------------------------------------------


def test_an_unconfigured_open_order_offers_the_form_with_smd_and_controlli_preset(client, supervisore):
    html = client.get("/commesse/101").text
    assert "non è ancora configurata" in html
    form = re.search(r'<form[^>]*class="config-form".*?</form>', html, re.S).group(0)
    assert 'hx-post="/commesse/101/config"' in form and 'hx-target="#produzione"' in form
    assert 'action="/commesse/101/config"' in form and 'method="post"' in form  # works without JavaScript too
    assert 'name="csrf_token"' in form
    assert checked(form, "flag_smd") and checked(form, "flag_controlli") and not checked(form, "flag_pth")
    for name in ("diba", "revisione", "note"):
        field(form, name)
    assert "bloccata_documentazione" not in form  # set when editing
    assert "500 pezzi" in form  # the quantity the phases will plan
    assert 'id="documenti"' in html  # the documents section stays on the card


def test_supervisor_configures_with_htmx_and_gets_the_panel_back(client, supervisore, db_session):
    response = client.post(
        "/commesse/101/config",
        data={
            "csrf_token": token(client),
            "flag_smd": "y",
            "flag_pth": "y",
            "flag_controlli": "y",
            "diba": "DB-ALIM-24",
            "revisione": "C",
            "note": "Prima serie",
        },
        headers=HTMX,
    )
    assert response.status_code == 200 and is_fragment(response)
    assert "HX-Request" in response.headers["Vary"]
    html = response.text
    assert html.lstrip().startswith('<section class="panel produzione" id="produzione"')
    assert "Commessa configurata" in html
    assert "DB-ALIM-24" in html and "Prima serie" in html
    assert 'class="config-form"' not in html
    rows = phase_rows(html)
    assert list(rows) == ["SMD", "PTH", "CONTROLLI"]
    # Fase, Stato, Prevista, Prodotta, Scarti, Disponibile
    assert rows["SMD"][:6] == ["SMD", "aperta", "500", "0", "0", "500"]
    assert rows["PTH"][5] == "0"
    config = saved_config(db_session)
    assert (config.flag_smd, config.flag_pth, config.flag_controlli, config.diba) == (True, True, True, "DB-ALIM-24")


def test_supervisor_configures_without_htmx(client, supervisore, db_session):
    response = client.post("/commesse/101/config", data={"csrf_token": token(client), "flag_smd": "y"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/commesse/101#produzione")
    assert saved_config(db_session).flag_controlli is False
    page = client.get("/commesse/101").text
    assert "Commessa configurata" in page and list(phase_rows(page)) == ["SMD"]
    assert "Commessa configurata" not in client.get("/commesse/101").text  # shown once


def test_no_phase_is_refused_inline_keeping_what_was_typed(client, supervisore, db_session):
    data = {"csrf_token": token(client), "diba": "DB-<9>", "revisione": "B", "note": "Da non perdere"}
    response = client.post("/commesse/101/config", data=data, headers=HTMX)
    assert response.status_code == 200 and is_fragment(response)
    html = response.text
    assert re.search(r'<fieldset[^>]*aria-invalid="true"', html)
    assert re.search(r'<p class="field-error" id="config-fasi-err">Scegliere almeno una fase', html)
    assert 'value="DB-&lt;9&gt;"' in field(html, "diba")
    assert 'value="B"' in field(html, "revisione")
    assert "Da non perdere" in field(html, "note")
    assert not checked(html, "flag_smd")  # as the supervisor left it
    assert saved_config(db_session) is None

    # Without htmx: the whole card, 400, same inline error and values.
    response = client.post("/commesse/101/config", data=data)
    assert response.status_code == 400 and "<html" in response.text
    assert "Scegliere almeno una fase" in response.text and "Da non perdere" in response.text


def test_a_too_long_field_is_shown_next_to_it(client, supervisore, db_session):
    response = client.post(
        "/commesse/101/config",
        data={"csrf_token": token(client), "flag_smd": "y", "diba": "D" * 51, "note": "resta"},
        headers=HTMX,
    )
    html = response.text
    assert 'aria-invalid="true"' in field(html, "diba")
    assert re.search(r'<p class="field-error" id="config-diba-err">Al massimo 50 caratteri\.</p>', html)
    assert "resta" in field(html, "note") and checked(html, "flag_smd")
    assert saved_config(db_session) is None


def test_an_order_configured_meanwhile_is_reported(client, supervisore, make_config, db_session):
    csrf = token(client)
    make_config(101, diba="DB-ALTRO")  # someone else, from another tab
    response = client.post("/commesse/101/config", data={"csrf_token": csrf, "flag_smd": "y"}, headers=HTMX)
    html = response.text
    assert "è già configurata" in html
    assert "DB-ALTRO" in html and 'class="config-form"' not in html  # the panel shows the real config
    assert saved_config(db_session).diba == "DB-ALTRO"


def test_an_order_without_quantity_is_refused_with_a_clear_message(client, supervisore, db_session):
    html = client.get("/commesse/104").text
    assert "manca la quantità" in html
    response = client.post(
        "/commesse/104/config", data={"csrf_token": token(client, 104), "flag_smd": "y"}, headers=HTMX
    )
    assert "non ha la quantità nel gestionale" in response.text
    assert saved_config(db_session, 104) is None


@pytest.mark.parametrize("commessa_id", [103, 106, 107])
def test_orders_not_open_offer_no_form(client, supervisore, commessa_id):
    html = client.get(f"/commesse/{commessa_id}").text
    assert 'class="config-form"' not in html
    assert "Si possono configurare solo le commesse aperte nel gestionale." in html


def test_csrf_is_required(client, supervisore, db_session):
    for headers in ({}, HTMX):
        response = client.post("/commesse/101/config", data={"flag_smd": "y"}, headers=headers)
        assert response.status_code in (200, 400)
        assert "Il modulo è scaduto o non è valido" in response.text
    response = client.post("/commesse/101/config", data={"flag_smd": "y", "csrf_token": "falso"})
    assert response.status_code == 400
    assert saved_config(db_session) is None
    # The token htmx sends from <body hx-headers> works as the form field does.
    html = client.get("/commesse/101").text
    assert re.search(r'<body[^>]*hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'', html)
    response = client.post(
        "/commesse/101/config", data={"flag_smd": "y"}, headers={**HTMX, "X-CSRFToken": csrf_from(html)}
    )
    assert response.status_code == 200 and saved_config(db_session) is not None


# -- edit and delete --------------------------------------------------------------------------


def test_edit_form_is_filled_with_the_config(client, supervisore, make_config):
    make_config(101, fasi=("SMD", "CONTROLLI"), diba="DB-1", revisione="A", note="Vecchia nota")
    page = client.get("/commesse/101").text
    edit = re.search(r'<a[^>]*href="/commesse/101/config/modifica"[^>]*>', page).group(0)
    assert 'hx-get="/commesse/101/config/modifica"' in edit and 'hx-target="#produzione"' in edit

    response = client.get("/commesse/101/config/modifica", headers=HTMX)
    assert response.status_code == 200 and is_fragment(response)
    html = response.text
    assert 'hx-post="/commesse/101/config/modifica"' in html
    assert checked(html, "flag_smd") and not checked(html, "flag_pth") and checked(html, "flag_controlli")
    assert not checked(html, "bloccata_documentazione")
    assert 'value="DB-1"' in field(html, "diba") and "Vecchia nota" in field(html, "note")
    assert 'hx-get="/commesse/101/produzione"' in html  # Annulla puts the panel back

    # Without htmx, the same URL is the whole card with the form open.
    full = client.get("/commesse/101/config/modifica")
    assert full.status_code == 200 and "<html" in full.text and 'hx-post="/commesse/101/config/modifica"' in full.text


def test_supervisor_edits_with_htmx(client, supervisore, make_config, db_session):
    make_config(101, fasi=("SMD", "CONTROLLI"), diba="DB-1")
    response = client.post(
        "/commesse/101/config/modifica",
        data={
            "csrf_token": token(client),
            "flag_smd": "y",
            "flag_pth": "y",
            "flag_controlli": "y",
            "diba": "DB-2",
            "revisione": "",
            "note": "Nuova",
            "bloccata_documentazione": "y",
        },
        headers=HTMX,
    )
    assert response.status_code == 200 and is_fragment(response)
    html = response.text
    assert "Configurazione salvata." in html
    assert "Bloccata" in html and "DB-2" in html
    assert list(phase_rows(html)) == ["SMD", "PTH", "CONTROLLI"]
    config = saved_config(db_session)
    assert (config.diba, config.revisione, config.note, config.bloccata_documentazione) == ("DB-2", None, "Nuova", True)


def test_edit_refusal_names_the_phase_and_keeps_the_form(client, supervisore, make_config, make_lotto, db_session):
    make_config(101, fasi=("SMD", "PTH", "CONTROLLI"))
    make_lotto(fase(db_session, "PTH"), 10)
    response = client.post(
        "/commesse/101/config/modifica",
        data={"csrf_token": token(client), "flag_smd": "y", "flag_controlli": "y", "note": "Scritta ora"},
        headers=HTMX,
    )
    html = response.text
    assert response.status_code == 200 and is_fragment(response)
    assert re.search(r'id="config-fasi-err">La fase PTH ha già lotti', html)
    assert "Scritta ora" in field(html, "note") and not checked(html, "flag_pth")
    assert fase(db_session, "PTH") is not None and saved_config(db_session).note is None


def test_turning_on_a_phase_ahead_of_a_worked_one_is_refused_next_to_the_phases(
    client, supervisore, make_config, make_lotto, db_session
):
    make_config(101, fasi=("SMD", "CONTROLLI"))
    make_lotto(fase(db_session, "CONTROLLI"), 10)
    response = client.post(
        "/commesse/101/config/modifica",
        data={"csrf_token": token(client), "flag_smd": "y", "flag_pth": "y", "flag_controlli": "y"},
        headers=HTMX,
    )
    html = response.text
    assert response.status_code == 200 and is_fragment(response)
    assert re.search(
        r'id="config-fasi-err">La fase PTH non si può aggiungere: verrebbe prima della fase CONTROLLI', html
    )
    assert checked(html, "flag_pth")  # what was asked stays on screen
    assert fase(db_session, "PTH") is None and saved_config(db_session).flag_pth is False


def test_delete_with_htmx_gives_back_a_fresh_form(client, supervisore, make_config, db_session):
    make_config(101)
    page = client.get("/commesse/101").text
    delete = re.search(r'<form[^>]*action="/commesse/101/config/elimina"[^>]*>', page).group(0)
    assert "hx-confirm=" in delete and 'hx-target="#produzione"' in delete
    response = client.post("/commesse/101/config/elimina", data={"csrf_token": csrf_from(page)}, headers=HTMX)
    assert response.status_code == 200 and is_fragment(response)
    assert "Configurazione eliminata" in response.text
    assert checked(response.text, "flag_smd") and not checked(response.text, "flag_pth")  # defaults again
    assert saved_config(db_session) is None and fase(db_session, "SMD") is None


def test_delete_with_lotti_is_refused_in_the_panel(client, supervisore, make_config, make_lotto, db_session):
    make_config(101)
    make_lotto(fase(db_session, "SMD"), 10, output=10)
    response = client.post("/commesse/101/config/elimina", data={"csrf_token": token(client)}, headers=HTMX)
    assert response.status_code == 200
    assert re.search(r'role="alert"><p>La configurazione non si può eliminare: la fase SMD ha già lotti', response.text)
    assert saved_config(db_session) is not None
    response = client.post("/commesse/101/config/elimina", data={"csrf_token": token(client)})
    assert response.status_code == 400 and "<html" in response.text


def test_edit_and_delete_of_an_unconfigured_order_are_404(client, supervisore):
    assert client.get("/commesse/101/config/modifica").status_code == 404
    assert client.post("/commesse/101/config/elimina", data={"csrf_token": token(client)}).status_code == 404


# -- reading --------------------------------------------------------------------------------------


def test_phases_table_shows_quantities_and_availability(client, supervisore, make_config, make_lotto, db_session):
    make_config(101, fasi=("SMD", "PTH"))
    make_lotto(fase(db_session, "SMD"), 100, output=90, scarti=10)
    make_lotto(fase(db_session, "SMD"), 60)
    make_lotto(fase(db_session, "PTH"), 30, output=28, scarti=2)
    db_session.rollback()
    smd, pth = fase(db_session, "SMD"), fase(db_session, "PTH")
    smd.qta_prodotta, smd.qta_scarti, pth.qta_prodotta, pth.qta_scarti = 90, 10, 28, 2
    db_session.commit()
    html = client.get("/commesse/101").text
    for label in ("Prevista", "Prodotta", "Scarti", "Disponibile", "Stato"):
        assert f">{label}</th>" in html
    rows = phase_rows(html)
    # SMD: 500 − 90 − 60 open = 350; PTH: 90 good − 30 = 60.
    assert rows["SMD"][2:6] == ["500", "90", "10", "350"]
    assert rows["PTH"][2:6] == ["500", "28", "2", "60"]
    assert "18%" in rows["SMD"][6]


def test_panel_fragment(client, supervisore, make_config):
    make_config(101)
    fragment = client.get("/commesse/101/produzione", headers=HTMX)
    assert is_fragment(fragment) and 'id="produzione"' in fragment.text and "HX-Request" in fragment.headers["Vary"]
    assert "<html" in client.get("/commesse/101/produzione").text


def test_quantity_drift_is_flagged(client, supervisore, make_config):
    make_config(101, qta=400)  # the ERP says 500 now
    assert "era 400, ora è 500" in client.get("/commesse/101").text


# -- operators ------------------------------------------------------------------------------------


def test_operator_sees_the_card_read_only(client, login, make_config):
    login("OPERATORE")
    html = client.get("/commesse/101").text
    assert "non è ancora configurata" in html and "<form" not in html.split('id="produzione"')[1].split("</section>")[0]
    make_config(101)
    html = client.get("/commesse/101").text
    assert list(phase_rows(html)) == ["SMD", "CONTROLLI"]
    panel = html.split('id="produzione"')[1].split("</section>")[0]
    assert "<form" not in panel and "/config/modifica" not in panel and "Elimina" not in panel


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/commesse/102/config"),
        ("GET", "/commesse/101/config/modifica"),
        ("POST", "/commesse/101/config/modifica"),
        ("POST", "/commesse/101/config/elimina"),
    ],
)
def test_operator_cannot_change_the_set_up(client, login, make_config, row_count, method, path):
    login("OPERATORE")
    make_config(101)
    csrf = token(client)
    before = row_count()
    response = client.open(path, method=method, data={"csrf_token": csrf, "flag_smd": "y"})
    assert response.status_code == 403
    assert row_count() == before
