"""API schemas for ``/api/documenti`` (SPEC §7): field names are DocumentiTecnici's columns."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from asigest.errors import N_
from asigest.models.documenti import TIPI_DOCUMENTO
from asigest.web.api.base import FileField, FormSchema
from asigest.web.api.schemas import ListQuery

_POSITIVO = validate.Range(min=1, error=N_("Deve essere un numero positivo."))


class DocumentiQuery(ListQuery):
    CommessaERPId = fields.Integer(
        load_default=None,
        validate=_POSITIVO,
        metadata={"description": "I documenti validi per la commessa: i suoi e quelli del suo articolo (CODART)."},
    )
    CODART = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")),
        metadata={"description": "I documenti dell'articolo (validi per ogni sua commessa)."},
    )

    @validates_schema
    def _uno_solo(self, data, **kwargs):
        if data.get("CommessaERPId") is not None and data.get("CODART") is not None:
            raise ValidationError(N_("Filtrare per CommessaERPId oppure per CODART, non per entrambi."), "CODART")


class DocumentoCaricaSchema(FormSchema):
    """``POST /api/documenti/`` as multipart/form-data. Exactly one of CommessaERPId and
    CODART; the service checks the rest (type list, formats, size: they are settings)."""

    file = FileField(
        required=True,
        metadata={"description": "Il file. Formati e dimensione massima sono impostazioni (DOCUMENT_EXTENSIONS, DOCUMENT_MAX_BYTES)."},
    )
    Tipo = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")),
        metadata={"description": "Uno dei tipi dell'impostazione DOCUMENT_TYPES; predefiniti: " + ", ".join(TIPI_DOCUMENTO) + "."},
    )
    Titolo = fields.String(required=True, validate=validate.Length(min=1, max=200, error=N_("Da 1 a 200 caratteri.")))
    Revisione = fields.String(load_default=None, validate=validate.Length(max=20, error=N_("Al massimo 20 caratteri.")))
    CommessaERPId = fields.Integer(load_default=None, validate=_POSITIVO, metadata={"description": "Documento della commessa (ID del gestionale)."})
    CODART = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")),
        metadata={"description": "Documento dell'articolo: vale per tutte le sue commesse."},
    )


class DocumentoSchema(Schema):
    DocumentoID = fields.Integer(attribute="id")
    CommessaERPId = fields.Integer(attribute="commessa_erp_id", allow_none=True)
    CODART = fields.String(attribute="codart", allow_none=True)
    Tipo = fields.String(attribute="tipo")
    Titolo = fields.String(attribute="titolo")
    NomeFile = fields.String(attribute="nome_file")
    ContentType = fields.String(attribute="content_type")
    Dimensione = fields.Integer(attribute="dimensione", metadata={"description": "Byte."})
    Sha256 = fields.String(attribute="sha256")
    Revisione = fields.String(attribute="revisione", allow_none=True)
    DataCaricamento = fields.AwareDateTime(attribute="data_caricamento", format="iso")
    CaricatoDa = fields.Integer(attribute="caricato_da", allow_none=True, metadata={"description": "UtenteID."})
