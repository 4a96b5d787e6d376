"""The lotti register: filters, sort, htmx paging and exports (``/lotti``).

The filters are a GET form, so a register's address can be shared. ``leggi_richiesta``
reads the query string once for the page and for its exports: every value is checked
for shape (dates, a choice from the lists, the order typed as people say it) and a bad
one gets an Italian message next to its field; while any is wrong no lotti are listed
(and nothing is exported), so nobody reads a list filtered other than they asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from flask import current_app, request, url_for
from flask_babel import gettext
from jinja2.utils import url_quote
from markupsafe import Markup, escape

from asigest.domain.periodo import Periodo, oggi
from asigest.domain.ruoli import SUPERVISORE
from asigest.erp import Commessa
from asigest.errors import AsigestError, ErpUnavailable
from asigest.models.types import utcnow
from asigest.services import registro
from asigest.web import deps
from asigest.web.collegamenti import per_id
from asigest.web.filters import formato_numeri, formato_orari
from asigest.web.registro import bp
from asigest.web.tabelle import SI, RichiestaTabella, leggi_offset, link_ordina, risposta

RIGHE_PER_PAGINA = 50
_STATI = {"": None, "tutti": None, registro.APERTI: registro.APERTI, registro.CHIUSI: registro.CHIUSI}
# Sort keys whose first click sorts ascending (the others start from the largest/newest).
_CRESCENTI = {"codice"}
# The query-string fields of the filter form, in the order links carry them.
CAMPI = ("da", "a", "fase", "macchina", "operatore", "commessa", "stato", "causale", "dimenticati", "con_scarti")


@dataclass
class Richiesta(RichiestaTabella):
    """The register's query string, read (``filtri``: ``registro.Filtri``), and the order
    found for the order filter."""

    commessa: Commessa | None = None


def leggi_richiesta(args, scelte: registro.ScelteFiltri) -> Richiesta:
    """Read the register's filters from ``args``; a value that cannot be used is reported
    on its field (never an error page). Asks the ERP only for the order filter."""
    valori = {nome: (args.get(nome) or "").strip()[:60] for nome in CAMPI}
    errori: dict[str, list[str]] = {}

    def errore(campo: str, messaggio: str) -> None:
        errori.setdefault(campo, []).append(messaggio)

    da, a = _data(valori["da"]), _data(valori["a"])
    if da is False:
        errore("da", gettext("Data non valida: usare il formato gg/mm/aaaa."))
    if a is False:
        errore("a", gettext("Data non valida: usare il formato gg/mm/aaaa."))
    periodo = Periodo(da or None, a or None)
    if da and a and periodo.invertito:
        errore("a", gettext("La data finale precede quella iniziale: correggere il periodo."))

    fase = valori["fase"].upper()
    if fase and fase not in {t.codice for t in scelte.tipi}:
        errore("fase", gettext("Tipo di fase sconosciuto: sceglierlo dall'elenco."))
    macchina = _scelta(valori["macchina"], {m.id for m in scelte.macchine})
    if macchina is False:
        errore("macchina", gettext("Macchina sconosciuta: sceglierla dall'elenco."))
    operatore = _scelta(valori["operatore"], {u.id for u in scelte.operatori})
    if operatore is False:
        errore("operatore", gettext("Operatore sconosciuto: sceglierlo dall'elenco."))
    causale = _scelta(valori["causale"], {c.id for c in scelte.causali})
    if causale is False:
        errore("causale", gettext("Causale sconosciuta: sceglierla dall'elenco."))
    stato_scelto = valori["stato"].lower()
    if stato_scelto not in _STATI:
        errore("stato", gettext("Stato non valido: scegliere tutti, aperti o chiusi."))
    dimenticati = valori["dimenticati"].lower() in SI
    con_scarti = valori["con_scarti"].lower() in SI
    valori["dimenticati"] = "1" if dimenticati else ""
    valori["con_scarti"] = "1" if con_scarti else ""

    commessa = None
    if valori["commessa"]:
        try:
            commessa = registro.trova_commessa(
                deps.session(), deps.erp(), valori["commessa"], anno_corrente=oggi(current_app.config["TIMEZONE"]).year
            )
        except ErpUnavailable:
            errore(
                "commessa",
                gettext(
                    "Il gestionale ASITRON non risponde: la commessa non si può cercare ora. "
                    "Togliere questo filtro o riprovare tra qualche minuto."
                ),
            )
        except AsigestError as rifiuto:
            errore("commessa", rifiuto.text(gettext))

    filtri = None
    if not errori:
        filtri = registro.Filtri(
            periodo=periodo,
            fase_tipo=fase or None,
            macchina_id=macchina,
            operatore_id=operatore,
            commessa_id=commessa.id if commessa is not None else None,
            stato=_STATI.get(stato_scelto),
            dimenticati=dimenticati,
            con_scarti=con_scarti,
            causale_id=causale,
        )
    return Richiesta(
        filtri=filtri,
        ordine=registro.leggi_ordine(args.get("ordine")),
        offset=leggi_offset(args.get("offset")),
        valori=valori,
        errori=errori,
        commessa=commessa,
    )


def contesto_ricerca() -> dict:
    """What the register's services need from the app: now, the plant's zone, the R13 limit."""
    return {
        "adesso": utcnow(),
        "zona": current_app.config["TIMEZONE"],
        "ore_dimenticato": float(current_app.config["FORGOTTEN_HOURS"]),
    }


@bp.get("/lotti")
def elenco():
    """The lotti register; htmx requests get the filters and results fragment."""
    session = deps.session()
    scelte = registro.scelte_filtri(session)
    richiesta = leggi_richiesta(request.args, scelte)
    pagina = None
    if richiesta.filtri is not None:
        pagina = registro.cerca_lotti(
            session,
            deps.erp(),
            richiesta.filtri,
            ordine=richiesta.ordine,
            limit=RIGHE_PER_PAGINA,
            offset=richiesta.offset,
            **contesto_ricerca(),
        )
    # The audit log is for supervisors (eventi.elenco); others get no link that would refuse them.
    puo_storia = deps.actor().puo(SUPERVISORE)
    return risposta(
        "registro/elenco.html",
        "registro/_registro.html",
        richiesta,
        pagina=pagina,
        righe=_righe(pagina.items, puo_storia) if pagina is not None else Markup(),
        scelte=scelte,
        **_opzioni(scelte, richiesta),
        ordina=_ordina(richiesta),
    )


# -- helpers -----------------------------------------------------------------------------


def _righe(lotti: list[registro.RigaLotto], puo_storia: bool) -> Markup:
    """The register table's rows (``<tr>`` per lotto, the cells of the header in
    ``registro/_registro.html``), written in one pass with every value escaped.

    As a template loop the rows cost as much as the rest of the page: a filter,
    ``url_for`` or ``_()`` per cell, and Jinja's per-value output. Here the links are
    built once per page (``per_id``), the plant's zone and the language read once, and the
    labels translated once. ``puo_storia``: a link to each lotto's audit history."""
    link_lotto = per_id("registro.lotto", "lotto_id")
    link_commessa = per_id("pages.commessa", "commessa_id")
    link_storia = per_id("eventi.elenco", "entita_id", entita="Lotti")
    traccia = url_for("tracciabilita.pagina") + "?codice="
    orario, numero = formato_orari(), formato_numeri()
    dimenticato = f'<span class="badge dimenticato">{escape(gettext("dimenticato"))}</span>'
    aperto = f'<span class="badge stato-in_corso">{escape(gettext("aperto"))}</span>'
    chiuso = f'<span class="badge">{escape(gettext("chiuso"))}</span>'
    t_traccia, t_storia = escape(gettext("tracciabilità")), escape(gettext("storia"))
    righe = []
    for lotto in lotti:
        articolo = (
            f'\n        <br><span class="muted">{escape(lotto.commessa.codart or "")}</span>'
            if lotto.commessa is not None
            else ""
        )
        causale = (
            f'<abbr title="{escape(lotto.causale_descrizione)}">{escape(lotto.causale)}</abbr>'
            if lotto.causale
            else "—"
        )
        stato = dimenticato if lotto.dimenticato else aperto if lotto.aperto else chiuso
        storia = (
            f'\n        <br><a href="{escape(link_storia(lotto.id))}" class="registro-storia">{t_storia}</a>'
            if puo_storia
            else ""
        )
        righe.append(
            f"""    <tr>
      <td><a href="{escape(link_lotto(lotto.id))}" class="strong code">{escape(lotto.codice_lotto)}</a></td>
      <td><a href="{escape(link_commessa(lotto.commessa_erp_id))}">{escape(lotto.numero_commessa)}</a>{articolo}</td>
      <td>{escape(lotto.fase_tipo)}<br><span class="muted code">{escape(lotto.macchina)}</span></td>
      <td>{escape(lotto.operatore)}<br><span class="muted">{escape(lotto.matricola)}</span></td>
      <td class="data">{escape(orario(lotto.data_inizio))}</td>
      <td class="data">{escape(orario(lotto.data_fine))}</td>
      <td class="num">{escape(numero(lotto.qta_input))}</td>
      <td class="num">{escape(numero(lotto.qta_output))}</td>
      <td class="num">{escape(numero(lotto.qta_scarti))}</td>
      <td>{causale}</td>
      <td>{stato}
        <br><a href="{escape(traccia + url_quote(lotto.codice_lotto))}" class="registro-traccia">{t_traccia}</a>{storia}</td>
    </tr>
"""
        )
    # Every value above goes through escape(); test_xss renders hostile text in each column.
    return Markup("".join(righe))  # nosec B704 - every value escaped above


