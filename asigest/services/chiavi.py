"""One-time request keys (R11): the kiosk form's token or the API's Idempotency-Key,
kept with the fingerprint of the request that first used it, so that a replay returns
the first result and a key reused for another request is refused. The lotti and the
stops keep theirs in the same table (RichiestaEseguita), told apart by the operation."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from asigest.domain.actor import Actor
from asigest.models import RichiestaEseguita
from asigest.services.uow import DbSession

# Built once: it runs at every open, close, stop and resume that carries a key.
_RICHIESTA = select(RichiestaEseguita).where(
    RichiestaEseguita.utente_id == bindparam("utente"), RichiestaEseguita.chiave == bindparam("chiave")
)


def richiede_impronta(chiave: str | None, impronta: str | None) -> None:
    """Refuse a key without the fingerprint of its request (a programming error)."""
    # A key without the request it belongs to could only be compared by itself: the bug
    # this rule refuses to have. Every caller describes its request (web layer).
    if chiave and not impronta:
        raise ValueError("una chiave monouso va passata con l'impronta della sua richiesta")


def richiesta(session: DbSession, actor: Actor, chiave: str | None) -> RichiestaEseguita | None:
    """The request this actor already made with ``chiave``, or None (also with no key)."""
    if not chiave:
        return None
    return session.scalar(_RICHIESTA, {"utente": actor.utente_id, "chiave": chiave})


def registra(
    session: DbSession, actor: Actor, chiave: str | None, impronta: str | None, operazione: str, entita_id: int
) -> None:
    """Keep ``chiave`` as used by this request, in the operation's transaction."""
    if chiave:
        session.add(
            RichiestaEseguita(
                utente_id=actor.utente_id,
                chiave=chiave[:100],
                impronta=impronta,
                operazione=operazione,
                entita_id=entita_id,
            )
        )
