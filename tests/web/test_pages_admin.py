"""The admin pages under ``/admin``: an admin adds a machine and an operator, edits the
catalog and API tokens; htmx gets fragments (never a 302), refusals show next to their
field with what was typed; supervisors and operators get 403; CSRF is required."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from asigest.domain import hashing
from asigest.models import ApiToken, CausaleScarto, FaseTipo, LogEvento, Macchina, Utente
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(login):
    return login("ADMIN")


@pytest.fixture
def token(client, admin):
    """A CSRF token of the logged-in admin's session."""
    return csrf_from(client.get("/admin/utenti").text)


def post(client, url, data, token, htmx=True):
    headers = {**HTMX} if htmx else {}
    return client.post(url, data={**data, "csrf_token": token}, headers=headers)


def field_error(html: str, field_id: str) -> str:
    """The inline error shown under the field ``field_id`` (and the field points at it)."""
    field = re.search(rf'<(?:input|select)[^>]*id="{field_id}"[^>]*>', html)
    assert field, f"campo {field_id} assente"
    assert 'aria-invalid="true"' in field.group(0) and f'aria-describedby="{field_id}-err"' in field.group(0)
    match = re.search(rf'<p class="field-error" id="{field_id}-err">(.*?)</p>', html, re.S)
    assert match, f"nessun errore per {field_id}"
    return unescape(match.group(1))


def value_of(html: str, field_id: str) -> str | None:
    field = re.search(rf'<input[^>]*id="{field_id}"[^>]*>', html).group(0)
    match = re.search(r'value="([^"]*)"', field)
    return match.group(1) if match else None


def is_fragment(response) -> bool:
    return "<html" not in response.text and "<body" not in response.text


# -- access ---------------------------------------------------------------------------------------------


def admin_routes(app):
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


@pytest.mark.parametrize("ruolo", ["SUPERVISORE", "OPERATORE"])
def test_every_admin_page_is_403_for_other_roles(app, client, login, row_count, ruolo):
    login(ruolo)
    token = csrf_from(client.get("/commesse").text)
    before = row_count()
    routes = admin_routes(app)
    assert len(routes) >= 20
    for rule, method in routes:
        url = re.sub(r"<int:\w+>", "1", rule.rule)
        response = client.open(url, method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 403, f"{method} {url}"
        assert "Accesso non consentito" in response.text
    assert row_count() == before


def test_admin_link_is_in_the_nav_only_for_admins(client, login, make_user):
    login("SUPERVISORE")
    assert 'href="/admin/utenti"' not in client.get("/commesse").text
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/commesse").text)})
    login("ADMIN")
    page = client.get("/commesse").text
    assert re.search(r'<nav class="mainnav".*href="/admin/utenti"[^>]*>Amministrazione</a>', page, re.S)


def test_admin_start_page_is_the_users_list(client, admin):
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/utenti")


def test_admin_forms_need_csrf(client, admin, row_count):
    before = row_count()
    response = client.post("/admin/macchine/nuova", data={"codice": "SMD-L9", "fase_tipo": "SMD"})
    assert response.status_code == 400
    assert "Il modulo è scaduto o non è valido" in response.text
    response = client.post(
        "/admin/macchine/nuova", data={"codice": "SMD-L9", "fase_tipo": "SMD", "csrf_token": "falso"}, headers=HTMX
    )
    assert response.headers["HX-Retarget"] == "#messages"
    assert row_count() == before


def test_pages_carry_no_inline_script_or_style(client, admin, db_session):
    causale = db_session.scalar(select(CausaleScarto))
    for url in (
        "/admin/utenti",
        "/admin/utenti/nuovo",
        "/admin/macchine",
        "/admin/macchine/nuova",
        "/admin/causali",
        "/admin/fasi-tipo",
        "/admin/token",
        f"/admin/causali/{causale.id}/modifica",
    ):
        html = client.get(url).text
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, url
        assert "<style" not in html and " style=" not in html, url
        assert " on" + "click=" not in html, url


# -- machines -------------------------------------------------------------------------------------------


def test_admin_adds_a_machine(client, admin, token, db_session):
    form = client.get("/admin/macchine/nuova").text
    assert '<option value="SMD">' in form and 'name="codice"' in form
    response = post(
        client,
        "/admin/macchine/nuova",
        {"codice": "smd-l4", "descrizione": "Linea SMD 4", "fase_tipo": "SMD", "reparto": "SMD"},
        token,
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/admin/macchine"
    assert "HX-Request" in response.headers["Vary"]
    macchina = db_session.scalar(select(Macchina).where(Macchina.codice == "SMD-L4"))
    assert (macchina.descrizione, macchina.fase_tipo.codice, macchina.reparto, macchina.attiva) == (
        "Linea SMD 4",
        "SMD",
        "SMD",
        True,
    )
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "MACCHINA_CREATA"))
    assert evento.utente_id == admin.id
    listing = client.get("/admin/macchine").text
    assert "Macchina SMD-L4 creata." in listing  # the flash after the redirect
    assert "SMD-L4" in listing and "Linea SMD 4" in listing


