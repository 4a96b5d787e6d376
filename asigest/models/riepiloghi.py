"""The KPIs' daily summaries: per local day and phase type, the lotti closed, their good
and scrap pieces and their time open; per local day and operator, the lotti closed and
their good pieces; per local day, machine and scrap reason, the scrap (the Pareto
lists); per local day, machine and phase type, the pieces (the OEE).
services/riepilogo_kpi.py keeps them exact."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from asigest.extensions import Model
from asigest.models.types import UTCDateTime


class KpiGiorno(Model):
    """The lotti of one phase type closed on one local day of the plant (KpiRiepilogo.Zona)."""

    __tablename__ = "KpiGiorni"

    giorno: Mapped[date] = mapped_column("Giorno", Date, primary_key=True)
    fase_tipo_id: Mapped[int] = mapped_column("FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), primary_key=True)
    lotti: Mapped[int] = mapped_column("Lotti", Integer, nullable=False)
    qta_output: Mapped[int] = mapped_column("QtaOutput", BigInteger, nullable=False)
    qta_scarti: Mapped[int] = mapped_column("QtaScarti", BigInteger, nullable=False)
    # Σ (DataFine − DataInizio) in microseconds: integers add up exactly.
    microsecondi: Mapped[int] = mapped_column("Microsecondi", BigInteger, nullable=False)


class KpiOperatoreGiorno(Model):
    """The lotti opened by one operator closed on one local day (for the top operators)."""

    __tablename__ = "KpiOperatoriGiorni"
    # An operator's Σ good of a period from one index range (the top operators).
    __table_args__ = (Index("IX_KpiOperatoriGiorni_Operatore", "OperatoreID", "Giorno", "QtaOutput"),)

    giorno: Mapped[date] = mapped_column("Giorno", Date, primary_key=True)
    operatore_id: Mapped[int] = mapped_column("OperatoreID", ForeignKey("Utenti.UtenteID"), primary_key=True)
    lotti: Mapped[int] = mapped_column("Lotti", Integer, nullable=False)
    qta_output: Mapped[int] = mapped_column("QtaOutput", BigInteger, nullable=False)


class KpiScartiGiorno(Model):
    """The scrap of the lotti closed on one local day, by machine and scrap reason (the
    dashboard's Pareto lists). Only lotti with scrap count. ``CausaleID`` 0 stands for
    "no reason" (scrap written outside the application, R7 broken): a key column cannot
    be NULL, so it has no foreign key; the KPIs read 0 as None."""

    __tablename__ = "KpiScartiGiorni"
    # A machine's or a reason's Σ scrap of a period from one index range (the Pareto lists).
    __table_args__ = (
        Index("IX_KpiScartiGiorni_Macchina", "MacchinaID", "Giorno", "QtaScarti"),
        Index("IX_KpiScartiGiorni_Causale", "CausaleID", "Giorno", "QtaScarti"),
    )

    giorno: Mapped[date] = mapped_column("Giorno", Date, primary_key=True)
    macchina_id: Mapped[int] = mapped_column("MacchinaID", ForeignKey("Macchine.MacchinaID"), primary_key=True)
    causale_id: Mapped[int] = mapped_column("CausaleID", Integer, primary_key=True, autoincrement=False)
    lotti: Mapped[int] = mapped_column("Lotti", Integer, nullable=False)
    qta_scarti: Mapped[int] = mapped_column("QtaScarti", BigInteger, nullable=False)


class KpiProduzioneGiorno(Model):
    """The lotti closed on one local day on one machine in fasi of one phase type: the
    pieces OEE counts (SPEC §13, a lotto's pieces belong to the day it closed).

    Not by order: at the reference data set a machine closes about two lotti of one order
    a day, so rows by order would be nearly as many as the lotti (544,000 at 1M) and no
    faster to read. When some ideal cycle time names an article, the OEE needs each
    order's pieces (the article is the ERP's) and reads the lotti instead.

    The primary key starts with the day: a period is one range of it. On SQLite the table
    is that key (WITHOUT ROWID), as SQL Server's clustered primary key is, so the period's
    rows are read in order without visiting a second structure."""

    __tablename__ = "KpiProduzioneGiorni"
    # One machine's period (the OEE of a machine) without the other machines' rows.
    __table_args__ = (
        Index("IX_KpiProduzioneGiorni_Macchina", "MacchinaID", "Giorno"),
        {"sqlite_with_rowid": False},
    )

    giorno: Mapped[date] = mapped_column("Giorno", Date, primary_key=True)
    macchina_id: Mapped[int] = mapped_column("MacchinaID", ForeignKey("Macchine.MacchinaID"), primary_key=True)
    fase_tipo_id: Mapped[int] = mapped_column("FaseTipoID", ForeignKey("FaseTipo.FaseTipoID"), primary_key=True)
    lotti: Mapped[int] = mapped_column("Lotti", Integer, nullable=False)
    qta_output: Mapped[int] = mapped_column("QtaOutput", BigInteger, nullable=False)
    qta_scarti: Mapped[int] = mapped_column("QtaScarti", BigInteger, nullable=False)


class KpiRiepilogo(Model):
    """One row when the summaries are complete: the zone its days are local to. No row (or
    another zone than the plant's) means the KPIs read the lotti instead."""

    __tablename__ = "KpiRiepilogo"

    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True, autoincrement=False)
    zona: Mapped[str] = mapped_column("Zona", Unicode(64), nullable=False)
    ricostruito_il: Mapped[datetime] = mapped_column("RicostruitoIl", UTCDateTime, nullable=False)
