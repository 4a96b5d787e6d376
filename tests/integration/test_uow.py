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


def _istruzioni(app, fare):
    """The statements ``fare()`` sends to ASI_GEST."""
    from sqlalchemy import event

    inviate: list[str] = []

    def conta(_conn, _cursor, statement, *_args):
        inviate.append(statement.split()[0].upper())

    engine = db.engines[None]
    event.listen(engine, "before_cursor_execute", conta)
    try:
        fare()
    finally:
        event.remove(engine, "before_cursor_execute", conta)
    return inviate


def test_a_single_read_outside_a_transaction_sends_no_begin_and_leaves_none(app, db_session, sqlite_only):
    from asigest.services.uow import lettura_singola

    db_session.rollback()
    stmt = select(FaseTipo.codice).where(FaseTipo.codice == "SMD")
    righe: list = []
    inviate = _istruzioni(app, lambda: righe.extend(lettura_singola(db_session, stmt, {})))
    assert [r[0] for r in righe] == ["SMD"]
    assert "BEGIN" not in inviate and inviate.count("SELECT") == 1
    assert not db_session().in_transaction()
    # Inside a transaction it reads in that transaction, which stays open.
    db_session.scalar(select(FaseTipo.id).limit(1))
    assert [r[0] for r in lettura_singola(db_session, stmt, {})] == ["SMD"]
    assert db_session().in_transaction()


def test_a_kept_answer_costs_no_statement_and_expires_at_the_next_transaction(app, db_session):
    """``transaction(conserva=…)`` in a session of one request: the answer is read from
    memory after the commit; the next transaction reads it again."""
    from asigest.services.uow import _DI_UNA_RICHIESTA, di_una_richiesta

    di_una_richiesta(db_session)
    try:
        tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
        altro = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "PTH"))
        with transaction(db_session, conserva=[tipo]):
            tipo.descrizione = "Montaggio superficiale"
        assert _istruzioni(app, lambda: tipo.descrizione) == []
        assert "descrizione" not in altro.__dict__  # every other object expired as by a commit
        db_session.scalar(select(FaseTipo.id).limit(1))  # the next transaction
        assert "descrizione" not in tipo.__dict__
    finally:
        db_session.info.pop(_DI_UNA_RICHIESTA)
