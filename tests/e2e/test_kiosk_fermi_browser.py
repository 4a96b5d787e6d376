"""A machine stop at the kiosk in a real browser at 1024×768 (SPEC §9, §13): two touches
to start it (*Fermo macchina*, the reason tile), one to end it (*Riprendi*), every target
in view without scrolling, the lotto still open afterwards."""

from __future__ import annotations

import os
import shutil

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from asigest.models import FaseTipo, Macchina
from asigest.models.fermi import Fermo
from tests.e2e.conftest import foto_guida


def _in_vista(browser, elemento) -> bool:
    return browser.execute_script(
        "var r = arguments[0].getBoundingClientRect();"
        "return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;",
        elemento,
    )


def _foto(browser, nome):
    browser.save_screenshot(str(browser.screenshots / f"{nome}.png"))
    foto_guida(browser, nome)
    cartella = os.environ.get("ASIGEST_SCREENSHOTS_COPIA")
    if cartella:
        shutil.copy(browser.screenshots / f"{nome}.png", cartella)


def test_two_touches_to_stop_one_to_resume(browser, live_server, db_session, make_user):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-F", descrizione="Linea SMD fermi", fase_tipo_id=tipo.id, attiva=True))
    db_session.commit()
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468", nome="Luca", cognome="Verdi")
    browser.set_window_size(1024, 768)
    attesa = WebDriverWait(browser, 10)

    browser.get(f"{live_server}/kiosk/SMD-F")
    browser.find_element(By.NAME, "matricola").send_keys(operatore.matricola + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    attesa.until(ec.presence_of_element_located((By.NAME, "q")))

    fermo_btn = browser.find_element(By.ID, "fermo-macchina")
    assert _in_vista(browser, fermo_btn)
    fermo_btn.click()  # touch 1
    tile = attesa.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.kiosk-tile-fermo[value='GUASTO']")))
    tiles = browser.find_elements(By.CSS_SELECTOR, "button.kiosk-tile-fermo")
    assert len(tiles) >= 8 and all(_in_vista(browser, t) for t in tiles)
    assert all(t.size["height"] >= 48 for t in tiles)
    _foto(browser, "kiosk-fermo-causali")
    tile.click()  # touch 2: the stop runs
    riprendi = attesa.until(ec.element_to_be_clickable((By.ID, "riprendi")))
    assert "Macchina ferma" in browser.page_source
    assert _in_vista(browser, riprendi) and riprendi.size["height"] >= 72
    assert browser.find_element(By.ID, "durata-fermo").text == "0 min"
    _foto(browser, "kiosk-fermo-in-corso")
    db_session.rollback()
    (fermo,) = db_session.scalars(select(Fermo)).all()
    assert fermo.fine is None

    riprendi.click()  # one touch ends it
    attesa.until(ec.presence_of_element_located((By.ID, "fermo-ripreso")))
    db_session.rollback()
    (fermo,) = db_session.scalars(select(Fermo)).all()
    assert fermo.fine is not None
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
