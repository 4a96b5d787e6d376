"""API schemas (SPEC §7): field names are the contract's column names."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from asigest.errors import N_
from asigest.web.api.base import NON_VUOTO, TESTO, Modello, QueryInteger, QuerySchema
from asigest.web.converters import ID_MAX

MAX_LIMIT = 500
# An offset is a row count: beyond an INTEGER no table has rows to skip, and a larger
# number would overflow the database's OFFSET (a 500 on PostgreSQL and on the ERP).
MAX_OFFSET = ID_MAX
ID_VALIDO = validate.Range(min=1, max=ID_MAX, error=N_("Deve essere un identificativo positivo."))
SENZA_NUL = Modello(TESTO, error=N_("Valore non valido."))


def id_query(**kwargs) -> QueryInteger:
    """An optional id filter in a query string (1 to 2,147,483,647)."""
    return QueryInteger(load_default=None, validate=ID_VALIDO, **kwargs)


class ListQuery(QuerySchema):
    limit = QueryInteger(
        load_default=100,
        validate=validate.Range(min=1, max=MAX_LIMIT, error=N_("Deve essere tra 1 e 500.")),
        metadata={"description": "Righe per pagina (1–500)."},
    )
    offset = QueryInteger(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_OFFSET, error=N_("Deve essere tra 0 e 2147483647.")),
        metadata={"description": "Righe da saltare (0–2147483647)."},
    )


class CommesseQuery(ListQuery):
    q = fields.String(
        load_default=None,
        validate=[validate.Length(max=100, error=N_("Al massimo 100 caratteri.")), SENZA_NUL],
        metadata={"description": "Filtro come in /api/commesse/search."},
    )


class SearchQuery(ListQuery):
    q = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100, error=N_("Da 1 a 100 caratteri.")),
            Modello(NON_VUOTO, error=N_("Indicare cosa cercare.")),
        ],
        metadata={"description": "NUMEROCOM, ESERCIZIO/NUMEROCOM, RIFCOMMCLI, CODART, DESART o NOMECLIENTE."},
    )


class ErrorSchema(Schema):
    detail = fields.String(required=True)
    code = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def _erp_fields(prefix: str) -> dict:
    """The ERP's own columns, read from ``prefix`` (a Commessa) on the dumped object."""
    p = f"{prefix}." if prefix else ""
    return {
        "ID": fields.Integer(attribute=f"{p}id"),
        "ESERCIZIO": fields.Integer(attribute=f"{p}esercizio", allow_none=True),
        "NUMEROCOM": fields.Integer(attribute=f"{p}numerocom", allow_none=True),
        "RIFCOMMCLI": fields.String(attribute=f"{p}rifcommcli", allow_none=True),
        "CODART": fields.String(attribute=f"{p}codart", allow_none=True),
        "DESART": fields.String(attribute=f"{p}desart", allow_none=True),
        "QTA": fields.Integer(attribute=f"{p}qta", allow_none=True),
        "DATACONSEGNA": fields.Date(attribute=f"{p}dataconsegna", allow_none=True),
        "STATOCOMMESSA": fields.String(attribute=f"{p}statocommessa", allow_none=True),
        "IDCLIENTE": fields.Integer(attribute=f"{p}idcliente", allow_none=True),
        "NOMECLIENTE": fields.String(attribute=f"{p}nomecliente", allow_none=True),
    }


class ConfigSchema(Schema):
    ConfigID = fields.Integer(attribute="id")
    CommessaERPId = fields.Integer(attribute="commessa_erp_id")
    FlagSMD = fields.Boolean(attribute="flag_smd")
    FlagPTH = fields.Boolean(attribute="flag_pth")
    FlagControlli = fields.Boolean(attribute="flag_controlli")
    DIBA = fields.String(attribute="diba", allow_none=True)
    Revisione = fields.String(attribute="revisione", allow_none=True)
    Note = fields.String(attribute="note", allow_none=True)
    DataCreazione = fields.AwareDateTime(attribute="data_creazione", format="iso")
    DataModifica = fields.AwareDateTime(attribute="data_modifica", format="iso", allow_none=True)
    BloccataDocumentazione = fields.Boolean(attribute="bloccata_documentazione")
    QtaERP = fields.Integer(attribute="qta_erp", allow_none=True)


class FaseSchema(Schema):
    FaseID = fields.Integer(attribute="id")
    CommessaERPId = fields.Integer(attribute="commessa_erp_id")
    FaseTipo = fields.String(attribute="fase_tipo.codice")
    Stato = fields.String(attribute="stato")
    QtaPrevista = fields.Integer(attribute="qta_prevista")
    QtaProdotta = fields.Integer(attribute="qta_prodotta")
    QtaScarti = fields.Integer(attribute="qta_scarti")
    DataApertura = fields.AwareDateTime(attribute="data_apertura", format="iso", allow_none=True)
    DataChiusura = fields.AwareDateTime(attribute="data_chiusura", format="iso", allow_none=True)


class FaseDisponibileSchema(FaseSchema):
    """A fase with QtaDisponibile (R5): what a new lotto may take now."""

    QtaDisponibile = fields.Integer(attribute="qta_disponibile")


class CommessaSchema(
    Schema.from_dict(  # type: ignore[misc]
        {**_erp_fields("commessa"), "Configurata": fields.Boolean(attribute="configurata")},
        name="Commessa",
    )
):
    """The orders list and search answer: the fields document it, and ``dump`` writes each
    row with ``Commessa.as_erp_dict`` (the same values; marshmallow took 3–4 ms for a page
    of 100 rows, most of a search's time)."""

    def dump(self, obj, *, many=None):
        if many if many is not None else self.many:
            return [{**riga.commessa.as_erp_dict(), "Configurata": riga.configurata} for riga in obj]
        return {**obj.commessa.as_erp_dict(), "Configurata": obj.configurata}


CommessaDettaglioSchema = Schema.from_dict(
    {
        **_erp_fields("commessa"),
        "Configurata": fields.Function(lambda d: d.config is not None, dump_only=True, metadata={"type": "boolean"}),
        "Config": fields.Nested(ConfigSchema, attribute="config", allow_none=True),
        "Fasi": fields.List(fields.Nested(FaseDisponibileSchema), attribute="fasi"),
    },
    name="CommessaDettaglio",
)
