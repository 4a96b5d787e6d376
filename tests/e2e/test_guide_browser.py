"""The guides' walkthroughs in a real browser, on the demo data of ``make run``.

docs/guida-operatore.md and docs/guida-supervisore.md describe these steps, in this
order, with the screenshots this module takes (``foto_guida``: saved only by
``make screenshots``, into docs/img/). Each step asserts what the guide says the person
sees, so a guide that no longer matches the app fails here, and its pictures are
retaken from the same steps.

The demo is SQLite whatever the run's database (``flask --app wsgi demo`` makes its own
instance), so the PostgreSQL pass of ``make test`` skips this module: it would repeat
the SQLite pass exactly.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import false, select
from werkzeug.serving import make_server

from asigest.models import ConfigCommessa, Fase, FaseTipo, Lotto, Macchina
from asigest.models.types import utcnow
from tests.e2e.conftest import avvia_chromium, foto_guida

# The demo is always SQLite: these walkthroughs run once, in the SQLite pass.
pytestmark = pytest.mark.una_volta

KIOSK = (1024, 768)  # the kiosk screens of the floor (SPEC §9)
UFFICIO = (1280, 800)
PIN_DEMO = {"1001": "0101", "1005": "0505", "1009": "0909"}  # as `flask --app wsgi demo` prints them
BADGE_PER_FASE = {"SMD": "1001", "PTH": "1005", "CONTROLLI": "1009"}


@pytest.fixture
def browser(tmp_path):
    """A browser set to Italian, as on the floor: date fields read 07/12/2026, not
    12/07/2026 (Chromium takes their format from LANG, with the chromium-l10n package)."""
    driver = avvia_chromium(tmp_path, "--lang=it-IT", env={"LANG": "it_IT.UTF-8", "LANGUAGE": "it"})
    yield driver
    driver.quit()


def _wait(driver, seconds=10):
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def _schermo(driver, size) -> None:
    """The page's viewport exactly ``size`` (the window's own size includes no chrome
    in headless mode, but the emulation makes it certain)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
    )


