"""Schemas of ``/api/avanzamento/`` (SPEC §6–7): ERP fields keep their ERP names, the
phases their ASI_GEST column names."""

from __future__ import annotations

from marshmallow import Schema, fields

from asigest.web.api.schemas import ListQuery


class AvanzamentoQuery(ListQuery):
    """``limit`` (1–500, default 100) and ``offset``, as every list."""


class FaseAvanzamentoSchema(Schema):
    FaseID = fields.Integer(attribute="id")
    FaseTipo = fields.String(attribute="fase_tipo")
    Stato = fields.String(attribute="stato")
    QtaPrevista = fields.Integer(attribute="qta_prevista")
    QtaProdotta = fields.Integer(attribute="qta_prodotta")
    QtaScarti = fields.Integer(attribute="qta_scarti")
    QtaDisponibile = fields.Integer(
        attribute="qta_disponibile",
        metadata={"description": "Pezzi che un nuovo lotto può prendere in questa fase (R5)."},
    )
    DataApertura = fields.AwareDateTime(attribute="data_apertura", format="iso", allow_none=True)
    DataChiusura = fields.AwareDateTime(attribute="data_chiusura", format="iso", allow_none=True)


class CommessaAvanzamentoSchema(Schema):
    ID = fields.Integer(attribute="id")
    ESERCIZIO = fields.Integer(attribute="esercizio", allow_none=True)
    NUMEROCOM = fields.Integer(attribute="numerocom", allow_none=True)
    CODART = fields.String(attribute="codart", allow_none=True)
    DESART = fields.String(attribute="desart", allow_none=True)
    NOMECLIENTE = fields.String(attribute="nomecliente", allow_none=True)
    QTA = fields.Integer(attribute="qta", allow_none=True)
    DATACONSEGNA = fields.Date(attribute="dataconsegna", allow_none=True)
    InRitardo = fields.Boolean(
        attribute="in_ritardo", metadata={"description": "Consegna passata e ultima fase non COMPLETATA."}
    )
    ARischio = fields.Boolean(
        attribute="a_rischio",
        metadata={"description": "Consegna entro 7 giorni (oggi compreso) e ultima fase non COMPLETATA."},
    )
    Fasi = fields.List(
        fields.Nested(FaseAvanzamentoSchema),
        attribute="fasi",
        metadata={"description": "Le fasi nell'ordine del flusso (FaseTipo.Ordine)."},
    )
