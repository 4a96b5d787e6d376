"""The unit of work: one operation commits as a whole or not at all."""

from __future__ import annotations

import functools
import random
import time
from contextlib import contextmanager
from typing import Callable, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import scoped_session

from asigest.dialects import WRITE_OPTION
from asigest.errors import N_, Conflict

T = TypeVar("T")


class DatabaseOccupato(Conflict):
    """SQLite refused a write because another one committed first; nothing was saved."""

    code = "DATABASE_OCCUPATO"
    default_message = N_("Il database era occupato da un'altra operazione e non è stato salvato nulla: "
                         "riprovare tra un istante.")


@contextmanager
def transaction(session):
    """Commit when the block ends normally; roll back on any exception and re-raise it.

    A block that starts the session's transaction declares the write up front (on SQLite
    it then waits for the write lock at BEGIN). One that joins a transaction the caller's
    reads began cannot: when SQLite then finds that another writer committed in between,
    the operation is rolled back and ``DatabaseOccupato`` (409, "try again") raised
    instead of an unexpected error; ``con_riprova`` runs it again by itself.
    """
    # A scoped session (Flask-SQLAlchemy's) does not proxy in_transaction(): ask its session.
    corrente = session() if isinstance(session, scoped_session) else session
    if not corrente.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if _conflitto_sqlite(exc):
            raise DatabaseOccupato() from exc
        raise
    except BaseException:
        session.rollback()
        raise


class Riprova(Exception):
    """Raised inside an operation to run it again from the start (e.g. a progressivo race)."""


def _conflitto_sqlite(exc: OperationalError) -> bool:
    # SQLite refuses a write from a transaction whose snapshot is older than the last
    # commit ("database is locked"), without waiting: starting again is the cure.
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "locked" in text or "busy" in text


def ripete_se_occupato(servizio: Callable[..., T]) -> Callable[..., T]:
    """Run a whole service operation (``servizio(session, …)``) again when SQLite refused
    its write because another writer committed after its reads began (DatabaseOccupato).

    The new attempt rolls back and declares the write up front, so it reads its state
    again under the write lock and cannot be refused the same way. Only for operations
    with no effect outside the database before their transaction commits.
    """

    @functools.wraps(servizio)
    def eseguito(session, *args, **kwargs):
        for tentativo in range(1, _TENTATIVI_OCCUPATO + 1):
            try:
                return servizio(session, *args, **kwargs)
            except DatabaseOccupato:
                if tentativo == _TENTATIVI_OCCUPATO:
                    raise
            session.rollback()
            session.connection(execution_options={WRITE_OPTION: True})
        raise AssertionError("unreachable")

    return eseguito


_TENTATIVI_OCCUPATO = 5


def con_riprova(session, operazione: Callable[[], T], *, tentativi: int = 12) -> T:
    """Run ``operazione`` (which opens its own ``transaction``) until it commits.

    Runs it again, from a fresh transaction, when it raises ``Riprova`` or SQLite reports a
    write conflict; any other error, or the last failed attempt, propagates. The session
    must hold no pending changes of the caller: each attempt starts with a rollback.
    """
    for tentativo in range(1, tentativi + 1):
        session.rollback()
        # Declare the write up front: on SQLite the transaction then waits for the
        # write lock at BEGIN rather than failing half-way.
        session.connection(execution_options={WRITE_OPTION: True})
        try:
            return operazione()
        except Riprova:
            if tentativo == tentativi:
                raise
        except DatabaseOccupato:
            if tentativo == tentativi:
                raise
        except OperationalError as exc:
            if tentativo == tentativi or not _conflitto_sqlite(exc):
                raise
        # Spread the retries so that terminals that collided do not collide again.
        time.sleep(random.uniform(0.002, 0.01) * tentativo)
    raise AssertionError("unreachable")
