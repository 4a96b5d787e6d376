"""``/api/fermi``, ``/api/causali-fermo`` and ``/api/dashboard/oee``: machine stops and
OEE (SPEC §7, §13, R15).

``Idempotency-Key`` on starting and ending a stop makes a retried request return the
first result; the same key on another request is 422 ``IDEMPOTENCY_KEY_RIUSATA`` (R11).
"""

from __future__ import annotations

from flask import current_app

from asigest.domain.periodo import Periodo, mezzanotte_utc
from asigest.domain.ruoli import ADMIN, OPERATORE
from asigest.errors import InvalidInput
from asigest.models.types import utcnow
from asigest.services import fermi as fermi_service
from asigest.services.oee import calcola_oee
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import chiave_idempotenza, endpoint
from asigest.web.api.schemas_fermi import (
    CausaleFermoCreaSchema,
    CausaleFermoModificaSchema,
    CausaleFermoSchema,
    CausaliFermoQuery,
    FermiQuery,
    FermoIniziaSchema,
    FermoSchema,
    OeeQuery,
    OeeSchema,
)

_ESITO_FERMO = {
    nome: (vista, {"FermoID": "$response.body#/FermoID"})
    for nome, vista in (("Fermo", "fermo_get"), ("Riprendi", "fermo_fine"))
}


@bp.get("/fermi/")
@endpoint(
    summary="Fermi macchina",
    query=FermiQuery(),
    response=FermoSchema(many=True),
    errors=(422,),
    collegamenti={"Fermo": ("fermo_get", {"FermoID": "$response.body#/0/FermoID"})},
)
def fermi_list(query):
    """Stops newest first; filters MacchinaID, ``aperti``, and ``da``/``a`` (local days: the stops touching them)."""
    zona = current_app.config["TIMEZONE"]
    da, a = query.pop("da"), query.pop("a")
    return fermi_service.list_fermi(
        deps.session(),
        da=mezzanotte_utc(da, zona) if da else None,
        a=Periodo(a, a).fine_utc(zona) if a else None,
        **query,
    )


@bp.post("/fermi/")
@requires(OPERATORE)
@endpoint(
    summary="Inizia un fermo macchina",
    body=FermoIniziaSchema(),
    response=FermoSchema(),
    status=201,
    errors={
        400: "R15 rifiuta il fermo: la macchina ha già un fermo in corso (FERMO_IN_CORSO), macchina non attiva "
        "(MACCHINA_NON_ATTIVA), causale sconosciuta, disattivata o di un'altra fase (CAUSALE_FERMO_NON_VALIDA), "
        "operatore non attivo (OPERATORE_NON_ATTIVO).",
        403: "Un OPERATORE che indica un altro operatore, o un ruolo non ammesso.",
        404: "Macchina inesistente.",
        409: "Inizio concorrente sulla stessa macchina (RIPROVARE): riprovare.",
        422: None,
    },
    collegamenti=_ESITO_FERMO,
)
def fermo_inizia(body):
    """Start a stop of a machine now (R15); a lotto open on it stays open."""
    return fermi_service.inizia_fermo(deps.session(), actor=deps.actor(), **chiave_idempotenza(body), **body).fermo


@bp.get("/fermi/<int:fermo_id>")
@endpoint(summary="Un fermo", response=FermoSchema(), errors=(404,))
def fermo_get(fermo_id: int):
    """One stop."""
    return fermi_service.get_fermo(deps.session(), fermo_id)


@bp.put("/fermi/<int:fermo_id>/fine")
@requires(OPERATORE)
@endpoint(
    summary="Termina un fermo (Riprendi)",
    response=FermoSchema(),
    errors={
        400: "Il fermo è già terminato (FERMO_GIA_TERMINATO).",
        403: None,
        404: None,
        422: "Idempotency-Key non valida, o già usata per un'altra richiesta (IDEMPOTENCY_KEY_RIUSATA).",
    },
)
def fermo_fine(fermo_id: int):
    """End a running stop now."""
    return fermi_service.termina_fermo(
        deps.session(), actor=deps.actor(), fermo_id=fermo_id, **chiave_idempotenza({"FermoID": fermo_id})
    ).fermo


# -- causali di fermo ------------------------------------------------------------------------


@bp.get("/causali-fermo/")
@endpoint(
    summary="Causali di fermo",
    query=CausaliFermoQuery(),
    response=CausaleFermoSchema(many=True),
    errors=(422,),
    collegamenti={"Modifica": ("causale_fermo_update", {"id": "$response.body#/0/CausaleFermoID"})},
)
def causali_fermo_list(query):
    """Stop reasons by code; ``Attiva`` filters by state."""
    causali = fermi_service.list_causali_fermo(deps.session())
    if query["Attiva"] is not None:
        causali = [c for c in causali if c.attiva == query["Attiva"]]
    return causali[query["offset"] : query["offset"] + query["limit"]]


_CAMPI_CAUSALE = {
    "Codice": "codice",
    "Descrizione": "descrizione",
    "FaseTipo": "fase_tipo",
    "Categoria": "categoria",
    "Pianificato": "pianificato",
    "Attiva": "attiva",
}


def _salva_causale(causale_id: int | None, body: dict):
    argomenti = {_CAMPI_CAUSALE[k]: v for k, v in body.items()}
    if "FaseTipo" in body:
        argomenti["cambia_fase_tipo"] = True
    try:
        return fermi_service.salva_causale_fermo(deps.session(), actor=deps.actor(), causale_id=causale_id, **argomenti)
    except InvalidInput as errore:
        errore.errors = {k if k in _CAMPI_CAUSALE else "_schema": v for k, v in errore.errors.items()}
        raise


@bp.post("/causali-fermo/")
@requires(ADMIN)
@endpoint(
    summary="Crea una causale di fermo",
    body=CausaleFermoCreaSchema(),
    response=CausaleFermoSchema(),
    status=201,
    errors={403: None, 409: "Codice già usato (CODICE_IN_USO).", 422: None},
)
def causale_fermo_create(body):
    """A new stop reason; ``FaseTipo`` null means any phase, ``Pianificato`` leaves it out of the planned time."""
    return _salva_causale(None, body)


@bp.put("/causali-fermo/<int:causale_fermo_id>")
@requires(ADMIN)
@endpoint(
    summary="Modifica una causale di fermo",
    body=CausaleFermoModificaSchema(),
    response=CausaleFermoSchema(),
    errors={403: None, 404: None, 409: "Codice già usato (CODICE_IN_USO).", 422: None},
)
def causale_fermo_update(causale_fermo_id: int, body):
    """Change the fields sent; ``Attiva`` false retires it."""
    return _salva_causale(causale_fermo_id, body)


# -- OEE -------------------------------------------------------------------------------------


@bp.get("/dashboard/oee")
@endpoint(
    summary="OEE per macchina",
    query=OeeQuery(),
    response=OeeSchema(),
    errors={422: None, 503: None},
)
def dashboard_oee(query):
    """OEE (ISO 22400-2) of the period ``da``–``a`` (local days, at most 366; none: the
    current ISO week) per machine, with the total, per Reparto and per phase type;
    filters MacchinaID, FaseTipo, Reparto. Any logged-in role may read it."""
    return calcola_oee(
        deps.session(),
        deps.erp(),
        Periodo(query.pop("da"), query.pop("a")),
        zona=current_app.config["TIMEZONE"],
        adesso=utcnow(),
        **query,
    ).as_api()
