"""The dashboard (SPEC §6): the supervisor's first screen and the wall screen on the floor.

- ``/dashboard``: the KPIs of a period (default: this ISO week in the plant's zone; ``da``/
  ``a`` in the address choose another, so a view can be shared), charts drawn as SVG on
  the server (``asigest.web.grafici``), and two panels loaded afterwards by htmx because
  they read the ERP: late and at-risk orders, and (supervisors) ERP drift (R12). htmx
  asks the same address again every 60 s and swaps in the numbers only, keeping the
  period and whatever is typed in the period form.
- ``/dashboard/parete`` (also ``/dashboard?parete=1``): the wall screen — today and this
  week in large type on a dark background, no navigation or controls, refreshing itself
  every 60 s. A supervisor logs the wall's browser in once; the office login has no idle
  timeout, so it stays logged in while the browser stays open.

Every number comes from ``asigest.services.kpi.calcola_kpi`` (one definition shared with
the API and exports); a bad period gets an Italian message and the default week, never
an error page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import format_date, gettext

from asigest.domain import kpi as regole_kpi
from asigest.domain.avanzamento import GIORNI_A_RISCHIO
from asigest.domain.periodo import Periodo, settimana_iso
from asigest.domain.periodo import oggi as oggi_in
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import ErpUnavailable
from asigest.models.types import utcnow
from asigest.services import avanzamento as avanzamento_service
from asigest.services import drift as drift_service
from asigest.services import fermi as fermi_service
from asigest.services.kpi import Kpi, calcola_kpi, periodo_predefinito
from asigest.web import deps, grafici
from asigest.web.access import requires
from asigest.web.htmx import is_htmx, vary_on_htmx
from asigest.web.registro.elenco import _data as leggi_data
from asigest.web.tabelle import SI

bp = Blueprint("dashboard", __name__)

# Rows of the late / at-risk lists (their counts are always whole).
RIGHE_COMMESSE = 8
# Drifting orders listed by name (the orders list's panel has all of them).
RIGHE_SCOSTAMENTI = 5


# -- the period ---------------------------------------------------------------------------


@dataclass
class SceltaPeriodo:
    """The period read from the address: the one shown, what was typed, the messages
    per field, and whether the address chose it (otherwise: this week, rolling over on
    Monday for a page left open)."""

    periodo: Periodo
    valori: dict[str, str]
    errori: dict[str, str] = field(default_factory=dict)
    scelto: bool = False

    @property
    def parametri(self) -> dict[str, str]:
        """The period as query arguments, for the refresh that must keep it."""
        if not self.scelto:
            return {}
        da, a = self.periodo.giorni()
        return {"da": da.isoformat(), "a": a.isoformat()}


def leggi_periodo(args, *, adesso: datetime, zona: str) -> SceltaPeriodo:
    """Read ``da``/``a`` (``2026-03-29`` from a date input, or ``29/03/2026``).

    Neither: this ISO week. Only ``da``: from it to today (or that one day, when it is in
    the future). Only ``a``: the seven days ending with it. A date that cannot be read,
    or a period the KPIs refuse (``asigest.domain.kpi.errori_periodo``: end before start,
    over a year), gets a message on its field, and this week is shown instead.
    """
    valori = {nome: (args.get(nome) or "").strip()[:20] for nome in ("da", "a")}
    predefinito = periodo_predefinito(adesso, zona)
    da, a = leggi_data(valori["da"]), leggi_data(valori["a"])
    if da is False or a is False:
        errori = {
            nome: gettext("Data non valida: usare il formato gg/mm/aaaa.")
            for nome, valore in (("da", da), ("a", a))
            if valore is False
        }
        return SceltaPeriodo(predefinito, valori, errori)
    if da is None:
        if a is None:
            return SceltaPeriodo(predefinito, valori)
        da = a - timedelta(days=6)
    elif a is None:
        a = max(da, oggi_in(zona, adesso))
    rifiuti = regole_kpi.errori_periodo(da, a)
    if rifiuti:
        errori = {nome: " ".join(gettext(m) for m in messaggi) for nome, messaggi in rifiuti.items()}
        return SceltaPeriodo(predefinito, valori, errori)
    return SceltaPeriodo(Periodo(da, a), valori, scelto=True)


@dataclass(frozen=True)
class Scorciatoia:
    """A ready-made period of the picker: its name, the address's arguments, the period."""

    nome: str
    parametri: dict[str, str]
    periodo: Periodo


def scorciatoie(oggi: date) -> list[Scorciatoia]:
    """Today, this week (no dates in the address: it rolls over on Monday), last week, the last 30 days."""

    def con_date(nome: str, periodo: Periodo) -> Scorciatoia:
        da, a = periodo.giorni()
        return Scorciatoia(nome, {"da": da.isoformat(), "a": a.isoformat()}, periodo)

    return [
        con_date(gettext("Oggi"), Periodo(oggi, oggi)),
        Scorciatoia(gettext("Questa settimana"), {}, settimana_iso(oggi)),
        con_date(gettext("Settimana scorsa"), settimana_iso(oggi - timedelta(days=7))),
        con_date(gettext("Ultimi 30 giorni"), Periodo(oggi - timedelta(days=29), oggi)),
    ]


def nome_periodo(periodo: Periodo, oggi: date) -> str:
    """How the heading names the period: "oggi", "settimana 48", or the two dates."""
    da, a = periodo.giorni()
    if da == a == oggi:
        return gettext("Oggi, %(giorno)s", giorno=format_date(oggi, "full"))
    if periodo == settimana_iso(da):
        anno, settimana, _ = da.isocalendar()
        return gettext("Settimana %(n)s del %(anno)s", n=settimana, anno=anno)
    return gettext("Dal %(da)s al %(a)s", da=da.strftime("%d/%m/%Y"), a=a.strftime("%d/%m/%Y"))


