"""API schemas for master data (SPEC §7): utenti, macchine, causali.

Output schemas list exactly the fields the API returns: a user's hashes are not among
them, and ``Pin``/``Password`` exist only on the input side (``load_only``).
Input schemas check shape (types, lengths); the rules live in the services.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from asigest.domain.anagrafiche import LINGUE, PASSWORD_MAX, PASSWORD_MIN, PIN_MAX, PIN_MIN, TROPPO_LUNGO
from asigest.domain.ruoli import RUOLI
from asigest.errors import N_
from asigest.web.api.base import CODICE, CODICE_FASE, NON_VUOTO, BodySchema, Modello, QueryBoolean, StrictBoolean
from asigest.web.api.schemas import SENZA_NUL, ListQuery


def _testo(massimo: int, *, vuoto: str | None = None, **kwargs) -> fields.String:
    """A text field of at most ``massimo`` characters (the column's size), without NUL;
    with ``vuoto`` (the message for it) it may not be blank either."""
    pieno = Modello(NON_VUOTO, error=vuoto) if vuoto else SENZA_NUL
    return fields.String(validate=[validate.Length(max=massimo, error=TROPPO_LUNGO[massimo]), pieno], **kwargs)


def _codice(**kwargs) -> fields.String:
    """A machine or scrap-reason code: letters, digits and . _ - (uppercased when saved)."""
    metadata = {"description": "Lettere, cifre e . _ - (salvato in maiuscolo).", **kwargs.pop("metadata", {})}
    return fields.String(
        validate=[
            validate.Length(max=30, error=TROPPO_LUNGO[30]),
            Modello(CODICE, error=N_("Usare solo lettere, cifre e i segni . _ - senza spazi.")),
        ],
        metadata=metadata,
        **kwargs,
    )


def _fase_tipo(*, vuoto_ammesso: bool = False, **kwargs) -> fields.String:
    """A phase type's code. The document lists the active ones (``catalogo``); the service
    refuses (422) one that does not exist or is deactivated. ``vuoto_ammesso``: "" = any phase."""
    forma = r"^(|[A-Za-z][A-Za-z0-9_]*)$" if vuoto_ammesso else CODICE_FASE
    return fields.String(
        validate=[
            validate.Length(max=20, error=TROPPO_LUNGO[20]),
            Modello(forma, error=N_("Tipo di fase inesistente: sceglierne uno dall'elenco.")),
        ],
        metadata={"catalogo": "fasi_tipo_attive", "catalogo_vuoto": vuoto_ammesso, **kwargs.pop("metadata", {})},
        **kwargs,
    )


_LINGUA = validate.OneOf(LINGUE, error=N_("Lingua non valida: usare it (italiano) o en (inglese)."))
_LINGUA_DESCRIZIONE = "Lingua del terminale per l'utente, dal suo accesso col badge: it o en."
_RUOLO = validate.OneOf(RUOLI, error=N_("Ruolo non valido: usare OPERATORE, SUPERVISORE o ADMIN."))
_PIN = [
    validate.Length(min=PIN_MIN, max=PIN_MAX, error=N_("Il PIN deve avere da 4 a 8 cifre.")),
    Modello(r"^[0-9]{%d,%d}$" % (PIN_MIN, PIN_MAX), error=N_("Il PIN deve avere da 4 a 8 cifre.")),
]
_PASSWORD = [
    validate.Length(min=PASSWORD_MIN, error=N_("La password deve avere almeno 8 caratteri.")),
    validate.Length(max=PASSWORD_MAX, error=TROPPO_LUNGO[200]),
    SENZA_NUL,
]
_MATRICOLA_VUOTA = N_("Indicare la matricola (codice badge).")
_NOME_VUOTO = N_("Indicare il nome.")
_COGNOME_VUOTO = N_("Indicare il cognome.")
_DESCRIZIONE_VUOTA = N_("Indicare la descrizione.")


# -- utenti -------------------------------------------------------------------------------


class UtenteSchema(Schema):
    UtenteID = fields.Integer(attribute="id")
    Matricola = fields.String(attribute="matricola")
    Nome = fields.String(attribute="nome")
    Cognome = fields.String(attribute="cognome")
    Ruolo = fields.String(attribute="ruolo", metadata={"enum": list(RUOLI)})
    Attivo = fields.Boolean(attribute="attivo")
    Lingua = fields.String(attribute="lingua", metadata={"enum": list(LINGUE), "description": _LINGUA_DESCRIZIONE})
    DataCreazione = fields.AwareDateTime(attribute="data_creazione", format="iso")
    UltimoAccesso = fields.AwareDateTime(attribute="ultimo_accesso", format="iso", allow_none=True)


class UtentiQuery(ListQuery):
    q = _testo(100, load_default=None, metadata={"description": "Testo in matricola, nome o cognome."})
    Ruolo = fields.String(load_default=None, validate=_RUOLO)
    Attivo = QueryBoolean(load_default=None, metadata={"description": "Solo attivi (true) o disattivati (false)."})


class UtenteCreaSchema(BodySchema):
    Matricola = _testo(30, vuoto=_MATRICOLA_VUOTA, required=True, metadata={"description": "Codice badge, unico."})
    Nome = _testo(60, vuoto=_NOME_VUOTO, required=True)
    Cognome = _testo(60, vuoto=_COGNOME_VUOTO, required=True)
    Ruolo = fields.String(required=True, validate=_RUOLO)
    Pin = fields.String(
        load_only=True,
        load_default=None,
        allow_none=True,
        validate=_PIN,
        metadata={"description": "PIN del terminale, 4–8 cifre (mai restituito)."},
    )
    Password = fields.String(
        load_only=True,
        load_default=None,
        allow_none=True,
        validate=_PASSWORD,
        metadata={"description": "Password per il login web, 8–200 caratteri (mai restituita)."},
    )
    Attivo = StrictBoolean(load_default=True)
    Lingua = fields.String(load_default="it", validate=_LINGUA, metadata={"description": _LINGUA_DESCRIZIONE})


class UtenteModificaSchema(BodySchema):
    """Every field optional: what is sent changes, the rest stays."""

    Matricola = _testo(30, vuoto=_MATRICOLA_VUOTA)
    Nome = _testo(60, vuoto=_NOME_VUOTO)
    Cognome = _testo(60, vuoto=_COGNOME_VUOTO)
    Ruolo = fields.String(validate=_RUOLO)
    Attivo = StrictBoolean()
    Lingua = fields.String(validate=_LINGUA, metadata={"description": _LINGUA_DESCRIZIONE})
    Pin = fields.String(
        load_only=True, validate=_PIN, metadata={"description": "Nuovo PIN, 4–8 cifre (mai restituito)."}
    )
    Password = fields.String(
        load_only=True,
        validate=_PASSWORD,
        metadata={"description": "Nuova password, 8–200 caratteri (mai restituita)."},
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
    FaseTipo = _testo(
        20, load_default=None, metadata={"description": "Solo le macchine di questo tipo di fase (codice)."}
    )
    Attiva = QueryBoolean(load_default=None, metadata={"description": "Solo attive (true) o disattivate (false)."})


class MacchinaCreaSchema(BodySchema):
    Codice = _codice(required=True, metadata={"example": "SMD-L4"})
    Descrizione = _testo(100, load_default=None, allow_none=True)
    FaseTipo = _fase_tipo(required=True, metadata={"description": "Codice di un tipo di fase attivo."})
    Reparto = _testo(50, load_default=None, allow_none=True)
    Attiva = StrictBoolean(load_default=True)


class MacchinaModificaSchema(BodySchema):
    Codice = _codice()
    Descrizione = _testo(100, allow_none=True)
    FaseTipo = _fase_tipo(metadata={"description": "Codice di un tipo di fase attivo."})
    Reparto = _testo(50, allow_none=True, metadata={"description": 'null o "" lo cancella.'})
    Attiva = StrictBoolean()


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
        20,
        load_default=None,
        metadata={"description": "Solo le causali usabili in questa fase: le sue e quelle valide per ogni fase."},
    )
    Attiva = QueryBoolean(load_default=None, metadata={"description": "Solo attive (true) o disattivate (false)."})


class CausaleCreaSchema(BodySchema):
    Codice = _codice(required=True, metadata={"example": "SMD-PONTE"})
    Descrizione = _testo(200, vuoto=_DESCRIZIONE_VUOTA, required=True)
    FaseTipo = _fase_tipo(
        vuoto_ammesso=True,
        load_default=None,
        allow_none=True,
        metadata={"description": 'null o "" = valida in ogni fase.'},
    )
    Attiva = StrictBoolean(load_default=True)


class CausaleModificaSchema(BodySchema):
    Codice = _codice()
    Descrizione = _testo(200, vuoto=_DESCRIZIONE_VUOTA)
    FaseTipo = _fase_tipo(
        vuoto_ammesso=True, allow_none=True, metadata={"description": 'null o "" = valida in ogni fase.'}
    )
    Attiva = StrictBoolean()