def test_machine_form_errors_are_inline_and_keep_what_was_typed(client, admin, token):
    response = post(
        client,
        "/admin/macchine/nuova",
        {"codice": "SMD L4", "descrizione": "Linea quattro", "fase_tipo": "", "reparto": "Reparto SMD"},
        token,
    )
    assert response.status_code == 200 and is_fragment(response)
    assert "HX-Redirect" not in response.headers
    assert response.text.lstrip().startswith('<form id="macchina-form"')
    assert "lettere, cifre" in field_error(response.text, "codice")
    assert "Tipo di fase inesistente" in field_error(response.text, "fase_tipo")
    assert value_of(response.text, "codice") == "SMD L4"
    assert value_of(response.text, "descrizione") == "Linea quattro"
    assert value_of(response.text, "reparto") == "Reparto SMD"

    # Without htmx: the whole page, 422, same inline errors.
    page = post(client, "/admin/macchine/nuova", {"codice": "SMD L4", "fase_tipo": "SMD"}, token, htmx=False)
    assert page.status_code == 422 and "<html" in page.text
    assert "lettere, cifre" in field_error(page.text, "codice")


def test_duplicate_machine_code_shows_on_the_code_field(client, admin, token):
    assert post(client, "/admin/macchine/nuova", {"codice": "PTH-01", "fase_tipo": "PTH"}, token).headers["HX-Redirect"]
    response = post(client, "/admin/macchine/nuova", {"codice": "pth-01", "fase_tipo": "SMD"}, token)
    assert "Il codice PTH-01 è già usato" in field_error(response.text, "codice")
    page = post(client, "/admin/macchine/nuova", {"codice": "pth-01", "fase_tipo": "SMD"}, token, htmx=False)
    assert page.status_code == 409


def test_edit_and_deactivate_a_machine(client, admin, token, db_session):
    post(client, "/admin/macchine/nuova", {"codice": "CTRL-1", "fase_tipo": "CONTROLLI"}, token)
    macchina = db_session.scalar(select(Macchina).where(Macchina.codice == "CTRL-1"))
    page = client.get(f"/admin/macchine/{macchina.id}").text
    assert value_of(page, "codice") == "CTRL-1"
    assert re.search(r'<option selected value="CONTROLLI">|<option value="CONTROLLI" selected>', page)

    response = post(
        client,
        f"/admin/macchine/{macchina.id}",
        {"codice": "CTRL-AOI", "descrizione": "AOI", "fase_tipo": "CONTROLLI", "reparto": "Collaudo"},
        token,
    )
    assert response.headers["HX-Redirect"] == "/admin/macchine"
    db_session.expire_all()
    assert (db_session.get(Macchina, macchina.id).codice, db_session.get(Macchina, macchina.id).reparto) == (
        "CTRL-AOI",
        "Collaudo",
    )

    row = post(client, f"/admin/macchine/{macchina.id}/disattiva", {}, token)
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="macchina-{macchina.id}"')
    assert "Riattiva" in row.text and "Disattivata" in row.text
    db_session.expire_all()
    assert db_session.get(Macchina, macchina.id).attiva is False
    riga = f'<tr id="macchina-{macchina.id}"'
    assert riga not in client.get("/admin/macchine").text  # the list shows active machines by default
    assert riga in client.get("/admin/macchine?stato=disattivate").text

    row = post(client, f"/admin/macchine/{macchina.id}/riattiva", {}, token)
    assert "Disattiva" in row.text
    # Without htmx the action redirects with 303 (never a 302 to htmx).
    response = post(client, f"/admin/macchine/{macchina.id}/disattiva", {}, token, htmx=False)
    assert response.status_code == 303


