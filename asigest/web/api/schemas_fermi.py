"""Schemas of ``/api/fermi``, ``/api/causali-fermo`` and ``/api/dashboard/oee`` (SPEC §7, §13).

The OEE response mirrors ``services.oee.Oee.as_api()`` (the one definition of the object).
"""

from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from asigest.domain.oee import CATEGORIE_FERMO
from asigest.errors import N_
from asigest.web.api.base import BodySchema, QueryBoolean, QueryDate, StrictBoolean, StrictInteger
from asigest.web.api.schemas import ID_VALIDO, SENZA_NUL, ListQuery, id_query
from asigest.web.api.schemas_anagrafiche import _codice, _fase_tipo, _testo
from asigest.web.api.schemas_dashboard import _GIORNO_O_VUOTO, KpiQuery, PeriodoSchema

_NOTE = [validate.Length(max=500, error=N_("Al massimo 500 caratteri.")), SENZA_NUL]


class FermiQuery(ListQuery):
    MacchinaID = id_query(data_key="MacchinaID", attribute="macchina_id")
    aperti = QueryBoolean(load_default=None, metadata={"description": "true: solo in corso; false: solo terminati."})
    da = QueryDate(
        load_default=None,
        openapi=_GIORNO_O_VUOTO,
        metadata={"description": "Solo i fermi che toccano questo giorno o i successivi (AAAA-MM-GG, ora locale)."},
    )
    a = QueryDate(
        load_default=None,
        openapi=_GIORNO_O_VUOTO,
        metadata={"description": "Solo i fermi iniziati entro la fine di questo giorno (AAAA-MM-GG, ora locale)."},
    )

    @pre_load
    def _vuote_come_assenti(self, data, **kwargs):
        return {nome: valore for nome, valore in data.items() if valore != ""}


class FermoIniziaSchema(BodySchema):
    MacchinaID = StrictInteger(required=True, attribute="macchina_id", validate=ID_VALIDO)
    CausaleFermo = fields.String(
        required=True,
        attribute="causale",
        validate=[validate.Length(min=1, max=30, error=N_("Da 1 a 30 caratteri.")), SENZA_NUL],
        metadata={"description": "Codice della causale di fermo (sconosciuta, disattivata o di un'altra fase: 400)."},
    )
    Note = fields.String(load_default=None, allow_none=True, attribute="note", validate=_NOTE)
    OperatoreID = StrictInteger(
        load_default=None,
        allow_none=True,
        attribute="operatore_id",
        validate=ID_VALIDO,
        metadata={
            "description": "Chi dichiara il fermo; se assente chi chiama. Un OPERATORE che ne indica un altro: 403."
        },
    )


class FermoSchema(Schema):
    FermoID = fields.Integer(attribute="id")
    MacchinaID = fields.Integer(attribute="macchina_id")
    Inizio = fields.AwareDateTime(attribute="inizio", format="iso")
    Fine = fields.AwareDateTime(attribute="fine", format="iso", allow_none=True)
    CausaleFermo = fields.String(attribute="causale.codice")
    Categoria = fields.String(attribute="causale.categoria")
    Pianificato = fields.Boolean(attribute="causale.pianificato")
    OperatoreID = fields.Integer(attribute="operatore_id")
    Note = fields.String(attribute="note", allow_none=True)


class CausaleFermoSchema(Schema):
    CausaleFermoID = fields.Integer(attribute="id")
    Codice = fields.String(attribute="codice")
    Descrizione = fields.String(attribute="descrizione")
    FaseTipo = fields.Function(
        lambda causale: causale.fase_tipo.codice if causale.fase_tipo else None,
        metadata={"type": "string", "nullable": True, "description": "Codice del tipo di fase; null = ogni fase."},
    )
    Categoria = fields.String(attribute="categoria")
    Pianificato = fields.Boolean(attribute="pianificato")
    Attiva = fields.Boolean(attribute="attiva")


class CausaliFermoQuery(ListQuery):
    Attiva = QueryBoolean(load_default=None, metadata={"description": "Solo attive (true) o disattivate (false)."})


_CATEGORIA = validate.OneOf(
    CATEGORIE_FERMO, error=N_("Categoria non valida: una tra GUASTO, ATTREZZAGGIO, MATERIALE, ATTESA, QUALITA, ALTRO.")
)
_DESCRIZIONE_VUOTA = N_("Indicare la descrizione.")


class CausaleFermoCreaSchema(BodySchema):
    Codice = _codice(required=True, metadata={"example": "FORNO-TEMP"})
    Descrizione = _testo(200, vuoto=_DESCRIZIONE_VUOTA, required=True)
    FaseTipo = _fase_tipo(
        vuoto_ammesso=True, load_default=None, allow_none=True, metadata={"description": 'null o "" = ogni fase.'}
    )
    Categoria = fields.String(required=True, validate=_CATEGORIA)
    Pianificato = StrictBoolean(
        load_default=False,
        metadata={"description": "Fermo pianificato (riunione, manutenzione preventiva): fuori dal tempo pianificato."},
    )
    Attiva = StrictBoolean(load_default=True)


