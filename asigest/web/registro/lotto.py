"""One lotto for supervisors (``/lotti/<id>``): data, history, correction (R10), cancellation;
and a fase's state changed by hand from the order card (``/fasi/<id>/stato``, R8).

Forms work as plain HTML posts (a 303 back to the page on success); with htmx the lotto
form swaps the ``#lotto-pannello`` panel (errors next to the fields, what was typed
kept), and a fase state form answers with the order card's refreshed ``#produzione``
panel or, refused, swaps back into its own table row. A cancelled lotto's address keeps
answering with what the audit log kept of it and a link to its order.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from asigest.domain import lotti as regole
from asigest.domain.ruoli import SUPERVISORE
from asigest.domain.stati import COMPLETATA, SOSPESA, STATI_FASE
from asigest.errors import N_, AsigestError, InvalidInput, NotFound
from asigest.services import rettifiche
from asigest.services.uow import DbSession
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.filters import etichetta
from asigest.web.htmx import is_htmx, vary_on_htmx
from asigest.web.pages import FLASH_CONFIG, _scheda
from asigest.web.registro import bp

FLASH_LOTTO = "lotto"
_INT32_MAX = 2**31 - 1
_NUMERO = re.compile(r"[0-9]{1,10}")


# -- forms (shape only; the rules are the service's) -------------------------------------


def _intero_non_negativo(form, field) -> None:
    testo = (field.data or "").strip()
    if not _NUMERO.fullmatch(testo) or int(testo) > _INT32_MAX:
        raise ValidationError(gettext("Indicare un numero intero da 0 in su."))


def _motivo_campo(testo):
    return TextAreaField(testo, validators=[Length(max=rettifiche.MAX_MOTIVO, message=_l("Al massimo 500 caratteri."))])


class RettificaForm(FlaskForm):
    qta_output = StringField(_l("Pezzi buoni"), validators=[_intero_non_negativo])
    qta_scarti = StringField(_l("Scarti"), validators=[_intero_non_negativo])
    causale = SelectField(_l("Causale di scarto"), choices=[], validate_choice=False)
    motivo = _motivo_campo(_l("Motivo della rettifica"))

    # The service's field names → this form's fields, for its refusals.
    CAMPI = {"QtaOutput": "qta_output", "QtaScarti": "qta_scarti", "CausaleScarto": "causale", "Motivo": "motivo"}


class AnnullaForm(FlaskForm):
    motivo = _motivo_campo(_l("Motivo dell'annullamento"))

    CAMPI = {"Motivo": "motivo"}


class FaseStatoForm(FlaskForm):
    stato = HiddenField()
    motivo = _motivo_campo(_l("Motivo"))

    CAMPI = {"Motivo": "motivo"}


# Refusals that concern one field of the correction form rather than the whole of it.
_CAMPO_PER_CODICE = {"CAUSALE_NON_VALIDA": "causale", "RETTIFICA_SUPERA_DISPONIBILE": "qta_output"}


# -- one lotto ---------------------------------------------------------------------------


@bp.get("/lotti/<int:lotto_id>")
def lotto(lotto_id: int):
    """A lotto's data and history; supervisors also correct (closed) or cancel (open) it."""
    try:
        scheda = rettifiche.scheda_lotto(deps.session(), deps.erp(), lotto_id)
    except NotFound:
        annullato = rettifiche.lotto_annullato(deps.session(), lotto_id, deps.erp())
        if annullato is None:
            raise
        return _annullato(annullato, lotto_id)
    return _pannello(scheda)


@bp.post("/lotti/<int:lotto_id>/rettifica")
@requires(SUPERVISORE)
def lotto_rettifica(lotto_id: int):
    """Correct a closed lotto's good pieces, scrap and reason, with a reason (R10)."""
    session = deps.session()
    scheda = rettifiche.scheda_lotto(session, deps.erp(), lotto_id)
    form = RettificaForm()
    _scelte_causali(form, scheda)
    if not form.validate_on_submit():
        return _pannello(scheda, rettifica=form, status=422)
    try:
        corretto = rettifiche.rettifica_lotto(
            session,
            actor=deps.actor(),
            lotto_id=lotto_id,
            qta_output=int(form.qta_output.data),
            qta_scarti=int(form.qta_scarti.data),
            causale=form.causale.data or None,
            motivo=form.motivo.data,
        )
    except AsigestError as refused:
        status = _errori_nel_form(form, refused, _CAMPO_PER_CODICE)
        errori = regole.errori_chiusura(
            scheda.lotto.qta_input, int(form.qta_output.data), int(form.qta_scarti.data), bool(form.causale.data)
        )
        if isinstance(refused, InvalidInput) and errori:
            # The reason is checked first; say at once what R7 will refuse next.
            _errori_nel_form(form, InvalidInput(errori), {})
        return _pannello(scheda, rettifica=form, status=status)
    fase = rettifiche.fase_disponibile(session, corretto.fase_id)
    flash(
        gettext(
            "Rettifica salvata. Fase %(fase)s ora: %(prodotta)s pezzi buoni, %(scarti)s scarti (%(stato)s).",
            fase=fase.fase_tipo.codice,
            prodotta=fase.qta_prodotta,
            scarti=fase.qta_scarti,
            stato=etichetta(fase.stato),
        ),
        FLASH_LOTTO,
    )
    response = _fatto(
        url_for("registro.lotto", lotto_id=lotto_id),
        lambda: _pannello(rettifiche.scheda_lotto(session, deps.erp(), lotto_id)),
    )
    if is_htmx():
        # The confirmation and the new totals are at the top of the panel: show them.
        response.headers["HX-Reswap"] = "outerHTML show:#lotto-pannello:top"
    return response


