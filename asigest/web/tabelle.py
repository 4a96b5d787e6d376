"""Paging and sorting of the pages' tables (orders, the lotti register, order progress).

A table pages with ``offset`` in the query string and sorts with ``ordine`` (a key, or
``-key`` for descending); its filters are a GET form, so an address can be shared, and
its column headers and page links keep them. A page reads its query string once into a
``RichiestaTabella`` and answers with ``risposta``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, render_template, url_for

from asigest.web.htmx import is_htmx, vary_on_htmx

# Farther than anyone pages: a larger offset would only make the database skip more rows
# to show an empty page.
MAX_OFFSET = 10_000_000
# The largest INTEGER on every supported database.
_INT32_MAX = 2**31 - 1
# What a checkbox or a yes flag in an address may say.
SI = {"1", "on", "true", "si", "sì", "yes"}


@dataclass
class RichiestaTabella:
    """A table page's query string, read: the filters for its service (None while any
    value is wrong), the sort and the offset, what was typed (to show it back) and the
    messages per field."""

    filtri: Any
    ordine: str
    offset: int
    valori: dict[str, str]
    errori: dict[str, list[str]] = field(default_factory=dict)

    @property
    def parametri(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), for links that keep them."""
        return {k: v for k, v in self.valori.items() if v}


def risposta(intera: str, frammento: str, richiesta: RichiestaTabella, /, **contesto):
    """The ``intera`` page's template, or for htmx the ``frammento`` it swaps, with the
    request as ``r`` (positional-only: the context may hold a ``pagina`` of rows). A wrong
    filter makes the whole page a 400 (htmx gets 200, so it swaps the messages in); the
    answer varies on ``HX-Request``."""
    html = render_template(frammento if is_htmx() else intera, r=richiesta, **contesto)
    status = 200 if is_htmx() or not richiesta.errori else 400
    return vary_on_htmx(current_app.make_response((html, status)))


def leggi_offset(testo: str | None, massimo: int = MAX_OFFSET) -> int:
    """The table's first row from the ``offset`` query argument.

    Anything but a whole number from 0 to 2,147,483,647 in plain digits — empty, a word,
    a sign, ``1e3``, a number beyond an INTEGER — is the first page (0); a number past
    ``massimo`` is ``massimo`` (an empty page that links back). Never an error."""
    testo = (testo or "").strip()
    # The length first: int() refuses (ValueError) strings of thousands of digits.
    if not (testo.isascii() and testo.isdigit()) or len(testo) > len(str(_INT32_MAX)) or int(testo) > _INT32_MAX:
        return 0
    return min(int(testo), massimo)


def url_con(endpoint: str, argomenti: Mapping[str, str], **altri: str) -> str:
    """``url_for(endpoint)`` with ``argomenti`` (a query string, a table's filters) and
    ``altri`` as its values. (url_for types its values as Any: a mapping of strings passed
    straight as ``**`` could, for mypy, fill its ``_external`` flag.)"""
    valori: dict[str, Any] = {**argomenti, **altri}
    return url_for(endpoint, **valori)


def link_ordina(
    endpoint: str, parametri: dict[str, str], ordine: str, decrescente_prima: Callable[[str], bool]
) -> Callable[[str], tuple[str, str | None]]:
    """``ordina(chiave)`` for the templates' column headers → (the address sorting by that
    column, its current direction for ``aria-sort``: "ascending", "descending" or None).

    ``ordine`` is the table's current sort. A first click sorts the column's natural way
    (descending when ``decrescente_prima(chiave)``), the next one reverses it; the
    filters (``parametri``) stay, the page goes back to the first."""

    def ordina(chiave: str) -> tuple[str, str | None]:
        attuale = None
        if ordine == chiave:
            attuale, nuovo = "ascending", "-" + chiave
        elif ordine == "-" + chiave:
            attuale, nuovo = "descending", chiave
        else:
            nuovo = "-" + chiave if decrescente_prima(chiave) else chiave
        return url_con(endpoint, parametri, ordine=nuovo), attuale

    return ordina
