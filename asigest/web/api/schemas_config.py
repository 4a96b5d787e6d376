"""Schemas of ``/api/config`` and ``/api/fasi`` (SPEC §7).

Bodies load into the service's keyword names (``data_key`` is the contract's column
name), so a route passes them on unchanged. Types are strict: JSON ``true``/``false`` for
flags and JSON integers for ids, so ``"FlagSMD": "no"`` or ``"CommessaERPId": "101"`` are
422 instead of a guess.
"""

from __future__ import annotations

from marshmallow import fields, validate

from asigest.errors import N_
from asigest.services.configurazione import MAX_DIBA, MAX_NOTE, MAX_REVISIONE
from asigest.web.api.base import CODICE_FASE, BodySchema, Modello, StrictBoolean, StrictInteger
from asigest.web.api.schemas import ID_VALIDO, SENZA_NUL, FaseDisponibileSchema, FaseSchema, ListQuery, id_query  # noqa: F401  (re-exported)


def _id(data_key: str, description: str, **kwargs):
    return StrictInteger(
        data_key=data_key,
        validate=ID_VALIDO,
        metadata={"description": description},
        **kwargs,
    )


def _testo(data_key: str, size: int, message: str, description: str):
    return fields.String(
        data_key=data_key,
        allow_none=True,
        validate=[validate.Length(max=size, error=message), SENZA_NUL],
        metadata={"description": description},
    )


class _ConfigFields(BodySchema):
    """The fields a client may set on a config, shared by create and update."""

    flag_smd = StrictBoolean(data_key="FlagSMD", metadata={"description": "Fase SMD attiva."})
    flag_pth = StrictBoolean(data_key="FlagPTH", metadata={"description": "Fase PTH attiva."})
    flag_controlli = StrictBoolean(data_key="FlagControlli", metadata={"description": "Fase CONTROLLI attiva."})
    diba = _testo("DIBA", MAX_DIBA, N_("Al massimo 50 caratteri."), "Codice distinta base.")
    revisione = _testo("Revisione", MAX_REVISIONE, N_("Al massimo 20 caratteri."), "Revisione della distinta base.")
    note = _testo("Note", MAX_NOTE, N_("Al massimo 2000 caratteri."), "Note per la produzione.")


class ConfigCreateSchema(_ConfigFields):
    """POST /api/config/: at least one flag true (else 400 NESSUNA_FASE)."""

    commessa_erp_id = _id("CommessaERPId", "ID della commessa nel gestionale (aperta).", required=True)
    flag_smd = StrictBoolean(data_key="FlagSMD", load_default=True, metadata={"description": "Fase SMD attiva."})
    flag_pth = StrictBoolean(data_key="FlagPTH", load_default=False, metadata={"description": "Fase PTH attiva."})
    flag_controlli = StrictBoolean(
        data_key="FlagControlli", load_default=True, metadata={"description": "Fase CONTROLLI attiva."}
    )


class ConfigUpdateSchema(_ConfigFields):
    """PUT /api/config/{ConfigID}: only the fields sent change."""

    bloccata_documentazione = StrictBoolean(
        data_key="BloccataDocumentazione",
        metadata={"description": "Blocca l'apertura di nuovi lotti finché la documentazione non è a posto."},
    )


class ConfigListQuery(ListQuery):
    commessa_erp_id = id_query(
        data_key="CommessaERPId", metadata={"description": "Solo la configurazione di questa commessa."}
    )


class FaseCreateSchema(BodySchema):
    """POST /api/fasi/: a fase added by hand to a configured commessa."""

    commessa_erp_id = _id("CommessaERPId", "ID della commessa configurata.", required=True)
    fase_tipo = fields.String(
        data_key="FaseTipo",
        required=True,
        validate=[
            validate.Length(min=1, max=20, error=N_("Da 1 a 20 caratteri.")),
            Modello(
                CODICE_FASE,
                error=N_("Tipo di fase sconosciuto: usare uno dei codici del catalogo (es. SMD, PTH, CONTROLLI)."),
            ),
        ],
        # The document lists the catalog's codes; the service refuses (422) an unknown one.
        metadata={"description": "Codice del tipo di fase (SMD, PTH, CONTROLLI…).", "catalogo": "fasi_tipo"},
    )
