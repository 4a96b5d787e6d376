"""Schemas of ``/api/tracciabilita/{CodiceLotto}`` (SPEC §12)."""

from __future__ import annotations

from marshmallow import Schema, fields, post_dump, validate

from asigest.errors import N_
from asigest.services.tracciabilita import AVANTI, DIREZIONI, INDIETRO
from asigest.web.api.base import QuerySchema
from asigest.web.api.schemas_lotti import LottoSchema


class TracciaQuery(QuerySchema):
    direzione = fields.String(
        load_default=INDIETRO,
        validate=validate.OneOf(DIREZIONI, error=N_("Usare indietro o avanti.")),
        metadata={
            "description": "indietro (predefinito): i lotti da cui ha prelevato, fino alla prima fase; avanti: i "
            "lotti che hanno prelevato da esso, per un richiamo."
        },
    )


class DocumentoTracciaSchema(Schema):
    """A technical document current for the lotto's order or article when it opened."""

    DocumentoID = fields.Integer(attribute="id")
    Tipo = fields.String(attribute="tipo")
    Titolo = fields.String(attribute="titolo")
    Revisione = fields.String(attribute="revisione", allow_none=True)
    Sha256 = fields.String(attribute="sha256")
    DataCaricamento = fields.AwareDateTime(attribute="data_caricamento", format="iso")


def _dettagli(parte: str):
    return fields.Function(
        lambda evento: {
            k: v
            for k, v in ((evento.dettagli or {}).get(parte) or {}).items()
            if k in ("QtaOutput", "QtaScarti", "CausaleScarto", "Origini")
        },
        metadata={"type": "object", "description": f"QtaOutput, QtaScarti, CausaleScarto, Origini ({parte})."},
    )


class RettificaTracciaSchema(Schema):
    """A correction (R10) of the lotto, from its audit row."""

    LogID = fields.Integer(attribute="id")
    DataOra = fields.AwareDateTime(attribute="data_ora", format="iso")
    UtenteID = fields.Integer(attribute="utente_id", allow_none=True)
    Motivo = fields.Function(
        lambda evento: (evento.dettagli or {}).get("motivo"), metadata={"type": "string", "nullable": True}
    )
    Prima = _dettagli("prima")
    Dopo = _dettagli("dopo")


def _collegati(schema: str, quando: str):
    return {
        "type": "array",
        "description": f"Con direzione={quando}: ogni nodo con QtaPrelevata, i pezzi prelevati; fino alla fine della catena.",
        # A node's own schema declares QtaPrelevata (present on linked nodes only): an allOf
        # with a second object would be refused by the node's additionalProperties: false.
        "items": {"$ref": f"#/components/schemas/{schema}"},
    }


class NodoTracciaSchema(LottoSchema):
    """One node of a trace (SPEC §12): the lotto's API fields (§7), the documents current
    at its opening, its corrections and, by direction, ``Origini`` (the lotti it drew
    from) or ``Destinazioni`` (the lotti that drew from it)."""

    # Only on the nodes under Origini or Destinazioni (the scanned lotto has none): read from
    # an attribute no node has, so it is left out unless _collegati adds it.
    QtaPrelevata = fields.Integer(
        attribute="_qta_prelevata",
        dump_only=True,
        metadata={"minimum": 1, "description": "Nei nodi collegati: i pezzi prelevati tra i due lotti."},
    )
    Documenti = fields.List(fields.Nested(DocumentoTracciaSchema), attribute="documenti")
    Rettifiche = fields.List(fields.Nested(RettificaTracciaSchema), attribute="rettifiche")
    Origini = fields.Method("_origini", metadata=_collegati("NodoTraccia", INDIETRO))
    Destinazioni = fields.Method("_destinazioni", metadata=_collegati("NodoTraccia", AVANTI))

    def _origini(self, nodo):
        return self._collegati(nodo) if nodo.direzione == INDIETRO else None

    def _destinazioni(self, nodo):
        return self._collegati(nodo) if nodo.direzione == AVANTI else None

    def _collegati(self, nodo) -> list[dict]:
        return [{**self.dump(altro), "QtaPrelevata": qta} for altro, qta in nodo.collegati]

    @post_dump
    def _una_direzione(self, dati: dict, **kwargs) -> dict:
        for chiave in ("Origini", "Destinazioni"):
            if dati.get(chiave) is None:
                dati.pop(chiave, None)
        return dati
