"""The admin pages' forms: shape only (lengths, whole numbers, a position given). Whether a value is allowed —
required fields, code formats, a phase type that exists, a badge not in use — is decided
by the services, whose messages the views put next to the same fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from asigest.domain.anagrafiche import LINGUA_PREDEFINITA, TROPPO_LUNGO
from asigest.domain.ruoli import ADMIN, OPERATORE, SUPERVISORE

RUOLI_SCELTA = [
    SelectChoice(OPERATORE, _l("Operatore")),
    SelectChoice(SUPERVISORE, _l("Supervisore")),
    SelectChoice(ADMIN, _l("Amministratore")),
]


# Each language is named in itself, so whoever reads the list finds their own.
LINGUE_SCELTA = [SelectChoice("it", "Italiano"), SelectChoice("en", "English")]


def _max(n: int) -> Length:
    return Length(max=n, message=_l(TROPPO_LUNGO[n]))


class UtenteModificaForm(FlaskForm):
    """A user's data (the secrets have forms of their own)."""

    matricola = StringField(_l("Matricola (codice badge)"), validators=[_max(30)])
    nome = StringField(_l("Nome"), validators=[_max(60)])
    cognome = StringField(_l("Cognome"), validators=[_max(60)])
    ruolo = SelectField(_l("Ruolo"), choices=RUOLI_SCELTA, default=OPERATORE, validate_choice=False)
    lingua = SelectField(
        _l("Lingua del terminale"), choices=LINGUE_SCELTA, default=LINGUA_PREDEFINITA, validate_choice=False
    )


class UtenteForm(UtenteModificaForm):
    """A new user, with the first PIN and password."""

    pin = PasswordField(_l("PIN del terminale (4–8 cifre)"), validators=[_max(30)])
    password = PasswordField(_l("Password per il login web (almeno 8 caratteri)"), validators=[_max(200)])


class PinForm(FlaskForm):
    pin = PasswordField(_l("Nuovo PIN (4–8 cifre)"), validators=[_max(30)])


class PasswordForm(FlaskForm):
    password = PasswordField(_l("Nuova password (almeno 8 caratteri)"), validators=[_max(200)])


class FiltroUtentiForm(FlaskForm):
    """The users list's filter (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("Cerca"), validators=[Optional(), _max(100)])
    ruolo = SelectField(
        _l("Ruolo"), choices=[SelectChoice("", _l("Tutti i ruoli")), *RUOLI_SCELTA], default="", validate_choice=False
    )
    stato = SelectField(
        _l("Stato"),
        choices=[
            SelectChoice("attivi", _l("Attivi")),
            SelectChoice("disattivati", _l("Disattivati")),
            SelectChoice("tutti", _l("Tutti")),
        ],
        default="attivi",
        validate_choice=False,
    )


class MacchinaForm(FlaskForm):
    codice = StringField(_l("Codice (es. SMD-L1)"), validators=[_max(30)])
    descrizione = StringField(_l("Descrizione"), validators=[_max(100)])
    fase_tipo = SelectField(_l("Tipo di fase"), choices=[], validate_choice=False)
    reparto = StringField(_l("Reparto"), validators=[_max(50)])


class CausaleForm(FlaskForm):
    codice = StringField(_l("Codice"), validators=[_max(30)])
    descrizione = StringField(_l("Descrizione"), validators=[_max(200)])
    fase_tipo = SelectField(_l("Tipo di fase"), choices=[], validate_choice=False)
    attiva = BooleanField(_l("Attiva"), default=True)


class FaseTipoForm(FlaskForm):
    codice = StringField(_l("Codice (es. SMD)"), validators=[_max(20)])
    descrizione = StringField(_l("Descrizione"), validators=[_max(100)])
    ordine = IntegerField(
        _l("Posizione nel flusso"),
        validators=[
            InputRequired(message=_l("Indicare la posizione nel flusso (un numero intero).")),
            NumberRange(min=0, max=10_000, message=_l("La posizione deve essere tra 0 e 10000.")),
        ],
    )
    documenti_richiesti = SelectMultipleField(
        _l("Documenti richiesti per aprire un lotto"), choices=[], validate_choice=False
    )
    attivo = BooleanField(_l("Attivo"), default=True)


class TokenForm(FlaskForm):
    matricola = SelectField(_l("Utente"), choices=[], validate_choice=False)
    descrizione = StringField(_l("A cosa serve (es. software linea SMD 2)"), validators=[_max(100)])


class CausaleFermoForm(FlaskForm):
    """A stop reason (SPEC §13): category and whether it is planned (out of the planned time)."""

    codice = StringField(_l("Codice"), validators=[_max(30)])
    descrizione = StringField(_l("Descrizione"), validators=[_max(200)])
    fase_tipo = SelectField(_l("Tipo di fase"), choices=[], validate_choice=False)
    categoria = SelectField(_l("Categoria"), choices=[], validate_choice=False)
    pianificato = BooleanField(_l("Pianificato (fuori dal tempo pianificato, non è una perdita)"), default=False)
    attiva = BooleanField(_l("Attiva"), default=True)