def test_machine_list_filter_answers_htmx_with_the_list_only(client, admin, token):
    post(client, "/admin/macchine/nuova", {"codice": "SMD-L1", "fase_tipo": "SMD"}, token)
    post(client, "/admin/macchine/nuova", {"codice": "PTH-01", "fase_tipo": "PTH"}, token)
    response = client.get("/admin/macchine?fase=PTH&stato=attive", headers=HTMX)
    assert is_fragment(response) and "PTH-01" in response.text and "SMD-L1" not in response.text
    assert "HX-Request" in response.headers["Vary"]


# -- users ----------------------------------------------------------------------------------------------


def test_admin_adds_an_operator_with_a_pin(client, admin, token, db_session):
    assert 'inputmode="numeric"' in client.get("/admin/utenti/nuovo").text
    response = post(
        client,
        "/admin/utenti/nuovo",
        {"matricola": "B0777", "nome": "Sara", "cognome": "Longo", "ruolo": "OPERATORE", "pin": "7777", "password": ""},
        token,
    )
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/admin/utenti"
    utente = db_session.scalar(select(Utente).where(Utente.matricola == "B0777"))
    assert (utente.nome, utente.cognome, utente.ruolo, utente.attivo) == ("Sara", "Longo", "OPERATORE", True)
    assert hashing.verify_secret(utente.pin_hash, "7777") and utente.password_hash is None
    listing = client.get("/admin/utenti").text
    assert "Utente B0777 creato." in listing and "Longo Sara" in listing
    assert "argon2" not in listing


def test_user_form_errors_keep_what_was_typed_but_never_the_secrets(client, admin, token, make_user):
    make_user(ruolo="OPERATORE", matricola="B0001", password=None, pin="1111")
    response = post(
        client,
        "/admin/utenti/nuovo",
        {"matricola": "B0001", "nome": "Sara", "cognome": "Longo", "ruolo": "OPERATORE", "pin": "98765"},
        token,
    )
    assert response.status_code == 200 and is_fragment(response)
    assert "B0001 è già usata" in field_error(response.text, "matricola")
    assert value_of(response.text, "matricola") == "B0001"
    assert value_of(response.text, "nome") == "Sara" and value_of(response.text, "cognome") == "Longo"
    assert "98765" not in response.text  # a PIN is never sent back

    response = post(
        client,
        "/admin/utenti/nuovo",
        {
            "matricola": "B0002",
            "nome": "",
            "cognome": "Longo",
            "ruolo": "SUPERVISORE",
            "pin": "12",
            "password": "corta",
        },
        token,
    )
    assert "Indicare il nome." in field_error(response.text, "nome")
    assert "4 a 8 cifre" in field_error(response.text, "pin")
    assert "almeno 8 caratteri" in field_error(response.text, "password")
    assert re.search(r'<option selected value="SUPERVISORE">|<option value="SUPERVISORE" selected>', response.text)


