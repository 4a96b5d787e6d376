"""Who may reach what: the one place where login, token and role are checked.

Every endpoint needs a logged-in user (pages) or a bearer token (``/api``) unless its
view is marked ``@public``; ``@requires(ROLE)`` sets the lowest role allowed; views
marked ``@kiosk`` need instead a kiosk session for the machine in their URL. A new
route is therefore protected by default, and the access sweep in
``tests/web/test_access.py`` proves it over the whole ``app.url_map``.

Every login opens a session the server can end (``domain/sessioni.py``): a row in
``Sessioni`` holds the SHA-256 of a random secret that only the signed cookie carries
(``session["sessione"]``), and every authenticated page or kiosk request loads its user
through that open row in one query. Logout, *Esci*, the kiosk idle lock, a new password
or PIN and deactivation end the row, so every copy of the cookie stops working on every
server sharing the database. Each login makes a fresh secret (no fixation) and ends the
session the browser held before.

A kiosk session shares nothing with an office login but the database: the cookie holds
``session["kiosk"] = {"utente_id", "macchina", "ultimo"}`` beside the secret; it is valid
only for that machine (the row is bound to it too) and an active user, and lapses after
KIOSK_IDLE_SECONDS without a kiosk request (each one refreshes ``ultimo`` in the cookie,
so a request costs no write). The request that finds it idle ends its row, so a copy of
the cookie refreshed elsewhere cannot keep it alive.
"""

from __future__ import annotations

import time

from flask import current_app, g, redirect, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user

from asigest.domain import sessioni
from asigest.domain.actor import Actor
from asigest.errors import Forbidden, Unauthenticated
from asigest.extensions import login_manager
from asigest.services import auth as auth_service
from asigest.web import deps
from asigest.web.htmx import is_htmx

API_BLUEPRINT = "api"


def public(view):
    """Mark a view as reachable without login."""
    view.asigest_public = True
    return view


def kiosk(view):
    """Mark a view as a kiosk screen: it needs a kiosk session for its ``<codice>`` machine."""
    view.asigest_kiosk = True
    return view


KIOSK_KEY = "kiosk"
SESSIONE_KEY = "sessione"  # the login session's secret; Sessioni.Chiave is its SHA-256


def session_secret() -> str | None:
    """The login-session secret this browser's cookie holds, or None."""
    segreto = session.get(SESSIONE_KEY)
    return segreto if isinstance(segreto, str) and segreto else None


def _fresh_session(segreto: str) -> None:
    """A new cookie session holding only the language and the new login's secret."""
    lang = session.get("lang")
    session.clear()  # a fresh session at login: no fixation, no other login alongside
    if lang:
        session["lang"] = lang
    session[SESSIONE_KEY] = segreto


def start_office_session(actor: Actor, segreto: str) -> None:
    """Bind this browser to ``actor``'s new office session (after matricola + password)."""
    _fresh_session(segreto)
    login_user(LoginUser(actor))


def start_kiosk_session(actor: Actor, macchina: str, segreto: str) -> None:
    """Bind this browser to ``actor``'s new kiosk session at ``macchina`` (after badge + PIN)."""
    _fresh_session(segreto)
    session[KIOSK_KEY] = {"utente_id": actor.utente_id, "macchina": macchina, "ultimo": int(time.time())}


def _forget_session() -> None:
    """Drop the login from this cookie (its row is ended, or was never valid)."""
    session.pop(KIOSK_KEY, None)
    session.pop(SESSIONE_KEY, None)


def end_office_session() -> None:
    """Office *Esci*: end this browser's session row (every copy of the cookie stops working).

    This browser forgets the login even when the row cannot be ended (the database
    refuses the write): the error is still raised and shown.
    """
    segreto = session_secret()
    try:
        if segreto:
            auth_service.end_session(deps.session(), segreto, motivo=sessioni.LOGOUT, postazione=deps.postazione())
    finally:
        logout_user()
        session.clear()


