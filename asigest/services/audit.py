"""Writing the audit log (LogEventi). Always called inside the operation's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table, insert

from asigest.domain.actor import Actor
from asigest.models import LogEvento
from asigest.models.types import utcnow
from asigest.services.uow import DbSession

_TABELLA = LogEvento.__table__
assert isinstance(_TABELLA, Table)  # (typed FromClause: a declarative model's own Table)
# Built once: the write path runs it at every open and close.
_INSERISCI = insert(_TABELLA)


def record(
    session: DbSession,
    actor: Actor | None,
    azione: str,
    entita: str,
    entita_id: int | None,
    *,
    prima: Mapping[str, object] | None = None,
    dopo: Mapping[str, object] | None = None,
    postazione: str | None = None,
    motivo: str | None = None,
) -> LogEvento:
    """Add one LogEventi row for a change; the caller's transaction commits it with the change.

    ``Dettagli`` holds ``prima``/``dopo`` (contract column names → values) and, for the
    supervisor's hand changes (R8 states, R10 corrections, cancellations), ``motivo``.
    """
    evento = LogEvento(
        utente_id=actor.utente_id if actor else None,
        postazione=_postazione(actor, postazione),
        azione=azione,
        entita=entita,
        entita_id=entita_id,
        dettagli=_dettagli(prima, dopo, motivo),
    )
    session.add(evento)
    return evento


def record_subito(
    session: DbSession,
    actor: Actor | None,
    azione: str,
    entita: str,
    entita_id: int,
    *,
    prima: Mapping[str, object] | None = None,
    dopo: Mapping[str, object] | None = None,
    postazione: str | None = None,
) -> None:
    """The same row as ``record``, written at once by a Core INSERT on the transaction's
    connection: no ORM object and no flush. For the kiosk's write path (open and close
    of a lotto), where the unit of work's bookkeeping cost more CPU than the INSERT."""
    session.connection().execute(
        _INSERISCI,
        {
            "DataOra": utcnow(),
            "UtenteID": actor.utente_id if actor else None,
            "Postazione": _postazione(actor, postazione),
            "Azione": azione,
            "Entita": entita,
            "EntitaID": entita_id,
            "Dettagli": _dettagli(prima, dopo, None),
        },
    )


def _postazione(actor: Actor | None, postazione: str | None) -> str | None:
    return postazione or (actor.postazione if actor else None) or None


def _dettagli(
    prima: Mapping[str, object] | None, dopo: Mapping[str, object] | None, motivo: str | None
) -> dict[str, object] | None:
    dettagli: dict[str, object] = {}
    if prima is not None:
        dettagli["prima"] = prima
    if dopo is not None:
        dettagli["dopo"] = dopo
    if motivo is not None:
        dettagli["motivo"] = motivo
    return dettagli or None
