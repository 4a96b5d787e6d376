"""/api/docs in Chromium: the vendored Swagger UI renders /api/openapi.json under the
site's strict CSP (no inline script or style allowed), with no CSP violation or script
error in the console, and every operation of the document is listed."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def test_api_reference_renders_under_the_csp(browser, live_server, client):
    documento = client.get("/api/openapi.json").get_json()
    operazioni = sum(
        1 for voce in documento["paths"].values() for metodo in voce if metodo in {"get", "post", "put", "delete"}
    )

    browser.get(f"{live_server}/api/docs")
    WebDriverWait(browser, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= operazioni)
    assert browser.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("ASI-GEST API")
    assert documento["info"]["version"] in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) == operazioni
    # An operation opens with its parameters and answers (React renders on click).
    browser.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-body .responses-table"))
    browser.save_screenshot(str(browser.screenshots / "api-docs.png"))

    console = browser.get_log("browser")
    violazioni = [e for e in console if "Content Security Policy" in e["message"]]
    assert violazioni == [], violazioni
    errori = [e for e in console if e["level"] == "SEVERE"]
    assert errori == [], errori
