"""Office pages and the kiosk's bar fit a 1024×768 screen (issue 14): no page is wider
than the window — a wide table scrolls inside its own box, not the page — the admin's
top bar keeps *Esci* on screen, and the kiosk's bar stays one row with *Esci* in it."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from asigest.models import Macchina
from asigest.models.types import utcnow
from tests.registro_fixture import costruisci

LARGHEZZA, ALTEZZA = 1024, 768

# Every office page an admin reaches from the top bar, and the wide tables' pages.
PAGINE = (
    "/dashboard",
    "/commesse",
    "/commesse/101",
    "/avanzamento",
    "/lotti?da=2026-03-01",
    "/eventi",
    "/badge-bloccati",
    "/admin/utenti",
    "/admin/macchine",
    "/admin/causali",
    "/admin/fasi-tipo",
    "/admin/token",
)

_MISURA = """
const esci = arguments[0] ? document.querySelector(arguments[0]) : null;
const r = esci ? esci.getBoundingClientRect() : null;
return {scroll: document.documentElement.scrollWidth, finestra: window.innerWidth, altezza: window.innerHeight,
        esci: r ? {left: r.left, right: r.right, top: r.top, bottom: r.bottom} : null};
"""


def _dentro(rect: dict, misura: dict) -> bool:
    return (
        rect["left"] >= 0
        and rect["top"] >= 0
        and rect["right"] <= misura["finestra"]
        and rect["bottom"] <= misura["altezza"]
    )


def _accedi(browser, live_server, matricola: str) -> None:
    browser.get(f"{live_server}/login")
    browser.find_element(By.NAME, "matricola").send_keys(matricola)
    browser.find_element(By.NAME, "password").send_keys("password123" + Keys.ENTER)
    WebDriverWait(browser, 10).until(ec.url_contains("/dashboard"))


def test_office_pages_fit_1024_as_admin(browser, live_server, db_session, make_user):
    costruisci(db_session, make_user, adesso=utcnow())
    admin = make_user(ruolo="ADMIN", nome="Massimiliano", cognome="Dell'Acqua Bertolazzi")
    browser.set_window_size(LARGHEZZA, ALTEZZA)
    _accedi(browser, live_server, admin.matricola)
    larghe = {}
    for pagina in PAGINE:
        browser.get(f"{live_server}{pagina}")
        WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "main")))
        misura = browser.execute_script(_MISURA, "form[action$='/logout'] button")
        assert misura["finestra"] <= LARGHEZZA
        if misura["scroll"] > misura["finestra"]:
            larghe[pagina] = misura["scroll"]
        assert misura["esci"] and _dentro(misura["esci"], misura), (pagina, misura)
    assert larghe == {}, f"pagine più larghe della finestra ({LARGHEZZA} px): {larghe}"


@pytest.mark.parametrize("pagina", ["/lotti?da=2026-03-01", "/avanzamento", "/eventi"])
def test_a_wide_table_scrolls_inside_its_box(browser, live_server, db_session, make_user, pagina):
    """At 800 px the tables no longer fit: the page still does, the table's box scrolls."""
    costruisci(db_session, make_user, adesso=utcnow())
    capo = make_user(ruolo="SUPERVISORE")
    browser.set_window_size(LARGHEZZA, ALTEZZA)
    _accedi(browser, live_server, capo.matricola)
    browser.set_window_size(800, ALTEZZA)
    browser.get(f"{live_server}{pagina}")
    tabella = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "main table")))
    misura = browser.execute_script(_MISURA, None)
    assert misura["scroll"] <= misura["finestra"], (pagina, misura)
    scatola = browser.execute_script(
        "let e = arguments[0].parentElement;"
        "while (e && getComputedStyle(e).overflowX !== 'auto' && getComputedStyle(e).overflowX !== 'scroll')"
        "  e = e.parentElement;"
        "return e ? {classe: e.className, scroll: e.scrollWidth, client: e.clientWidth} : null;",
        tabella,
    )
    assert scatola is not None, f"{pagina}: la tabella non ha un contenitore che scorre"


def test_kiosk_bar_is_one_row_with_esci_at_1024(browser, live_server, db_session, make_user):
    reg = costruisci(db_session, make_user, adesso=utcnow(), storia=False)
    # The demo's longest description, which pushed Esci to a second row.
    db_session.get(
        Macchina, reg.macchine["SMD-A"]
    ).descrizione = "Linea SMD 1: serigrafica, pick & place, forno a rifusione"
    db_session.commit()
    operatore = make_user(
        ruolo="OPERATORE", password=None, pin="2468", nome="Massimiliano", cognome="Dell'Acqua Bertolazzi"
    )
    browser.set_window_size(LARGHEZZA, ALTEZZA)
    browser.get(f"{live_server}/kiosk/SMD-A")
    browser.find_element(By.NAME, "matricola").send_keys(operatore.matricola + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys("2468" + Keys.ENTER)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.NAME, "q")))
    misura = browser.execute_script(_MISURA, ".kiosk-bar form[action$='/esci'] button")
    barra = browser.find_element(By.CLASS_NAME, "kiosk-bar").rect
    macchina = browser.find_element(By.CLASS_NAME, "kiosk-macchina").rect
    assert misura["scroll"] <= misura["finestra"]
    assert _dentro(misura["esci"], misura)
    assert barra["height"] <= 80, barra  # one row: 64 px and its padding
    # Esci on the same row as the machine's code.
    assert abs((misura["esci"]["top"] + misura["esci"]["bottom"]) / 2 - (macchina["y"] + macchina["height"] / 2)) < 20
