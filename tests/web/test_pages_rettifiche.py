"""The lotto page (``/lotti/<id>``: data, history, correction, cancellation) and the phase
state actions on the order card — htmx fragments, plain form posts, inline errors that
keep what was typed, CSRF, and operators who only read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from asigest.models import Fase, FaseTipo, LogEvento, Lotto, Macchina
from asigest.services import lotti as lotti_service
from asigest.services.auth import actor_for
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Rome


@pytest.fixture
def linea(db_session, erp, make_config, make_user):
    """Commessa 101 (2026/1234, QTA 500) SMD + CONTROLLI; a closed SMD lotto (95 good, 3
    scrap on SMD-L2) and an open one; an operator Luca Verdi."""
    make_config(101, fasi=("SMD", "CONTROLLI"), qta=500)
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    l1 = Macchina(codice="SMD-L1", descrizione="Linea 1", fase_tipo_id=tipi["SMD"].id, attiva=True)
    l2 = Macchina(codice="SMD-L2", descrizione="Linea 2", fase_tipo_id=tipi["SMD"].id, attiva=True)
    db_session.add_all([l1, l2])
    db_session.commit()
    fasi = {f.fase_tipo.codice: f.id for f in db_session.scalars(select(Fase).where(Fase.commessa_erp_id == 101))}
    operatore = actor_for(make_user(ruolo="OPERATORE", password=None, pin="1234", nome="Luca", cognome="Verdi"))
    chiuso = lotti_service.apri_lotto(
        db_session, erp, actor=operatore, fase_id=fasi["SMD"], macchina_id=l2.id, qta_input=100, adesso=T0
    ).lotto
    lotti_service.chiudi_lotto(
        db_session,
        actor=operatore,
        lotto_id=chiuso.id,
        qta_output=95,
        qta_scarti=3,
        causale="SMD-PICK",
        adesso=T0 + timedelta(hours=2, minutes=5),
    )
    aperto = lotti_service.apri_lotto(
        db_session,
        erp,
        actor=operatore,
        fase_id=fasi["SMD"],
        macchina_id=l1.id,
        qta_input=50,
        adesso=T0 + timedelta(hours=3),
    ).lotto
    return {"fasi": fasi, "chiuso": chiuso.id, "aperto": aperto.id}


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


def token(client, url="/commesse") -> str:
    return csrf_from(client.get(url).text)


def audit_count(session, azione) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == azione))


def fase(session, linea, codice="SMD") -> Fase:
    session.rollback()
    return session.get(Fase, linea["fasi"][codice])


def lotto(session, lotto_id) -> Lotto | None:
    session.rollback()
    return session.get(Lotto, lotto_id)


def field(html: str, name: str) -> str:
    match = re.search(
        rf'<(?:input|select)[^>]*name="{name}"[^>]*>|<textarea[^>]*name="{name}"[^>]*>[^<]*</textarea>', html
    )
    assert match, f"campo {name} assente"
    return match.group(0)


def selected(html: str) -> str | None:
    """The value of the selected ``<option>``."""
    for option in re.findall(r"<option[^>]*>", html):
        if re.search(r"\sselected(\s|>|=)", option):
            return re.search(r'value="([^"]*)"', option).group(1)
    return None


def is_fragment(response) -> bool:
    return "<html" not in response.text and "<body" not in response.text


# -- the lotto page ---------------------------------------------------------------------------


def test_closed_lotto_page_shows_its_data_history_and_the_correction_form(client, supervisore, linea):
    response = client.get(f"/lotti/{linea['chiuso']}")
    assert response.status_code == 200
    html = response.text
    assert "2026-1234-SMD-001" in html
    assert 'href="/commesse/101"' in html and "2026/1234" in html
    assert "SMD-L2" in html and "Luca Verdi" in html
    assert "02/03/2026 08:00" in html and "02/03/2026 10:05" in html  # plant time
    assert "2 h 5 min" in html
    assert "SMD-PICK" in html and "DB-0001" in html
    assert re.search(r'class="qta-output">95<', html) and re.search(r'class="qta-scarti">3<', html)
    assert re.search(r'hx-get="/eventi\?entita=Lotti&amp;entita_id=%d"' % linea["chiuso"], html)
    form = re.search(r'<form id="rettifica-form".*?</form>', html, re.S).group(0)
    assert 'hx-post="/lotti/%d/rettifica"' % linea["chiuso"] in form and 'method="post"' in form
    assert 'value="95"' in field(form, "qta_output") and 'value="3"' in field(form, "qta_scarti")
    assert selected(form) == "SMD-PICK" and "CTRL-AOI" not in form and "MANIP" in form
    assert "annulla-form" not in html


def test_open_lotto_page_offers_cancel_not_correction(client, supervisore, linea):
    html = client.get(f"/lotti/{linea['aperto']}").text
    assert "annulla-form" in html and "rettifica-form" not in html
    assert "hx-confirm=" in html


def test_operator_reads_the_page_but_gets_no_forms_and_403_on_posts(client, login, linea, db_session):
    login("OPERATORE")
    html = client.get(f"/lotti/{linea['chiuso']}").text
    assert "2026-1234-SMD-001" in html and "rettifica-form" not in html and "annulla-form" not in html
    csrf = csrf_from(html)
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        data={"csrf_token": csrf, "qta_output": "90", "qta_scarti": "0", "causale": "", "motivo": "x"},
    )
    assert response.status_code == 403
    response = client.post(f"/lotti/{linea['aperto']}/annulla", data={"csrf_token": csrf, "motivo": "x"})
    assert response.status_code == 403
    assert lotto(db_session, linea["chiuso"]).qta_output == 95 and lotto(db_session, linea["aperto"]) is not None


def test_unknown_lotto_is_404(client, supervisore):
    assert client.get("/lotti/999999").status_code == 404
    assert client.get("/lotti/99999999999").status_code == 404


# -- correction ------------------------------------------------------------------------------


def test_htmx_correction_swaps_the_panel_with_confirmation_and_new_totals(client, supervisore, linea, db_session):
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        headers=HTMX,
        data={
            "csrf_token": csrf,
            "qta_output": "90",
            "qta_scarti": "8",
            "causale": "SMD-REFLOW",
            "motivo": "Ricontati",
        },
    )
    assert response.status_code == 200 and is_fragment(response)
    html = response.text
    assert 'id="lotto-pannello"' in html
    assert "Rettifica salvata" in html and "90 pezzi buoni, 8 scarti" in html
    assert response.headers["HX-Reswap"] == "outerHTML show:#lotto-pannello:top"
    assert re.search(r'class="fase-prodotta">90<', html) and re.search(r'class="fase-scarti">8<', html)
    assert 'hx-get="/eventi?entita=Lotti' in html  # the history reloads with the panel
    corretto = lotto(db_session, linea["chiuso"])
    assert (corretto.qta_output, corretto.qta_scarti, corretto.causale.codice) == (90, 8, "SMD-REFLOW")
    assert (fase(db_session, linea).qta_prodotta, fase(db_session, linea).qta_scarti) == (90, 8)
    assert audit_count(db_session, "LOTTO_RETTIFICATO") == 1


def test_plain_post_correction_redirects_to_the_lotto_with_the_confirmation(client, supervisore, linea):
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        data={"csrf_token": csrf, "qta_output": "96", "qta_scarti": "0", "causale": "", "motivo": "Scarto recuperato"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/lotti/{linea['chiuso']}")
    html = client.get(response.headers["Location"]).text
    assert "Rettifica salvata" in html and re.search(r'class="qta-scarti">0<', html)


@pytest.mark.parametrize(
    "dati, campo, messaggio",
    [
        (
            {"qta_output": "90", "qta_scarti": "8", "causale": "SMD-REFLOW", "motivo": "  "},
            "motivo",
            "Indicare il motivo",
        ),
        (
            {"qta_output": "99", "qta_scarti": "5", "causale": "SMD-PICK", "motivo": "m"},
            "qta_output",
            "superano i pezzi entrati",
        ),
        ({"qta_output": "90", "qta_scarti": "5", "causale": "", "motivo": "m"}, "causale", "scegliere la causale"),
        (
            {"qta_output": "98", "qta_scarti": "0", "causale": "SMD-PICK", "motivo": "m"},
            "causale",
            "Senza scarti non si indica la causale",
        ),
        (
            {"qta_output": "nove", "qta_scarti": "5", "causale": "SMD-PICK", "motivo": "m"},
            "qta_output",
            "numero intero",
        ),
        ({"qta_output": "90", "qta_scarti": "-1", "causale": "SMD-PICK", "motivo": "m"}, "qta_scarti", "numero intero"),
        (
            {"qta_output": "90", "qta_scarti": "5", "causale": "CTRL-AOI", "motivo": "m"},
            "causale",
            "non vale per la fase",
        ),
        ({"qta_output": "95", "qta_scarti": "3", "causale": "SMD-PICK", "motivo": "m"}, None, "non cambia nulla"),
    ],
)
def test_correction_errors_stay_next_to_the_fields_keeping_what_was_typed(
    client, supervisore, linea, db_session, dati, campo, messaggio
):
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(f"/lotti/{linea['chiuso']}/rettifica", headers=HTMX, data={"csrf_token": csrf, **dati})
    assert response.status_code == 200 and is_fragment(response)
    html = response.text
    form = re.search(r'<form id="rettifica-form".*?</form>', html, re.S).group(0)
    if campo:
        errore = re.search(rf'id="rettifica-{campo}-err">([^<]*)<', form)
        assert errore and messaggio in errore.group(1), form
        assert 'aria-invalid="true"' in field(form, campo)
    else:
        assert messaggio in form
    assert f'value="{dati["qta_output"]}"' in field(form, "qta_output")
    assert f'value="{dati["qta_scarti"]}"' in field(form, "qta_scarti")
    assert dati["motivo"].strip() in field(form, "motivo")
    if dati["causale"] in ("", "SMD-PICK", "SMD-REFLOW"):
        assert (selected(form) or "") == dati["causale"]
    assert lotto(db_session, linea["chiuso"]).qta_output == 95
    assert audit_count(db_session, "LOTTO_RETTIFICATO") == 0
    # Without JavaScript the same refusal is a full page with an error status.
    plain = client.post(f"/lotti/{linea['chiuso']}/rettifica", data={"csrf_token": csrf, **dati})
    assert plain.status_code in (400, 422) and "<html" in plain.text and messaggio in plain.text


def test_missing_reason_and_bad_figures_are_reported_together(client, supervisore, linea):
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        headers=HTMX,
        data={"csrf_token": csrf, "qta_output": "99", "qta_scarti": "3", "causale": "SMD-PICK", "motivo": ""},
    )
    assert 'id="rettifica-motivo-err"' in response.text and 'id="rettifica-qta_output-err"' in response.text


def test_correction_refused_by_a_later_phase_names_it(client, supervisore, linea, db_session, erp, make_user):
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    aoi = Macchina(codice="AOI-1", descrizione="AOI", fase_tipo_id=tipi["CONTROLLI"].id, attiva=True)
    db_session.add(aoi)
    db_session.commit()
    capo = actor_for(make_user(ruolo="SUPERVISORE"))
    lotti_service.apri_lotto(
        db_session,
        erp,
        actor=capo,
        fase_id=linea["fasi"]["CONTROLLI"],
        macchina_id=aoi.id,
        qta_input=95,
        operatore_id=capo.utente_id,
    )
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        headers=HTMX,
        data={"csrf_token": csrf, "qta_output": "80", "qta_scarti": "3", "causale": "SMD-PICK", "motivo": "m"},
    )
    errore = re.search(r'id="rettifica-qta_output-err">([^<]*)<', response.text).group(1)
    assert "CONTROLLI" in errore and "95" in errore
    assert lotto(db_session, linea["chiuso"]).qta_output == 95


def test_correction_needs_csrf(client, supervisore, linea, db_session):
    response = client.post(
        f"/lotti/{linea['chiuso']}/rettifica",
        data={"qta_output": "90", "qta_scarti": "0", "causale": "", "motivo": "x"},
    )
    assert response.status_code == 400
    assert lotto(db_session, linea["chiuso"]).qta_output == 95


# -- cancellation -----------------------------------------------------------------------------


def test_htmx_cancel_shows_the_cancelled_lotto_with_a_link_to_its_order(client, supervisore, linea, db_session):
    csrf = token(client, f"/lotti/{linea['aperto']}")
    response = client.post(
        f"/lotti/{linea['aperto']}/annulla", headers=HTMX, data={"csrf_token": csrf, "motivo": "Commessa sbagliata"}
    )
    assert response.status_code == 200 and is_fragment(response)
    assert "annullato" in response.text and 'href="/commesse/101"' in response.text and "2026/1234" in response.text
    assert "Commessa sbagliata" in response.text
    assert lotto(db_session, linea["aperto"]) is None
    assert audit_count(db_session, "LOTTO_ANNULLATO") == 1
    # Its address keeps saying what happened.
    page = client.get(f"/lotti/{linea['aperto']}")
    assert page.status_code == 200 and "2026-1234-SMD-002" in page.text and "Vai alla commessa" in page.text
    assert "annulla-form" not in page.text


def test_plain_post_cancel_redirects_to_the_cancelled_page(client, supervisore, linea):
    csrf = token(client, f"/lotti/{linea['aperto']}")
    response = client.post(f"/lotti/{linea['aperto']}/annulla", data={"csrf_token": csrf, "motivo": "Doppio"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).text
    assert "Lotto 2026-1234-SMD-002 annullato." in html and "Doppio" in html


def test_cancel_without_a_reason_is_refused_inline(client, supervisore, linea, db_session):
    csrf = token(client, f"/lotti/{linea['aperto']}")
    response = client.post(f"/lotti/{linea['aperto']}/annulla", headers=HTMX, data={"csrf_token": csrf, "motivo": ""})
    assert response.status_code == 200 and 'id="annulla-motivo-err"' in response.text
    assert lotto(db_session, linea["aperto"]) is not None
    assert audit_count(db_session, "LOTTO_ANNULLATO") == 0


def test_cancelling_a_closed_lotto_is_refused(client, supervisore, linea, db_session):
    csrf = token(client, f"/lotti/{linea['chiuso']}")
    response = client.post(f"/lotti/{linea['chiuso']}/annulla", data={"csrf_token": csrf, "motivo": "x"})
    assert response.status_code == 400 and "usare la rettifica" in response.text
    assert lotto(db_session, linea["chiuso"]) is not None


# -- phase states on the order card ------------------------------------------------------------


def azioni(html: str, codice: str) -> list[str]:
    row = re.search(rf'<tr data-fase="{codice}">(.*?)</tr>', html, re.S).group(1)
    return re.findall(r'data-azione="(\w+)"', row)


def test_card_offers_only_the_valid_transitions_to_supervisors(client, supervisore, linea, db_session):
    html = client.get("/commesse/101").text
    assert azioni(html, "SMD") == ["SOSPESA"]  # an open lotto: not completable yet
    assert azioni(html, "CONTROLLI") == ["SOSPESA", "COMPLETATA"]
    assert 'id="fase-stato-%d" hidden' % linea["fasi"]["SMD"] in html
    f = db_session.get(Fase, linea["fasi"]["CONTROLLI"])
    f.stato = "COMPLETATA"
    db_session.commit()
    html = client.get("/commesse/101").text
    assert azioni(html, "CONTROLLI") == ["IN_CORSO"] and ">Riapri<" in html


def test_operator_sees_no_phase_actions_and_gets_403(client, login, linea, db_session):
    login("OPERATORE")
    html = client.get("/commesse/101").text
    assert "data-azione" not in html
    url = f"/fasi/{linea['fasi']['SMD']}/stato"
    assert client.get(url + "?stato=SOSPESA").status_code == 403
    response = client.post(url, data={"csrf_token": csrf_from(html), "stato": "SOSPESA", "motivo": "x"})
    assert response.status_code == 403
    assert fase(db_session, linea).stato == "IN_CORSO"


def test_htmx_suspend_flow_refreshes_the_production_panel(client, supervisore, linea, db_session):
    url = f"/fasi/{linea['fasi']['SMD']}/stato"
    riga = client.get(url + "?stato=SOSPESA", headers=HTMX)
    assert riga.status_code == 200 and is_fragment(riga)
    assert riga.text.lstrip().startswith(f'<tr id="fase-stato-{linea["fasi"]["SMD"]}"')
    assert 'hx-target="#produzione"' in riga.text and 'name="stato" value="SOSPESA"' in riga.text
    csrf = token(client)
    response = client.post(url, headers=HTMX, data={"csrf_token": csrf, "stato": "SOSPESA", "motivo": "Manca pasta"})
    assert response.status_code == 200 and 'id="produzione"' in response.text
    assert "Fase SMD: ora è sospesa." in response.text
    assert azioni(response.text, "SMD") == ["IN_CORSO"] and ">Riprendi<" in response.text
    assert fase(db_session, linea).stato == "SOSPESA"
    assert audit_count(db_session, "FASE_STATO_MODIFICATO") == 1


def test_missing_reason_comes_back_into_the_row(client, supervisore, linea, db_session):
    url = f"/fasi/{linea['fasi']['CONTROLLI']}/stato"
    response = client.post(url, headers=HTMX, data={"csrf_token": token(client), "stato": "COMPLETATA", "motivo": ""})
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#fase-stato-{linea['fasi']['CONTROLLI']}"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "Indicare il motivo" in response.text and 'name="stato" value="COMPLETATA"' in response.text
    assert fase(db_session, linea, "CONTROLLI").stato == "APERTA"
    assert audit_count(db_session, "FASE_STATO_MODIFICATO") == 0


def test_rule_refusal_is_shown_in_the_row_in_italian(client, supervisore, linea, db_session):
    url = f"/fasi/{linea['fasi']['SMD']}/stato"
    response = client.post(
        url, headers=HTMX, data={"csrf_token": token(client), "stato": "COMPLETATA", "motivo": "Chiudiamo"}
    )
    assert response.headers["HX-Retarget"] == f"#fase-stato-{linea['fasi']['SMD']}"
    assert "ancora 1 lotti aperti" in response.text and "Chiudiamo" in response.text
    assert fase(db_session, linea).stato == "IN_CORSO"


def test_without_javascript_the_form_is_a_page_and_the_post_redirects(client, supervisore, linea, db_session):
    url = f"/fasi/{linea['fasi']['CONTROLLI']}/stato"
    page = client.get(url + "?stato=COMPLETATA")
    assert (
        page.status_code == 200
        and "<html" in page.text
        and "hx-post" not in re.search(r"<form[^>]*fase-stato-form[^>]*>", page.text).group(0)
    )
    assert "0 di 500" in page.text  # completing short says so
    response = client.post(url, data={"csrf_token": csrf_from(page.text), "stato": "COMPLETATA", "motivo": "Ridotta"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/commesse/101#produzione")
    assert "Fase CONTROLLI: ora è completata." in client.get("/commesse/101").text
    assert fase(db_session, linea, "CONTROLLI").stato == "COMPLETATA"
    refused = client.post(url, data={"csrf_token": csrf_from(page.text), "stato": "COMPLETATA", "motivo": "Ancora"})
    assert refused.status_code == 400 and "già completata" in refused.text


def test_unknown_state_in_the_link_is_refused_not_500(client, supervisore, linea):
    url = f"/fasi/{linea['fasi']['SMD']}/stato"
    assert client.get(url + "?stato=CHIUSA").status_code == 422
    assert client.get("/fasi/999999/stato?stato=SOSPESA").status_code == 404
    response = client.post(url, headers=HTMX, data={"csrf_token": token(client), "stato": "CHIUSA", "motivo": "x"})
    assert response.status_code == 200 and "Stato sconosciuto" in response.text


def test_pages_have_no_inline_script_or_style(client, supervisore, linea):
    for url in (
        f"/lotti/{linea['chiuso']}",
        f"/lotti/{linea['aperto']}",
        f"/fasi/{linea['fasi']['SMD']}/stato?stato=SOSPESA",
        "/commesse/101",
    ):
        html = client.get(url).text
        assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert " style=" not in html and " onclick=" not in html and "hx-on" not in html
