"""Admin pages for the plant's catalog: machines, scrap reasons, phase types.

Machines have a page per record; scrap reasons and phase types are small, so each list
row turns into its own form in place (htmx) and back. The routes are those of
``crud.Schede`` and ``crud.Righe``; this module says the names and the service calls.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext
from wtforms.fields.choices import SelectChoice

from asigest.domain.oee import CATEGORIE_FERMO
from asigest.errors import InvalidInput
from asigest.services import anagrafiche as anagrafiche_service
from asigest.services import fermi as fermi_service
from asigest.web import deps
from asigest.web.admin import LIMITE_ELENCO, bp, testo, tipi_documento
from asigest.web.admin.crud import Righe, Schede
from asigest.web.admin.forms import CausaleFermoForm, CausaleForm, FaseTipoForm, MacchinaForm


def _scelte_fase(form_field, *, qualsiasi: bool = False, attuale: str | None = None) -> None:
    """Fill a phase-type select with the active types (plus the current one, even if retired)."""
    tipi = anagrafiche_service.list_fasi_tipo(deps.session())
    scelte = [SelectChoice("", gettext("Qualsiasi fase") if qualsiasi else gettext("— scegliere —"))]
    scelte += [SelectChoice(t.codice, f"{t.codice} · {t.descrizione}") for t in tipi if t.attivo or t.codice == attuale]
    form_field.choices = scelte


class Macchine(Schede):
    """Machines: code, phase type, department; a list filtered by phase type and state."""

    url, elenco, nome, id = "/macchine", "macchine", "macchina", "macchina_id"
    pagina, frammento, riga, variabile = (
        "admin/macchine.html",
        "admin/_macchine_elenco.html",
        "admin/_macchina_riga.html",
        "m",
    )
    scheda, scheda_form, variabile_scheda = "admin/macchina.html", "admin/_macchina_form.html", "macchina"

    def filtro(self) -> dict:
        """Machines by code, filtered by phase type and state."""
        fase = (request.args.get("fase") or "").strip()[:20]
        stato = request.args.get("stato", "attive")
        attiva = {"attive": True, "disattivate": False}.get(stato)
        elenco = anagrafiche_service.list_macchine(
            deps.session(), fase_tipo=fase or None, attiva=attiva, limit=LIMITE_ELENCO + 1
        )
        return {
            "macchine": elenco[:LIMITE_ELENCO],
            "troppi": len(elenco) > LIMITE_ELENCO,
            "fase": fase,
            "stato": stato,
            "tipi": anagrafiche_service.list_fasi_tipo(deps.session()),
        }

    def trova(self, macchina_id: int):
        return anagrafiche_service.get_macchina(deps.session(), macchina_id)

    def form(self, macchina=None) -> MacchinaForm:
        attuale = macchina.fase_tipo.codice if macchina is not None else None
        form = MacchinaForm(
            data=None
            if macchina is None
            else {
                "codice": macchina.codice,
                "descrizione": macchina.descrizione,
                "fase_tipo": attuale,
                "reparto": macchina.reparto,
            }
        )
        _scelte_fase(form.fase_tipo, attuale=attuale)
        return form

    def crea(self, form):
        return anagrafiche_service.create_macchina(
            deps.session(),
            actor=deps.actor(),
            codice=testo(form.codice.data),
            fase_tipo=testo(form.fase_tipo.data),
            descrizione=form.descrizione.data,
            reparto=form.reparto.data,
            licenza=deps.licenza(),
        )

    def aggiorna(self, macchina_id: int, form):
        return anagrafiche_service.update_macchina(
            deps.session(),
            actor=deps.actor(),
            macchina_id=macchina_id,
            codice=testo(form.codice.data),
            fase_tipo=testo(form.fase_tipo.data),
            descrizione=testo(form.descrizione.data),
            reparto=testo(form.reparto.data),
        )

    def creato(self, macchina) -> str:
        return gettext("Macchina %(codice)s creata.", codice=macchina.codice)

    def salvato(self, macchina) -> str:
        return gettext("Macchina %(codice)s salvata.", codice=macchina.codice)

    def disattiva(self, macchina_id: int):
        """Take a machine out of service (refused while a lotto is open on it)."""
        macchina = anagrafiche_service.deactivate_macchina(deps.session(), actor=deps.actor(), macchina_id=macchina_id)
        return macchina, gettext("Macchina %(codice)s disattivata.", codice=macchina.codice)

    def riattiva(self, macchina_id: int):
        """Put a machine back in service."""
        macchina = anagrafiche_service.reactivate_macchina(
            deps.session(), actor=deps.actor(), macchina_id=macchina_id, licenza=deps.licenza()
        )
        return macchina, gettext("Macchina %(codice)s riattivata.", codice=macchina.codice)


class Causali(Righe):
    """Scrap reasons: code, description, phase type (empty = any phase), state."""

    url, elenco, nome, id = "/causali", "causali", "causale", "causale_id"
    pagina, nuova, riga, variabile = "admin/causali.html", "admin/_causale_nuova.html", "admin/_causale_riga.html", "c"

    def contesto_elenco(self) -> dict:
        return {"causali": anagrafiche_service.list_causali(deps.session(), limit=LIMITE_ELENCO)}

    def trova(self, causale_id: int):
        return anagrafiche_service.get_causale(deps.session(), causale_id)

    def form(self, causale=None) -> CausaleForm:
        attuale = causale.fase_tipo.codice if causale is not None and causale.fase_tipo else None
        form = CausaleForm(
            data=None
            if causale is None
            else {
                "codice": causale.codice,
                "descrizione": causale.descrizione,
                "attiva": causale.attiva,
                "fase_tipo": attuale or "",
            }
        )
        _scelte_fase(form.fase_tipo, qualsiasi=True, attuale=attuale)
        return form

    def crea(self, form):
        return anagrafiche_service.create_causale(
            deps.session(),
            actor=deps.actor(),
            codice=testo(form.codice.data),
            descrizione=testo(form.descrizione.data),
            fase_tipo=form.fase_tipo.data or None,
            attiva=form.attiva.data,
        )

    def aggiorna(self, causale_id: int, form):
        return anagrafiche_service.update_causale(
            deps.session(),
            actor=deps.actor(),
            causale_id=causale_id,
            codice=testo(form.codice.data),
            descrizione=testo(form.descrizione.data),
            fase_tipo=form.fase_tipo.data or None,
            attiva=form.attiva.data,
        )

    def creato(self, causale) -> str:
        return gettext("Causale %(codice)s creata.", codice=causale.codice)

    def salvato(self, causale) -> str:
        return gettext("Causale %(codice)s salvata.", codice=causale.codice)


class FasiTipo(Righe):
    """Phase types in flow order: description, position, required documents, state.
    A phase type's code can never change once it is created."""

    url, elenco, nome, id = "/fasi-tipo", "fasi_tipo", "fase_tipo", "fase_tipo_id"
    pagina, nuova, riga, variabile = (
        "admin/fasi_tipo.html",
        "admin/_fase_tipo_nuova.html",
        "admin/_fase_tipo_riga.html",
        "t",
    )

    def contesto_elenco(self) -> dict:
        return {"tipi": anagrafiche_service.list_fasi_tipo(deps.session())}

    def trova(self, fase_tipo_id: int):
        return anagrafiche_service.get_fase_tipo(deps.session(), fase_tipo_id)

    def form(self, tipo=None) -> FaseTipoForm:
        form = FaseTipoForm(obj=tipo) if tipo is not None else FaseTipoForm()
        tipi = tipi_documento()
        extra = [t for t in (tipo.documenti_richiesti if tipo is not None else []) if t not in tipi]
        form.documenti_richiesti.choices = [SelectChoice(t) for t in (*tipi, *extra)]
        return form

    def crea(self, form):
        return anagrafiche_service.create_fase_tipo(
            deps.session(),
            actor=deps.actor(),
            codice=testo(form.codice.data),
            descrizione=testo(form.descrizione.data),
            ordine=form.ordine.data,
            documenti_richiesti=form.documenti_richiesti.data or [],
            attivo=form.attivo.data,
            tipi_ammessi=tipi_documento(),
        )

    def aggiorna(self, fase_tipo_id: int, form):
        return anagrafiche_service.update_fase_tipo(
            deps.session(),
            actor=deps.actor(),
            fase_tipo_id=fase_tipo_id,
            descrizione=testo(form.descrizione.data),
            ordine=form.ordine.data,
            documenti_richiesti=form.documenti_richiesti.data or [],
            attivo=form.attivo.data,
            tipi_ammessi=tipi_documento(),
        )

    def creato(self, tipo) -> str:
        return gettext("Tipo di fase %(codice)s creato.", codice=tipo.codice)

    def salvato(self, tipo) -> str:
        return gettext("Tipo di fase %(codice)s salvato.", codice=tipo.codice)


