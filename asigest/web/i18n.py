"""Language choice: Italian first, English on request (kept in the session)."""

from __future__ import annotations

from flask import current_app, session


def select_locale() -> str:
    lang = session.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]
