"""A supervisor, in a real browser, sets up an order from its card: the panel is swapped
in place by htmx (no reload), a refusal appears next to the phases, delete asks first."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def _wait(driver, seconds=10):
    # An element read while htmx swaps the panel goes stale: just read it again.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def _login(browser, live_server, user):
    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(user.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(ec.url_contains("/dashboard"))  # a supervisor's first screen


def _phases(browser) -> list[str]:
    return [
        row.get_attribute("data-fase") for row in browser.find_elements(By.CSS_SELECTOR, "#produzione tr[data-fase]")
    ]


def test_supervisor_configures_edits_and_deletes_an_order(browser, live_server, make_user):
    _login(browser, live_server, make_user(ruolo="SUPERVISORE", password="password123"))
    browser.get(f"{live_server}/commesse/101")
    marker = browser.find_element(By.TAG_NAME, "h1")

    # Configure: SMD and CONTROLLI come pre-set; add PTH, type the DIBA, save.
    assert browser.find_element(By.NAME, "flag_smd").is_selected()
    assert browser.find_element(By.NAME, "flag_controlli").is_selected()
    browser.find_element(By.CSS_SELECTOR, "label.check:has(input[name=flag_pth])").click()
    browser.find_element(By.NAME, "diba").send_keys("DB-ALIM-24")
    browser.find_element(By.NAME, "revisione").send_keys("C")
    browser.save_screenshot(str(browser.screenshots / "config-form.png"))
    browser.find_element(By.CSS_SELECTOR, "#produzione button[type=submit]").click()
    _wait(browser).until(lambda d: _phases(d) == ["SMD", "PTH", "CONTROLLI"])
    assert marker.is_displayed()  # the panel was swapped, the page was not reloaded
    assert "Commessa configurata" in browser.find_element(By.ID, "produzione").text
    browser.save_screenshot(str(browser.screenshots / "config-salvata.png"))

    # Edit: turning every phase off is refused next to the phases; what was typed stays.
    browser.find_element(By.LINK_TEXT, "Modifica").click()
    _wait(browser).until(ec.presence_of_element_located((By.NAME, "bloccata_documentazione")))
    for name in ("flag_smd", "flag_pth", "flag_controlli"):
        browser.find_element(By.CSS_SELECTOR, f"label.check:has(input[name={name}])").click()
    browser.find_element(By.NAME, "note").send_keys("Attenzione al connettore J3")
    browser.find_element(By.CSS_SELECTOR, "#produzione button[type=submit]").click()
    error = _wait(browser).until(ec.visibility_of_element_located((By.ID, "config-fasi-err")))
    assert "almeno una fase" in error.text
    assert browser.find_element(By.NAME, "note").get_attribute("value") == "Attenzione al connettore J3"
    browser.save_screenshot(str(browser.screenshots / "config-errore.png"))

    # Fix it: keep SMD only and block new lotti until the documents are checked.
    browser.find_element(By.CSS_SELECTOR, "label.check:has(input[name=flag_smd])").click()
    browser.find_element(By.CSS_SELECTOR, "label.check:has(input[name=bloccata_documentazione])").click()
    browser.find_element(By.CSS_SELECTOR, "#produzione button[type=submit]").click()
    _wait(browser).until(lambda d: _phases(d) == ["SMD"])
    panel = browser.find_element(By.ID, "produzione").text
    assert "Configurazione salvata." in panel and "Bloccata" in panel and "Attenzione al connettore J3" in panel

    # Delete asks for confirmation, then gives the create form back.
    browser.find_element(By.CSS_SELECTOR, "#produzione button.danger").click()
    _wait(browser).until(ec.alert_is_present()).accept()
    _wait(browser).until(lambda d: "Configurazione eliminata" in d.find_element(By.ID, "produzione").text)
    assert _phases(browser) == [] and browser.find_element(By.NAME, "flag_smd").is_selected()
    assert marker.is_displayed()

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
