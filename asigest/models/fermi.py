"""Machine stops and what OEE is measured against (SPEC §13, R15): stop reasons, stops,
the shift calendar and the ideal cycle times."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Time,
    Unicode,
    and_,
    column,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnClause

from asigest.domain.oee import CATEGORIE_FERMO
from asigest.extensions import Model
from asigest.models.catalog import FaseTipo, Macchina
from asigest.models.types import UTCDateTime
from asigest.models.utenti import Utente

_fine: ColumnClause[datetime] = column("Fine")
_inizio: ColumnClause[datetime] = column("Inizio")


class CausaleFermo(Model):
    """A stop reason; ``fase_tipo_id`` NULL means any phase. A *planned* stop (a meeting,
    preventive maintenance) is left out of the planned time instead of counting as a loss."""

    __tablename__ = "CausaliFermo"
    __table_args__ = (CheckConstraint(column("Categoria").in_(CATEGORIE_FERMO), name="categoria"),)

    id: Mapped[int] = mapped_column("CausaleFermoID", Integer, primary_key=True)
    codice: Mapped[str] = mapped_column("Codice", Unicode(30), unique=True, nullable=False)
    descrizione: Mapped[str] = mapped_column("Descrizione", Unicode(200), nullable=False)
    fase_tipo_id: Mapped[int | None] = mapped_column("FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), index=True)
    categoria: Mapped[str] = mapped_column("Categoria", String(20), nullable=False)
    pianificato: Mapped[bool] = mapped_column("Pianificato", Boolean, nullable=False, default=False)
    attiva: Mapped[bool] = mapped_column("Attiva", Boolean, nullable=False, default=True)

    fase_tipo: Mapped[FaseTipo | None] = relationship(lazy="joined")


class Fermo(Model):
    """A stop of a machine (R15): running while ``fine`` is NULL, at most one per machine."""

    __tablename__ = "Fermi"
    __table_args__ = (
        CheckConstraint(or_(_fine.is_(None), _fine >= _inizio), name="durata"),
        # R15: at most one running stop per machine, even with two terminals at the same instant.
        Index(
            "UX_Fermi_MacchinaAperto",
            "MacchinaID",
            unique=True,
            sqlite_where=_fine.is_(None),
            postgresql_where=_fine.is_(None),
            mssql_where=_fine.is_(None),
        ),
        # The OEE and the register read a machine's stops by start.
        Index("IX_Fermi_MacchinaID_Inizio", "MacchinaID", "Inizio", "Fine"),
        # The OEE reads the stops that end after a period starts (Fine ≥ Inizio, so the range
        # also bounds their start) and the running ones (Fine IS NULL), covered.
        Index("IX_Fermi_Fine", "Fine", "Inizio", "MacchinaID", "CausaleFermoID"),
        Index("IX_Fermi_Inizio", "Inizio"),
        # A stop's id is never given to another (the audit log names stops by id).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column("FermoID", Integer, primary_key=True)
    macchina_id: Mapped[int] = mapped_column("MacchinaID", ForeignKey("Macchine.MacchinaID"), nullable=False)
    inizio: Mapped[datetime] = mapped_column("Inizio", UTCDateTime, nullable=False)
    fine: Mapped[datetime | None] = mapped_column("Fine", UTCDateTime)
    causale_id: Mapped[int] = mapped_column(
        "CausaleFermoID", ForeignKey("CausaliFermo.CausaleFermoID"), nullable=False, index=True
    )
    operatore_id: Mapped[int] = mapped_column("OperatoreID", ForeignKey("Utenti.UtenteID"), nullable=False, index=True)
    note: Mapped[str | None] = mapped_column("Note", Unicode(500))

    macchina: Mapped[Macchina] = relationship(lazy="joined")
    causale: Mapped[CausaleFermo] = relationship(lazy="joined")
    # Who declared it (R15): loaded where it is shown (the register and its export), not
    # with every stop the kiosk and the wall screen read.
    operatore: Mapped[Utente] = relationship()


_macchina: ColumnClause[int] = column("MacchinaID")
_reparto: ColumnClause[str] = column("Reparto")
_giorno: ColumnClause[int] = column("GiornoSettimana")
_data: ColumnClause[date] = column("Data")
_ora_inizio: ColumnClause[time] = column("OraInizio")
_ora_fine: ColumnClause[time] = column("OraFine")


class CalendarioTurni(Model):
    """One shift of the planned production time, for a machine or a whole Reparto.

    A weekly row has ``giorno_settimana`` (1 Monday … 7 Sunday); a dated exception has
    ``data`` and replaces that day's weekly rows: with times it is that day's shift (an
    extra Saturday), without them the day is closed (a holiday). A shift whose end is not
    after its start ends the next day (a night shift). Times are the plant's local time.
    """

    __tablename__ = "CalendarioTurni"
    __table_args__ = (
        CheckConstraint(
            or_(and_(_macchina.is_not(None), _reparto.is_(None)), and_(_macchina.is_(None), _reparto.is_not(None))),
            name="macchina_o_reparto",
        ),
        CheckConstraint(
            or_(
                and_(_giorno.is_not(None), _data.is_(None), _giorno >= 1, _giorno <= 7),
                and_(_giorno.is_(None), _data.is_not(None)),
            ),
            name="settimanale_o_datato",
        ),
        # A weekly row is a shift; a dated one is a shift or a closed day.
        CheckConstraint(
            or_(
                and_(_ora_inizio.is_not(None), _ora_fine.is_not(None), _ora_inizio != _ora_fine),
                and_(_ora_inizio.is_(None), _ora_fine.is_(None), _data.is_not(None)),
            ),
            name="orari",
        ),
        Index("IX_CalendarioTurni_MacchinaID", "MacchinaID"),
        Index("IX_CalendarioTurni_Reparto", "Reparto"),
    )

    id: Mapped[int] = mapped_column("CalendarioID", Integer, primary_key=True)
    macchina_id: Mapped[int | None] = mapped_column("MacchinaID", ForeignKey("Macchine.MacchinaID"))
    reparto: Mapped[str | None] = mapped_column("Reparto", Unicode(50))
    giorno_settimana: Mapped[int | None] = mapped_column("GiornoSettimana", Integer)
    data: Mapped[date | None] = mapped_column("Data", Date)
    ora_inizio: Mapped[time | None] = mapped_column("OraInizio", Time)
    ora_fine: Mapped[time | None] = mapped_column("OraFine", Time)
    note: Mapped[str | None] = mapped_column("Note", Unicode(200))


_codart: ColumnClause[str] = column("CODART")


class TempoCiclo(Model):
    """The ideal cycle time of a piece: per article (CODART) or any, for a phase type, on
    a machine or any. The most specific row wins (``domain.oee.tempo_ciclo``); the four
    filtered unique indexes keep one row per combination on every database."""

    __tablename__ = "TempiCiclo"
    __table_args__ = (
        CheckConstraint(column("SecondiPerPezzo") > 0, name="secondi"),
        Index(
            "UX_TempiCiclo_ArticoloMacchina",
            "CODART",
            "FaseTipoID",
            "MacchinaID",
            unique=True,
            sqlite_where=and_(_codart.is_not(None), _macchina.is_not(None)),
            postgresql_where=and_(_codart.is_not(None), _macchina.is_not(None)),
            mssql_where=and_(_codart.is_not(None), _macchina.is_not(None)),
        ),
        Index(
            "UX_TempiCiclo_Articolo",
            "CODART",
            "FaseTipoID",
            unique=True,
            sqlite_where=and_(_codart.is_not(None), _macchina.is_(None)),
            postgresql_where=and_(_codart.is_not(None), _macchina.is_(None)),
            mssql_where=and_(_codart.is_not(None), _macchina.is_(None)),
        ),
        Index(
            "UX_TempiCiclo_Macchina",
            "FaseTipoID",
            "MacchinaID",
            unique=True,
            sqlite_where=and_(_codart.is_(None), _macchina.is_not(None)),
            postgresql_where=and_(_codart.is_(None), _macchina.is_not(None)),
            mssql_where=and_(_codart.is_(None), _macchina.is_not(None)),
        ),
        Index(
            "UX_TempiCiclo_Fase",
            "FaseTipoID",
            unique=True,
            sqlite_where=and_(_codart.is_(None), _macchina.is_(None)),
            postgresql_where=and_(_codart.is_(None), _macchina.is_(None)),
            mssql_where=and_(_codart.is_(None), _macchina.is_(None)),
        ),
    )

    id: Mapped[int] = mapped_column("TempoCicloID", Integer, primary_key=True)
    codart: Mapped[str | None] = mapped_column("CODART", Unicode(30))
    fase_tipo_id: Mapped[int] = mapped_column("FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), nullable=False)
    macchina_id: Mapped[int | None] = mapped_column("MacchinaID", ForeignKey("Macchine.MacchinaID"), index=True)
    secondi_per_pezzo: Mapped[Decimal] = mapped_column("SecondiPerPezzo", Numeric(10, 3), nullable=False)

    fase_tipo: Mapped[FaseTipo] = relationship(lazy="joined")
    macchina: Mapped[Macchina | None] = relationship(lazy="joined")
