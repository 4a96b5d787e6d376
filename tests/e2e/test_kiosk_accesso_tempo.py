"""Kiosk login time in a real browser (SPEC §9, issue 14): from the PIN's Enter to the
operator's screen loaded, p95 ≤ 300 ms over 25 logins, with the production PIN hash
(the suite's cheap one, ``_cheap_argon2``, is put aside for this test) and without the
suite's SQL Server compile check of every statement (``misura_tempi``), as production runs.

What is measured is the browser's own Navigation Timing of the screen it lands on: from
the start of the navigation (the PIN form's submission) to the load event — the POST,
the redirect, the page, and every stylesheet and script it needs.

The house rule is that speed is measured, not asserted in the suite: ``make test`` runs
two parallel workers on two cores, and a login timed next to a crash test or the fuzzer
says more about the neighbour than about the login. So in ``make test`` this test checks
that every one of the 25 logins lands on the operator's screen with the production PIN
hash, and logs the figures; the 300 ms target is asserted when the test is run alone for
the measurement (``ASIGEST_MISURA_TEMPI=1``, see the README): a round disturbed by other
processes is measured again, up to four rounds, and every round's figures are logged.
It runs in the SQLite pass only (``una_volta``): PostgreSQL's figure is measured the same
way by hand (docs/decisioni/2026-12-07-costo-hash-pin.md).
"""

from __future__ import annotations

import logging
import os
import statistics

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from asigest.domain import hashing
from asigest.models import FaseTipo, Macchina

log = logging.getLogger(__name__)  # the figures: shown by pytest -rA, or in the failure report

ACCESSI = 25
GIRI = 4
P95_MASSIMO_MS = 300

_TEMPO = """
const n = performance.getEntriesByType('navigation')[0];
return n ? {totale: n.loadEventEnd, url: location.pathname} : {totale: 0, url: location.pathname};
"""


@pytest.fixture
def pin_di_produzione():
    """The PIN hasher production uses, for this test only."""
    economico = hashing._hasher_pin
    hashing._hasher_pin = hashing.HASHER_PIN
    yield
    hashing._hasher_pin = economico


def _accesso(browser, matricola: str) -> float:
    """One badge + PIN login at the kiosk; the milliseconds to the loaded screen. Ends with *Esci*."""
    badge = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "matricola")))
    badge.send_keys(matricola + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "q")))
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(_TEMPO)["totale"] > 0)
    misura = browser.execute_script(_TEMPO)
    assert misura["url"] == "/kiosk/SMD-L1"
    browser.find_element(By.CSS_SELECTOR, "form[action$='/esci'] button").click()
    return misura["totale"]


def _p95(tempi: list[float]) -> float:
    ordinati = sorted(tempi)
    return ordinati[round(0.95 * len(ordinati)) - 1]


@pytest.mark.misura_tempi
@pytest.mark.una_volta
def test_kiosk_login_p95_within_300_ms(browser, live_server, db_session, make_user, pin_di_produzione):
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-L1", descrizione="Linea SMD 1", fase_tipo_id=smd.id, attiva=True))
    db_session.commit()
    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    assert db_session.get(type(operatore), operatore.id).pin_hash.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    browser.set_window_size(1024, 768)
    browser.get(f"{live_server}/kiosk/SMD-L1")
    for _ in range(2):  # the first logins fill the browser's cache, as a shift's first one does
        _accesso(browser, operatore.matricola)
    misura = os.environ.get("ASIGEST_MISURA_TEMPI") == "1"
    giri = []
    # Rounds disturbed by other processes are measured again only when the target is
    # asserted; in ``make test`` one round shows that every login lands.
    for _ in range(GIRI if misura else 1):
        carico = os.getloadavg()[0]
        tempi = [_accesso(browser, operatore.matricola) for _ in range(ACCESSI)]
        giri.append((statistics.median(tempi), _p95(tempi), max(tempi), carico))
        log.warning(
            "Accesso al chiosco, %d accessi nel browser: p50 %.0f ms, p95 %.0f ms, max %.0f ms (carico %.1f)",
            ACCESSI,
            *giri[-1],
        )
        if giri[-1][1] <= P95_MASSIMO_MS:
            break
    if misura:
        assert giri[-1][1] <= P95_MASSIMO_MS, (
            f"p95 oltre {P95_MASSIMO_MS} ms in ogni giro (p50, p95, max, carico): {giri}"
        )
