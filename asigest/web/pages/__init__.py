"""Supervisor pages: the ERP orders list and the order card with its production set-up."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_, Conflict, ErpUnavailable, InvalidInput, RuleViolation
from asigest.services import commesse as commesse_service
from asigest.services import configurazione
from asigest.services import drift as drift_service
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.htmx import is_htmx, vary_on_htmx
from asigest.web.pages.forms import ConfigForm, ModificaConfigForm
from asigest.web.tabelle import leggi_offset

bp = Blueprint("pages", __name__)

# Flash category of the production panel, so it shows only its own confirmations.
FLASH_CONFIG = "config"
# Refusals that belong next to the phase checkboxes rather than at the top of the form.
_ERRORI_FASI = {
    "NESSUNA_FASE",
    "FASE_CON_LOTTI",
    "FASE_PRIMA_DI_FASE_CON_LOTTI",
    "FASE_TIPO_DISATTIVATO",
    "FASE_TIPO_ASSENTE",
}
_RIFIUTI = (RuleViolation, Conflict, InvalidInput, ErpUnavailable)


@bp.get("/")
def home():
    """The start page for people who are logged in: the dashboard for supervisors and
    admins, the orders list for operators."""
    if deps.actor().puo(SUPERVISORE):
        return redirect(url_for("dashboard.cruscotto"))
    return redirect(url_for("pages.commesse"))


@bp.get("/commesse")
def commesse():
    """Open ERP orders with live search; htmx requests get just the results fragment, or
    with ``pannello=scostamenti`` the panel of orders drifted from the ERP (R12)."""
    q = (request.args.get("q") or "").strip()[:100]
    limit = current_app.config["PAGE_SIZE"]
    offset = leggi_offset(request.args.get("offset"))
    supervisore = deps.actor().puo(SUPERVISORE)
    if is_htmx() and request.args.get("pannello") == "scostamenti":
        # R12: every drifting order, for supervisors. The page loads this panel once it
        # shows, so that comparing every order in production never delays the list.
        in_scostamento = drift_service.scostamenti(deps.session(), deps.erp()) if supervisore else []
        html = render_template("commesse/_drift_elenco.html", in_scostamento=in_scostamento)
        return vary_on_htmx(current_app.make_response(html))
    pagina = commesse_service.list_commesse(
        deps.session(), deps.erp(), q=q or None, limit=limit, offset=offset, freschezza=deps.freschezza_commesse()
    )
    # R12: the drift of each configured row of this page.
    scostamenti = drift_service.scostamenti_di(deps.session(), [r.commessa for r in pagina.items if r.configurata])
    template = "commesse/_risultati.html" if is_htmx() else "commesse/lista.html"
    return vary_on_htmx(
        current_app.make_response(
            render_template(
                template,
                pagina=pagina,
                q=q,
                scostamenti=scostamenti,
                pannello_scostamenti=supervisore,
            )
        )
    )


@bp.get("/commesse/<int:commessa_id>")
def commessa(commessa_id: int):
    """The order card: ERP data, production set-up and phases."""
    return _scheda(commessa_id, pagina_intera=True)


# -- production set-up (R1–R3) on the order card ---------------------------------------


@bp.get("/commesse/<int:commessa_id>/produzione")
def produzione(commessa_id: int):
    """The card's production panel (htmx fragment; the whole card otherwise)."""
    return _scheda(commessa_id)


@bp.post("/commesse/<int:commessa_id>/config")
@requires(SUPERVISORE)
def config_crea(commessa_id: int):
    """Configure the order from the card's form."""
    form = ConfigForm()
    errore = None
    if form.validate_on_submit():
        try:
            configurazione.create_config(
                deps.session(), deps.erp(), actor=_actor(), commessa_erp_id=commessa_id, **form.valori()
            )
        except _RIFIUTI as refused:
            errore = _errori_nel_form(form, refused)
        else:
            return _salvato(commessa_id, N_("Commessa configurata: le fasi sono pronte ai terminali."))
    return _scheda(commessa_id, form=form, errore=errore, status=400)


