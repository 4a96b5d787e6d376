"""Templates whose rendering leaves no reference cycle behind (issue 16).

A template that defines a ``{% macro %}`` puts in its render context a ``Macro`` whose
function refers back to that context: context, macro and everything the view passed to
the template (a register page: its 50 rows, the 300 operators of the filter, the ERP's
orders…) then form a cycle, freed not when the page is written but only by Python's
cyclic garbage collector. Measured on ``/lotti``: ~560 objects a request left to the
collector, a young collection every ~25 requests that took 5–25 ms to free them.

Here every context made while a page renders (the page's, and each ``{% include %}``'s;
not an imported template's module, which Jinja keeps for later pages) is emptied once
the page is written: the cycle is broken, so reference counting frees
the page's objects at once and the collector has nothing of it to find. Rendering
itself is Jinja's own; only what happens after the last byte changes.
"""

from __future__ import annotations

import threading
from typing import Any

from jinja2 import Template
from jinja2.environment import TemplateModule
from jinja2.runtime import Context

_in_corso = threading.local()  # the contexts of the page this thread is rendering


class ModelloSenzaCicli(Template):
    """``jinja2.Template`` that empties its render contexts once the page is written."""

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Any = None,
    ) -> Context:
        contesto = super().new_context(vars, shared, locals)
        contesti: list[Context] | None = getattr(_in_corso, "contesti", None)
        if contesti is not None:
            contesti.append(contesto)
        return contesto

    def make_module(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Any = None,
    ) -> TemplateModule:
        """As Jinja's, with a context that is never emptied: an ``{% import %}``-ed
        template's module (its macros) is kept and reused by later pages."""
        return TemplateModule(self, Template.new_context(self, vars, shared, locals))

    def render(self, *args: Any, **kwargs: Any) -> str:
        if getattr(_in_corso, "contesti", None) is not None:
            return super().render(*args, **kwargs)  # a page rendered inside another: the outer one empties
        _in_corso.contesti = []
        try:
            return super().render(*args, **kwargs)
        finally:
            contesti, _in_corso.contesti = _in_corso.contesti, None
            for contesto in contesti:
                contesto.vars.clear()
                contesto.exported_vars.clear()


def init_app(app) -> None:
    """Before any template is loaded (templates are compiled with the class set here)."""
    app.jinja_env.template_class = ModelloSenzaCicli
