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
    """What the test saw, kept with its files (``ASIGEST_SCREENSHOTS_COPIA``: also copied there)."""
    browser.save_screenshot(str(browser.screenshots / f"{nome}.png"))
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
    foto_guida(browser, "kiosk-fermo-causali")
    tile.click()  # touch 2: the stop runs
    riprendi = attesa.until(ec.element_to_be_clickable((By.ID, "riprendi")))
    assert "Macchina ferma" in browser.page_source
    assert _in_vista(browser, riprendi) and riprendi.size["height"] >= 72
    assert browser.find_element(By.ID, "durata-fermo").text == "0 min"
    _foto(browser, "kiosk-fermo-in-corso")
    foto_guida(browser, "kiosk-fermo-in-corso")
    db_session.rollback()
    (fermo,) = db_session.scalars(select(Fermo)).all()
    assert fermo.fine is None

    riprendi.click()  # one touch ends it
    attesa.until(ec.presence_of_element_located((By.ID, "fermo-ripreso")))
    db_session.rollback()
    (fermo,) = db_session.scalars(select(Fermo)).all()
    assert fermo.fine is not None
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_a_supervisor_reads_last_weeks_oee(browser, live_server, db_session, make_user):
    """Per machine the three factors, the OEE and the top three losses; the loss Pareto."""
    from datetime import date, datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from asigest.models import CalendarioTurni, CausaleFermo

    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    macchina = Macchina(codice="SMD-O1", descrizione="Linea SMD", fase_tipo_id=tipo.id, reparto="SMD", attiva=True)
    db_session.add(macchina)
    db_session.flush()
    for giorno in range(1, 6):
        db_session.add(CalendarioTurni(reparto="SMD", giorno_settimana=giorno, ora_inizio=time(6), ora_fine=time(22)))
    causali = {c.codice: c.id for c in db_session.scalars(select(CausaleFermo))}
    supervisore = make_user(ruolo="SUPERVISORE", password="password123")
    roma = ZoneInfo("Europe/Rome")
    lunedi = date.today() - timedelta(days=date.today().weekday() + 7)
    for giorno, ora, minuti, causale in ((0, 9, 95, "GUASTO"), (1, 13, 40, "ATTREZZAGGIO"), (3, 16, 70, "MANCA-MAT")):
        inizio = datetime.combine(lunedi + timedelta(days=giorno), time(ora), roma)
        db_session.add(
            Fermo(
                macchina_id=macchina.id,
                causale_id=causali[causale],
                operatore_id=supervisore.id,
                inizio=inizio,
                fine=inizio + timedelta(minutes=minuti),
            )
        )
    from decimal import Decimal

    from asigest.models import ConfigCommessa, Fase, Lotto, TempoCiclo

    db_session.add(ConfigCommessa(commessa_erp_id=101, flag_smd=True, flag_pth=False, flag_controlli=False))
    fase = Fase(commessa_erp_id=101, fase_tipo_id=tipo.id, stato="IN_CORSO", qta_prevista=5000)
    db_session.add(fase)
    db_session.flush()
    chiusura = datetime.combine(lunedi + timedelta(days=2), time(18), roma)
    db_session.add(
        Lotto(
            fase_id=fase.id,
            progressivo=1,
            codice_lotto="2026-1234-SMD-001",
            data_inizio=chiusura - timedelta(hours=30),
            data_fine=chiusura,
            qta_input=3030,
            qta_output=3000,
            qta_scarti=30,
            operatore_id=supervisore.id,
            operatore_chiusura_id=supervisore.id,
            macchina_id=macchina.id,
        )
    )
    db_session.add(TempoCiclo(fase_tipo_id=tipo.id, secondi_per_pezzo=Decimal(60)))
    db_session.commit()

    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(supervisore.matricola)
    browser.find_element(By.NAME, "password").send_keys("password123" + Keys.ENTER)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CLASS_NAME, "mainnav")))
    browser.find_element(By.LINK_TEXT, "Fermi e OEE").click()
    browser.find_element(By.LINK_TEXT, "Settimana scorsa").click()
    riga = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "tr[data-macchina='SMD-O1']"))
    )
    # 5 × 16 h = 4800 min planned, 205 min of stops: availability 95,7 %.
    assert "95,7 %" in riga.text
    assert "Guasto macchina 1 h 35 min" in riga.text and "Mancanza materiale 1 h 10 min" in riga.text
    # 3030 pieces × 60 s = 3030 min ideal over 4595 min of work: 65,9 %; OEE = 3000 good × 1 min / 4800 = 62,5 %.
    assert "65,9 %" in riga.text and "62,5 %" in riga.text
    assert browser.find_elements(By.CSS_SELECTOR, "svg.grafico-barre")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.execute_script(
        "window.scrollTo(0, document.getElementById('totale-oee').getBoundingClientRect().top + window.scrollY - 80)"
    )
    foto_guida(browser, "oee-settimana")
