"""The release wheel as a customer gets it (``make test-dist``, after ``make dist``).

``installazione`` makes a fresh virtualenv in a temporary folder, installs
``dist/asigest-*.whl`` into it with pip (its pinned dependencies, plus pytest to run the
unit tests there) and hands the tests its paths. Nothing of the checkout is on that
interpreter's path: what runs is the installed package, compiled modules included.

These tests are collected only when ``ASIGEST_TEST_DIST=1`` (``make test-dist`` sets it):
``make test`` runs on the checkout and never builds a wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

RADICE = Path(__file__).resolve().parents[2]
PYTEST = "pytest==9.2.0"  # as requirements-dev.txt


@dataclass(frozen=True)
class Installazione:
    venv: Path
    pacchetto: Path  # site-packages/asigest
    site_packages: Path

    def bin(self, nome: str) -> str:
        return str(self.venv / "bin" / nome)

    def ambiente(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """This environment without ASI-GEST's settings or Python's paths, plus ``env``."""
        ambiente = {k: v for k, v in os.environ.items() if not k.startswith(("ASIGEST_", "PYTHON"))}
        ambiente.update(env or {})
        return ambiente

    def esegui(self, *argomenti: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
        """Run a command of the venv in ``cwd`` (never the checkout); returns CompletedProcess."""
        return subprocess.run(
            argomenti, cwd=cwd, env=self.ambiente(env), capture_output=True, text=True, timeout=timeout, check=False
        )


def ruota() -> Path:
    ruote = sorted((RADICE / "dist").glob("asigest-*.whl"))
    if len(ruote) != 1:
        pytest.fail(f"serve esattamente una ruota in dist/ (trovate: {[r.name for r in ruote]}): eseguire make dist")
    return ruote[0]


@pytest.fixture(scope="session")
def installazione(tmp_path_factory) -> Installazione:
    cartella = tmp_path_factory.mktemp("venv-ruota")
    venv = cartella / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installa = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ruota()), PYTEST],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installa.returncode == 0, installa.stderr[-3000:]
    site_packages = next((venv / "lib").glob("python3.*/site-packages"))
    return Installazione(venv=venv, pacchetto=site_packages / "asigest", site_packages=site_packages)
