"""Forms of the supervisor pages. Shape only (types, lengths): the rules (R1–R3) are the
service's, and its refusals are shown next to the fields by the route."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from asigest.services.configurazione import MAX_DIBA, MAX_NOTE, MAX_REVISIONE


class ConfigForm(FlaskForm):
    """Configure an order: phases (SMD and CONTROLLI pre-set, as most boards need), DIBA,
    revision, notes. Field names are the service's keyword arguments."""

    flag_smd = BooleanField("SMD", default=True)
    flag_pth = BooleanField("PTH", default=False)
    flag_controlli = BooleanField("CONTROLLI", default=True)
    diba = StringField(
        _l("DIBA"), validators=[Optional(), Length(max=MAX_DIBA, message=_l("Al massimo 50 caratteri."))]
    )
    revisione = StringField(
        _l("Revisione"), validators=[Optional(), Length(max=MAX_REVISIONE, message=_l("Al massimo 20 caratteri."))]
    )
    note = TextAreaField(
        _l("Note"), validators=[Optional(), Length(max=MAX_NOTE, message=_l("Al massimo 2000 caratteri."))]
    )

    # The service's field names (contract columns) → this form's fields, for its refusals.
    CAMPI = {"DIBA": "diba", "Revisione": "revisione", "Note": "note"}
    # Refusals about the phases as a whole (set by the route), shown under the checkboxes.
    errori_fasi: tuple[str, ...] = ()

    def valori(self) -> dict:
        """What the service takes: every field but the CSRF token."""
        return {name: value for name, value in self.data.items() if name != "csrf_token"}


class ModificaConfigForm(ConfigForm):
    """Change a configuration, including the documentation block."""

    bloccata_documentazione = BooleanField(_l("Blocca l'apertura di nuovi lotti (documentazione da verificare)"))
