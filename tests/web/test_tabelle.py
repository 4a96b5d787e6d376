"""Paging and sorting shared by the pages' tables (``asigest/web/tabelle.py``): an
``offset`` that is not a whole number from 0 to 2,147,483,647 is the first page, never
an error; column headers sort the natural way first, then reverse, keeping the filters."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from asigest.web.tabelle import MAX_OFFSET, leggi_offset, link_ordina


@pytest.mark.parametrize(
    ("testo", "atteso"),
    [
        (None, 0),
        ("", 0),
        ("0", 0),
        ("50", 50),
        (" 50 ", 50),
        (str(MAX_OFFSET), MAX_OFFSET),
        (str(MAX_OFFSET + 1), MAX_OFFSET),
        (str(2**31 - 1), MAX_OFFSET),
    ],
)
def test_an_offset_in_range_is_kept_up_to_the_bound(testo, atteso):
    assert leggi_offset(testo) == atteso


@pytest.mark.parametrize(
    "testo",
    [
        str(2**31),
        str(2**63),
        "9" * 5000,
        "-5",
        "-0",
        "abc",
        "1e3",
        "0x1f",
        "1.5",
        "1_000",
        "１２",
        "²",
        "٣",
        "nan",
    ],
)
def test_anything_else_is_the_first_page(testo):
    assert leggi_offset(testo) == 0


def test_sort_links_start_the_natural_way_then_reverse_and_keep_the_filters(app):
    parametri = {"fase": "SMD", "dimenticati": "1"}
    with app.test_request_context("/lotti"):
        nuovo = link_ordina("registro.elenco", parametri, "", lambda chiave: chiave != "codice")
        assert [nuovo(k)[1] for k in ("codice", "scarti")] == [None, None]
        ordini = {k: parse_qs(urlsplit(nuovo(k)[0]).query) for k in ("codice", "scarti")}
        assert ordini["codice"] == {"fase": ["SMD"], "dimenticati": ["1"], "ordine": ["codice"]}
        assert ordini["scarti"]["ordine"] == ["-scarti"]
        assert urlsplit(nuovo("codice")[0]).path == "/lotti"

        crescente = link_ordina("registro.elenco", parametri, "scarti", lambda chiave: True)
        url, verso = crescente("scarti")
        assert verso == "ascending" and parse_qs(urlsplit(url).query)["ordine"] == ["-scarti"]
        decrescente = link_ordina("registro.elenco", parametri, "-scarti", lambda chiave: True)
        url, verso = decrescente("scarti")
        assert verso == "descending" and parse_qs(urlsplit(url).query)["ordine"] == ["scarti"]
        assert decrescente("codice")[1] is None
