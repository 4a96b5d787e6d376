"""Supervisor pages about machine stops and OEE (SPEC §13, R15):

- ``/oee``: OEE per machine (availability, effectiveness, quality as bars, the OEE
  figure, the top three losses, MTBF/MTTR), per Reparto and phase type, and the loss
  Pareto (stop reasons, speed, scrap) for a period; ``/oee?pannello=1`` is the
  dashboard's panel (htmx). Any logged-in role reads it, as the dashboard.
- ``/fermi``: the stops register (machine, reason, days, running only), a forgotten stop
  added with a note, Excel export; ``/fermi/<id>``: correct or split one with a note.
- ``/fermi/calendario``: the shift calendar per machine or Reparto, dated exceptions.
- ``/fermi/tempi-ciclo``: the ideal cycle times.

Every number comes from ``services.oee`` (the API's too); every change is a service call
with its audit row.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from asigest.domain import oee as regole
from asigest.domain.periodo import Periodo, mezzanotte_utc
from asigest.domain.periodo import oggi as oggi_in
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_, AsigestError, InvalidInput
from asigest.models.types import utcnow
from asigest.services import anagrafiche as anagrafiche_service
from asigest.services import esporta, pianificazione
from asigest.services import fermi as fermi_service
from asigest.services.oee import calcola_oee
from asigest.web import deps, grafici
from asigest.web.access import requires
from asigest.web.admin import errori_nel_form
from asigest.web.dashboard import leggi_periodo, nome_periodo, scorciatoie
from asigest.web.fermi.forms import FermoCorreggiForm, FermoDividiForm, FermoNuovoForm, TempoCicloForm, TurnoForm
from asigest.web.htmx import is_htmx, vary_on_htmx
from asigest.web.registro.elenco import _data as leggi_data
from asigest.web.tabelle import url_con

bp = Blueprint("fermi", __name__)

GIORNI = ("", N_("lunedì"), N_("martedì"), N_("mercoledì"), N_("giovedì"), N_("venerdì"), N_("sabato"), N_("domenica"))
_MANCANTE = {
    regole.MANCA_CALENDARIO: N_("calendario turni"),
    regole.MANCA_TEMPO_PIANIFICATO: N_("turni nel periodo"),
    regole.MANCA_TEMPO_CICLO: N_("tempi ciclo"),
    regole.MANCA_TEMPO_LAVORO: N_("tempo di lavoro"),
    regole.MANCA_PEZZI: N_("pezzi prodotti"),
}
LIMITE = 500


def _zona() -> str:
    return current_app.config["TIMEZONE"]


@bp.app_template_filter("mancante")
def mancante(nomi: list[str]) -> str:
    """The missing inputs of a figure, in words."""
    return ", ".join(gettext(_MANCANTE.get(n, n)) for n in nomi)


@bp.app_template_filter("percento")
def percento(valore: float | None) -> str:
    """A fraction as "87,3 %", "—" when missing."""
    from asigest.web.filters import numero

    return "—" if valore is None else f"{numero(round(valore * 100, 1))} %"


def perdite(figure: regole.FigureOee) -> list[tuple[str, float]]:
    """The losses of a machine or group in minutes, largest first: each stop reason,
    running slower than ideal, scrap (SPEC §13's loss split)."""
    voci = [(v.descrizione, v.minuti) for v in figure.fermi_per_causale]
    if figure.perdita_velocita is not None and figure.perdita_velocita > 0:
        voci.append((gettext("Velocità ridotta"), figure.perdita_velocita))
    if figure.perdita_scarti is not None and figure.perdita_scarti > 0:
        voci.append((gettext("Scarti"), figure.perdita_scarti))
    return sorted(voci, key=lambda v: -v[1])


# -- OEE -------------------------------------------------------------------------------------


@bp.get("/oee")
def oee():
    """OEE per machine for a period (default: this week); htmx with ``pannello=1`` gets the dashboard's panel."""
    adesso = utcnow()
    scelta = leggi_periodo(request.args, adesso=adesso, zona=_zona())
    reparto = (request.args.get("reparto") or "").strip()[:50] or None
    fase_tipo = (request.args.get("fase") or "").strip()[:20] or None
    figure = calcola_oee(
        deps.session(), deps.erp(), scelta.periodo, zona=_zona(), adesso=adesso, reparto=reparto, fase_tipo=fase_tipo
    )
    oggi = oggi_in(_zona(), adesso)
    valori = {
        "oee": figure,
        "scelta": scelta,
        "nome_periodo": nome_periodo(scelta.periodo, oggi),
        "perdite": perdite,
        "pareto": grafici.pareto(perdite(figure.totale)),
        "grafici": grafici,
        "reparto": reparto or "",
        "fase": fase_tipo or "",
    }
    if is_htmx() and request.args.get("pannello"):
        return vary_on_htmx(current_app.make_response(render_template("fermi/_oee_pannello.html", **valori)))
    html = render_template(
        "fermi/oee.html",
        scorciatoie=scorciatoie(oggi),
        tipi=anagrafiche_service.list_fasi_tipo(deps.session()),
        reparti=sorted({m.reparto for m in anagrafiche_service.list_macchine(deps.session()) if m.reparto}),
        **valori,
    )
    return vary_on_htmx(current_app.make_response((html, 400 if scelta.errori else 200)))


# -- the stops register ----------------------------------------------------------------------


def _macchine_scelta(campo, *, vuota: str | None = None) -> None:
    macchine = anagrafiche_service.list_macchine(deps.session(), limit=LIMITE)
    campo.choices = ([SelectChoice("", vuota)] if vuota else []) + [
        SelectChoice(str(m.id), f"{m.codice} · {m.descrizione}") for m in macchine
    ]


def _causali_scelta(campo) -> None:
    campo.choices = [
        SelectChoice(c.codice, f"{c.codice} · {c.descrizione}")
        for c in fermi_service.list_causali_fermo(deps.session(), solo_attive=True)
    ]


def _utc(locale: datetime | None) -> datetime | None:
    """A wall time typed in the plant's zone, as a UTC instant."""
    return None if locale is None else locale.replace(tzinfo=ZoneInfo(_zona())).astimezone(UTC)


def _utc_dato(locale: datetime | None) -> datetime:
    """A required wall time (its form field's InputRequired held it) as a UTC instant."""
    istante = _utc(locale)
    if istante is None:
        raise ValueError("campo data e ora usato senza validazione")
    return istante


def _filtri_registro() -> tuple[dict, dict, dict[str, str]]:
    """The register's filters as typed, as the service takes them, and their errors."""
    valori = {n: (request.args.get(n) or "").strip()[:30] for n in ("macchina", "causale", "da", "a", "aperti")}
    errori = {}
    filtri: dict = {"limit": LIMITE}
    # Plain ASCII digits only ("²".isdigit() is True, int() refuses it), within an INTEGER.
    if valori["macchina"].isascii() and valori["macchina"].isdigit() and len(valori["macchina"]) <= 9:
        filtri["macchina_id"] = int(valori["macchina"])
    if valori["causale"]:
        filtri["causale"] = valori["causale"]
    if valori["aperti"]:
        filtri["aperti"] = True
    for nome in ("da", "a"):
        giorno = leggi_data(valori[nome])
        if giorno is False:
            errori[nome] = gettext("Data non valida: usare il formato gg/mm/aaaa.")
        elif giorno is not None:
            filtri[nome] = (
                mezzanotte_utc(giorno, _zona()) if nome == "da" else Periodo(giorno, giorno).fine_utc(_zona())
            )
    return valori, filtri, errori


@bp.route("/fermi", methods=["GET", "POST"])
@requires(SUPERVISORE)
def elenco():
    """The stops register with its filters; POST adds a forgotten stop (with a note)."""
    form = FermoNuovoForm()
    _macchine_scelta(form.macchina)
    _causali_scelta(form.causale)

    def aggiungi() -> str:
        fermo = fermi_service.registra_fermo(
            deps.session(),
            actor=deps.actor(),
            macchina_id=int(form.macchina.data or 0),
            causale=form.causale.data or "",
            inizio=_utc_dato(form.inizio.data),
            fine=_utc_dato(form.fine.data),
            note=form.note.data,
            motivo=form.motivo.data or "",
        )
        return gettext("Fermo %(id)s aggiunto.", id=fermo.id)

    fatto, status = _invia(form, aggiungi, url_for("fermi.elenco"))
    if fatto is not None:
        return fatto
    valori, filtri, errori = _filtri_registro()
    fermi = [] if errori else fermi_service.list_fermi(deps.session(), **filtri)
    html = render_template(
        "fermi/elenco.html",
        fermi=fermi,
        valori=valori,
        errori=errori,
        form=form,
        adesso=utcnow(),
        macchine=anagrafiche_service.list_macchine(deps.session(), limit=LIMITE),
        causali=fermi_service.list_causali_fermo(deps.session()),
        troppi=len(fermi) >= LIMITE,
    )
    return html, status


def _campi_form(errore: AsigestError) -> AsigestError:
    """The service's field names (API's) as this page's form fields."""
    if isinstance(errore, InvalidInput):
        nomi = {"Inizio": "inizio", "Fine": "fine", "Motivo": "motivo", "alle": "alle"}
        errore.errors = {nomi.get(k, k): v for k, v in errore.errors.items()}
    return errore


def _invia(form, opera: Callable[[], str], dove: str) -> tuple[Response | None, int]:
    """A page's form sent: valid → ``opera`` (the service call, returning what to tell the
    supervisor), then back to ``dove`` (303); refused → None and the status to render
    with (422, the errors on the form's fields). Not sent → (None, 200)."""
    if not form.is_submitted():
        return None, 200
    if not form.validate_on_submit():
        return None, 422
    try:
        messaggio = opera()
    except AsigestError as errore:
        return None, errori_nel_form(form, _campi_form(errore))
    flash(messaggio, "ok")
    return redirect(dove, code=303), 200


@bp.get("/fermi/esporta.xlsx")
@requires(SUPERVISORE)
def esporta_fermi():
    """The register's stops with its filters, as Excel."""
    _, filtri, errori = _filtri_registro()
    if errori:
        return redirect(url_con("fermi.elenco", request.args.to_dict()))
    filtri["limit"] = 100_000
    fermi = fermi_service.list_fermi(deps.session(), **filtri)
    adesso = utcnow()
    titoli = [
        gettext("Fermo"),
        gettext("Macchina"),
        gettext("Reparto"),
        gettext("Causale"),
        gettext("Categoria"),
        gettext("Pianificato"),
        gettext("Inizio"),
        gettext("Fine"),
        gettext("Minuti"),
        gettext("Dichiarato da"),
        gettext("Matricola"),
        gettext("Note"),
    ]
    righe = (
        (
            f.id,
            f.macchina.codice,
            f.macchina.reparto,
            f.causale.codice,
            f.causale.categoria,
            f.causale.pianificato,
            f.inizio,
            f.fine,
            round(((f.fine or adesso) - f.inizio).total_seconds() / 60, 1),
            f.operatore.nome_completo,
            f.operatore.matricola,
            f.note,
        )
        for f in fermi
    )
    destinazione = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- send_file closes it
    try:
        esporta.scrivi_xlsx(
            destinazione,
            titoli,
            [8, 14, 12, 16, 14, 11, 18, 18, 9, 22, 12, 40],
            righe,
            zona=_zona(),
            foglio=gettext("Fermi"),
        )
        destinazione.seek(0)
    except BaseException:
        destinazione.close()
        raise
    nome = f"fermi_{datetime.now(ZoneInfo(_zona())):%Y-%m-%d_%H%M}.xlsx"
    risposta = send_file(
        destinazione,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=nome,
    )
    risposta.headers["Cache-Control"] = "private, no-store"
    return risposta


def _locale(istante: datetime | None) -> datetime | None:
    return None if istante is None else istante.astimezone(ZoneInfo(_zona())).replace(tzinfo=None)


@bp.route("/fermi/<int:fermo_id>", methods=["GET", "POST"])
@requires(SUPERVISORE)
def fermo(fermo_id: int):
    """One stop: correct it (start, end, reason, note) with a note; split it."""
    session = deps.session()
    trovato = fermi_service.get_fermo(session, fermo_id)
    correggi = FermoCorreggiForm(
        prefix="c",
        data={
            "causale": trovato.causale.codice,
            "inizio": _locale(trovato.inizio),
            "fine": _locale(trovato.fine),
            "note": trovato.note or "",
        },
    )
    dividi = FermoDividiForm(prefix="d")
    for campo in (correggi.causale, dividi.causale):
        _causali_scelta(campo)

    def dividi_fermo() -> str:
        fermi_service.dividi_fermo(
            session,
            actor=deps.actor(),
            fermo_id=fermo_id,
            alle=_utc_dato(dividi.alle.data),
            causale=dividi.causale.data or "",
            motivo=dividi.motivo.data or "",
        )
        return gettext("Fermo diviso in due.")

    def correggi_fermo() -> str:
        fermi_service.correggi_fermo(
            session,
            actor=deps.actor(),
            fermo_id=fermo_id,
            inizio=_utc(correggi.inizio.data),
            fine=_utc(correggi.fine.data),
            causale=correggi.causale.data or None,
            note=correggi.note.data or "",
            motivo=correggi.motivo.data or "",
        )
        return gettext("Fermo corretto.")

    # One page, two forms: the button pressed says which one was sent.
    if request.form.get("azione") == "dividi":
        fatto, status = _invia(dividi, dividi_fermo, url_for("fermi.fermo", fermo_id=fermo_id))
    else:
        fatto, status = _invia(correggi, correggi_fermo, url_for("fermi.fermo", fermo_id=fermo_id))
    if fatto is not None:
        return fatto
    session.refresh(trovato)
    html = render_template("fermi/fermo.html", fermo=trovato, correggi=correggi, dividi=dividi, adesso=utcnow())
    return html, status


# -- calendar and cycle times ----------------------------------------------------------------


@bp.route("/fermi/calendario", methods=["GET", "POST"])
@requires(SUPERVISORE)
def calendario():
    """The shift calendar: weekly shifts per machine or Reparto and dated exceptions."""
    form = TurnoForm()
    _macchine_scelta(form.macchina, vuota=gettext("— nessuna (vale il reparto) —"))
    form.giorno.choices = [SelectChoice("", gettext("— nessuno (vale la data) —"))] + [
        SelectChoice(str(i), gettext(GIORNI[i])) for i in range(1, 8)
    ]

    def aggiungi() -> str:
        pianificazione.aggiungi_turno(
            deps.session(),
            actor=deps.actor(),
            macchina_id=int(form.macchina.data) if (form.macchina.data or "").isdigit() else None,
            reparto=form.reparto.data,
            giorno_settimana=int(form.giorno.data) if (form.giorno.data or "").isdigit() else None,
            data=form.data.data,
            ora_inizio=form.ora_inizio.data,
            ora_fine=form.ora_fine.data,
            note=form.note.data,
        )
        return gettext("Turno aggiunto.")

    fatto, status = _invia(form, aggiungi, url_for("fermi.calendario"))
    if fatto is not None:
        return fatto
    macchine = {m.id: m for m in anagrafiche_service.list_macchine(deps.session(), limit=LIMITE)}
    html = render_template(
        "fermi/calendario.html",
        turni=pianificazione.list_turni(deps.session()),
        macchine=macchine,
        giorni=GIORNI,
        form=form,
    )
    return html, status


@bp.post("/fermi/calendario/<int:turno_id>/elimina")
@requires(SUPERVISORE)
def calendario_elimina(turno_id: int):
    """Remove a calendar row."""
    pianificazione.elimina_turno(deps.session(), actor=deps.actor(), turno_id=turno_id)
    flash(gettext("Turno eliminato."), "ok")
    return redirect(url_for("fermi.calendario"), code=303)


@bp.route("/fermi/tempi-ciclo", methods=["GET", "POST"])
@requires(SUPERVISORE)
def tempi_ciclo():
    """Ideal cycle times per article, phase type and machine (the most specific wins)."""
    form = TempoCicloForm()
    form.fase_tipo.choices = [
        SelectChoice(t.codice, f"{t.codice} · {t.descrizione}")
        for t in anagrafiche_service.list_fasi_tipo(deps.session(), solo_attivi=True)
    ]
    _macchine_scelta(form.macchina, vuota=gettext("— ogni macchina —"))

    def salva() -> str:
        pianificazione.imposta_tempo_ciclo(
            deps.session(),
            actor=deps.actor(),
            fase_tipo=form.fase_tipo.data or "",
            codart=form.codart.data,
            macchina_id=int(form.macchina.data) if (form.macchina.data or "").isdigit() else None,
            secondi=form.secondi.data or "",
        )
        return gettext("Tempo ciclo salvato.")

    fatto, status = _invia(form, salva, url_for("fermi.tempi_ciclo"))
    if fatto is not None:
        return fatto
    html = render_template("fermi/tempi_ciclo.html", tempi=pianificazione.list_tempi_ciclo(deps.session()), form=form)
    return html, status


@bp.post("/fermi/tempi-ciclo/<int:tempo_id>/elimina")
@requires(SUPERVISORE)
def tempi_ciclo_elimina(tempo_id: int):
    """Remove a cycle time."""
    pianificazione.elimina_tempo_ciclo(deps.session(), actor=deps.actor(), tempo_id=tempo_id)
    flash(gettext("Tempo ciclo eliminato."), "ok")
    return redirect(url_for("fermi.tempi_ciclo"), code=303)
