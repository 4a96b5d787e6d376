"""Admin pages for people: users (data, PIN, password, badge lock, state) and their API tokens.

A user's page shows whether the badge is locked now by wrong PINs or passwords and until
when, with *Sblocca il badge*, which posts to ``auth.sblocca_badge`` — the same route
supervisors reach from ``/badge-bloccati`` (these pages stay ADMIN-only).
"""

from __future__ import annotations

from datetime import datetime

from flask import redirect, render_template, request, url_for
from flask_babel import gettext
from wtforms.fields.choices import SelectChoice

from asigest.domain.ruoli import ADMIN, RUOLI
from asigest.errors import N_, InvalidInput, NotFound, RuleViolation
from asigest.services import auth as auth_service
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.admin import (
    LIMITE_ELENCO,
    bp,
    errori_nel_form,
    fatto,
    pagina_o_frammento,
    stato_form_errato,
    testo,
)
from asigest.web.admin.crud import Anagrafica, Schede
from asigest.web.admin.forms import FiltroUtentiForm, PasswordForm, PinForm, TokenForm, UtenteForm, UtenteModificaForm
from asigest.web.auth import limiti_accesso
from asigest.web.filters import etichetta
from asigest.web.htmx import is_htmx

_STATI = {"attivi": True, "disattivati": False, "tutti": None}


@bp.get("/")
@requires(ADMIN)
def indice():
    """The administration's start page: the users list."""
    return redirect(url_for("admin.utenti"))


def _blocco(utente) -> datetime | None:
    """Until when the user's badge is locked by wrong PINs or passwords (None: it is not)."""
    return auth_service.badge_lock_end(deps.session(), utente, limiti_accesso())


class Utenti(Schede):
    """Users: a live filter (text, role, state), a page to add one (badge, name, role and
    the first PIN and/or password), the user's own page (``utente``) whose data form
    posts to ``utente_salva``; deactivating is the only way out (no deletion)."""

    url, elenco, nome, id = "/utenti", "utenti", "utente", "utente_id"
    pagina, frammento, riga, variabile = (
        "admin/utenti.html",
        "admin/_utenti_elenco.html",
        "admin/_utente_riga.html",
        "u",
    )
    scheda, scheda_form, variabile_scheda = "admin/utente.html", "admin/_utente_form.html", "utente"
    nuova = "nuovo"
    pagina_propria = True

    def filtro(self) -> dict:
        """Users with a live filter (text, role, state); htmx gets just the list."""
        filtro = FiltroUtentiForm(formdata=request.args)
        filtro.validate()
        q = "" if filtro.q.errors else (filtro.q.data or "").strip()
        elenco = auth_service.list_users(
            deps.session(),
            q=q or None,
            ruolo=filtro.ruolo.data if filtro.ruolo.data in RUOLI else None,
            attivo=_STATI.get(filtro.stato.data, True),
            limit=LIMITE_ELENCO + 1,
        )
        return {"filtro": filtro, "utenti": elenco[:LIMITE_ELENCO], "troppi": len(elenco) > LIMITE_ELENCO}

    def trova(self, utente_id: int):
        return auth_service.get_user(deps.session(), utente_id)

    def form(self, utente=None):
        # Editing takes only what was posted: the secrets have forms of their own.
        return UtenteForm() if utente is None else UtenteModificaForm()

    def crea(self, form):
        return auth_service.create_user(
            deps.session(),
            actor=deps.actor(),
            matricola=testo(form.matricola.data),
            nome=testo(form.nome.data),
            cognome=testo(form.cognome.data),
            ruolo=form.ruolo.data,
            pin=form.pin.data or None,
            password=form.password.data or None,
            lingua=form.lingua.data or None,
        )

    def aggiorna(self, utente_id: int, form):
        return auth_service.update_user(
            deps.session(),
            actor=deps.actor(),
            utente_id=utente_id,
            matricola=testo(form.matricola.data),
            nome=testo(form.nome.data),
            cognome=testo(form.cognome.data),
            ruolo=form.ruolo.data,
            lingua=form.lingua.data or None,
        )

    def creato(self, utente) -> str:
        return gettext("Utente %(matricola)s creato.", matricola=utente.matricola)

    def salvato(self, utente) -> str:
        return gettext("Utente %(matricola)s salvato.", matricola=utente.matricola)

    def contesto_scheda(self, utente) -> dict:
        return {"pin_form": PinForm(), "password_form": PasswordForm(), "blocco": _blocco(utente)}

    def dopo_azione(self, utente_id: int) -> str:
        """A browser goes back to the user's page (refusals — yourself, the last admin —
        show in the messages area or on the error page)."""
        return url_for("admin.utente", utente_id=utente_id)

    def disattiva(self, utente_id: int):
        """Deactivate a user: no more logins, API tokens stop working; the row stays."""
        utente = auth_service.deactivate_user(deps.session(), actor=deps.actor(), utente_id=utente_id)
        return utente, gettext("Utente %(matricola)s disattivato.", matricola=utente.matricola)

    def riattiva(self, utente_id: int):
        """Let a deactivated user log in again."""
        utente = auth_service.reactivate_user(deps.session(), actor=deps.actor(), utente_id=utente_id)
        return utente, gettext("Utente %(matricola)s riattivato.", matricola=utente.matricola)


