"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects import mssql
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A UTC instant stored without offset (``datetime2`` on SQL Server, ``timestamp`` on
    PostgreSQL), read back as an aware UTC ``datetime``.

    Storing naive UTC keeps one column type on all three databases; the offset is put
    back on read so nothing downstream mistakes it for local time.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        # SQL Server's DATETIME rounds to 3.33 ms; datetime2 keeps microseconds.
        if dialect.name == "mssql":
            return dialect.type_descriptor(mssql.DATETIME2())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
