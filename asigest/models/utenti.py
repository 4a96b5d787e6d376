"""People and their API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Unicode, column
from sqlalchemy.orm import Mapped, mapped_column, relationship

from asigest.domain.anagrafiche import LINGUA_PREDEFINITA, LINGUE
from asigest.domain.ruoli import RUOLI
from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow


class Utente(Model):
    __tablename__ = "Utenti"
    __table_args__ = (
        CheckConstraint(column("Ruolo").in_(RUOLI), name="ruolo"),
        CheckConstraint(column("Lingua").in_(LINGUE), name="lingua"),
    )

    id: Mapped[int] = mapped_column("UtenteID", Integer, primary_key=True)
    matricola: Mapped[str] = mapped_column("Matricola", Unicode(30), unique=True, nullable=False)
    nome: Mapped[str] = mapped_column("Nome", Unicode(60), nullable=False)
    cognome: Mapped[str] = mapped_column("Cognome", Unicode(60), nullable=False)
    ruolo: Mapped[str] = mapped_column("Ruolo", String(20), nullable=False)
    pin_hash: Mapped[str | None] = mapped_column("PinHash", String(255))
    password_hash: Mapped[str | None] = mapped_column("PasswordHash", String(255))
    attivo: Mapped[bool] = mapped_column("Attivo", Boolean, nullable=False, default=True)
    data_creazione: Mapped[datetime] = mapped_column("DataCreazione", UTCDateTime, nullable=False, default=utcnow)
    ultimo_accesso: Mapped[datetime | None] = mapped_column("UltimoAccesso", UTCDateTime)
    # The language of the kiosk for this person, from their badge login on (SPEC §9). The
    # database's default only: a row written by code that predates the column gets it too.
    lingua: Mapped[str] = mapped_column("Lingua", String(2), nullable=False, server_default=LINGUA_PREDEFINITA)

    @property
    def nome_completo(self) -> str:
        return f"{self.nome} {self.cognome}"


class ApiToken(Model):
    """A bearer token for the JSON API. Only the SHA-256 of the token is stored: tokens
    are 256 random bits, so a fast hash is as safe as a slow one and allows a lookup."""

    __tablename__ = "ApiToken"

    id: Mapped[int] = mapped_column("TokenID", Integer, primary_key=True)
    utente_id: Mapped[int] = mapped_column("UtenteID", ForeignKey("Utenti.UtenteID"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column("TokenHash", String(64), unique=True, nullable=False)
    prefisso: Mapped[str] = mapped_column("Prefisso", String(12), nullable=False)
    descrizione: Mapped[str | None] = mapped_column("Descrizione", Unicode(100))
    data_creazione: Mapped[datetime] = mapped_column("DataCreazione", UTCDateTime, nullable=False, default=utcnow)
    data_revoca: Mapped[datetime | None] = mapped_column("DataRevoca", UTCDateTime)

    utente: Mapped[Utente] = relationship(lazy="joined")