# -- routes ---------------------------------------------------------------------------------


def _contesto() -> dict:
    """Now, the plant's zone and the R13 limit, as the KPI service wants them."""
    return {
        "adesso": utcnow(),
        "zona": current_app.config["TIMEZONE"],
        "ore_dimenticato": float(current_app.config["FORGOTTEN_HOURS"]),
    }


def _kpi(periodo: Periodo, contesto: dict) -> Kpi:
    return calcola_kpi(deps.session(), periodo, **contesto)


def _grafici(kpi: Kpi) -> dict:
    """The KPI lists as the charts take them: ``(item, value)`` pairs, Pareto-grouped."""
    return {
        "pareto_causali": grafici.pareto([(x, x["pezzi_scartati"]) for x in kpi.scarti_per_causale]),
        "pareto_macchine": grafici.pareto([(x, x["pezzi_scartati"]) for x in kpi.scarti_per_macchina]),
        "operatori": [(x, x["pezzi_buoni"]) for x in kpi.top_operatori],
        "scarti_per_fase": {x["FaseTipo"]: x["pezzi_scartati"] for x in kpi.scarti_per_fase},
    }


@bp.app_template_filter("data_formato")
def data_formato(giorno: date, formato: str) -> str:
    """A date in the interface's language with a Babel pattern (``LLL``: "nov")."""
    return format_date(giorno, formato)


@bp.get("/dashboard")
def cruscotto():
    """The dashboard for a period; htmx (the 60-second refresh) gets the numbers only."""
    if (request.args.get("parete") or "").strip().lower() in SI:
        return redirect(url_for("dashboard.parete"))
    contesto = _contesto()
    oggi = oggi_in(contesto["zona"], contesto["adesso"])
    scelta = leggi_periodo(request.args, adesso=contesto["adesso"], zona=contesto["zona"])
    kpi = _kpi(scelta.periodo, contesto)
    valori = {
        "kpi": kpi,
        "scelta": scelta,
        "oggi": oggi,
        "adesso": contesto["adesso"],
        "grafici": grafici,
        "nome_periodo": nome_periodo(scelta.periodo, oggi),
        **_grafici(kpi),
    }
    if is_htmx():
        return vary_on_htmx(current_app.make_response(render_template("dashboard/_numeri.html", **valori)))
    html = render_template(
        "dashboard/cruscotto.html", scorciatoie=scorciatoie(oggi), supervisore=deps.actor().puo(SUPERVISORE), **valori
    )
    return vary_on_htmx(current_app.make_response((html, 400 if scelta.errori else 200)))


@bp.get("/dashboard/parete")
def parete():
    """The wall screen: today and this week in large type; htmx refreshes get the content only."""
    contesto = _contesto()
    oggi = oggi_in(contesto["zona"], contesto["adesso"])
    settimana = periodo_predefinito(contesto["adesso"], contesto["zona"])
    in_ritardo, a_rischio, errore = _da_seguire(oggi)
    valori = {
        "oggi": oggi,
        "adesso": contesto["adesso"],
        "grafici": grafici,
        "kpi_oggi": _kpi(Periodo(oggi, oggi), contesto),
        "kpi_settimana": _kpi(settimana, contesto),
        "settimana": settimana.giorni()[0].isocalendar().week,
        "giorno": format_date(oggi, "full"),
        "in_ritardo": in_ritardo,
        "a_rischio": a_rischio,
        "errore_erp": errore,
        "giorni_a_rischio": GIORNI_A_RISCHIO,
        "fermi_in_corso": fermi_service.fermi_in_corso(deps.session()),
    }
    template = "dashboard/_parete.html" if is_htmx() else "dashboard/parete.html"
    return vary_on_htmx(current_app.make_response(render_template(template, **valori)))


def _da_seguire(oggi: date) -> tuple[list, list, str | None]:
    """The late orders (most overdue first) and those at risk (soonest due first), or the
    message saying why the ERP could not tell."""
    try:
        selezione = avanzamento_service.seleziona_commesse(
            deps.session(),
            deps.erp(),
            oggi=oggi,
            ordine="ritardo",
            filtri=avanzamento_service.Filtri(in_ritardo=True, a_rischio=True),
        )
    except ErpUnavailable as exc:
        return [], [], exc.text(gettext)
    return ([c for c in selezione.commesse if c.in_ritardo], [c for c in selezione.commesse if c.a_rischio], None)


@bp.get("/dashboard/commesse")
def commesse():
    """Late and at-risk orders: a fragment the dashboard loads after the numbers (it needs the ERP)."""
    oggi = oggi_in(current_app.config["TIMEZONE"])
    in_ritardo, a_rischio, errore = _da_seguire(oggi)
    html = render_template(
        "dashboard/_commesse.html",
        in_ritardo=in_ritardo,
        a_rischio=a_rischio,
        errore=errore,
        oggi=oggi,
        righe=RIGHE_COMMESSE,
        giorni_a_rischio=GIORNI_A_RISCHIO,
    )
    return current_app.make_response(html)


@bp.get("/dashboard/scostamenti")
@requires(SUPERVISORE)
def scostamenti():
    """Orders drifted from the ERP (R12): how many, the grave ones first (a fragment)."""
    try:
        elenco = drift_service.scostamenti(deps.session(), deps.erp())
        errore = None
    except ErpUnavailable as exc:
        elenco, errore = [], exc.text(gettext)
    html = render_template(
        "dashboard/_scostamenti.html",
        elenco=elenco,
        errore=errore,
        righe=RIGHE_SCOSTAMENTI,
        gravi=sum(1 for x in elenco if x.scostamento.grave),
    )
    return current_app.make_response(html)
