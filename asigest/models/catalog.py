"""Master data: phase types, machines, scrap reasons."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Unicode
from sqlalchemy.orm import Mapped, mapped_column, relationship

from asigest.extensions import Model


class FaseTipo(Model):
    """A phase type (SMD, PTH, CONTROLLI…); ``ordine`` is its position in the flow."""

    __tablename__ = "FaseTipo"

    id: Mapped[int] = mapped_column("FaseTipoID", Integer, primary_key=True)
    codice: Mapped[str] = mapped_column("Codice", Unicode(20), unique=True, nullable=False)
    descrizione: Mapped[str] = mapped_column("Descrizione", Unicode(100), nullable=False)
    ordine: Mapped[int] = mapped_column("Ordine", Integer, nullable=False)
    # Document types (see DOCUMENT_TYPES) that must exist before a lotto can open.
    documenti_richiesti: Mapped[list] = mapped_column("DocumentiRichiesti", JSON, nullable=False, default=list)
    attivo: Mapped[bool] = mapped_column("Attivo", Boolean, nullable=False, default=True)


class Macchina(Model):
    __tablename__ = "Macchine"

    id: Mapped[int] = mapped_column("MacchinaID", Integer, primary_key=True)
    codice: Mapped[str] = mapped_column("Codice", Unicode(30), unique=True, nullable=False)
    descrizione: Mapped[str] = mapped_column("Descrizione", Unicode(100), nullable=False, default="")
    fase_tipo_id: Mapped[int] = mapped_column(
        "FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), nullable=False, index=True
    )
    reparto: Mapped[str | None] = mapped_column("Reparto", Unicode(50))
    attiva: Mapped[bool] = mapped_column("Attiva", Boolean, nullable=False, default=True)

    fase_tipo: Mapped[FaseTipo] = relationship(lazy="joined")


class CausaleScarto(Model):
    """A scrap reason; ``fase_tipo_id`` NULL means valid in any phase."""

    __tablename__ = "CausaliScarto"

    id: Mapped[int] = mapped_column("CausaleID", Integer, primary_key=True)
    codice: Mapped[str] = mapped_column("Codice", Unicode(30), unique=True, nullable=False)
    descrizione: Mapped[str] = mapped_column("Descrizione", Unicode(200), nullable=False)
    fase_tipo_id: Mapped[int | None] = mapped_column("FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), index=True)
    attiva: Mapped[bool] = mapped_column("Attiva", Boolean, nullable=False, default=True)

    fase_tipo: Mapped[FaseTipo | None] = relationship(lazy="joined")
