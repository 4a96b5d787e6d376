"""``/tracciabilita``: a lotto's genealogy on screen (SPEC §12) — a scan field, the tree
of the lotti it came from and the lotti it went into. Read-only, for every office login.

The code is in the query string (``?codice=…``), so a trace is a link people can share
and the lotto page can point at. An unknown code or an unreachable ERP is said on the
page, next to the field that keeps what was typed.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext

from asigest.errors import N_, ErpUnavailable, NotFound
from asigest.services import esporta, tracciabilita
from asigest.web import deps

bp = Blueprint("tracciabilita", __name__)

_MAX_CODICE = 40


@bp.get("/tracciabilita")
def pagina():
    """The scan field and, for a code, the backward tree and the forward one."""
    codice = (request.args.get("codice") or "").strip()[:_MAX_CODICE]
    indietro = avanti = errore = None
    if codice:
        try:
            indietro = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.INDIETRO)
            avanti = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.AVANTI)
        except (NotFound, ErpUnavailable) as exc:
            errore = exc.text(gettext)
    return render_template("tracciabilita/pagina.html", codice=codice, indietro=indietro, avanti=avanti, errore=errore)


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
    """The trace of ``codice`` (both directions) as one Excel sheet, one row per lotto."""
    codice = (request.args.get("codice") or "").strip()[:_MAX_CODICE]
    try:
        indietro = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.INDIETRO)
        avanti = tracciabilita.traccia(deps.session(), deps.erp(), codice, direzione=tracciabilita.AVANTI)
    except NotFound:
        # The page says what is wrong next to the field.
        return redirect(url_for("tracciabilita.pagina", codice=codice))
    zona = current_app.config["TIMEZONE"]
    # Anonymous temporary file: deleted when send_file closes it after the last byte.
    destinazione = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (send_file closes it)
    try:
        esporta.scrivi_xlsx(
            destinazione,
            [gettext(c.titolo) for c in _COLONNE],
            [c.larghezza for c in _COLONNE],
            esporta.valori(_COLONNE, tracciabilita.righe(indietro, avanti)),
            zona=zona,
            foglio=gettext("Tracciabilità"),
        )
        destinazione.seek(0)
    except BaseException:
        destinazione.close()
        raise
    nome = f"tracciabilita_{indietro.lotto.codice_lotto}_{datetime.now(ZoneInfo(zona)):%Y-%m-%d_%H%M}.xlsx"
    response = send_file(
        destinazione,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=nome,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
