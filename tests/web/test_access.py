"""The access sweep: every route in ``app.url_map`` needs a login (pages) or a bearer token
(``/api``) unless it is one of the few reviewed public ones, and every state-changing
page route needs a CSRF token. A new route is covered the moment it is registered."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from
from tests.web.conftest import login_on

# Reviewed list: a route joins it only on purpose.
EXPECTED_PUBLIC = {"/login", "/health", "/api/openapi.json", "/api/docs", "/lingua/<code>", "/kiosk/<codice>"}
KIOSK_BADGE = "/kiosk/<codice>"

SAMPLE_VALUES = {
    "int": "1",
    "fase_tipo": "smd",
    "codice_lotto": "2026-1-SMD-001",
    "default": "x",
    "string": "x",
    "path": "x",
}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF_MESSAGE = "Il modulo è scaduto o non è valido: ricaricare la pagina e riprovare."


def sample_url(rule) -> str:
    """The rule's path with a sample value for each converter."""

    def value(match):
        converter = match.group(1) or "default"
        assert converter in SAMPLE_VALUES, (
            f"{rule.rule}: aggiungere un valore d'esempio per il convertitore {converter!r}"
        )
        return SAMPLE_VALUES[converter]

    return _ARGUMENT.sub(value, rule.rule)


def routes(app):
    """``(rule, method, url)`` for every route and method but HEAD/OPTIONS (static excluded)."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, sample_url(rule)))
    assert found, "url_map vuota?"
    return found


def is_api(rule) -> bool:
    return rule.rule.startswith("/api/")


def send(client, method, url, **kwargs):
    return client.open(url, method=method, **kwargs)


def anonymous_csrf(client) -> str:
    """A valid CSRF token for an anonymous browser session."""
    return csrf_from(client.get("/login").text)


def is_kiosk(rule) -> bool:
    """A kiosk screen: guarded by the machine's kiosk session, not by the office login."""
    return rule.rule.startswith("/kiosk/") and rule.rule != KIOSK_BADGE


def asks_for_login(response, rule=None) -> bool:
    if response.status_code == 401:
        return True
    login_path = "/kiosk/x" if rule is not None and is_kiosk(rule) else "/login"
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == login_path


def test_public_routes_are_exactly_the_reviewed_ones(app, client):
    """Anonymous requests (with a CSRF token, so only login can stop them) reach exactly
    the reviewed public routes; the ``@public`` markers say the same."""
    token = anonymous_csrf(client)
    reached = set()
    for rule, method, url in routes(app):
        headers = {} if is_api(rule) else {"X-CSRFToken": token}
        response = send(client, method, url, headers=headers)
        assert response.status_code < 500, f"{method} {url}: {response.status_code}"
        if not asks_for_login(response, rule):
            reached.add(rule.rule)
    assert reached == EXPECTED_PUBLIC

    marked = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and getattr(app.view_functions[rule.endpoint], "asigest_public", False)
    }
    assert marked == EXPECTED_PUBLIC


def test_every_private_page_redirects_to_login(app, client):
    """GET without login → 302 to ``/login?next=<the page>``; htmx GET → 401 + HX-Redirect."""
    checked = 0
    for rule, method, url in routes(app):
        if rule.rule in EXPECTED_PUBLIC or is_api(rule) or is_kiosk(rule) or method != "GET":
            continue
        response = client.get(url)
        assert response.status_code == 302, f"GET {url}"
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert parse_qs(location.query)["next"] == [url], f"GET {url}: next={location.query}"

        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 401, f"htmx GET {url}"
        target = urlsplit(response.headers["HX-Redirect"])
        assert target.path == "/login" and parse_qs(target.query)["next"] == [url]
        checked += 1
    assert checked >= 3  # /, /commesse, /commesse/<id> at least


def test_private_page_writes_need_login(app, client):
    """A valid CSRF token is not enough: an anonymous POST is sent to the login page."""
    token = anonymous_csrf(client)
    checked = 0
    for rule, method, url in routes(app):
        if rule.rule in EXPECTED_PUBLIC or is_api(rule) or is_kiosk(rule) or method not in WRITE_METHODS:
            continue
        response = send(client, method, url, headers={"X-CSRFToken": token})
        assert response.status_code == 302, f"{method} {url}"
        assert urlsplit(response.headers["Location"]).path == "/login"
        response = send(client, method, url, headers={"X-CSRFToken": token, "HX-Request": "true"})
        assert response.status_code == 401 and urlsplit(response.headers["HX-Redirect"]).path == "/login"
        checked += 1
    assert checked >= 1  # /logout at least


