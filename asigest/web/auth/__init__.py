"""Supervisor and admin login at ``/login``, logout, language choice, and the badges
locked by wrong passwords or PINs.

Where a supervisor unlocks a badge: ``/badge-bloccati``, a list of the badges locked
now, open to SUPERVISORE and ADMIN and linked from the main menu. The user pages under
``/admin/utenti`` stay ADMIN-only (they edit people and secrets); the admin's user page
shows the badge's lock and posts to the same unlock route. A supervisor called to a
terminal needs the locked badges at a glance, not a search through every user.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from asigest.domain import hashing
from asigest.domain.accessi import LimitiAccesso
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import RuleViolation
from asigest.services import auth as auth_service
from asigest.web import deps
from asigest.web.access import end_office_session, public, requires, session_secret, start_office_session
from asigest.web.htmx import is_htmx

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    matricola = StringField(
        _l("Matricola"), validators=[DataRequired(message=_l("Indicare la matricola.")), Length(max=30)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Indicare la password.")), Length(max=200)]
    )
    next = HiddenField()


def limiti_accesso() -> LimitiAccesso:
    """The login lockout policy from the settings (``LOGIN_*``)."""
    c = current_app.config
    return LimitiAccesso(
        max_badge=int(c["LOGIN_MAX_BADGE"]),
        max_indirizzo=int(c["LOGIN_MAX_ADDRESS"]),
        finestra=timedelta(minutes=float(c["LOGIN_WINDOW_MINUTES"])),
        blocco=timedelta(minutes=float(c["LOGIN_LOCK_MINUTES"])),
        conservazione=timedelta(days=float(c["LOGIN_KEEP_DAYS"])),
    )


def login_refused(exc: RuleViolation) -> tuple[int, dict[str, str]]:
    """Status and headers for a refused login: 429 with Retry-After when locked out."""
    if isinstance(exc, auth_service.AccessoBloccato):
        minuti = exc.params["minuti"]
        assert isinstance(minuti, int)  # AccessoBloccato(minuti: int)
        return 429, {"Retry-After": str(minuti * 60)}
    return 400, {}


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used to send people elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("pages.home")  # the role's first screen: the dashboard, or the orders for operators


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Login form for supervisors and admins (badge code + password)."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    status, headers = 400, dict[str, str]()
    if form.validate_on_submit():
        segreto = hashing.new_session_secret()  # fresh at every login: no fixation
        try:
            actor = auth_service.authenticate_password(
                deps.session(),
                form.matricola.data,
                form.password.data,
                postazione=deps.postazione(),
                indirizzo=deps.postazione(),
                limiti=limiti_accesso(),
                sessione=segreto,
                sostituisce=session_secret(),
            )
        except RuleViolation as exc:
            error = exc.text(gettext)
            status, headers = login_refused(exc)
        else:
            start_office_session(actor, segreto)
            return redirect(_safe_next(form.next.data))
    if error is None and not form.errors:
        status = 200
    return render_template("auth/login.html", form=form, error=error), status, headers


@bp.post("/logout")
def logout():
    """End the session (on every server: its row is closed) and go back to the login page."""
    end_office_session()
    return redirect(url_for("auth.login"))


@bp.get("/badge-bloccati")
@requires(SUPERVISORE)
def badge_bloccati():
    """Badges locked now by wrong passwords or PINs, each with *Sblocca*."""
    return render_template(
        "auth/badge_bloccati.html", bloccati=auth_service.locked_badges(deps.session(), limiti_accesso())
    )


@bp.post("/badge-bloccati/<int:utente_id>/sblocca")
@requires(SUPERVISORE)
def sblocca_badge(utente_id: int):
    """Unlock a user's badge now (ACCESSO_SBLOCCATO); back to the list, or to the page in
    ``next`` (the admin's user page)."""
    utente, fine = auth_service.unlock_badge(
        deps.session(), actor=deps.actor(), utente_id=utente_id, limiti=limiti_accesso()
    )
    if fine is None:
        flash(gettext("Il badge %(matricola)s non era bloccato: può già accedere.", matricola=utente.matricola), "ok")
    else:
        flash(
            gettext(
                "Badge %(matricola)s sbloccato: %(nome)s può accedere subito.",
                matricola=utente.matricola,
                nome=utente.nome_completo,
            ),
            "ok",
        )
    target = _safe_next(request.form.get("next") or url_for("auth.badge_bloccati"))
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)  # 303: reloading the page does not post again


@bp.post("/lingua/<code>")
@public
def lingua(code: str):
    """Switch the interface language (Italian or English) for this browser session."""
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
