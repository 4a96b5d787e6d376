"""Schemas of ``/api/dashboard/kpi`` (SPEC §6): the period asked for and the KPI object.

The response schema mirrors ``Kpi.as_api()`` (the one definition of the object), so the
OpenAPI document shows its keys and types; dates are ISO strings (``format: date``).
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validates_schema

from asigest.domain.kpi import errori_periodo
from asigest.web.api.base import QueryDate, QuerySchema

# A day from 1900 to 2999 (domain/kpi.py), or "" as a period picker left empty sends it.
_GIORNO_O_VUOTO = {
    "anyOf": [
        {"type": "string", "format": "date", "pattern": "^(19[0-9]{2}|2[0-9]{3})-"},
        {"type": "string", "maxLength": 0},
    ]
}


class KpiQuery(QuerySchema):
    """``da`` and ``a`` go together (both or neither), ``da`` ≤ ``a``, at most 366 days:
    rules between parameters that OpenAPI 3.0 cannot write as a schema (422 otherwise)."""

    da = QueryDate(
        load_default=None,
        openapi=_GIORNO_O_VUOTO,
        metadata={"description": "Primo giorno (AAAA-MM-GG, anni 1900–2999), insieme ad `a`; vuoto = assente."},
    )
    a = QueryDate(
        load_default=None,
        openapi=_GIORNO_O_VUOTO,
        metadata={
            "description": "Ultimo giorno incluso (AAAA-MM-GG), insieme a `da`, non prima di `da`, periodo al massimo "
            "di 366 giorni; vuoto = assente. Senza date: la settimana ISO corrente."
        },
    )

    @pre_load
    def _vuote_come_assenti(self, data, **kwargs):
        # A period picker sends "da=&a=" when left empty: that asks for the default period.
        return {nome: valore for nome, valore in data.items() if valore != ""}

    @validates_schema(skip_on_field_errors=True)
    def _periodo(self, data, **kwargs):
        errori = errori_periodo(data.get("da"), data.get("a"))
        if errori:
            raise ValidationError(errori)


def _data(**kwargs):
    return fields.String(metadata={"format": "date", **kwargs.pop("metadata", {})}, **kwargs)


class PeriodoSchema(Schema):
    da = _data()
    a = _data()


class ScartiFaseSchema(Schema):
    FaseTipo = fields.String()
    pezzi_scartati = fields.Integer()


class ScartiMacchinaSchema(Schema):
    MacchinaID = fields.Integer()
    Codice = fields.String()
    pezzi_scartati = fields.Integer()


class ScartiCausaleSchema(Schema):
    CausaleID = fields.Integer(allow_none=True)
    Codice = fields.String(allow_none=True)
    Descrizione = fields.String(allow_none=True)
    pezzi_scartati = fields.Integer()


class OperatoreSchema(Schema):
    OperatoreID = fields.Integer()
    Nome = fields.String(metadata={"description": "Nome Cognome."})
    pezzi_buoni = fields.Integer()


class GiornoSchema(Schema):
    data = _data()
    pezzi_buoni = fields.Integer()


class KpiSchema(Schema):
    periodo = fields.Nested(PeriodoSchema)
    lotti_settimana = fields.Integer(metadata={"description": "Lotti chiusi nel periodo."})
    lotti_per_fase = fields.Dict(keys=fields.String(), values=fields.Integer())
    pezzi_buoni = fields.Integer()
    pezzi_scartati = fields.Integer()
    scarti_percent = fields.Float()
    scarti_per_fase = fields.List(fields.Nested(ScartiFaseSchema))
    scarti_per_macchina = fields.List(fields.Nested(ScartiMacchinaSchema))
    scarti_per_causale = fields.List(fields.Nested(ScartiCausaleSchema))
    top_operatori = fields.List(fields.Nested(OperatoreSchema))
    lotti_aperti = fields.Integer()
    lotti_dimenticati = fields.Integer()
    resa_primo_passaggio = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    produzione_giornaliera = fields.List(fields.Nested(GiornoSchema))
    durata_media_minuti = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