def _opzioni(scelte: registro.ScelteFiltri, richiesta: Richiesta) -> dict[str, Markup]:
    """The machine and operator pickers' ``<option>`` lists, built in one pass each: a
    plant's hundreds of users cost a tenth of the page as template loops."""
    disattivata, disattivato = gettext("disattivata"), gettext("disattivato")
    return {
        "opzioni_macchine": _options_di(
            "macchine",
            scelte.macchine,
            lambda m: m.codice + (f" ({disattivata})" if not m.attiva else ""),
            disattivata,
            richiesta.valori.get("macchina"),
        ),
        "opzioni_operatori": _options_di(
            "operatori",
            scelte.operatori,
            lambda u: f"{u.cognome} {u.nome} · {u.matricola}" + (f" ({disattivato})" if not u.attivo else ""),
            disattivato,
            richiesta.valori.get("operatore"),
        ),
    }


# The last options written per picker and language, with the rows they were written from:
# reused only when this request read the very same rows (so never stale: the rows are read
# on every request), with the chosen one marked. Writing them was ~0.5 ms a page.
_opzioni_scritte: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}


def _options_di(nome: str, righe: list[Any], testo: Callable[[Any], str], lingua: str, scelto: str | None) -> Markup:
    """``_options`` of ``righe`` (each with its ``id``, shown as ``testo(riga)``), the
    unselected list reused while the rows are the same."""
    chiave, righe_ora = (nome, lingua), tuple(righe)
    scritte = _opzioni_scritte.get(chiave)
    if scritte is None or scritte[0] != righe_ora:
        scritte = (righe_ora, str(_options([(r.id, testo(r)) for r in righe_ora], None)))
        _opzioni_scritte[chiave] = scritte
    html = scritte[1]
    if scelto and scelto.isascii() and scelto.isdecimal():  # an id: only then can one be selected
        html = html.replace(f'<option value="{scelto}" >', f'<option value="{scelto}" selected>', 1)
    return Markup(html)  # nosec B704 - written by _options: every text escaped


