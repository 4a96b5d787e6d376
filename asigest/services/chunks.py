"""Id lists split for ``IN (…)``: SQL Server takes at most 2,100 parameters a statement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Well under SQL Server's 2,100 parameters per statement.
IN_CHUNK = 2000


def chunked(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
