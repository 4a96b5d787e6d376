"""Technical documents: metadata here, bytes content-addressed on disk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Unicode, column, or_
from sqlalchemy.orm import Mapped, mapped_column

from asigest.extensions import Model
from asigest.models.types import UTCDateTime, utcnow

# The default list of document types (a setting: DOCUMENT_TYPES).
TIPI_DOCUMENTO = ("DIBA", "SCHEMA_MONTAGGIO", "PROGRAMMA_SMD", "ISTRUZIONI", "CICLO_COLLAUDO", "ALTRO")


class DocumentoTecnico(Model):
    """A document for one commessa, or for an article (CODART) and so every commessa of it."""

    __tablename__ = "DocumentiTecnici"
    __table_args__ = (
        CheckConstraint(or_(column("CommessaERPId").is_not(None), column("CODART").is_not(None)), name="destinazione"),
        CheckConstraint(column("Dimensione") >= 0, name="dimensione"),
        # Whoever deleted it is named only on a deleted row (SPEC §12: deleted, when, by whom).
        CheckConstraint(
            or_(column("EliminatoDa").is_(None), column("DataEliminazione").is_not(None)), name="eliminato"
        ),
        # A deleted document's id is never given to another one (migration 0009): the
        # audit log names documents by id. PostgreSQL and SQL Server identities never reuse.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column("DocumentoID", Integer, primary_key=True)
    commessa_erp_id: Mapped[int | None] = mapped_column("CommessaERPId", Integer, index=True)
    codart: Mapped[str | None] = mapped_column("CODART", Unicode(30), index=True)
    tipo: Mapped[str] = mapped_column("Tipo", String(30), nullable=False)
    titolo: Mapped[str] = mapped_column("Titolo", Unicode(200), nullable=False)
    nome_file: Mapped[str] = mapped_column("NomeFile", Unicode(255), nullable=False)
    content_type: Mapped[str] = mapped_column("ContentType", String(100), nullable=False)
    dimensione: Mapped[int] = mapped_column("Dimensione", BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column("Sha256", String(64), nullable=False, index=True)
    revisione: Mapped[str | None] = mapped_column("Revisione", Unicode(20))
    data_caricamento: Mapped[datetime] = mapped_column("DataCaricamento", UTCDateTime, nullable=False, default=utcnow)
    caricato_da: Mapped[int | None] = mapped_column("CaricatoDa", ForeignKey("Utenti.UtenteID"), index=True)
    # Deleting keeps the record (and its bytes), so a trace can show what was current at
    # any past moment (SPEC §12); NULL while the document is in use.
    data_eliminazione: Mapped[datetime | None] = mapped_column("DataEliminazione", UTCDateTime)
    eliminato_da: Mapped[int | None] = mapped_column("EliminatoDa", ForeignKey("Utenti.UtenteID"))

    @property
    def eliminato(self) -> bool:
        return self.data_eliminazione is not None
