"""``/api/utenti``, ``/api/macchine``, ``/api/causali``: master data (SPEC §7).

Only ADMIN reads and writes users and writes machines and scrap reasons; every role
reads machines and scrap reasons (kiosks and line software need them). DELETE
deactivates: rows stay, because lotti and the log point at them.
"""

from __future__ import annotations

from contextlib import contextmanager

from asigest.domain.ruoli import ADMIN, OPERATORE
from asigest.errors import InvalidInput
from asigest.services import anagrafiche as anagrafiche_service
from asigest.services import auth as auth_service
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_anagrafiche import (
    CausaleCreaSchema,
    CausaleModificaSchema,
    CausaleSchema,
    CausaliQuery,
    MacchinaCreaSchema,
    MacchinaModificaSchema,
    MacchinaSchema,
    MacchineQuery,
    UtenteCreaSchema,
    UtenteModificaSchema,
    UtenteSchema,
    UtentiQuery,
)

# API field -> service argument; service field errors are reported under the API's names.
_ARGOMENTI = {
    "Matricola": "matricola",
    "Nome": "nome",
    "Cognome": "cognome",
    "Ruolo": "ruolo",
    "Attivo": "attivo",
    "Lingua": "lingua",
    "Attiva": "attiva",
    "Pin": "pin",
    "Password": "password",
    "Codice": "codice",
    "Descrizione": "descrizione",
    "FaseTipo": "fase_tipo",
    "Reparto": "reparto",
}
_CAMPI = {argomento: campo for campo, argomento in _ARGOMENTI.items()}


def _argomenti(body: dict, *, vuoto_se_null: tuple[str, ...] = ()) -> dict:
    """The loaded body as service keyword arguments; ``null`` in ``vuoto_se_null`` clears the field."""
    argomenti = {}
    for campo, valore in body.items():
        if valore is None and campo in vuoto_se_null:
            valore = ""
        argomenti[_ARGOMENTI[campo]] = valore
    return argomenti


@contextmanager
def _campi_api():
    """Report a service's field errors under the API's field names."""
    try:
        yield
    except InvalidInput as error:
        error.errors = {_CAMPI.get(campo, campo): messaggi for campo, messaggi in error.errors.items()}
        raise


# -- utenti -------------------------------------------------------------------------------


@bp.get("/utenti/")
@requires(ADMIN)
@endpoint(
    summary="Utenti",
    query=UtentiQuery(),
    response=UtenteSchema(many=True),
    errors=(403, 422),
    collegamenti={
        nome: (vista, {"id": "$response.body#/0/UtenteID"})
        for nome, vista in (("Utente", "utente_get"), ("Modifica", "utente_update"), ("Disattiva", "utente_delete"))
    },
)
def utenti_list(query):
    """Users by surname; filters ``q`` (badge, name, surname), ``Ruolo``, ``Attivo``. Never a hash."""
    return auth_service.list_users(
        deps.session(),
        q=query["q"],
        ruolo=query["Ruolo"],
        attivo=query["Attivo"],
        limit=query["limit"],
        offset=query["offset"],
    )


@bp.post("/utenti/")
@requires(ADMIN)
@endpoint(
    summary="Crea un utente",
    body=UtenteCreaSchema(),
    response=UtenteSchema(),
    status=201,
    errors={403: None, 409: "Matricola già usata (MATRICOLA_IN_USO).", 422: None},
)
def utente_create(body):
    """A new user; ``Pin`` (operators, kiosk) and ``Password`` (web login) are stored hashed."""
    with _campi_api():
        return auth_service.create_user(deps.session(), actor=deps.actor(), **_argomenti(body))


@bp.get("/utenti/<int:utente_id>")
@requires(ADMIN)
@endpoint(summary="Un utente", response=UtenteSchema(), errors=(403, 404))
def utente_get(utente_id: int):
    """One user (never its hashes)."""
    return auth_service.get_user(deps.session(), utente_id)


@bp.put("/utenti/<int:utente_id>")
@requires(ADMIN)
@endpoint(
    summary="Modifica un utente",
    body=UtenteModificaSchema(),
    response=UtenteSchema(),
    errors={
        400: "Non si disattiva (AUTO_DISATTIVAZIONE) né si declassa (AUTO_DECLASSAMENTO) sé stessi, né "
        "l'ultimo ADMIN attivo (ULTIMO_ADMIN).",
        403: None,
        404: None,
        409: "Matricola già usata (MATRICOLA_IN_USO).",
        422: None,
    },
)
def utente_update(utente_id: int, body):
    """Change the fields sent; ``Pin``/``Password`` set new secrets. Refused (400) for your own
    deactivation or demotion and for the last active ADMIN."""
    with _campi_api():
        return auth_service.update_user(deps.session(), actor=deps.actor(), utente_id=utente_id, **_argomenti(body))


@bp.delete("/utenti/<int:utente_id>")
@requires(ADMIN)
@endpoint(
    summary="Disattiva un utente",
    status=204,
    disattiva=("utente_get", "Attivo"),
    errors={
        400: "Non si disattiva sé stessi (AUTO_DISATTIVAZIONE) né l'ultimo ADMIN attivo (ULTIMO_ADMIN).",
        403: None,
        404: None,
    },
)
def utente_delete(utente_id: int):
    """Deactivate the user (the row stays: lotti point at it); the API tokens stop working."""
    auth_service.deactivate_user(deps.session(), actor=deps.actor(), utente_id=utente_id)
    return "", 204