@bp.post("/lotti/<int:lotto_id>/annulla")
@requires(SUPERVISORE)
def lotto_annulla(lotto_id: int):
    """Cancel a lotto opened by mistake, while it is open, with a reason."""
    session = deps.session()
    scheda = rettifiche.scheda_lotto(session, deps.erp(), lotto_id)
    form = AnnullaForm()
    if not form.validate_on_submit():
        return _pannello(scheda, annulla=form, status=422)
    try:
        rettifiche.annulla_lotto(session, actor=deps.actor(), lotto_id=lotto_id, motivo=form.motivo.data)
    except AsigestError as refused:
        return _pannello(scheda, annulla=form, status=_errori_nel_form(form, refused, {}))
    flash(gettext("Lotto %(codice)s annullato.", codice=scheda.lotto.codice_lotto), FLASH_LOTTO)
    return _fatto(
        url_for("registro.lotto", lotto_id=lotto_id),
        lambda: _appena_annullato(session, lotto_id),
    )


def _appena_annullato(session: DbSession, lotto_id: int) -> ResponseReturnValue:
    """The cancelled lotto's page, right after this request cancelled it."""
    annullato = rettifiche.lotto_annullato(session, lotto_id, deps.erp())
    if annullato is None:  # its audit row was committed with the cancellation
        abort(404)
    return _annullato(annullato, lotto_id)


def _pannello(
    scheda: rettifiche.SchedaLotto,
    *,
    rettifica: RettificaForm | None = None,
    annulla: AnnullaForm | None = None,
    status: int = 200,
):
    """The lotto page, or for htmx its ``#lotto-pannello``; the forms a supervisor may use,
    fresh unless a refused one (with what was typed and its errors) is given."""
    lotto_ = scheda.lotto
    supervisore = deps.actor().puo(SUPERVISORE)
    if supervisore and lotto_.data_fine is not None and rettifica is None:
        rettifica = RettificaForm(
            formdata=None,
            data={
                "qta_output": str(lotto_.qta_output),
                "qta_scarti": str(lotto_.qta_scarti),
                "causale": lotto_.causale.codice if lotto_.causale else "",
            },
        )
        _scelte_causali(rettifica, scheda)
    if supervisore and lotto_.data_fine is None and annulla is None:
        annulla = AnnullaForm(formdata=None)
    template = "lotti/_pannello.html" if is_htmx() else "lotti/lotto.html"
    html = render_template(
        template,
        scheda=scheda,
        lotto=lotto_,
        fase=scheda.fase,
        rettifica=rettifica,
        annulla=annulla,
        supervisore=supervisore,
        storia_url=_url_storia(lotto_.id),
        flash_lotto=FLASH_LOTTO,
    )
    return vary_on_htmx(current_app.make_response((html, 200 if is_htmx() else status)))


def _annullato(annullato: rettifiche.LottoAnnullato, lotto_id: int):
    """What remains of a cancelled lotto: its data as the audit log kept it, and its order."""
    template = "lotti/_annullato.html" if is_htmx() else "lotti/annullato.html"
    inizio = annullato.dati.get("DataInizio")
    html = render_template(
        template,
        annullato=annullato,
        dati=annullato.dati,
        inizio=datetime.fromisoformat(inizio) if isinstance(inizio, str) and inizio else None,
        storia_url=_url_storia(lotto_id),
        flash_lotto=FLASH_LOTTO,
        supervisore=deps.actor().puo(SUPERVISORE),
    )
    return vary_on_htmx(current_app.make_response(html))


def _scelte_causali(form: RettificaForm, scheda: rettifiche.SchedaLotto) -> None:
    form.causale.choices = [("", gettext("— nessuna (solo senza scarti) —"))] + [
        (c.codice, f"{c.codice} · {c.descrizione}" + ("" if c.attiva else " " + gettext("(disattivata)")))
        for c in scheda.causali
    ]


