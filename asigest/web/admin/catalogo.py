"""Admin pages for the plant's catalog: machines, scrap reasons, phase types.

Machines have a page per record; scrap reasons and phase types are small, so each list
row turns into its own form in place (htmx) and back.
"""

from __future__ import annotations

from flask import make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from wtforms.fields.choices import SelectChoice

from asigest.domain.ruoli import ADMIN
from asigest.errors import Conflict, InvalidInput, RuleViolation
from asigest.services import anagrafiche as anagrafiche_service
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
    tipi_documento,
)
from asigest.web.admin.forms import CausaleForm, FaseTipoForm, MacchinaForm
from asigest.web.htmx import is_htmx, vary_on_htmx

_RIFIUTI = (InvalidInput, Conflict, RuleViolation)


def _scelte_fase(form_field, *, qualsiasi: bool = False, attuale: str | None = None) -> None:
    """Fill a phase-type select with the active types (plus the current one, even if retired)."""
    tipi = anagrafiche_service.list_fasi_tipo(deps.session())
    scelte = [SelectChoice("", gettext("Qualsiasi fase") if qualsiasi else gettext("— scegliere —"))]
    scelte += [SelectChoice(t.codice, f"{t.codice} · {t.descrizione}") for t in tipi if t.attivo or t.codice == attuale]
    form_field.choices = scelte


# -- macchine -------------------------------------------------------------------------------


@bp.get("/macchine")
@requires(ADMIN)
def macchine():
    """Machines by code, filtered by phase type and state."""
    fase = (request.args.get("fase") or "").strip()[:20]
    stato = request.args.get("stato", "attive")
    attiva = {"attive": True, "disattivate": False}.get(stato)
    elenco = anagrafiche_service.list_macchine(deps.session(), fase_tipo=fase or None, attiva=attiva, limit=LIMITE_ELENCO + 1)
    return pagina_o_frammento(
        "admin/macchine.html", "admin/_macchine_elenco.html",
        macchine=elenco[:LIMITE_ELENCO], troppi=len(elenco) > LIMITE_ELENCO, fase=fase, stato=stato,
        tipi=anagrafiche_service.list_fasi_tipo(deps.session()),
    )


