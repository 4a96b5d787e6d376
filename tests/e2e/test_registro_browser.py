"""The issue's walkthrough in a real browser: a supervisor finds a day's scrap on one SMD
line in the lotti register, corrects a wrong quantity with a reason, sees the phase's
totals and the lotto's history change, and finds the correction in the audit log."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from asigest.models.types import utcnow
from tests.registro_fixture import costruisci


def _wait(driver, seconds=10):
    # An element read while htmx swaps the register goes stale: just read it again.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def _codes(driver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#registro tbody td a.code")]


def _pick_date(driver, name: str, value: str) -> None:
    """What the date picker does: one change event with the whole date."""
    driver.execute_script(
        "const e = document.getElementsByName(arguments[0])[0];"
        "e.value = arguments[1]; e.dispatchEvent(new Event('change', {bubbles: true}));",
        name,
        value,
    )


def test_supervisor_finds_scrap_corrects_it_and_sees_totals_and_audit(browser, live_server, db_session, make_user):
    reg = costruisci(db_session, make_user, adesso=utcnow())
    capo = make_user(ruolo="SUPERVISORE", password="password123")
    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(capo.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(ec.url_contains("/dashboard"))  # a supervisor's first screen

    # The register, from the top navigation; filter Monday 2 March on SMD-A, scrap only.
    browser.find_element(By.LINK_TEXT, "Registro lotti").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "registro")))
    heading = browser.find_element(By.TAG_NAME, "h1")
    # Dates wait for "Filtra" (a swap while a date is being picked would lose it);
    # selects and checkboxes apply at once, carrying the dates already chosen.
    _pick_date(browser, "da", "2026-03-02")
    _pick_date(browser, "a", "2026-03-02")
    browser.find_element(By.CSS_SELECTOR, "form.registro-filtri button[type=submit]").click()
    _wait(browser).until(lambda d: parse_qs(urlsplit(d.current_url).query).get("a") == ["2026-03-02"])
    Select(browser.find_element(By.NAME, "macchina")).select_by_visible_text("SMD-A")
    _wait(browser).until(lambda d: "macchina=" in d.current_url and "macchina=&" not in d.current_url)
    browser.find_element(By.NAME, "con_scarti").click()
    _wait(browser).until(lambda d: "con_scarti=1" in d.current_url)  # this swap, not the previous one
    _wait(browser).until(lambda d: _codes(d) == ["2026-1234-SMD-001"])
    assert browser.find_element(By.NAME, "da").get_attribute("value") == "2026-03-02"
    assert heading.is_displayed()  # htmx swapped the results; the page never reloaded
    export = browser.find_element(By.LINK_TEXT, "Esporta Excel").get_attribute("href")
    assert urlsplit(export).path == "/lotti/esporta.xlsx"
    assert parse_qs(urlsplit(export).query)["con_scarti"] == ["1"]
    browser.save_screenshot(str(browser.screenshots / "registro-filtrato.png"))

    # The lotto: 95 good + 5 scrap; really 93 + 7. Without a reason it is refused in place.
    browser.find_element(By.LINK_TEXT, "2026-1234-SMD-001").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "rettifica-form")))
    form = browser.find_element(By.ID, "rettifica-form")
    for name, value in (("qta_output", "93"), ("qta_scarti", "7")):
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser).until(lambda d: d.find_element(By.NAME, "motivo").get_attribute("aria-invalid") == "true")
    assert browser.find_element(By.NAME, "qta_output").get_attribute("value") == "93"  # nothing typed is lost
    browser.find_element(By.NAME, "motivo").send_keys("Ricontate: 2 schede con ponticelli")
    browser.find_element(By.CSS_SELECTOR, "#rettifica-form button[type=submit]").click()
    _wait(browser).until(lambda d: "Rettifica salvata" in d.find_element(By.ID, "lotto-pannello").text)
    totals = browser.find_element(By.ID, "fase-totali").text
    assert "143" in totals and "7" in totals  # 93 + 50 good, 7 scrap: recomputed from the lotti
    # Its history (loaded by htmx) now starts with the correction and its reason.
    _wait(browser).until(lambda d: "Ricontate: 2 schede con ponticelli" in d.find_element(By.ID, "storia").text)
    browser.save_screenshot(str(browser.screenshots / "lotto-rettificato.png"))

    # The audit log, filtered by action, shows who did it, before and after.
    browser.find_element(By.LINK_TEXT, "Registro eventi").click()
    _wait(browser).until(ec.url_contains("/eventi"))
    Select(_wait(browser).until(ec.presence_of_element_located((By.NAME, "azione")))).select_by_value(
        "LOTTO_RETTIFICATO"
    )
    browser.find_element(By.CSS_SELECTOR, "form.filtri-eventi button[type=submit]").click()
    _wait(browser).until(lambda d: "LOTTO_RETTIFICATO" in d.find_element(By.TAG_NAME, "main").text)
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Ricontate: 2 schede con ponticelli" in page and capo.matricola in page
    assert reg.lotti["a1"]
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
