"""The release wheel (``make dist``): ``asigest`` with its rules and license core compiled.

- Every module of ``asigest/domain`` (the business rules R1–R14 and the license check,
  whose vendor public key is part of ``domain/licenza.py``) and ``services/licenza.py``
  (reading the installed license) are compiled by mypyc to native extension modules;
  the wheel carries no ``.py`` source for them. Why mypyc:
  docs/decisioni/2026-12-07-nucleo-compilato.md.
- ``templates/``, ``static/`` and ``migrations/`` live at the top of the checkout; they
  are copied into the package (``asigest/templates`` …), where ``create_app`` looks
  first, and the compiled message catalogs (``.mo``, built by ``make dist``) come along.
- The dependencies are requirements.txt's pinned lines (one list to update).

Metadata and the version are in pyproject.toml (the version itself in asigest/__init__.py).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mypyc.build import mypycify
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

RADICE = Path(__file__).resolve().parent
# The package's __init__.py is empty and stays Python (a plain package directory). The
# service that reads the installed license file and verifies it is compiled too, so the
# whole path from the file to its state is native code.
COMPILATI = sorted(
    p.relative_to(RADICE).as_posix() for p in (RADICE / "asigest" / "domain").glob("*.py") if p.name != "__init__.py"
) + ["asigest/services/licenza.py"]
MODULI_COMPILATI = {p.removesuffix(".py").replace("/", ".") for p in COMPILATI}
RISORSE = ("templates", "static", "migrations")


def _dipendenze() -> list[str]:
    righe = []
    for riga in (RADICE / "requirements.txt").read_text().splitlines():
        riga = riga.split(" #", 1)[0].strip()
        if riga and not riga.startswith("#"):
            righe.append(riga)
    return righe


class BuildPy(build_py):
    """Leave out the sources of compiled modules; copy the top-level resources in."""

    def find_package_modules(self, package, package_dir):
        moduli = super().find_package_modules(package, package_dir)
        return [(pkg, mod, file) for pkg, mod, file in moduli if f"{pkg}.{mod}" not in MODULI_COMPILATI]

    def run(self):
        super().run()
        for nome in RISORSE:
            destinazione = Path(self.build_lib) / "asigest" / nome
            shutil.rmtree(destinazione, ignore_errors=True)
            shutil.copytree(RADICE / nome, destinazione, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


# pip runs this file three times (build requirements, metadata, the wheel): only the
# commands that build need mypyc's type check and C code, which take most of the time.
COSTRUISCE = {"bdist_wheel", "build", "build_ext", "build_py", "install", "editable_wheel", "develop"} & set(sys.argv)

setup(
    packages=find_packages(include=["asigest", "asigest.*"]),
    package_data={"asigest": ["translations/*/LC_MESSAGES/*.mo"]},
    install_requires=_dipendenze(),
    ext_modules=mypycify(COMPILATI, opt_level="3") if COSTRUISCE else [],
    cmdclass={"build_py": BuildPy},
    zip_safe=False,
)
