"""Production batches opened and closed at the machines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Table, Unicode, UniqueConstraint, and_, column, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnClause

from asigest.domain.stati import LOTTO_APERTO, LOTTO_CHIUSO
from asigest.extensions import Model
from asigest.models.catalog import CausaleScarto, Macchina
from asigest.models.commesse import Fase
from asigest.models.types import UTCDateTime

_out: ColumnClause[int] = column("QtaOutput")
_scarti: ColumnClause[int] = column("QtaScarti")
_input: ColumnClause[int] = column("QtaInput")
_fine: ColumnClause[datetime] = column("DataFine")


class Lotto(Model):
    __tablename__ = "Lotti"
    __table_args__ = (
        CheckConstraint(_input > 0, name="qta_input"),
        # R7 held by the database too: a closed lotto has 0 < output + scrap <= input.
        CheckConstraint(
            or_(
                and_(_fine.is_(None), _out.is_(None), _scarti.is_(None)),
                and_(
                    _fine.is_not(None),
                    # A CHECK passes when it is unknown, so NULL quantities must be refused explicitly.
                    _out.is_not(None),
                    _scarti.is_not(None),
                    _out >= 0,
                    _scarti >= 0,
                    _out + _scarti > 0,
                    _out + _scarti <= _input,
                ),
            ),
            name="chiusura",
        ),
        # R4: at most one open lotto per machine, even with two terminals at the same instant.
        Index(
            "UX_Lotti_MacchinaAperta",
            "MacchinaID",
            unique=True,
            sqlite_where=_fine.is_(None),
            postgresql_where=_fine.is_(None),
            mssql_where=_fine.is_(None),
        ),
        # Period queries (KPIs, register) read closed lotti by DataFine.
        Index("IX_Lotti_DataFine", "DataFine"),
        Index("IX_Lotti_DataInizio", "DataInizio"),
        # The KPIs (services/kpi.py): every column they read after DataFine, so a
        # period's lotti are aggregated from one range of this index, never the table.
        Index(
            "IX_Lotti_DataFine_KPI",
            "DataFine",
            "FaseID",
            "MacchinaID",
            "OperatoreID",
            "CausaleID",
            "QtaOutput",
            "QtaScarti",
            "DataInizio",
        ),
        Index("IX_Lotti_MacchinaID_DataFine", "MacchinaID", "DataFine"),
        Index("IX_Lotti_OperatoreID_DataFine", "OperatoreID", "DataFine"),
        # The lotti register (services/registro.py): a machine's or an operator's lotti
        # by start, newest first, without sorting all of them.
        Index("IX_Lotti_MacchinaID_DataInizio", "MacchinaID", "DataInizio"),
        Index("IX_Lotti_OperatoreID_DataInizio", "OperatoreID", "DataInizio"),
        # A cancelled lotto's id is never given to another one (migration 0004): the
        # audit log names lotti by id. PostgreSQL and SQL Server identities never reuse.
        {"sqlite_autoincrement": True},
    )

    # active_history: the KPIs' daily summary needs the old values of a change
    # (services/riepilogo_kpi.py), even when the attribute was not loaded before.
    id: Mapped[int] = mapped_column("LottoID", Integer, primary_key=True)
    fase_id: Mapped[int] = mapped_column("FaseID", ForeignKey("Fasi.FaseID"), nullable=False, active_history=True)
    progressivo: Mapped[int] = mapped_column("Progressivo", Integer, nullable=False)
    codice_lotto: Mapped[str] = mapped_column("CodiceLotto", Unicode(40), unique=True, nullable=False)
    data_inizio: Mapped[datetime] = mapped_column("DataInizio", UTCDateTime, nullable=False, active_history=True)
    data_fine: Mapped[datetime | None] = mapped_column("DataFine", UTCDateTime, active_history=True)
    qta_input: Mapped[int] = mapped_column("QtaInput", Integer, nullable=False)
    qta_output: Mapped[int | None] = mapped_column("QtaOutput", Integer, active_history=True)
    qta_scarti: Mapped[int | None] = mapped_column("QtaScarti", Integer, active_history=True)
    causale_id: Mapped[int | None] = mapped_column(
        "CausaleID", ForeignKey("CausaliScarto.CausaleID"), index=True, active_history=True
    )
    note_scarti: Mapped[str | None] = mapped_column("NoteScarti", Unicode(500))
    operatore_id: Mapped[int] = mapped_column(
        "OperatoreID", ForeignKey("Utenti.UtenteID"), nullable=False, active_history=True
    )
    operatore_chiusura_id: Mapped[int | None] = mapped_column(
        "OperatoreChiusuraID", ForeignKey("Utenti.UtenteID"), index=True
    )
    macchina_id: Mapped[int] = mapped_column(
        "MacchinaID", ForeignKey("Macchine.MacchinaID"), nullable=False, active_history=True
    )
    diba: Mapped[str | None] = mapped_column("DIBA", Unicode(50))
    revisione: Mapped[str | None] = mapped_column("Revisione", Unicode(20))

    fase: Mapped[Fase] = relationship(lazy="joined")
    macchina: Mapped[Macchina] = relationship(lazy="joined")
    causale: Mapped[CausaleScarto | None] = relationship(lazy="joined")

    @property
    def stato(self) -> str:
        return LOTTO_APERTO if self.data_fine is None else LOTTO_CHIUSO


# UNIQUE(FaseID, Progressivo) also serves every "lotti of this fase" query.
_tabella = Lotto.__table__
assert isinstance(_tabella, Table)  # (typed FromClause: a declarative model's own Table)
_tabella.append_constraint(UniqueConstraint("FaseID", "Progressivo", name="UQ_Lotti_FaseID_Progressivo"))
