"""The append-only audit log, and the guard that keeps it append-only.

SPEC §4: the application never updates or deletes LogEventi. Besides code review and a
static test, two ORM listeners refuse it at run time, for every ORM ``Session`` (the
app's, the CLI's, a benchmark's):

- ``before_flush``: a ``LogEvento`` changed or marked for deletion in the session makes
  the flush fail before any SQL is sent;
- ``do_orm_execute``: an ORM-enabled ``update(LogEvento)`` / ``delete(LogEvento)``
  (also ``session.query(LogEvento).delete()`` and bulk updates by primary key) is
  refused before it reaches the database.

Statements written against the bare ``Table`` (Core ``delete(table)``) are not ORM
statements and pass: that is how the test suite empties every table between tests.
No module of ``asigest/`` does that on LogEventi (a static test holds it), and
``demo --reset`` drops the schema through Alembic, outside any session. The database
can hold the rule too: the README shows the DBA how to DENY UPDATE, DELETE on
LogEventi to the application's login.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Unicode, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow


class LogEvento(Model):
    """One recorded change. The application only ever inserts rows here."""

    __tablename__ = "LogEventi"
    __table_args__ = (
        Index("IX_LogEventi_Entita_EntitaID", "Entita", "EntitaID"),
        Index("IX_LogEventi_UtenteID_DataOra", "UtenteID", "DataOra"),
        Index("IX_LogEventi_Azione_DataOra", "Azione", "DataOra"),
    )

    id: Mapped[int] = mapped_column("LogID", Integer, primary_key=True)
    data_ora: Mapped[datetime] = mapped_column("DataOra", UTCDateTime, nullable=False, default=utcnow, index=True)
    utente_id: Mapped[int | None] = mapped_column("UtenteID", ForeignKey("Utenti.UtenteID"))
    postazione: Mapped[str | None] = mapped_column("Postazione", Unicode(100))
    azione: Mapped[str] = mapped_column("Azione", String(40), nullable=False)
    entita: Mapped[str] = mapped_column("Entita", String(40), nullable=False)
    entita_id: Mapped[int | None] = mapped_column("EntitaID", Integer)
    dettagli: Mapped[dict | None] = mapped_column("Dettagli", JSON)


class LogEventiImmutabile(RuntimeError):
    """Code tried to change or delete an audit row: a bug, refused before any SQL runs."""


def _rifiuta_modifiche(session, flush_context, instances) -> None:
    # ``dirty`` holds persistent objects with an attribute set; new (pending) rows are
    # not in it, so filling a row before its INSERT (the demo backdates DataOra) is fine.
    for obj in session.dirty:
        if isinstance(obj, LogEvento):
            raise LogEventiImmutabile(
                f"LogEventi è in sola aggiunta: l'evento {obj.id} non si modifica (annullare con rollback)."
            )
    for obj in session.deleted:
        if isinstance(obj, LogEvento):
            raise LogEventiImmutabile(
                f"LogEventi è in sola aggiunta: l'evento {obj.id} non si cancella (annullare con rollback)."
            )


def _rifiuta_dml(state) -> None:
    if not (state.is_update or state.is_delete) or not state.is_orm_statement:
        return
    tabella = getattr(state.statement, "table", None)
    if getattr(tabella, "name", None) == LogEvento.__tablename__:
        verbo = "UPDATE" if state.is_update else "DELETE"
        raise LogEventiImmutabile(
            f"LogEventi è in sola aggiunta: {verbo} rifiutato (l'applicazione aggiunge soltanto)."
        )


event.listen(Session, "before_flush", _rifiuta_modifiche)
event.listen(Session, "do_orm_execute", _rifiuta_dml)
