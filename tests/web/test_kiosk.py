"""The operator kiosk (SPEC §9): badge + PIN, machine-bound idle session, scan, open,
close, R11 tokens, R13 flag, lot label, htmx fragments and the CSP-friendly markup."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape

import pytest
import segno
from sqlalchemy import func, select

from asigest.models import ConfigCommessa, Fase, FaseTipo, LogEvento, Lotto, LottoOrigine, Macchina
from asigest.models.types import utcnow
from tests.conftest import csrf_from
from tests.web.conftest import login_on

HX = {"HX-Request": "true"}
_CHIAVE = re.compile(r'name="chiave" value="([^"]+)"')
_LOTTO_ID = re.compile(r'name="lotto_id" value="(\d+)"')


@pytest.fixture
def impianto(db_session, make_user):
    """Commessa 1 (2026/1001, QTA 100) configured SMD → PTH; machines SMD-1, SMD-2, PTH-1 and
    an inactive OLD-1; an operator with PIN 1234."""
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(
        ConfigCommessa(
            commessa_erp_id=1,
            flag_smd=True,
            flag_pth=True,
            flag_controlli=False,
            diba="DB-1",
            revisione="C",
            qta_erp=100,
        )
    )
    for codice in ("SMD", "PTH"):
        db_session.add(Fase(commessa_erp_id=1, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=100))
    for codice, tipo, attiva in (
        ("SMD-1", "SMD", True),
        ("SMD-2", "SMD", True),
        ("PTH-1", "PTH", True),
        ("OLD-1", "SMD", False),
    ):
        db_session.add(
            Macchina(codice=codice, descrizione=f"Linea {codice}", fase_tipo_id=tipi[tipo].id, attiva=attiva)
        )
    db_session.commit()
    return make_user(ruolo="OPERATORE", password=None, pin="1234", nome="Luca", cognome="Verdi")


def badge(client, macchina="SMD-1", matricola=None, pin="1234", user=None):
    page = client.get(f"/kiosk/{macchina}")
    return client.post(
        f"/kiosk/{macchina}",
        data={"matricola": matricola or user.matricola, "pin": pin, "csrf_token": csrf_from(page.text)},
    )


@pytest.fixture
def kiosk(client, impianto):
    """A browser logged in at SMD-1 as the operator; returns the client."""
    assert badge(client, user=impianto).status_code == 302
    return client


def token(client, macchina="SMD-1"):
    return csrf_from(client.get(f"/kiosk/{macchina}").text)


def scan(client, q, macchina="SMD-1"):
    return client.get(f"/kiosk/{macchina}/commessa", query_string={"q": q}, headers=HX)


def apri(client, qta="10", chiave=None, commessa_id="1", macchina="SMD-1"):
    page = scan(client, "2026/1001", macchina)
    chiave = chiave or _CHIAVE.search(page.text).group(1)
    return client.post(
        f"/kiosk/{macchina}/apri",
        headers={**HX, "X-CSRFToken": token(client, macchina)},
        data={"commessa_id": commessa_id, "qta_input": qta, "chiave": chiave},
    )


def chiudi(client, lotto_id, chiave="k-chiudi", macchina="SMD-1", **campi):
    data = {"lotto_id": lotto_id, "qta_output": "10", "qta_scarti": "0", "chiave": chiave, **campi}
    return client.post(f"/kiosk/{macchina}/chiudi", headers={**HX, "X-CSRFToken": token(client, macchina)}, data=data)


def lotti(db_session):
    db_session.rollback()
    return db_session.scalars(select(Lotto).order_by(Lotto.id)).all()


# -- badge and session ---------------------------------------------------------------


def test_unknown_or_inactive_machine_is_404(client, impianto):
    for codice in ("NOPE", "OLD-1"):
        response = client.get(f"/kiosk/{codice}")
        assert response.status_code == 404
        assert "non esiste o non è attiva" in response.text


def test_badge_form_fields(client, impianto):
    html = client.get("/kiosk/SMD-1").text
    assert re.search(r'<input id="matricola" name="matricola" inputmode="numeric"[^>]*autofocus', html)
    assert re.search(r'name="pin" type="password" inputmode="numeric"', html)
    assert "SMD-1" in html and 'class="topbar"' not in html  # own layout, no office nav


def test_badge_and_pin_log_in_and_show_the_scan_field(client, impianto, db_session):
    response = badge(client, user=impianto)
    assert response.status_code == 302 and response.headers["Location"].endswith("/kiosk/SMD-1")
    html = client.get("/kiosk/SMD-1").text
    assert 'name="q"' in html and "Luca Verdi" in html and 'data-idle="300"' in html
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOGIN_KIOSK")) == 1


@pytest.mark.parametrize("caso", ["pin sbagliato", "badge sconosciuto", "senza pin", "disattivato"])
def test_wrong_badge_or_pin_one_generic_message(client, impianto, make_user, db_session, caso):
    matricola, pin = impianto.matricola, "1234"
    if caso == "pin sbagliato":
        pin = "9999"
    elif caso == "badge sconosciuto":
        matricola = "NESSUNO"
    elif caso == "senza pin":
        matricola = make_user(ruolo="SUPERVISORE").matricola
    else:
        impianto.attivo = False
        db_session.commit()
    response = badge(client, matricola=matricola, pin=pin)
    assert response.status_code == 400
    assert "Badge o PIN errati. Riprovare." in response.text
    assert f'value="{matricola}"' in response.text  # the badge stays typed
    assert 'name="q"' not in client.get("/kiosk/SMD-1").text


def test_any_role_with_a_pin_may_use_the_kiosk(client, impianto, make_user):
    capo = make_user(ruolo="SUPERVISORE", pin="5555")
    assert badge(client, user=capo, pin="5555").status_code == 302


def test_badge_post_needs_csrf(client, impianto):
    response = client.post("/kiosk/SMD-1", data={"matricola": impianto.matricola, "pin": "1234"})
    assert response.status_code == 400
    assert 'name="q"' not in client.get("/kiosk/SMD-1").text


def test_session_is_bound_to_its_machine(kiosk):
    assert 'name="q"' in kiosk.get("/kiosk/SMD-1").text
    assert 'name="matricola"' in kiosk.get("/kiosk/SMD-2").text
    response = kiosk.get("/kiosk/SMD-2/commessa?q=1001")
    assert response.status_code == 302 and response.headers["Location"].endswith("/kiosk/SMD-2")


def test_office_login_does_not_open_the_kiosk(client, login, impianto):
    login("ADMIN")
    assert 'name="matricola"' in client.get("/kiosk/SMD-1").text


def test_idle_session_expires_and_requests_refresh_it(kiosk, app):
    with kiosk.session_transaction() as s:
        s["kiosk"] = {**s["kiosk"], "ultimo": int(time.time()) - 200}
    assert 'name="q"' in kiosk.get("/kiosk/SMD-1").text  # within 300 s: refreshed
    with kiosk.session_transaction() as s:
        assert s["kiosk"]["ultimo"] >= int(time.time()) - 2
        s["kiosk"] = {**s["kiosk"], "ultimo": int(time.time()) - 301}
    response = kiosk.get("/kiosk/SMD-1/commessa?q=1001", headers=HX)
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/kiosk/SMD-1"
    assert 'name="matricola"' in kiosk.get("/kiosk/SMD-1").text


def test_idle_seconds_is_a_setting(make_app, impianto):
    other = make_app(KIOSK_IDLE_SECONDS=0)
    browser = other.test_client()
    assert badge(browser, user=impianto).status_code == 302
    with browser.session_transaction() as s:
        s["kiosk"] = {**s["kiosk"], "ultimo": s["kiosk"]["ultimo"] - 1}
    assert 'name="matricola"' in browser.get("/kiosk/SMD-1").text


def test_esci_locks_the_kiosk(kiosk):
    response = kiosk.post("/kiosk/SMD-1/esci", headers={**HX, "X-CSRFToken": token(kiosk)})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/kiosk/SMD-1"
    assert 'name="matricola"' in kiosk.get("/kiosk/SMD-1").text


def test_deactivated_operator_is_locked_out(kiosk, impianto, db_session):
    impianto.attivo = False
    db_session.commit()
    assert 'name="matricola"' in kiosk.get("/kiosk/SMD-1").text


# -- scan ----------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["2026/1001", "1001", " 2026 / 1001 "])
def test_scan_finds_the_order_and_prefills_the_available_quantity(kiosk, q):
    response = scan(kiosk, q)
    assert response.status_code == 200 and "<html" not in response.text
    assert response.headers["Vary"].count("HX-Request") == 1
    assert "Commessa 2026/1001" in response.text
    assert "DB-1" in response.text
    assert re.search(r'id="qta_input" name="qta_input" inputmode="numeric"[^>]*value="100"', response.text)


def test_scan_of_a_lotto_label_of_another_phase_finds_its_order(kiosk, impianto, db_session):
    apri(kiosk, qta="30")
    codice = lotti(db_session)[0].codice_lotto
    assert codice == "2026-1001-SMD-001"
    chiudi(kiosk, lotti_id(kiosk), qta_output="30")
    badge(kiosk, macchina="PTH-1", user=impianto)
    response = scan(kiosk, codice.lower(), macchina="PTH-1")
    assert "Commessa 2026/1001" in response.text
    assert re.search(r'name="qta_input"[^>]*value="30"', response.text)  # PTH takes only what SMD produced


def lotti_id(client, macchina="SMD-1"):
    return _LOTTO_ID.search(client.get(f"/kiosk/{macchina}").text).group(1)


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("abc", "Codice non riconosciuto"),
        ("2026/9999", "non trovata nel gestionale"),
        ("2026-1001-SMD-099", "Il lotto 2026-1001-SMD-099 non esiste"),
    ],
)
def test_scan_errors_are_inline_and_keep_the_text(kiosk, q, message):
    response = scan(kiosk, q)
    assert response.status_code == 200
    assert message in response.text and 'class="field-error"' in response.text
    assert f'value="{q}"' in response.text


def test_full_page_without_htmx(kiosk):
    response = kiosk.get("/kiosk/SMD-1/commessa?q=1001")
    assert response.status_code == 200 and "<html" in response.text and "Commessa 2026/1001" in response.text


# -- open ----------------------------------------------------------------------------


def test_open_shows_the_lotto_and_its_label_link(kiosk, db_session):
    response = apri(kiosk, qta="40")
    assert response.status_code == 200 and "<html" not in response.text
    assert "Lotto 2026-1001-SMD-001 aperto." in response.text
    [lotto] = lotti(db_session)
    assert (lotto.qta_input, lotto.macchina.codice) == (40, "SMD-1")
    assert f"/kiosk/SMD-1/etichetta/{lotto.id}" in response.text
    # The main screen now shows the open lotto with close form, QtaOutput pre-filled.
    html = kiosk.get("/kiosk/SMD-1").text
    assert re.search(r'id="qta_output" name="qta_output" inputmode="numeric"[^>]*value="40"', html)
    assert "SMD-PICK" in html and "MANIP" in html and "PTH-SALD" not in html  # reasons for this phase
    assert "dimenticato" not in html and "Aperto da più di" not in html


def test_open_over_availability_is_refused_inline_keeping_the_quantity(kiosk, db_session):
    response = apri(kiosk, qta="101")
    assert response.status_code == 200
    assert "al massimo 100 pezzi" in response.text and 'id="errore-qta_input"' in response.text
    assert re.search(r'name="qta_input"[^>]*value="101"', response.text)
    assert lotti(db_session) == []


def test_open_refusal_lists_missing_documents(kiosk, db_session):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    tipo.documenti_richiesti = ["PROGRAMMA_SMD"]
    db_session.commit()
    card = scan(kiosk, "1001").text
    # The card says why and who to call instead of offering an "Apri lotto" that would fail.
    assert "Mancano documenti obbligatori: PROGRAMMA_SMD. Chiamare il capoturno" in card
    assert 'id="apri-lotto"' not in card and 'data-motivo="DOCUMENTI_MANCANTI"' in card
    response = apri(kiosk, chiave="modulo-vecchio")  # a form shown before the rule changed
    assert "Mancano documenti obbligatori per questa fase: PROGRAMMA_SMD" in response.text
    assert lotti(db_session) == []


def test_double_tap_with_the_same_token_creates_one_lotto(kiosk, db_session):
    first = apri(kiosk, qta="10", chiave="tap-1")
    second = apri(kiosk, qta="10", chiave="tap-1")
    assert len(lotti(db_session)) == 1
    for response in (first, second):
        assert "Lotto 2026-1001-SMD-001 aperto." in response.text


def test_a_supervisor_badged_in_at_the_machine_opens_as_itself(client, impianto, make_user, db_session):
    capo = make_user(ruolo="SUPERVISORE", pin="5678")
    assert badge(client, user=capo, pin="5678").status_code == 302
    assert "Lotto 2026-1001-SMD-001 aperto." in apri(client).text
    assert [lotto.operatore_id for lotto in lotti(db_session)] == [capo.id]


def test_a_token_used_to_open_cannot_close(kiosk, impianto, db_session):
    """R11: the open form's token replayed on the close form (a back button, a crafted
    post) closes nothing and does not show the open as if it were a close."""
    apri(kiosk, qta="10", chiave="modulo-apri")
    response = chiudi(kiosk, lotti_id(kiosk), chiave="modulo-apri")
    assert "Questo modulo era già stato usato per un&#39;altra operazione" in response.text
    assert "chiuso:" not in response.text
    [lotto] = lotti(db_session)
    assert lotto.data_fine is None
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 0
    # …nor open on another machine's form.
    assert badge(kiosk, macchina="SMD-2", user=impianto).status_code == 302
    assert "Questo modulo era già stato usato" in apri(kiosk, qta="5", chiave="modulo-apri", macchina="SMD-2").text
    assert len(lotti(db_session)) == 1


def test_forms_carry_fresh_one_time_tokens(kiosk):
    first = _CHIAVE.search(scan(kiosk, "1001").text).group(1)
    second = _CHIAVE.search(scan(kiosk, "1001").text).group(1)
    assert first != second and len(first) >= 20


# -- close ---------------------------------------------------------------------------


def test_close_with_scrap_needs_a_reason_and_keeps_what_was_typed(kiosk, db_session):
    apri(kiosk, qta="20")
    lotto_id = lotti_id(kiosk)
    response = chiudi(kiosk, lotto_id, qta_output="17", qta_scarti="3", note="pasta secca")
    assert "Ci sono scarti: scegliere la causale." in response.text and 'id="errore-causale"' in response.text
    assert re.search(r'name="qta_output"[^>]*value="17"', response.text)
    assert re.search(r'name="qta_scarti"[^>]*value="3"', response.text)
    assert 'value="pasta secca"' in response.text
    assert lotti(db_session)[0].data_fine is None

    response = chiudi(kiosk, lotto_id, qta_output="17", qta_scarti="3", causale="SMD-PASTA")
    assert "Lotto 2026-1001-SMD-001 chiuso: 17 buoni, 3 scarti." in response.text
    # The order card comes back with the new totals: SMD 17 produced, PTH may take 17.
    assert re.search(r'data-fase="SMD".*?class="num prodotta">17 / 100', response.text, re.DOTALL)
    assert re.search(r'data-fase="PTH".*?class="num disponibile">17<', response.text, re.DOTALL)
    [lotto] = lotti(db_session)
    assert (lotto.qta_output, lotto.qta_scarti, lotto.causale.codice) == (17, 3, "SMD-PASTA")


def test_a_reason_without_scrap_is_refused_on_the_reason(kiosk, db_session):
    apri(kiosk, qta="10")
    response = chiudi(kiosk, lotti_id(kiosk), qta_output="10", qta_scarti="0", causale="SMD-PASTA")
    assert "Senza scarti non si indica la causale" in response.text and 'id="errore-causale"' in response.text
    assert re.search(r'value="SMD-PASTA" checked', response.text)
    [lotto] = lotti(db_session)
    assert lotto.data_fine is None and lotto.causale_id is None


def test_close_over_input_is_refused_on_the_field(kiosk, db_session):
    apri(kiosk, qta="5")
    response = chiudi(kiosk, lotti_id(kiosk), qta_output="6")
    assert "superano i pezzi entrati" in response.text and 'id="errore-qta_output"' in response.text
    response = chiudi(kiosk, lotti_id(kiosk), qta_output="tre")
    assert "Indicare i pezzi buoni" in response.text and 'value="tre"' in response.text
    assert lotti(db_session)[0].data_fine is None


def test_double_tap_on_close_shows_the_first_result(kiosk, db_session):
    apri(kiosk, qta="10")
    lotto_id = lotti_id(kiosk)
    first = chiudi(kiosk, lotto_id, chiave="close-1")
    second = chiudi(kiosk, lotto_id, chiave="close-1")
    for response in (first, second):
        assert "Lotto 2026-1001-SMD-001 chiuso: 10 buoni, 0 scarti." in response.text
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 1


def test_a_close_committed_while_the_erp_stops_answering_says_it_was_saved(
    make_app, impianto, erp_file, tmp_path, db_session
):
    """SPEC §9: the close needs no ERP; the order card shown after it does. With the ERP
    gone after the lotto was opened, the operator still sees the close confirmed."""
    import shutil

    from asigest.dialects import sqlite_readonly_url
    from asigest.erp import ErpGateway
    from asigest.extensions import db

    copia = shutil.copy(erp_file, tmp_path / "erp.db")
    app = make_app(ERP_URL=sqlite_readonly_url(copia))
    browser = app.test_client()
    assert badge(browser, user=impianto).status_code == 302
    assert "Lotto 2026-1001-SMD-001 aperto." in apri(browser, qta="10").text
    lotto_id = lotti_id(browser)
    with app.app_context():  # the ERP goes away: its file is gone, no connection is left open
        db.engines["erp"].dispose()
        (tmp_path / "erp.db").unlink()
        assert not ErpGateway(db.engines["erp"]).ping()
    # The open lotto is still shown with its close form, without the order's ERP data.
    assert f'name="lotto_id" value="{lotto_id}"' in browser.get("/kiosk/SMD-1").text

    for _ in range(2):  # the close, then its replay with the same token
        response = chiudi(
            browser, lotto_id, chiave="chiusura-senza-erp", qta_output="9", qta_scarti="1", causale="SMD-PASTA"
        )
        assert response.status_code == 200
        assert "Lotto 2026-1001-SMD-001 chiuso: 9 buoni, 1 scarti." in response.text
        assert 'id="senza-scheda"' in response.text and "La chiusura è salvata." in response.text
        assert "ASITRON non risponde" not in response.text and 'name="q"' in response.text
    [lotto] = lotti(db_session)
    assert (lotto.qta_output, lotto.qta_scarti, lotto.data_fine is not None) == (9, 1, True)
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 1


def test_forgotten_lotto_is_flagged(kiosk, db_session):
    apri(kiosk)
    lotto = lotti(db_session)[0]
    lotto.data_inizio = utcnow() - timedelta(hours=13)
    db_session.commit()
    assert "Aperto da più di 12 ore" in kiosk.get("/kiosk/SMD-1").text


# -- label and documents -------------------------------------------------------------


def test_label_page_has_the_qr_of_the_lotto_code(kiosk, db_session):
    from asigest.web.kiosk import qr_svg

    apri(kiosk, qta="25")
    lotto = lotti(db_session)[0]
    html = kiosk.get(f"/kiosk/SMD-1/etichetta/{lotto.id}").text
    assert "<svg" in html and lotto.codice_lotto in html and "Luca Verdi" in html and "2026/1001" in html
    assert qr_svg(lotto.codice_lotto) in html
    path = re.search(r' d="([^"]+)"', qr_svg(lotto.codice_lotto)).group(1)
    expected = segno.make(lotto.codice_lotto, error="m", micro=False).svg_inline(scale=4, border=2, omitsize=True)
    assert path in expected and segno.make("altro", error="m", micro=False).svg_inline() not in html
    assert re.search(r'src="/static/js/etichetta\.js\?v=\w+"', html) and 'href="/static/css/etichetta.css?v=' in html


def test_supervisor_reprints_the_label_from_the_office(kiosk, db_session, make_app, make_user):
    apri(kiosk)
    lotto = lotti(db_session)[0]
    office = make_app().test_client()
    login_on(office, make_user(ruolo="SUPERVISORE").matricola)
    assert lotto.codice_lotto in office.get(f"/lotti/{lotto.id}/etichetta").text
    operatore = make_app().test_client()
    login_on(operatore, make_user(ruolo="OPERATORE").matricola)
    assert operatore.get(f"/lotti/{lotto.id}/etichetta").status_code == 403


def test_label_css_is_100_by_50_mm(app):
    with app.open_resource("../static/css/etichetta.css") as handle:
        css = handle.read().decode()
    assert "@page { size: 100mm 50mm; margin: 0; }" in css


# -- markup --------------------------------------------------------------------------


def test_no_inline_script_or_style_in_kiosk_pages(kiosk, db_session):
    pages = [kiosk.get("/kiosk/SMD-1").text, scan(kiosk, "1001").text]
    apri(kiosk)
    lotto = lotti(db_session)[0]
    pages += [kiosk.get("/kiosk/SMD-1").text, kiosk.get(f"/kiosk/SMD-1/etichetta/{lotto.id}").text]
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert "<style" not in html and " style=" not in html and "hx-on" not in html and "onclick" not in html


# -- the operator's cycle (issue 14): forms, short close, Tutto buono, why not open ---------


def test_kiosk_forms_are_novalidate_and_never_ask_the_browser(kiosk, client):
    pages = [client.get("/kiosk/SMD-2").text, scan(kiosk, "1001").text]
    apri(kiosk)
    pages.append(kiosk.get("/kiosk/SMD-1").text)
    for html in pages:
        forms = re.findall(r"<form\b[^>]*>", html)
        assert forms and all("novalidate" in f for f in forms if 'class="inline"' not in f)
        assert " required" not in html and "pattern=" not in html


@pytest.mark.parametrize(
    ("matricola", "pin", "messaggio"),
    [("", "", "Scansionare il badge. Digitare il PIN."), ("1" * 31, "1234", "Badge non valido.")],
)
def test_badge_form_refuses_empty_or_overlong_fields_inline(client, impianto, matricola, pin, messaggio):
    page = client.get("/kiosk/SMD-1")
    response = client.post(
        "/kiosk/SMD-1", data={"matricola": matricola, "pin": pin, "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 400
    assert messaggio in response.text and 'role="alert"' in response.text
    assert 'name="q"' not in client.get("/kiosk/SMD-1").text


@pytest.mark.parametrize("qta", ["", "0", "abc", "-3", "１２"])
def test_open_with_no_usable_quantity_is_refused_inline(kiosk, db_session, qta):
    response = apri(kiosk, qta=qta)
    assert "Indicare quanti pezzi entrano nel lotto (un numero maggiore di zero)." in response.text
    assert 'id="errore-qta_input"' in response.text and 'id="apri-lotto"' in response.text
    assert lotti(db_session) == []


def test_the_close_form_enters_scrap_first_with_steppers(kiosk):
    apri(kiosk, qta="40")
    html = kiosk.get("/kiosk/SMD-1").text
    # Scrap first (focused, so a keypad types into it), good pieces pre-filled with the input.
    assert re.search(r'<input id="qta_scarti" name="qta_scarti" inputmode="numeric"[^>]*autofocus', html)
    assert html.index('id="qta_scarti"') < html.index('id="qta_output"')
    assert html.count('class="kiosk-btn kiosk-passo"') == 4
    assert 'data-qta-input="40"' in html
    # One-tap close, and the action bar: Chiudi lotto first (what Enter presses), the label slot.
    assert re.search(r'id="tutto-buono" name="tutto_buono" value="1">Tutto buono \(40\)<', html)
    assert html.index('id="chiudi-lotto"') < html.index('id="tutto-buono"') < html.index('id="link-etichetta"')


def test_a_short_close_is_refused_until_confirmed_with_its_remainder(kiosk, db_session):
    apri(kiosk, qta="10")
    lotto_id = lotti_id(kiosk)
    response = chiudi(kiosk, lotto_id, qta_output="8", qta_scarti="0")
    assert "Buoni + scarti non arrivano ai 10 pezzi entrati: 2 pezzi non contati tornano disponibili" in response.text
    assert 'id="errore-resto" role="alert"' in response.text
    assert re.search(r'id="conferma-resto" name="conferma_resto" value="2">Sì, chiudi: 2 pezzi tornano', response.text)
    assert re.search(r'name="qta_output"[^>]*value="8"', response.text)  # what was typed stays
    # A confirmation naming another figure (the numbers changed meanwhile) is no confirmation.
    response = chiudi(kiosk, lotto_id, qta_output="9", qta_scarti="0", conferma_resto="2")
    assert "1 pezzo non contato torna disponibile" in response.text
    assert lotti(db_session)[0].data_fine is None
    response = chiudi(kiosk, lotto_id, qta_output="8", qta_scarti="0", conferma_resto="2")
    assert "Lotto 2026-1001-SMD-001 chiuso: 8 buoni, 0 scarti." in response.text
    [lotto] = lotti(db_session)
    assert (lotto.qta_output, lotto.qta_scarti) == (8, 0)
    assert re.search(r'data-fase="SMD".*?class="num disponibile">92<', response.text, re.DOTALL)


def test_a_short_close_without_htmx_is_a_400_page_with_the_question(kiosk, db_session):
    apri(kiosk, qta="10")
    response = kiosk.post(
        "/kiosk/SMD-1/chiudi",
        data={
            "lotto_id": lotti_id(kiosk),
            "qta_output": "5",
            "qta_scarti": "1",
            "causale": "SMD-PASTA",
            "chiave": "k",
            "csrf_token": token(kiosk),
        },
    )
    assert response.status_code == 400 and "<html" in response.text
    assert "4 pezzi non contati tornano disponibili" in response.text
    assert lotti(db_session)[0].data_fine is None


def test_the_scrap_pieces_still_need_a_reason_before_any_confirmation(kiosk, db_session):
    apri(kiosk, qta="10")
    response = chiudi(kiosk, lotti_id(kiosk), qta_output="5", qta_scarti="2")
    assert "Ci sono scarti: scegliere la causale." in response.text and 'id="conferma-resto"' not in response.text


def test_tutto_buono_closes_every_piece_good_in_one_tap(kiosk, db_session):
    apri(kiosk, qta="25")
    lotto_id = lotti_id(kiosk)
    # The good-pieces field may say anything (or nothing); a reason tapped by mistake is dropped.
    for _ in range(2):  # the tap, then a double tap with the same token
        response = chiudi(
            kiosk, lotto_id, chiave="tutto-1", tutto_buono="1", qta_output="", qta_scarti="0", causale="SMD-PASTA"
        )
        assert "Lotto 2026-1001-SMD-001 chiuso: 25 buoni, 0 scarti." in response.text
    [lotto] = lotti(db_session)
    assert (lotto.qta_output, lotto.qta_scarti, lotto.causale_id) == (25, 0, None)
    assert db_session.scalar(select(func.count()).select_from(LogEvento).where(LogEvento.azione == "LOTTO_CHIUSO")) == 1


def test_tutto_buono_with_scrap_entered_is_refused_on_the_scrap(kiosk, db_session):
    apri(kiosk, qta="25")
    response = chiudi(kiosk, lotti_id(kiosk), tutto_buono="1", qta_output="23", qta_scarti="2")
    assert "Sono indicati 2 scarti" in response.text and 'id="errore-qta_scarti"' in response.text
    assert lotti(db_session)[0].data_fine is None


def _stato_fase(db_session, codice, stato, commessa_id=1):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == codice))
    fase = db_session.scalar(select(Fase).where(Fase.commessa_erp_id == commessa_id, Fase.fase_tipo_id == tipo.id))
    fase.stato = stato
    db_session.commit()


@pytest.mark.parametrize(
    ("prepara", "motivo", "testo"),
    [
        (lambda s: _stato_fase(s, "SMD", "SOSPESA"), "FASE_SOSPESA", "Chiamare il capoturno per riprenderla"),
        (lambda s: _stato_fase(s, "SMD", "COMPLETATA"), "FASE_COMPLETATA", "non servono altri lotti"),
        (
            lambda s: setattr(s.scalar(select(ConfigCommessa)), "bloccata_documentazione", True) or s.commit(),
            "BLOCCATA_DOCUMENTAZIONE",
            "chiamare il capoturno per sbloccarla",
        ),
    ],
)
def test_the_card_says_why_apri_lotto_cannot_succeed(kiosk, db_session, prepara, motivo, testo):
    prepara(db_session)
    html = scan(kiosk, "1001").text
    assert f'data-motivo="{motivo}"' in html and testo in html
    assert 'id="apri-lotto"' not in html and 'name="qta_input"' not in html


def test_an_order_closed_in_the_erp_names_the_office(kiosk, db_session):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(ConfigCommessa(commessa_erp_id=103, flag_smd=True, flag_pth=False, flag_controlli=False))
    db_session.add(Fase(commessa_erp_id=103, fase_tipo_id=tipo.id, stato="APERTA", qta_prevista=100))
    db_session.commit()
    html = scan(kiosk, "2026/77").text
    assert 'data-motivo="COMMESSA_NON_APERTA"' in html and "Chiamare l&#39;ufficio produzione" in html
    assert 'id="apri-lotto"' not in html


def test_zero_available_says_whether_to_wait_or_call(kiosk, impianto, db_session):
    # PTH before SMD produced anything: wait for SMD.
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    html = scan(kiosk, "1001", macchina="PTH-1").text
    assert 'data-motivo="IN_ATTESA_FASE_PRECEDENTE"' in html and "si aspettano i pezzi della fase SMD" in html
    # SMD with every piece in an open lotto on another line: nothing to take, call the supervisor.
    assert badge(kiosk, macchina="SMD-2", user=impianto).status_code == 302
    assert "aperto." in apri(kiosk, qta="100", macchina="SMD-2").text
    assert badge(kiosk, user=impianto).status_code == 302
    html = scan(kiosk, "1001").text
    assert 'data-motivo="QUANTITA_NON_DISPONIBILE"' in html and "chiamare il capoturno" in html
    assert 'id="apri-lotto"' not in html


def test_a_later_phase_whose_missing_pieces_were_scrapped_upstream_shows_completed(kiosk, impianto, db_session):
    """R8: SMD makes its 100, PTH scraps 6 of them; with nothing left to come, PTH is
    complete at 94/100 and the card says so instead of offering Apri lotto."""
    apri(kiosk, qta="100")
    assert "chiuso: 100 buoni" in chiudi(kiosk, lotti_id(kiosk), tutto_buono="1", qta_output="").text
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    apri(kiosk, qta="100", macchina="PTH-1")
    response = chiudi(
        kiosk,
        lotti_id(kiosk, "PTH-1"),
        chiave="k-pth",
        macchina="PTH-1",
        qta_output="94",
        qta_scarti="6",
        causale="PTH-SALD",
    )
    assert "chiuso: 94 buoni, 6 scarti." in response.text
    assert re.search(r'data-fase="PTH".*?stato-completata', response.text, re.DOTALL)
    assert 'data-motivo="FASE_COMPLETATA"' in response.text and 'id="apri-lotto"' not in response.text


# -- source labels at the open (R14) ---------------------------------------------------


def _smd_chiusi(kiosk, *quantita, macchina="SMD-1"):
    """Open and close one SMD lotto per quantity (all good) on commessa 2026/1001."""
    for n, qta in enumerate(quantita):
        apri(kiosk, qta=str(qta), chiave=f"smd-{macchina}-{n}", macchina=macchina)
        chiudi(kiosk, lotti_id(kiosk, macchina), chiave=f"smd-c-{macchina}-{n}", macchina=macchina, qta_output=str(qta))


def apri_con_origini(client, origini, qta="10", macchina="PTH-1", q="2026/1001"):
    page = scan(client, q, macchina)
    return client.post(
        f"/kiosk/{macchina}/apri",
        headers={**HX, "X-CSRFToken": token(client, macchina)},
        data={"commessa_id": "1", "qta_input": qta, "chiave": _CHIAVE.search(page.text).group(1), "origini": origini},
    )


def prelievi(db_session):
    db_session.rollback()
    righe = db_session.execute(
        select(Lotto.codice_lotto, LottoOrigine.qta)
        .join(Lotto, Lotto.id == LottoOrigine.lotto_origine_id)
        .order_by(LottoOrigine.id)
    ).all()
    return [tuple(r) for r in righe]


def test_the_first_phase_has_no_source_field(kiosk):
    assert 'name="origini"' not in scan(kiosk, "1001").text


def test_a_scanned_source_label_is_drawn_first(kiosk, impianto, db_session):
    _smd_chiusi(kiosk, 30, 20)
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    card = scan(kiosk, "1001", macchina="PTH-1").text
    assert re.search(r'id="origini" name="origini"[^>]*value=""', card)  # optional, empty
    # Two labels, as a scanner types them (each followed by the space the kiosk adds), read twice.
    response = apri_con_origini(kiosk, "2026-1001-smd-002 2026-1001-SMD-002\n", qta="25")
    assert "Lotto 2026-1001-PTH-001 aperto." in response.text
    # SMD-002 (20) first although SMD-001 closed first, then FIFO for the rest.
    assert prelievi(db_session) == [("2026-1001-SMD-002", 20), ("2026-1001-SMD-001", 5)]


def test_without_labels_the_open_draws_fifo(kiosk, impianto, db_session):
    _smd_chiusi(kiosk, 30, 20)
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    assert "aperto." in apri(kiosk, qta="40", macchina="PTH-1").text
    assert prelievi(db_session) == [("2026-1001-SMD-001", 30), ("2026-1001-SMD-002", 10)]


def test_scanning_a_source_label_to_find_the_order_proposes_it(kiosk, impianto, db_session):
    _smd_chiusi(kiosk, 30, 20)
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    card = scan(kiosk, "2026-1001-smd-002", macchina="PTH-1").text
    assert "Commessa 2026/1001" in card
    assert re.search(r'id="origini" name="origini"[^>]*value="2026-1001-SMD-002"', card)
    # An order number proposes nothing.
    assert re.search(r'id="origini" name="origini"[^>]*value=""', scan(kiosk, "1001", macchina="PTH-1").text)


def _altra_commessa(db_session):
    """Commessa 2 (2026/1002) configured SMD → PTH too."""
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(ConfigCommessa(commessa_erp_id=2, flag_smd=True, flag_pth=True, flag_controlli=False, qta_erp=50))
    for codice in ("SMD", "PTH"):
        db_session.add(Fase(commessa_erp_id=2, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=50))
    db_session.commit()


@pytest.mark.parametrize(
    ("prepara", "etichetta", "codice", "testo"),
    [
        (None, "2026-1001-SMD-099", "ORIGINE_SCONOSCIUTA", "Il lotto di origine 2026-1001-SMD-099 non esiste"),
        ("altra", "2026-1002-SMD-001", "ORIGINE_ALTRA_COMMESSA", "è di un'altra commessa"),
        ("aperto", "2026-1001-SMD-002", "ORIGINE_APERTA", "è ancora aperto: chiuderlo prima"),
        ("pth", "2026-1001-PTH-001", "ORIGINE_FASE_SBAGLIATA", "non è della fase SMD"),
        ("esaurito", "2026-1001-SMD-001", "ORIGINE_ESAURITA", "ha già dato tutti i suoi pezzi"),
    ],
)
def test_a_refused_source_label_is_said_inline_and_nothing_opens(
    kiosk, impianto, db_session, prepara, etichetta, codice, testo
):
    _smd_chiusi(kiosk, 30)
    if prepara == "altra":
        _altra_commessa(db_session)
        assert badge(kiosk, macchina="SMD-2", user=impianto).status_code == 302
        # (apri scans 1001 for its token; commessa_id names the order opened)
        apri(kiosk, qta="5", chiave="altra", commessa_id="2", macchina="SMD-2")
        chiudi(kiosk, lotti_id(kiosk, "SMD-2"), chiave="altra-c", macchina="SMD-2", qta_output="5")
    elif prepara == "aperto":
        apri(kiosk, qta="10", chiave="aperto")
    elif prepara in ("pth", "esaurito"):
        # PTH-001 takes every piece of SMD-001 and closes; SMD-002 (10) keeps PTH openable.
        assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
        apri(kiosk, qta="30", chiave="tutto", macchina="PTH-1")
        chiudi(kiosk, lotti_id(kiosk, "PTH-1"), chiave="pth-c", macchina="PTH-1", qta_output="30")
        assert badge(kiosk, macchina="SMD-2", user=impianto).status_code == 302
        _smd_chiusi(kiosk, 10, macchina="SMD-2")
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    prima = [(lotto.id, lotto.data_fine) for lotto in lotti(db_session)]
    origini_prima = prelievi(db_session)
    response = apri_con_origini(kiosk, etichetta, qta="5")
    assert response.status_code == 200  # htmx swaps the panel with the message
    assert 'id="errore-origini"' in response.text and testo in unescape(response.text)
    assert "Togliere quell'etichetta dal campo «Lotti di origine»" in unescape(response.text)
    assert re.search(rf'id="origini" name="origini"[^>]*value="{etichetta}"[^>]*aria-invalid="true"', response.text)
    assert 'id="apri-lotto"' in response.text  # the form is still there to correct
    assert [(lotto.id, lotto.data_fine) for lotto in lotti(db_session)] == prima
    assert prelievi(db_session) == origini_prima, codice


def test_too_many_source_labels_are_refused_inline(kiosk, impianto, db_session):
    _smd_chiusi(kiosk, 30)
    assert badge(kiosk, macchina="PTH-1", user=impianto).status_code == 302
    response = apri_con_origini(kiosk, " ".join(f"2026-1001-SMD-{n:03}" for n in range(1, 12)))
    assert "al massimo dieci lotti di origine" in response.text and 'id="errore-origini"' in response.text
    assert [lotto.fase.fase_tipo.codice for lotto in lotti(db_session)] == ["SMD"]
