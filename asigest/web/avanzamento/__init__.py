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

from datetime import date

from flask import Blueprint, current_app, request
from flask_babel import gettext

from asigest.domain.avanzamento import GIORNI_A_RISCHIO
from asigest.domain.periodo import oggi as oggi_in
from asigest.domain.stati import STATI_FASE
from asigest.errors import N_
from asigest.services import avanzamento
from asigest.web import deps
from asigest.web.tabelle import SI, RichiestaTabella, leggi_offset, link_ordina, risposta

bp = Blueprint("avanzamento", __name__)

RIGHE_PER_PAGINA = 50
MAX_TESTO = 100
# The query-string fields of the filter form, in the order links carry them.
CAMPI = ("q", "fase", "stato", "ritardo", "rischio", "tutte")
_SPUNTE = ("ritardo", "rischio", "tutte")
# Sort keys whose first click on a column header goes from the largest down.
_DECRESCENTI = {"avanzamento"}


def chiede_selezione(args) -> bool:
    """True when an address asks for the page's selection (any filter but ``tutte``, or a
    sort): the export then follows the page; otherwise it keeps its plain listing."""
    return any((args.get(nome) or "").strip() for nome in ("ordine", *CAMPI) if nome != "tutte")


def leggi_richiesta(args, tipi: list[str]) -> RichiestaTabella:
    """Read the page's filters (``avanzamento.Filtri``) from ``args``; ``tipi`` are the
    phase type codes offered."""
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
    return RichiestaTabella(
        filtri=filtri,
        ordine=avanzamento.leggi_ordine(args.get("ordine")),
        offset=leggi_offset(args.get("offset")),
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
            session,
            deps.erp(),
            oggi=giorno,
            filtri=richiesta.filtri,
            ordine=richiesta.ordine,
            limit=RIGHE_PER_PAGINA,
            offset=richiesta.offset,
        )
    return risposta(
        "avanzamento/elenco.html",
        "avanzamento/_risultati.html",
        richiesta,
        pagina=pagina,
        tipi=tipi,
        stati=STATI_FASE,
        oggi=giorno,
        giorni_a_rischio=GIORNI_A_RISCHIO,
        ordina=_ordina(richiesta),
        ordini=_ORDINI_SCELTA,
    )


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


def _ordina(richiesta: RichiestaTabella):
    """The column headers' links: soonest, lowest, A→Z on a first click; progress from
    the most advanced."""
    return link_ordina("avanzamento.elenco", richiesta.parametri, richiesta.ordine, _DECRESCENTI.__contains__)
