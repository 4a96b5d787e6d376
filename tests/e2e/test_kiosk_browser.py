"""An operator at an SMD kiosk, in a real browser: badge + PIN, scan an order, open a lotto,
close it with scrap and a reason, see the phase totals change, open the label page."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from asigest.models import ConfigCommessa, Fase, FaseTipo, Lotto, Macchina


def _wait(driver, seconds=10):
    return WebDriverWait(driver, seconds)


def _impianto(db_session):
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    db_session.add(
        ConfigCommessa(
            commessa_erp_id=101,
            flag_smd=True,
            flag_pth=True,
            flag_controlli=False,
            diba="DB-24V",
            revisione="B",
            qta_erp=500,
        )
    )
    for codice in ("SMD", "PTH"):
        db_session.add(Fase(commessa_erp_id=101, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=500))
    db_session.add(Macchina(codice="SMD-L1", descrizione="Linea SMD 1", fase_tipo_id=tipi["SMD"].id, attiva=True))
    db_session.commit()


def _no_console_errors(browser):
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_operator_opens_and_closes_a_lotto_and_prints_its_label(browser, live_server, db_session, make_user):
    _impianto(db_session)
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468", nome="Luca", cognome="Verdi")

    browser.get(f"{live_server}/kiosk/SMD-L1")
    badge = browser.find_element(By.NAME, "matricola")
    assert browser.switch_to.active_element == badge  # autofocus: the scanner types straight in
    browser.save_screenshot(str(browser.screenshots / "kiosk-badge.png"))
    # The scanner types the badge and presses Enter: the PIN field takes over.
    badge.send_keys(operatore.matricola + Keys.ENTER)
    assert browser.switch_to.active_element == browser.find_element(By.NAME, "pin")
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    scan = _wait(browser).until(ec.presence_of_element_located((By.NAME, "q")))
    assert "Luca Verdi" in browser.page_source
    marker = browser.find_element(By.CLASS_NAME, "kiosk-bar")

    # Scan the order (Enter submits); htmx swaps the card in.
    scan.send_keys("2026/1234" + Keys.ENTER)
    _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_input")))
    assert browser.find_element(By.ID, "qta_input").get_attribute("value") == "500"
    assert "Elettronica Adriatica" in browser.page_source
    browser.save_screenshot(str(browser.screenshots / "kiosk-commessa.png"))

    qta = browser.find_element(By.ID, "qta_input")
    qta.clear()
    qta.send_keys("120")
    browser.find_element(By.CSS_SELECTOR, ".kiosk-apri button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_output")))
    assert "2026-1234-SMD-001" in browser.page_source
    assert browser.find_element(By.ID, "qta_output").get_attribute("value") == "120"
    browser.save_screenshot(str(browser.screenshots / "kiosk-lotto-aperto.png"))

    # Scrap without a reason: refused next to the reasons, the figures stay.
    output = browser.find_element(By.ID, "qta_output")
    output.clear()
    output.send_keys("115")
    scarti = browser.find_element(By.ID, "qta_scarti")
    scarti.clear()
    scarti.send_keys("5")
    browser.find_element(By.CSS_SELECTOR, ".kiosk-chiudi button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "errore-causale")))
    assert browser.find_element(By.ID, "qta_output").get_attribute("value") == "115"
    browser.save_screenshot(str(browser.screenshots / "kiosk-errore-causale.png"))

    browser.find_element(By.CSS_SELECTOR, "input[name=causale][value='SMD-PICK']").find_element(By.XPATH, "..").click()
    browser.find_element(By.CSS_SELECTOR, ".kiosk-chiudi button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".kiosk-fasi")))
    smd = browser.find_element(By.CSS_SELECTOR, "tr[data-fase=SMD]")
    assert "115 / 500" in smd.find_element(By.CLASS_NAME, "prodotta").text
    assert smd.find_element(By.CLASS_NAME, "scarti").text == "5"
    pth = browser.find_element(By.CSS_SELECTOR, "tr[data-fase=PTH]")
    assert pth.find_element(By.CLASS_NAME, "disponibile").text == "115"
    assert marker.is_displayed()  # same page all along: htmx never reloaded it
    browser.save_screenshot(str(browser.screenshots / "kiosk-chiuso.png"))

    # The same flow fits a 1024×768 kiosk screen.
    browser.set_window_size(1024, 768)
    pannello = browser.find_element(By.ID, "pannello")
    scan = browser.find_element(By.NAME, "q")
    scan.clear()
    scan.send_keys("1234" + Keys.ENTER)
    _wait(browser).until(ec.staleness_of(pannello))
    _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_input")))
    button = browser.find_element(By.CSS_SELECTOR, ".kiosk-apri button[type=submit]")
    assert button.size["height"] >= 48 and button.location["x"] + button.size["width"] <= 1024
    browser.save_screenshot(str(browser.screenshots / "kiosk-1024x768.png"))

    browser.set_window_size(1920, 1080)
    browser.save_screenshot(str(browser.screenshots / "kiosk-1920x1080.png"))

    # The label of the closed lotto: QR code as inline SVG and a print button.
    db_session.rollback()  # read what the server committed
    lotto_id = db_session.scalar(select(Lotto.id).where(Lotto.codice_lotto == "2026-1234-SMD-001"))
    browser.set_window_size(1366, 900)
    browser.get(f"{live_server}/kiosk/SMD-L1/etichetta/{lotto_id}")
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".etichetta-qr svg")))
    assert "2026-1234-SMD-001" in browser.find_element(By.CLASS_NAME, "etichetta-codice").text
    assert browser.find_element(By.ID, "stampa").is_displayed()
    browser.save_screenshot(str(browser.screenshots / "kiosk-etichetta.png"))
    _no_console_errors(browser)


def test_idle_kiosk_goes_back_to_the_badge_form(browser, live_server, app, db_session, make_user):
    """kiosk.js sends an untouched kiosk back to the badge form after the idle time."""
    _impianto(db_session)
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    app.config["KIOSK_IDLE_SECONDS"] = 3
    try:
        browser.get(f"{live_server}/kiosk/SMD-L1")
        browser.find_element(By.NAME, "matricola").send_keys(operatore.matricola + Keys.ENTER)
        browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
        _wait(browser).until(ec.presence_of_element_located((By.NAME, "q")))
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-idle") == "3"
        _wait(browser, 15).until(ec.presence_of_element_located((By.NAME, "matricola")))
        browser.save_screenshot(str(browser.screenshots / "kiosk-bloccato.png"))
    finally:
        app.config["KIOSK_IDLE_SECONDS"] = 300
    _no_console_errors(browser)
