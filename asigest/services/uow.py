"""The unit of work: one operation commits as a whole or not at all.

It is also where a database error gets its meaning for every service, once
(``dialects.natura_errore`` reads each driver's codes): a database that cannot write
(disk full, read-only, I/O error) raises ``DatabaseNonDisponibile`` (503, never retried);
SQLite refusing a write because another writer got there first raises
``DatabaseOccupato`` (409, and ``con_riprova``/``ripete_se_occupato`` run the operation
again).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, MutableSequence, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeAlias, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql import Executable

from asigest.dialects import CONFLITTO, NON_SCRIVE, SINGLE_READ_OPTION, WRITE_OPTION, natura_errore
from asigest.errors import N_, AsigestError, Conflict, DatabaseNonDisponibile

if TYPE_CHECKING:
    from flask_sqlalchemy.session import Session as SessioneFlask

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

# What every service takes as ``session``: a plain Session (CLI, tests, the demo) or the
# web's ``db.session``, Flask-SQLAlchemy's scoped session (which proxies the Session API).
DbSession: TypeAlias = "Session | scoped_session[Session] | scoped_session[SessioneFlask]"


class DatabaseOccupato(Conflict):
    """SQLite refused a write because another one committed first; nothing was saved."""

    code = "DATABASE_OCCUPATO"
    default_message = N_(
        "Il database era occupato da un'altra operazione e non è stato salvato nulla: riprovare tra un istante."
    )


def lettura_singola(session: DbSession, istruzione: Executable, parametri: Mapping[str, object]) -> Sequence[Row[Any]]:
    """The rows of one SELECT of columns (not ORM objects). A session in no transaction
    runs it in one of its own, ended at once: on SQLite without BEGIN (a single statement
    reads one snapshot by itself), so a request that reads this first (the API's token)
    and then writes does not pay a BEGIN for a transaction it throws away."""
    corrente = session() if isinstance(session, scoped_session) else session
    if corrente.in_transaction() or corrente.new or corrente.dirty or corrente.deleted or not _sqlite(session):
        return session.execute(istruzione, parametri).all()
    try:
        # On the connection itself: a Core statement needs none of the ORM's execution
        # (nothing to flush, no objects to load), which cost more CPU than the read.
        return session.connection(execution_options={SINGLE_READ_OPTION: True}).execute(istruzione, parametri).all()
    finally:
        session.rollback()


def righe_toccate(esito: object) -> int:
    """The rows an UPDATE or DELETE run by ``session.execute`` matched.

    The ORM types that result as a plain ``Result``; for a DML statement it is the
    driver's ``CursorResult``, which carries ``rowcount``.
    """
    if not isinstance(esito, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(esito).__name__}")
    return esito.rowcount


@contextmanager
def transaction(session: DbSession, *, conserva: MutableSequence[object] | None = None) -> Iterator[DbSession]:
    """Commit when the block ends normally; roll back on any exception and re-raise it.

    ``conserva``: a list the block fills with the objects it answers with. A commit
    expires every object of the session (the next access reads it again). In a
    session that ends with its request (``di_una_richiesta``) those stay as they were
    committed until the session begins its next transaction, so answering with them
    costs no statement (the write path, ``services/lotti.py``).

    A block that starts the session's transaction declares the write up front (on SQLite
    it then waits for the write lock at BEGIN). One that joins a transaction the caller's
    reads began cannot: when SQLite then finds that another writer committed in between,
    the operation is rolled back and ``DatabaseOccupato`` (409, "try again") raised
    instead of an unexpected error; ``con_riprova`` runs it again by itself.

    When the database cannot write (disk full, read-only, I/O error: see
    ``dialects.natura_errore``), at BEGIN, at any statement or at COMMIT, the operation
    is rolled back and ``DatabaseNonDisponibile`` (503) raised: nothing was saved, and no
    retry will save it until the server is fixed. Other database errors (a constraint, a
    PostgreSQL serialization failure that its caller retries) propagate as they are.
    """
    # A scoped session (Flask-SQLAlchemy's) does not proxy in_transaction(): ask its session.
    corrente = session() if isinstance(session, scoped_session) else session
    if not corrente.in_transaction():
        _dichiara_scrittura(session)
    try:
        yield session
        if conserva and corrente.info.get(_DI_UNA_RICHIESTA):
            _commit_conservando(corrente, conserva)
        else:
            session.commit()
    except DBAPIError as exc:
        _annulla(session)
        tradotto = _errore_in_scrittura(session, exc)
        if tradotto is not None:
            raise tradotto from exc
        raise
    except BaseException:
        session.rollback()
        raise


_CONSERVATI = "asigest_conservati"
_DI_UNA_RICHIESTA = "asigest_di_una_richiesta"


def di_una_richiesta(session: DbSession) -> None:
    """Mark ``session`` as one that is thrown away at the end of its request (the web's):
    what an operation answers with need not be read again after its commit
    (``transaction``'s ``conserva``). A session kept longer (a script, a test) reads
    it again, as every object after a commit."""
    session.info[_DI_UNA_RICHIESTA] = True


def _commit_conservando(sessione: Session, conservati: MutableSequence[object]) -> None:
    """Commit, then expire what a commit expires except ``conservati``: what this
    transaction wrote or locked is what the database now holds, until another
    transaction may change it (``_scadono_all_inizio``)."""
    prima = sessione.expire_on_commit
    sessione.expire_on_commit = False
    try:
        sessione.commit()
    finally:
        sessione.expire_on_commit = prima
    tenuti = {id(oggetto) for oggetto in conservati}
    for oggetto in list(sessione.identity_map.values()):
        if id(oggetto) not in tenuti:
            sessione.expire(oggetto)
    sessione.info[_CONSERVATI] = list(conservati)


@event.listens_for(Session, "after_begin")
def _scadono_all_inizio(sessione: Session, _transazione: object, _connessione: object) -> None:
    """The objects a commit kept expire when the session begins its next transaction,
    as the commit would have expired them: from then on they are read again. One
    changed since (its flush begins this transaction) keeps its changes: the next
    commit expires it."""
    for oggetto in sessione.info.pop(_CONSERVATI, ()):
        if oggetto in sessione and not inspect(oggetto).modified:
            sessione.expire(oggetto)


def _annulla(session: DbSession) -> None:
    """Roll back after a database error; a database that fails even that (the connection
    is gone) must not hide the first error."""
    try:
        session.rollback()
    except DBAPIError as exc:
        log.warning("Rollback non riuscito dopo un errore del database: %s", exc)


def _errore_in_scrittura(session: DbSession, exc: DBAPIError) -> AsigestError | None:
    natura = natura_errore(exc)
    if natura == NON_SCRIVE:
        log.error("Il database ASI_GEST non riesce a scrivere: %s", exc.orig if exc.orig is not None else exc)
        return DatabaseNonDisponibile()
    if natura == CONFLITTO and _sqlite(session):
        # SQLite only: PostgreSQL's serialization failures reach the caller that asked
        # for SERIALIZABLE and retries them itself (services/auth.py).
        return DatabaseOccupato()
    return None


def _sqlite(session: DbSession) -> bool:
    try:
        return session.get_bind().dialect.name == "sqlite"
    except Exception:
        return False


def _dichiara_scrittura(session: DbSession) -> None:
    """Begin a transaction that declares its write (BEGIN IMMEDIATE on SQLite).

    A database that cannot write refuses even that (a read-only SQLite file or
    ``query_only``): DatabaseNonDisponibile. SQLite still busy after its busy timeout
    propagates as it is (answered 409 by the error mapping): another writer has held the
    lock that long, and running the operation again at once would only wait as long again.
    """
    try:
        session.connection(execution_options={WRITE_OPTION: True})
    except DBAPIError as exc:
        _annulla(session)
        if natura_errore(exc) == NON_SCRIVE:
            log.error("Il database ASI_GEST non riesce a scrivere: %s", exc.orig if exc.orig is not None else exc)
            raise DatabaseNonDisponibile() from exc
        raise


def _inizia_scrittura(session: DbSession) -> None:
    """Roll back and begin a transaction that declares its write, for a retry loop: its
    errors are raised outside the loop's retries (see ``_dichiara_scrittura``)."""
    session.rollback()
    _dichiara_scrittura(session)


def errore_database(exc: DBAPIError) -> AsigestError | None:
    """The domain error to answer for a database error that escaped a service outside
    any ``transaction`` (a read on a broken database): ``DatabaseNonDisponibile`` when the
    database cannot write or cannot be used (any OperationalError: by the DB-API's own
    definition a problem of the database's operation, not of the request),
    ``DatabaseOccupato`` for a conflict, None for anything else (a bug)."""
    natura = natura_errore(exc)
    if natura == CONFLITTO:
        return DatabaseOccupato()
    if natura == NON_SCRIVE or isinstance(exc, OperationalError):
        return DatabaseNonDisponibile()
    return None


class Riprova(Exception):
    """Raised inside an operation to run it again from the start (e.g. a progressivo race)."""


def ripete_se_occupato(
    servizio: Callable[Concatenate[DbSession, P], T],
) -> Callable[Concatenate[DbSession, P], T]:
    """Run a whole service operation (``servizio(session, …)``) again when SQLite refused
    its write because another writer committed after its reads began (DatabaseOccupato).

    The new attempt rolls back and declares the write up front, so it reads its state
    again under the write lock and cannot be refused the same way. Only for operations
    with no effect outside the database before their transaction commits.
    """

    @functools.wraps(servizio)
    def eseguito(session: DbSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        for tentativo in range(1, _TENTATIVI_OCCUPATO + 1):
            try:
                return servizio(session, *args, **kwargs)
            except DatabaseOccupato:
                if tentativo == _TENTATIVI_OCCUPATO:
                    raise
            _inizia_scrittura(session)
        raise AssertionError("unreachable")

    return eseguito


_TENTATIVI_OCCUPATO = 5


def con_riprova(session: DbSession, operazione: Callable[[], T], *, tentativi: int = 12) -> T:
    """Run ``operazione`` (which opens its own ``transaction``) until it commits.

    Runs it again, from a fresh transaction, when it raises ``Riprova`` or the database
    reports a write conflict; any other error (``DatabaseNonDisponibile`` included), or
    the last failed attempt, propagates. The session must hold no pending changes of the
    caller: each attempt starts with a rollback.
    """
    for tentativo in range(1, tentativi + 1):
        # Declare the write up front: on SQLite the transaction then waits for the
        # write lock at BEGIN rather than failing half-way. A database that cannot
        # write raises DatabaseNonDisponibile here or inside: never retried.
        _inizia_scrittura(session)
        try:
            return operazione()
        except Riprova:
            if tentativo == tentativi:
                raise
        except DatabaseOccupato:
            if tentativo == tentativi:
                raise
        except OperationalError as exc:
            # A conflict met outside ``transaction`` (a PostgreSQL deadlock victim, a
            # lock that was not available): the operation was rolled back, run it again.
            if tentativo == tentativi or natura_errore(exc) != CONFLITTO:
                raise
        # Spread the retries so that terminals that collided do not collide again.
        time.sleep(random.uniform(0.002, 0.01) * tentativo)
    raise AssertionError("unreachable")


def con_riprova_o_conflitto(session: DbSession, operazione: Callable[[], T], *, tentativi: int = 12) -> T:
    """``con_riprova``, and when the operation still collides after every attempt (or the
    database stayed locked), Conflict RIPROVARE: a clear "try again", never a 500.
    Nothing was written."""
    try:
        return con_riprova(session, operazione, tentativi=tentativi)
    except (Riprova, OperationalError):
        raise Conflict(
            N_("Troppi terminali hanno scritto nello stesso istante: riprovare."), code="RIPROVARE"
        ) from None
