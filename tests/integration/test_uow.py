"""The unit of work on SQLite: a write that joins a read transaction older than another
writer's commit is refused by SQLite. The operation is rolled back and answered with
DatabaseOccupato (409, "try again"), never an unexpected error, and a service marked
``ripete_se_occupato`` runs again by itself and commits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from asigest.extensions import db
from asigest.models import FaseTipo
from asigest.services.uow import DatabaseOccupato, ripete_se_occupato, transaction


@pytest.fixture
def sqlite_only(app):
    if db.engines[None].dialect.name != "sqlite":
        pytest.skip("SQLite's own refusal of a stale write (PostgreSQL waits for the lock instead)")


def _scrive_altrove(app, descrizione: str) -> None:
    """Another worker commits a change while our read transaction is open."""
    with app.app_context():
        altra = db.session
        tipo = altra.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH"))
        tipo.descrizione = descrizione
        altra.commit()
        db.session.remove()


def test_a_stale_write_is_refused_as_busy_and_leaves_nothing(app, db_session, sqlite_only):
    import threading

    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))  # our read begins
    filo = threading.Thread(target=_scrive_altrove, args=(app, "Scritto da un altro"))
    filo.start()
    filo.join()
    with pytest.raises(DatabaseOccupato) as refused, transaction(db_session):
        tipo.descrizione = "Mai salvato"
    assert refused.value.status == 409 and "riprovare" in refused.value.text(lambda m: m)
    db_session.expire_all()
    assert db_session.scalar(select(FaseTipo.descrizione).where(FaseTipo.codice == "SMD")) != "Mai salvato"


def test_a_repeatable_service_runs_again_and_commits(app, db_session, sqlite_only):
    import threading

    tentativi = []

    @ripete_se_occupato
    def rinomina(session, codice: str, descrizione: str):
        tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == codice))
        tentativi.append(1)
        if len(tentativi) == 1:  # another worker commits between our read and our write
            filo = threading.Thread(target=_scrive_altrove, args=(app, "Scritto da un altro"))
            filo.start()
            filo.join()
        with transaction(session):
            tipo.descrizione = descrizione

    db_session.rollback()
    db_session.scalar(select(FaseTipo.id))  # a read transaction is already open, as in a request
    rinomina(db_session, "SMD", "Rinominato")
    assert len(tentativi) == 2
    db_session.expire_all()
    assert db_session.scalar(select(FaseTipo.descrizione).where(FaseTipo.codice == "SMD")) == "Rinominato"
