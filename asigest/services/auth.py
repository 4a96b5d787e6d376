"""People and credentials: users (create, change, deactivate, PIN and password), log in
with a password, API tokens."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, TypeVar

from sqlalchemy import bindparam, delete, or_, select, true, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from asigest.domain import anagrafiche, hashing
from asigest.domain.accessi import TIPO_PASSWORD, TIPO_PIN, LimitiAccesso, fine_blocco, minuti_residui
from asigest.domain.actor import Actor
from asigest.domain.anagrafiche import CampiErrati
from asigest.domain.ruoli import ADMIN, RUOLI, ha_ruolo
from asigest.domain.sessioni import DISATTIVATO, KIOSK, PASSWORD, PIN, UFFICIO
from asigest.erp.gateway import escape_like
from asigest.errors import N_, Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from asigest.models import ApiToken, Sessione, TentativoAccesso, Utente
from asigest.models.types import utcnow
from asigest.services import audit, sessioni
from asigest.services.uow import (
    DbSession,
    con_riprova,
    lettura_singola,
    righe_toccate,
    ripete_se_occupato,
    transaction,
)

T = TypeVar("T")


def actor_for(utente: Utente, postazione: str | None = None, sessione_id: int | None = None) -> Actor:
    return Actor(
        utente_id=utente.id,
        matricola=utente.matricola,
        ruolo=utente.ruolo,
        nome=utente.nome_completo,
        postazione=postazione,
        sessione_id=sessione_id,
        lingua=utente.lingua,
    )


def load_actor(session: DbSession, utente_id: int) -> Actor | None:
    """The Actor for an active user id, or None (unknown or deactivated: logged out)."""
    utente = session.get(Utente, utente_id)
    if utente is None or not utente.attivo:
        return None
    return actor_for(utente)


def session_actor(
    session: DbSession, segreto: str, tipo: str, *, utente_id: int | None = None, postazione: str | None = None
) -> Actor | None:
    """The Actor of the open ``tipo`` login session whose cookie holds ``segreto`` (and,
    when given, of user ``utente_id`` at ``postazione``); None when the session is
    unknown or ended or its user deactivated. One query (``sessioni.utente_della_sessione``)."""
    trovato = sessioni.utente_della_sessione(session, segreto, tipo, utente_id=utente_id, postazione=postazione)
    if trovato is None:
        return None
    return Actor(
        utente_id=trovato.utente_id,
        matricola=trovato.matricola,
        ruolo=trovato.ruolo,
        nome=f"{trovato.nome} {trovato.cognome}",  # as Utente.nome_completo
        postazione=postazione,
        sessione_id=trovato.sessione_id,
        lingua=trovato.lingua,
    )


class AccessoBloccato(RuleViolation):
    """Too many wrong passwords or PINs for a badge or from a client address (HTTP 429).

    ``minuti`` (in ``params``) is how long the lock still lasts. The message is the same
    whether the badge exists or not.
    """

    status = 429
    code = "ACCESSO_BLOCCATO"

    def __init__(self, minuti: int):
        if minuti == 1:
            message = N_(
                "Troppi tentativi errati: accesso bloccato per 1 minuto. Riprovare più tardi o rivolgersi al supervisore."
            )
        else:
            message = N_(
                "Troppi tentativi errati: accesso bloccato per %(minuti)s minuti. Riprovare più tardi o rivolgersi al supervisore."
            )
        super().__init__(message, minuti=minuti)


def _fallimenti(
    session: DbSession,
    limiti: LimitiAccesso,
    adesso: datetime,
    colonna: InstrumentedAttribute[str | None],
    valore: str,
    dopo: datetime | None = None,
) -> list[datetime]:
    """Failure instants of one badge or address that can still start or hold a lock
    (after ``dopo``, the badge's last successful login, when given)."""
    inizio = adesso - limiti.orizzonte
    if dopo is not None and dopo > inizio:
        inizio = dopo
    return list(
        session.scalars(select(TentativoAccesso.data_ora).where(colonna == valore, TentativoAccesso.data_ora > inizio))
    )


def _blocco(
    session: DbSession,
    limiti: LimitiAccesso,
    adesso: datetime,
    matricola: str,
    indirizzo: str,
    ultimo_accesso: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """(end of the badge's lock, end of the address's lock); None where there is none now."""
    fine_badge = None
    if matricola:
        tempi = _fallimenti(session, limiti, adesso, TentativoAccesso.matricola, matricola, dopo=ultimo_accesso)
        fine_badge = fine_blocco(tempi, limiti.max_badge, limiti)
    tempi = _fallimenti(session, limiti, adesso, TentativoAccesso.indirizzo, indirizzo)
    fine_indirizzo = fine_blocco(tempi, limiti.max_indirizzo, limiti)
    return (
        fine_badge if fine_badge and fine_badge > adesso else None,
        fine_indirizzo if fine_indirizzo and fine_indirizzo > adesso else None,
    )


def _rifiuta_se_bloccato(
    session: DbSession, limiti: LimitiAccesso, matricola: str, indirizzo: str, utente: Utente | None
) -> None:
    """Raise AccessoBloccato while the badge or the address is locked, before any secret is checked."""
    adesso = utcnow()
    fini = [
        f
        for f in _blocco(session, limiti, adesso, matricola, indirizzo, utente.ultimo_accesso if utente else None)
        if f
    ]
    if fini:
        raise AccessoBloccato(minuti_residui(max(fini), adesso))


@dataclass(frozen=True)
class BadgeBloccato:
    """A user's badge locked now by wrong passwords or PINs, until ``fino_a``."""

    utente_id: int
    matricola: str
    nome: str
    ruolo: str
    fino_a: datetime
    tentativi: int


def badge_lock_end(session: DbSession, utente: Utente, limiti: LimitiAccesso) -> datetime | None:
    """When the lock of ``utente``'s badge ends, or None when it is not locked now (the
    address's lock, if any, is not the badge's)."""
    adesso = utcnow()
    tempi = _fallimenti(
        session, limiti, adesso, TentativoAccesso.matricola, utente.matricola, dopo=utente.ultimo_accesso
    )
    fine = fine_blocco(tempi, limiti.max_badge, limiti)
    return fine if fine is not None and fine > adesso else None


def locked_badges(session: DbSession, limiti: LimitiAccesso) -> list[BadgeBloccato]:
    """The users whose badge is locked now, the most recently locked first.

    Reads only the failures recent enough to hold a lock (``limiti.orizzonte``, by the
    DataOra index), so it stays cheap however long TentativiAccesso is kept.
    """
    adesso = utcnow()
    righe = session.execute(
        select(Utente, TentativoAccesso.data_ora)
        .join(TentativoAccesso, TentativoAccesso.matricola == Utente.matricola)
        .where(TentativoAccesso.data_ora > adesso - limiti.orizzonte)
    ).all()
    per_utente: dict[int, tuple[Utente, list[datetime]]] = {}
    for utente, data_ora in righe:
        if utente.ultimo_accesso is None or data_ora > utente.ultimo_accesso:
            per_utente.setdefault(utente.id, (utente, []))[1].append(data_ora)
    bloccati = []
    for utente, tempi in per_utente.values():
        fine = fine_blocco(tempi, limiti.max_badge, limiti)
        if fine is not None and fine > adesso:
            bloccati.append(
                BadgeBloccato(utente.id, utente.matricola, utente.nome_completo, utente.ruolo, fine, len(tempi))
            )
    return sorted(bloccati, key=lambda b: (b.fino_a, b.utente_id), reverse=True)


@ripete_se_occupato
def unlock_badge(
    session: DbSession, *, actor: Actor, utente_id: int, limiti: LimitiAccesso
) -> tuple[Utente, datetime | None]:
    """Lift the lock of a user's badge now, before it lapses by itself; the user can log
    in at once. Returns (the user, the end of the lock that was lifted), the end None when
    the badge was not locked (then nothing is written: a second click, or two supervisors
    at once).

    The failures that locked the badge stop counting for the badge — their Matricola is
    cleared — but keep counting for their client address, so an address that is guessing
    stays throttled and its own lock, if any, stays. ACCESSO_SBLOCCATO records who
    unlocked which badge, the lock's end and how many failures were cleared. Only an
    ADMIN may unlock an ADMIN's badge: a supervisor must not be able to give someone
    more guesses at an account above their own.

    Raises NotFound, Forbidden (an ADMIN's badge, for a lower role).
    """
    utente = get_user(session, utente_id)
    if not actor.puo(utente.ruolo):
        raise Forbidden(N_("Solo un amministratore può sbloccare il badge di un amministratore."))
    with transaction(session):
        fine = badge_lock_end(session, utente, limiti)
        if fine is None:
            return utente, None
        adesso = utcnow()
        azzerati = righe_toccate(
            session.execute(
                update(TentativoAccesso)
                .where(
                    TentativoAccesso.matricola == utente.matricola,
                    TentativoAccesso.data_ora > adesso - limiti.orizzonte,
                )
                .values(matricola=None)
                .execution_options(synchronize_session=False)
            )
        )
        audit.record(
            session,
            actor,
            "ACCESSO_SBLOCCATO",
            "Utenti",
            utente.id,
            prima={"FinoA": fine.isoformat()},
            dopo={"Matricola": utente.matricola, "TentativiAzzerati": azzerati},
        )
    return utente, fine


def _registra_fallimento(
    session: DbSession,
    limiti: LimitiAccesso,
    tipo: str,
    matricola: str,
    indirizzo: str,
    utente_id: int | None,
    postazione: str | None,
) -> None:
    """Record one failed login; write ACCESSO_BLOCCATO when it starts a lock, and prune
    rows past the retention. Raises AccessoBloccato when this failure locked the badge or
    the address, otherwise returns (the caller raises its own "wrong credentials")."""

    def operazione() -> tuple[datetime, list[datetime]]:
        with transaction(session):
            adesso = utcnow()
            ultimo = session.scalar(select(Utente.ultimo_accesso).where(Utente.id == utente_id)) if utente_id else None
            prima = _blocco(session, limiti, adesso, matricola, indirizzo, ultimo)
            session.add(TentativoAccesso(data_ora=adesso, tipo=tipo, matricola=matricola or None, indirizzo=indirizzo))
            session.flush()
            dopo = _blocco(session, limiti, adesso, matricola, indirizzo, ultimo)
            for motivo, era, ora in (("BADGE", prima[0], dopo[0]), ("INDIRIZZO", prima[1], dopo[1])):
                if ora is not None and era is None:
                    audit.record(
                        session,
                        None,
                        "ACCESSO_BLOCCATO",
                        "Utenti",
                        utente_id if motivo == "BADGE" else None,
                        postazione=postazione or indirizzo,
                        dopo={
                            "Motivo": motivo,
                            "Tipo": tipo,
                            "Matricola": matricola or None,
                            "Indirizzo": indirizzo,
                            "FinoA": ora.isoformat(),
                        },
                    )
            session.execute(delete(TentativoAccesso).where(TentativoAccesso.data_ora < adesso - limiti.conservazione))
            return adesso, [f for f in dopo if f]

    adesso, fini = _serializzato(session, operazione)
    if fini:
        raise AccessoBloccato(minuti_residui(max(fini), adesso))


_CONFLITTI = ("could not serialize", "deadlock", "locked", "busy")


def _serializzato(session: DbSession, operazione: Callable[[], T], *, tentativi: int = 12) -> T:
    """Run ``operazione`` (count, insert, count again) as if alone: SQLite serialises
    writers already (BEGIN IMMEDIATE, ``con_riprova``); PostgreSQL and SQL Server run it
    SERIALIZABLE, so two processes failing at the same instant cannot both miss that
    together they reached the threshold — one of them is rolled back and counts again."""
    if session.get_bind().dialect.name == "sqlite":
        return con_riprova(session, operazione)
    for tentativo in range(1, tentativi + 1):
        session.rollback()
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        try:
            return operazione()
        except DBAPIError as exc:
            testo = str(exc.orig if exc.orig is not None else exc).lower()
            if tentativo == tentativi or not any(c in testo for c in _CONFLITTI):
                raise
        time.sleep(random.uniform(0.002, 0.01) * tentativo)  # spread the retries of the racers
    raise AssertionError("unreachable")


def _verifica(
    session: DbSession,
    tipo: str,
    matricola: str,
    segreto: str,
    *,
    postazione: str | None,
    indirizzo: str | None,
    limiti: LimitiAccesso | None,
) -> Utente | None:
    """The active user whose ``tipo`` secret matches, or None after recording the failure.

    Raises AccessoBloccato when the badge or the address is locked (then the secret is not
    even checked) or when this failure locks it.
    """
    limiti = limiti or LimitiAccesso()
    indirizzo = (indirizzo or postazione or "?")[:100]
    matricola = (matricola or "").strip()[:30]
    utente = session.scalar(select(Utente).where(Utente.matricola == matricola)) if matricola else None
    _rifiuta_se_bloccato(session, limiti, matricola, indirizzo, utente)
    stored = (utente.password_hash if tipo == TIPO_PASSWORD else utente.pin_hash) if utente else None
    verifica = hashing.verify_secret if tipo == TIPO_PASSWORD else hashing.verify_pin
    if verifica(stored, segreto) and utente is not None and utente.attivo:
        return utente
    _registra_fallimento(session, limiti, tipo, matricola, indirizzo, utente.id if utente else None, postazione)
    return None


def authenticate_password(
    session: DbSession,
    matricola: str,
    password: str,
    *,
    postazione: str | None = None,
    indirizzo: str | None = None,
    limiti: LimitiAccesso | None = None,
    sessione: str | None = None,
    sostituisce: str | None = None,
) -> Actor:
    """Check badge code and password; record the login and return the Actor.

    ``indirizzo`` is the client address (default: ``postazione``); ``limiti`` the lockout
    policy (default: ``LimitiAccesso()``). A failure is recorded in TentativiAccesso.
    ``sessione`` is the secret of the browser's new office session: the login opens its
    Sessioni row (and ends ``sostituisce``, the session that browser held before) in the
    same transaction as UltimoAccesso and the LOGIN row.

    Raises RuleViolation (CREDENZIALI_ERRATE) with one message for every failure, so a
    stranger cannot tell a wrong badge from a wrong password; AccessoBloccato (HTTP 429)
    when the badge or the address has failed too often.
    """
    utente = _verifica(
        session, TIPO_PASSWORD, matricola, password or "", postazione=postazione, indirizzo=indirizzo, limiti=limiti
    )
    if utente is None:
        raise RuleViolation(N_("Matricola o password errate. Controllare e riprovare."), code="CREDENZIALI_ERRATE")
    return _registra_accesso(
        session,
        utente.id,
        "LOGIN",
        postazione,
        _NuovaSessione(UFFICIO, sessione, sostituisce) if sessione else None,
        limiti,
    )


def authenticate_pin(
    session: DbSession,
    matricola: str,
    pin: str,
    *,
    postazione: str | None = None,
    indirizzo: str | None = None,
    limiti: LimitiAccesso | None = None,
    sessione: str | None = None,
    sostituisce: str | None = None,
) -> Actor:
    """Check badge code and kiosk PIN (any role with a PIN); record the login and return the Actor.

    ``postazione`` is the machine code, ``indirizzo`` the client address; ``limiti`` as
    for ``authenticate_password``, and the badge's failures count across both.
    ``sessione``/``sostituisce`` as for ``authenticate_password``: a kiosk session bound
    to ``postazione``.

    Raises RuleViolation (CREDENZIALI_ERRATE) with one message for every failure (unknown
    badge, wrong PIN, no PIN set, deactivated user), so a stranger at a kiosk learns
    nothing; AccessoBloccato (HTTP 429) when the badge or the address has failed too often.
    """
    utente = _verifica(
        session, TIPO_PIN, matricola, (pin or "").strip(), postazione=postazione, indirizzo=indirizzo, limiti=limiti
    )
    if utente is None:
        raise RuleViolation(N_("Badge o PIN errati. Riprovare."), code="CREDENZIALI_ERRATE")
    # A PIN stored with older hash parameters is stored again with today's, now that it
    # is known (docs/decisioni/2026-12-07-costo-hash-pin.md).
    # (A PIN just verified against it, so the hash is there.)
    rifatto = (
        hashing.hash_pin((pin or "").strip())
        if utente.pin_hash is not None and hashing.pin_da_rifare(utente.pin_hash)
        else None
    )
    return _registra_accesso(
        session,
        utente.id,
        "LOGIN_KIOSK",
        postazione,
        _NuovaSessione(KIOSK, sessione, sostituisce) if sessione else None,
        limiti,
        pin_hash=rifatto,
    )


@dataclass(frozen=True)
class _NuovaSessione:
    tipo: str
    segreto: str
    sostituisce: str | None


def _registra_accesso(
    session: DbSession,
    utente_id: int,
    azione: str,
    postazione: str | None,
    nuova: _NuovaSessione | None = None,
    limiti: LimitiAccesso | None = None,
    pin_hash: str | None = None,
) -> Actor:
    """Stamp UltimoAccesso (which also resets the badge's failure count), open the
    browser's Sessioni row when ``nuova`` is given, store ``pin_hash`` (the same PIN
    hashed again with today's parameters) when given, and write the login's audit row, in
    one transaction; on SQLite declared as a write up front and retried, so a login at
    the instant another terminal commits never fails with "database is locked"."""

    def operazione() -> Actor:
        with transaction(session):
            adesso = utcnow()
            utente = get_user(session, utente_id)
            utente.ultimo_accesso = adesso
            if pin_hash is not None:
                utente.pin_hash = pin_hash
            dopo: dict[str, object] | None = None
            sessione_id = None
            if nuova is not None:
                riga, sostituita = sessioni.apri(
                    session,
                    utente_id=utente.id,
                    segreto=nuova.segreto,
                    tipo=nuova.tipo,
                    postazione=postazione,
                    adesso=adesso,
                    conservazione=(limiti or LimitiAccesso()).conservazione,
                    sostituisce=nuova.sostituisce,
                )
                sessione_id = riga.id
                dopo = {"SessioneID": riga.id, **({"SessioneSostituita": sostituita.id} if sostituita else {})}
            if pin_hash is not None:
                dopo = {**(dopo or {}), "PinRicalcolato": True}
            actor = actor_for(utente, postazione, sessione_id)
            audit.record(session, actor, azione, "Utenti", utente.id, postazione=postazione, dopo=dopo)
        return actor

    return con_riprova(session, operazione)


@ripete_se_occupato
def end_session(session: DbSession, segreto: str, *, motivo: str, postazione: str | None = None) -> bool:
    """End the login session whose cookie holds ``segreto`` — *Esci* in the office
    (LOGOUT) or at the kiosk (ESCI), or the kiosk's idle lock (INATTIVITA) — with its
    audit row (LOGOUT or LOGOUT_KIOSK, naming the session and why). Every copy of that
    cookie, on every server, stops working.

    Returns False, writing nothing, when no such session is open (unknown, or already
    ended: a replayed cookie changes nothing).
    """
    riga = session.scalar(select(Sessione).where(Sessione.chiave == hashing.token_digest(segreto)))
    if riga is None or riga.data_fine is not None:
        return False  # nothing to end: no write, not even a lock
    with transaction(session):
        chiusa = sessioni.chiudi(session, segreto=segreto, motivo=motivo, adesso=utcnow())
        if chiusa is None:
            return False
        utente = get_user(session, chiusa.utente_id)
        actor = actor_for(utente, postazione or chiusa.postazione, chiusa.id)
        audit.record(
            session,
            actor,
            "LOGOUT_KIOSK" if chiusa.tipo == KIOSK else "LOGOUT",
            "Utenti",
            utente.id,
            dopo={"SessioneID": chiusa.id, "MotivoFine": motivo},
        )
    return True


class _CampiUtente(TypedDict, total=False):
    """A user's checked fields (None: failed its check, reported by raise_if_any)."""

    matricola: str | None
    nome: str | None
    cognome: str | None
    ruolo: str | None
    lingua: str


def _controlla_utente(
    errori: CampiErrati,
    *,
    matricola: str | None,
    nome: str | None,
    cognome: str | None,
    ruolo: str | None,
    pin: str | None,
    password: str | None,
    parziale: bool,
    lingua: str | None = None,
) -> _CampiUtente:
    """Check a user's fields; with ``parziale`` a None field means "leave as it is".
    Returns the cleaned values of the fields given."""
    puliti: _CampiUtente = {}
    if not parziale or matricola is not None:
        puliti["matricola"] = anagrafiche.testo(
            errori, "matricola", matricola, massimo=30, vuoto=N_("Indicare la matricola (codice badge).")
        )
    if not parziale or nome is not None:
        puliti["nome"] = anagrafiche.testo(errori, "nome", nome, massimo=60, vuoto=N_("Indicare il nome."))
    if not parziale or cognome is not None:
        puliti["cognome"] = anagrafiche.testo(errori, "cognome", cognome, massimo=60, vuoto=N_("Indicare il cognome."))
    if not parziale or ruolo is not None:
        if ruolo not in RUOLI:
            errori.add("ruolo", N_("Ruolo non valido: usare OPERATORE, SUPERVISORE o ADMIN."))
        puliti["ruolo"] = ruolo
    anagrafiche.controlla_pin(errori, pin)
    anagrafiche.controlla_password(errori, password)
    anagrafiche.controlla_lingua(errori, lingua)
    if lingua is not None:
        puliti["lingua"] = lingua
    return puliti


def _matricola_usata(session: DbSession, matricola: str, escluso_id: int | None = None) -> bool:
    """True when a user other than ``escluso_id`` has the badge ``matricola``."""
    query = select(Utente.id).where(Utente.matricola == matricola)
    if escluso_id is not None:
        query = query.where(Utente.id != escluso_id)
    return session.scalar(query) is not None


def _conflitto_matricola(matricola: str) -> Conflict:
    return Conflict(
        N_("La matricola %(matricola)s è già usata da un altro utente."), code="MATRICOLA_IN_USO", matricola=matricola
    )


@ripete_se_occupato
def create_user(
    session: DbSession,
    *,
    actor: Actor | None,
    matricola: str,
    nome: str,
    cognome: str,
    ruolo: str,
    password: str | None = None,
    pin: str | None = None,
    attivo: bool = True,
    lingua: str | None = None,
) -> Utente:
    """Create a user with hashed secrets and its audit row; ``lingua`` (``it``/``en``,
    default ``it``) is the kiosk's language for them.

    Raises InvalidInput for a bad role, PIN or empty field, Conflict (MATRICOLA_IN_USO)
    for a badge in use.
    """
    errori = CampiErrati()
    puliti = _controlla_utente(
        errori,
        matricola=matricola,
        nome=nome,
        cognome=cognome,
        ruolo=ruolo,
        pin=pin,
        password=password,
        parziale=False,
        lingua=lingua,
    )
    errori.raise_if_any()
    matricola = errori.valido(puliti.get("matricola"))
    if _matricola_usata(session, matricola):
        raise _conflitto_matricola(matricola)
    try:
        with transaction(session):
            utente = Utente(
                matricola=matricola,
                nome=errori.valido(puliti.get("nome")),
                cognome=errori.valido(puliti.get("cognome")),
                ruolo=ruolo,
                password_hash=hashing.hash_secret(password) if password else None,
                pin_hash=hashing.hash_pin(pin) if pin else None,
                attivo=bool(attivo),
                lingua=puliti.get("lingua", anagrafiche.LINGUA_PREDEFINITA),
            )
            session.add(utente)
            session.flush()
            audit.record(
                session,
                actor,
                "UTENTE_CREATO",
                "Utenti",
                utente.id,
                dopo={
                    "Matricola": utente.matricola,
                    "Nome": utente.nome,
                    "Cognome": utente.cognome,
                    "Ruolo": ruolo,
                    **({} if attivo else {"Attivo": False}),
                    **({} if utente.lingua == anagrafiche.LINGUA_PREDEFINITA else {"Lingua": utente.lingua}),
                },
            )
    except IntegrityError:
        # Two admins saving the same badge at the same instant: the UNIQUE constraint decides.
        if _matricola_usata(session, matricola):
            raise _conflitto_matricola(matricola) from None
        raise
    return utente


def get_user(session: DbSession, utente_id: int) -> Utente:
    """One user by id. Raises NotFound."""
    utente = session.get(Utente, utente_id)
    if utente is None:
        raise NotFound(N_("Utente %(id)s inesistente."), id=utente_id)
    return utente


def list_users(
    session: DbSession,
    *,
    q: str | None = None,
    ruolo: str | None = None,
    attivo: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Utente]:
    """Users by surname and name, optionally filtered by text (badge, name, surname),
    role and state."""
    query = select(Utente)
    if q and q.strip():
        pattern = f"%{escape_like(q.strip())}%"
        query = query.where(
            or_(*(c.ilike(pattern, escape="\\") for c in (Utente.matricola, Utente.nome, Utente.cognome)))
        )
    if ruolo:
        query = query.where(Utente.ruolo == ruolo)
    if attivo is not None:
        query = query.where(Utente.attivo == attivo)
    query = query.order_by(Utente.cognome, Utente.nome, Utente.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def _fotografia(utente: Utente) -> dict[str, object]:
    """A user's editable columns under their contract names (never a secret)."""
    return {
        "Matricola": utente.matricola,
        "Nome": utente.nome,
        "Cognome": utente.cognome,
        "Ruolo": utente.ruolo,
        "Attivo": utente.attivo,
        "Lingua": utente.lingua,
    }


def _proteggi_amministratori(session: DbSession, actor: Actor | None, utente: Utente, ruolo: str, attivo: bool) -> None:
    """Nobody deactivates or demotes themself, and the last active ADMIN stays one, so
    the plant can never lock itself out of the admin pages.

    Raises RuleViolation (AUTO_DISATTIVAZIONE, AUTO_DECLASSAMENTO, ULTIMO_ADMIN).
    """
    if actor is not None and actor.utente_id == utente.id:
        if utente.attivo and not attivo:
            raise RuleViolation(
                N_("Non puoi disattivare il tuo stesso utente: chiedere a un altro amministratore."),
                code="AUTO_DISATTIVAZIONE",
            )
        if ha_ruolo(utente.ruolo, ruolo) and utente.ruolo != ruolo:
            raise RuleViolation(
                N_("Non puoi abbassare il tuo stesso ruolo: chiedere a un altro amministratore."),
                code="AUTO_DECLASSAMENTO",
            )
    era_admin = utente.attivo and utente.ruolo == ADMIN
    resta_admin = attivo and ruolo == ADMIN
    if era_admin and not resta_admin:
        # Lock the other active admins' rows, so two admins demoting each other at the same
        # instant cannot both succeed (PostgreSQL; SQLite serialises writers anyway).
        altri = session.scalars(
            select(Utente.id)
            .where(Utente.ruolo == ADMIN, Utente.attivo == true(), Utente.id != utente.id)
            .with_for_update()
        ).all()
        if not altri:
            raise RuleViolation(
                N_(
                    "%(matricola)s è l'ultimo amministratore attivo: nominarne un altro prima di disattivarlo o cambiarne il ruolo."
                ),
                code="ULTIMO_ADMIN",
                matricola=utente.matricola,
            )


@ripete_se_occupato
def update_user(
    session: DbSession,
    *,
    actor: Actor | None,
    utente_id: int,
    matricola: str | None = None,
    nome: str | None = None,
    cognome: str | None = None,
    ruolo: str | None = None,
    attivo: bool | None = None,
    pin: str | None = None,
    password: str | None = None,
    lingua: str | None = None,
) -> Utente:
    """Change a user's data (None leaves a field as it is), and optionally set a new PIN
    or password, in one transaction. Writes UTENTE_MODIFICATO (or UTENTE_DISATTIVATO when
    it deactivates), PIN_REIMPOSTATO, PASSWORD_REIMPOSTATA; never a secret in the log.

    A new PIN or password, or deactivation, ends every open login session of the user
    (office and kiosk, on every server) in the same transaction — but the one the actor
    acts through when changing their own PIN or password, so nobody is logged out by
    changing their own secret. The change's own audit row says how many ended
    (``SessioniChiuse`` in ``dopo``, when any): the end is a consequence of that change,
    made by the same person at the same instant, so a row of its own would only repeat
    it. API tokens are not sessions and keep working (they are revoked on their own;
    deactivation stops them anyway).

    Raises NotFound, InvalidInput, Conflict (MATRICOLA_IN_USO), RuleViolation
    (AUTO_DISATTIVAZIONE, AUTO_DECLASSAMENTO, ULTIMO_ADMIN).
    """
    utente = get_user(session, utente_id)
    errori = CampiErrati()
    puliti = _controlla_utente(
        errori,
        matricola=matricola,
        nome=nome,
        cognome=cognome,
        ruolo=ruolo,
        pin=pin,
        password=password,
        parziale=True,
        lingua=lingua,
    )
    errori.raise_if_any()
    nuova_matricola = puliti.get("matricola")
    if nuova_matricola is not None and _matricola_usata(session, nuova_matricola, escluso_id=utente.id):
        raise _conflitto_matricola(nuova_matricola)
    nuovo_ruolo = puliti.get("ruolo") or utente.ruolo
    nuovo_attivo = utente.attivo if attivo is None else bool(attivo)
    prima = _fotografia(utente)
    try:
        with transaction(session):
            _proteggi_amministratori(session, actor, utente, nuovo_ruolo, nuovo_attivo)
            for campo, valore in puliti.items():
                setattr(utente, campo, valore)
            utente.attivo = nuovo_attivo
            vecchi, nuovi = anagrafiche.differenze(prima, _fotografia(utente))
            disattivato = nuovi.get("Attivo") is False
            chiuse = _chiudi_sessioni(
                session, actor, utente.id, disattivato=disattivato, password=password is not None, pin=pin is not None
            )
            if nuovi:
                azione = "UTENTE_DISATTIVATO" if disattivato else "UTENTE_MODIFICATO"
                audit.record(
                    session,
                    actor,
                    azione,
                    "Utenti",
                    utente.id,
                    prima=vecchi,
                    dopo={**nuovi, **chiuse.pop("DISATTIVATO", {})},
                )
            if pin is not None:
                utente.pin_hash = hashing.hash_pin(pin)
                audit.record(session, actor, "PIN_REIMPOSTATO", "Utenti", utente.id, dopo=chiuse.pop("PIN", None))
            if password is not None:
                utente.password_hash = hashing.hash_secret(password)
                audit.record(
                    session, actor, "PASSWORD_REIMPOSTATA", "Utenti", utente.id, dopo=chiuse.pop("PASSWORD", None)
                )
            session.flush()
    except IntegrityError:
        if nuova_matricola is not None and _matricola_usata(session, nuova_matricola, escluso_id=utente_id):
            raise _conflitto_matricola(nuova_matricola) from None
        raise
    return utente


def _chiudi_sessioni(
    session: DbSession, actor: Actor | None, utente_id: int, *, disattivato: bool, password: bool, pin: bool
) -> dict[str, dict[str, object]]:
    """End the user's open sessions for the strongest of the changes made (deactivation,
    password, PIN); returns ``{motivo: {"SessioniChiuse": n}}`` for the audit row of that
    change, empty when none ended. Changing one's own secret keeps one's current session."""
    motivo = DISATTIVATO if disattivato else PASSWORD if password else PIN if pin else None
    if motivo is None:
        return {}
    tranne = actor.sessione_id if actor is not None and actor.utente_id == utente_id else None
    chiuse = sessioni.chiudi_tutte(session, utente_id=utente_id, motivo=motivo, adesso=utcnow(), tranne=tranne)
    return {motivo: {"SessioniChiuse": chiuse}} if chiuse else {}


def deactivate_user(session: DbSession, *, actor: Actor | None, utente_id: int) -> Utente:
    """Deactivate a user (rows are never deleted: lotti and the log point at them). They
    can no longer log in, and their API tokens stop working. Deactivating an inactive
    user changes nothing.

    Raises NotFound, RuleViolation (AUTO_DISATTIVAZIONE, ULTIMO_ADMIN).
    """
    return update_user(session, actor=actor, utente_id=utente_id, attivo=False)


def reactivate_user(session: DbSession, *, actor: Actor | None, utente_id: int) -> Utente:
    """Let a deactivated user log in again (UTENTE_MODIFICATO). Raises NotFound."""
    return update_user(session, actor=actor, utente_id=utente_id, attivo=True)


def reset_pin(session: DbSession, *, actor: Actor | None, utente_id: int, pin: str) -> Utente:
    """Give a user a new kiosk PIN (PIN_REIMPOSTATO). Raises NotFound, InvalidInput."""
    if pin is None:
        raise InvalidInput({"pin": [N_("Indicare il nuovo PIN.")]})
    return update_user(session, actor=actor, utente_id=utente_id, pin=pin)


def set_password(session: DbSession, *, actor: Actor | None, utente_id: int, password: str) -> Utente:
    """Give a user a new login password (PASSWORD_REIMPOSTATA). Raises NotFound, InvalidInput."""
    if password is None:
        raise InvalidInput({"password": [N_("Indicare la nuova password.")]})
    return update_user(session, actor=actor, utente_id=utente_id, password=password)


@ripete_se_occupato
def create_token(session: DbSession, *, actor: Actor | None, matricola: str, descrizione: str | None = None) -> str:
    """Create an API token for the user with ``matricola``; returns the token (shown once).

    Raises NotFound for an unknown badge, RuleViolation for a deactivated user, InvalidInput
    for a description over 100 characters.
    """
    errori = CampiErrati()
    descrizione = anagrafiche.testo(errori, "descrizione", descrizione, massimo=100, vuoto=None)
    errori.raise_if_any()
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
        audit.record(
            session,
            actor,
            "TOKEN_CREATO",
            "ApiToken",
            record.id,
            dopo={"UtenteID": utente.id, "Prefisso": record.prefisso},
        )
    return token


@ripete_se_occupato
def revoke_token(session: DbSession, *, actor: Actor | None, token_id: int) -> ApiToken:
    """Revoke a token by id; a revoked token stops working on the next request. Revoking
    it again changes nothing. Returns the token's record.

    Raises NotFound for an unknown id.
    """
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFound(N_("Token %(id)s inesistente."), id=token_id)
    if record.data_revoca is not None:
        return record
    with transaction(session):
        record.data_revoca = utcnow()
        audit.record(session, actor, "TOKEN_REVOCATO", "ApiToken", record.id, prima={"Prefisso": record.prefisso})
    return record


def list_tokens(session: DbSession) -> list[ApiToken]:
    """All API tokens, newest first (hashes are never shown)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def authenticate_token(session: DbSession, token: str) -> Actor | None:
    """The Actor for a valid, unrevoked token of an active user; None otherwise.

    Every API request asks it: one Core query for the few columns the Actor needs,
    read from the database each time (a revoked token or a deactivated user is refused
    at once, in every worker)."""
    righe = lettura_singola(session, _TOKEN_ATTIVO, {"impronta": hashing.token_digest(token)})
    if not righe:
        return None
    riga = righe[0]
    return Actor(
        utente_id=riga.id,
        matricola=riga.matricola,
        ruolo=riga.ruolo,
        nome=f"{riga.nome} {riga.cognome}",
        lingua=riga.lingua,
    )


# The statement is built once: building it on every request cost more than running it.
# Labelled: it runs on the connection (Core), where a row's keys are the labels.
_TOKEN_ATTIVO = (
    select(
        Utente.id.label("id"),
        Utente.matricola.label("matricola"),
        Utente.ruolo.label("ruolo"),
        Utente.nome.label("nome"),
        Utente.cognome.label("cognome"),
        Utente.lingua.label("lingua"),
    )
    .join(ApiToken, ApiToken.utente_id == Utente.id)
    .where(
        ApiToken.token_hash == bindparam("impronta"),
        ApiToken.data_revoca.is_(None),
        Utente.attivo == true(),
    )
)
