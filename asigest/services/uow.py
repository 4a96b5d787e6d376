"""The unit of work: one operation commits as a whole or not at all."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def transaction(session):
    """Commit when the block ends normally; roll back on any exception and re-raise it."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
