"""Template filters and globals: plant-time dates, numbers, the htmx check."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_decimal, get_locale, gettext

from asigest.errors import N_
from asigest.web.htmx import is_htmx

# How codes stored in the database read on a page, in the interface's language.
_ETICHETTE = {
    "APERTA": N_("aperta"),
    "IN_CORSO": N_("in corso"),
    "SOSPESA": N_("sospesa"),
    "COMPLETATA": N_("completata"),
    "OPERATORE": N_("operatore"),
    "SUPERVISORE": N_("supervisore"),
    "ADMIN": N_("amministratore"),
}


def localtime(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC instant shown in the plant's time zone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)


def data(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def numero(value) -> str:
    return "—" if value is None else format_decimal(value)


def etichetta(code: str | None) -> str:
    """A state or role code as people read it (``IN_CORSO`` → "in corso")."""
    if code in _ETICHETTE:
        return gettext(_ETICHETTE[code])
    return code or "—"


def init_app(app) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(data)
    app.add_template_filter(numero)
    app.add_template_filter(etichetta)
    app.add_template_global(is_htmx)
    app.add_template_global(get_locale)
