"""Order progress (``/avanzamento``): every configured order open in the ERP with a
progress bar per phase, due date, late (red) and at-risk (amber) flags, filters, sort,
htmx paging and exports.

The filters are a GET form (an address can be shared) that stays outside the part htmx
swaps: selects and checkboxes apply at once, text after a pause in typing or on Enter,
and nothing people are typing or picking is ever replaced under their hands. Column
headers are plain links (the whole page, with the sort picker, follows them).
``leggi_richiesta`` reads the query string once for the page and its exports; a value
that is not one of the choices gets an Italian message instead of a silently wider list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext

from asigest.domain.avanzamento import GIORNI_A_RISCHIO
from asigest.domain.periodo import oggi as oggi_in
from asigest.domain.stati import STATI_FASE
from asigest.errors import N_
from asigest.services import avanzamento
from asigest.web import deps
from asigest.web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("avanzamento", __name__)

RIGHE_PER_PAGINA = 50
MAX_OFFSET = 10_000_000
MAX_TESTO = 100
# What a checkbox or a yes flag in an address may say.
SI = {"1", "on", "true", "si", "sì", "yes"}
# The query-string fields of the filter form, in the order links carry them.
CAMPI = ("q", "fase", "stato", "ritardo", "rischio", "tutte")
_SPUNTE = ("ritardo", "rischio", "tutte")
# Sort keys whose first click on a column header goes from the largest down.
_DECRESCENTI = {"avanzamento"}


@dataclass
class Richiesta:
    """The page's query string, read: the filters (None while any value is wrong), the
    sort and offset, what was typed (to show it back) and the messages per field."""

    filtri: avanzamento.Filtri | None
    ordine: str
    offset: int
    valori: dict[str, str]
    errori: dict[str, list[str]] = field(default_factory=dict)

    @property
    def parametri(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), for links that keep them."""
        return {k: v for k, v in self.valori.items() if v}


def chiede_selezione(args) -> bool:
    """True when an address asks for the page's selection (any filter but ``tutte``, or a
    sort): the export then follows the page; otherwise it keeps its plain listing."""
    return any((args.get(nome) or "").strip() for nome in ("ordine", *CAMPI) if nome != "tutte")


def leggi_richiesta(args, tipi: list[str]) -> Richiesta:
    """Read the page's filters from ``args``; ``tipi`` are the phase type codes offered."""
    valori = {nome: (args.get(nome) or "").strip() for nome in CAMPI}
    valori["q"] = valori["q"][:MAX_TESTO]
    errori: dict[str, list[str]] = {}
    fase = valori["fase"].upper()
    if fase and fase not in tipi:
        errori["fase"] = [gettext("Tipo di fase sconosciuto: sceglierlo dall'elenco.")]
    stato = valori["stato"].upper()
    if stato and stato not in STATI_FASE:
        errori["stato"] = [gettext("Stato della fase non valido: sceglierlo dall'elenco.")]
    valori["fase"], valori["stato"] = fase, stato
    spunte = {nome: valori[nome].lower() in SI for nome in _SPUNTE}
    valori.update({nome: "1" if spunta else "" for nome, spunta in spunte.items()})
    filtri = None
    if not errori:
        filtri = avanzamento.Filtri(
            testo=valori["q"] or None,
            in_ritardo=spunte["ritardo"],
            a_rischio=spunte["rischio"],
            fase_tipo=fase or None,
            stato_fase=stato or None,
            tutte=spunte["tutte"],
        )
    return Richiesta(
        filtri=filtri,
        ordine=avanzamento.leggi_ordine(args.get("ordine")),
        offset=_offset(args.get("offset")),
        valori=valori,
        errori=errori,
    )


def oggi() -> date:
    """Today in the plant's zone (InRitardo and "a rischio" are by local calendar day)."""
    return oggi_in(current_app.config["TIMEZONE"])


@bp.get("/avanzamento")
def elenco():
    """Order progress; htmx requests get the results fragment only."""
    session = deps.session()
    tipi = avanzamento.tipi_fase(session)
    richiesta = leggi_richiesta(request.args, tipi)
    pagina = None
    giorno = oggi()
    if richiesta.filtri is not None:
        pagina = avanzamento.avanzamento_commesse(
            session, deps.erp(), oggi=giorno, filtri=richiesta.filtri, ordine=richiesta.ordine,
            limit=RIGHE_PER_PAGINA, offset=richiesta.offset,
        )
    template = "avanzamento/_risultati.html" if is_htmx() else "avanzamento/elenco.html"
    html = render_template(
        template, r=richiesta, pagina=pagina, tipi=tipi, stati=STATI_FASE, oggi=giorno,
        giorni_a_rischio=GIORNI_A_RISCHIO, ordina=_ordina_link(richiesta), ordini=_ORDINI_SCELTA,
    )
    status = 200 if is_htmx() or not richiesta.errori else 400
    return vary_on_htmx(current_app.make_response((html, status)))


# -- helpers -----------------------------------------------------------------------------

# The sort picker's choices (key, label translated in the template).
_ORDINI_SCELTA = (
    ("consegna", N_("Consegna: prima le più vicine")),
    ("-consegna", N_("Consegna: prima le più lontane")),
    ("ritardo", N_("Prima in ritardo, poi a rischio")),
    ("numero", N_("Numero commessa crescente")),
    ("-numero", N_("Numero commessa decrescente")),
    ("cliente", N_("Cliente A→Z")),
    ("-cliente", N_("Cliente Z→A")),
    ("avanzamento", N_("Avanzamento: prima le meno avanzate")),
    ("-avanzamento", N_("Avanzamento: prima le più avanzate")),
)


def _offset(testo: str | None) -> int:
    try:
        return max(0, min(int(testo or 0), MAX_OFFSET))
    except ValueError:
        return 0


def _ordina_link(richiesta: Richiesta):
    """``ordina(chiave)`` → (address sorting by that column, its current direction or None).

    A first click sorts the column's natural way (soonest, lowest, A→Z; progress from the
    most advanced), the next one reverses it; the filters stay, the page goes back to the first."""

    def ordina(chiave: str):
        attuale = None
        if richiesta.ordine == chiave:
            attuale, nuovo = "ascending", "-" + chiave
        elif richiesta.ordine == "-" + chiave:
            attuale, nuovo = "descending", chiave
        else:
            nuovo = "-" + chiave if chiave in _DECRESCENTI else chiave
        return url_for("avanzamento.elenco", **richiesta.parametri, ordine=nuovo), attuale

    return ordina
