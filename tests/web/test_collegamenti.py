"""Shortcuts of long pages give exactly what the slow general way gives: row links built
once per page (``asigest/web/collegamenti.py``) equal ``url_for``, and whole numbers
grouped by Python (``filters.numero``) equal Babel's ``format_decimal`` in both languages;
the formatters a page builds once (``formato_numeri``, ``formato_orari``) equal the filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import url_for
from flask_babel import force_locale, format_decimal

from asigest.web.collegamenti import per_id
from asigest.web.filters import formato_numeri, formato_orari, localtime, numero


@pytest.mark.parametrize(
    ("endpoint", "campo", "fissi"),
    [
        ("registro.lotto", "lotto_id", {}),
        ("pages.commessa", "commessa_id", {}),
        ("eventi.elenco", "entita_id", {"entita": "Lotti"}),
    ],
)
def test_links_built_once_equal_url_for(app, endpoint, campo, fissi):
    with app.test_request_context("/lotti"):
        link = per_id(endpoint, campo, **fissi)
        for valore in (1, 7, 42, 987_654_321, 2**31 - 1):
            assert link(valore) == url_for(endpoint, **fissi, **{campo: valore})


@pytest.mark.parametrize("lingua", ["it", "en"])
def test_whole_numbers_equal_babel(app, lingua):
    with app.test_request_context("/"), force_locale(lingua):
        for valore in (0, 5, -5, 999, 1000, -1000, 1234567, -98765432, 10**15):
            assert numero(valore) == format_decimal(valore)
        assert numero(None) == "—"
        assert numero(1234.5) == format_decimal(1234.5)  # not whole: Babel's own


@pytest.mark.parametrize("lingua", ["it", "en", "de"])
def test_numbers_formatted_once_per_page_equal_the_filter(app, lingua):
    with app.test_request_context("/"), force_locale(lingua):
        formatta = formato_numeri()
        for valore in (0, 5, -5, 1000, -1000, 1234567, 10**15, None, 1234.5):
            assert formatta(valore) == numero(valore)


def test_times_formatted_once_per_page_equal_the_filter(app):
    with app.test_request_context("/"):
        formatta = formato_orari()
        for valore in (None, datetime(2026, 3, 2, 7, 0, tzinfo=UTC), datetime(2026, 7, 31, 22, 30, tzinfo=UTC)):
            assert formatta(valore) == localtime(valore)
        assert formato_orari("%H:%M")(datetime(2026, 7, 31, 22, 30, tzinfo=UTC)) == "00:30"
