"""URL converters: a path segment that no row can match never reaches the database.

``<int:…>`` is replaced app-wide (before any blueprint registers its rules) by
``IdConverter``: 1 to 2,147,483,647 written in plain ASCII digits, the range of the
INTEGER identity columns on every supported database. Any other number — 0, a negative,
``2147483648`` or a hundred digits — matches no route, so the answer is the ordinary 404
instead of an integer overflow inside the database driver (a 500 on PostgreSQL from 2³¹,
on SQLite from 2⁶³). ``<fase_tipo:…>`` does the same for a phase-type code in a path
(``/api/lotti/smd/``): letters, digits and ``_`` only, as the catalog allows.

Each converter carries the JSON schema of what it accepts (``openapi``), so the API
document states the same bounds the router enforces.
"""

from __future__ import annotations

from werkzeug.routing import BaseConverter, IntegerConverter, Map

ID_MAX = 2**31 - 1  # INTEGER identity columns (SQL Server INT, PostgreSQL integer, SQLite's alias of ROWID)
FASE_TIPO_MAX = 20  # FaseTipo.Codice is NVARCHAR(20)


def numeri_fino_a(massimo: int) -> str:
    """A regular expression matching the decimal numbers 1..``massimo`` exactly: ASCII
    digits, no sign, no leading zero."""
    cifre = str(massimo)
    rami = [f"[1-9][0-9]{{0,{len(cifre) - 2}}}"] if len(cifre) > 1 else []
    for i, cifra in enumerate(cifre):
        minima = 1 if i == 0 else 0
        if int(cifra) > minima:
            resto = len(cifre) - i - 1
            rami.append(f"{cifre[:i]}[{minima}-{int(cifra) - 1}]" + (f"[0-9]{{{resto}}}" if resto else ""))
    rami.append(cifre)
    return "(?:" + "|".join(rami) + ")"


class IdConverter(IntegerConverter):
    r"""A row id: 1 to ``ID_MAX`` in ASCII digits, no sign, no leading zero.

    The bound is in the regular expression, not only in ``to_python``: werkzeug tries the
    methods of the rules whose pattern matches before converting, so a bound checked only
    on conversion would answer 405 (another method's rule "matched") instead of 404. And
    ``\d`` would take "١٢" (Arabic-Indic digits), which int() reads as 12."""

    regex = numeri_fino_a(ID_MAX)
    openapi = {"type": "integer", "minimum": 1, "maximum": ID_MAX}

    def __init__(self, map: Map):
        # No arguments: ``<int(signed=True):…>`` would widen what the database can hold.
        super().__init__(map, min=1, max=ID_MAX)


class FaseTipoConverter(BaseConverter):
    """A phase-type code as the catalog allows it (``domain/anagrafiche.py``), any case."""

    regex = r"[A-Za-z][A-Za-z0-9_]{0,%d}" % (FASE_TIPO_MAX - 1)
    openapi = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]{0,%d}$" % (FASE_TIPO_MAX - 1)}


CODICE_LOTTO_MAX = 40  # Lotti.CodiceLotto is NVARCHAR(40)


class CodiceLottoConverter(BaseConverter):
    """A CodiceLotto as labels print it (``2026-1234-SMD-003``): letters, digits, ``.``,
    ``_`` and ``-``, at most 40 characters; any case."""

    regex = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{CODICE_LOTTO_MAX - 1}}}"
    openapi = {"type": "string", "pattern": rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{CODICE_LOTTO_MAX - 1}}}$"}


def init_app(app) -> None:
    """Register the converters; must run before any rule using them is added."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["fase_tipo"] = FaseTipoConverter
    app.url_map.converters["codice_lotto"] = CodiceLottoConverter