def _options(voci: list[tuple[int, str]], scelto: str | None) -> Markup:
    """``<option value="id" [selected]>text</option>`` for each (id, text), the text
    escaped (``escape`` is C code; ``Markup.format`` per option was a tenth of the page)."""
    # The value is an int, the text escaped: test_xss names machines and people with markup.
    return Markup(  # nosec B704 - an int and escaped text
        "".join(
            f'<option value="{int(valore)}" {"selected" if str(valore) == scelto else ""}>{escape(testo)}</option>'
            for valore, testo in voci
        )
    )


def _data(testo: str) -> date | None | Literal[False]:
    """``2026-03-29`` (a date input) or ``29/03/2026``; None when empty, False when not a date.

    Years stay in 1900–9998 so the day after the period still exists."""
    if not testo:
        return None
    for formato in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            giorno = datetime.strptime(testo, formato).date()  # noqa: DTZ007 -- only the calendar day is kept
        except ValueError:
            continue
        return giorno if 1900 <= giorno.year <= 9998 else False
    return False


def _scelta(testo: str, ammessi: set[int]) -> int | None | Literal[False]:
    """An id picked from a list: None when empty, False when not one of ``ammessi``."""
    if not testo:
        return None
    try:
        valore = int(testo)
    except ValueError:
        return False
    return valore if valore in ammessi else False


def _ordina(richiesta: Richiesta):
    """The column headers' links: newest/largest first on a first click, codes A→Z."""
    return link_ordina(
        "registro.elenco", richiesta.parametri, richiesta.ordine, lambda chiave: chiave not in _CRESCENTI
    )
