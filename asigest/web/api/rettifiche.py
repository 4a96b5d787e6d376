"""The supervisor's corrections over the API (R8 by hand, R10, cancellation).

- ``PUT /api/fasi/{FaseID}/stato`` (contract): suspend, complete, resume or reopen a fase
  with a reason; answers the fase with QtaDisponibile.
- ``PUT /api/lotti/{tipo}/{LottoID}/rettifica`` (contract): correct a closed lotto.
- ``POST /api/lotti/{tipo}/{LottoID}/annulla`` — an extension of the contract: cancel a
  lotto opened by mistake, while it is open; answers what the audit log keeps of it
  (``Stato`` "ANNULLATO"). The lotto no longer exists afterwards (GET answers 404).

All are SUPERVISORE and above (an OPERATORE gets 403) and refuse a missing or blank
``Motivo`` with 422.
"""

from __future__ import annotations

from asigest.domain.ruoli import SUPERVISORE
from asigest.services import rettifiche
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_config import FaseDisponibileSchema
from asigest.web.api.schemas_lotti import LottoSchema
from asigest.web.api.schemas_rettifiche import AnnullaSchema, FaseStatoSchema, LottoAnnullatoSchema, RettificaSchema


@bp.put("/fasi/<int:fase_id>/stato")
@requires(SUPERVISORE)
@endpoint(
    summary="Cambia lo stato di una fase",
    body=FaseStatoSchema(),
    response=FaseDisponibileSchema(),
    errors={
        400: "R8 rifiuta il cambio: stato invariato (STATO_INVARIATO), fase già completata "
        "(FASE_COMPLETATA), lotti ancora aperti (FASE_LOTTI_APERTI).",
        403: None,
        404: None,
        409: None,
        422: None,
    },
)
def fase_stato(fase_id: int, body):
    """Suspend, complete (also short), resume or reopen a fase, with a mandatory reason (R8)."""
    session = deps.session()
    fase = rettifiche.cambia_stato_fase(session, actor=deps.actor(), fase_id=fase_id, **body)
    return rettifiche.fase_disponibile(session, fase.id)


@bp.put("/lotti/<fase_tipo:tipo>/<int:lotto_id>/rettifica")
@requires(SUPERVISORE)
@endpoint(
    summary="Rettifica un lotto chiuso",
    body=RettificaSchema(),
    response=LottoSchema(),
    errors={
        400: "R10 rifiuta la rettifica: lotto ancora aperto (LOTTO_APERTO), nessuna modifica "
        "(RETTIFICA_INVARIATA), quantità incoerenti o causale mancante/di troppo (CHIUSURA_NON_VALIDA), "
        "causale non valida (CAUSALE_NON_VALIDA), pezzi già presi dalla fase successiva "
        "(RETTIFICA_SUPERA_DISPONIBILE), `tipo` diverso (TIPO_FASE_DIVERSO).",
        403: None,
        404: None,
        409: None,
        422: None,
    },
)
def lotto_rettifica(tipo: str, lotto_id: int, body):
    """Correct a closed lotto's good pieces, scrap and reason (R10); the fase's totals are recomputed."""
    return rettifiche.rettifica_lotto(deps.session(), actor=deps.actor(), lotto_id=lotto_id, fase_tipo=tipo, **body)


@bp.post("/lotti/<fase_tipo:tipo>/<int:lotto_id>/annulla")
@requires(SUPERVISORE)
@endpoint(
    summary="Annulla un lotto aperto per errore",
    body=AnnullaSchema(),
    response=LottoAnnullatoSchema(),
    errors={
        400: "Il lotto è già chiuso (LOTTO_CHIUSO: si rettifica invece) o il `tipo` è diverso (TIPO_FASE_DIVERSO).",
        403: None,
        404: None,
        409: None,
        422: None,
    },
)
def lotto_annulla(tipo: str, lotto_id: int, body):
    """Cancel an open lotto opened by mistake (closed ones are corrected instead); answers what the log keeps."""
    return rettifiche.annulla_lotto(deps.session(), actor=deps.actor(), lotto_id=lotto_id, fase_tipo=tipo, **body)