def test_users_live_filter(client, admin, make_user):
    make_user(ruolo="OPERATORE", matricola="B0100", nome="Giulia", cognome="Ferri", password=None, pin="1111")
    page = client.get("/admin/utenti").text
    assert 'hx-get="/admin/utenti"' in page and 'hx-target="#utenti-elenco"' in page
    response = client.get("/admin/utenti?q=ferri&ruolo=&stato=attivi", headers=HTMX)
    assert is_fragment(response) and "Ferri Giulia" in response.text and "Rossi Mario" not in response.text
    assert "HX-Request" in response.headers["Vary"]
    assert "Nessun utente" in client.get("/admin/utenti?q=nessuno", headers=HTMX).text
    assert "Ferri Giulia" not in client.get("/admin/utenti?ruolo=ADMIN").text


def test_edit_user_and_reset_pin_and_password(client, admin, token, make_user, db_session):
    utente = make_user(ruolo="OPERATORE", matricola="B0100", password=None, pin="1111")
    page = client.get(f"/admin/utenti/{utente.id}").text
    assert value_of(page, "matricola") == "B0100"
    assert 'id="pin-panel"' in page and 'id="password-panel"' in page

    response = post(
        client,
        f"/admin/utenti/{utente.id}",
        {"matricola": "B0100", "nome": "Mario", "cognome": "Neri", "ruolo": "SUPERVISORE"},
        token,
    )
    assert response.headers["HX-Redirect"] == "/admin/utenti"
    db_session.expire_all()
    assert (db_session.get(Utente, utente.id).cognome, db_session.get(Utente, utente.id).ruolo) == (
        "Neri",
        "SUPERVISORE",
    )

    bad = post(client, f"/admin/utenti/{utente.id}/pin", {"pin": "12x"}, token)
    assert bad.text.lstrip().startswith('<section class="panel" id="pin-panel"')
    assert "4 a 8 cifre" in field_error(bad.text, "nuovo-pin")

    ok = post(client, f"/admin/utenti/{utente.id}/pin", {"pin": "2468"}, token)
    assert ok.status_code == 200 and "Nuovo PIN impostato" in ok.text and "2468" not in ok.text
    ok = post(client, f"/admin/utenti/{utente.id}/password", {"password": "capoturno-2026"}, token)
    assert "Nuova password impostata" in ok.text
    db_session.expire_all()
    stored = db_session.get(Utente, utente.id)
    assert hashing.verify_secret(stored.pin_hash, "2468") and hashing.verify_secret(
        stored.password_hash, "capoturno-2026"
    )
    azioni = {e.azione for e in db_session.scalars(select(LogEvento).where(LogEvento.entita_id == utente.id))}
    assert {"UTENTE_MODIFICATO", "PIN_REIMPOSTATO", "PASSWORD_REIMPOSTATA"} <= azioni


def test_deactivate_and_reactivate_a_user_row(client, admin, token, make_user, db_session):
    utente = make_user(ruolo="OPERATORE", matricola="B0100", password=None, pin="1111")
    row = post(client, f"/admin/utenti/{utente.id}/disattiva", {}, token)
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="utente-{utente.id}"')
    assert "Riattiva" in row.text
    db_session.expire_all()
    assert db_session.get(Utente, utente.id).attivo is False
    assert "B0100" in client.get("/admin/utenti?stato=disattivati").text
    row = post(client, f"/admin/utenti/{utente.id}/riattiva", {}, token)
    assert "Disattiva" in row.text
    db_session.expire_all()
    assert db_session.get(Utente, utente.id).attivo is True


def test_admin_cannot_deactivate_or_demote_themself_from_the_pages(client, admin, token, db_session):
    response = post(client, f"/admin/utenti/{admin.id}/disattiva", {}, token)
    assert response.headers["HX-Retarget"] == "#messages"
    assert "Non puoi disattivare il tuo stesso utente" in response.text
    response = post(
        client,
        f"/admin/utenti/{admin.id}",
        {"matricola": admin.matricola, "nome": "Mario", "cognome": "Rossi", "ruolo": "OPERATORE"},
        token,
    )
    assert "Non puoi abbassare il tuo stesso ruolo" in field_error(response.text, "ruolo")
    db_session.expire_all()
    stored = db_session.get(Utente, admin.id)
    assert (stored.attivo, stored.ruolo) == (True, "ADMIN")


