"""The audit log viewer ``/eventi``: supervisors read LogEventi filtered by shareable URLs,
with before/after shown readably; htmx gets fragments; nothing a request can do — on
any route, with any method, as supervisor or admin — changes or removes an event."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import Text, cast, func, select

from asigest.models import LogEvento
from asigest.services import audit
from asigest.services.auth import actor_for
from tests.conftest import csrf_from
from tests.web.conftest import login_on

HTMX = {"HX-Request": "true"}
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Rome
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "eventi"


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


@pytest.fixture
def registra(db_session):
    def add(azione, entita, entita_id, quando=T0, actor=None, **dettagli):
        evento = audit.record(db_session, actor, azione, entita, entita_id, **dettagli)
        evento.data_ora = quando
        db_session.commit()
        return evento.id

    return add


def righe(html: str) -> list[int]:
    """LogIDs of the listed events, in page order."""
    return [int(i) for i in re.findall(r'<tr data-log-id="(\d+)"', html)]


def riga(html: str, log_id: int) -> str:
    return re.search(rf'<tr data-log-id="{log_id}">(.*?)\n</tr>', html, re.S).group(1)


def is_fragment(response) -> bool:
    return "<html" not in response.text and "<body" not in response.text


# -- access ---------------------------------------------------------------------------


def test_operators_get_403_and_supervisors_the_page(client, login, make_user):
    login("OPERATORE")
    assert client.get("/eventi").status_code == 403
    capo = make_user(ruolo="SUPERVISORE")
    login_on(client, capo.matricola)
    response = client.get("/eventi")
    assert response.status_code == 200 and "Registro eventi" in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_log_has_no_write_method(client, supervisore, registra, method):
    registra("LOGIN", "Utenti", supervisore.id)
    csrf = csrf_from(client.get("/eventi").text)
    response = client.open("/eventi", method=method, headers={"X-CSRFToken": csrf})
    assert response.status_code == 405
    assert "Metodo non consentito" in response.text


# -- what a supervisor sees ------------------------------------------------------------


def test_rows_show_time_in_plant_zone_person_place_action_and_entity(client, supervisore, make_user, registra):
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234", nome="Luca", cognome="Esposito")
    log_id = registra(
        "LOTTO_CHIUSO",
        "Lotti",
        42,
        T0,
        actor_for(operatore, "SMD-L2"),
        prima={"QtaOutput": None},
        dopo={"QtaOutput": 95},
    )
    html = client.get("/eventi").text
    row = riga(html, log_id)
    assert "02/03/2026 09:00:00" in row  # 08:00 UTC in Rome
    assert "Luca Esposito" in row and operatore.matricola in row and "SMD-L2" in row
    assert "Lotto chiuso" in row and "LOTTO_CHIUSO" in row
    assert '<a href="/lotti/42">Lotto 42</a>' in row


def test_details_show_before_and_after_with_changes_marked_and_the_reason(client, supervisore, registra):
    log_id = registra(
        "LOTTO_RETTIFICATO",
        "Lotti",
        7,
        T0,
        prima={"QtaOutput": 90, "QtaScarti": 10, "DataFine": "2026-03-02T14:30:00+00:00", "Attivo": True},
        dopo={"QtaOutput": 95, "QtaScarti": 10, "DataFine": "2026-03-02T14:30:00+00:00", "Attivo": False},
        motivo="Conteggio rifatto a fine turno",
    )
    row = riga(client.get("/eventi").text, log_id)
    assert "Motivo" in row and "Conteggio rifatto a fine turno" in row
    campi = dict(
        re.findall(r'<tr( class="cambiato")?>\s*<th scope="row" class="code">(\w+)</th>', row)[i][::-1]
        for i in range(4)
    )
    assert campi == {"QtaOutput": ' class="cambiato"', "QtaScarti": "", "DataFine": "", "Attivo": ' class="cambiato"'}
    assert "02/03/2026 15:30:00" in row  # the ISO instant, in plant time
    assert ">sì<" in row and ">no" in row


def test_config_events_link_to_their_order(client, supervisore, registra):
    log_id = registra("CONFIG_CREATA", "ConfigCommessa", 3, T0, dopo={"CommessaERPId": 101, "DIBA": "DB-1"})
    row = riga(client.get("/eventi").text, log_id)
    assert 'href="/commesse/101"' in row


def test_user_data_is_escaped(client, supervisore, registra):
    log_id = registra(
        "CONFIG_MODIFICATA",
        "ConfigCommessa",
        3,
        T0,
        prima={"Note": "<b>vecchia</b>"},
        dopo={"Note": "<script>alert(1)</script>"},
        motivo="<img src=x>",
    )
    row = riga(client.get("/eventi").text, log_id)
    assert "<script>" not in row and "<img" not in row and "<b>" not in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row and "&lt;img src=x&gt;" in row


def test_templates_never_mark_data_safe():
    for path in TEMPLATES.glob("*.html"):
        assert "|safe" not in path.read_text().replace(" ", ""), path.name


# -- filters ---------------------------------------------------------------------------


def test_filters_are_a_shareable_url(client, supervisore, make_user, registra):
    capo = actor_for(make_user(ruolo="SUPERVISORE"))
    a = registra("LOTTO_APERTO", "Lotti", 5, T0)
    b = registra("LOTTO_CHIUSO", "Lotti", 5, T0 + timedelta(hours=1), capo)
    c = registra("CONFIG_CREATA", "ConfigCommessa", 1, T0 + timedelta(days=2), capo)
    assert righe(client.get("/eventi?entita=Lotti").text) == [b, a]
    assert righe(client.get(f"/eventi?utente={capo.utente_id}").text) == [c, b]
    assert righe(client.get("/eventi?azione=LOTTO_APERTO").text) == [a]
    assert righe(client.get("/eventi?da=2026-03-04&a=2026-03-04").text) == [c]
    page = client.get(f"/eventi?entita=Lotti&utente={capo.utente_id}").text
    assert righe(page) == [b]
    # the form shows the filters of the URL
    assert re.search(r'<option value="Lotti" selected>', page)
    assert re.search(rf'<option value="{capo.utente_id}" selected>', page)


def test_filter_form_lists_entities_users_and_actions(client, supervisore):
    html = client.get("/eventi").text
    for valore in (
        "Lotti",
        "Fasi",
        "ConfigCommessa",
        "Utenti",
        "Macchine",
        "CausaliScarto",
        "FaseTipo",
        "DocumentiTecnici",
        "ApiToken",
        "LOTTO_RETTIFICATO",
        "LOTTO_ANNULLATO",
        "FASE_STATO_MODIFICATO",
    ):
        assert f'<option value="{valore}"' in html, valore
    assert f'<option value="{supervisore.id}"' in html and supervisore.matricola in html
    assert 'hx-get="/eventi"' in html and 'hx-push-url="true"' in html


@pytest.mark.parametrize(
    ("query", "campo", "messaggio"),
    [
        ("entita=Ordini", "entita", "Tipo di entità sconosciuto"),
        ("entita=Lotti&entita_id=abc", "entita_id", "intero positivo"),
        ("entita=Lotti&entita_id=99999999999", "entita_id", "intero positivo"),
        ("entita_id=5", "entita", "Scegliere il tipo di entità"),
        ("utente=x", "utente", "Utente non valido"),
        ("azione=DROP_TABLE", "azione", "Azione sconosciuta"),
        ("da=2026-02-30", "da", "AAAA-MM-GG"),
        ("da=0001-01-01", "da", "controllare l'anno"),
        ("a=9999-12-31", "a", "controllare l'anno"),
        ("da=2026-03-05&a=2026-03-01", "a", "prima di quella iniziale"),
        ("prima=-1", "prima", "ricominciare"),
    ],
)
def test_bad_filters_answer_in_italian_without_crashing(client, supervisore, query, campo, messaggio):
    response = client.get(f"/eventi?{query}")
    assert response.status_code == 400 and "<html" in response.text
    assert messaggio in unescape(response.text)
    if campo != "prima":
        assert f'id="{campo}-err"' in response.text
    fragment = client.get(f"/eventi?{query}", headers=HTMX)
    assert fragment.status_code == 200 and is_fragment(fragment)
    assert messaggio in unescape(fragment.text) and "message-error" in fragment.text


def test_unknown_cursor_says_to_start_again(client, supervisore):
    response = client.get("/eventi?prima=987654")
    assert response.status_code == 404 and "ricominciare dai più recenti" in unescape(response.text)


# -- htmx ----------------------------------------------------------------------------------


def test_htmx_gets_only_the_results(client, supervisore, registra):
    log_id = registra("MACCHINA_MODIFICATA", "Macchine", 3)
    response = client.get("/eventi?entita=Macchine", headers=HTMX)
    assert is_fragment(response) and "<form" not in response.text
    assert righe(response.text) == [log_id]
    assert "HX-Request" in response.headers["Vary"]


def test_one_lotto_history_is_compact(client, supervisore, registra):
    """What the lotto page embeds: the events of that lotto, without the filter form and
    without the entity column (the same on every row)."""
    a = registra("LOTTO_APERTO", "Lotti", 9, T0)
    b = registra("LOTTO_CHIUSO", "Lotti", 9, T0 + timedelta(hours=1))
    registra("LOTTO_APERTO", "Lotti", 10, T0)
    response = client.get("/eventi?entita=Lotti&entita_id=9", headers=HTMX)
    assert is_fragment(response) and "<form" not in response.text
    assert righe(response.text) == [b, a]
    assert '<th scope="col">Entità</th>' not in response.text and 'href="/lotti/9"' not in response.text
    empty = client.get("/eventi?entita=Lotti&entita_id=11", headers=HTMX)
    assert "Nessun evento registrato per questo elemento." in empty.text


def test_older_events_load_in_place_of_the_button(client, supervisore, registra):
    scritti = [registra("MACCHINA_MODIFICATA", "Macchine", 3, T0 + timedelta(minutes=n)) for n in range(55)]
    page = client.get("/eventi?entita=Macchine").text
    assert righe(page) == scritti[::-1][:50]
    altri = re.search(
        r'<a class="button" href="([^"]+)" hx-get="([^"]+)" hx-target="closest tr" hx-swap="outerHTML">', page
    )
    assert altri and unescape(altri.group(1)) == f"/eventi?prima={scritti[5]}&entita=Macchine"
    more = client.get(unescape(altri.group(2)), headers=HTMX)
    assert is_fragment(more) and "<table" not in more.text and more.text.lstrip().startswith("<tr")
    assert righe(more.text) == scritti[::-1][50:]
    assert "hx-get" not in more.text  # no further page
    # Without htmx the same link is a page of its own, with the way back.
    plain = client.get(unescape(altri.group(1)))
    assert righe(plain.text) == scritti[::-1][50:] and "Torna agli eventi più recenti" in plain.text


# -- append-only, over the whole application ----------------------------------------------


def _log(db_session) -> dict[int, tuple]:
    db_session.rollback()
    t = LogEvento.__table__.c
    rows = db_session.execute(
        select(t.LogID, t.DataOra, t.UtenteID, t.Postazione, t.Azione, t.Entita, t.EntitaID, cast(t.Dettagli, Text))
    ).all()
    return {r[0]: tuple(r) for r in rows}


@pytest.mark.parametrize("ruolo", ["SUPERVISORE", "ADMIN"])
def test_no_route_changes_or_deletes_an_event(
    app, client, db_session, make_user, api_token, make_config, registra, ruolo
):
    """Every route with every method — pages with this role's session and CSRF token,
    ``/api`` with this role's token — leaves every existing event byte-identical and the
    count never lower. Sample ids point at real rows (user, config, event 1…)."""
    from tests.web.test_access import routes

    persona = make_user(ruolo=ruolo)
    headers_api = api_token(ruolo)
    make_config(101)
    for n in range(3):
        registra(
            "CONFIG_MODIFICATA",
            "ConfigCommessa",
            n + 1,
            T0 + timedelta(minutes=n),
            prima={"Note": "a"},
            dopo={"Note": "b", "CommessaERPId": 101},
            motivo="prova",
        )
    assert login_on(client, persona.matricola).status_code == 302
    csrf = csrf_from(client.get("/eventi").text)
    prima = _log(db_session)
    controllate = 0
    for rule, method, url in routes(app):
        headers = dict(headers_api) if rule.rule.startswith("/api/") else {"X-CSRFToken": csrf}
        for extra in ({}, HTMX):
            response = client.open(
                url, method=method, headers={**headers, **extra}, json={} if method != "GET" else None
            )
            assert response.status_code < 500, f"{method} {url}: {response.status_code}"
            dopo = _log(db_session)
            assert len(dopo) >= len(prima), f"{method} {url} ha tolto eventi"
            for log_id, valori in prima.items():
                assert dopo.get(log_id) == valori, f"{method} {url} ha cambiato l'evento {log_id}"
            prima = dopo
            controllate += 1
        if rule.endpoint == "auth.logout" or client.get("/eventi").status_code != 200:
            assert login_on(client, persona.matricola).status_code == 302
            csrf = csrf_from(client.get("/eventi").text)
    assert controllate > 100
    assert db_session.scalar(select(func.count()).select_from(LogEvento)) >= 4
