"""The ERP's COMMESSE table as a SQLAlchemy Core ``Table`` (SPEC §3). Read-only."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import CHAR, Column, Date, Integer, MetaData, String, Table


@lru_cache(maxsize=8)
def commesse_table(schema: str | None = None) -> Table:
    """``COMMESSE`` in ``schema`` (``ASITRON.dbo`` on SQL Server, None on SQLite).

    Cached per schema because a ``Table`` is immutable metadata, not data.
    """
    metadata = MetaData(schema=schema or None)
    return Table(
        "COMMESSE",
        metadata,
        Column("ID", Integer, primary_key=True, autoincrement=False),
        Column("ESERCIZIO", Integer),
        Column("NUMEROCOM", Integer),
        Column("RIFCOMMCLI", String(50)),
        Column("CODART", String(30)),
        Column("DESART", String(255)),
        Column("QTA", Integer),
        Column("DATACONSEGNA", Date),
        Column("STATOCOMMESSA", CHAR(1)),
        Column("IDCLIENTE", Integer),
        Column("NOMECLIENTE", String(100)),
    )
