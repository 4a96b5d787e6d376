"""The admin CRUD helper (``web/admin/crud.py``): an entity's missing piece is found when
the app starts, not by the first click on the page that needed it."""

from __future__ import annotations

import pytest

from asigest.web.admin.crud import Anagrafica, Righe, Schede


def test_an_entity_with_a_form_missing_a_method_cannot_be_built():
    class SenzaCreato(Righe):
        def trova(self, record_id):
            return None

        def form(self, record=None):
            return None

        def crea(self, form):
            return None

        def aggiorna(self, record_id, form):
            return None

        def salvato(self, record):
            return ""

        def contesto_elenco(self):
            return {}

    with pytest.raises(TypeError, match="creato"):
        SenzaCreato()

    class SenzaFiltro(Schede):
        trova = form = crea = aggiorna = creato = salvato = SenzaCreato.trova

    with pytest.raises(TypeError, match="filtro"):
        SenzaFiltro()


def test_an_entity_with_row_actions_only_needs_no_form():
    class SoloAzioni(Anagrafica):
        azioni = ("revoca",)

        def revoca(self, record_id):
            return None, ""

    SoloAzioni()
