"""Who may reach what: the one place where login, token and role are checked.

Every endpoint needs a logged-in user (pages) or a bearer token (``/api``) unless its
view is marked ``@public``; ``@requires(ROLE)`` sets the lowest role allowed; views
marked ``@kiosk`` need instead a kiosk session for the machine in their URL. A new
route is therefore protected by default, and the access sweep in
``tests/web/test_access.py`` proves it over the whole ``app.url_map``.

A kiosk session shares nothing with an office login but the database: it lives in the
signed session cookie as ``session["kiosk"] = {"utente_id", "macchina", "ultimo"}``, is
valid only for that machine and an active user, and lapses after KIOSK_IDLE_SECONDS
without a kiosk request (each one refreshes ``ultimo``).
"""

from __future__ import annotations

import time
from dataclasses import replace

from flask import current_app, g, redirect, request, session, url_for
from flask_login import UserMixin, current_user

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


def start_kiosk_session(actor: Actor, macchina: str) -> None:
    """Bind this browser to ``actor`` at machine ``macchina`` (after badge + PIN)."""
    lang = session.get("lang")
    session.clear()  # a fresh session at login: no fixation, no office login alongside
    if lang:
        session["lang"] = lang
    session[KIOSK_KEY] = {"utente_id": actor.utente_id, "macchina": macchina, "ultimo": int(time.time())}


def end_kiosk_session() -> None:
    session.pop(KIOSK_KEY, None)


def kiosk_actor(macchina: str) -> Actor | None:
    """The operator of this browser's kiosk session at ``macchina``, refreshed; None when
    there is none, it belongs to another machine, it has been idle too long, or the user
    is no longer active (then the stale session is dropped)."""
    dati = session.get(KIOSK_KEY)
    if not isinstance(dati, dict) or dati.get("macchina") != macchina:
        return None
    adesso = int(time.time())
    try:
        fresca = adesso - int(dati.get("ultimo", 0)) <= int(current_app.config["KIOSK_IDLE_SECONDS"])
        actor = auth_service.load_actor(deps.session(), int(dati["utente_id"])) if fresca else None
    except (KeyError, TypeError, ValueError):
        actor = None
    if actor is None:
        end_kiosk_session()
        return None
    session[KIOSK_KEY] = {**dati, "ultimo": adesso}
    return replace(actor, postazione=macchina)


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
    try:
        actor = auth_service.load_actor(deps.session(), int(user_id))
    except ValueError:
        return None
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
