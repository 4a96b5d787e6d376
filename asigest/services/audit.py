"""Writing the audit log (LogEventi). Always called inside the operation's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from asigest.domain.actor import Actor
from asigest.models import LogEvento
from asigest.services.uow import DbSession


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
    dettagli: dict[str, object] = {}
    if prima is not None:
        dettagli["prima"] = prima
    if dopo is not None:
        dettagli["dopo"] = dopo
    if motivo is not None:
        dettagli["motivo"] = motivo
    evento = LogEvento(
        utente_id=actor.utente_id if actor else None,
        postazione=(postazione or (actor.postazione if actor else None) or None),
        azione=azione,
        entita=entita,
        entita_id=entita_id,
        dettagli=dettagli or None,
    )
    session.add(evento)
    return evento
