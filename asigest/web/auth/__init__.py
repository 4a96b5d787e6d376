"""Supervisor and admin login at ``/login``, logout, language choice."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from asigest.domain import hashing
from asigest.domain.accessi import LimitiAccesso
from asigest.errors import RuleViolation
from asigest.services import auth as auth_service
from asigest.web import deps
from asigest.web.access import end_office_session, public, session_secret, start_office_session

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    matricola = StringField(_l("Matricola"), validators=[DataRequired(message=_l("Indicare la matricola.")), Length(max=30)])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Indicare la password.")), Length(max=200)])
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


def login_refused(exc: RuleViolation) -> tuple[int, dict]:
    """Status and headers for a refused login: 429 with Retry-After when locked out."""
    if isinstance(exc, auth_service.AccessoBloccato):
        return 429, {"Retry-After": str(int(exc.params["minuti"]) * 60)}
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
    status, headers = 400, {}
    if form.validate_on_submit():
        segreto = hashing.new_session_secret()  # fresh at every login: no fixation
        try:
            actor = auth_service.authenticate_password(
                deps.session(), form.matricola.data, form.password.data, postazione=deps.postazione(),
                indirizzo=deps.postazione(), limiti=limiti_accesso(), sessione=segreto, sostituisce=session_secret(),
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


@bp.post("/lingua/<code>")
@public
def lingua(code: str):
    """Switch the interface language (Italian or English) for this browser session."""
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
