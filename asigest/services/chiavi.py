"""One-time request keys (R11): the kiosk form's token or the API's Idempotency-Key,
kept with the fingerprint of the request that first used it, so that a replay returns
the first result and a key reused for another request is refused. The lotti and the
stops keep theirs in the same table (RichiestaEseguita), told apart by the operation."""

from __future__ import annotations

from sqlalchemy import Table, bindparam, insert, select

from asigest.domain.actor import Actor
from asigest.models import RichiestaEseguita
from asigest.models.types import utcnow
from asigest.services.uow import DbSession

# Built once: it runs at every open, close, stop and resume that carries a key.
_RICHIESTA = select(RichiestaEseguita).where(
    RichiestaEseguita.utente_id == bindparam("utente"), RichiestaEseguita.chiave == bindparam("chiave")
)
_TABELLA = RichiestaEseguita.__table__
assert isinstance(_TABELLA, Table)  # (typed FromClause: a declarative model's own Table)
_REGISTRA = insert(_TABELLA)


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
    """Keep ``chiave`` as used by this request, in the operation's transaction.

    Written at once by a Core INSERT (no ORM object, no flush: it runs at every write
    of a kiosk or line software), so a key committed meanwhile by another request
    raises its IntegrityError (UNIQUE(UtenteID, Chiave)) here, where the caller turns
    it into a retry that finds the key."""
    if chiave:
        session.connection().execute(
            _REGISTRA,
            {
                "UtenteID": actor.utente_id,
                "Chiave": chiave[:100],
                "Impronta": impronta,
                "Operazione": operazione,
                "EntitaID": entita_id,
                "DataOra": utcnow(),
            },
        )
