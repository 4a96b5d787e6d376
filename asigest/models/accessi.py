"""Failed logins, for throttling and lockout (``domain/accessi.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Unicode, column
from sqlalchemy.orm import Mapped, mapped_column

from asigest.domain.accessi import TIPI
from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow


class TentativoAccesso(Model):
    """One failed login (wrong password or kiosk PIN) by badge and client address.

    Kept in the database, never in a process, so every worker and server behind the
    proxy counts the same failures; one row per failure (an INSERT, never a counter
    UPDATE) means two processes failing at the same instant both count. Rows older than
    the retention setting are pruned as new failures arrive; a lockout is also written to
    LogEventi (``ACCESSO_BLOCCATO``), which keeps it for good.
    """

    __tablename__ = "TentativiAccesso"
    __table_args__ = (
        CheckConstraint(column("Tipo").in_(TIPI), name="tipo"),
        Index("IX_TentativiAccesso_Matricola_DataOra", "Matricola", "DataOra"),
        Index("IX_TentativiAccesso_Indirizzo_DataOra", "Indirizzo", "DataOra"),
        Index("IX_TentativiAccesso_DataOra", "DataOra"),
    )

    id: Mapped[int] = mapped_column("TentativoID", Integer, primary_key=True)
    data_ora: Mapped[datetime] = mapped_column("DataOra", UTCDateTime, nullable=False, default=utcnow)
    tipo: Mapped[str] = mapped_column("Tipo", String(10), nullable=False)
    matricola: Mapped[str | None] = mapped_column("Matricola", Unicode(30))
    indirizzo: Mapped[str] = mapped_column("Indirizzo", String(100), nullable=False)
