"""Unlocking a badge locked by wrong PINs or passwords (issue 12, item 9): supervisors
from ``/badge-bloccati``, admins also from the user's page; audited; an operator cannot."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from asigest.models import LogEvento, TentativoAccesso
from tests.conftest import IsolatedClient, csrf_from
from tests.web.conftest import login_on

MACCHINA = "SMD-9"
PIN = "1234"


def nuovo(app):
    """Another browser (its own cookies and request contexts)."""
    return IsolatedClient(app, app.response_class, use_cookies=True)


def badge(client, matricola: str, pin: str = PIN):
    page = client.get(f"/kiosk/{MACCHINA}")
    return client.post(
        f"/kiosk/{MACCHINA}", data={"matricola": matricola, "pin": pin, "csrf_token": csrf_from(page.text)}
    )


@pytest.fixture
def bloccato(app, make_user, macchina_smd):
    """An operator whose badge was locked by five wrong PINs at the kiosk of SMD-9."""
    operatore = make_user(ruolo="OPERATORE", password=None, pin=PIN, nome="Luca", cognome="Verdi")
    chiosco = nuovo(app)
    stati = [badge(chiosco, operatore.matricola, "0000").status_code for _ in range(5)]
    assert stati == [400, 400, 400, 400, 429]
    assert badge(chiosco, operatore.matricola).status_code == 429  # the right PIN is refused too
    return operatore


def sblocca(client, utente_id: int, pagina: str = "/badge-bloccati", **extra):
    token = csrf_from(client.get(pagina).text)
    return client.post(f"/badge-bloccati/{utente_id}/sblocca", data={"csrf_token": token, **extra})


def test_a_supervisor_unlocks_a_badge_and_the_operator_logs_in_at_once(client, login, bloccato, app, db_session):
    capo = login("SUPERVISORE")
    elenco = client.get("/badge-bloccati")
    assert elenco.status_code == 200
    riga = re.search(rf'<tr id="badge-{bloccato.id}">(.*?)</tr>', elenco.text, re.S).group(1)
    assert bloccato.matricola in riga and "Luca Verdi" in riga and ">5<" in riga and "Sblocca" in riga

    risposta = sblocca(client, bloccato.id)
    assert risposta.status_code == 303 and risposta.headers["Location"] == "/badge-bloccati"
    pagina = client.get("/badge-bloccati").text
    assert f"Badge {bloccato.matricola} sbloccato: Luca Verdi può accedere subito." in unescape(pagina)
    assert f'id="badge-{bloccato.id}"' not in pagina and "Nessun badge è bloccato" in pagina

    chiosco = nuovo(app)
    assert badge(chiosco, bloccato.matricola).status_code == 302
    assert 'name="q"' in chiosco.get(f"/kiosk/{MACCHINA}").text

    db_session.rollback()
    [evento] = db_session.scalars(select(LogEvento).where(LogEvento.azione == "ACCESSO_SBLOCCATO")).all()
    assert (evento.utente_id, evento.entita, evento.entita_id) == (capo.id, "Utenti", bloccato.id)
    assert evento.dettagli["dopo"] == {"Matricola": bloccato.matricola, "TentativiAzzerati": 5}
    assert "FinoA" in evento.dettagli["prima"]


def test_an_operator_cannot_unlock(client, login, bloccato, app, db_session):
    login("OPERATORE")
    assert client.get("/badge-bloccati").status_code == 403
    token = csrf_from(client.get("/commesse").text)
    assert client.post(f"/badge-bloccati/{bloccato.id}/sblocca", data={"csrf_token": token}).status_code == 403
    assert badge(nuovo(app), bloccato.matricola).status_code == 429  # still locked
    db_session.rollback()
    assert db_session.scalars(select(LogEvento).where(LogEvento.azione == "ACCESSO_SBLOCCATO")).all() == []


def test_unlocking_needs_the_csrf_token(client, login, bloccato, app):
    login("SUPERVISORE")
    assert client.post(f"/badge-bloccati/{bloccato.id}/sblocca").status_code == 400
    assert badge(nuovo(app), bloccato.matricola).status_code == 429


def test_a_supervisor_cannot_unlock_an_admins_badge(client, login, make_user, app, db_session):
    admin = make_user(ruolo="ADMIN")
    altro = nuovo(app)
    for _ in range(5):
        login_on(altro, admin.matricola, "sbagliata!")
    login("SUPERVISORE")
    riga = re.search(rf'<tr id="badge-{admin.id}">(.*?)</tr>', client.get("/badge-bloccati").text, re.S).group(1)
    assert "Solo un amministratore può sbloccarlo." in riga and "<button" not in riga
    risposta = sblocca(client, admin.id)
    assert risposta.status_code == 403
    assert "Solo un amministratore può sbloccare il badge di un amministratore." in unescape(risposta.text)
    assert login_on(altro, admin.matricola).status_code == 429


def test_the_admin_user_page_shows_the_lock_and_unlocks_it(client, login, bloccato, app):
    login("ADMIN")
    pagina = unescape(client.get(f"/admin/utenti/{bloccato.id}").text)
    assert re.search(r"Badge bloccato fino alle \d\d:\d\d per troppi PIN o password errati\.", pagina)
    risposta = sblocca(client, bloccato.id, pagina=f"/admin/utenti/{bloccato.id}", next=f"/admin/utenti/{bloccato.id}")
    assert risposta.status_code == 303 and risposta.headers["Location"] == f"/admin/utenti/{bloccato.id}"
    pagina = unescape(client.get(f"/admin/utenti/{bloccato.id}").text)
    assert "Badge non bloccato." in pagina and "sbloccato: Luca Verdi può accedere subito." in pagina
    assert badge(nuovo(app), bloccato.matricola).status_code == 302


def test_unlocking_a_badge_that_is_not_locked_writes_nothing(client, login, make_user, db_session):
    login("SUPERVISORE")
    operatore = make_user(ruolo="OPERATORE", password=None, pin=PIN)
    risposta = sblocca(client, operatore.id)
    assert risposta.status_code == 303
    assert "non era bloccato" in unescape(client.get("/badge-bloccati").text)
    db_session.rollback()
    assert db_session.scalars(select(LogEvento).where(LogEvento.azione == "ACCESSO_SBLOCCATO")).all() == []


def test_unlocking_an_unknown_user_is_404(client, login):
    login("SUPERVISORE")
    assert sblocca(client, 999_999).status_code == 404


def test_unlocking_keeps_the_failures_counted_for_their_address(client, login, bloccato, db_session):
    """The badge is free, but its failures still count towards the address's lock."""
    login("SUPERVISORE")
    sblocca(client, bloccato.id)
    db_session.rollback()
    righe = db_session.scalars(select(TentativoAccesso)).all()
    assert len(righe) == 5 and {r.matricola for r in righe} == {None} and {r.indirizzo for r in righe} == {"127.0.0.1"}


def test_the_menu_links_the_list_for_supervisors_only(client, login, make_user, app):
    login("SUPERVISORE")
    assert 'href="/badge-bloccati"' in client.get("/commesse").text
    operatore = make_user(ruolo="OPERATORE")
    altro = nuovo(app)
    login_on(altro, operatore.matricola)
    assert 'href="/badge-bloccati"' not in altro.get("/commesse").text


def test_htmx_unlock_answers_with_hx_redirect(client, login, bloccato, app):
    login("SUPERVISORE")
    token = csrf_from(client.get("/badge-bloccati").text)
    risposta = client.post(
        f"/badge-bloccati/{bloccato.id}/sblocca", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert risposta.status_code == 204 and risposta.headers["HX-Redirect"] == "/badge-bloccati"
    assert badge(nuovo(app), bloccato.matricola).status_code == 302


def test_a_foreign_next_after_unlock_stays_on_site(client, login, bloccato):
    login("SUPERVISORE")
    risposta = sblocca(client, bloccato.id, next="https://evil.example/")
    assert risposta.status_code == 303 and risposta.headers["Location"] == "/"