# -- macchine -------------------------------------------------------------------------------


@bp.get("/macchine/")
@requires(OPERATORE)
@endpoint(
    summary="Macchine",
    query=MacchineQuery(),
    response=MacchinaSchema(many=True),
    errors=(422,),
    collegamenti={
        nome: (vista, {"id": "$response.body#/0/MacchinaID"})
        for nome, vista in (
            ("Macchina", "macchina_get"),
            ("Modifica", "macchina_update"),
            ("Disattiva", "macchina_delete"),
        )
    },
)
def macchine_list(query):
    """Machines by code; filters ``FaseTipo`` (code) and ``Attiva``."""
    return anagrafiche_service.list_macchine(
        deps.session(),
        fase_tipo=query["FaseTipo"],
        attiva=query["Attiva"],
        limit=query["limit"],
        offset=query["offset"],
    )


@bp.post("/macchine/")
@requires(ADMIN)
@endpoint(
    summary="Crea una macchina",
    body=MacchinaCreaSchema(),
    response=MacchinaSchema(),
    status=201,
    errors={
        400: "La licenza non ha terminali liberi per un'altra macchina attiva (TERMINALI_ESAURITI).",
        403: None,
        409: "Codice già usato (CODICE_IN_USO).",
        422: None,
    },
)
def macchina_create(body):
    """A new machine; ``FaseTipo`` is the code of an active phase type."""
    with _campi_api():
        return anagrafiche_service.create_macchina(
            deps.session(), actor=deps.actor(), licenza=deps.licenza(), **_argomenti(body)
        )


@bp.get("/macchine/<int:macchina_id>")
@requires(OPERATORE)
@endpoint(summary="Una macchina", response=MacchinaSchema(), errors=(404,))
def macchina_get(macchina_id: int):
    """One machine."""
    return anagrafiche_service.get_macchina(deps.session(), macchina_id)


@bp.put("/macchine/<int:macchina_id>")
@requires(ADMIN)
@endpoint(
    summary="Modifica una macchina",
    body=MacchinaModificaSchema(),
    response=MacchinaSchema(),
    errors={
        400: "Un lotto è aperto sulla macchina e la modifica lo lascerebbe orfano "
        "(MACCHINA_CON_LOTTO_APERTO), o la licenza non ha terminali liberi per riattivarla "
        "(TERMINALI_ESAURITI).",
        403: None,
        404: None,
        409: "Codice già usato (CODICE_IN_USO).",
        422: None,
    },
)
def macchina_update(macchina_id: int, body):
    """Change the fields sent. Refused (400) to deactivate it or change its phase type while a lotto is open on it."""
    with _campi_api():
        return anagrafiche_service.update_macchina(
            deps.session(),
            actor=deps.actor(),
            macchina_id=macchina_id,
            licenza=deps.licenza(),
            **_argomenti(body, vuoto_se_null=("Descrizione", "Reparto")),
        )


@bp.delete("/macchine/<int:macchina_id>")
@requires(ADMIN)
@endpoint(
    summary="Disattiva una macchina",
    status=204,
    disattiva=("macchina_get", "Attiva"),
    errors={
        400: "Un lotto è aperto sulla macchina (MACCHINA_CON_LOTTO_APERTO): chiuderlo prima.",
        403: None,
        404: None,
    },
)
def macchina_delete(macchina_id: int):
    """Take the machine out of service (the row stays). Refused (400) while a lotto is open on it."""
    anagrafiche_service.deactivate_macchina(deps.session(), actor=deps.actor(), macchina_id=macchina_id)
    return "", 204


# -- causali di scarto ------------------------------------------------------------------------


@bp.get("/causali/")
@requires(OPERATORE)
@endpoint(
    summary="Causali di scarto",
    query=CausaliQuery(),
    response=CausaleSchema(many=True),
    errors=(422,),
    collegamenti={"Modifica": ("causale_update", {"id": "$response.body#/0/CausaleID"})},
)
def causali_list(query):
    """Scrap reasons by code; ``FaseTipo`` gives those usable in that phase (its own and the
    ones valid in any phase), ``Attiva`` filters by state."""
    return anagrafiche_service.list_causali(
        deps.session(),
        fase_tipo=query["FaseTipo"],
        attiva=query["Attiva"],
        limit=query["limit"],
        offset=query["offset"],
    )


@bp.post("/causali/")
@requires(ADMIN)
@endpoint(
    summary="Crea una causale di scarto",
    body=CausaleCreaSchema(),
    response=CausaleSchema(),
    status=201,
    errors={403: None, 409: "Codice già usato (CODICE_IN_USO).", 422: None},
)
def causale_create(body):
    """A new scrap reason; ``FaseTipo`` null means valid in any phase."""
    with _campi_api():
        return anagrafiche_service.create_causale(deps.session(), actor=deps.actor(), **_argomenti(body))


@bp.put("/causali/<int:causale_id>")
@requires(ADMIN)
@endpoint(
    summary="Modifica una causale di scarto",
    body=CausaleModificaSchema(),
    response=CausaleSchema(),
    errors={403: None, 404: None, 409: "Codice già usato (CODICE_IN_USO).", 422: None},
)
def causale_update(causale_id: int, body):
    """Change the fields sent; ``FaseTipo`` null makes it valid in any phase, ``Attiva`` false retires it."""
    with _campi_api():
        return anagrafiche_service.update_causale(
            deps.session(), actor=deps.actor(), causale_id=causale_id, **_argomenti(body)
        )
