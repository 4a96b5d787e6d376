"""Which way the imports go among the use cases (STYLE.md: web → services → domain, models,
erp): the demo generator (``asigest/demo/``) is a client of the services, never used by
them, and no two service modules import each other, not even through a third. Read from
the source, so an import inside a function counts too: it is the same dependency, made later."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asigest import PROJECT_ROOT

ASIGEST = PROJECT_ROOT / "asigest"


def nome_modulo(path: Path, radice: Path = PROJECT_ROOT) -> str:
    """``asigest/services/drift.py`` → ``asigest.services.drift`` (a package: its folder)."""
    parti = path.relative_to(radice).with_suffix("").parts
    return ".".join(parti[:-1] if parti[-1] == "__init__" else parti)


def importati(path: Path, radice: Path = PROJECT_ROOT) -> set[str]:
    """Every module name an import anywhere in ``path`` may name, relative ones resolved:
    ``import a.b`` → a.b; ``from a import b`` → a and a.b (``b`` may be a module)."""
    modulo = nome_modulo(path, radice)
    pacchetto = modulo if path.name == "__init__.py" else modulo.rpartition(".")[0]
    nomi: set[str] = set()
    for nodo in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(nodo, ast.Import):
            nomi.update(alias.name for alias in nodo.names)
        elif isinstance(nodo, ast.ImportFrom):
            base = nodo.module or ""
            if nodo.level:
                parti = pacchetto.split(".")[: len(pacchetto.split(".")) - (nodo.level - 1)]
                base = ".".join([*parti, base] if base else parti)
            nomi.add(base)
            nomi.update(f"{base}.{alias.name}" for alias in nodo.names)
    return nomi


def grafo(cartella: Path) -> dict[str, set[str]]:
    """``{module: the modules of the same folder it imports}`` for every module under ``cartella``."""
    moduli = {nome_modulo(p): p for p in cartella.rglob("*.py")}
    return {nome: (importati(p) & moduli.keys()) - {nome} for nome, p in moduli.items()}


def un_ciclo(archi: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph as ``[a, b, …, a]``, or None."""
    stato: dict[str, str] = {}
    pila: list[str] = []

    def visita(nodo: str) -> list[str] | None:
        stato[nodo] = "aperto"
        pila.append(nodo)
        for vicino in sorted(archi.get(nodo, ())):
            if stato.get(vicino) == "aperto":
                return pila[pila.index(vicino) :] + [vicino]
            if vicino not in stato and (ciclo := visita(vicino)):
                return ciclo
        stato[nodo] = "chiuso"
        pila.pop()
        return None

    for nodo in sorted(archi):
        if nodo not in stato and (ciclo := visita(nodo)):
            return ciclo
    return None


def test_the_reader_sees_every_form_of_import(tmp_path):
    """The checks below would see a dependency however it is written."""
    pacchetto = tmp_path / "asigest" / "services"
    pacchetto.mkdir(parents=True)
    modulo = pacchetto / "esempio.py"
    modulo.write_text(
        "import asigest.demo.erp\nfrom asigest import demo\nfrom . import drift\nfrom ..domain import stati\n"
        "def f():\n    from asigest.services.commesse import chunked\n",
        encoding="utf-8",
    )
    assert {
        "asigest.demo.erp",
        "asigest.demo",
        "asigest.services.drift",
        "asigest.domain.stati",
        "asigest.services.commesse",
    } <= importati(modulo, tmp_path)
    assert un_ciclo({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert un_ciclo({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_services_never_import_the_demo():
    assert (ASIGEST / "demo" / "__init__.py").exists()  # what the check below names is real
    servizi = sorted((ASIGEST / "services").rglob("*.py"))
    assert len(servizi) > 20
    usano_demo = {
        nome_modulo(p): sorted(n for n in importati(p) if n == "asigest.demo" or n.startswith("asigest.demo."))
        for p in servizi
    }
    assert not {nome: nomi for nome, nomi in usano_demo.items() if nomi}


def test_commesse_and_drift_do_not_import_each_other():
    """The order card shows its drift (commesse → drift); drift needs nothing of commesse."""
    servizi = grafo(ASIGEST / "services")
    assert "asigest.services.drift" in servizi["asigest.services.commesse"]
    assert "asigest.services.commesse" not in servizi["asigest.services.drift"]


@pytest.mark.parametrize("cartella", ["services", "domain"])
def test_modules_import_one_way(cartella):
    """No import cycle among the modules of ``asigest/<cartella>``."""
    assert un_ciclo(grafo(ASIGEST / cartella)) is None
