"""Real-browser fixtures: the app served over HTTP in a thread, headless Debian Chromium.

Without a browser the tests skip with the reason; in CI (``CI=true``) a missing browser
fails, because there it is installed by ``.ci/run``.

``foto_guida(driver, nome)`` saves the guides' screenshots (``docs/img/<nome>.png``) when
``ASIGEST_DOCS_IMG`` names a folder, as ``make screenshots`` does; otherwise it does
nothing, so a normal test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import suppress
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("ASIGEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ASIGEST_CHROMEDRIVER", "/usr/bin/chromedriver")
DOCS_IMG = "ASIGEST_DOCS_IMG"
FINESTRA = (1366, 900)  # the browser window of every test, unless the test resizes it


def foto_guida(driver, nome: str) -> None:
    """Save what ``driver`` shows as ``<ASIGEST_DOCS_IMG>/<nome>.png`` for the guides in
    docs/; without the variable, nothing (the test still checks what the guide says)."""
    cartella = os.environ.get(DOCS_IMG)
    if not cartella:
        return
    Path(cartella).mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(Path(cartella) / f"{nome}.png")), f"screenshot {nome} non salvato"


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} non installato (apt-get install chromium chromium-driver)"
    try:
        import selenium
    except ImportError:
        return "selenium non installato (requirements-dev.txt)"
    return None


@pytest.fixture(scope="session")
def live_server(app):
    """Base URL of the session app served by a threaded WSGI server on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def avvia_chromium(tmp_path, *extra_args: str, env: dict | None = None):
    """Headless Debian Chromium with a profile under ``tmp_path``, ``env`` added to its
    environment; skips (fails in CI) without a browser. The caller quits it."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Browser richiesto in CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={FINESTRA[0]},{FINESTRA[1]}",
        f"--user-data-dir={tmp_path / 'profile'}",
        *extra_args,
    ):
        options.add_argument(arg)
    service = Service(CHROMEDRIVER, env={**os.environ, **env} if env else None)
    driver = webdriver.Chrome(service=service, options=options)
    driver.implicitly_wait(0)
    driver.screenshots = tmp_path  # where the test saves what it saw
    return driver


@pytest.fixture(scope="session")
def _chromium_del_worker(tmp_path_factory):
    """One Chromium per test worker: starting one costs 1–2 s of CPU, as much as a short
    walkthrough (measured), and the browser tests are a few dozen."""
    driver = avvia_chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


def _come_nuovo(driver) -> None:
    """Bring a used browser back to a fresh one's state for the next test: one window on a
    blank page, no cookies, cache or site data, no emulated screen, the default size and
    an empty console log."""
    from selenium.common.exceptions import NoAlertPresentException

    with suppress(NoAlertPresentException):
        driver.switch_to.alert.dismiss()
    finestre = driver.window_handles
    for finestra in finestre[1:]:
        driver.switch_to.window(finestra)
        driver.close()
    driver.switch_to.window(finestre[0])
    driver.get("about:blank")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
    driver.set_window_size(*FINESTRA)
    driver.get_log("browser")  # read = emptied: a test sees only its own console


@pytest.fixture
def browser(_chromium_del_worker, tmp_path):
    """The worker's Chromium, as a new one would be (``_come_nuovo``); what the test saves
    goes to its own ``tmp_path``."""
    driver = _chromium_del_worker
    _come_nuovo(driver)
    driver.screenshots = tmp_path
    yield driver
