"""The audit log viewer (``/eventi``): LogEventi filtered and shown readably, read-only.

The filters live in the query string, so a filtered view is a link people can share.
An htmx request gets only the results (``_risultati.html``) — the filter form swaps
them in, and the lotto page embeds ``/eventi?entita=Lotti&entita_id=N`` as that
lotto's history; with ``prima`` (the next-page cursor) it gets only the next rows.
The blueprint has GET routes only: nothing here can change the log.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext

from asigest.domain.periodo import Periodo
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_
from asigest.services import eventi as eventi_service
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("eventi", __name__)

_INT32_MAX = 2**31 - 1
# Dates outside these years are typing mistakes, and would overflow the UTC conversion.
_ANNI = (1900, 2999)
_ISTANTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_GIORNO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@bp.get("/eventi")
@requires(SUPERVISORE)
def elenco():
    """The audit log, newest first, filtered by entity, user, action and period."""
    filtro, prima, query, errori = _leggi_filtri(request.args)
    pagina = None
    if not errori:
        pagina = eventi_service.cerca_eventi(
            deps.session(), filtro=filtro, zona=current_app.config["TIMEZONE"], prima_di=prima
        )
    context = {
        "pagina": pagina,
        "filtro": filtro,
        "query": query,
        "errori": errori,
        "prima": prima,
        "entita_scelte": eventi_service.ENTITA,
        "azioni_scelte": _azioni_ordinate(),
    }
    if is_htmx():
        template = "eventi/_righe.html" if prima is not None and not errori else "eventi/_risultati.html"
        return vary_on_htmx(current_app.make_response(render_template(template, **context)))
    context["utenti"] = eventi_service.utenti_filtro(deps.session())
    html = render_template("eventi/elenco.html", **context)
    return vary_on_htmx(current_app.make_response((html, 400 if errori else 200)))


@bp.app_template_filter("valore_log")
def valore_log(value) -> str:
    """A value from an event's Dettagli as people read it: instants in plant time, yes/no,
    lists joined. Returns plain text (the template escapes it)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("sì") if value else gettext("no")
    if isinstance(value, str):
        return _testo_o_data(value)
    if isinstance(value, list):
        return ", ".join(valore_log(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _testo_o_data(value: str) -> str:
    if _ISTANTE.match(value):
        try:
            quando = datetime.fromisoformat(value)
        except ValueError:
            return value
        if quando.tzinfo is None:  # the application stores and writes UTC
            quando = quando.replace(tzinfo=UTC)
        return quando.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%d/%m/%Y %H:%M:%S")
    if _GIORNO.match(value):
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return value


def _azioni_ordinate() -> list[tuple[str, str]]:
    """(code, label) of every action, grouped as the entities are listed."""
    ordine = list(eventi_service.ENTITA)
    return sorted(
        ((codice, etichetta) for codice, (etichetta, _entita) in eventi_service.AZIONI.items()),
        key=lambda x: (ordine.index(eventi_service.AZIONI[x[0]][1]), x[0]),
    )


def _leggi_filtri(args):
    """The query string read into a filter: ``(FiltroEventi, prima, query, errors)``.

    ``query`` holds the accepted values as typed (to rebuild links and the form);
    ``errors`` maps a field to its Italian messages (already translated).
    """
    errori: dict[str, list[str]] = {}
    query: dict[str, str] = {}

    def testo(nome: str, massimo: int = 40) -> str:
        valore = (args.get(nome) or "").strip()[:massimo]
        if valore:
            query[nome] = valore
        return valore

    def errore(nome: str, messaggio: str) -> None:
        errori.setdefault(nome, []).append(gettext(messaggio))

    def intero(nome: str, messaggio: str) -> int | None:
        valore = testo(nome, 12)
        if not valore:
            return None
        if valore.isascii() and valore.isdigit() and 0 < int(valore) <= _INT32_MAX:  # "²".isdigit() too
            return int(valore)
        errore(nome, messaggio)
        return None

    def giorno(nome: str) -> date | None:
        valore = testo(nome, 10)
        if not valore:
            return None
        try:
            giorno = date.fromisoformat(valore)
        except ValueError:
            errore(nome, N_("Data non valida: usare il formato AAAA-MM-GG."))
            return None
        if not _ANNI[0] <= giorno.year <= _ANNI[1]:
            errore(nome, N_("Data fuori dall'intervallo ammesso: controllare l'anno."))
            return None
        return giorno

    entita = testo("entita") or None
    if entita is not None and entita not in eventi_service.ENTITA:
        errore("entita", N_("Tipo di entità sconosciuto: sceglierlo dall'elenco."))
        entita = None
    entita_id = intero("entita_id", N_("Il numero dell'entità deve essere un intero positivo (es. 1234)."))
    if entita_id is not None and entita is None and "entita" not in errori:
        errore("entita", N_("Scegliere il tipo di entità del numero indicato."))
    utente = intero("utente", N_("Utente non valido: sceglierlo dall'elenco."))
    azione = testo("azione") or None
    if azione is not None and azione not in eventi_service.AZIONI:
        errore("azione", N_("Azione sconosciuta: sceglierla dall'elenco."))
        azione = None
    periodo = Periodo(giorno("da"), giorno("a"))
    if periodo.invertito:
        errore("a", N_("La data finale viene prima di quella iniziale: correggere il periodo."))
    prima = intero("prima", N_("Pagina non valida: ricominciare dagli eventi più recenti."))
    query.pop("prima", None)
    filtro = eventi_service.FiltroEventi(
        entita=entita, entita_id=entita_id, utente_id=utente, azione=azione, periodo=periodo
    )
    return filtro, prima, query, errori
