"""One-time keys of state-changing requests (R11): kiosk form tokens and API Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from asigest.domain.richieste import LUNGHEZZA_IMPRONTA
from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow


class RichiestaEseguita(Model):
    """A request that changed something, by the key its sender gave it.

    Written in the same transaction as the change, so a replay of the key (a double tap,
    a network retry, another server behind the proxy) finds it and gets the first
    result instead of doing the work again. Kept in the database, never in a process.
    ``Impronta`` binds the key to that request: the same key with another one is refused.
    """

    __tablename__ = "RichiesteEseguite"
    __table_args__ = (
        UniqueConstraint("UtenteID", "Chiave"),
        Index("IX_RichiesteEseguite_DataOra", "DataOra"),
    )

    id: Mapped[int] = mapped_column("RichiestaID", Integer, primary_key=True)
    utente_id: Mapped[int] = mapped_column("UtenteID", ForeignKey("Utenti.UtenteID"), nullable=False)
    chiave: Mapped[str] = mapped_column("Chiave", String(100), nullable=False)
    operazione: Mapped[str] = mapped_column("Operazione", String(40), nullable=False)
    entita_id: Mapped[int | None] = mapped_column("EntitaID", Integer)
    # The request the key was first used for (domain/richieste.py): a replay must be the
    # same request. '' only on keys recorded before migration 0008, which had none.
    impronta: Mapped[str] = mapped_column("Impronta", String(LUNGHEZZA_IMPRONTA), nullable=False, server_default="")
    data_ora: Mapped[datetime] = mapped_column("DataOra", UTCDateTime, nullable=False, default=utcnow)