def _url_storia(lotto_id: int) -> str:
    """The audit log viewer's fragment for this lotto (supervisors only, as the viewer)."""
    return url_for("eventi.elenco", entita="Lotti", entita_id=lotto_id)


# -- a fase's state by hand, from the order card -------------------------------------------


@bp.route("/fasi/<int:fase_id>/stato", methods=["GET", "POST"])
@requires(SUPERVISORE)
def fase_stato(fase_id: int):
    """Suspend, complete, resume or reopen a fase with a reason (GET: the form; POST: do it)."""
    session = deps.session()
    fase = rettifiche.fase_disponibile(session, fase_id)
    if request.method == "GET":
        form = FaseStatoForm(formdata=None, data={"stato": request.args.get("stato", "")})
        if form.stato.data not in STATI_FASE:
            raise InvalidInput({"Stato": [N_("Stato sconosciuto: usare APERTA, IN_CORSO, SOSPESA o COMPLETATA.")]})
        return _form_fase(fase, form)
    form = FaseStatoForm()
    if not form.validate_on_submit():
        return _form_fase(fase, form, status=422)
    try:
        cambiata = rettifiche.cambia_stato_fase(
            session, actor=deps.actor(), fase_id=fase_id, stato=form.stato.data or "", motivo=form.motivo.data
        )
    except AsigestError as refused:
        return _form_fase(fase, form, status=_errori_nel_form(form, refused, {}))
    flash(
        gettext("Fase %(fase)s: ora è %(stato)s.", fase=fase.fase_tipo.codice, stato=etichetta(cambiata.stato)),
        FLASH_CONFIG,
    )
    if is_htmx():
        return _scheda(fase.commessa_erp_id)
    return vary_on_htmx(
        redirect(url_for("pages.commessa", commessa_id=fase.commessa_erp_id, _anchor="produzione"), 303)
    )


def _form_fase(fase, form: FaseStatoForm, *, status: int = 200):
    """The inline form (a table row of the order card) for htmx, a small page otherwise.

    A refused htmx post swaps back into the row, not into the ``#produzione`` panel its
    form targets on success.
    """
    contesto = {"fase": fase, "form": form, "azione": parole_azione(fase.stato, form.stato.data)}
    if not is_htmx():
        return vary_on_htmx(current_app.make_response((render_template("lotti/fase_stato.html", **contesto), status)))
    response = vary_on_htmx(current_app.make_response(render_template("lotti/_fase_stato.html", **contesto)))
    if request.method == "POST":
        response.headers["HX-Retarget"] = f"#fase-stato-{fase.id}"
        response.headers["HX-Reswap"] = "outerHTML"
    return response


def parole_azione(attuale: str, chiesto: str | None) -> str:
    """The words on the button that asks for ``chiesto`` from ``attuale``."""
    if chiesto == SOSPESA:
        return gettext("Sospendi")
    if chiesto == COMPLETATA:
        return gettext("Completa")
    return gettext("Riapri") if attuale == COMPLETATA else gettext("Riprendi")


@bp.app_template_global()
def azioni_fasi(fasi) -> dict[int, list[tuple[str, str]]]:
    """For the order card: per FaseID, the hand changes that make sense now, as
    ``(asked state, button words)`` — one query for all the card's fasi."""
    aperti = rettifiche.lotti_aperti_per_fase(deps.session(), [f.id for f in fasi])
    return {
        f.id: [(s, parole_azione(f.stato, s)) for s in rettifiche.transizioni(f.stato, aperti.get(f.id, 0))]
        for f in fasi
    }


# -- shared ----------------------------------------------------------------------------


def _fatto(url: str, frammento):
    """A change that went through: htmx gets the refreshed fragment, a browser a 303 to ``url``."""
    if is_htmx():
        return frammento()
    return vary_on_htmx(redirect(url, 303))


def _errori_nel_form(form: FlaskForm, refused: AsigestError, per_codice: dict[str, str]) -> int:
    """Put a service refusal next to the field it concerns (the rest above the form);
    returns the status to answer a browser with (htmx always gets 200, so it swaps)."""
    errori = getattr(refused, "errors", None) or {}
    if errori:
        for campo, messaggi in errori.items():
            _aggiungi(form, form.CAMPI.get(campo), [gettext(m) for m in messaggi])
    else:
        _aggiungi(form, per_codice.get(refused.code), [refused.text(gettext)])
    return refused.status


def _aggiungi(form: FlaskForm, campo: str | None, messaggi: list[str]) -> None:
    field = form._fields.get(campo) if campo else None
    if field is None:
        form.form_errors.extend(messaggi)
    else:
        field.errors = [*field.errors, *messaggi]
