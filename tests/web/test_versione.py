"""The version (asigest/__init__.py, the one place it is written) in /health, the OpenAPI
document, the page footer and the package metadata (pyproject.toml reads it); CHANGELOG.md
has a section for it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from asigest import __version__

RADICE = Path(__file__).resolve().parents[2]


def test_version_is_semver_and_one_place():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    pyproject = tomllib.loads((RADICE / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"], "la versione si scrive solo in asigest/__init__.py"
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "asigest.__version__"}


def test_changelog_has_this_release():
    changelog = (RADICE / "CHANGELOG.md").read_text()
    sezioni = re.findall(r"^## \[?(\d+\.\d+\.\d+)\]?", changelog, re.M)
    assert sezioni and sezioni[0] == __version__, sezioni


def test_version_in_health_openapi_and_footer(client, login):
    assert client.get("/health").get_json()["version"] == __version__
    assert client.get("/api/openapi.json").get_json()["info"]["version"] == __version__
    assert f'<footer class="piede">ASI-GEST {__version__}' in client.get("/login").get_data(as_text=True)
    login()
    assert f"ASI-GEST {__version__}" in client.get("/dashboard").get_data(as_text=True)