def _errori_console(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo of ``make run`` (``flask --app wsgi demo`` in a fresh instance), served over
    HTTP in a thread; yields ``(app, base URL)``."""
    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url

    instance = tmp_path_factory.mktemp("demo")
    app = create_app(
        {
            "INSTANCE_PATH": instance,
            "DATABASE_URL": f"sqlite:///{instance / 'asigest.db'}",
            "ERP_URL": sqlite_readonly_url(instance / "erp_demo.db"),
            "SECRET_KEY": "guida",
        }
    )
    with app.app_context():  # as the flask command pushes it
        result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "badge = matricola" in result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _sessione(app):
    from asigest.extensions import db

    return db.session


def _commessa_da_aprire(app, codice_macchina: str) -> tuple[str, int]:
    """An order whose fase for this machine has at least 50 pieces available:
    ``(order number as scanned, available)``."""
    from asigest.services.configurazione import fasi_commessa
    from asigest.web import deps

    with app.app_context():
        session = _sessione(app)
        erp = deps.erp()
        macchina = session.scalar(select(Macchina).where(Macchina.codice == codice_macchina))
        configurate = session.scalars(
            select(ConfigCommessa.commessa_erp_id)
            .where(ConfigCommessa.bloccata_documentazione == false())
            .order_by(ConfigCommessa.id)
        ).all()
        for commessa_id in configurate:
            commessa = erp.get(commessa_id)
            if commessa is None or not commessa.aperta:
                continue
            for fase in fasi_commessa(session, erp, commessa_id):
                if (
                    fase.fase_tipo.id == macchina.fase_tipo_id
                    and fase.stato in ("APERTA", "IN_CORSO")
                    and fase.qta_disponibile >= 50
                ):
                    return commessa.numero, fase.qta_disponibile
    pytest.fail(f"nessuna commessa apribile su {codice_macchina} nella demo")


def _entra(browser, base, macchina: str, badge: str, pin: str) -> None:
    browser.get(f"{base}/kiosk/{macchina}")
    browser.find_element(By.NAME, "matricola").send_keys(badge + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys(pin + Keys.ENTER)
    _wait(browser).until(lambda d: d.find_elements(By.NAME, "q") or d.find_elements(By.ID, "qta_output"))


def test_guida_operatore(browser, demo):
    """docs/guida-operatore.md: badge and PIN, scan, open, close with scrap, label, idle lock."""
    app, base = demo
    macchina, badge, pin = "SMD-L1", "1001", PIN_DEMO["1001"]  # the README's example
    _schermo(browser, KIOSK)
    # The demo may have left a lotto open on the line: the operator closes it first.
    _entra(browser, base, macchina, badge, pin)
    if browser.find_elements(By.ID, "qta_output"):
        browser.find_element(By.CSS_SELECTOR, ".kiosk-chiudi button[type=submit]").click()
        _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".kiosk-ok")))
    browser.find_element(By.CSS_SELECTOR, ".kiosk-bar button[type=submit]").click()  # Esci
    numero, disponibile = _commessa_da_aprire(app, macchina)

    # 1. Badge and PIN.
    campo_badge = _wait(browser).until(ec.presence_of_element_located((By.NAME, "matricola")))
    assert browser.switch_to.active_element == campo_badge
    assert macchina in browser.page_source
    foto_guida(browser, "kiosk-badge")
    campo_badge.send_keys(badge + Keys.ENTER)
    browser.find_element(By.NAME, "pin").send_keys(pin + Keys.ENTER)
    scan = _wait(browser).until(ec.presence_of_element_located((By.NAME, "q")))
    assert browser.switch_to.active_element == scan
    assert "Luca Esposito" in browser.find_element(By.CLASS_NAME, "kiosk-operatore").text
    foto_guida(browser, "kiosk-scansione")

    # 2. Scan the order: its card, and "Apri lotto" with the available pieces filled in.
    scan.send_keys(numero + Keys.ENTER)
    qta = _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_input")))
    assert qta.get_attribute("value") == str(disponibile)
    assert f"Commessa {numero}" in browser.find_element(By.ID, "commessa-titolo").text
    foto_guida(browser, "kiosk-commessa")

    # 3. Open a lotto of 50 pieces: its code, the label button, the close form.
    qta.clear()
    qta.send_keys("50")
    browser.find_element(By.CSS_SELECTOR, ".kiosk-apri button[type=submit]").click()
    uscita = _wait(browser).until(ec.presence_of_element_located((By.ID, "qta_output")))
    codice = browser.find_element(By.CSS_SELECTOR, "#lotto-titolo .code").text
    assert f"Lotto {codice} aperto." in browser.page_source
    assert uscita.get_attribute("value") == "50"
    foto_guida(browser, "kiosk-lotto-aperto")

    # 4. Scrap first (the field has the focus): good pieces follow, 50 − 3. Closing
    #    without a reason is refused next to the reasons, figures kept.
    scarti = browser.find_element(By.ID, "qta_scarti")
    assert browser.switch_to.active_element == scarti
    scarti.send_keys("3")
    assert uscita.get_attribute("value") == "47"
    browser.find_element(By.ID, "chiudi-lotto").click()
    errore = _wait(browser).until(ec.presence_of_element_located((By.ID, "errore-causale")))
    assert "causale" in errore.text.lower()
    assert browser.find_element(By.ID, "qta_output").get_attribute("value") == "47"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", errore)
    foto_guida(browser, "kiosk-causale-mancante")

    # 5. Pick the reason and close: the order card again, with the fase's new totals.
    browser.find_element(By.CSS_SELECTOR, "input[name=causale]").find_element(By.XPATH, "..").click()
    browser.find_element(By.CSS_SELECTOR, ".kiosk-chiudi button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".kiosk-ok")))
    assert f"Lotto {codice} chiuso: 47 buoni, 3 scarti." in browser.page_source
    browser.execute_script("window.scrollTo(0, 0);")
    foto_guida(browser, "kiosk-chiuso")

    # 6. The label: QR code of the lotto's code, ready to print.
    with app.app_context():
        lotto_id = _sessione(app).scalar(select(Lotto.id).where(Lotto.codice_lotto == codice))
    browser.get(f"{base}/kiosk/{macchina}/etichetta/{lotto_id}")
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".etichetta-qr svg")))
    assert codice in browser.find_element(By.CLASS_NAME, "etichetta-codice").text
    foto_guida(browser, "kiosk-etichetta")

    # 7. The idle lock's countdown, then "Esci": back to the badge form.
    app.config["KIOSK_IDLE_SECONDS"] = 20
    try:
        browser.get(f"{base}/kiosk/{macchina}")
        _wait(browser).until(lambda d: d.find_element(By.ID, "kiosk-idle").text.endswith(" s"))
        foto_guida(browser, "kiosk-inattivita")
    finally:
        app.config["KIOSK_IDLE_SECONDS"] = 300
    browser.find_element(By.CSS_SELECTOR, ".kiosk-bar button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.NAME, "matricola")))
    assert _errori_console(browser) == []


def test_guida_operatore_lotto_dimenticato(browser, demo):
    """The demo's lotto open for about 20 hours shows the red R13 flag on its machine."""
    app, base = demo
    with app.app_context():
        session = _sessione(app)
        limite = utcnow() - timedelta(hours=app.config["FORGOTTEN_HOURS"])
        lotto = session.scalars(select(Lotto).where(Lotto.data_fine.is_(None), Lotto.data_inizio < limite)).first()
        assert lotto is not None, "la demo lascia un lotto aperto da circa 20 ore"
        macchina, tipo = lotto.macchina.codice, lotto.fase.fase_tipo.codice
    badge = BADGE_PER_FASE[tipo]
    _schermo(browser, KIOSK)
    _entra(browser, base, macchina, badge, PIN_DEMO[badge])
    flag = _wait(browser).until(ec.presence_of_element_located((By.CLASS_NAME, "kiosk-dimenticato")))
    assert "Aperto da più di 12 ore" in flag.text
    foto_guida(browser, "kiosk-lotto-dimenticato")


def _accedi_ufficio(browser, base, matricola: str, password: str) -> None:
    browser.get(f"{base}/login")
    browser.find_element(By.NAME, "matricola").send_keys(matricola)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    _wait(browser).until(ec.url_contains("/dashboard"))


def _commessa_non_configurata(app):
    """An open ERP order with a quantity that the demo did not configure."""
    from asigest.web import deps

    with app.app_context():
        configurate = set(_sessione(app).scalars(select(ConfigCommessa.commessa_erp_id)))
        return next(c for c in deps.erp().list_open(limit=100) if c.id not in configurate and c.qta)


def _commessa_in_produzione(app) -> int:
    """The ERP id of an order with more than one phase in progress, unchanged in the ERP."""
    from asigest.web import deps

    with app.app_context():
        session = _sessione(app)
        erp = deps.erp()
        in_corso = session.scalars(select(Fase.commessa_erp_id).where(Fase.stato == "IN_CORSO")).all()
        for config in session.scalars(select(ConfigCommessa).order_by(ConfigCommessa.id.desc())):
            commessa = erp.get(config.commessa_erp_id)
            if in_corso.count(config.commessa_erp_id) > 1 and commessa.aperta and commessa.qta == config.qta_erp:
                return commessa.id
    pytest.fail("nessuna commessa in produzione nella demo")


def _lotto_con_scarti(app) -> Lotto:
    """The most recent closed lotto with scrap of a last phase (CONTROLLI): fewer good
    pieces there take nothing from a later phase (R10)."""
    with app.app_context():
        session = _sessione(app)
        lotto = session.scalars(
            select(Lotto)
            .join(Fase)
            .join(FaseTipo)
            .where(
                FaseTipo.codice == "CONTROLLI",
                Lotto.data_fine.is_not(None),
                Lotto.qta_scarti > 0,
                Lotto.qta_output >= 2,
            )
            .order_by(Lotto.data_fine.desc())
        ).first()
        session.expunge(lotto)
        return lotto


def test_guida_supervisore(browser, demo, tmp_path):
    """docs/guida-supervisore.md: dashboard, orders, set-up, documents, phase states,
    drift, register, a correction, events, progress, badge unlock."""
    app, base = demo

    # An operator types a wrong PIN five times: the kiosk locks the badge.
    _schermo(browser, KIOSK)
    browser.get(f"{base}/kiosk/SMD-L2")
    for _ in range(5):
        browser.execute_script("window.paginaPrecedente = true;")
        browser.find_element(By.NAME, "matricola").send_keys("1002" + Keys.ENTER)
        browser.find_element(By.NAME, "pin").send_keys("9999" + Keys.ENTER)
        # The refusal is a new page; while it loads the driver may fail to answer.
        WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return window.paginaPrecedente === undefined && document.readyState === 'complete';"
            )
        )
    assert "Troppi tentativi errati" in browser.page_source
    foto_guida(browser, "kiosk-badge-bloccato")
    browser.get_log("browser")  # the refused PINs' 400 and 429 answers, as expected; read and dropped

    _schermo(browser, UFFICIO)
    browser.get(f"{base}/login")
    foto_guida(browser, "login")
    _accedi_ufficio(browser, base, "supervisore", "super1234")
    _wait(browser).until(lambda d: d.find_elements(By.ID, "conta-ritardo"))
    _wait(browser).until(lambda d: "Caricamento" not in d.find_element(By.ID, "cruscotto-scostamenti").text)
    foto_guida(browser, "cruscotto")

    browser.find_element(By.LINK_TEXT, "Commesse").click()
    _wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.scostamenti"))
    foto_guida(browser, "commesse")

    # Search an order that is not configured yet, open its card, set it up.
    nuova = _commessa_non_configurata(app)
    cerca = browser.find_element(By.ID, "q")
    cerca.send_keys(nuova.numero)
    # The results are swapped in again at every keystroke's answer: a link found may be
    # replaced before the click lands, so find and click again until one holds.
    _wait(browser).until(lambda d: d.find_element(By.LINK_TEXT, nuova.numero).click() or True)
    form = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "form.config-form")))
    for flag in ("config-flag_smd", "config-flag_controlli"):
        box = browser.find_element(By.ID, flag)
        if not box.is_selected():
            box.click()
    browser.find_element(By.ID, "config-diba").send_keys("DB-" + (nuova.codart or "SCHEDA"))
    browser.find_element(By.ID, "config-revisione").send_keys("A")
    browser.find_element(By.ID, "config-note").send_keys("Prima produzione: controllare il profilo del forno.")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", form)
    foto_guida(browser, "commessa-configura")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#produzione table.fasi")))
    assert [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#produzione table.fasi td.strong")] == [
        "SMD",
        "CONTROLLI",
    ]

    # A technical document for the order.
    documento = tmp_path / "schema-montaggio.pdf"
    documento.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    sezione = _wait(browser).until(ec.presence_of_element_located((By.ID, "documenti-sezione")))
    Select(sezione.find_element(By.ID, "doc-tipo")).select_by_value("SCHEMA_MONTAGGIO")
    sezione.find_element(By.ID, "doc-titolo").send_keys("Schema di montaggio lato TOP")
    sezione.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(documento))
    sezione.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser).until(
        lambda d: (
            "Schema di montaggio lato TOP" in d.find_element(By.ID, "documenti-sezione").text
            and d.find_elements(By.CSS_SELECTOR, "#documenti-sezione table")
        )
    )
    browser.execute_script("document.getElementById('documenti-sezione').scrollIntoView();")
    foto_guida(browser, "commessa-documenti")

    # Suspend a phase by hand, with the reason.
    browser.find_element(By.CSS_SELECTOR, "#produzione a[data-azione=SOSPESA]").click()
    motivo = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".fase-stato-form textarea")))
    motivo.send_keys("Manca il materiale: in attesa dei componenti dal fornitore.")
    foto_guida(browser, "fase-sospendi")
    browser.find_element(By.CSS_SELECTOR, ".fase-stato-form button[type=submit]").click()
    _wait(browser).until(lambda d: "sospesa" in d.find_element(By.CSS_SELECTOR, "#produzione table.fasi").text.lower())

    # The order the demo closed in the ERP while a lotto is open: a grave drift.
    browser.find_element(By.LINK_TEXT, "Commesse").click()
    grave = _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "tr.scostamento-grave a")))
    grave.click()
    avviso = _wait(browser).until(ec.presence_of_element_located((By.ID, "scostamento")))
    assert "message-error" in avviso.get_attribute("class")
    foto_guida(browser, "commessa-scostamento")

    # An order in production: its phases, what each produced and what is available.
    browser.get(f"{base}/commesse/{_commessa_in_produzione(app)}")
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#produzione table.fasi progress")))
    browser.execute_script("document.querySelector('main .panel').scrollIntoView();")  # the order and its phases
    foto_guida(browser, "commessa")

    # From the card, the whole order's trace: the fasi's totals, then every lotto forward
    # from the first fase.
    browser.find_element(By.ID, "traccia-commessa-link").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "traccia-commessa")))
    assert browser.find_elements(By.CSS_SELECTOR, "table.traccia-fasi tr[data-fase]")
    assert browser.find_elements(By.CSS_SELECTOR, ".traccia-commessa > .traccia-nodo .traccia-albero .traccia-nodo")
    assert "Esporta in Excel" in browser.find_element(By.TAG_NAME, "main").text
    foto_guida(browser, "tracciabilita-commessa")

    # The lotti register: with scrap only.
    browser.find_element(By.LINK_TEXT, "Registro lotti").click()
    _wait(browser).until(ec.presence_of_element_located((By.ID, "registro")))
    browser.find_element(By.NAME, "con_scarti").click()
    _wait(browser).until(lambda d: "con_scarti=1" in d.current_url)
    foto_guida(browser, "registro")

    # A correction: two more pieces were scrap, with the reason.
    lotto = _lotto_con_scarti(app)
    browser.get(f"{base}/lotti/{lotto.id}")
    form = _wait(browser).until(ec.presence_of_element_located((By.ID, "rettifica-form")))
    for name, value in (("qta_output", str(lotto.qta_output - 2)), ("qta_scarti", str(lotto.qta_scarti + 2))):
        campo = form.find_element(By.NAME, name)
        campo.clear()
        campo.send_keys(value)
    form.find_element(By.NAME, "motivo").send_keys("Ricontate a fine turno: 2 schede con ponticelli di stagno.")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", form)
    foto_guida(browser, "lotto-rettifica")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser).until(lambda d: "Rettifica salvata" in d.find_element(By.ID, "lotto-pannello").text)
    _wait(browser).until(lambda d: "Ricontate a fine turno" in d.find_element(By.ID, "storia").text)

    # The audit log: the correction on top, before and after.
    browser.find_element(By.LINK_TEXT, "Registro eventi").click()
    _wait(browser).until(lambda d: "Ricontate a fine turno" in d.find_element(By.TAG_NAME, "main").text)
    foto_guida(browser, "eventi")

    browser.find_element(By.LINK_TEXT, "Avanzamento").click()
    _wait(browser).until(ec.url_contains("/avanzamento"))
    foto_guida(browser, "avanzamento")

    # The badge locked at the start: unlock it.
    browser.find_element(By.LINK_TEXT, "Badge bloccati").click()
    riga = _wait(browser).until(ec.presence_of_element_located((By.XPATH, "//tr[td[text()='1002']]")))
    foto_guida(browser, "badge-bloccati")
    riga.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser).until(lambda d: not d.find_elements(By.XPATH, "//tr[td[text()='1002']]"))
    assert _errori_console(browser) == []


def _sezione_admin(browser, sezione: str, atteso: str) -> None:
    browser.find_element(By.CSS_SELECTOR, "nav.subnav").find_element(By.LINK_TEXT, sezione).click()
    _wait(browser).until(lambda d: atteso in d.find_element(By.TAG_NAME, "main").text)


def test_guida_supervisore_anagrafiche(browser, demo):
    """docs/guida-supervisore.md, master data (admins): users, one user, machines, scrap reasons."""
    app, base = demo
    _schermo(browser, UFFICIO)
    _accedi_ufficio(browser, base, "admin", "admin1234")
    browser.find_element(By.LINK_TEXT, "Amministrazione").click()
    _wait(browser).until(ec.url_contains("/admin/utenti"))
    assert "Luca Esposito" in browser.page_source
    foto_guida(browser, "admin-utenti")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Esposito").click()
    _wait(browser).until(lambda d: "/admin/utenti/" in d.current_url)
    foto_guida(browser, "admin-utente")
    _sezione_admin(browser, "Macchine", "SMD-L1")
    foto_guida(browser, "admin-macchine")
    _sezione_admin(browser, "Causali di scarto", "SMD-PICK")
    foto_guida(browser, "admin-causali")
    assert _errori_console(browser) == []
