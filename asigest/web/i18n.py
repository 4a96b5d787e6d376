"""Language choice: Italian first, English on request.

Office pages follow the browser session's choice (the *English*/*Italiano* button). The
kiosk follows the operator instead (SPEC §9): from the badge login on, the language is
the one set on their user (``Utenti.Lingua``, read with the session on every request, so
a change by the admin applies at once); the badge form — before login and after *Esci*
or the idle lock — is in the plant's default, whatever an office page set in the same
browser.
"""

from __future__ import annotations

from typing import Any

from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, request, session
from flask_babel import get_locale, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

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


# -- translations in templates ---------------------------------------------------------------
#
# Flask-Babel installs ``_``/``gettext``/``ngettext`` in Jinja as three layers of calls, each
# ``_()`` looking up the request's context, the Babel extension, the domain and the locale
# (as a string) again: ~23 µs a call, some forty calls on a page (measured, issue 16). Here
# the translations object is looked up once per request and locale (kept on ``g`` beside the
# locale it was found for, so ``force_locale`` and ``refresh`` still take effect), and one
# function per name does what Jinja's "newstyle" gettext does: the text is marked safe when
# autoescaping and always used as a %-format string (``rv % variables``).

_TRADUZIONI = "_asigest_traduzioni"


def traduzioni() -> Translations | NullTranslations:
    """This request's translations (Flask-Babel's, the same object), looked up once per locale."""
    locale = get_locale()
    noto = g.get(_TRADUZIONI)
    if noto is not None and noto[0] is locale:
        return noto[1]
    trovate = get_translations()
    setattr(g, _TRADUZIONI, (locale, trovate))
    return trovate


@pass_context
def _jinja_gettext(contesto: Context, stringa: str, /, **variabili: Any) -> str:
    testo = traduzioni().ugettext(stringa)
    if contesto.eval_ctx.autoescape:
        testo = Markup(testo)  # nosec B704 - our own catalog's text, as Jinja's i18n marks it
    return testo % variabili


@pass_context
def _jinja_ngettext(contesto: Context, singolare: str, plurale: str, numero: int, /, **variabili: Any) -> str:
    variabili.setdefault("num", numero)
    testo = traduzioni().ungettext(singolare, plurale, numero)
    if contesto.eval_ctx.autoescape:
        testo = Markup(testo)  # nosec B704 - our own catalog's text, as Jinja's i18n marks it
    return testo % variabili


def init_app(app: Flask) -> None:
    """After ``babel.init_app``: ``_``, ``gettext`` and ``ngettext`` in templates, faster."""
    app.jinja_env.globals.update(_=_jinja_gettext, gettext=_jinja_gettext, ngettext=_jinja_ngettext)
