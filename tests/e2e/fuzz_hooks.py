"""Schemathesis hooks for ``test_fuzz_api.py`` (loaded with ``SCHEMATHESIS_HOOKS``).

Two kinds, both reading what the OpenAPI document states rather than silencing a check:

- **Rules between parameters, or between requests,** that OpenAPI 3.0 cannot write as a
  schema, stated in the descriptions: the KPI and OEE period (``da`` and ``a`` together, in
  order, at most 366 days), the documents filter and upload (``CommessaERPId`` or
  ``CODART``, not both: the upload's schema says it with oneOf, which the coverage phase
  does not read), ``OperatoreID`` when the caller is not an OPERATORE, and an
  ``Idempotency-Key`` used for one request only (R11). Generated values are adjusted to
  follow them *only when every value involved is otherwise valid*, so a negative case
  stays negative; everything else is generated from the document alone.
- **Deactivation on DELETE** (SPEC §7: DELETE on a user or a machine deactivates it, the
  row stays readable): the document links the DELETE's answer to the read that shows
  the resource with ``Attivo``/``Attiva`` false (``x-disattivato``). ``use_after_free``
  is run unchanged inside ``uso_dopo_cancellazione``; its failure is dropped only where
  the document declares the deactivation *and* the read answers exactly that, so a
  deactivated resource shown active still fails, and every other DELETE is checked as
  schemathesis checks it.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import date, timedelta

import schemathesis
from schemathesis.openapi.checks import UseAfterFree
from schemathesis.specs.openapi.checks import use_after_free

_GIORNO = re.compile(r"(19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}")
_ID_MAX = 2**31 - 1
_CHIAVE = re.compile(r"[!-~]{1,100}")
_RICHIESTE = itertools.count(1)


def _giorno(valore) -> date | None:
    if not isinstance(valore, str) or not _GIORNO.fullmatch(valore):
        return None
    try:
        return date.fromisoformat(valore)
    except ValueError:
        return None


def _periodo_kpi(query: dict) -> dict:
    """``da`` and ``a`` both or neither, ``da`` ≤ ``a``, at most 366 days (domain/kpi.py)."""
    da, a = query.get("da"), query.get("a")
    giorno_da, giorno_a = _giorno(da), _giorno(a)
    if giorno_da and a in (None, ""):
        return {**query, "a": da}
    if giorno_a and da in (None, ""):
        return {**query, "da": a}
    if giorno_da and giorno_a:
        inizio, fine = sorted((giorno_da, giorno_a))
        if (fine - inizio).days + 1 > 366:
            fine = inizio + timedelta(days=365)
        return {**query, "da": inizio.isoformat(), "a": fine.isoformat()}
    return query


def _filtro_documenti(query: dict) -> dict:
    """``CommessaERPId`` or ``CODART``, not both: a valid pair keeps the order's id."""
    commessa, codart = query.get("CommessaERPId"), query.get("CODART")
    if isinstance(commessa, str) and re.fullmatch(r"[1-9][0-9]{0,9}", commessa):
        commessa = int(commessa)  # the coverage phase hands values already as the query string has them
    valido = (
        isinstance(commessa, int)
        and not isinstance(commessa, bool)
        and 1 <= commessa <= _ID_MAX
        and isinstance(codart, str)
        and 1 <= len(codart) <= 30
        and "\x00" not in codart
    )
    return {k: v for k, v in query.items() if k != "CODART"} if valido else query


@schemathesis.hook
def map_case(ctx, case):
    """Applied in every phase (the coverage phase runs case hooks only)."""
    operation = case.operation
    metodo = operation.method.lower()
    if isinstance(case.query, dict):
        if operation.path in ("/api/dashboard/kpi", "/api/dashboard/oee"):
            case.query = _periodo_kpi(case.query)
        elif operation.path == "/api/documenti/" and metodo == "get":
            case.query = _filtro_documenti(case.query)
    if operation.path == "/api/documenti/" and metodo == "post" and isinstance(case.body, dict):
        # The body's schema says it (oneOf), but the coverage phase does not read a root oneOf.
        case.body = _filtro_documenti(case.body)
    chiave = (case.headers or {}).get("Idempotency-Key")
    if isinstance(chiave, str) and _CHIAVE.fullmatch(chiave):
        # R11: a key belongs to one request (caller, operation, body); reused on another it
        # is refused (422). A client gives each request its own: so does the fuzzer.
        prefisso = os.environ.get("ASIGEST_FUZZ_RUN", "fuzz")
        case.headers["Idempotency-Key"] = f"{prefisso}-{next(_RICHIESTE)}-{chiave}"[:100]
    operatore = os.environ.get("ASIGEST_FUZZ_OPERATORE_ID")
    if (
        operatore
        and metodo == "post"
        and operation.path == "/api/lotti/{tipo}/"
        and isinstance(case.body, dict)
        and case.body.get("OperatoreID") is None
    ):
        # A caller that is not an OPERATORE names the operator of a new lotto (422
        # otherwise): the fuzzing run's seeded operator, when the body names none
        # (absent or null, which the document allows for an OPERATORE).
        case.body = {**case.body, "OperatoreID": int(operatore)}
    return case


def _disattivazione_dichiarata(delete_case, lettura) -> dict | None:
    """``x-disattivato`` of the document's link from the DELETE's 2xx answer to ``lettura``."""
    for status in ("200", "204"):
        risposta = delete_case.operation.responses.get(status)
        if risposta is None:
            continue
        for link in (risposta.definition.get("links") or {}).values():
            if link.get("operationId") == lettura.operation.definition.raw.get("operationId"):
                return link.get("x-disattivato")
    return None


@schemathesis.check
def uso_dopo_cancellazione(ctx, response, case):
    """``use_after_free``, except that a DELETE the document declares as a deactivation
    must leave the resource readable with the declared flag false."""
    try:
        return use_after_free(ctx, response, case)
    except UseAfterFree as failure:
        delete_case = next((c for c in ctx.internals.find_all_cases() if c.id == failure.deleted_case_id), None)
        atteso = _disattivazione_dichiarata(delete_case, case) if delete_case is not None else None
        if not atteso:
            raise
        try:
            corpo = response.json()
        except ValueError:
            raise failure from None
        if not isinstance(corpo, dict) or any(corpo.get(campo) != valore for campo, valore in atteso.items()):
            raise AssertionError(
                f"{failure.free} disattiva (x-disattivato {atteso}), ma {failure.usage} risponde {corpo!r}"
            ) from None
        return None
