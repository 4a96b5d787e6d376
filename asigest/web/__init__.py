"""The web layer: blueprints for pages, kiosk, API and auth; access, errors, headers."""

from __future__ import annotations

from flask import Flask

from asigest import __version__
from asigest.web import access, converters, cors, errors, filters, input_guard, licenza, modelli, security, statici


def init_app(app: Flask) -> None:
    modelli.init_app(app)  # before any template is loaded: pages leave no reference cycle
    converters.init_app(app)  # before any rule is added: every <int:…> is a bounded id
    from asigest.web.admin import bp as admin_bp
    from asigest.web.api import bp as api_bp
    from asigest.web.auth import bp as auth_bp
    from asigest.web.avanzamento import bp as avanzamento_bp
    from asigest.web.dashboard import bp as dashboard_bp
    from asigest.web.documenti import bp as documenti_bp
    from asigest.web.eventi import bp as eventi_bp
    from asigest.web.fermi import bp as fermi_bp
    from asigest.web.health import bp as health_bp
    from asigest.web.kiosk import bp as kiosk_bp
    from asigest.web.kiosk import etichette_bp
    from asigest.web.pages import bp as pages_bp
    from asigest.web.registro import bp as registro_bp
    from asigest.web.tracciabilita import bp as tracciabilita_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(documenti_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(etichette_bp)
    app.register_blueprint(registro_bp)
    app.register_blueprint(avanzamento_bp)
    app.register_blueprint(eventi_bp)
    app.register_blueprint(tracciabilita_bp)
    app.register_blueprint(fermi_bp)
    app.register_blueprint(api_bp, url_prefix="/api")

    access.init_app(app)
    input_guard.init_app(app)  # runs first: hostile text never reaches the access check or a view
    cors.init_app(app)  # before even that: a CORS preflight carries no token and nothing to check
    errors.init_app(app)
    security.init_app(app)
    statici.init_app(app)
    filters.init_app(app)
    licenza.init_app(app)

    @app.context_processor
    def _versione() -> dict[str, str]:
        return {"versione_app": __version__}  # the page footer (asigest/__init__.py holds it)
