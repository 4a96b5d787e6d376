"""The fuzzer stays in the suite (issue 12): schemathesis against the live OpenAPI document.

The demo plant (``flask --app wsgi demo``: 400 ERP orders, 40 configured, 9 machines, 15
people, ~1,900 lotti) is written to a throwaway database — SQLite, or PostgreSQL with
``ASIGEST_TEST_DATABASE_URL``, so ``make test`` fuzzes both — and served by gunicorn as
``make run`` serves it (2 workers × 4 threads). Schemathesis reads ``/api/openapi.json``
from that server and runs every phase — examples, coverage, fuzzing, stateful — with a
fixed seed and one client worker (``fuzz_api.toml``), so CI sees the same requests each
time: once with an OPERATORE token (what line software does; the rest must answer the
declared 403), then with an ADMIN token (every operation).

Every check runs (``--checks all``): no 5xx, only documented statuses, content types,
headers and bodies, negative data refused, positive data accepted, auth enforced… Two
things the document states but schemathesis cannot read are taught to it, not switched
off (``fuzz_hooks.py``): rules between parameters that OpenAPI 3.0 cannot write, and
the deactivation on DELETE of users and machines (a link with ``x-disattivato``).
A 400 for valid data is accepted only where the operation declares it (``fuzz_api.toml``).

Reproduce by hand against a running server (``make run`` on :5000, a token from
``flask --app wsgi token create --matricola admin``)::

    .venv/bin/schemathesis --config-file tests/e2e/fuzz_api.toml \\
        run http://127.0.0.1:5000/api/openapi.json -H "Authorization: Bearer $TOKEN" \\
        --checks all --exclude-checks use_after_free

``make test`` runs it with ``ASIGEST_FUZZ_ESEMPI`` (fewer generated cases per operation
in the fuzzing and stateful phases; the examples and coverage phases, where the hostile
boundary values come from, are whole): the suite's time budget. ``make fuzz`` runs the
full budget of ``fuzz_api.toml`` on both databases. ``ASIGEST_SKIP_FUZZ=1`` skips it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asigest.dialects import sqlite_readonly_url
from tests.server_fixture import ROOT, Gunicorn, Impianto, ambiente, database_usa_e_getta, richiesta

pytestmark = pytest.mark.skipif(os.environ.get("ASIGEST_SKIP_FUZZ") == "1", reason="ASIGEST_SKIP_FUZZ=1")

SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
CONFIG = Path(__file__).with_name("fuzz_api.toml")
PHASES = "examples,coverage,fuzzing,stateful"
_CASES = re.compile(r"(\d+) generated")


def _flask(env: dict, *args: str) -> str:
    result = subprocess.run(  # nosec B603 - fixed argument list, no shell
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"flask {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(port, {ruolo: token}, operator id) of the demo plant served by gunicorn."""
    cartella = tmp_path_factory.mktemp("fuzz")
    with database_usa_e_getta(cartella) as url:
        erp_url = sqlite_readonly_url(cartella / "erp-demo.db")
        env = ambiente(url, erp_url, cartella / "preparazione")
        _flask(env, "demo")
        tokens = {
            ruolo: _flask(env, "token", "create", "--matricola", matricola).splitlines()[-1]
            for ruolo, matricola in (("ADMIN", "admin"), ("OPERATORE", "1001"))
        }
        gunicorn = Gunicorn(Impianto(url, erp_url, [], [], [], []), cartella / "server", workers=2, threads=4)
        try:
            gunicorn.avvia()
            utenti = richiesta(
                gunicorn.porta, "GET", "/api/utenti/?q=1001", headers={"Authorization": f"Bearer {tokens['ADMIN']}"}
            ).json()
            yield gunicorn, tokens, utenti[0]["UtenteID"]
        finally:
            gunicorn.uccidi()


# Cases the full budget generates at least (``fuzz_api.toml``: about 4,000 to 5,400 a run);
# a reduced budget (``ASIGEST_FUZZ_ESEMPI``) still has the examples and coverage phases.
MINIMO_CASI_PIENO, MINIMO_CASI_RIDOTTO = 3000, 1500


def _esempi() -> int | None:
    valore = os.environ.get("ASIGEST_FUZZ_ESEMPI", "")
    return int(valore) if valore.isdigit() and int(valore) > 0 else None


def _configurazione(cartella: Path) -> Path:
    """``fuzz_api.toml``, or a copy with ``ASIGEST_FUZZ_ESEMPI`` cases per operation in the
    fuzzing and stateful phases."""
    esempi = _esempi()
    if esempi is None:
        return CONFIG
    testo = re.sub(r"(?m)^max-examples = \d+$", f"max-examples = {esempi}", CONFIG.read_text())
    copia = cartella / CONFIG.name
    copia.write_text(testo)
    return copia


def _schemathesis(
    porta: int, token: str, operatore_id: int | None, report: Path
) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASIGEST_")}
    env["ASIGEST_FUZZ_RUN"] = "operatore" if operatore_id is None else "admin"  # Idempotency-Keys of this run
    if operatore_id is not None:
        env["ASIGEST_FUZZ_OPERATORE_ID"] = str(operatore_id)
    cmd = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_configurazione(report.parent)),
        "--no-color",
        "run",
        f"http://127.0.0.1:{porta}/api/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--phases",
        PHASES,
        # Every check; use_after_free runs inside fuzz_hooks.uso_dopo_cancellazione.
        "--checks",
        "all",
        "--exclude-checks",
        "use_after_free",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    inizio = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)  # nosec B603
    return result, time.monotonic() - inizio


# The OPERATORE first: the ADMIN run deactivates users (DELETE /api/utenti/{id}), theirs included.
@pytest.mark.parametrize("ruolo", ["OPERATORE", "ADMIN"])
def test_the_fuzzer_finds_no_5xx_and_no_contract_violation(server, tmp_path, ruolo):
    gunicorn, tokens, operatore_id = server
    report = tmp_path / "schemathesis.ndjson"
    result, secondi = _schemathesis(gunicorn.porta, tokens[ruolo], operatore_id if ruolo == "ADMIN" else None, report)
    output = result.stdout + result.stderr
    casi = _CASES.search(output)
    database = (os.environ.get("ASIGEST_TEST_DATABASE_URL") or "sqlite").split(":")[0].split("+")[0]
    # The figures of the README's reliability section (pytest -s shows them).
    print(
        f"\nschemathesis {ruolo} [{database}]: {casi.group(1) if casi else '?'} richieste, {secondi:.0f} s, "
        f"uscita {result.returncode}"
    )
    assert result.returncode == 0, output[-20000:]  # the report names each failure and how to replay it
    # Not a vacuous pass: the token worked (a 403 is the OPERATORE's declared answer on
    # the supervisors' operations; a 401 would be a token refused) and every phase sent
    # its share.
    minimo = MINIMO_CASI_RIDOTTO if _esempi() is not None else MINIMO_CASI_PIENO
    assert casi and int(casi.group(1)) >= minimo, output[-5000:]
    assert "401 Unauthorized" not in output, output[-5000:]
    assert not gunicorn.errori_nel_log(), gunicorn.coda_log(80)
