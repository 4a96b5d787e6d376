"""Language choice: Italian first, English on request (kept in the session)."""

from __future__ import annotations

from flask import current_app, session


def select_locale() -> str:
    lang = session.get("lang")
    if isinstance(lang, str) and lang in current_app.config["LANGUAGES"]:
        return lang
    predefinita: str = current_app.config["BABEL_DEFAULT_LOCALE"]
    return predefinita
