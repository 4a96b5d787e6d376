"""Schemas of the supervisor's corrections: ``PUT /api/fasi/{FaseID}/stato``,
``PUT /api/lotti/{tipo}/{LottoID}/rettifica`` and ``POST /api/lotti/{tipo}/{LottoID}/annulla``.

Shape only: a blank reason or a rule refusal is the service's (422 on "Motivo", 400).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from asigest.domain.stati import STATI_FASE
from asigest.errors import N_
from asigest.services.rettifiche import MAX_MOTIVO
from asigest.web.api.base import NON_VUOTO, BodySchema, Modello, StrictInteger
from asigest.web.api.schemas import SENZA_NUL
from asigest.web.converters import ID_MAX

_QTA = validate.Range(min=0, max=ID_MAX, error=N_("Deve essere un numero intero da 0 in su."))


def _motivo():
    return fields.String(
        required=True,
        attribute="motivo",
        validate=[
            validate.Length(max=MAX_MOTIVO, error=N_("Al massimo 500 caratteri.")),
            Modello(NON_VUOTO, error=N_("Indicare il motivo: resta nel registro delle modifiche.")),
        ],
        metadata={"description": "Perché si fa la modifica (obbligatorio, non vuoto, resta nel registro eventi)."},
    )


class FaseStatoSchema(BodySchema):
    """SOSPESA, COMPLETATA, or IN_CORSO/APERTA to resume or reopen (the service picks
    IN_CORSO when the fase has lotti, APERTA otherwise)."""

    Stato = fields.String(
        required=True,
        attribute="stato",
        validate=validate.OneOf(
            STATI_FASE, error=N_("Stato sconosciuto: usare APERTA, IN_CORSO, SOSPESA o COMPLETATA.")
        ),
    )
    Motivo = _motivo()


class RettificaSchema(BodySchema):
    """The closed lotto's new figures (R7 applies as on close)."""

    QtaOutput = StrictInteger(required=True, attribute="qta_output", validate=_QTA)
    QtaScarti = StrictInteger(required=True, attribute="qta_scarti", validate=_QTA)
    CausaleScarto = fields.String(
        load_default=None,
        allow_none=True,
        attribute="causale",
        validate=[validate.Length(max=30, error=N_("Al massimo 30 caratteri.")), SENZA_NUL],
        metadata={"description": "Codice della causale; obbligatoria quando QtaScarti > 0."},
    )
    Motivo = _motivo()


class AnnullaSchema(BodySchema):
    Motivo = _motivo()


class LottoAnnullatoSchema(Schema):
    """What remains of a cancelled lotto: the data its LOTTO_ANNULLATO audit row keeps."""

    LottoID = fields.Integer()
    FaseID = fields.Integer()
    CommessaERPId = fields.Integer()
    FaseTipo = fields.String()
    Progressivo = fields.Integer()
    CodiceLotto = fields.String()
    Stato = fields.Constant("ANNULLATO", metadata={"type": "string", "enum": ["ANNULLATO"]})
    DataInizio = fields.String(metadata={"format": "date-time"})
    QtaInput = fields.Integer()
    OperatoreID = fields.Integer()
    MacchinaID = fields.Integer()
    DIBA = fields.String(allow_none=True)
    Revisione = fields.String(allow_none=True)