@bp.route("/macchine/nuova", methods=["GET", "POST"])
@requires(ADMIN)
def macchina_nuova():
    """Add a machine: code, phase type, department."""
    form = MacchinaForm()
    _scelte_fase(form.fase_tipo)
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            macchina = anagrafiche_service.create_macchina(
                deps.session(), actor=deps.actor(), codice=testo(form.codice.data), fase_tipo=testo(form.fase_tipo.data),
                descrizione=form.descrizione.data, reparto=form.reparto.data, licenza=deps.licenza(),
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            return fatto(url_for("admin.macchine"), gettext("Macchina %(codice)s creata.", codice=macchina.codice))
    elif not form.is_submitted():
        status = 200
    return pagina_o_frammento("admin/macchina.html", "admin/_macchina_form.html", status=status, form=form, macchina=None)


@bp.route("/macchine/<int:macchina_id>", methods=["GET", "POST"])
@requires(ADMIN)
def macchina(macchina_id: int):
    """Edit a machine."""
    trovata = anagrafiche_service.get_macchina(deps.session(), macchina_id)
    form = MacchinaForm(data={
        "codice": trovata.codice, "descrizione": trovata.descrizione, "fase_tipo": trovata.fase_tipo.codice,
        "reparto": trovata.reparto,
    })
    _scelte_fase(form.fase_tipo, attuale=trovata.fase_tipo.codice)
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            anagrafiche_service.update_macchina(
                deps.session(), actor=deps.actor(), macchina_id=macchina_id,
                codice=testo(form.codice.data), fase_tipo=testo(form.fase_tipo.data),
                descrizione=testo(form.descrizione.data), reparto=testo(form.reparto.data),
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            return fatto(url_for("admin.macchine"), gettext("Macchina %(codice)s salvata.", codice=trovata.codice))
    elif not form.is_submitted():
        status = 200
    return pagina_o_frammento("admin/macchina.html", "admin/_macchina_form.html", status=status, form=form, macchina=trovata)


def _stato_macchina(macchina_id: int, attiva: bool):
    """Take a machine out of service or back; htmx gets the list row back."""
    if attiva:
        trovata = anagrafiche_service.reactivate_macchina(
            deps.session(), actor=deps.actor(), macchina_id=macchina_id, licenza=deps.licenza()
        )
        messaggio = gettext("Macchina %(codice)s riattivata.", codice=trovata.codice)
    else:
        trovata = anagrafiche_service.deactivate_macchina(deps.session(), actor=deps.actor(), macchina_id=macchina_id)
        messaggio = gettext("Macchina %(codice)s disattivata.", codice=trovata.codice)
    if is_htmx():
        return pagina_o_frammento("admin/macchine.html", "admin/_macchina_riga.html", m=trovata)
    return fatto(url_for("admin.macchine"), messaggio)


@bp.post("/macchine/<int:macchina_id>/disattiva")
@requires(ADMIN)
def macchina_disattiva(macchina_id: int):
    """Take a machine out of service (refused while a lotto is open on it)."""
    return _stato_macchina(macchina_id, False)


@bp.post("/macchine/<int:macchina_id>/riattiva")
@requires(ADMIN)
def macchina_riattiva(macchina_id: int):
    """Put a machine back in service."""
    return _stato_macchina(macchina_id, True)


# -- causali di scarto ------------------------------------------------------------------------


def _causale_form(causale=None) -> CausaleForm:
    if causale is None:
        form = CausaleForm()
    else:
        form = CausaleForm(data={
            "codice": causale.codice, "descrizione": causale.descrizione, "attiva": causale.attiva,
            "fase_tipo": causale.fase_tipo.codice if causale.fase_tipo else "",
        })
    _scelte_fase(form.fase_tipo, qualsiasi=True, attuale=causale.fase_tipo.codice if causale and causale.fase_tipo else None)
    return form


def _pagina_causali(*, status: int = 200, nuova=None, modifica=None, form_modifica=None):
    """The whole scrap-reasons page, optionally with the row ``modifica`` open as a form."""
    html = render_template(
        "admin/causali.html",
        causali=anagrafiche_service.list_causali(deps.session(), limit=LIMITE_ELENCO),
        nuova=nuova or _causale_form(), modifica_id=modifica, form_modifica=form_modifica,
    )
    return vary_on_htmx(make_response(html, status))


@bp.get("/causali")
@requires(ADMIN)
def causali():
    """Scrap reasons, with the form for a new one; each row edits in place."""
    return _pagina_causali()


@bp.post("/causali")
@requires(ADMIN)
def causale_nuova():
    """Add a scrap reason (phase type empty = any phase)."""
    form = _causale_form()
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            causale = anagrafiche_service.create_causale(
                deps.session(), actor=deps.actor(), codice=testo(form.codice.data),
                descrizione=testo(form.descrizione.data), fase_tipo=form.fase_tipo.data or None, attiva=form.attiva.data,
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            return fatto(url_for("admin.causali"), gettext("Causale %(codice)s creata.", codice=causale.codice))
    if is_htmx():
        return pagina_o_frammento("admin/causali.html", "admin/_causale_nuova.html", status=status, form=form)
    return _pagina_causali(status=status, nuova=form)


@bp.get("/causali/<int:causale_id>")
@requires(ADMIN)
def causale_riga(causale_id: int):
    """A scrap reason's list row (htmx: back from editing); a browser goes to the list."""
    causale = anagrafiche_service.get_causale(deps.session(), causale_id)
    if not is_htmx():
        return vary_on_htmx(redirect(url_for("admin.causali")))
    return pagina_o_frammento("admin/causali.html", "admin/_causale_riga.html", c=causale, form=None)


@bp.get("/causali/<int:causale_id>/modifica")
@requires(ADMIN)
def causale_modifica(causale_id: int):
    """A scrap reason's row as a form (htmx), or the list with that row open."""
    causale = anagrafiche_service.get_causale(deps.session(), causale_id)
    form = _causale_form(causale)
    if is_htmx():
        return pagina_o_frammento("admin/causali.html", "admin/_causale_riga.html", c=causale, form=form)
    return _pagina_causali(modifica=causale.id, form_modifica=form)


@bp.post("/causali/<int:causale_id>")
@requires(ADMIN)
def causale_salva(causale_id: int):
    """Save a scrap reason from its row; htmx gets the row back (or the row form with errors)."""
    causale = anagrafiche_service.get_causale(deps.session(), causale_id)
    form = _causale_form(causale)
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            causale = anagrafiche_service.update_causale(
                deps.session(), actor=deps.actor(), causale_id=causale_id, codice=testo(form.codice.data),
                descrizione=testo(form.descrizione.data), fase_tipo=form.fase_tipo.data or None, attiva=form.attiva.data,
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            if is_htmx():
                return pagina_o_frammento("admin/causali.html", "admin/_causale_riga.html", c=causale, form=None)
            return fatto(url_for("admin.causali"), gettext("Causale %(codice)s salvata.", codice=causale.codice))
    if is_htmx():
        return pagina_o_frammento("admin/causali.html", "admin/_causale_riga.html", status=status, c=causale, form=form)
    return _pagina_causali(status=status, modifica=causale.id, form_modifica=form)


# -- tipi di fase -------------------------------------------------------------------------------


def _fase_tipo_form(tipo=None) -> FaseTipoForm:
    form = FaseTipoForm(obj=tipo) if tipo is not None else FaseTipoForm()
    tipi = tipi_documento()
    extra = [t for t in (tipo.documenti_richiesti if tipo is not None else []) if t not in tipi]
    form.documenti_richiesti.choices = [SelectChoice(t) for t in (*tipi, *extra)]
    return form


def _pagina_fasi(*, status: int = 200, nuova=None, modifica=None, form_modifica=None):
    """The whole phase-types page, optionally with the row ``modifica`` open as a form."""
    html = render_template(
        "admin/fasi_tipo.html",
        tipi=anagrafiche_service.list_fasi_tipo(deps.session()),
        nuova=nuova or _fase_tipo_form(), modifica_id=modifica, form_modifica=form_modifica,
    )
    return vary_on_htmx(make_response(html, status))


@bp.get("/fasi-tipo")
@requires(ADMIN)
def fasi_tipo():
    """Phase types in flow order: description, position, required documents, state."""
    return _pagina_fasi()


@bp.post("/fasi-tipo")
@requires(ADMIN)
def fase_tipo_nuova():
    """Add a phase type (its code can never change afterwards)."""
    form = _fase_tipo_form()
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            tipo = anagrafiche_service.create_fase_tipo(
                deps.session(), actor=deps.actor(), codice=testo(form.codice.data),
                descrizione=testo(form.descrizione.data), ordine=form.ordine.data,
                documenti_richiesti=form.documenti_richiesti.data or [], attivo=form.attivo.data,
                tipi_ammessi=tipi_documento(),
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            return fatto(url_for("admin.fasi_tipo"), gettext("Tipo di fase %(codice)s creato.", codice=tipo.codice))
    if is_htmx():
        return pagina_o_frammento("admin/fasi_tipo.html", "admin/_fase_tipo_nuova.html", status=status, form=form)
    return _pagina_fasi(status=status, nuova=form)


@bp.get("/fasi-tipo/<int:fase_tipo_id>")
@requires(ADMIN)
def fase_tipo_riga(fase_tipo_id: int):
    """A phase type's list row (htmx: back from editing); a browser goes to the list."""
    tipo = anagrafiche_service.get_fase_tipo(deps.session(), fase_tipo_id)
    if not is_htmx():
        return vary_on_htmx(redirect(url_for("admin.fasi_tipo")))
    return pagina_o_frammento("admin/fasi_tipo.html", "admin/_fase_tipo_riga.html", t=tipo, form=None)


@bp.get("/fasi-tipo/<int:fase_tipo_id>/modifica")
@requires(ADMIN)
def fase_tipo_modifica(fase_tipo_id: int):
    """A phase type's row as a form (htmx), or the list with that row open."""
    tipo = anagrafiche_service.get_fase_tipo(deps.session(), fase_tipo_id)
    form = _fase_tipo_form(tipo)
    if is_htmx():
        return pagina_o_frammento("admin/fasi_tipo.html", "admin/_fase_tipo_riga.html", t=tipo, form=form)
    return _pagina_fasi(modifica=tipo.id, form_modifica=form)


@bp.post("/fasi-tipo/<int:fase_tipo_id>")
@requires(ADMIN)
def fase_tipo_salva(fase_tipo_id: int):
    """Save a phase type from its row: description, position, required documents, state."""
    tipo = anagrafiche_service.get_fase_tipo(deps.session(), fase_tipo_id)
    form = _fase_tipo_form(tipo)
    status = stato_form_errato()
    if form.validate_on_submit():
        try:
            tipo = anagrafiche_service.update_fase_tipo(
                deps.session(), actor=deps.actor(), fase_tipo_id=fase_tipo_id,
                descrizione=testo(form.descrizione.data), ordine=form.ordine.data,
                documenti_richiesti=form.documenti_richiesti.data or [], attivo=form.attivo.data,
                tipi_ammessi=tipi_documento(),
            )
        except _RIFIUTI as error:
            status = errori_nel_form(form, error)
        else:
            if is_htmx():
                return pagina_o_frammento("admin/fasi_tipo.html", "admin/_fase_tipo_riga.html", t=tipo, form=None)
            return fatto(url_for("admin.fasi_tipo"), gettext("Tipo di fase %(codice)s salvato.", codice=tipo.codice))
    if is_htmx():
        return pagina_o_frammento("admin/fasi_tipo.html", "admin/_fase_tipo_riga.html", status=status, t=tipo, form=form)
    return _pagina_fasi(status=status, modifica=tipo.id, form_modifica=form)
