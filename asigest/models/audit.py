"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from asigest.extensions import db
from asigest.models.types import UTCDateTime, utcnow


class LogEvento(db.Model):
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
