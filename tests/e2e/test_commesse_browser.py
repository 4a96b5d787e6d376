"""A supervisor, in a real browser: logs in, searches an order live, opens its card."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def _wait(driver, seconds=10):
    return WebDriverWait(driver, seconds)


def test_supervisor_logs_in_searches_and_opens_an_order(browser, live_server, make_user):
    user = make_user(ruolo="SUPERVISORE", password="password123", nome="Sara", cognome="Bianchi")

    browser.get(f"{live_server}/commesse")
    assert "/login" in browser.current_url
    browser.find_element(By.NAME, "matricola").send_keys(user.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "risultati")))
    browser.save_screenshot(str(browser.screenshots / "commesse.png"))
    assert "Sara Bianchi" in browser.page_source

    # Live search: typing is enough, htmx swaps only the results and updates the URL.
    marker = browser.find_element(By.TAG_NAME, "h1")
    browser.find_element(By.ID, "q").send_keys("2026/1234")
    _wait(browser).until(lambda d: "q=2026" in d.current_url)
    _wait(browser).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#risultati tbody tr")) == 1)
    assert marker.is_displayed()  # same page: no full reload happened
    row = browser.find_element(By.CSS_SELECTOR, "#risultati tbody tr")
    assert "Elettronica Adriatica" in row.text
    browser.save_screenshot(str(browser.screenshots / "ricerca.png"))

    row.find_element(By.CSS_SELECTOR, "a").click()
    _wait(browser).until(lambda d: "/commesse/101" in d.current_url)
    assert "2026/1234" in browser.find_element(By.TAG_NAME, "h1").text
    assert "non è ancora configurata" in browser.page_source
    browser.save_screenshot(str(browser.screenshots / "scheda.png"))

    # No CSP violation or script error reached the console.
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_wrong_password_keeps_the_badge_and_says_what_to_do(browser, live_server, make_user):
    user = make_user(ruolo="SUPERVISORE", password="password123")
    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(user.matricola)
    browser.find_element(By.NAME, "password").send_keys("sbagliata")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".message-error")))
    assert "Matricola o password errate" in browser.page_source
    assert browser.find_element(By.NAME, "matricola").get_attribute("value") == user.matricola
