"""The label prints from the kiosk screen without leaving it, and the idle lock holds on
every kiosk view (issue 14), in a real browser."""

from __future__ import annotations

import io

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from asigest.models import ConfigCommessa, DocumentoTecnico, Fase, FaseTipo, Lotto, Macchina
from asigest.services.archivio import Archivio

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"

# The test's hook on the print (kiosk-stampa.js announces it): the frame's print() is
# replaced by a counter, so headless Chromium opens no dialog and the test sees the call.
_CONTA_STAMPE = """
window.__stampe = [];
document.addEventListener('asigest:stampa', function (e) {
  e.detail.finestra.print = function () {
    window.__stampe.push(e.detail.finestra.document.querySelector('.etichetta-codice').textContent);
  };
});
"""


def _wait(driver, seconds=10):
    return WebDriverWait(driver, seconds)


def _impianto(db_session):
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(
        ConfigCommessa(
            commessa_erp_id=101,
            flag_smd=True,
            flag_pth=False,
            flag_controlli=True,
            diba="DB-24V",
            revisione="B",
            qta_erp=500,
        )
    )
    for codice in ("SMD", "CONTROLLI"):
        db_session.add(Fase(commessa_erp_id=101, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=500))
    db_session.add(Macchina(codice="SMD-L1", descrizione="Linea SMD 1", fase_tipo_id=tipi["SMD"].id, attiva=True))
    db_session.commit()


def _entra_e_apri(browser, live_server, matricola: str) -> None:
    """Badge + PIN, scan 2026/1234, open a lotto of 120 pieces."""
    browser.get(f"{live_server}/kiosk/SMD-L1")
    browser.find_element(By.NAME, "matricola").send_keys(matricola + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    _wait(browser).until(ec.presence_of_element_located((By.NAME, "q"))).send_keys("2026/1234" + Keys.ENTER)
    qta = _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_input")))
    qta.clear()
    qta.send_keys("120")
    browser.find_element(By.CSS_SELECTOR, ".kiosk-apri button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "a[data-stampa]")))


def test_the_label_prints_from_the_kiosk_screen_without_leaving_it(browser, live_server, db_session, make_user):
    _impianto(db_session)
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    browser.set_window_size(1024, 768)
    _entra_e_apri(browser, live_server, operatore.matricola)
    indirizzo = browser.current_url
    browser.execute_script("document.body.dataset.schermata = 'prima-della-stampa';")  # gone if the page reloads
    browser.execute_script(_CONTA_STAMPE)

    browser.find_element(By.CSS_SELECTOR, "a[data-stampa]").click()
    _wait(browser).until(lambda d: d.execute_script("return window.__stampe.length") == 1)
    assert browser.execute_script("return window.__stampe") == ["2026-1234-SMD-001"]
    assert browser.current_url == indirizzo
    assert browser.execute_script("return document.body.dataset.schermata") == "prima-della-stampa"
    assert browser.find_element(By.ID, "qta_output").is_displayed()  # the close form, still there
    cornice = browser.find_element(By.ID, "kiosk-stampa")
    assert cornice.size == {"width": 0, "height": 0}
    browser.switch_to.frame(cornice)
    assert browser.find_element(By.CSS_SELECTOR, ".etichetta-qr svg")
    assert browser.find_elements(By.CLASS_NAME, "etichetta-comandi") == []  # the label alone
    browser.switch_to.default_content()

    # Reprint: the same frame, a second print, still the same screen.
    browser.find_element(By.CSS_SELECTOR, "a[data-stampa]").click()
    _wait(browser).until(lambda d: d.execute_script("return window.__stampe.length") == 2)
    assert len(browser.find_elements(By.TAG_NAME, "iframe")) == 1 and browser.current_url == indirizzo
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_idle_lock_holds_on_every_kiosk_view(
    browser, live_server, app, db_session, make_user, tmp_path, monkeypatch
):
    """The operator's screen (after a print), the label opened as a page of its own
    (without the script that prints in place) and a technical document's view: each goes
    back to the badge form."""
    _impianto(db_session)
    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(tmp_path / "documenti"))
    salvato = Archivio(str(tmp_path / "documenti")).salva(io.BytesIO(PDF))
    documento = DocumentoTecnico(
        commessa_erp_id=101,
        tipo="SCHEMA_MONTAGGIO",
        titolo="Schema lato TOP",
        nome_file="schema.pdf",
        content_type="application/pdf",
        dimensione=len(PDF),
        sha256=salvato.sha256,
    )
    db_session.add(documento)
    db_session.commit()
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    app.config["KIOSK_IDLE_SECONDS"] = 3
    try:
        _entra_e_apri(browser, live_server, operatore.matricola)
        browser.execute_script(_CONTA_STAMPE)
        browser.find_element(By.CSS_SELECTOR, "a[data-stampa]").click()
        _wait(browser).until(lambda d: d.execute_script("return window.__stampe.length") == 1)
        _wait(browser, 15).until(ec.presence_of_element_located((By.NAME, "matricola")))

        db_session.rollback()
        lotto_id = db_session.scalar(select(Lotto.id).where(Lotto.codice_lotto == "2026-1234-SMD-001"))
        viste = {
            "etichetta": f"/kiosk/SMD-L1/etichetta/{lotto_id}",
            "documento": f"/kiosk/SMD-L1/documenti/{documento.id}/vista",
            "schermata": "/kiosk/SMD-L1",
        }
        for nome, vista in viste.items():
            browser.find_element(By.NAME, "matricola").send_keys(operatore.matricola + Keys.ENTER)
            browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
            _wait(browser).until(ec.presence_of_element_located((By.ID, "pannello")))  # the lotto is open
            browser.get(f"{live_server}{vista}")
            assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-idle") == "3", nome
            _wait(browser, 15).until(ec.presence_of_element_located((By.NAME, "matricola")))
            assert browser.current_url.endswith("/kiosk/SMD-L1"), nome
    finally:
        app.config["KIOSK_IDLE_SECONDS"] = 300
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_print_after_the_session_ended_goes_to_the_badge_form_and_prints_nothing(
    browser, live_server, db_session, make_user
):
    """Esci on another tab, a supervisor's new PIN, the server's idle limit: the frame
    gets the badge form instead of the label; nothing is printed, the screen goes back to
    the badge form."""
    from asigest.services import auth

    _impianto(db_session)
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    _entra_e_apri(browser, live_server, operatore.matricola)
    browser.execute_script(_CONTA_STAMPE)
    auth.reset_pin(db_session, actor=None, utente_id=operatore.id, pin="1357")  # ends every session
    browser.find_element(By.CSS_SELECTOR, "a[data-stampa]").click()
    _wait(browser).until(ec.presence_of_element_located((By.NAME, "matricola")))
    assert browser.current_url.endswith("/kiosk/SMD-L1")
    assert browser.execute_script("return window.__stampe === undefined ? [] : window.__stampe") == []