Utenti().registra(bp)


@bp.get("/utenti/<int:utente_id>")
@requires(ADMIN)
def utente(utente_id: int):
    """One user's page: data, new PIN, new password, the badge's lock, state."""
    trovato = auth_service.get_user(deps.session(), utente_id)
    return render_template(
        "admin/utente.html",
        form=UtenteModificaForm(obj=trovato),
        utente=trovato,
        pin_form=PinForm(),
        password_form=PasswordForm(),
        blocco=_blocco(trovato),
    )


def _segreto(utente_id: int, campo: str):
    """Set a new PIN or password from its own small form; htmx gets the form back, emptied,
    with the outcome."""
    trovato = auth_service.get_user(deps.session(), utente_id)
    form = PinForm() if campo == "pin" else PasswordForm()
    status = stato_form_errato()
    esito = None
    if form.validate_on_submit():
        valore = getattr(form, campo).data or ""
        try:
            if campo == "pin":
                auth_service.reset_pin(deps.session(), actor=deps.actor(), utente_id=utente_id, pin=valore)
                esito = gettext("Nuovo PIN impostato: comunicarlo a %(nome)s.", nome=trovato.nome_completo)
            else:
                auth_service.set_password(deps.session(), actor=deps.actor(), utente_id=utente_id, password=valore)
                esito = gettext("Nuova password impostata per %(nome)s.", nome=trovato.nome_completo)
        except InvalidInput as error:
            status = errori_nel_form(form, error)
        else:
            if not is_htmx():
                return fatto(url_for("admin.utente", utente_id=utente_id), esito)
            status = 200
    if is_htmx():
        return pagina_o_frammento(
            "admin/utente.html",
            "admin/_utente_segreto.html",
            status=status,
            utente=trovato,
            segreto=campo,
            esito=esito,
            form=form,
        )
    return render_template(
        "admin/utente.html",
        utente=trovato,
        form=UtenteModificaForm(obj=trovato),
        pin_form=form if campo == "pin" else PinForm(),
        password_form=form if campo == "password" else PasswordForm(),
        blocco=_blocco(trovato),
    ), status


@bp.post("/utenti/<int:utente_id>/pin")
@requires(ADMIN)
def utente_pin(utente_id: int):
    """Give the user a new kiosk PIN."""
    return _segreto(utente_id, "pin")


@bp.post("/utenti/<int:utente_id>/password")
@requires(ADMIN)
def utente_password(utente_id: int):
    """Give the user a new login password."""
    return _segreto(utente_id, "password")


# -- API tokens ------------------------------------------------------------------------------


def _token_form() -> TokenForm:
    form = TokenForm()
    attivi = auth_service.list_users(deps.session(), attivo=True, limit=LIMITE_ELENCO)
    form.matricola.choices = [SelectChoice("", gettext("— scegliere —"))] + [
        SelectChoice(u.matricola, f"{u.cognome} {u.nome} · {u.matricola} · {etichetta(u.ruolo)}") for u in attivi
    ]
    return form


@bp.get("/token")
@requires(ADMIN)
def token():
    """API tokens (prefix, user, state) and the form that creates one."""
    return pagina_o_frammento(
        "admin/token.html",
        "admin/_token_contenuto.html",
        form=_token_form(),
        tokens=auth_service.list_tokens(deps.session()),
        nuovo=None,
    )


@bp.post("/token")
@requires(ADMIN)
def token_crea():
    """Create a token for a user and show it once; only its hash is kept."""
    form = _token_form()
    status = stato_form_errato()
    nuovo = None
    if form.validate_on_submit():
        try:
            if not form.matricola.data:
                raise InvalidInput({"matricola": [N_("Scegliere l'utente per cui agisce il token.")]})
            nuovo = auth_service.create_token(
                deps.session(), actor=deps.actor(), matricola=form.matricola.data, descrizione=form.descrizione.data
            )
        except (InvalidInput, RuleViolation) as error:
            status = errori_nel_form(form, error)
        except NotFound as error:
            form.matricola.errors = [error.text(gettext)]
            status = 200 if is_htmx() else error.status
        else:
            status = 200 if is_htmx() else 201
            form = _token_form()
            form.matricola.data = form.descrizione.data = ""
    return pagina_o_frammento(
        "admin/token.html",
        "admin/_token_contenuto.html",
        status=status,
        form=form,
        tokens=auth_service.list_tokens(deps.session()),
        nuovo=nuovo,
    )


class Token(Anagrafica):
    """API tokens: the page above creates them; a list row revokes one."""

    url, elenco, nome, id = "/token", "token", "token", "token_id"
    riga, variabile = "admin/_token_riga.html", "t"
    azioni = ("revoca",)

    def revoca(self, token_id: int):
        """Revoke a token: it stops working on the next request."""
        record = auth_service.revoke_token(deps.session(), actor=deps.actor(), token_id=token_id)
        return record, gettext("Token %(prefisso)s… revocato.", prefisso=record.prefisso)


Token().registra(bp)
