"""The dashboard in a real browser: a supervisor lands on it from ``/``, sees the figures,
the SVG charts and the late-orders panel htmx loads after them, picks last week, sees
the numbers change in place when htmx refreshes them (the page does not reload and the
period stays), and opens the wall screen on a 1080p TV. No console errors; screenshots
are saved next to the test's temporary files."""

from __future__ import annotations

from datetime import timedelta

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from asigest.domain.periodo import mezzanotte_utc, oggi
from asigest.models.types import utcnow
from tests.registro_fixture import costruisci


def _wait(driver, seconds=10):
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def _testo(driver, ident: str) -> str:
    return driver.find_element(By.ID, ident).text.strip()


def _errori(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_supervisor_reads_the_dashboard_and_the_wall_screen(browser, live_server, db_session, make_user):
    adesso = utcnow()
    impianto = costruisci(db_session, make_user, adesso=adesso)
    # Something closed in the last minutes (never before today's local midnight), so this
    # week and today have numbers of their own.
    base = max(adesso - timedelta(minutes=10), mezzanotte_utc(oggi("Europe/Rome", adesso), "Europe/Rome"))
    for n, (macchina, buoni, scarti) in enumerate((("SMD-A", 80, 4), ("SMD-B", 60, 0), ("CTRL-A", 45, 1))):
        inizio = base + timedelta(seconds=10 * n)
        impianto.lotto(
            db_session,
            f"r{n}",
            101,
            "CONTROLLI" if macchina == "CTRL-A" else "SMD",
            macchina,
            "op1",
            inizio,
            inizio + timedelta(seconds=5),
            buoni + scarti,
            scarti=scarti,
            causale=("CTRL-AOI" if macchina == "CTRL-A" else "SMD-PICK") if scarti else None,
        )
    capo = make_user(ruolo="SUPERVISORE", password="password123")

    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(capo.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123")
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(lambda d: d.current_url.endswith("/dashboard"))  # where a supervisor lands
    browser.find_element(By.CSS_SELECTOR, ".brand").click()  # the start page: the dashboard for supervisors
    _wait(browser).until(lambda d: d.current_url.endswith("/dashboard"))

    assert _testo(browser, "kpi-lotti") == "3" and _testo(browser, "kpi-buoni") == "185"
    assert _testo(browser, "kpi-dimenticati") == "1"
    grafico = browser.find_element(By.CSS_SELECTOR, "svg.grafico-colonne")
    assert grafico.is_displayed() and grafico.size["width"] > 900 and grafico.size["height"] > 150
    assert len(grafico.find_elements(By.CSS_SELECTOR, "rect.barra")) == 30
    for pareto in browser.find_elements(By.CSS_SELECTOR, "svg.grafico-barre"):
        assert pareto.is_displayed() and pareto.size["height"] > 20
    # The late / at-risk panel arrives after the page, by htmx (which orders it lists
    # depends on today's date against the ERP fixture's due dates).
    _wait(browser).until(lambda d: d.find_elements(By.ID, "conta-ritardo"))
    assert "in ritardo" in browser.find_element(By.ID, "cruscotto-commesse").text
    _wait(browser).until(
        lambda d: (
            "Nessuna commessa in produzione" in d.find_element(By.ID, "cruscotto-scostamenti").text
            or d.find_elements(By.ID, "conta-scostamenti")
        )
    )
    browser.save_screenshot(str(browser.screenshots / "cruscotto.png"))
    assert browser.execute_script("return document.documentElement.scrollWidth <= innerWidth;")

    # The 60-second refresh: a lotto closes meanwhile; htmx's next request swaps the numbers
    # in place (same request as the timer's), the page is not reloaded and keeps its period.
    browser.execute_script("window.nonRicaricata = true;")
    db_session.rollback()  # a fresh transaction: the server has written (the login) since this one read
    impianto.lotto(
        db_session, "nuovo", 1, "SMD", "SMD-A", "op2", base + timedelta(seconds=40), base + timedelta(seconds=50), 15
    )
    url = browser.find_element(By.ID, "cruscotto-numeri").get_attribute("hx-get")
    browser.execute_script(
        "htmx.ajax('GET', arguments[0], {source: '#cruscotto-numeri', target: '#cruscotto-numeri', swap: 'outerHTML'});",
        url,
    )
    _wait(browser).until(lambda d: _testo(d, "kpi-lotti") == "4")
    assert _testo(browser, "kpi-buoni") == "200"
    assert browser.execute_script("return window.nonRicaricata === true;")
    assert browser.find_element(By.ID, "cruscotto-numeri").get_attribute("hx-trigger") == "every 60s"

    # Last week from the presets: a shareable address, its own numbers, the same refresh address.
    browser.find_element(By.LINK_TEXT, "Settimana scorsa").click()
    _wait(browser).until(lambda d: "da=" in d.current_url)
    assert "da=" in browser.find_element(By.ID, "cruscotto-numeri").get_attribute("hx-get")
    browser.save_screenshot(str(browser.screenshots / "cruscotto-settimana-scorsa.png"))
    assert _errori(browser) == []

    # The wall screen on a 1080p TV: dark, nothing to click, all of it on one screen.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
    )
    browser.find_element(By.LINK_TEXT, "Vista a parete").click()
    _wait(browser).until(lambda d: d.find_elements(By.ID, "parete"))
    assert _testo(browser, "parete-oggi-buoni") == "200" and _testo(browser, "parete-oggi-lotti") == "4"
    assert browser.find_elements(By.CSS_SELECTOR, "form, nav, a, button, input") == []
    altezza, larghezza = browser.execute_script(
        "return [document.documentElement.scrollHeight, document.documentElement.scrollWidth];"
    )
    assert altezza <= 1080 and larghezza <= 1920  # no scrolling on a TV
    sfondo = browser.execute_script("return getComputedStyle(document.body).backgroundColor;")
    assert sfondo == "rgb(10, 15, 26)"
    numero = browser.find_element(By.ID, "parete-oggi-buoni")
    assert float(numero.value_of_css_property("font-size").removesuffix("px")) >= 80
    grafico = browser.find_element(By.CSS_SELECTOR, "svg.grafico-colonne")
    assert grafico.is_displayed() and grafico.size["width"] > 1500
    browser.save_screenshot(str(browser.screenshots / "parete-1080p.png"))
    assert _errori(browser) == []
