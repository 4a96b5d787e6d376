"""Template filters and globals: plant-time dates, numbers, the htmx check."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_decimal, get_locale

from asigest.web.htmx import is_htmx


def localtime(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC instant shown in the plant's time zone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime(fmt)


def data(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def numero(value) -> str:
    return "—" if value is None else format_decimal(value)


def init_app(app) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(data)
    app.add_template_filter(numero)
    app.add_template_global(is_htmx)
    app.add_template_global(get_locale)
