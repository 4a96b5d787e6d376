"""docs/deploy.md says only what is true: every ``flask --app wsgi …`` command and option
it names exists in the app's CLI, every ``ASIGEST_*`` variable it names is a real
setting and every setting is described, and the proxy's upload limit lets the largest
document through."""

from __future__ import annotations

import re

import click
import pytest

from asigest import PROJECT_ROOT, config

DOC = PROJECT_ROOT / "docs" / "deploy.md"
# "flask --app wsgi X" and the Linux wrapper "asigest-flask [--owner] X", up to the end
# of the inline code or line; the wrapper's own script passes "$@" on.
_COMMAND = re.compile(r'(?:flask --app wsgi|asigest-flask(?: --owner)?) (?!"\$@")(?=\w)([^`\n]*)')
_WORD = re.compile(r"^[a-z][a-z-]*$")


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> click.Group:
    from asigest import create_app

    return create_app({"INSTANCE_PATH": tmp_path_factory.mktemp("doc"), "SECRET_KEY": "x"}).cli


def named_commands(doc: str) -> list[tuple[list[str], list[str]]]:
    """``[(command words, --options), …]`` for every command line in the document."""
    found = []
    for rest in _COMMAND.findall(doc):
        tokens = rest.replace("[", " ").replace("]", " ").split()
        words = []
        for token in tokens:
            if not _WORD.match(token):
                break
            words.append(token)
        options = [t.split("=")[0] for t in tokens if t.startswith("--")]
        found.append((words, options))
    return found


def resolve(cli: click.Group, words: list[str]) -> click.Command:
    command = cli
    for word in words:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
    return command


def test_the_doc_names_commands(doc):
    names = {" ".join(words) for words, _ in named_commands(doc)}
    assert {"init", "demo", "user create", "backup", "license show", "db upgrade"} <= names


def test_every_command_in_the_doc_exists_with_its_options(doc, cli):
    wrong = []
    for words, options in named_commands(doc):
        command = resolve(cli, words)
        if command is cli or isinstance(command, click.Group):
            wrong.append(f"{' '.join(words)}: comando inesistente o incompleto")
            continue
        known = {opt for param in command.params for opt in param.opts}
        wrong += [f"{' '.join(words)} {option}: opzione inesistente" for option in options if option not in known]
    assert wrong == []


def _settings() -> set[str]:
    return set(config._ENV_SETTINGS) | {"ASIGEST_INSTANCE_PATH"}  # the latter is read by create_app


def test_every_variable_in_the_doc_is_a_setting(doc):
    assert set(re.findall(r"\bASIGEST_[A-Z_]+[A-Z]", doc)) - _settings() == set()


def test_every_setting_is_in_the_doc(doc):
    assert _settings() - set(re.findall(r"\bASIGEST_[A-Z_]+[A-Z]", doc)) == set()


def test_instance_file_keys_in_the_doc_are_settings(doc):
    keys = {key for key, _ in config._ENV_SETTINGS.values()} | set(config.DEFAULTS) | {"LOG_LEVEL"}
    named = set(re.findall(r"^\s*([A-Z][A-Z_]+) = ", doc, re.M))
    assert named and named <= keys


def test_proxy_upload_limit_lets_the_largest_document_through(doc):
    limits = [int(n) * 1024 * 1024 for n in re.findall(r"client_max_body_size (\d+)m;", doc)]
    needed = config.DEFAULTS["DOCUMENT_MAX_BYTES"] + config.MULTIPART_MARGIN
    assert limits and all(limit >= needed for limit in limits)


def test_the_readme_links_the_guide():
    assert "docs/deploy.md" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
