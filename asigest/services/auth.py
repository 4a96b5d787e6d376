"""People and credentials: create users, log in with a password, API tokens."""

from __future__ import annotations

from sqlalchemy import select

from asigest.domain import hashing
from asigest.domain.actor import Actor
from asigest.domain.ruoli import RUOLI
from asigest.errors import N_, Conflict, InvalidInput, NotFound, RuleViolation
from asigest.models import ApiToken, Utente
from asigest.models.types import utcnow
from asigest.services import audit
from asigest.services.uow import transaction


def actor_for(utente: Utente, postazione: str | None = None) -> Actor:
    return Actor(
        utente_id=utente.id,
        matricola=utente.matricola,
        ruolo=utente.ruolo,
        nome=utente.nome_completo,
        postazione=postazione,
    )


def load_actor(session, utente_id: int) -> Actor | None:
    """The Actor for an active user id, or None (unknown or deactivated: logged out)."""
    utente = session.get(Utente, utente_id)
    if utente is None or not utente.attivo:
        return None
    return actor_for(utente)


def authenticate_password(session, matricola: str, password: str, *, postazione: str | None = None) -> Actor:
    """Check badge code and password; record the login and return the Actor.

    Raises RuleViolation with one message for every failure, so a stranger cannot tell a
    wrong badge from a wrong password.
    """
    matricola = (matricola or "").strip()
    utente = session.scalar(select(Utente).where(Utente.matricola == matricola)) if matricola else None
    ok = hashing.verify_secret(utente.password_hash if utente else None, password or "")
    if not ok or utente is None or not utente.attivo:
        raise RuleViolation(
            N_("Matricola o password errate. Controllare e riprovare."), code="CREDENZIALI_ERRATE"
        )
    with transaction(session):
        utente.ultimo_accesso = utcnow()
        actor = actor_for(utente, postazione)
        audit.record(session, actor, "LOGIN", "Utenti", utente.id, postazione=postazione)
    return actor


def create_user(
    session,
    *,
    actor: Actor | None,
    matricola: str,
    nome: str,
    cognome: str,
    ruolo: str,
    password: str | None = None,
    pin: str | None = None,
) -> Utente:
    """Create a user with hashed secrets and its audit row.

    Raises InvalidInput for a bad role, PIN or empty field, Conflict for a badge in use.
    """
    matricola = (matricola or "").strip()
    errors: dict[str, list[str]] = {}
    if not matricola:
        errors["matricola"] = [N_("Indicare la matricola (codice badge).")]
    if not (nome or "").strip():
        errors["nome"] = [N_("Indicare il nome.")]
    if not (cognome or "").strip():
        errors["cognome"] = [N_("Indicare il cognome.")]
    if ruolo not in RUOLI:
        errors["ruolo"] = [N_("Ruolo non valido: usare OPERATORE, SUPERVISORE o ADMIN.")]
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
        errors["pin"] = [N_("Il PIN deve avere da 4 a 8 cifre.")]
    if password is not None and len(password) < 8:
        errors["password"] = [N_("La password deve avere almeno 8 caratteri.")]
    if errors:
        raise InvalidInput(errors)
    if session.scalar(select(Utente.id).where(Utente.matricola == matricola)) is not None:
        raise Conflict(N_("La matricola %(matricola)s è già usata da un altro utente."), matricola=matricola)
    with transaction(session):
        utente = Utente(
            matricola=matricola,
            nome=nome.strip(),
            cognome=cognome.strip(),
            ruolo=ruolo,
            password_hash=hashing.hash_secret(password) if password else None,
            pin_hash=hashing.hash_secret(pin) if pin else None,
            attivo=True,
        )
        session.add(utente)
        session.flush()
        audit.record(
            session,
            actor,
            "UTENTE_CREATO",
            "Utenti",
            utente.id,
            dopo={"Matricola": utente.matricola, "Nome": utente.nome, "Cognome": utente.cognome, "Ruolo": ruolo},
        )
    return utente


def create_token(session, *, actor: Actor | None, matricola: str, descrizione: str | None = None) -> str:
    """Create an API token for the user with ``matricola``; returns the token (shown once).

    Raises NotFound for an unknown badge, RuleViolation for a deactivated user.
    """
    utente = session.scalar(select(Utente).where(Utente.matricola == (matricola or "").strip()))
    if utente is None:
        raise NotFound(N_("Nessun utente con matricola %(matricola)s."), matricola=matricola)
    if not utente.attivo:
        raise RuleViolation(N_("L'utente %(matricola)s è disattivato."), code="UTENTE_DISATTIVATO", matricola=matricola)
    token = hashing.new_api_token()
    with transaction(session):
        record = ApiToken(
            utente_id=utente.id,
            token_hash=hashing.token_digest(token),
            prefisso=token[:12],
            descrizione=descrizione,
        )
        session.add(record)
        session.flush()
        audit.record(session, actor, "TOKEN_CREATO", "ApiToken", record.id, dopo={"UtenteID": utente.id, "Prefisso": record.prefisso})
    return token


def revoke_token(session, *, actor: Actor | None, token_id: int) -> None:
    """Revoke a token by id; a revoked token stops working on the next request.

    Raises NotFound for an unknown id.
    """
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFound(N_("Token %(id)s inesistente."), id=token_id)
    if record.data_revoca is not None:
        return
    with transaction(session):
        record.data_revoca = utcnow()
        audit.record(session, actor, "TOKEN_REVOCATO", "ApiToken", record.id, prima={"Prefisso": record.prefisso})


def list_tokens(session) -> list[ApiToken]:
    """All API tokens, newest first (hashes are never shown)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def authenticate_token(session, token: str) -> Actor | None:
    """The Actor for a valid, unrevoked token of an active user; None otherwise."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hashing.token_digest(token)))
    if record is None or record.data_revoca is not None or not record.utente.attivo:
        return None
    return actor_for(record.utente)
