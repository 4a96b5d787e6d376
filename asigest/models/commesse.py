"""How an ERP order is produced: its configuration and its phases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Unicode,
    UniqueConstraint,
    column,
    or_,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from asigest.domain.stati import STATI_FASE
from asigest.extensions import Model
from asigest.models.catalog import FaseTipo
from asigest.models.types import UTCDateTime, utcnow


class ConfigCommessa(Model):
    __tablename__ = "ConfigCommessa"
    __table_args__ = (
        CheckConstraint(
            or_(column("FlagSMD") == true(), column("FlagPTH") == true(), column("FlagControlli") == true()),
            name="almeno_una_fase",
        ),
        # A deleted config's id is never given to another one (migration 0009): the audit
        # log names configs by id. PostgreSQL and SQL Server identities never reuse.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column("ConfigID", Integer, primary_key=True)
    commessa_erp_id: Mapped[int] = mapped_column("CommessaERPId", Integer, unique=True, nullable=False)
    flag_smd: Mapped[bool] = mapped_column("FlagSMD", Boolean, nullable=False, default=True)
    flag_pth: Mapped[bool] = mapped_column("FlagPTH", Boolean, nullable=False, default=False)
    flag_controlli: Mapped[bool] = mapped_column("FlagControlli", Boolean, nullable=False, default=True)
    diba: Mapped[str | None] = mapped_column("DIBA", Unicode(50))
    revisione: Mapped[str | None] = mapped_column("Revisione", Unicode(20))
    note: Mapped[str | None] = mapped_column("Note", Unicode(2000))
    data_creazione: Mapped[datetime] = mapped_column("DataCreazione", UTCDateTime, nullable=False, default=utcnow)
    data_modifica: Mapped[datetime | None] = mapped_column("DataModifica", UTCDateTime, onupdate=utcnow)
    bloccata_documentazione: Mapped[bool] = mapped_column(
        "BloccataDocumentazione", Boolean, nullable=False, default=False
    )
    qta_erp: Mapped[int | None] = mapped_column("QtaERP", Integer)
    creato_da: Mapped[int | None] = mapped_column("CreatoDa", ForeignKey("Utenti.UtenteID"), index=True)


class Fase(Model):
    __tablename__ = "Fasi"
    __table_args__ = (
        UniqueConstraint("CommessaERPId", "FaseTipoID"),
        CheckConstraint(column("Stato").in_(STATI_FASE), name="stato"),
        CheckConstraint(column("QtaPrevista") >= 0, name="qta_prevista"),
        CheckConstraint(column("QtaProdotta") >= 0, name="qta_prodotta"),
        CheckConstraint(column("QtaScarti") >= 0, name="qta_scarti"),
        # A removed fase's id is never given to another one (migration 0009), as for configs.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column("FaseID", Integer, primary_key=True)
    commessa_erp_id: Mapped[int] = mapped_column("CommessaERPId", Integer, nullable=False)
    fase_tipo_id: Mapped[int] = mapped_column(
        "FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), nullable=False, index=True
    )
    stato: Mapped[str] = mapped_column("Stato", String(20), nullable=False, default="APERTA")
    qta_prevista: Mapped[int] = mapped_column("QtaPrevista", Integer, nullable=False, default=0)
    qta_prodotta: Mapped[int] = mapped_column("QtaProdotta", Integer, nullable=False, default=0)
    qta_scarti: Mapped[int] = mapped_column("QtaScarti", Integer, nullable=False, default=0)
    data_apertura: Mapped[datetime | None] = mapped_column("DataApertura", UTCDateTime)
    data_chiusura: Mapped[datetime | None] = mapped_column("DataChiusura", UTCDateTime)

    fase_tipo: Mapped[FaseTipo] = relationship(lazy="joined")
