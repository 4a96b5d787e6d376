"""The kiosk speaks the operator's language (``Utenti.Lingua``, SPEC §9), in a real
browser: in one browser, an English-set operator gets English from the badge login on,
*Esci* brings back the default, and an Italian-set one gets Italian — even after an
office page in the same browser was switched to English."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from asigest.models import FaseTipo, Macchina


def _accedi(browser, matricola: str) -> None:
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "matricola"))).send_keys(
        matricola + Keys.ENTER
    )
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "q")))


def _esci(browser) -> None:
    browser.find_element(By.CSS_SELECTOR, ".kiosk-bar form[action$='/esci'] button").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "matricola")))


def _lingua(browser) -> str:
    # Read by script, holding no element: while a page is replaced, an element of the
    # old one would be stale.
    return browser.execute_script("return document.documentElement.lang")


def test_each_operator_gets_their_own_language_in_the_same_browser(browser, live_server, db_session, make_user):
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-L1", descrizione="Linea SMD 1", fase_tipo_id=smd.id, attiva=True))
    db_session.commit()
    john = make_user(ruolo="OPERATORE", password=None, pin="2468", nome="John", cognome="Smith", lingua="en")
    luca = make_user(ruolo="OPERATORE", password=None, pin="2468", nome="Luca", cognome="Verdi")

    # An office page in this browser was switched to English.
    browser.get(f"{live_server}/login")
    browser.find_element(By.CSS_SELECTOR, "form[action^='/lingua/en'] button").click()
    WebDriverWait(browser, 10).until(lambda d: _lingua(d) == "en")

    browser.get(f"{live_server}/kiosk/SMD-L1")
    assert _lingua(browser) == "it" and "Scansionare il badge" in browser.page_source

    _accedi(browser, john.matricola)
    assert _lingua(browser) == "en"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=q]").text == "Order or lot label"
    assert browser.find_element(By.CSS_SELECTOR, ".kiosk-bar form[action$='/esci'] button").text == "Log out"
    # htmx fragments too: a scan's answer is in English.
    browser.find_element(By.NAME, "q").send_keys("2026/9999" + Keys.ENTER)
    errore = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "errore-q")))
    assert "commessa" not in errore.text.lower(), errore.text

    _esci(browser)
    assert _lingua(browser) == "it" and "Scansionare il badge" in browser.page_source

    _accedi(browser, luca.matricola)
    assert _lingua(browser) == "it"
    assert browser.find_element(By.CSS_SELECTOR, "label[for=q]").text == "Commessa o etichetta lotto"
    assert browser.find_element(By.CSS_SELECTOR, ".kiosk-bar form[action$='/esci'] button").text == "Esci"
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
