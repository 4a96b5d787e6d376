"""Pages leave no reference cycle behind (asigest/web/modelli.py): what a view passes to a
template with macros is freed when the page is written, not by the garbage collector."""

from __future__ import annotations

import gc
import weakref

from jinja2 import DictLoader, Environment, Template

from asigest.web.modelli import ModelloSenzaCicli

MODELLI = {
    "pagina.html": "<h1>{{ titolo }}</h1>{% include '_pezzo.html' %}",
    "_pezzo.html": (
        "{% macro riga(x) %}<li>{{ x.nome }} · {{ titolo }}</li>{% endmacro %}"
        "<ul>{% for x in voci %}{{ riga(x) }}{% endfor %}</ul>"
        "{% if rotto %}{{ rotto.esplode() }}{% endif %}"
    ),
}


class Voce:
    nome = "voce"


class Rotto:
    def esplode(self):
        raise ValueError("rotto")


def _ambiente(classe: type[Template]) -> Environment:
    ambiente = Environment(loader=DictLoader(MODELLI), autoescape=True)
    ambiente.template_class = classe
    return ambiente


def _vive_dopo(classe: type[Template], **altro) -> tuple[str | None, bool]:
    """(the page, or None when it raised; whether what it was given outlives it without a collection)"""
    voce = Voce()
    vivo = weakref.ref(voce)
    ambiente = _ambiente(classe)
    gc.collect()
    gc.disable()
    try:
        try:
            pagina = ambiente.get_template("pagina.html").render(titolo="T", voci=[voce], **altro)
        except ValueError:
            pagina = None
        del voce
        return pagina, vivo() is not None
    finally:
        gc.enable()


def test_jinja_alone_keeps_a_page_with_macros_in_a_cycle():
    """The control: without ModelloSenzaCicli the page's objects wait for the collector."""
    pagina, vivo = _vive_dopo(Template)
    assert pagina == "<h1>T</h1><ul><li>voce · T</li></ul>"
    assert vivo


def test_a_page_frees_what_it_was_given_when_written():
    pagina, vivo = _vive_dopo(ModelloSenzaCicli)
    assert pagina == "<h1>T</h1><ul><li>voce · T</li></ul>"
    assert not vivo


def test_after_a_page_that_fails_the_next_one_renders_and_is_freed():
    """(The failed page's objects stay with its traceback until the collector: errors are rare.)"""
    pagina, _ = _vive_dopo(ModelloSenzaCicli, rotto=Rotto())
    assert pagina is None
    pagina, vivo = _vive_dopo(ModelloSenzaCicli)
    assert pagina == "<h1>T</h1><ul><li>voce · T</li></ul>"
    assert not vivo


def test_a_page_rendered_inside_another_renders_whole():
    """A template rendered while another renders (a filter, a helper) is emptied with the outer page."""
    ambiente = _ambiente(ModelloSenzaCicli)
    interna = ambiente.from_string("{% macro b(x) %}[{{ x }}]{% endmacro %}{{ b(v) }}")
    ambiente.globals["interna"] = lambda v: interna.render(v=v)
    esterna = ambiente.from_string("{% macro a(x) %}<{{ interna(x) }}>{% endmacro %}{{ a(1) }}{{ a(2) }}")
    assert esterna.render() == "<[1]><[2]>"


def test_an_imported_templates_macros_keep_working_on_later_pages():
    """Jinja keeps an imported template's module (``{% from … import %}``) for later pages:
    its context is not emptied with the page that first imported it."""
    ambiente = Environment(
        loader=DictLoader(
            {
                "_lib.html": (
                    "{% set pre = 'P' %}{% macro b(x) %}<b>{{ pre }}{{ x }}</b>{% endmacro %}"
                    "{% macro a(x) %}<a>{{ b(x) }}{% include '_dentro.html' %}</a>{% endmacro %}"
                ),
                "_dentro.html": "({{ pre }})",
                "p.html": "{% from '_lib.html' import a %}{{ a(1) }}",
            }
        ),
        autoescape=True,
    )
    ambiente.template_class = ModelloSenzaCicli
    for _ in range(3):
        assert ambiente.get_template("p.html").render() == "<a><b>P1</b>(P)</a>"


def test_the_app_renders_its_pages_with_it(tmp_path):
    from asigest import create_app

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})
    assert app.jinja_env.template_class is ModelloSenzaCicli
