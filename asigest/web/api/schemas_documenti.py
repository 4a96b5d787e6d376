"""API schemas for ``/api/documenti`` (SPEC §7): field names are DocumentiTecnici's columns."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from asigest.errors import N_
from asigest.models.documenti import TIPI_DOCUMENTO
from asigest.web.api.base import NON_VUOTO, FileField, FormSchema, Modello, QueryInteger
from asigest.web.api.schemas import SENZA_NUL, ListQuery, id_query
from asigest.web.converters import ID_MAX

_POSITIVO = validate.Range(min=1, max=ID_MAX, error=N_("Deve essere un identificativo positivo."))


class DocumentiQuery(ListQuery):
    """``CommessaERPId`` or ``CODART``, not both (422): a rule between parameters that
    OpenAPI 3.0 cannot write as a schema."""

    CommessaERPId = id_query(
        metadata={
            "description": "I documenti validi per la commessa: i suoi e quelli del suo articolo (CODART). "
            "Non insieme a CODART."
        },
    )
    CODART = fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")), SENZA_NUL],
        metadata={
            "description": "I documenti dell'articolo (validi per ogni sua commessa). Non insieme a CommessaERPId."
        },
    )

    @validates_schema
    def _uno_solo(self, data, **kwargs):
        if data.get("CommessaERPId") is not None and data.get("CODART") is not None:
            raise ValidationError(N_("Filtrare per CommessaERPId oppure per CODART, non per entrambi."), "CODART")


class DocumentoCaricaSchema(FormSchema):
    """``POST /api/documenti/`` as multipart/form-data. Exactly one of CommessaERPId and
    CODART; the service checks the rest (type list, formats, size: they are settings)."""

    # Stated in the document too: openapi.py writes the body as one of two objects.
    uno_tra = ("CommessaERPId", "CODART")

    file = FileField(
        required=True,
        metadata={
            "description": "Il file. Formati e dimensione massima sono impostazioni (DOCUMENT_EXTENSIONS, DOCUMENT_MAX_BYTES)."
        },
    )
    Tipo = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")), SENZA_NUL],
        # The document lists the types this installation allows (a setting).
        metadata={
            "description": "Uno dei tipi dell'impostazione DOCUMENT_TYPES; predefiniti: "
            + ", ".join(TIPI_DOCUMENTO)
            + ".",
            "catalogo": "tipi_documento",
        },
    )
    Titolo = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=200, error=N_("Da 1 a 200 caratteri.")),
            Modello(NON_VUOTO, error=N_("Indicare un titolo, per esempio «Schema di montaggio lato TOP».")),
        ],
    )
    Revisione = fields.String(
        load_default=None, validate=[validate.Length(max=20, error=N_("Al massimo 20 caratteri.")), SENZA_NUL]
    )
    CommessaERPId = QueryInteger(
        load_default=None, validate=_POSITIVO, metadata={"description": "Documento della commessa (ID del gestionale)."}
    )
    CODART = fields.String(
        load_default=None,
        validate=[
            validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")),
            Modello(NON_VUOTO, error=N_("Indicare la commessa (CommessaERPId) oppure l'articolo (CODART).")),
        ],
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