def end_kiosk_session(macchina: str) -> None:
    """Kiosk *Esci*: end this browser's kiosk session row and drop it from the cookie
    (dropped even when the row cannot be ended, as for ``end_office_session``)."""
    segreto = session_secret()
    try:
        if segreto:
            auth_service.end_session(deps.session(), segreto, motivo=sessioni.ESCI, postazione=macchina)
    finally:
        _forget_session()


def kiosk_actor(macchina: str) -> Actor | None:
    """The operator of this browser's kiosk session at ``macchina``, refreshed; None when
    there is none, it belongs to another machine, it is ended, its user is no longer
    active, or it has been idle too long (then its row is ended here and now)."""
    dati = session.get(KIOSK_KEY)
    segreto = session_secret()
    if not isinstance(dati, dict) or dati.get("macchina") != macchina or segreto is None:
        return None
    try:
        utente_id, ultimo = int(dati["utente_id"]), int(dati.get("ultimo", 0))
    except (KeyError, TypeError, ValueError):
        _forget_session()
        return None
    adesso = int(time.time())
    if sessioni.inattiva(ultimo, adesso, int(current_app.config["KIOSK_IDLE_SECONDS"])):
        try:
            auth_service.end_session(deps.session(), segreto, motivo=sessioni.INATTIVITA, postazione=macchina)
        finally:
            _forget_session()
        return None
    actor = auth_service.session_actor(
        deps.session(), segreto, sessioni.KIOSK, utente_id=utente_id, postazione=macchina
    )
    if actor is None:
        _forget_session()  # ended, or the user deactivated: nothing refreshed
        return None
    session[KIOSK_KEY] = {**dati, "ultimo": adesso}
    return actor


def requires(ruolo_minimo: str):
    """Mark a view as needing ``ruolo_minimo`` or above (checked by ``enforce_access``)."""

    def decorate(view):
        view.asigest_ruolo = ruolo_minimo
        return view

    return decorate


class LoginUser(UserMixin):
    """Flask-Login's view of a logged-in person; carries the Actor services need."""

    def __init__(self, actor: Actor):
        self.actor = actor
        self.id = str(actor.utente_id)


@login_manager.user_loader
def _load_user(user_id: str):
    """Flask-Login's loader: the user of this browser's open office session, or None."""
    segreto = session_secret()
    try:
        utente_id = int(user_id)
    except ValueError:
        return None
    if segreto is None:
        return None
    actor = auth_service.session_actor(deps.session(), segreto, sessioni.UFFICIO, utente_id=utente_id)
    return LoginUser(actor) if actor else None


def is_api_request() -> bool:
    return request.blueprint == API_BLUEPRINT


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def enforce_access():
    """``before_request``: authenticate, then check the view's role; sets ``g.actor``."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route: the 404/405 handlers answer
    view = current_app.view_functions[endpoint]
    if endpoint == "static" or getattr(view, "asigest_public", False):
        return None
    if getattr(view, "asigest_kiosk", False):
        macchina = (request.view_args or {}).get("codice", "")
        actor = kiosk_actor(macchina)
        if actor is None:
            return _to_badge(macchina)
        g.actor = actor
        return None

    if is_api_request():
        token = _bearer_token()
        actor = auth_service.authenticate_token(deps.session(), token) if token else None
        if actor is None:
            raise Unauthenticated()
    else:
        if not current_user.is_authenticated:
            return _to_login()
        actor = current_user.actor

    ruolo = getattr(view, "asigest_ruolo", None)
    if ruolo and not actor.puo(ruolo):
        raise Forbidden()
    g.actor = actor
    return None


def _to_login():
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    target = url_for("auth.login", next=back)
    if is_htmx():
        # htmx would swap the login page into a fragment; make the browser go there instead.
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _to_badge(macchina: str):
    """Back to the machine's badge form (htmx: 401 + HX-Redirect, as for the office login)."""
    target = url_for("kiosk.badge", codice=macchina)
    if is_htmx():
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def init_app(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(enforce_access)