# -- scrap reasons (inline rows) -----------------------------------------------------------------------------


def test_add_a_scrap_reason(client, admin, token, db_session):
    response = post(
        client, "/admin/causali", {"codice": "umid", "descrizione": "Umidità", "fase_tipo": "", "attiva": "y"}, token
    )
    assert response.headers["HX-Redirect"] == "/admin/causali"
    causale = db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "UMID"))
    assert causale.fase_tipo_id is None and causale.attiva is True
    bad = post(client, "/admin/causali", {"codice": "MANIP", "descrizione": "Doppia", "fase_tipo": "SMD"}, token)
    assert bad.text.lstrip().startswith('<form id="causale-nuova"')
    assert "già usato" in field_error(bad.text, "nuova-codice")
    assert value_of(bad.text, "nuova-descrizione") == "Doppia"


def test_edit_a_scrap_reason_in_its_row(client, admin, token, db_session):
    causale = db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "MANIP"))
    page = client.get("/admin/causali").text
    assert f'hx-get="/admin/causali/{causale.id}/modifica"' in page
    edit = client.get(f"/admin/causali/{causale.id}/modifica", headers=HTMX)
    assert edit.text.lstrip().startswith(f'<tr id="causale-{causale.id}" class="riga-modifica"') and is_fragment(edit)
    prefix = f"c{causale.id}-"
    assert value_of(edit.text, prefix + "codice") == "MANIP"

    bad = post(
        client,
        f"/admin/causali/{causale.id}",
        {"codice": "MANIP", "descrizione": " ", "fase_tipo": "PTH", "attiva": "y"},
        token,
    )
    assert bad.status_code == 200 and 'class="riga-modifica"' in bad.text
    assert "Indicare la descrizione." in field_error(bad.text, prefix + "descrizione")

    ok = post(
        client,
        f"/admin/causali/{causale.id}",
        {"codice": "MANIP", "descrizione": "Danno da urto", "fase_tipo": "PTH"},
        token,
    )
    assert ok.text.lstrip().startswith(f'<tr id="causale-{causale.id}">') and "Danno da urto" in ok.text
    assert "Disattivata" in ok.text  # the unticked box retired it
    db_session.expire_all()
    stored = db_session.get(CausaleScarto, causale.id)
    assert (stored.descrizione, stored.fase_tipo.codice, stored.attiva) == ("Danno da urto", "PTH", False)

    cancel = client.get(f"/admin/causali/{causale.id}", headers=HTMX)
    assert cancel.text.lstrip().startswith(f'<tr id="causale-{causale.id}">')
    # A browser without htmx opens the row on the full page.
    full = client.get(f"/admin/causali/{causale.id}/modifica")
    assert "<html" in full.text and 'class="riga-modifica"' in full.text


# -- phase types ---------------------------------------------------------------------------------------------


def test_required_documents_are_checkboxes(client, admin, token, db_session):
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    edit = client.get(f"/admin/fasi-tipo/{smd.id}/modifica", headers=HTMX).text
    boxes = re.findall(r'<input type="checkbox"[^>]*name="documenti_richiesti" value="(\w+)"', edit)
    assert boxes == ["DIBA", "SCHEMA_MONTAGGIO", "PROGRAMMA_SMD", "ISTRUZIONI", "CICLO_COLLAUDO", "ALTRO"]

    ok = client.post(
        f"/admin/fasi-tipo/{smd.id}",
        headers=HTMX,
        data={
            "csrf_token": token,
            "descrizione": "Montaggio SMD",
            "ordine": "10",
            "attivo": "y",
            "documenti_richiesti": ["PROGRAMMA_SMD", "DIBA"],
        },
    )
    assert ok.status_code == 200 and ok.text.lstrip().startswith(f'<tr id="fase-tipo-{smd.id}">')
    assert "PROGRAMMA_SMD" in ok.text
    db_session.expire_all()
    assert db_session.get(FaseTipo, smd.id).documenti_richiesti == ["DIBA", "PROGRAMMA_SMD"]
    again = client.get(f"/admin/fasi-tipo/{smd.id}/modifica", headers=HTMX).text
    assert re.search(r'value="DIBA" checked', again) and not re.search(r'value="ALTRO" checked', again)


