"""Login lockout through the real forms (/login and the kiosk badge form), the client
address behind a proxy (ProxyFix), and the session cookie's attributes."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from sqlalchemy import func, select

from asigest.models import TentativoAccesso
from tests.conftest import csrf_from
from tests.web.conftest import login_on

BLOCCATO = "Troppi tentativi errati: accesso bloccato per 15 minuti. Riprovare più tardi o rivolgersi al supervisore."
ERRATE = "Matricola o password errate. Controllare e riprovare."


def post_login(client, matricola, password, **kwargs):
    page = client.get("/login", **kwargs)
    return client.post(
        "/login", data={"matricola": matricola, "password": password, "csrf_token": csrf_from(page.text)}, **kwargs
    )


def post_badge(client, macchina, matricola, pin, **kwargs):
    page = client.get(f"/kiosk/{macchina}", **kwargs)
    return client.post(
        f"/kiosk/{macchina}", data={"matricola": matricola, "pin": pin, "csrf_token": csrf_from(page.text)}, **kwargs
    )


@pytest.mark.parametrize("esiste", [True, False], ids=["badge esistente", "badge inesistente"])
def test_login_form_locks_after_five_failures(client, make_user, esiste):
    if esiste:
        make_user(matricola="S001")
    for _ in range(4):
        response = post_login(client, "S001", "sbagliata!")
        assert response.status_code == 400 and ERRATE in response.text
    response = post_login(client, "S001", "sbagliata!")
    assert response.status_code == 429
    assert BLOCCATO in response.text and ERRATE not in response.text
    assert response.headers["Retry-After"] == "900"
    # The right password does not get through while locked.
    response = post_login(client, "S001", "password123")
    assert response.status_code == 429 and BLOCCATO in response.text


def test_a_locked_badge_does_not_stop_the_others(client, make_user):
    make_user(matricola="S002")
    other = make_user(matricola="S003")
    for _ in range(5):
        post_login(client, "S002", "sbagliata!")
    assert login_on(client, other.matricola).status_code == 302


def test_kiosk_badge_form_locks_after_five_wrong_pins(client, make_user, macchina_smd):
    make_user(ruolo="OPERATORE", matricola="K001", password=None, pin="2468")
    for _ in range(4):
        response = post_badge(client, macchina_smd, "K001", "1111")
        assert response.status_code == 400 and "Badge o PIN errati. Riprovare." in response.text
    response = post_badge(client, macchina_smd, "K001", "1111")
    assert response.status_code == 429 and BLOCCATO in response.text
    assert response.headers["Retry-After"] == "900"
    assert post_badge(client, macchina_smd, "K001", "2468").status_code == 429
    # The badge typed is kept in the form, as for any other error.
    assert 'value="K001"' in response.text


def test_address_lock_uses_the_client_address(make_app, db_session, make_user):
    """Without ProxyFix a forged X-Forwarded-For is ignored (the lock cannot be dodged);
    with ASIGEST_PROXY_FIX=1 the proxy's header is the client address, so one client's
    lock does not lock the others behind the same proxy."""
    make_user(matricola="P001")
    diretta = make_app(LOGIN_MAX_ADDRESS=3).test_client()
    for n in range(3):
        post_login(diretta, f"Z{n}", "sbagliata!", headers={"X-Forwarded-For": f"192.0.2.{n}"})
    assert post_login(diretta, "P001", "password123", headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    assert {r.indirizzo for r in db_session.scalars(select(TentativoAccesso))} == {"127.0.0.1"}

    dietro_proxy = make_app(LOGIN_MAX_ADDRESS=3, PROXY_FIX=1).test_client()
    for n in range(3):
        post_login(dietro_proxy, f"Y{n}", "sbagliata!", headers={"X-Forwarded-For": "198.51.100.7"})
    assert (
        post_login(dietro_proxy, "P001", "password123", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    )
    response = post_login(dietro_proxy, "P001", "password123", headers={"X-Forwarded-For": "198.51.100.8"})
    assert response.status_code == 302
    db_session.rollback()
    assert db_session.scalar(select(func.count()).where(TentativoAccesso.indirizzo == "198.51.100.7")) == 3


# -- cookies ---------------------------------------------------------------------------


def session_cookie(response, name="asigest_session"):
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie[name], header
    raise AssertionError(f"nessun cookie {name}: {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user()
    response = login_on(client, user.matricola)
    assert response.status_code == 302
    morsel, header = session_cookie(response)
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert not morsel["secure"], "in chiaro (sviluppo) il cookie non può essere Secure"
    assert morsel["path"] == "/"
    # Flask-Login's remember-me cookie is not used: closing the browser ends the session.
    assert not any(h.startswith("remember_token=") for h in response.headers.getlist("Set-Cookie"))
    assert "Expires" not in header  # a browser-session cookie: it ends with the browser


def test_kiosk_session_cookie_has_the_same_attributes(client, make_user, macchina_smd):
    make_user(ruolo="OPERATORE", matricola="K002", password=None, pin="2468")
    response = post_badge(client, macchina_smd, "K002", "2468")
    assert response.status_code == 302
    morsel, _ = session_cookie(response)
    assert morsel["httponly"] is True and morsel["samesite"] == "Lax"


def test_secure_cookies_setting_marks_every_cookie_secure(make_app, make_user):
    secure = make_app(SESSION_COOKIE_SECURE=True)
    assert secure.config["REMEMBER_COOKIE_SECURE"] is True
    assert secure.config["PREFERRED_URL_SCHEME"] == "https"
    browser = secure.test_client()
    user = make_user()
    page = browser.get("/login", base_url="https://localhost")
    # Over HTTPS Flask-WTF also wants a same-origin Referer, which browsers send.
    response = browser.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={"matricola": user.matricola, "password": "password123", "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302
    morsel, _ = session_cookie(response)
    assert morsel["secure"] is True and morsel["httponly"] is True and morsel["samesite"] == "Lax"


def test_secure_cookies_from_the_environment(monkeypatch, make_app):
    monkeypatch.setenv("ASIGEST_SECURE_COOKIES", "1")
    monkeypatch.setenv("ASIGEST_PROXY_FIX", "1")
    configured = make_app()
    assert configured.config["SESSION_COOKIE_SECURE"] is True
    assert configured.config["PROXY_FIX"] == 1
    monkeypatch.setenv("ASIGEST_SECURE_COOKIES", "0")
    assert make_app().config["SESSION_COOKIE_SECURE"] is False
