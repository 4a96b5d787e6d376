"""Scale-out: two app servers behind a proxy share nothing but the database.

Two gunicorn servers, A and B, run as separate processes on different ports with
different instance folders and the same database and ``ASIGEST_SECRET_KEY`` — as two
machines behind a load balancer without sticky sessions. One browser (one cookie jar)
talks to both in turn:

- the kiosk: badge on B after loading the form from A, the order card from B, open on
  A, close on B, lock on A — the session (a signed cookie) and the CSRF token (in it)
  are valid on both;
- the office login made on A is valid on B; a CSRF token issued by A is accepted by B,
  a forged one refused;
- double submission across servers (R11): the same API request with the same
  ``Idempotency-Key`` sent to A and B at the same instant makes one lotto (and one
  close); the same kiosk form double-tapped onto A and B makes one lotto;
- failed PINs counted on both servers lock the badge on both;
- logout (office) or *Esci* (kiosk) on one server ends the session on the other: a copy
  of the cookie taken before it opens nothing there.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid

import pytest
from sqlalchemy import create_engine, func, select

from asigest.models import Fase, LogEvento, Lotto
from tests.server_fixture import (
    CAUSALE_SMD,
    PASSWORD,
    PIN,
    Browser,
    Gunicorn,
    Risposta,
    csrf_da,
    database_usa_e_getta,
    prepara_impianto,
)

HX = {"HX-Request": "true"}
_CHIAVE = re.compile(r'name="chiave" value="([^"]+)"')
_LOTTO_ID = re.compile(r'name="lotto_id" value="(\d+)"')
GIRI = 6


@pytest.fixture(scope="module")
def impianto(tmp_path_factory):
    cartella = tmp_path_factory.mktemp("scale-out")
    with database_usa_e_getta(cartella) as url:
        yield prepara_impianto(url, cartella, macchine=5, commesse=2)


@pytest.fixture(scope="module")
def server(impianto, tmp_path_factory):
    """(porta A, porta B): two servers, each one process with threads; killed at the end."""
    cartella = tmp_path_factory.mktemp("server")
    avviati = [Gunicorn(impianto, cartella / nome, workers=1, threads=4) for nome in ("A", "B")]
    try:
        for s in avviati:
            s.lancia()
        for s in avviati:
            s.attendi()
        yield avviati[0].porta, avviati[1].porta
        for s in avviati:
            assert not s.errori_nel_log(), s.coda_log()
    finally:
        for s in avviati:
            s.uccidi()


@pytest.fixture
def db(impianto):
    engine = create_engine(impianto.database_url)
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def simultanee(richieste: list[tuple[int, tuple]], browser: Browser | None = None) -> list[Risposta]:
    """Send each (port, prepared request) from its own thread at the same instant
    (connections opened first, then a barrier), like a double tap onto two servers."""
    risposte: list[Risposta | None] = [None] * len(richieste)
    errori: list[BaseException] = []
    barriera = threading.Barrier(len(richieste))

    def invia(i: int, porta: int, preparata):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", porta, timeout=30)
            conn.connect()
            barriera.wait(10)
            if browser is not None:
                risposte[i] = browser.invia(porta, preparata, conn)
                return
            metodo, percorso, corpo, headers = preparata
            conn.request(metodo, percorso, body=corpo, headers=headers)
            r = conn.getresponse()
            risposte[i] = Risposta(r.status, dict(r.getheaders()), r.read().decode())
            conn.close()
        except BaseException as exc:  # reported by the test
            errori.append(exc)

    threads = [threading.Thread(target=invia, args=(i, p, r)) for i, (p, r) in enumerate(richieste)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errori, errori
    return risposte


def _lotti_della_macchina(db, macchina_id: int):
    db.rollback()
    return db.execute(
        select(Lotto.__table__).where(Lotto.__table__.c.MacchinaID == macchina_id).order_by(Lotto.__table__.c.LottoID)
    ).all()


def _eventi(db, lotto_ids, azione: str) -> int:
    log = LogEvento.__table__
    return db.scalar(
        select(func.count())
        .select_from(log)
        .where(log.c.Entita == "Lotti", log.c.Azione == azione, log.c.EntitaID.in_(list(lotto_ids)))
    )


def _totali_coerenti(db, fase_id: int) -> bool:
    lotti, fasi = Lotto.__table__, Fase.__table__
    fase = db.execute(select(fasi).where(fasi.c.FaseID == fase_id)).one()
    somme = db.execute(
        select(func.coalesce(func.sum(lotti.c.QtaOutput), 0), func.coalesce(func.sum(lotti.c.QtaScarti), 0)).where(
            lotti.c.FaseID == fase_id
        )
    ).one()
    return (fase.QtaProdotta, fase.QtaScarti) == tuple(somme)


def _badge(browser: Browser, porta_form: int, porta_login: int, macchina: str, matricola: str, pin: str = PIN):
    csrf = csrf_da(browser.get(porta_form, f"/kiosk/{macchina}").testo)
    return browser.post(porta_login, f"/kiosk/{macchina}", {"matricola": matricola, "pin": pin, "csrf_token": csrf})


# -- kiosk -------------------------------------------------------------------------------


def test_kiosk_session_moves_between_servers(server, impianto, db):
    a, b = server
    (macchina_id, macchina), (operatore_id, matricola, _) = impianto.macchine[0], impianto.operatori[0]
    browser = Browser()

    risposta = _badge(browser, a, b, macchina, matricola)  # form from A, badge + PIN on B
    assert risposta.status == 302, risposta.testo[:500]
    pagina = browser.get(a, f"/kiosk/{macchina}")
    assert pagina.status == 200 and 'name="q"' in pagina.testo  # A knows the operator B logged in
    csrf = csrf_da(pagina.testo)

    scheda = browser.get(b, f"/kiosk/{macchina}/commessa?q=2026/1001", headers=HX)
    assert scheda.status == 200, scheda.testo[:500]
    aperto = browser.post(
        a,
        f"/kiosk/{macchina}/apri",
        {
            "commessa_id": "1",
            "qta_input": "10",
            "chiave": _CHIAVE.search(scheda.testo).group(1),
            "csrf_token": csrf,
        },
        headers=HX,
    )
    assert aperto.status == 200, aperto.testo[:500]
    lotto_id = int(_LOTTO_ID.search(aperto.testo).group(1))
    chiuso = browser.post(
        b,
        f"/kiosk/{macchina}/chiudi",
        {
            "lotto_id": str(lotto_id),
            "qta_output": "9",
            "qta_scarti": "1",
            "causale": CAUSALE_SMD,
            "chiave": _CHIAVE.search(aperto.testo).group(1),
            "csrf_token": csrf,
        },
        headers=HX,
    )
    assert chiuso.status == 200, chiuso.testo[:500]

    (lotto,) = _lotti_della_macchina(db, macchina_id)
    assert (lotto.LottoID, lotto.QtaOutput, lotto.QtaScarti) == (lotto_id, 9, 1)
    assert lotto.OperatoreID == lotto.OperatoreChiusuraID == operatore_id
    assert _eventi(db, [lotto_id], "LOTTO_APERTO") == _eventi(db, [lotto_id], "LOTTO_CHIUSO") == 1

    assert browser.post(a, f"/kiosk/{macchina}/esci", {"csrf_token": csrf}).status == 302
    assert 'name="pin"' in browser.get(b, f"/kiosk/{macchina}").testo  # locked on B too


def test_kiosk_double_tap_onto_both_servers_makes_one_lotto(server, impianto, db):
    a, b = server
    (macchina_id, macchina), (_, matricola, _) = impianto.macchine[1], impianto.operatori[1]
    fase_id = impianto.fasi[1]
    browser = Browser()
    assert _badge(browser, a, a, macchina, matricola).status == 302
    for giro in range(GIRI):
        pagina = browser.get(a if giro % 2 else b, f"/kiosk/{macchina}")
        csrf = csrf_da(pagina.testo)
        scheda = browser.get(b, f"/kiosk/{macchina}/commessa?q=2026/1002", headers=HX)
        apri = browser.prepara(
            "POST",
            f"/kiosk/{macchina}/apri",
            headers=HX,
            form={
                "commessa_id": "2",
                "qta_input": "5",
                "chiave": _CHIAVE.search(scheda.testo).group(1),
                "csrf_token": csrf,
            },
        )
        risposte = simultanee([(a, apri), (b, apri)], browser)
        assert [r.status for r in risposte] == [200, 200], [r.testo[:300] for r in risposte]
        ids = {int(_LOTTO_ID.search(r.testo).group(1)) for r in risposte}
        assert len(ids) == 1, f"giro {giro}: due lotti {ids} da un doppio tocco"
        chiudi = browser.prepara(
            "POST",
            f"/kiosk/{macchina}/chiudi",
            headers=HX,
            form={
                "lotto_id": str(ids.pop()),
                "qta_output": "4",
                "qta_scarti": "1",
                "causale": CAUSALE_SMD,
                "chiave": _CHIAVE.search(risposte[0].testo).group(1),
                "csrf_token": csrf,
            },
        )
        risposte = simultanee([(b, chiudi), (a, chiudi)], browser)
        assert [r.status for r in risposte] == [200, 200], [r.testo[:300] for r in risposte]

    lotti = _lotti_della_macchina(db, macchina_id)
    assert len(lotti) == GIRI and all(lt.DataFine is not None and lt.QtaOutput == 4 for lt in lotti)
    ids = [lt.LottoID for lt in lotti]
    assert _eventi(db, ids, "LOTTO_APERTO") == _eventi(db, ids, "LOTTO_CHIUSO") == GIRI
    assert _totali_coerenti(db, fase_id)


# -- office login and CSRF -----------------------------------------------------------------


def test_office_login_and_csrf_valid_on_both_servers(server):
    a, b = server
    browser = Browser()
    csrf = csrf_da(browser.get(b, "/login").testo)
    risposta = browser.post(a, "/login", {"matricola": "CAPO", "password": PASSWORD, "csrf_token": csrf})
    assert risposta.status == 302, risposta.testo[:500]
    for porta in (a, b, a, b):
        pagina = browser.get(porta, "/dashboard")
        assert pagina.status == 200, (porta, pagina.status, pagina.headers.get("location"))

    csrf_a = csrf_da(browser.get(a, "/dashboard").testo)
    assert browser.post(b, "/lingua/en", {"csrf_token": csrf_a, "next": "/dashboard"}).status == 302
    assert browser.post(b, "/lingua/it", {"csrf_token": "contraffatto", "next": "/dashboard"}).status == 400
    assert browser.post(b, "/logout", {"csrf_token": csrf_a}).status == 302
    risposta = browser.get(a, "/dashboard")
    assert risposta.status == 302 and "/login" in risposta.headers["location"]


def test_logout_on_one_server_ends_a_copied_cookie_on_the_other(server):
    a, b = server
    browser = Browser()
    csrf = csrf_da(browser.get(a, "/login").testo)
    assert browser.post(a, "/login", {"matricola": "CAPO", "password": PASSWORD, "csrf_token": csrf}).status == 302
    copia = dict(browser.cookies)
    assert Browser(dict(copia)).get(b, "/dashboard").status == 200  # the copy works on B while logged in

    assert browser.post(a, "/logout", {"csrf_token": csrf_da(browser.get(a, "/dashboard").testo)}).status == 302
    for porta in (b, a):
        risposta = Browser(dict(copia)).get(porta, "/dashboard")
        assert risposta.status == 302 and "/login" in risposta.headers["location"], (porta, risposta.status)


def test_kiosk_esci_on_one_server_ends_a_copied_cookie_on_the_other(server, impianto):
    a, b = server
    (_, macchina), (_, matricola, _) = impianto.macchine[4], impianto.operatori[4]
    browser = Browser()
    assert _badge(browser, a, a, macchina, matricola).status == 302
    copia = dict(browser.cookies)
    assert 'name="q"' in Browser(dict(copia)).get(b, f"/kiosk/{macchina}").testo

    csrf = csrf_da(browser.get(a, f"/kiosk/{macchina}").testo)
    assert browser.post(a, f"/kiosk/{macchina}/esci", {"csrf_token": csrf}).status == 302
    for porta in (b, a):
        assert 'name="pin"' in Browser(dict(copia)).get(porta, f"/kiosk/{macchina}").testo, porta


# -- API double submission -------------------------------------------------------------------


def test_same_idempotency_key_on_both_servers_at_once_makes_one_lotto(server, impianto, db):
    a, b = server
    (macchina_id, _), (_, _, token) = impianto.macchine[2], impianto.operatori[2]
    fase_id = impianto.fasi[0]

    def richiesta(metodo, percorso, dati, chiave):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": chiave}
        return metodo, percorso, json.dumps(dati).encode(), headers

    for _giro in range(GIRI):
        apri = richiesta(
            "POST", "/api/lotti/smd/", {"FaseID": fase_id, "MacchinaID": macchina_id, "QtaInput": 7}, str(uuid.uuid4())
        )
        risposte = simultanee([(a, apri), (b, apri)])
        assert [r.status for r in risposte] == [201, 201], [r.testo[:300] for r in risposte]
        (lotto_id,) = {r.json()["LottoID"] for r in risposte}
        chiudi = richiesta(
            "PUT", f"/api/lotti/smd/{lotto_id}/close", {"QtaOutput": 6, "QtaScarti": 0}, str(uuid.uuid4())
        )
        risposte = simultanee([(b, chiudi), (a, chiudi)])
        assert [r.status for r in risposte] == [200, 200], [r.testo[:300] for r in risposte]
        assert {r.json()["DataFine"] for r in risposte} != {None}

    lotti = _lotti_della_macchina(db, macchina_id)
    assert len(lotti) == GIRI and all(lt.QtaOutput == 6 for lt in lotti)
    ids = [lt.LottoID for lt in lotti]
    assert _eventi(db, ids, "LOTTO_APERTO") == _eventi(db, ids, "LOTTO_CHIUSO") == GIRI
    assert _totali_coerenti(db, fase_id)


# -- login throttling -------------------------------------------------------------------------


def test_wrong_pins_on_both_servers_lock_the_badge_on_both(server, impianto):
    a, b = server
    (_, macchina), (_, matricola, _) = impianto.macchine[3], impianto.operatori[3]
    browser = Browser()
    # LOGIN_MAX_BADGE (5) failures, alternating servers: the fifth locks the badge.
    stati = [_badge(browser, porta, porta, macchina, matricola, pin="0000").status for porta in (a, b, a, b, a)]
    assert stati == [400, 400, 400, 400, 429]
    for porta in (b, a):  # now even the right PIN is refused, on both
        risposta = _badge(browser, porta, porta, macchina, matricola)
        assert risposta.status == 429, (porta, risposta.status)
