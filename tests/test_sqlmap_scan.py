"""The sqlmap scan (``bench/sqlmap_scan.py``) as part of ``make test``: a throwaway
instance served over HTTP, every API parameter, page filter and login form probed for
SQL injection, nothing injectable. The canary first proves the scan sees an injection.

Runs once, in the SQLite pass (the statements are the same SQLAlchemy ones on every
database; sqlmap is told the instance is SQLite). ``ASIGEST_SKIP_SQLMAP=1`` skips it
when a quick run is wanted. ``ASIGEST_SQLMAP_LEVEL`` sets sqlmap's level for the targets
that do not fix their own (the script's default, 2, when unset): ``make test`` scans at
sqlmap's own default, 1 (every target and parameter, fewer payloads each), and ``make
scan`` — which CI runs after ``make test`` — at 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "sqlmap_scan.py"

pytestmark = [
    pytest.mark.una_volta,
    pytest.mark.skipif(os.environ.get("ASIGEST_SKIP_SQLMAP") == "1", reason="ASIGEST_SKIP_SQLMAP=1"),
]


def _run(*args: str, timeout: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASIGEST_")}
    return subprocess.run(  # nosec B603 - fixed argument list, no shell
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_scan_sees_a_deliberate_injection():
    result = _run("--canary", timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INIETTABILE: nome" in result.stdout


def test_nothing_is_injectable():
    livello = os.environ.get("ASIGEST_SQLMAP_LEVEL")
    result = _run(*(["--level", livello] if livello else []), timeout=900)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "RISULTATO: niente di iniettabile" in result.stdout, report
    # Every target was really probed: the API, the page filters and both login forms.
    for target in (
        "api commesse ricerca",
        "api lotti filtri",
        "api dashboard kpi",
        "api avanzamento",
        "api documenti per commessa",
        "api documenti per articolo",
        "api commessa per ID",
        "api apri lotto (JSON)",
        "registro lotti",
        "login ufficio",
        "login terminale",
    ):
        line = next((riga for riga in result.stdout.splitlines() if riga.startswith(f"- {target} ")), "")
        assert line.endswith("→ OK") and "parametri: -" not in line, f"{target}: {line or 'assente'}\n{report}"
