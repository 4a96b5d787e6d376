"""Forms of the stops, calendar and cycle-time pages: shape only; the services decide."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Length, Optional

_QUANDO = "%Y-%m-%dT%H:%M"
_ORA_NON_VALIDA = _l("Ora non valida: usare il formato hh:mm.")
_QUANDO_NON_VALIDO = _l("Data e ora non valide.")


def _quando(etichetta, *, obbligatorio: bool = True) -> DateTimeLocalField:
    validatori = [InputRequired(message=_QUANDO_NON_VALIDO)] if obbligatorio else [Optional()]
    return DateTimeLocalField(etichetta, format=_QUANDO, validators=validatori)


class FermoNuovoForm(FlaskForm):
    """A stop nobody declared at the time."""

    macchina = SelectField(_l("Macchina"), choices=[], validate_choice=False)
    causale = SelectField(_l("Causale"), choices=[], validate_choice=False)
    inizio = _quando(_l("Inizio"))
    fine = _quando(_l("Fine"))
    note = StringField(_l("Note"), validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))])
    motivo = StringField(
        _l("Motivo dell'aggiunta (resta nel registro eventi)"),
        validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))],
    )


class FermoCorreggiForm(FlaskForm):
    causale = SelectField(_l("Causale"), choices=[], validate_choice=False)
    inizio = _quando(_l("Inizio"))
    fine = _quando(_l("Fine (vuota: ancora in corso)"), obbligatorio=False)
    note = StringField(_l("Note"), validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))])
    motivo = StringField(
        _l("Motivo della correzione"), validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))]
    )


class FermoDividiForm(FlaskForm):
    alle = _quando(_l("Dividere alle"))
    causale = SelectField(_l("Causale della seconda parte"), choices=[], validate_choice=False)
    motivo = StringField(
        _l("Motivo della divisione"), validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))]
    )


class TurnoForm(FlaskForm):
    """A calendar row: for a machine or a Reparto, weekly or on a date (a date without
    times is a closed day)."""

    macchina = SelectField(_l("Macchina"), choices=[], validate_choice=False)
    reparto = StringField(_l("oppure Reparto"), validators=[Length(max=50, message=_l("Al massimo 50 caratteri."))])
    giorno = SelectField(_l("Giorno della settimana"), choices=[], validate_choice=False)
    data = DateField(_l("oppure Data (eccezione)"), validators=[Optional()])
    ora_inizio = TimeField(_l("Dalle"), validators=[Optional()])
    ora_fine = TimeField(_l("Alle"), validators=[Optional()])
    note = StringField(
        _l("Note (es. Festa patronale)"), validators=[Length(max=200, message=_l("Al massimo 200 caratteri."))]
    )


class TempoCicloForm(FlaskForm):
    fase_tipo = SelectField(_l("Tipo di fase"), choices=[], validate_choice=False)
    codart = StringField(
        _l("Articolo (CODART; vuoto: ogni articolo)"),
        validators=[Length(max=30, message=_l("Al massimo 30 caratteri."))],
    )
    macchina = SelectField(_l("Macchina (vuota: ogni macchina)"), choices=[], validate_choice=False)
    secondi = StringField(
        _l("Secondi per pezzo"),
        validators=[
            InputRequired(message=_l("Indicare i secondi per pezzo.")),
            Length(max=20, message=_l("Valore non valido.")),
        ],
    )
