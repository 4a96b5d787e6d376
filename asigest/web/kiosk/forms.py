"""The kiosk's forms: shape only (whole numbers, lengths, a confirmation that names the
right figure). The rules — what may be opened or closed — are the services'; their
refusals land next to the same fields.

The one-time token (R11) is a plain hidden ``chiave`` field: a fresh one is rendered
with every form, and a double tap sends the same one twice, which the service answers
with the first result.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from asigest.web.converters import ID_MAX

_CIFRE = re.compile(r"[0-9]{1,10}")


def numero(testo: str | None) -> int | None:
    """A whole number from 0 up to an INTEGER's maximum as typed (ASCII digits only:
    ``int()`` would also take "１２" or "-1"), or None."""
    testo = (testo or "").strip()
    if not _CIFRE.fullmatch(testo) or int(testo) > ID_MAX:
        return None
    return int(testo)


class _Intero:
    """A whole number ≥ ``minimo`` (an empty field counts as ``vuoto`` when given)."""

    def __init__(self, messaggio, *, minimo: int = 0, vuoto: int | None = None):
        self.messaggio, self.minimo, self.vuoto = messaggio, minimo, vuoto

    def __call__(self, form, field) -> None:
        testo = (field.data or "").strip()
        if not testo and self.vuoto is not None:
            return
        valore = numero(testo)
        if valore is None or valore < self.minimo:
            raise ValidationError(str(self.messaggio))


def intero(field, vuoto: int | None = None) -> int | None:
    """The number a validated ``_Intero`` field holds (``vuoto`` when left empty)."""
    testo = (field.data or "").strip()
    return vuoto if not testo else numero(testo)


def validato(valore: int | None) -> int:
    """A number ``form.validate()`` has checked, so present: says so to the type checker,
    and fails loudly if a form ever skipped its validation."""
    if valore is None:
        raise ValueError("campo numerico usato senza validazione")
    return valore


class BadgeForm(FlaskForm):
    """Badge (scanned or typed) and PIN."""

    matricola = StringField(
        _l("Badge (matricola)"),
        validators=[
            InputRequired(message=_l("Scansionare il badge.")),
            Length(max=30, message=_l("Badge non valido.")),
        ],
    )
    pin = PasswordField(
        _l("PIN"),
        validators=[InputRequired(message=_l("Digitare il PIN.")), Length(max=30, message=_l("PIN non valido."))],
    )


_SEPARATORI = re.compile(r"[\s,;]+")


def etichette(testo: str | None) -> list[str]:
    """The lotto labels scanned or typed into one field, in the order read (a scanner
    ends each with Enter, which the kiosk turns into a space; commas and semicolons
    separate too)."""
    return [codice for codice in _SEPARATORI.split((testo or "").strip()) if codice]


class ApriForm(FlaskForm):
    """Open a lotto for the order on the card. ``origini``: the labels of the lotti of
    the fase before that the boards in hand come from (R14) — optional, FIFO without."""

    chiave = HiddenField()
    commessa_id = HiddenField()
    qta_input = StringField(
        _l("Pezzi da lavorare"),
        validators=[_Intero(_l("Indicare quanti pezzi entrano nel lotto (un numero maggiore di zero)."), minimo=1)],
    )
    origini = StringField(
        _l("Lotti di origine"),
        validators=[
            Length(max=300, message=_l("Troppe etichette in una volta: al massimo dieci lotti di origine.")),
        ],
    )

    def validate_origini(self, field) -> None:
        if len(etichette(field.data)) > 10:
            raise ValidationError(str(_l("Troppe etichette in una volta: al massimo dieci lotti di origine.")))


class ChiusuraForm(FlaskForm):
    """Close the lotto open on the machine: scrap first, good pieces, reason, note.

    ``tutto_buono`` is the one-tap close (every piece good, no scrap). ``conferma_resto``
    is sent only by the short-close confirmation button and must name the pieces that go
    back to availability, so an Enter from a scanner or keypad never closes short.
    """

    chiave = HiddenField()
    lotto_id = HiddenField()
    qta_scarti = StringField(_l("Scarti"), validators=[_Intero(_l("Indicare gli scarti (0 o più)."), vuoto=0)])
    qta_output = StringField(_l("Pezzi buoni"), validators=[_Intero(_l("Indicare i pezzi buoni (0 o più)."))])
    causale = StringField(
        _l("Causale di scarto"),
        validators=[Length(max=30, message=_l("Causale non valida: sceglierne una dall'elenco."))],
    )
    note = StringField(_l("Note (facoltative)"), validators=[Length(max=500, message=_l("Al massimo 500 caratteri."))])
    conferma_resto = HiddenField()
    tutto_buono = HiddenField()

    # The service's field names → this form's fields, for its refusals.
    CAMPI = {"QtaOutput": "qta_output", "QtaScarti": "qta_scarti", "CausaleScarto": "causale"}

    def validate(self, extra_validators=None) -> bool:
        if self.tutto_buono.data:
            self.qta_output.validators = []  # every piece is good, whatever the field says
        return super().validate(extra_validators)


class FermoForm(FlaskForm):
    """Start a stop: the reason tile tapped is the submit button's value (one touch)."""

    chiave = HiddenField()
    causale = StringField(
        _l("Causale di fermo"),
        validators=[
            InputRequired(message=_l("Toccare il motivo del fermo.")),
            Length(max=30, message=_l("Causale non valida: sceglierne una dall'elenco.")),
        ],
    )


class RiprendiForm(FlaskForm):
    """End the running stop (*Riprendi*)."""

    chiave = HiddenField()
    fermo_id = HiddenField()
