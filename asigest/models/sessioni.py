"""Login sessions (office and kiosk) that the server can end (``domain/sessioni.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Unicode, and_, column, or_
from sqlalchemy.orm import Mapped, mapped_column

from asigest.domain.sessioni import MOTIVI_FINE, TIPI
from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow


class Sessione(Model):
    """One login of one browser: open while ``DataFine`` is NULL.

    ``Chiave`` is the SHA-256 (hex) of the 256-bit secret in the browser's signed cookie,
    never the secret itself, so a copy of this table opens no session. Every
    authenticated page and kiosk request reads its row together with the user (one
    query), so ending the row — logout, *Esci*, idle lock, new password or PIN,
    deactivation — takes effect on every server sharing the database. Rows that started
    more than ``LOGIN_KEEP_DAYS`` ago are pruned at the next login.
    """

    __tablename__ = "Sessioni"
    __table_args__ = (
        CheckConstraint(column("Tipo").in_(TIPI), name="tipo"),
        CheckConstraint(column("MotivoFine").in_(MOTIVI_FINE), name="motivo_fine"),
        # An ended session says why; an open one has no reason.
        CheckConstraint(
            or_(
                and_(column("DataFine").is_(None), column("MotivoFine").is_(None)),
                and_(column("DataFine").isnot(None), column("MotivoFine").isnot(None)),
            ),
            name="fine_con_motivo",
        ),
        # "End every open session of this user" (new password or PIN, deactivation).
        Index("IX_Sessioni_UtenteID_DataFine", "UtenteID", "DataFine"),
        # Pruning by age at login.
        Index("IX_Sessioni_DataInizio", "DataInizio"),
    )

    id: Mapped[int] = mapped_column("SessioneID", Integer, primary_key=True)
    utente_id: Mapped[int] = mapped_column("UtenteID", ForeignKey("Utenti.UtenteID"), nullable=False)
    chiave: Mapped[str] = mapped_column("Chiave", String(64), unique=True, nullable=False)
    tipo: Mapped[str] = mapped_column("Tipo", String(10), nullable=False)
    postazione: Mapped[str | None] = mapped_column("Postazione", Unicode(100))
    data_inizio: Mapped[datetime] = mapped_column("DataInizio", UTCDateTime, nullable=False, default=utcnow)
    data_fine: Mapped[datetime | None] = mapped_column("DataFine", UTCDateTime)
    motivo_fine: Mapped[str | None] = mapped_column("MotivoFine", String(20))