def test_phase_type_position_errors_stay_in_the_row(client, admin, token, db_session):
    pth = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH"))
    prefix = f"f{pth.id}-"
    for ordine, message in (("10", "già del tipo di fase SMD"), ("dieci", ""), ("", "Indicare la posizione")):
        response = post(
            client, f"/admin/fasi-tipo/{pth.id}", {"descrizione": "PTH", "ordine": ordine, "attivo": "y"}, token
        )
        assert 'class="riga-modifica"' in response.text
        assert message in field_error(response.text, prefix + "ordine")
    db_session.expire_all()
    assert db_session.get(FaseTipo, pth.id).ordine == 20


def test_add_a_phase_type(client, admin, token, db_session):
    response = post(
        client,
        "/admin/fasi-tipo",
        {
            "codice": "tropic",
            "descrizione": "Tropicalizzazione",
            "ordine": "25",
            "attivo": "y",
            "documenti_richiesti": "ISTRUZIONI",
        },
        token,
    )
    assert response.headers["HX-Redirect"] == "/admin/fasi-tipo"
    nuovo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "TROPIC"))
    assert (nuovo.ordine, nuovo.documenti_richiesti) == (25, ["ISTRUZIONI"])
    page = client.get("/admin/fasi-tipo").text
    righe = re.findall(r'<tr id="fase-tipo-\d+">\s*<td>\d+</td>\s*<td class="code strong">(\w+)</td>', page)
    assert righe == ["SMD", "PTH", "TROPIC", "CONTROLLI"]


# -- API tokens ----------------------------------------------------------------------------------------------


def test_create_a_token_shows_it_once_and_it_works(client, admin, token, make_user, db_session):
    utente = make_user(ruolo="SUPERVISORE", matricola="S0001")
    form = client.get("/admin/token").text
    assert '<option value="S0001">' in form
    response = post(client, "/admin/token", {"matricola": "S0001", "descrizione": "MES linea 2"}, token)
    assert response.status_code == 200 and is_fragment(response)
    shown = re.search(r'id="token-valore"[^>]*value="(asg_[^"]+)"', response.text).group(1)
    record = db_session.scalar(select(ApiToken).where(ApiToken.utente_id == utente.id))
    assert record.token_hash == hashing.token_digest(shown) and shown.startswith(record.prefisso)
    assert client.get("/api/macchine/", headers={"Authorization": f"Bearer {shown}"}).status_code == 200

    listing = client.get("/admin/token").text
    assert shown not in listing  # shown once only
    assert f"{record.prefisso}…" in listing and "MES linea 2" in listing

    row = post(client, f"/admin/token/{record.id}/revoca", {}, token)
    assert row.text.lstrip().startswith(f'<tr id="token-{record.id}"') and "Revocato" in row.text
    assert client.get("/api/macchine/", headers={"Authorization": f"Bearer {shown}"}).status_code == 401


def test_token_form_requires_a_user(client, admin, token, db_session):
    response = post(client, "/admin/token", {"matricola": "", "descrizione": "x"}, token)
    assert "Scegliere l'utente" in field_error(response.text, "matricola")
    response = post(client, "/admin/token", {"matricola": "NESSUNO", "descrizione": "x"}, token)
    assert "NESSUNO" in field_error(response.text, "matricola")
    assert db_session.scalar(select(ApiToken)) is None


@pytest.mark.parametrize(
    "url",
    [
        "/admin/utenti/999999",
        "/admin/macchine/999999",
        "/admin/causali/999999/modifica",
        "/admin/fasi-tipo/999999/modifica",
    ],
)
def test_unknown_records_are_a_404_page(client, admin, url):
    response = client.get(url)
    assert response.status_code == 404 and "Non trovato" in response.text
    assert "999999" in response.text