@bp.route("/commesse/<int:commessa_id>/config/modifica", methods=["GET", "POST"])
@requires(SUPERVISORE)
def config_modifica(commessa_id: int):
    """Edit the order's configuration (GET: the form; POST: save it)."""
    session = deps.session()
    config = configurazione.get_config_commessa(session, commessa_id)
    if request.method == "GET":
        form = ModificaConfigForm(
            formdata=None, data={name: getattr(config, name) for name in configurazione.MODIFICABILI}
        )
        return _scheda(commessa_id, form=form)
    form = ModificaConfigForm()
    errore = None
    if form.validate_on_submit():
        try:
            configurazione.update_config(session, deps.erp(), actor=_actor(), config_id=config.id, **form.valori())
        except _RIFIUTI as refused:
            errore = _errori_nel_form(form, refused)
        else:
            return _salvato(commessa_id, N_("Configurazione salvata."))
    return _scheda(commessa_id, form=form, errore=errore, status=400)


@bp.post("/commesse/<int:commessa_id>/config/elimina")
@requires(SUPERVISORE)
def config_elimina(commessa_id: int):
    """Delete the order's configuration and its phases (refused once lotti exist)."""
    session = deps.session()
    config = configurazione.get_config_commessa(session, commessa_id)
    try:
        configurazione.delete_config(session, actor=_actor(), config_id=config.id)
    except _RIFIUTI as refused:
        return _scheda(commessa_id, errore=refused.text(gettext), status=400)
    return _salvato(commessa_id, N_("Configurazione eliminata: la commessa non è più producibile ai terminali."))


def _actor():
    """The logged-in person, with the client address as Postazione for the audit log."""
    return replace(deps.actor(), postazione=deps.postazione())


def _salvato(commessa_id: int, messaggio: str):
    """After a change: htmx gets the refreshed panel, a plain form post is redirected to the card."""
    flash(messaggio, FLASH_CONFIG)
    if is_htmx():
        return _scheda(commessa_id)
    return redirect(url_for("pages.commessa", commessa_id=commessa_id, _anchor="produzione"))


def _errori_nel_form(form: ConfigForm, refused) -> str | None:
    """Put a service refusal next to the field it concerns; return the form-wide message, if any."""
    if isinstance(refused, InvalidInput):
        for campo, messaggi in refused.errors.items():
            field = getattr(form, ConfigForm.CAMPI.get(campo, ""), None)
            if field is None:
                return refused.text(gettext)
            field.errors = [*field.errors, *(gettext(m) for m in messaggi)]
        return None
    if refused.code in _ERRORI_FASI:
        form.errori_fasi = (refused.text(gettext),)
        return None
    return refused.text(gettext)


def _scheda(
    commessa_id: int,
    *,
    form: ConfigForm | None = None,
    errore: str | None = None,
    status: int = 200,
    pagina_intera: bool = False,
):
    """The order card, or — for htmx, unless ``pagina_intera`` — just its production panel.

    ``form`` is shown when given (a create form only while the order has no config, an
    edit form only while it has one); otherwise an unconfigured open order shows a fresh
    create form to supervisors. Errors answer htmx with 200 so that it swaps them in.
    """
    session = deps.session()
    d = commesse_service.get_commessa(session, deps.erp(), commessa_id)
    fasi = configurazione.con_disponibile(session, d.fasi)
    puo_configurare = deps.actor().puo(SUPERVISORE)
    modifica = isinstance(form, ModificaConfigForm)
    if not puo_configurare or (form is not None and modifica != (d.config is not None)):
        form = None
    if form is None and puo_configurare and d.config is None and d.commessa.aperta:
        form = ConfigForm(formdata=None)
    frammento = is_htmx() and not pagina_intera
    template = "commesse/_produzione.html" if frammento else "commesse/scheda.html"
    html = render_template(
        template,
        d=d,
        fasi=fasi,
        form=form,
        modifica=modifica,
        errore=errore,
        puo_configurare=puo_configurare,
        flash_config=FLASH_CONFIG,
    )
    response = current_app.make_response((html, 200 if frammento else status))
    return vary_on_htmx(response)
