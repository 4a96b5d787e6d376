"""Login at ``/login`` (SPEC §8: fields ``matricola`` and ``password``), logout, the session
cookie and the language switch."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from

WRONG = "Matricola o password errate. Controllare e riprovare."


def post_login(client, matricola, password, **extra):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"matricola": matricola, "password": password, "csrf_token": token, **extra})


def input_tag(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"nessun campo {name}"
    return match.group(0)


def test_login_page_has_the_contract_fields_and_a_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'type="password"' in input_tag(response.text, "password")
    input_tag(response.text, "matricola")
    assert re.search(r'<input[^>]*name="csrf_token"[^>]*value="[^"]{20,}"', response.text)
    assert '<html lang="it"' in response.text


def test_wrong_password_is_refused_keeping_the_badge_but_not_the_password(client, make_user):
    user = make_user(password="giusta-123")
    response = post_login(client, user.matricola, "sbagliata-987")
    assert response.status_code == 400
    assert WRONG in response.text
    assert f'value="{user.matricola}"' in input_tag(response.text, "matricola")
    assert "sbagliata-987" not in response.text
    assert client.get("/commesse").status_code == 302  # not logged in


def test_unknown_badge_gets_the_same_message(client):
    response = post_login(client, "NESSUNO", "password123")
    assert response.status_code == 400 and WRONG in response.text


def test_empty_fields_show_the_field_messages(client):
    response = post_login(client, "", "")
    assert response.status_code == 400
    assert "Indicare la matricola." in response.text
    assert "Indicare la password." in response.text


def test_right_password_goes_to_commesse_and_records_the_login(client, make_user, db_session):
    from asigest.models import LogEvento, Utente

    user = make_user()
    response = post_login(client, user.matricola, "password123")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    assert client.get("/commesse").status_code == 200
    assert db_session.get(Utente, user.id).ultimo_accesso is not None
    assert db_session.scalar(select(LogEvento).where(LogEvento.azione == "LOGIN", LogEvento.entita_id == user.id))


def test_login_follows_a_safe_next(client, make_user):
    user = make_user()
    page = client.get("/login?next=/commesse/101%3Fx%3D1")
    assert 'value="/commesse/101?x=1"' in page.text  # carried through the form
    response = client.post(
        "/login",
        data={
            "matricola": user.matricola,
            "password": "password123",
            "csrf_token": csrf_from(page.text),
            "next": "/commesse/101?x=1",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/commesse/101?x=1")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "///evil.example",
    ],
)
def test_login_never_redirects_off_site(client, make_user, target):
    user = make_user()
    response = post_login(client, user.matricola, "password123", next=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    # Browsers read "\" as "/" and drop tabs: the header must hold neither.
    assert "\\" not in location and "\t" not in location
    resolved = urlsplit(urljoin("http://localhost/login", location))
    assert resolved.netloc == "localhost" and resolved.scheme == "http", location


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil", "javascript:alert(1)"])
def test_login_with_a_foreign_next_goes_to_commesse(client, make_user, target):
    user = make_user()
    response = post_login(client, user.matricola, "password123", next=target)
    assert urlsplit(response.headers["Location"]).path == "/"


def test_inactive_user_cannot_log_in(client, make_user, db_session):
    user = make_user()
    user.attivo = False
    db_session.commit()
    response = post_login(client, user.matricola, "password123")
    assert response.status_code == 400 and WRONG in response.text
    assert client.get("/commesse").status_code == 302


def test_deactivated_user_is_logged_out_on_next_request(client, login, db_session):
    from asigest.models import Utente

    user = login()
    assert client.get("/commesse").status_code == 200
    db_session.get(Utente, user.id).attivo = False
    db_session.commit()
    response = client.get("/commesse")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_logout_clears_the_session(client, login):
    login()
    page = client.get("/commesse")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert client.get("/commesse").status_code == 302


def test_login_starts_a_fresh_session(client, make_user):
    """Anything put in the session before login (e.g. by someone who planted the cookie) is gone."""
    user = make_user()
    client.get("/login")
    with client.session_transaction() as session:
        session["piantato"] = "da un altro"
    post_login(client, user.matricola, "password123")
    with client.session_transaction() as session:
        assert "piantato" not in session
        assert session["_user_id"] == str(user.id)


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user()
    response = post_login(client, user.matricola, "password123")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("asigest_session=")]
    assert cookies, response.headers
    flags = {part.strip().lower() for part in cookies[-1].split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags


def switch_language(client, code, next_path="/login"):
    token = csrf_from(client.get("/login").text)
    return client.post(f"/lingua/{code}", data={"csrf_token": token, "next": next_path})


def test_language_switch_to_english_and_back(client, make_user):
    response = switch_language(client, "en")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"

    page = client.get("/login").text
    assert '<html lang="en"' in page
    assert "Supervisor login" in page and "Badge number" in page
    assert "Accesso supervisori" not in page
    assert ">Italiano<" in page  # the switch now offers the way back

    # Messages from services and form validators are translated too.
    user = make_user()
    refused = post_login(client, user.matricola, "sbagliata-987").text
    assert "Wrong badge number or password." in refused and WRONG not in refused
    empty = post_login(client, "", "").text
    assert "Enter your badge number." in empty and "Indicare la matricola." not in empty

    # The choice survives login (the session is renewed there).
    post_login(client, user.matricola, "password123")
    assert "Open orders" in client.get("/commesse").text

    switch_language(client, "it")
    page = client.get("/login").text
    assert '<html lang="it"' in page and "Accesso supervisori" in page


def test_unknown_language_is_ignored(client):
    switch_language(client, "xx")
    assert '<html lang="it"' in client.get("/login").text


def test_language_switch_never_redirects_off_site(client):
    response = switch_language(client, "en", next_path="//evil.example/")
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")
    assert urlsplit(response.headers["Location"]).path == "/"
