"""Sessions the server ends (issue 12, item 6): a copy of the cookie taken before logout,
*Esci*, the kiosk idle lock, a new login on the same browser, a new password or PIN, or
deactivation opens nothing afterwards — and a replay changes nothing. API tokens are not
sessions and keep working."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from asigest.models import LogEvento, Utente
from asigest.models.types import utcnow
from tests.conftest import IsolatedClient, csrf_from
from tests.web.conftest import login_on

COOKIE = "asigest_session"
HX = {"HX-Request": "true"}
MACCHINA = "SMD-9"
PIN = "1234"


@pytest.fixture
def browser(app):
    """``browser()`` → a new browser (its own cookie jar) on the session app."""
    return lambda: IsolatedClient(app, app.response_class, use_cookies=True)


def cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def con_cookie(browser, valore: str):
    """A new browser holding exactly this session cookie (a copy someone took)."""
    altro = browser()
    altro.set_cookie(COOKIE, valore)
    return altro


def chiede_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def badge(client, matricola: str, pin: str = PIN):
    page = client.get(f"/kiosk/{MACCHINA}")
    return client.post(
        f"/kiosk/{MACCHINA}", data={"matricola": matricola, "pin": pin, "csrf_token": csrf_from(page.text)}
    )


def schermo_operatore(client) -> bool:
    """True when the kiosk shows the operator's screen (scan field), False for the badge form."""
    html = client.get(f"/kiosk/{MACCHINA}").text
    assert ('name="q"' in html) != ('name="pin"' in html)
    return 'name="q"' in html


@pytest.fixture
def operatore(make_user, macchina_smd):
    return make_user(ruolo="OPERATORE", password=None, pin=PIN, nome="Luca", cognome="Verdi")


@pytest.fixture
def chiosco(browser, operatore):
    """A browser logged in at the kiosk of SMD-9 as the operator."""
    client = browser()
    assert badge(client, operatore.matricola).status_code == 302
    assert schermo_operatore(client)
    return client


def righe_sessioni(db_session):
    from asigest.models import Sessione

    db_session.rollback()
    return db_session.scalars(select(Sessione).order_by(Sessione.id)).all()


def conta_eventi(db_session) -> int:
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(LogEvento))


# -- office logout ---------------------------------------------------------------------------


def test_a_copy_of_the_admin_cookie_taken_before_logout_opens_nothing_after_it(client, login, browser):
    login("ADMIN")
    token = csrf_from(client.get("/admin/utenti").text)
    copia = cookie(client)  # with the CSRF secret in it
    assert con_cookie(browser, copia).get("/admin/utenti").status_code == 200  # the copy works while logged in

    assert chiede_login(client.post("/logout", data={"csrf_token": token}))

    ladro = con_cookie(browser, copia)
    assert chiede_login(ladro.get("/admin/utenti"))
    assert ladro.get("/admin/utenti", headers=HX).status_code == 401
    # Not a write either, even with the CSRF token the copy carries.
    ladro = con_cookie(browser, copia)
    assert chiede_login(ladro.post("/admin/utenti/nuovo", data={"csrf_token": token, "matricola": "X"}))


