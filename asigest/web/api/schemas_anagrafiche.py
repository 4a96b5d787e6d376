"""API schemas for master data (SPEC §7): utenti, macchine, causali.

Output schemas list exactly the fields the API returns: a user's hashes are not among
them, and ``Pin``/``Password`` exist only on the input side (``load_only``).
Input schemas check shape (types, lengths); the rules live in the services.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from asigest.domain.anagrafiche import TROPPO_LUNGO
from asigest.domain.ruoli import RUOLI
from asigest.errors import N_
from asigest.web.api.base import BodySchema
from asigest.web.api.schemas import ListQuery


def _testo(massimo: int, **kwargs) -> fields.String:
    """A text field of at most ``massimo`` characters (the column's size)."""
    return fields.String(validate=validate.Length(max=massimo, error=TROPPO_LUNGO[massimo]), **kwargs)


_RUOLO = validate.OneOf(RUOLI, error=N_("Ruolo non valido: usare OPERATORE, SUPERVISORE o ADMIN."))


# -- utenti -------------------------------------------------------------------------------


class UtenteSchema(Schema):
    UtenteID = fields.Integer(attribute="id")
    Matricola = fields.String(attribute="matricola")
    Nome = fields.String(attribute="nome")
    Cognome = fields.String(attribute="cognome")
    Ruolo = fields.String(attribute="ruolo", metadata={"enum": list(RUOLI)})
    Attivo = fields.Boolean(attribute="attivo")
    DataCreazione = fields.AwareDateTime(attribute="data_creazione", format="iso")
    UltimoAccesso = fields.AwareDateTime(attribute="ultimo_accesso", format="iso", allow_none=True)


class UtentiQuery(ListQuery):
    q = _testo(100, load_default=None, metadata={"description": "Testo in matricola, nome o cognome."})
    Ruolo = fields.String(load_default=None, validate=_RUOLO, metadata={"enum": list(RUOLI)})
    Attivo = fields.Boolean(load_default=None, metadata={"description": "Solo attivi (true) o disattivati (false)."})


class UtenteCreaSchema(BodySchema):
    Matricola = _testo(30, required=True, metadata={"description": "Codice badge, unico."})
    Nome = _testo(60, required=True)
    Cognome = _testo(60, required=True)
    Ruolo = fields.String(required=True, validate=_RUOLO, metadata={"enum": list(RUOLI)})
    Pin = fields.String(
        load_only=True, load_default=None, allow_none=True,
        metadata={"description": "PIN del terminale, 4–8 cifre (mai restituito)."},
    )
    Password = fields.String(
        load_only=True, load_default=None, allow_none=True,
        validate=validate.Length(max=200, error=TROPPO_LUNGO[200]),
        metadata={"description": "Password per il login web, almeno 8 caratteri (mai restituita)."},
    )
    Attivo = fields.Boolean(load_default=True)


class UtenteModificaSchema(BodySchema):
    """Every field optional: what is sent changes, the rest stays."""

    Matricola = _testo(30)
    Nome = _testo(60)
    Cognome = _testo(60)
    Ruolo = fields.String(validate=_RUOLO, metadata={"enum": list(RUOLI)})
    Attivo = fields.Boolean()
    Pin = fields.String(load_only=True, metadata={"description": "Nuovo PIN, 4–8 cifre (mai restituito)."})
    Password = fields.String(
        load_only=True, validate=validate.Length(max=200, error=TROPPO_LUNGO[200]),
        metadata={"description": "Nuova password, almeno 8 caratteri (mai restituita)."},
    )


# -- macchine -------------------------------------------------------------------------------


class MacchinaSchema(Schema):
    MacchinaID = fields.Integer(attribute="id")
    Codice = fields.String(attribute="codice")
    Descrizione = fields.String(attribute="descrizione")
    FaseTipo = fields.String(attribute="fase_tipo.codice")
    Reparto = fields.String(attribute="reparto", allow_none=True)
    Attiva = fields.Boolean(attribute="attiva")


class MacchineQuery(ListQuery):
    FaseTipo = _testo(20, load_default=None, metadata={"description": "Solo le macchine di questo tipo di fase (codice)."})
    Attiva = fields.Boolean(load_default=None, metadata={"description": "Solo attive (true) o disattivate (false)."})


class MacchinaCreaSchema(BodySchema):
    Codice = _testo(30, required=True, metadata={"description": "Es. SMD-L1; lettere, cifre, . _ -"})
    Descrizione = _testo(100, load_default=None, allow_none=True)
    FaseTipo = _testo(20, required=True, metadata={"description": "Codice di un tipo di fase attivo."})
    Reparto = _testo(50, load_default=None, allow_none=True)
    Attiva = fields.Boolean(load_default=True)


class MacchinaModificaSchema(BodySchema):
    Codice = _testo(30)
    Descrizione = _testo(100, allow_none=True)
    FaseTipo = _testo(20)
    Reparto = _testo(50, allow_none=True, metadata={"description": "null o \"\" lo cancella."})
    Attiva = fields.Boolean()


# -- causali di scarto ------------------------------------------------------------------------


class CausaleSchema(Schema):
    CausaleID = fields.Integer(attribute="id")
    Codice = fields.String(attribute="codice")
    Descrizione = fields.String(attribute="descrizione")
    FaseTipo = fields.Function(
        lambda causale: causale.fase_tipo.codice if causale.fase_tipo else None,
        metadata={"type": "string", "nullable": True, "description": "Codice del tipo di fase; null = ogni fase."},
    )
    Attiva = fields.Boolean(attribute="attiva")


class CausaliQuery(ListQuery):
    FaseTipo = _testo(
        20, load_default=None,
        metadata={"description": "Solo le causali usabili in questa fase: le sue e quelle valide per ogni fase."},
    )
    Attiva = fields.Boolean(load_default=None, metadata={"description": "Solo attive (true) o disattivate (false)."})


class CausaleCreaSchema(BodySchema):
    Codice = _testo(30, required=True)
    Descrizione = _testo(200, required=True)
    FaseTipo = _testo(20, load_default=None, allow_none=True, metadata={"description": "null = valida in ogni fase."})
    Attiva = fields.Boolean(load_default=True)


class CausaleModificaSchema(BodySchema):
    Codice = _testo(30)
    Descrizione = _testo(200)
    FaseTipo = _testo(20, allow_none=True, metadata={"description": "null = valida in ogni fase."})
    Attiva = fields.Boolean()
