"""A supervisor, in a real browser, on an order card: sees which documents a phase still
needs, uploads one through the htmx form (multipart + CSRF header), opens it, deletes it."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _wait(driver, seconds=10):
    # htmx replaces the whole section (outerHTML): an element found a moment ago may be gone.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


@pytest.fixture
def commessa_con_smd(app, db_session, tmp_path, monkeypatch):
    """Order 101 configured with an SMD phase that requires a PROGRAMMA_SMD document."""
    from asigest.models import ConfigCommessa, Fase, FaseTipo

    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(tmp_path / "documenti"))
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    smd.documenti_richiesti = ["PROGRAMMA_SMD"]
    db_session.add(
        ConfigCommessa(commessa_erp_id=101, flag_smd=True, flag_pth=False, flag_controlli=False, qta_erp=500)
    )
    db_session.add(Fase(commessa_erp_id=101, fase_tipo_id=smd.id, stato="APERTA", qta_prevista=500))
    db_session.commit()
    return 101


def test_supervisor_uploads_opens_and_deletes_a_document(browser, live_server, make_user, commessa_con_smd, tmp_path):
    user = make_user(ruolo="SUPERVISORE", password="password123")
    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(user.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(lambda d: "/login" not in d.current_url)

    browser.get(f"{live_server}/commesse/101")
    _wait(browser).until(ec.presence_of_element_located((By.ID, "documenti-sezione")))
    sezione = browser.find_element(By.ID, "documenti-sezione")
    assert "Mancano documenti richiesti" in sezione.text and "Programma SMD: manca" in sezione.text

    # A mistake first: no title. The message appears next to the field, the type stays chosen.
    Select(browser.find_element(By.ID, "doc-tipo")).select_by_value("PROGRAMMA_SMD")
    pdf = tmp_path / "programma pick&place.pdf"
    pdf.write_bytes(PDF)
    browser.find_element(By.ID, "doc-file").send_keys(str(pdf))
    browser.execute_script("document.getElementById('doc-titolo').removeAttribute('required')")
    browser.find_element(By.CSS_SELECTOR, ".doc-form button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "doc-titolo-errore")))
    assert (
        Select(browser.find_element(By.ID, "doc-tipo")).first_selected_option.get_attribute("value") == "PROGRAMMA_SMD"
    )

    browser.find_element(By.ID, "doc-titolo").send_keys("Programma linea 1")
    browser.find_element(By.ID, "doc-file").send_keys(str(pdf))  # the browser forgot it, as the hint says
    browser.find_element(By.CSS_SELECTOR, ".doc-form button[type=submit]").click()
    _wait(browser).until(lambda d: "caricato" in d.find_element(By.ID, "documenti-sezione").text)
    sezione = browser.find_element(By.ID, "documenti-sezione")
    assert "Tutti i documenti richiesti dalle fasi sono presenti." in sezione.text
    assert "programma pick&place.pdf" in sezione.text
    browser.save_screenshot(str(browser.screenshots / "documenti.png"))

    # Open: the link serves the PDF inline, for the browser's own viewer.
    link = sezione.find_element(By.LINK_TEXT, "Apri").get_attribute("href")
    assert browser.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => done([r.status, r.headers.get('content-type'),"
        " r.headers.get('content-disposition')]))",
        link,
    ) == [200, "application/pdf", 'inline; filename="programma pick&place.pdf"']

    # Delete, confirming the browser's dialog.
    sezione.find_element(By.CSS_SELECTOR, "button.danger").click()
    _wait(browser).until(ec.alert_is_present())
    alert = browser.switch_to.alert
    assert "Programma linea 1" in alert.text
    alert.accept()
    _wait(browser).until(lambda d: "eliminato" in d.find_element(By.ID, "documenti-sezione").text)
    assert "Programma SMD: manca" in browser.find_element(By.ID, "documenti-sezione").text
    # The record and the bytes stay for the trace (SPEC §12); the order lists no document.
    assert not browser.find_elements(By.CSS_SELECTOR, "#documenti-sezione a[href*='/file']")
    assert any(p.is_file() for p in (tmp_path / "documenti").rglob("*"))

    # No CSP violation or script error reached the console.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
