"""The copy of the ERP's open orders that order search reads (services/commesse_aperte.py;
decision docs/decisioni/2026-12-08-copia-commesse-aperte.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Integer, Unicode, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from asigest.extensions import Model
from asigest.models.types import UTCDateTime


class CommessaAperta(Model):
    """One open ERP order (STATOCOMMESSA = 'O') as the ERP had it at the last refresh.

    ``Testo`` is RIFCOMMCLI, CODART, DESART and NOMECLIENTE lowered and joined by U+001F
    (a character no search may hold), so a case-insensitive search is one LIKE on one
    column. ``ChiaveEsercizio`` and ``ChiaveNumero`` are ESERCIZIO and NUMEROCOM with
    NULL as the smallest value (as SQLite and SQL Server order them), so the ERP's order
    (newest first) is a key of three NOT NULL columns on every database.
    """

    __tablename__ = "CommesseAperte"
    # The key is the ERP's order (newest first: a page walks it and stops at its last
    # row); on SQLite the table is that key (WITHOUT ROWID), as SQL Server's clustered
    # primary key is, so a search that reads every row reads them in order, without
    # visiting a second structure. The ERP's ID is unique on its own.
    __table_args__ = (
        UniqueConstraint("CommessaERPId"),
        {"sqlite_with_rowid": False},
    )

    chiave_esercizio: Mapped[int] = mapped_column("ChiaveEsercizio", BigInteger, primary_key=True, autoincrement=False)
    chiave_numero: Mapped[int] = mapped_column("ChiaveNumero", BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column("CommessaERPId", Integer, primary_key=True, autoincrement=False)
    esercizio: Mapped[int | None] = mapped_column("Esercizio", Integer)
    numerocom: Mapped[int | None] = mapped_column("Numerocom", Integer)
    rifcommcli: Mapped[str | None] = mapped_column("RifCommCli", Unicode(50))
    codart: Mapped[str | None] = mapped_column("CodArt", Unicode(30))
    desart: Mapped[str | None] = mapped_column("DesArt", Unicode(255))
    qta: Mapped[int | None] = mapped_column("Qta", Integer)
    dataconsegna: Mapped[date | None] = mapped_column("DataConsegna", Date)
    idcliente: Mapped[int | None] = mapped_column("IdCliente", Integer)
    nomecliente: Mapped[str | None] = mapped_column("NomeCliente", Unicode(100))
    testo: Mapped[str] = mapped_column("Testo", Unicode(1000), nullable=False)


class StatoCommesseAperte(Model):
    """One row (ID 1): when the copy was last read from the ERP, and which refresh is
    running. ``AggiornataIl`` is the instant the last complete read of the ERP began (the
    copy is at least that fresh); ``AggiornamentoDal`` the instant a worker claimed the
    next refresh (NULL: none running)."""

    __tablename__ = "StatoCommesseAperte"

    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True, autoincrement=False)
    aggiornata_il: Mapped[datetime | None] = mapped_column("AggiornataIl", UTCDateTime)
    aggiornamento_dal: Mapped[datetime | None] = mapped_column("AggiornamentoDal", UTCDateTime)
