"""Static security check: bandit over ``asigest/`` at medium severity and up (``-ll``)
must find nothing. A false positive is silenced only by a targeted ``# nosec BXXX``
with its reason on the same line (checked below), never by a global skip.

Database-independent, so it runs in the SQLite pass only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A static check: it runs once, in the SQLite pass.
pytestmark = pytest.mark.una_volta


def _bandit() -> str:
    found = Path(sys.executable).with_name("bandit")
    if found.exists():
        return str(found)
    found = shutil.which("bandit")
    if not found:
        pytest.fail("bandit non installato: pip install -r requirements-dev.txt")
    return found


def test_bandit_finds_nothing_of_medium_severity_or_above():
    result = subprocess.run(  # nosec B603 - fixed argument list, no shell
        [_bandit(), "--ini", ".bandit", "-r", "asigest", "-ll", "-q", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["errors"] == [], report["errors"]
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_severity']}: {r['issue_text']}"
        for r in report["results"]
    ]
    assert findings == [], "bandit:\n" + "\n".join(findings)
    assert report["metrics"]["_totals"]["loc"] > 5000  # it really read the package
    assert result.returncode == 0


def test_every_nosec_names_its_check_and_reason():
    loose = []
    for path in (ROOT / "asigest").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "nosec" in line and not re.search(r"#\s*nosec\s+B\d{3}(,\s*B\d{3})*\s+\S.{8,}", line):
                loose.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert loose == [], "usare '# nosec BXXX - motivo':\n" + "\n".join(loose)