def _kiosk_session(client, macchina: str, utente_id: int, ultimo: int | None = None) -> None:
    """A real kiosk session at ``macchina``: its open row in Sessioni and the cookie."""
    import time

    from asigest.domain import hashing
    from asigest.extensions import db
    from asigest.models import Sessione
    from asigest.models.types import utcnow

    segreto = hashing.new_session_secret()
    db.session.add(
        Sessione(
            utente_id=utente_id,
            chiave=hashing.token_digest(segreto),
            tipo="KIOSK",
            postazione=macchina,
            data_inizio=utcnow(),
        )
    )
    db.session.commit()
    with client.session_transaction() as s:
        s["sessione"] = segreto
        s["kiosk"] = {"utente_id": utente_id, "macchina": macchina, "ultimo": ultimo or int(time.time())}


@pytest.mark.parametrize("chi", ["anonimo", "ufficio ADMIN", "kiosk di un'altra macchina", "kiosk scaduto"])
def test_every_kiosk_route_needs_a_kiosk_session_for_its_machine(app, client, login, make_user, chi):
    """Every kiosk screen but the badge form sends back to the machine's badge form (htmx:
    401 + HX-Redirect) unless this browser has a live kiosk session for that machine: an
    office login, another machine's session or an expired one are not enough."""
    token = anonymous_csrf(client)
    if chi == "ufficio ADMIN":
        login("ADMIN")
        token = csrf_from(client.get("/commesse").text)
    elif chi != "anonimo":
        operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
        scaduto = 1 if chi == "kiosk scaduto" else None
        _kiosk_session(client, "x" if scaduto else "ALTRA", operatore.id, ultimo=scaduto)
    checked = 0
    for rule, method, url in routes(app):
        if not is_kiosk(rule):
            continue
        for extra in ({}, {"HX-Request": "true"}):
            response = send(client, method, url, headers={"X-CSRFToken": token, **extra})
            if extra:
                assert response.status_code == 401 and response.headers["HX-Redirect"] == "/kiosk/x", (
                    f"htmx {method} {url}"
                )
            else:
                assert response.status_code == 302, f"{method} {url}"
                assert urlsplit(response.headers["Location"]).path == "/kiosk/x"
        checked += 1
    assert checked >= 6  # esci, commessa, apri, chiudi, documenti, etichetta


@pytest.fixture
def bad_tokens(db_session, make_user, api_token):
    """Headers that must not open the API: none, garbage, wrong scheme, revoked, deactivated user."""
    from asigest.models import ApiToken, Utente
    from asigest.services import auth

    revoked = api_token("ADMIN")
    record = db_session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    auth.revoke_token(db_session, actor=None, token_id=record.id)

    disabled = api_token("ADMIN")
    record = db_session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    db_session.get(Utente, record.utente_id).attivo = False
    db_session.commit()

    good = api_token("ADMIN")
    return {
        "none": {},
        "garbage": {"Authorization": "Bearer non-un-token"},
        "empty": {"Authorization": "Bearer "},
        "wrong scheme": {"Authorization": good["Authorization"].replace("Bearer", "Basic")},
        "revoked": revoked,
        "deactivated user": disabled,
    }, good


def test_every_private_api_route_needs_a_valid_token(app, client, bad_tokens):
    """401 JSON ``{"detail", "code": "UNAUTHENTICATED"}`` for every missing or bad token; a
    good token gets past the check (so the 401s are the access check, not a broken route)."""
    bad, good = bad_tokens
    checked = 0
    for rule, method, url in routes(app):
        if rule.rule in EXPECTED_PUBLIC or not is_api(rule):
            continue
        for label, headers in bad.items():
            response = send(client, method, url, headers=headers)
            assert response.status_code == 401, f"{method} {url} ({label})"
            assert response.is_json
            assert set(response.json) == {"detail", "code"}
            assert response.json["code"] == "UNAUTHENTICATED"
            assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert send(client, method, url, headers=good).status_code != 401, f"{method} {url} con token valido"
        checked += 1
    assert checked >= 3


