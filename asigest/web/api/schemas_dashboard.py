"""Schemas of ``/api/dashboard/kpi`` (SPEC §6): the period asked for and the KPI object.

The response schema mirrors ``Kpi.as_api()`` (the one definition of the object), so the
OpenAPI document shows its keys and types; dates are ISO strings (``format: date``).
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validates_schema

from asigest.domain.kpi import errori_periodo
from asigest.web.api.base import QuerySchema


class KpiQuery(QuerySchema):
    da = fields.Date(load_default=None, metadata={"description": "Primo giorno (AAAA-MM-GG), con `a`."})
    a = fields.Date(load_default=None, metadata={"description": "Ultimo giorno incluso (AAAA-MM-GG), con `da`. "
                                                 "Senza date: la settimana ISO corrente."})

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
