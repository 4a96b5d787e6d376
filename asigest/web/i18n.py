"""Language choice: Italian first, English on request.

Office pages follow the browser session's choice (the *English*/*Italiano* button). The
kiosk follows the operator instead (SPEC §9): from the badge login on, the language is
the one set on their user (``Utenti.Lingua``, read with the session on every request, so
a change by the admin applies at once); the badge form — before login and after *Esci*
or the idle lock — is in the plant's default, whatever an office page set in the same
browser.
"""

from __future__ import annotations

from flask import current_app, g, request, session

KIOSK_BLUEPRINT = "kiosk"


def select_locale() -> str:
    lingue = current_app.config["LANGUAGES"]
    if request.blueprint == KIOSK_BLUEPRINT:
        actor = g.get("actor")
        lingua = getattr(actor, "lingua", None)
        if isinstance(lingua, str) and lingua in lingue:
            return lingua
        predefinita_kiosk: str = current_app.config["BABEL_DEFAULT_LOCALE"]
        return predefinita_kiosk
    lang = session.get("lang")
    if isinstance(lang, str) and lang in lingue:
        return lang
    predefinita: str = current_app.config["BABEL_DEFAULT_LOCALE"]
    return predefinita
