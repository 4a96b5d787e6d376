"""Who may reach what: the one place where login, token and role are checked.

Every endpoint needs a logged-in user (pages) or a bearer token (``/api``) unless its
view is marked ``@public``; ``@requires(ROLE)`` sets the lowest role allowed. A new
route is therefore protected by default, and the access sweep in
``tests/web/test_access.py`` proves it over the whole ``app.url_map``.
"""

from __future__ import annotations


from flask import current_app, g, redirect, request, url_for
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


def init_app(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(enforce_access)
