"""Periods people choose by calendar day, in the plant's time zone, turned into UTC instants.

A period ``da``–``a`` covers whole days, both included: from local midnight of ``da``
to local midnight after ``a``. The database stores UTC, so the bounds are converted with
the zone's rules for each day (a day around a daylight-saving change is 23 or 25 hours).
Also the ISO week that holds a day, the default period of the KPIs (SPEC §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Periodo:
    """Whole local days ``da``..``a`` (both included); either end may be open (None)."""

    da: date | None = None
    a: date | None = None

    def inizio_utc(self, zona: str) -> datetime | None:
        """The first instant of the period in UTC (None: no lower bound)."""
        return None if self.da is None else mezzanotte_utc(self.da, zona)

    def fine_utc(self, zona: str) -> datetime | None:
        """The first instant *after* the period in UTC, to compare with ``<`` (None: no upper bound)."""
        return None if self.a is None else mezzanotte_utc(self.a + timedelta(days=1), zona)

    def giorni(self) -> tuple[date, date]:
        """(``da``, ``a``) of a period closed at both ends; ValueError for an open-ended one."""
        if self.da is None or self.a is None:
            raise ValueError(f"periodo senza uno dei due estremi: {self}")
        return self.da, self.a

    def limiti_utc(self, zona: str) -> tuple[datetime, datetime]:
        """(``inizio_utc``, ``fine_utc``) of a period closed at both ends; ValueError otherwise."""
        da, a = self.giorni()
        return mezzanotte_utc(da, zona), mezzanotte_utc(a + timedelta(days=1), zona)

    @property
    def invertito(self) -> bool:
        return self.da is not None and self.a is not None and self.da > self.a


def mezzanotte_utc(giorno: date, zona: str) -> datetime:
    """Local midnight at the start of ``giorno`` in ``zona``, as an aware UTC datetime."""
    return datetime.combine(giorno, time(0), tzinfo=ZoneInfo(zona)).astimezone(UTC)


def oggi(zona: str, adesso: datetime | None = None) -> date:
    """Today's date in the plant's zone."""
    return (adesso or datetime.now(UTC)).astimezone(ZoneInfo(zona)).date()


def settimana_iso(giorno: date) -> Periodo:
    """Monday to Sunday of the ISO week holding ``giorno``."""
    lunedi = giorno - timedelta(days=giorno.isoweekday() - 1)
    return Periodo(lunedi, lunedi + timedelta(days=6))
