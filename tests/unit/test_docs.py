"""README.md and every document under docs/ name only what exists: each relative link and
anchor resolves to a file (and heading) in the repository, each image is a PNG that
``make screenshots`` retakes, each ``flask --app wsgi …`` command and option is in the
CLI, each ``make`` target and variable is in the Makefile, and each ``ASIGEST_*`` name
is a setting (or a variable the tests and benchmarks read). Nothing points outside the
repository, every document is reachable from the README, and the README stays a front
door (at most 150 lines).

docs/deploy.md has its own further checks in ``test_deploy_doc.py``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import click
import pytest

from asigest import PROJECT_ROOT, config
from tests.unit.test_deploy_doc import named_commands, resolve

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
IMG = DOCS / "img"
MAKEFILE = PROJECT_ROOT / "Makefile"
E2E = PROJECT_ROOT / "tests" / "e2e"

_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_SETTING = re.compile(r"\bASIGEST_[A-Z0-9_]*[A-Z0-9]")
_MAKE = re.compile(r"\bmake ((?:[a-z][a-z0-9-]*)(?: [A-Z_]+=\S*)*)")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _rel(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


@cache
def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code: where links are links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def code(markdown: str) -> str:
    """Fenced blocks and inline code spans: where commands are written."""
    blocks = [m.group(0) for m in _FENCE.finditer(markdown)]
    spans = _INLINE_CODE.findall(_FENCE.sub("", markdown))
    return "\n".join(blocks + spans)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped (letters
    with accents kept), spaces to hyphens."""
    plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    plain = plain.replace("`", "").lower()
    plain = re.sub(r"[^\w\- ]", "", plain)
    return plain.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every heading's anchor in ``path``; repeated headings get -1, -2… as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for _, title in _HEADING.findall(_FENCE.sub("", text(path))):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return frozenset(found)


def links(path: Path) -> list[tuple[bool, str]]:
    """``(is_image, target)`` for every inline link and image of ``path``."""
    return [(bang == "!", target) for bang, _, target in _LINK.findall(prose(text(path)))]


def _external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target) is not None


def _target(path: Path, target: str) -> tuple[Path, str]:
    file_part, _, anchor = target.partition("#")
    return ((path.parent / file_part).resolve() if file_part else path), anchor


# -- the documents are there ---------------------------------------------------------


def test_the_documents_are_there():
    names = {_rel(p) for p in documents()}
    assert {
        "README.md",
        "docs/guida-operatore.md",
        "docs/guida-supervisore.md",
        "docs/api.md",
        "docs/architettura.md",
        "docs/decisioni/README.md",
        "docs/deploy.md",
        "docs/sicurezza.md",
        "docs/affidabilita.md",
        "docs/benchmark.md",
    } <= names
    assert len(list((DOCS / "decisioni").glob("20??-??-??-*.md"))) >= 20


def test_the_readme_is_a_front_door():
    assert len(text(README).splitlines()) <= 150


def test_slug_matches_github_on_the_headings_the_docs_link():
    assert slug("6. Linux: gunicorn + systemd + nginx") == "6-linux-gunicorn--systemd--nginx"
    assert slug("Uscire e blocco per inattività") == "uscire-e-blocco-per-inattività"
    assert slug("Business rules R1–R13") == "business-rules-r1r13"
    assert slug("The `flask` commands") == "the-flask-commands"


# -- links, anchors, images ------------------------------------------------------------


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_every_relative_link_and_anchor_resolves(path):
    wrong = []
    for _, target in links(path):
        if _external(target):
            continue
        file, anchor = _target(path, target)
        if not file.is_relative_to(PROJECT_ROOT):
            wrong.append(f"{target}: fuori dal repository")
        elif not file.exists():
            wrong.append(f"{target}: file inesistente")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            wrong.append(f"{target}: titolo #{anchor} inesistente in {_rel(file)}")
    assert wrong == []


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_nothing_points_outside_the_repository(path):
    assert "../shared" not in text(path)
    assert [t for _, t in links(path) if _external(t) and t.startswith("file:")] == []


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_every_image_is_a_screenshot_in_docs_img(path):
    for is_image, target in links(path):
        if not is_image:
            continue
        file, _ = _target(path, target)
        assert file.parent == IMG and file.suffix == ".png", target
        assert file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", target


