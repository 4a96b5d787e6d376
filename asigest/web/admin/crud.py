"""The one shape of a master-data entity's admin pages (users, machines, scrap reasons,
phase types; API tokens use its row actions).

An entity is a subclass of ``Anagrafica`` (``ConModulo`` when it has a form) that says its names (address, endpoints,
templates), its form and its service calls; ``registra(bp)`` adds its routes to the
admin blueprint, each ``@requires(ADMIN)``, under the endpoint names the templates'
``url_for`` and the tests use. Every save takes the same steps (``invia``): the form
checks the shape, the service decides; a refusal goes back on the form next to its
field with what was typed (200 for htmx, so it swaps; else the refusal's status), and
a finished save answers ``HX-Redirect`` for htmx or a 303 — or, for a row edited in
place, the row itself. Two layouts:

- ``Righe``, small catalogs (scrap reasons, phase types): one page lists them with the
  form for a new one, and each row turns into its own form in place and back. Routes:
  the list (GET ``/x``), new (POST ``/x``), the row (GET ``/x/<id>``), the row as a
  form (GET ``/x/<id>/modifica``), save (POST ``/x/<id>``).
- ``Schede``, a page per record (machines, users): the list with the entity's filter
  (GET ``/x``; htmx gets the list only), new (GET/POST ``/x/nuova``), the record's form
  (GET/POST ``/x/<id>``, or POST only when the record's page is a view of its own).

Both have the row actions (``azioni``: POST ``/x/<id>/<azione>``, e.g. deactivate),
which answer htmx with the list row and a browser with a 303 and the outcome.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import make_response, redirect, render_template, url_for

from asigest.domain.ruoli import ADMIN
from asigest.errors import AsigestError, Conflict, InvalidInput, RuleViolation
from asigest.web.access import requires
from asigest.web.admin import errori_nel_form, fatto, pagina_o_frammento, stato_form_errato
from asigest.web.htmx import is_htmx, vary_on_htmx

# What the services answer a form they refuse; anything else goes to the error pages.
RIFIUTI: tuple[type[AsigestError], ...] = (InvalidInput, Conflict, RuleViolation)


@dataclass(frozen=True)
class Invio:
    """What became of a form: saved (``fatto``, with the service's answer) or not — not
    sent yet, or refused with the errors on the form — and the status to show it with."""

    fatto: bool
    risultato: Any = None
    status: int = 200


def invia(form, salva: Callable[[], Any], rifiuti: tuple[type[AsigestError], ...] = RIFIUTI) -> Invio:
    """Check ``form``'s shape and, when it is right, run ``salva()`` (one service call).

    A refusal among ``rifiuti`` goes on the form (``errori_nel_form``); a form not sent
    (GET) is shown with 200, one sent with shape errors with 422 (200 for htmx)."""
    if form.validate_on_submit():
        try:
            return Invio(True, salva())
        except rifiuti as error:
            return Invio(False, status=errori_nel_form(form, error))
    return Invio(False, status=stato_form_errato() if form.is_submitted() else 200)


class Anagrafica:
    """A master-data entity's admin routes: the names below, the service calls in the
    methods. This base registers only the row actions; ``Righe`` and ``Schede`` add the
    list, new and edit routes of their layout."""

    url: str  # the list's address in the blueprint, e.g. "/causali"
    elenco: str  # the list's endpoint, e.g. "causali"
    nome: str  # the stem of the record's endpoints: "causale" → causale_salva, causale_riga…
    id: str  # the record id's name in the URL, e.g. "causale_id"
    riga: str  # the list row's template
    variabile: str  # the record's name in the row template, e.g. "c"
    # Methods posted from a list row, each at <url>/<id>/<name>, endpoint <nome>_<name>:
    # ``metodo(record_id)`` → (record, message for the browser).
    azioni: tuple[str, ...] = ()
    rifiuti = RIFIUTI

    def dopo_azione(self, record_id: int) -> str:
        """Where a browser goes after a row action: the list."""
        return url_for("admin." + self.elenco)

    # -- routes ------------------------------------------------------------------------

    def registra(self, bp) -> None:
        """Add the entity's routes to ``bp``."""
        for azione in self.azioni:
            eseguire = getattr(self, azione)
            self._regola(
                bp,
                f"/<int:{self.id}>/{azione}",
                f"{self.nome}_{azione}",
                ["POST"],
                self._azione(eseguire),
                eseguire.__doc__,
            )

    def _regola(self, bp, percorso: str, endpoint: str, metodi: list[str], gestore: Callable, doc: str | None) -> None:
        def vista(**argomenti):
            return gestore(*argomenti.values())  # at most the record id

        vista.__name__ = vista.__qualname__ = endpoint
        vista.__doc__ = doc or gestore.__doc__
        bp.add_url_rule(self.url + percorso, endpoint, requires(ADMIN)(vista), methods=metodi)

    def _azione(self, eseguire: Callable[[int], tuple[Any, str]]) -> Callable[[int], Any]:
        def azione(record_id: int):
            record, messaggio = eseguire(record_id)
            if is_htmx():
                return self._riga(record)
            return fatto(self.dopo_azione(record_id), messaggio)

        return azione

    def _riga(self, record, *, status: int = 200, **contesto):
        """The list row alone (what htmx swaps in)."""
        html = render_template(self.riga, **{self.variabile: record}, **contesto)
        return vary_on_htmx(make_response(html, status))


class ConModulo(Anagrafica, ABC):
    """An entity created and edited through a form: what ``Righe`` and ``Schede`` need
    from each entity (an entity with row actions only, like API tokens, needs none of it,
    and an entity that forgets one cannot be instantiated)."""

    @abstractmethod
    def trova(self, record_id: int):
        """The record (raises NotFound)."""

    @abstractmethod
    def form(self, record=None):
        """The form for a new record (None) or for ``record``, with its choices filled."""

    @abstractmethod
    def crea(self, form):
        """Create the record from ``form`` through its service; returns it."""

    @abstractmethod
    def aggiorna(self, record_id: int, form):
        """Save ``form`` on the record through its service; returns the record."""

    @abstractmethod
    def creato(self, record) -> str:
        """The message shown after a create."""

    @abstractmethod
    def salvato(self, record) -> str:
        """The message shown after a save."""


class Righe(ConModulo):
    """A small catalog edited in its own list: each row turns into a form in place."""

    pagina: str  # the page: the list and the form for a new record
    nuova: str  # the new-record form (htmx swaps it alone)

    @abstractmethod
    def contesto_elenco(self) -> dict:
        """The records for the page, as the page's template names them."""

    def registra(self, bp) -> None:
        super().registra(bp)
        record = f"/<int:{self.id}>"
        self._regola(bp, "", self.elenco, ["GET"], self._elenco, None)
        self._regola(bp, "", f"{self.nome}_nuova", ["POST"], self._nuova, None)
        self._regola(bp, record, f"{self.nome}_riga", ["GET"], self._vista_riga, None)
        self._regola(bp, record + "/modifica", f"{self.nome}_modifica", ["GET"], self._modifica, None)
        self._regola(bp, record, f"{self.nome}_salva", ["POST"], self._salva, None)

    def _pagina(self, *, status: int = 200, nuova=None, modifica=None, form_modifica=None):
        """The whole page, optionally with the row ``modifica`` open as a form."""
        html = render_template(
            self.pagina,
            **self.contesto_elenco(),
            nuova=nuova or self.form(),
            modifica_id=modifica,
            form_modifica=form_modifica,
        )
        return vary_on_htmx(make_response(html, status))

    def _elenco(self):
        """The catalog, with the form for a new record; each row edits in place."""
        return self._pagina()

    def _nuova(self):
        """Add a record; htmx gets the form back while it is refused."""
        form = self.form()
        invio = invia(form, lambda: self.crea(form), self.rifiuti)
        if invio.fatto:
            return fatto(url_for("admin." + self.elenco), self.creato(invio.risultato))
        if is_htmx():
            return pagina_o_frammento(self.pagina, self.nuova, status=invio.status, form=form)
        return self._pagina(status=invio.status, nuova=form)

    def _vista_riga(self, record_id: int):
        """A record's list row (htmx: back from editing); a browser goes to the list."""
        record = self.trova(record_id)
        if not is_htmx():
            return vary_on_htmx(redirect(url_for("admin." + self.elenco)))
        return self._riga(record, form=None)

    def _modifica(self, record_id: int):
        """A record's row as a form (htmx), or the list with that row open."""
        record = self.trova(record_id)
        form = self.form(record)
        if is_htmx():
            return self._riga(record, form=form)
        return self._pagina(modifica=record.id, form_modifica=form)

    def _salva(self, record_id: int):
        """Save a record from its row; htmx gets the row back (or the row form with errors)."""
        record = self.trova(record_id)
        form = self.form(record)
        invio = invia(form, lambda: self.aggiorna(record_id, form), self.rifiuti)
        if invio.fatto:
            if is_htmx():
                return self._riga(invio.risultato, form=None)
            return fatto(url_for("admin." + self.elenco), self.salvato(invio.risultato))
        if is_htmx():
            return self._riga(record, status=invio.status, form=form)
        return self._pagina(status=invio.status, modifica=record.id, form_modifica=form)


class Schede(ConModulo):
    """An entity with a page per record: a filtered list, a page to add one, its form."""

    pagina: str  # the list page
    frammento: str  # the list alone (htmx answers to the filter)
    scheda: str  # a record's page (also for a new one)
    scheda_form: str  # the record's form alone (htmx swaps it)
    variabile_scheda: str  # the record's name on its page (None for a new one)
    nuova = "nuova"  # the new-record page's address and endpoint suffix
    # True when the record's page is a view of its own (users: data, PIN, password,
    # lock): the form then posts to <nome>_salva; otherwise <nome> shows and saves it.
    pagina_propria = False
    azioni = ("disattiva", "riattiva")

    @abstractmethod
    def filtro(self) -> dict:
        """The list's template context: the filter read from the query string, the records."""

    def contesto_scheda(self, record) -> dict:
        """What a record's page shows besides its form."""
        return {}

    def registra(self, bp) -> None:
        super().registra(bp)
        self._regola(bp, "", self.elenco, ["GET"], self._elenco, self.filtro.__doc__)
        self._regola(bp, "/" + self.nuova, f"{self.nome}_{self.nuova}", ["GET", "POST"], self._nuova, None)
        endpoint, metodi = (f"{self.nome}_salva", ["POST"]) if self.pagina_propria else (self.nome, ["GET", "POST"])
        self._regola(bp, f"/<int:{self.id}>", endpoint, metodi, self._modifica, None)

    def _elenco(self):
        return pagina_o_frammento(self.pagina, self.frammento, **self.filtro())

    def _nuova(self):
        """Add a record from its own page."""
        form = self.form()
        invio = invia(form, lambda: self.crea(form), self.rifiuti)
        if invio.fatto:
            return fatto(url_for("admin." + self.elenco), self.creato(invio.risultato))
        return pagina_o_frammento(
            self.scheda, self.scheda_form, status=invio.status, form=form, **{self.variabile_scheda: None}
        )

    def _modifica(self, record_id: int):
        """A record's form: shown, or saved (htmx gets the form back while it is refused)."""
        record = self.trova(record_id)
        form = self.form(record)
        invio = invia(form, lambda: self.aggiorna(record_id, form), self.rifiuti)
        if invio.fatto:
            return fatto(url_for("admin." + self.elenco), self.salvato(invio.risultato))
        return pagina_o_frammento(
            self.scheda,
            self.scheda_form,
            status=invio.status,
            form=form,
            **{self.variabile_scheda: record},
            **self.contesto_scheda(record),
        )
