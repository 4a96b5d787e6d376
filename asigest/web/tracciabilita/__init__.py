"""``/tracciabilita``: a lotto's genealogy on screen (SPEC §12) — a scan field, the tree
of the lotti it came from and the lotti it went into; or, for an order (``2026/1234``,
``1234``, ``ID 101``), every lotto of it as one tree from its first fase. Read-only, for
every office login.

The code is in the query string (``?codice=…``, or ``?commessa=<ERP ID>`` for an order),
so a trace is a link people can share and the lotto page, the register and the order
card can point at. An unknown code or an unreachable ERP is said on the page, next to
the field that keeps what was typed.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext

from asigest.domain.lotti import numero_commessa
from asigest.errors import N_, ErpUnavailable, NotFound
from asigest.services import esporta, tracciabilita
from asigest.web import deps
from asigest.web.converters import ID_MAX

bp = Blueprint("tracciabilita", __name__)

_MAX_CODICE = 40


def _commessa_id() -> int | None:
    """``?commessa=<ERP ID>`` as a whole number in range, None when absent or not one."""
    testo = (request.args.get("commessa") or "").strip()
    return int(testo) if testo.isascii() and testo.isdigit() and 0 < len(testo) <= 10 and int(testo) <= ID_MAX else None


def _anno_corrente() -> int:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).year


@bp.get("/tracciabilita")
def pagina():
    """The scan field and, for a lotto code, the backward tree and the forward one; for an
    order, every lotto of it forward from its first fase."""
    codice = (request.args.get("codice") or "").strip()[:_MAX_CODICE]
    commessa_id = _commessa_id()
    indietro = avanti = commessa = errore = None
    if request.args.get("commessa") and commessa_id is None:
        errore = gettext("Commessa non valida: indicarla come 2026/1234.")
        return render_template("tracciabilita/pagina.html", codice=codice, errore=errore)
    try:
        if commessa_id is None and codice:
            commessa_id = tracciabilita.commessa_cercata(deps.erp(), codice, anno_corrente=_anno_corrente())
        if commessa_id is not None:
            commessa = tracciabilita.traccia_commessa(deps.session(), deps.erp(), commessa_id)
            if not codice:  # reached by a link: the field names the order as people say it
                codice = commessa.commessa.numero if commessa.commessa else f"ID {commessa_id}"
        elif codice:
            indietro = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.INDIETRO)
            avanti = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.AVANTI)
    except (NotFound, ErpUnavailable) as exc:
        errore = exc.text(gettext)
    return render_template(
        "tracciabilita/pagina.html", codice=codice, indietro=indietro, avanti=avanti, commessa=commessa, errore=errore
    )


def _documenti(riga) -> str:
    return "; ".join(f"{d.tipo} {d.titolo} rev. {d.revisione or '-'} SHA-256 {d.sha256}" for d in riga.nodo.documenti)


def _rettifiche(riga) -> str:
    return "; ".join(
        f"{r.data_ora:%Y-%m-%d %H:%M} UTC: {(r.dettagli or {}).get('motivo') or '-'}" for r in riga.nodo.rettifiche
    )


_COLONNE: tuple[esporta.Colonna[tracciabilita.RigaTraccia], ...] = (
    esporta.Colonna(N_("Direzione"), lambda r: r.direzione, 10),
    esporta.Colonna(N_("Livello"), lambda r: r.livello, 8),
    esporta.Colonna(N_("Codice lotto"), lambda r: r.nodo.lotto.codice_lotto, 24),
    esporta.Colonna(N_("Collegato a"), lambda r: r.collegato_a, 24),
    esporta.Colonna(N_("Pezzi prelevati"), lambda r: r.qta_prelevata, 10),
    esporta.Colonna(N_("Commessa"), lambda r: numero_commessa(r.nodo.lotto.codice_lotto), 12),
    esporta.Colonna(N_("Commessa (ID)"), lambda r: r.nodo.lotto.fase.commessa_erp_id, 10),
    esporta.Colonna(N_("Fase"), lambda r: r.nodo.lotto.fase.fase_tipo.codice, 10),
    esporta.Colonna(N_("Macchina"), lambda r: r.nodo.lotto.macchina.codice, 10),
    esporta.Colonna(N_("Operatore (ID)"), lambda r: r.nodo.lotto.operatore_id, 10),
    esporta.Colonna(N_("Inizio"), lambda r: r.nodo.lotto.data_inizio, 16),
    esporta.Colonna(N_("Fine"), lambda r: r.nodo.lotto.data_fine, 16),
    esporta.Colonna(N_("Pezzi entrati"), lambda r: r.nodo.lotto.qta_input, 10),
    esporta.Colonna(N_("Pezzi buoni"), lambda r: r.nodo.lotto.qta_output, 10),
    esporta.Colonna(N_("Scarti"), lambda r: r.nodo.lotto.qta_scarti, 10),
    esporta.Colonna(
        N_("Causale di scarto"), lambda r: r.nodo.lotto.causale.codice if r.nodo.lotto.causale else None, 12
    ),
    esporta.Colonna("DIBA", lambda r: r.nodo.lotto.diba, 12),
    esporta.Colonna(N_("Revisione"), lambda r: r.nodo.lotto.revisione, 8),
    esporta.Colonna(N_("Documenti"), _documenti, 50),
    esporta.Colonna(N_("Rettifiche"), _rettifiche, 40),
)


@bp.get("/tracciabilita/esporta.xlsx")
def esporta_xlsx():
    """The trace of ``codice`` (both directions), or of every lotto of ``commessa``, as one
    Excel sheet, one row per lotto (per draw: a lotto fed by two is under each)."""
    codice = (request.args.get("codice") or "").strip()[:_MAX_CODICE]
    commessa_id = _commessa_id()
    try:
        if commessa_id is not None:
            commessa = tracciabilita.traccia_commessa(deps.session(), deps.erp(), commessa_id)
            righe = tracciabilita.righe_commessa(commessa)
            nome = "commessa_" + (commessa.commessa.numero.replace("/", "-") if commessa.commessa else str(commessa_id))
        else:
            indietro = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.INDIETRO)
            avanti = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.AVANTI)
            righe = tracciabilita.righe(indietro, avanti)
            nome = indietro.lotto.codice_lotto
    except NotFound:
        # The page says what is wrong next to the field.
        if commessa_id is not None:
            return redirect(url_for("tracciabilita.pagina", commessa=commessa_id))
        return redirect(url_for("tracciabilita.pagina", codice=codice))
    zona = current_app.config["TIMEZONE"]
    # Anonymous temporary file: deleted when send_file closes it after the last byte.
    destinazione = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (send_file closes it)
    try:
        esporta.scrivi_xlsx(
            destinazione,
            [gettext(c.titolo) for c in _COLONNE],
            [c.larghezza for c in _COLONNE],
            esporta.valori(_COLONNE, righe),
            zona=zona,
            foglio=gettext("Tracciabilità"),
        )
        destinazione.seek(0)
    except BaseException:
        destinazione.close()
        raise
    response = send_file(
        destinazione,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"tracciabilita_{nome}_{datetime.now(ZoneInfo(zona)):%Y-%m-%d_%H%M}.xlsx",
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