class CausaleFermoModificaSchema(BodySchema):
    Codice = _codice()
    Descrizione = _testo(200, vuoto=_DESCRIZIONE_VUOTA)
    FaseTipo = _fase_tipo(vuoto_ammesso=True, allow_none=True, metadata={"description": 'null o "" = ogni fase.'})
    Categoria = fields.String(validate=_CATEGORIA)
    Pianificato = StrictBoolean()
    Attiva = StrictBoolean()


class OeeQuery(KpiQuery):
    """The KPI period (both days or neither, at most 366) and the group asked for."""

    MacchinaID = id_query(data_key="MacchinaID", attribute="macchina_id")
    FaseTipo = fields.String(
        load_default=None,
        attribute="fase_tipo",
        validate=[validate.Length(max=20, error=N_("Al massimo 20 caratteri.")), SENZA_NUL],
        metadata={"description": "Solo le macchine di questo tipo di fase (codice)."},
    )
    Reparto = fields.String(
        load_default=None,
        attribute="reparto",
        validate=[validate.Length(max=50, error=N_("Al massimo 50 caratteri.")), SENZA_NUL],
        metadata={"description": "Solo le macchine di questo reparto (linea)."},
    )


def _frazione(descrizione: str):
    return fields.Float(
        allow_none=True,
        metadata={"description": descrizione + " Frazione 0–1, 4 decimali; null se manca un dato (vedi `mancante`)."},
    )


def _minuti(descrizione: str, *, nullable: bool = False):
    return fields.Float(allow_none=nullable, metadata={"description": descrizione})


class VoceFermoSchema(Schema):
    Codice = fields.String()
    Descrizione = fields.String()
    Categoria = fields.String()
    minuti = fields.Float()
    fermi = fields.Integer()


class FigureOeeSchema(Schema):
    tempo_calendario_min = _minuti("Tempo dei turni nel periodo; null senza calendario.", nullable=True)
    tempo_fermi_pianificati_min = _minuti("Fermi pianificati dentro i turni (esclusi dal tempo pianificato).")
    tempo_pianificato_min = _minuti("PBT: turni meno fermi pianificati; null senza calendario.", nullable=True)
    tempo_fermo_min = _minuti("Fermi non pianificati dentro il tempo pianificato.")
    tempo_lavoro_min = _minuti("APT = PBT − fermi; null senza calendario.", nullable=True)
    pezzi_buoni = fields.Integer()
    pezzi_scartati = fields.Integer()
    disponibilita = _frazione("APT / PBT.")
    efficienza = _frazione("Tempo ciclo ideale × pezzi / APT.")
    qualita = _frazione("Pezzi buoni / pezzi prodotti.")
    oee = _frazione("Disponibilità × efficienza × qualità.")
    mancante = fields.List(
        fields.String(),
        metadata={
            "description": "Dati mancanti: calendario, tempo_pianificato, tempo_ciclo, tempo_lavoro, pezzi_prodotti."
        },
    )
    articoli_senza_tempo_ciclo = fields.List(fields.String())
    fermi_per_causale = fields.List(fields.Nested(VoceFermoSchema))
    perdita_velocita_min = _minuti("APT − tempo ideale; null senza tempi ciclo.", nullable=True)
    perdita_scarti_min = _minuti("Tempo ideale speso in pezzi scartati; null senza tempi ciclo.", nullable=True)
    guasti = fields.Integer(metadata={"description": "Fermi di categoria GUASTO che hanno tolto tempo pianificato."})
    mtbf_min = _minuti("APT / guasti; null senza guasti.", nullable=True)
    mttr_min = _minuti("Minuti di guasto / guasti; null senza guasti.", nullable=True)


class MacchinaOeeSchema(FigureOeeSchema):
    MacchinaID = fields.Integer()
    Codice = fields.String()
    Descrizione = fields.String()
    Reparto = fields.String(allow_none=True)
    FaseTipo = fields.String()


class RepartoOeeSchema(FigureOeeSchema):
    Reparto = fields.String(allow_none=True)


class FaseTipoOeeSchema(FigureOeeSchema):
    FaseTipo = fields.String()


class OeeSchema(Schema):
    periodo = fields.Nested(PeriodoSchema)
    macchine = fields.List(fields.Nested(MacchinaOeeSchema))
    totale = fields.Nested(FigureOeeSchema)
    reparti = fields.List(fields.Nested(RepartoOeeSchema))
    fasi_tipo = fields.List(fields.Nested(FaseTipoOeeSchema))