def test_logout_ends_the_row_once_and_is_audited(client, login, db_session, browser):
    utente = login()
    copia = cookie(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/commesse").text)})
    [riga] = righe_sessioni(db_session)
    assert (riga.utente_id, riga.tipo, riga.motivo_fine) == (utente.id, "UFFICIO", "LOGOUT")
    assert riga.data_fine is not None
    [evento] = db_session.scalars(select(LogEvento).where(LogEvento.azione == "LOGOUT")).all()
    assert (evento.utente_id, evento.entita_id) == (utente.id, utente.id)
    assert evento.dettagli == {"dopo": {"SessioneID": riga.id, "MotivoFine": "LOGOUT"}}

    prima = conta_eventi(db_session)
    assert chiede_login(con_cookie(browser, copia).get("/commesse"))
    [dopo] = righe_sessioni(db_session)
    assert (dopo.data_fine, dopo.motivo_fine) == (riga.data_fine, "LOGOUT")
    assert conta_eventi(db_session) == prima


def test_the_cookie_keeps_a_secret_and_the_database_only_its_hash(client, login, db_session):
    from asigest.domain import hashing

    login()
    with client.session_transaction() as s:
        segreto = s["sessione"]
    [riga] = righe_sessioni(db_session)
    assert riga.chiave == hashing.token_digest(segreto) and segreto not in riga.chiave
    assert len(segreto) >= 43  # 256 bits, URL-safe base64


def test_logging_in_again_on_the_same_browser_ends_the_previous_session(client, login, make_user, browser, db_session):
    primo = login()
    copia = cookie(client)
    secondo = make_user(ruolo="SUPERVISORE")
    assert login_on(client, secondo.matricola).status_code == 302
    assert chiede_login(con_cookie(browser, copia).get("/commesse"))
    righe = righe_sessioni(db_session)
    assert [(r.utente_id, r.motivo_fine) for r in righe] == [(primo.id, "NUOVO_ACCESSO"), (secondo.id, None)]
    assert client.get("/commesse").status_code == 200


def test_a_session_cookie_without_its_row_opens_nothing(client, login, db_session):
    """A cookie signed with the right key but naming a user without a session row (as the
    cookies made before this version) is not a login."""
    utente = login()
    with client.session_transaction() as s:
        del s["sessione"]
    assert chiede_login(client.get("/commesse"))
    with client.session_transaction() as s:
        s["_user_id"] = str(utente.id)
        s["sessione"] = "inventato"
    assert chiede_login(client.get("/commesse"))


# -- kiosk ------------------------------------------------------------------------------------


def test_a_kiosk_cookie_copied_before_esci_shows_the_badge_form_after_it(chiosco, browser, db_session):
    copia = cookie(chiosco)
    assert schermo_operatore(con_cookie(browser, copia))  # the copy works while the session is open

    risposta = chiosco.post(
        f"/kiosk/{MACCHINA}/esci", data={"csrf_token": csrf_from(chiosco.get(f"/kiosk/{MACCHINA}").text)}
    )
    assert risposta.status_code == 302
    assert not schermo_operatore(con_cookie(browser, copia))
    [riga] = righe_sessioni(db_session)
    assert (riga.tipo, riga.postazione, riga.motivo_fine) == ("KIOSK", MACCHINA, "ESCI")
    eventi = conta_eventi(db_session)

    for _ in range(3):  # each further replay of the old cookie
        ladro = con_cookie(browser, copia)
        assert not schermo_operatore(ladro)
        with ladro.session_transaction() as s:  # the answer refreshed nothing: no kiosk session in it
            assert "kiosk" not in s and "sessione" not in s
        ladro = con_cookie(browser, copia)
        risposta = ladro.get(f"/kiosk/{MACCHINA}/commessa?q=1001", headers=HX)
        assert risposta.status_code == 401 and risposta.headers["HX-Redirect"] == f"/kiosk/{MACCHINA}"
    [dopo] = righe_sessioni(db_session)
    assert (dopo.data_fine, dopo.motivo_fine) == (riga.data_fine, "ESCI")
    assert conta_eventi(db_session) == eventi  # nothing written by the replays


def test_esci_is_audited_with_the_machine(chiosco, operatore, db_session):
    chiosco.post(f"/kiosk/{MACCHINA}/esci", data={"csrf_token": csrf_from(chiosco.get(f"/kiosk/{MACCHINA}").text)})
    [evento] = db_session.scalars(select(LogEvento).where(LogEvento.azione == "LOGOUT_KIOSK")).all()
    assert (evento.utente_id, evento.postazione) == (operatore.id, MACCHINA)
    assert evento.dettagli["dopo"]["MotivoFine"] == "ESCI"


def test_the_idle_lock_ends_the_row_so_a_fresher_copy_cannot_keep_the_session(chiosco, browser, db_session, app):
    copia_fresca = cookie(chiosco)
    with chiosco.session_transaction() as s:
        s["kiosk"] = {**s["kiosk"], "ultimo": int(time.time()) - app.config["KIOSK_IDLE_SECONDS"] - 1}
    assert not schermo_operatore(chiosco)  # the browser's own idle cookie: locked
    # A copy refreshed elsewhere (its "ultimo" is recent) no longer revives it.
    assert not schermo_operatore(con_cookie(browser, copia_fresca))
    [riga] = righe_sessioni(db_session)
    assert riga.motivo_fine == "INATTIVITA"
    [evento] = db_session.scalars(select(LogEvento).where(LogEvento.azione == "LOGOUT_KIOSK")).all()
    assert evento.dettagli["dopo"]["MotivoFine"] == "INATTIVITA"


def test_a_kiosk_session_row_is_bound_to_its_machine(chiosco, db_session):
    """Even a cookie re-signed for another machine does not move the session there."""
    from asigest.models import FaseTipo, Macchina

    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-8", descrizione="Linea 8", fase_tipo_id=tipo.id, attiva=True))
    db_session.commit()
    with chiosco.session_transaction() as s:
        s["kiosk"] = {**s["kiosk"], "macchina": "SMD-8"}
    assert 'name="pin"' in chiosco.get("/kiosk/SMD-8").text


# -- a new password or PIN, deactivation ----------------------------------------------------------


CAMBI = [
    "password dalla pagina",
    "pin dalla pagina",
    "disattivazione dalla pagina",
    "password da API",
    "pin da API",
    "DELETE da API",
]


@pytest.mark.parametrize("cambio", CAMBI)
def test_a_new_secret_or_deactivation_ends_the_users_sessions_on_other_browsers(
    cambio, browser, make_user, macchina_smd, api_token, db_session
):
    from asigest.services import auth

    utente = make_user(ruolo="SUPERVISORE", pin=PIN)
    ufficio = browser()
    assert login_on(ufficio, utente.matricola).status_code == 302
    chiosco = browser()
    assert badge(chiosco, utente.matricola).status_code == 302
    suo_token = {"Authorization": "Bearer " + auth.create_token(db_session, actor=None, matricola=utente.matricola)}
    assert ufficio.get("/commesse").status_code == 200 and schermo_operatore(chiosco)

    if cambio.endswith("dalla pagina"):
        admin = make_user(ruolo="ADMIN")
        pagina = browser()
        login_on(pagina, admin.matricola)
        token = csrf_from(pagina.get(f"/admin/utenti/{utente.id}").text)
        url, dati = {
            "password": (f"/admin/utenti/{utente.id}/password", {"password": "una-nuova-password"}),
            "pin": (f"/admin/utenti/{utente.id}/pin", {"pin": "9753"}),
            "disattivazione": (f"/admin/utenti/{utente.id}/disattiva", {}),
        }[cambio.split()[0]]
        assert pagina.post(url, data={**dati, "csrf_token": token}).status_code == 303
    else:
        headers = api_token("ADMIN")
        if cambio == "DELETE da API":
            assert browser().delete(f"/api/utenti/{utente.id}", headers=headers).status_code == 204
        else:
            corpo = {"Password": "una-nuova-password"} if cambio.startswith("password") else {"Pin": "9753"}
            assert browser().put(f"/api/utenti/{utente.id}", json=corpo, headers=headers).status_code == 200

    assert chiede_login(ufficio.get("/commesse"))
    assert not schermo_operatore(chiosco)
    motivo = {"password": "PASSWORD", "pin": "PIN"}.get(cambio.split()[0], "DISATTIVATO")
    assert [r.motivo_fine for r in righe_sessioni(db_session) if r.utente_id == utente.id] == [motivo, motivo]
    azione = {"PASSWORD": "PASSWORD_REIMPOSTATA", "PIN": "PIN_REIMPOSTATO"}.get(motivo, "UTENTE_DISATTIVATO")
    [evento] = db_session.scalars(select(LogEvento).where(LogEvento.azione == azione)).all()
    assert evento.dettagli["dopo"]["SessioniChiuse"] == 2
    # API tokens are not sessions: they keep working (deactivation stops them by itself).
    stato = browser().get("/api/macchine/", headers=suo_token).status_code
    assert stato == (401 if motivo == "DISATTIVATO" else 200)


def test_changing_other_data_keeps_the_sessions(browser, make_user, login, client, db_session):
    login("ADMIN")
    utente = make_user(ruolo="SUPERVISORE")
    ufficio = browser()
    login_on(ufficio, utente.matricola)
    token = csrf_from(client.get(f"/admin/utenti/{utente.id}").text)
    response = client.post(
        f"/admin/utenti/{utente.id}",
        data={"matricola": utente.matricola, "nome": "Nuovo", "cognome": "Nome", "ruolo": "ADMIN", "csrf_token": token},
    )
    assert response.status_code == 303
    assert ufficio.get("/admin/utenti").status_code == 200  # the new role applies at once, same session


def test_changing_your_own_password_keeps_this_session_and_ends_the_others(client, login, browser, db_session):
    admin = login("ADMIN")
    altro = browser()
    login_on(altro, admin.matricola)
    token = csrf_from(client.get(f"/admin/utenti/{admin.id}").text)
    response = client.post(
        f"/admin/utenti/{admin.id}/password", data={"password": "nuova-password-1", "csrf_token": token}
    )
    assert response.status_code == 303
    assert client.get("/admin/utenti").status_code == 200
    assert chiede_login(altro.get("/admin/utenti"))
    assert [r.motivo_fine for r in righe_sessioni(db_session)] == [None, "PASSWORD"]


# -- pruning -----------------------------------------------------------------------------------


def test_a_login_prunes_sessions_started_before_the_retention(client, make_user, db_session, app):
    from asigest.models import Sessione

    utente = make_user()
    giorni = app.config["LOGIN_KEEP_DAYS"]
    adesso = utcnow()
    for n, (eta, fine) in enumerate([(giorni + 1, True), (giorni + 2, False), (giorni - 1, True), (1, False)]):
        db_session.add(
            Sessione(
                utente_id=utente.id,
                chiave=f"{n:064x}",
                tipo="UFFICIO",
                postazione="10.0.0.1",
                data_inizio=adesso - timedelta(days=eta),
                data_fine=adesso - timedelta(days=eta) if fine else None,
                motivo_fine="LOGOUT" if fine else None,
            )
        )
    db_session.commit()
    assert login_on(client, utente.matricola).status_code == 302
    rimaste = {r.chiave for r in righe_sessioni(db_session)}
    assert f"{0:064x}" not in rimaste and f"{1:064x}" not in rimaste
    assert {f"{2:064x}", f"{3:064x}"} <= rimaste and len(rimaste) == 3


def test_a_deactivated_users_stale_cookie_cannot_log_back_in_after_reactivation(
    browser, make_user, login, client, db_session
):
    utente = make_user()
    ufficio = browser()
    login_on(ufficio, utente.matricola)
    copia = cookie(ufficio)
    from asigest.services import auth

    auth.deactivate_user(db_session, actor=None, utente_id=utente.id)
    auth.reactivate_user(db_session, actor=None, utente_id=utente.id)
    assert db_session.get(Utente, utente.id).attivo
    assert chiede_login(con_cookie(browser, copia).get("/commesse"))


def test_a_logout_the_database_refuses_still_logs_this_browser_out(client, login, monkeypatch):
    """The error is shown, and this browser is no longer logged in."""
    from asigest.services import auth
    from asigest.services.uow import DatabaseOccupato

    def rifiuta(*args, **kwargs):
        raise DatabaseOccupato()

    login()
    token = csrf_from(client.get("/commesse").text)
    monkeypatch.setattr(auth, "end_session", rifiuta)
    risposta = client.post("/logout", data={"csrf_token": token})
    assert risposta.status_code == 409
    assert chiede_login(client.get("/commesse"))


def test_an_esci_the_database_refuses_still_locks_this_kiosk(chiosco, monkeypatch):
    from asigest.services import auth
    from asigest.services.uow import DatabaseOccupato

    def rifiuta(*args, **kwargs):
        raise DatabaseOccupato()

    token = csrf_from(chiosco.get(f"/kiosk/{MACCHINA}").text)
    monkeypatch.setattr(auth, "end_session", rifiuta)
    assert chiosco.post(f"/kiosk/{MACCHINA}/esci", data={"csrf_token": token}).status_code == 409
    assert not schermo_operatore(chiosco)