def test_page_writes_without_csrf_are_refused_and_change_nothing(app, client, login, row_count):
    """Logged in, a POST without CSRF token → 400 with the Italian message; the session and
    the database are as before (for /logout: still logged in)."""
    login("ADMIN")
    checked = 0
    for rule, method, url in routes(app):
        if rule.rule in EXPECTED_PUBLIC or is_api(rule) or method not in WRITE_METHODS:
            continue
        before = row_count()
        response = send(client, method, url)
        assert response.status_code == 400, f"{method} {url}"
        assert CSRF_MESSAGE in response.text
        # htmx gets the same refusal inline, in the messages area.
        response = send(client, method, url, headers={"HX-Request": "true"})
        assert CSRF_MESSAGE in response.text and "<html" not in response.text
        assert response.headers["HX-Retarget"] == "#messages"
        # A wrong token is no better than none.
        response = send(client, method, url, headers={"X-CSRFToken": "falso"})
        assert response.status_code == 400, f"{method} {url} con token falso"
        assert row_count() == before, f"{method} {url} ha scritto nel database"
        assert client.get("/commesse").status_code == 200, f"{method} {url} ha chiuso la sessione"
        checked += 1
    assert checked >= 1


def test_public_forms_need_csrf_too(client, app):
    """Login and the language switch are public but still refuse a POST without CSRF token."""
    response = client.post("/login", data={"matricola": "X", "password": "y"})
    assert response.status_code == 400 and CSRF_MESSAGE in response.text
    response = client.post("/lingua/en")
    assert response.status_code == 400
    assert '<html lang="it"' in client.get("/login").text


def test_logout_is_post_only_and_csrf_protected(client, login):
    login()
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/commesse").status_code == 200  # still logged in
    # The token htmx sends in hx-headers works like the form field.
    token = csrf_from(client.get("/commesse").text)
    response = client.post("/logout", headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert client.get("/commesse").status_code == 302


# -- roles ---------------------------------------------------------------------------

ROLE_CASES = [
    # (lowest role the route allows, caller's role, allowed?)
    ("SUPERVISORE", "OPERATORE", False),
    ("ADMIN", "OPERATORE", False),
    ("ADMIN", "SUPERVISORE", False),
    ("OPERATORE", "OPERATORE", True),
    ("SUPERVISORE", "SUPERVISORE", True),
    ("SUPERVISORE", "ADMIN", True),
    ("ADMIN", "ADMIN", True),
]


@pytest.fixture
def role_app(make_app):
    """A separate app with one throwaway API route and one page route per minimum role."""
    from asigest.web.access import requires

    extra = make_app()

    def view():
        return {"ok": True}

    for ruolo in ("OPERATORE", "SUPERVISORE", "ADMIN"):
        name = ruolo.lower()
        # The endpoint's prefix puts the route in a blueprint, which is what access.py reads.
        extra.add_url_rule(
            f"/api/prova-{name}", endpoint=f"api.prova_{name}", view_func=requires(ruolo)(_named(view, name))
        )
        extra.add_url_rule(
            f"/prova-{name}", endpoint=f"pages.prova_{name}", view_func=requires(ruolo)(_named(view, f"p_{name}"))
        )
    return extra


def _named(view, name):
    def wrapper():
        return view()

    wrapper.__name__ = f"prova_{name}"
    return wrapper


@pytest.mark.parametrize(("minimo", "ruolo", "allowed"), ROLE_CASES)
def test_requires_blocks_lower_roles_on_the_api(role_app, api_token, minimo, ruolo, allowed):
    response = role_app.test_client().get(f"/api/prova-{minimo.lower()}", headers=api_token(ruolo))
    if allowed:
        assert response.status_code == 200 and response.json == {"ok": True}
    else:
        assert response.status_code == 403
        assert response.json == {"detail": "Il tuo ruolo non permette questa operazione.", "code": "FORBIDDEN"}


@pytest.mark.parametrize(("minimo", "ruolo", "allowed"), ROLE_CASES)
def test_requires_blocks_lower_roles_on_pages(role_app, make_user, minimo, ruolo, allowed):
    user = make_user(ruolo=ruolo)
    browser = role_app.test_client()
    assert login_on(browser, user.matricola).status_code == 302
    response = browser.get(f"/prova-{minimo.lower()}")
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert "Accesso non consentito" in response.text
        assert "Il tuo ruolo non permette questa operazione." in response.text


def test_throwaway_routes_stay_off_the_session_app(app, role_app):
    """The role checks above must not leak routes into the app the sweep reads."""
    assert not any(rule.rule.startswith(("/api/prova-", "/prova-")) for rule in app.url_map.iter_rules())
