"""The unit of work: one operation commits as a whole or not at all."""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from typing import Callable, TypeVar

from sqlalchemy.exc import OperationalError

from asigest.dialects import WRITE_OPTION

T = TypeVar("T")


@contextmanager
def transaction(session):
    """Commit when the block ends normally; roll back on any exception and re-raise it."""
    try:
        yield session
        session.commit()
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
        except OperationalError as exc:
            if tentativo == tentativi or not _conflitto_sqlite(exc):
                raise
        # Spread the retries so that terminals that collided do not collide again.
        time.sleep(random.uniform(0.002, 0.01) * tentativo)
    raise AssertionError("unreachable")