class CausaliFermo(Righe):
    """Stop reasons (SPEC §13): code, description, phase type (empty = any), category,
    planned (left out of the planned time instead of counting as a loss), state."""

    url, elenco, nome, id = "/causali-fermo", "fermi_causali", "fermo_causale", "causale_id"
    pagina, nuova, riga, variabile = (
        "admin/causali_fermo.html",
        "admin/_causale_fermo_nuova.html",
        "admin/_causale_fermo_riga.html",
        "c",
    )
    # The service names its fields as the API does.
    _CAMPI = {"Codice": "codice", "Descrizione": "descrizione", "FaseTipo": "fase_tipo", "Categoria": "categoria"}

    def contesto_elenco(self) -> dict:
        return {"causali": fermi_service.list_causali_fermo(deps.session())}

    def trova(self, causale_id: int):
        return fermi_service.get_causale_fermo(deps.session(), causale_id)

    def form(self, causale=None) -> CausaleFermoForm:
        attuale = causale.fase_tipo.codice if causale is not None and causale.fase_tipo else None
        form = CausaleFermoForm(
            data=None
            if causale is None
            else {
                "codice": causale.codice,
                "descrizione": causale.descrizione,
                "fase_tipo": attuale or "",
                "categoria": causale.categoria,
                "pianificato": causale.pianificato,
                "attiva": causale.attiva,
            }
        )
        _scelte_fase(form.fase_tipo, qualsiasi=True, attuale=attuale)
        form.categoria.choices = [SelectChoice(c, c) for c in CATEGORIE_FERMO]
        return form

    def _salva_causale(self, causale_id: int | None, form):
        try:
            return fermi_service.salva_causale_fermo(
                deps.session(),
                actor=deps.actor(),
                causale_id=causale_id,
                codice=testo(form.codice.data),
                descrizione=testo(form.descrizione.data),
                fase_tipo=form.fase_tipo.data or None,
                cambia_fase_tipo=True,
                categoria=form.categoria.data,
                pianificato=form.pianificato.data,
                attiva=form.attiva.data,
            )
        except InvalidInput as errore:
            errore.errors = {self._CAMPI.get(k, k): v for k, v in errore.errors.items()}
            raise

    def crea(self, form):
        return self._salva_causale(None, form)

    def aggiorna(self, causale_id: int, form):
        return self._salva_causale(causale_id, form)

    def creato(self, causale) -> str:
        return gettext("Causale di fermo %(codice)s creata.", codice=causale.codice)

    def salvato(self, causale) -> str:
        return gettext("Causale di fermo %(codice)s salvata.", codice=causale.codice)


for anagrafica in (Macchine(), Causali(), FasiTipo(), CausaliFermo()):
    anagrafica.registra(bp)