def _screenshots_taken() -> set[str]:
    """The names ``foto_guida(driver, "…")`` saves in the browser tests."""
    found = set()
    for source in E2E.glob("*.py"):
        found |= set(re.findall(r"foto_guida\(\s*\w+,\s*\"([a-z0-9-]+)\"", source.read_text(encoding="utf-8")))
    return found


def test_every_screenshot_is_taken_by_the_browser_tests_and_used():
    """``make screenshots`` retakes every picture, and none lies around unused."""
    files = {p.stem for p in IMG.glob("*.png")}
    used = {Path(t).stem for p in documents() for is_image, t in links(p) if is_image}
    assert files == _screenshots_taken()
    assert files - used == set()


def test_every_document_is_reachable_from_the_readme():
    assert {p.resolve() for p in documents()} - _reachable() == set()


def _reachable() -> set[Path]:
    reached, todo = {README.resolve()}, [README.resolve()]
    while todo:
        path = todo.pop()
        for _, target in links(path):
            if _external(target):
                continue
            file, _ = _target(path, target)
            if file.suffix == ".md" and file.exists() and file not in reached:
                reached.add(file)
                todo.append(file)
    return reached


# -- commands, make targets, settings ------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> click.Group:
    from asigest import create_app

    return create_app({"INSTANCE_PATH": tmp_path_factory.mktemp("docs"), "SECRET_KEY": "x"}).cli


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_every_flask_command_exists_with_its_options(path, cli):
    wrong = []
    for words, options in named_commands(text(path)):
        command = resolve(cli, words)
        if command is cli or isinstance(command, click.Group):
            wrong.append(f"{' '.join(words)}: comando inesistente o incompleto")
            continue
        known = {opt for param in command.params for opt in param.opts}
        wrong += [f"{' '.join(words)} {option}: opzione inesistente" for option in options if option not in known]
    assert wrong == []


def test_the_guides_name_the_commands_people_run():
    named = {" ".join(w) for p in documents() for w, _ in named_commands(text(p))}
    assert {"init", "demo", "token create", "backup", "license show"} <= named


def _makefile() -> tuple[set[str], set[str]]:
    """The Makefile's targets and its variables."""
    source = text(MAKEFILE)
    targets = set(re.findall(r"^([a-z][a-z0-9-]*)\s*:(?!=)", source, re.M))
    variables = set(re.findall(r"^([A-Z_]+)\s*[?:]?=", source, re.M))
    return targets, variables


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_every_make_target_and_variable_exists(path):
    targets, variables = _makefile()
    wrong = []
    for call in _MAKE.findall(code(text(path))):
        target, *assignments = call.split()
        if target not in targets:
            wrong.append(f"make {target}: target inesistente")
        wrong += [f"make {target} {a}: variabile inesistente" for a in assignments if a.split("=")[0] not in variables]
    assert wrong == []


def test_the_readme_names_the_two_commands_and_the_lan_one():
    targets, _ = _makefile()
    found = set(_MAKE.findall(code(text(README))))
    assert {"run", "test", "run HOST=0.0.0.0 PORT=8080"} <= found and {"run", "test"} <= targets


def _read_elsewhere(name: str) -> bool:
    """A variable that is not a setting but that the tests, benchmarks, Makefile or CI read."""
    places = [
        MAKEFILE,
        PROJECT_ROOT / ".ci" / "run",
        *PROJECT_ROOT.glob("tests/**/*.py"),
        *PROJECT_ROOT.glob("bench/*.py"),
    ]
    return any(name in p.read_text(encoding="utf-8") for p in places if p.exists() and p != Path(__file__))


@pytest.mark.parametrize("path", documents(), ids=_rel)
def test_every_asigest_variable_exists(path):
    settings = set(config._ENV_SETTINGS) | {"ASIGEST_INSTANCE_PATH"}  # the latter is read by create_app
    unknown = {name for name in _SETTING.findall(text(path)) if name not in settings and not _read_elsewhere(name)}
    assert unknown == set()
