"""Exports: the lotti register and the order progress as ``.xlsx`` or CSV.

``/lotti/esporta.<formato>`` takes the register's own filters and sort (its buttons carry
them) and exports every matching row; ``/avanzamento/esporta.<formato>`` the progress of
the configured orders open in the ERP (``tutte=1``: every configured order).

Excel is written to a temporary file (openpyxl's write-only mode, bounded memory) and
then sent; CSV is generated while it is sent (``stream_with_context``: Flask closes the
request's session before the body is read, so the services stream through a connection
or short queries of their own). Both read the rows in chunks. The first row is read
before the answer starts, so a database or ERP failure still gets its proper error
page instead of a truncated file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, request, send_file, stream_with_context
from flask_babel import gettext

from asigest.domain.periodo import oggi
from asigest.services import avanzamento, esporta, registro
from asigest.web import deps
from asigest.web.registro import bp
from asigest.web.registro.elenco import contesto_ricerca, leggi_richiesta
from asigest.web.tabelle import SI, url_con

FORMATI = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",  # werkzeug adds "; charset=utf-8" to text/* mimetypes
}


@bp.get("/lotti/esporta.<formato>")
def esporta_lotti(formato: str):
    """The register's lotti with its filters and sort, every row, as Excel or CSV."""
    _formato(formato)
    session = deps.session()
    richiesta = leggi_richiesta(request.args, registro.scelte_filtri(session))
    if richiesta.filtri is None:
        # The register shows what is wrong next to each field; nothing half-filtered is exported.
        return redirect(url_con("registro.elenco", request.args.to_dict()))
    righe = registro.righe_lotti(session, deps.erp(), richiesta.filtri, ordine=richiesta.ordine, **contesto_ricerca())
    return _esporta(formato, "lotti", gettext("Lotti"), esporta.COLONNE_LOTTI, righe)


@bp.get("/avanzamento/esporta.<formato>")
def esporta_avanzamento(formato: str):
    """Order progress, one row per fase, as Excel or CSV: with the progress page's filters
    and sort when the address carries them (its buttons do), else every configured order
    open in the ERP, newest first (``tutte=1``: also closed orders)."""
    from asigest.web import avanzamento as pagina_avanzamento

    _formato(formato)
    session = deps.session()
    giorno = oggi(current_app.config["TIMEZONE"])
    if pagina_avanzamento.chiede_selezione(request.args):
        richiesta = pagina_avanzamento.leggi_richiesta(request.args, avanzamento.tipi_fase(session))
        if richiesta.filtri is None:
            # The page shows what is wrong next to each field; nothing half-filtered is exported.
            return redirect(url_con("avanzamento.elenco", request.args.to_dict()))
        righe = avanzamento.righe_avanzamento(
            session, deps.erp(), oggi=giorno, filtri=richiesta.filtri, ordine=richiesta.ordine
        )
    else:
        tutte = (request.args.get("tutte") or "").strip().lower() in SI
        righe = avanzamento.righe_avanzamento(session, deps.erp(), oggi=giorno, tutte=tutte)
    return _esporta(formato, "avanzamento", gettext("Avanzamento"), esporta.COLONNE_AVANZAMENTO, righe)


def _formato(formato: str) -> None:
    if formato not in FORMATI:
        abort(404)


def _adesso_locale() -> datetime:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))


def _esporta(formato: str, nome: str, foglio: str, colonne: Sequence[esporta.Colonna], righe: Iterator):
    zona = current_app.config["TIMEZONE"]
    titoli = [gettext(c.titolo) for c in colonne]
    valori = _anticipa(esporta.valori(colonne, righe))
    nome_file = f"{nome}_{_adesso_locale():%Y-%m-%d_%H%M}.{formato}"
    if formato == "xlsx":
        # Anonymous temporary file: deleted when send_file closes it after the last byte.
        destinazione = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 -- send_file closes it
        try:
            esporta.scrivi_xlsx(destinazione, titoli, [c.larghezza for c in colonne], valori, zona=zona, foglio=foglio)
            destinazione.seek(0)
        except BaseException:
            destinazione.close()
            raise
        response = send_file(destinazione, mimetype=FORMATI[formato], as_attachment=True, download_name=nome_file)
    else:
        blocchi = esporta.righe_csv(titoli, valori, zona=zona, vero=gettext("Sì"), falso=gettext("No"))
        response = Response(stream_with_context(blocchi), mimetype=FORMATI[formato])
        response.headers.set("Content-Disposition", "attachment", filename=nome_file)
    # Production data: not for shared caches, and always read fresh.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _anticipa(righe: Iterator) -> Iterator:
    """Read the first row now (errors surface before the answer starts), then the rest lazily."""
    primo = next(righe, _FINE)
    return iter(()) if primo is _FINE else chain([primo], righe)


_FINE = object()
