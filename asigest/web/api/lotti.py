"""``/api/lotti/{tipo}``: open, close and read lotti from line software (SPEC §7, R4–R9, R11).

``Idempotency-Key`` on POST and close makes a retried request return the first result;
the same key on any other request (another operation, lotto or body) is refused with
422 ``IDEMPOTENCY_KEY_RIUSATA`` (SPEC R11).
"""

from __future__ import annotations

from asigest.domain.ruoli import OPERATORE
from asigest.services import lotti, origini
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import chiave_idempotenza, endpoint
from asigest.web.api.schemas_lotti import LottiQuery, LottoApriSchema, LottoChiudiSchema, LottoSchema


@bp.get("/lotti/<fase_tipo:tipo>/")
@endpoint(
    summary="Lotti di un tipo di fase",
    query=LottiQuery(),
    response=LottoSchema(many=True),
    errors=(404, 422),
    collegamenti={
        nome: (vista, {"tipo": "$request.path.tipo", "LottoID": "$response.body#/0/LottoID"})
        for nome, vista in (
            ("Lotto", "lotto_get"),
            ("Chiudi", "lotto_close"),
            ("Rettifica", "lotto_rettifica"),
            ("Annulla", "lotto_annulla"),
        )
    },
)
def lotti_list(tipo: str, query):
    """Lotti of phase type ``tipo`` (smd, pth, controlli…), newest first; filters ``aperti``, FaseID, MacchinaID."""
    return lotti.list_lotti(deps.session(), fase_tipo=tipo, **query)


@bp.post("/lotti/<fase_tipo:tipo>/")
@requires(OPERATORE)
@endpoint(
    summary="Apri un lotto",
    body=LottoApriSchema(),
    response=LottoSchema(),
    status=201,
    errors={
        400: "R4–R6 rifiutano l'apertura: operatore o macchina non attivi, macchina di un'altra fase "
        "o già occupata, fase sospesa o completata, commessa non configurata o chiusa nel "
        "gestionale, configurazione bloccata o documenti obbligatori mancanti, quantità oltre la "
        "disponibile (QUANTITA_NON_DISPONIBILE), `tipo` diverso da quello della fase "
        "(TIPO_FASE_DIVERSO), licenza scaduta.",
        403: "Un OPERATORE che indica un altro operatore, o un ruolo non ammesso.",
        404: "Fase, macchina o operatore inesistenti, o `tipo` sconosciuto.",
        409: "Chiave di idempotenza in uso da una richiesta ancora in corso, o apertura concorrente "
        "(RIPROVARE): riprovare.",
        422: "Input non valido; per `Origini` (R14) il `code` dice quale lotto di origine non va: "
        "ORIGINE_SCONOSCIUTA, ORIGINE_ALTRA_COMMESSA, ORIGINE_FASE_SBAGLIATA, ORIGINE_APERTA, "
        "ORIGINE_ESAURITA, ORIGINE_INSUFFICIENTE, ORIGINE_RIPETUTA, ORIGINI_OLTRE_QUANTITA, ORIGINI_PRIMA_FASE.",
        503: None,
    },
    collegamenti={
        nome: (vista, {"tipo": "$request.path.tipo", "LottoID": "$response.body#/LottoID"})
        for nome, vista in (("Lotto", "lotto_get"), ("Chiudi", "lotto_close"), ("Annulla", "lotto_annulla"))
    },
)
def lotto_open(tipo: str, body):
    """Open a lotto (R4–R6) with its draws (R14). An OPERATORE acts as itself; naming another operator is 403."""
    chiave = chiave_idempotenza(body)
    scelte = [origini.Scelta(o["codice_lotto"], o["qta"]) for o in body.pop("origini", None) or []]
    esito = lotti.apri_lotto(
        deps.session(),
        deps.erp(),
        actor=deps.actor(),
        fase_tipo=tipo,
        licenza=deps.licenza(),
        origini=scelte,
        **chiave,
        **body,
    )
    return esito.lotto


@bp.get("/lotti/<fase_tipo:tipo>/<int:lotto_id>")
@endpoint(
    summary="Un lotto",
    response=LottoSchema(),
    errors={400: "`tipo` diverso da quello della fase del lotto (TIPO_FASE_DIVERSO).", 404: None},
)
def lotto_get(tipo: str, lotto_id: int):
    """One lotto; 400 when ``tipo`` is not its fase's type."""
    return lotti.get_lotto(deps.session(), lotto_id, fase_tipo=tipo)


@bp.put("/lotti/<fase_tipo:tipo>/<int:lotto_id>/close")
@requires(OPERATORE)
@endpoint(
    summary="Chiudi un lotto",
    body=LottoChiudiSchema(),
    response=LottoSchema(),
    errors={
        400: "R7 rifiuta la chiusura: lotto già chiuso (LOTTO_GIA_CHIUSO), quantità incoerenti o causale "
        "mancante/di troppo (CHIUSURA_NON_VALIDA, con `errors` per campo), causale sconosciuta, "
        "disattivata o di un'altra fase (CAUSALE_NON_VALIDA), `tipo` diverso (TIPO_FASE_DIVERSO).",
        403: None,
        404: None,
        409: "Chiave di idempotenza in uso da una richiesta ancora in corso, o chiusura concorrente "
        "(RIPROVARE): riprovare.",
        422: None,
    },
    collegamenti={
        "Rettifica": ("lotto_rettifica", {"tipo": "$request.path.tipo", "LottoID": "$response.body#/LottoID"})
    },
)
def lotto_close(tipo: str, lotto_id: int, body):
    """Close an open lotto with good pieces, scrap and reason (R7, R8); needs no ERP."""
    esito = lotti.chiudi_lotto(
        deps.session(), actor=deps.actor(), lotto_id=lotto_id, fase_tipo=tipo, **chiave_idempotenza(body), **body
    )
    return esito.lotto
