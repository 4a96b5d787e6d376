"""ASI-GEST: shop-floor production tracking over the ASITRON ERP."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider

# The one place the version is written: pyproject.toml reads it (dynamic), /health, the
# OpenAPI document and the page footer show it. CHANGELOG.md has a section per release.
__version__ = "1.0.0"

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def risorsa(nome: str) -> Path:
    """``templates``, ``static`` or ``migrations``: inside the package when installed from
    the wheel (setup.py copies them there), else at the top of the checkout."""
    nel_pacchetto = PACKAGE_DIR / nome
    return nel_pacchetto if nel_pacchetto.is_dir() else PROJECT_ROOT / nome


def installato() -> bool:
    """Installed from the wheel (its resources inside the package), not run from a checkout."""
    return (PACKAGE_DIR / "templates").is_dir()


def create_app(overrides: dict | None = None) -> Flask:
    """Build the application: settings, extensions, blueprints, error handlers, commands.

    Nothing here connects to a database; engines connect on first use.
    """
    import os

    from asigest import config, dialects, models  # noqa: F401  (models register their tables)
    from asigest.extensions import babel, csrf, db, login_manager, migrate

    instance_path = (overrides or {}).get("INSTANCE_PATH") or os.environ.get("ASIGEST_INSTANCE_PATH")
    app = Flask(
        __name__,
        template_folder=str(risorsa("templates")),
        static_folder=str(risorsa("static")),
        # Installed from the wheel: Flask's own default, <virtualenv>/var/asigest-instance.
        instance_path=str(instance_path)
        if instance_path
        else (None if installato() else str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
    )
    config.load(app, overrides)
    if int(app.config.get("PROXY_FIX") or 0) > 0:
        # Trust that many reverse proxies for the client address, scheme and host.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX"])
        # Flask's documented way to put a middleware in front; mypy sees a method there.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if isinstance(app.json, DefaultJSONProvider):  # (the provider Flask uses unless told otherwise)
        app.json.sort_keys = False  # keep the contract's field order (ERP columns first)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))

    db.init_app(app)
    from asigest.services import riepilogo_kpi

    riepilogo_kpi.init_app(app)  # the KPIs' daily summary follows every change to a lotto
    with app.app_context():
        dialects.configure_asigest_engine(db.engines[None], sincrono=app.config["SQLITE_SYNCHRONOUS"])
        dialects.configure_erp_engine(db.engines["erp"], timeout=app.config["ERP_TIMEOUT"])
    migrate.init_app(app, db, directory=str(risorsa("migrations")), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from asigest.web import i18n

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        timezone_selector=lambda: app.config["TIMEZONE"],
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    i18n.init_app(app)  # the templates' _() and ngettext(), without Flask-Babel's per-call lookups

    from asigest import cli, web

    web.init_app(app)
    cli.init_app(app)
    log_avvio(app)
    return app


def log_avvio(app: Flask) -> None:
    """One INFO line at start (each process that builds the app, e.g. every gunicorn worker):
    the version, both databases (passwords hidden) and the license's state and expiry.

    The license is read here for the line only: every check reads the file again, so a
    license installed or renewed later counts without a restart (``services.licenza``).
    """
    import re

    from sqlalchemy.engine import make_url

    from asigest.domain.periodo import oggi
    from asigest.services import licenza

    def senza_password(url: str) -> str:
        try:
            testo = make_url(url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: say so rather than print what it holds
            return "(URL non leggibile)"
        # SQL Server's odbc_connect=…PWD=…; carries the password in the query string.
        return re.sub(r"(?i)(pwd|password)(=|%3D).*?(?=%3B|;|&|$)", r"\1\2***", testo)

    stato = licenza.stato_corrente(app.config, oggi=oggi(app.config["TIMEZONE"]))
    logging.getLogger("asigest").info(
        "ASI-GEST %s: database ASI_GEST %s; ERP %s; licenza %s, scadenza %s%s",
        __version__,
        senza_password(str(app.config["DATABASE_URL"])),
        senza_password(str(app.config["ERP_URL"])),
        stato.stato,
        stato.scadenza.isoformat() if stato.scadenza else "nessuna",
        f" ({stato.licenziatario})" if stato.licenziatario else "",
    )
