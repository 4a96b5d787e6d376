"""Schemas of ``/api/lotti/{tipo}`` (SPEC §7)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from asigest.errors import N_
from asigest.web.api.base import CODICE, BodySchema, Modello, QueryBoolean, StrictInteger
from asigest.web.api.schemas import SENZA_NUL, ListQuery, id_query
from asigest.web.converters import ID_MAX

_QTA = validate.Range(min=0, max=ID_MAX, error=N_("Deve essere un numero intero da 0 in su."))
_ID = validate.Range(min=1, max=ID_MAX, error=N_("Identificativo non valido."))


class LottiQuery(ListQuery):
    aperti = QueryBoolean(load_default=None, metadata={"description": "true: solo aperti; false: solo chiusi."})
    FaseID = id_query(data_key="FaseID", attribute="fase_id")
    MacchinaID = id_query(data_key="MacchinaID", attribute="macchina_id")


class OrigineSchema(BodySchema):
    """A source lotto the caller names (R14): drawn first, in the order given."""

    CodiceLotto = fields.String(
        required=True,
        attribute="codice_lotto",
        validate=[
            validate.Length(min=1, max=40, error=N_("Da 1 a 40 caratteri.")),
            Modello(CODICE, error=N_("Codice lotto non valido: usare quello stampato sull'etichetta.")),
        ],
        metadata={"description": "CodiceLotto di un lotto chiuso della fase precedente della stessa commessa."},
    )
    Qta = StrictInteger(
        load_default=None,
        allow_none=True,
        attribute="qta",
        validate=validate.Range(min=1, max=ID_MAX, error=N_("Deve essere almeno 1.")),
        metadata={
            "description": "Pezzi da prelevare da questo lotto; se assente, quanti ne restano (fino a QtaInput)."
        },
    )


class LottoApriSchema(BodySchema):
    FaseID = StrictInteger(required=True, attribute="fase_id", validate=_ID)
    QtaInput = StrictInteger(
        required=True,
        attribute="qta_input",
        validate=validate.Range(min=1, max=ID_MAX, error=N_("Deve essere almeno 1.")),
    )
    MacchinaID = StrictInteger(required=True, attribute="macchina_id", validate=_ID)
    OperatoreID = StrictInteger(
        load_default=None,
        allow_none=True,
        attribute="operatore_id",
        validate=_ID,
        metadata={
            "description": "Obbligatorio (422) se chi chiama non è un OPERATORE; un "
            "OPERATORE agisce come sé stesso e indicarne un altro è 403."
        },
    )
    Origini = fields.List(
        fields.Nested(OrigineSchema),
        attribute="origini",
        validate=validate.Length(max=50, error=N_("Al massimo 50 lotti di origine.")),
        metadata={
            "description": "R14: i lotti chiusi della fase precedente da cui prelevare per primi (etichette "
            "lette), nell'ordine dato; il resto si preleva dai lotti chiusi più vecchi (FIFO). Nella prima fase "
            "non si indicano. Lotto sconosciuto, di un'altra commessa o fase, aperto, esaurito o con meno pezzi "
            "di Qta, codici ripetuti, somma oltre QtaInput: 422 con il `code` ORIGINE_… / ORIGINI_…."
        },
    )


class LottoChiudiSchema(BodySchema):
    QtaOutput = StrictInteger(required=True, attribute="qta_output", validate=_QTA)
    QtaScarti = StrictInteger(load_default=0, attribute="qta_scarti", validate=_QTA)
    CausaleScarto = fields.String(
        load_default=None,
        allow_none=True,
        attribute="causale",
        validate=[validate.Length(max=30, error=N_("Al massimo 30 caratteri.")), SENZA_NUL],
        metadata={
            "description": "Codice della causale; obbligatoria quando QtaScarti > 0 "
            "(una sconosciuta, disattivata o di un'altra fase: 400)."
        },
    )
    NoteScarti = fields.String(
        load_default=None,
        allow_none=True,
        attribute="note",
        validate=[validate.Length(max=500, error=N_("Al massimo 500 caratteri.")), SENZA_NUL],
    )


class LottoSchema(Schema):
    LottoID = fields.Integer(attribute="id")
    FaseID = fields.Integer(attribute="fase_id")
    CommessaERPId = fields.Integer(attribute="fase.commessa_erp_id")
    FaseTipo = fields.String(attribute="fase.fase_tipo.codice")
    Progressivo = fields.Integer(attribute="progressivo")
    CodiceLotto = fields.String(attribute="codice_lotto")
    Stato = fields.String(attribute="stato")
    DataInizio = fields.AwareDateTime(attribute="data_inizio", format="iso")
    DataFine = fields.AwareDateTime(attribute="data_fine", format="iso", allow_none=True)
    QtaInput = fields.Integer(attribute="qta_input")
    QtaOutput = fields.Integer(attribute="qta_output", allow_none=True)
    QtaScarti = fields.Integer(attribute="qta_scarti", allow_none=True)
    CausaleScarto = fields.Function(
        lambda lotto: lotto.causale.codice if lotto.causale else None, metadata={"type": "string", "nullable": True}
    )
    NoteScarti = fields.String(attribute="note_scarti", allow_none=True)
    OperatoreID = fields.Integer(attribute="operatore_id")
    OperatoreChiusuraID = fields.Integer(attribute="operatore_chiusura_id", allow_none=True)
    MacchinaID = fields.Integer(attribute="macchina_id")
    DIBA = fields.String(attribute="diba", allow_none=True)
    Revisione = fields.String(attribute="revisione", allow_none=True)
