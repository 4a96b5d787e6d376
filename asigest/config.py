"""Settings: defaults < instance file (``instance/asigest.cfg``) < ``ASIGEST_*`` environment.

Every setting has a default that works on a fresh machine with nothing set: both
databases are SQLite files in the instance folder (the ERP one is the demo database
made by ``flask --app wsgi demo``) and the secret key is generated once and kept in
the instance folder, so several worker processes share it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask

from asigest import dialects
from asigest.domain import documenti
from asigest.models.documenti import TIPI_DOCUMENTO

# Room for the multipart envelope and the text fields around the largest allowed file.
MULTIPART_MARGIN = 1024 * 1024

# name of the environment variable -> (config key, converter)
_ENV_SETTINGS: dict[str, tuple[str, Callable[[str], object]]] = {
    "ASIGEST_DATABASE_URL": ("DATABASE_URL", str),
    "ASIGEST_ERP_URL": ("ERP_URL", str),
    "ASIGEST_ERP_SCHEMA": ("ERP_SCHEMA", str),
    "ASIGEST_ERP_TIMEOUT": ("ERP_TIMEOUT", float),
    "ASIGEST_ERP_PAUSA_SECONDS": ("ERP_PAUSA_SECONDS", float),
    "ASIGEST_ERP_MAX_ATTESE": ("ERP_MAX_ATTESE", int),
    "ASIGEST_COMMESSE_APERTE_SECONDS": ("COMMESSE_APERTE_SECONDS", float),
    "ASIGEST_SECRET_KEY": ("SECRET_KEY", str),
    "ASIGEST_TIMEZONE": ("TIMEZONE", str),
    "ASIGEST_LICENSE_FILE": ("LICENSE_FILE", str),
    "ASIGEST_DOCUMENTS_DIR": ("DOCUMENTS_DIR", str),
    "ASIGEST_DOCUMENT_TYPES": ("DOCUMENT_TYPES", str),
    "ASIGEST_DOCUMENT_MAX_BYTES": ("DOCUMENT_MAX_BYTES", int),
    "ASIGEST_DOCUMENT_EXTENSIONS": ("DOCUMENT_EXTENSIONS", str),
    "ASIGEST_SECURE_COOKIES": ("SESSION_COOKIE_SECURE", lambda v: v.lower() in {"1", "true", "yes", "on"}),
    "ASIGEST_DEFAULT_LOCALE": ("BABEL_DEFAULT_LOCALE", str),
    "ASIGEST_KIOSK_IDLE_SECONDS": ("KIOSK_IDLE_SECONDS", int),
    "ASIGEST_FORGOTTEN_HOURS": ("FORGOTTEN_HOURS", float),
    "ASIGEST_PROXY_FIX": ("PROXY_FIX", int),
    "ASIGEST_HSTS_SECONDS": ("HSTS_SECONDS", int),
    "ASIGEST_SQLITE_SYNCHRONOUS": ("SQLITE_SYNCHRONOUS", lambda v: v.strip().upper()),
    "ASIGEST_LOGIN_MAX_BADGE": ("LOGIN_MAX_BADGE", int),
    "ASIGEST_LOGIN_MAX_ADDRESS": ("LOGIN_MAX_ADDRESS", int),
    "ASIGEST_LOGIN_WINDOW_MINUTES": ("LOGIN_WINDOW_MINUTES", float),
    "ASIGEST_LOGIN_LOCK_MINUTES": ("LOGIN_LOCK_MINUTES", float),
    "ASIGEST_LOGIN_KEEP_DAYS": ("LOGIN_KEEP_DAYS", float),
    "ASIGEST_CORS_ORIGINS": ("CORS_ORIGINS", str),
}

DEFAULTS = {
    "ERP_SCHEMA": None,
    "ERP_TIMEOUT": 5.0,
    # After the ERP failed to answer, ERP calls fail at once for this many seconds before
    # one call tries again (circuit breaker); at most ERP_MAX_ATTESE threads per process
    # wait on the ERP at once (bulkhead). Both per process: erp/gateway.py, ProtezioneErp.
    "ERP_PAUSA_SECONDS": 30.0,
    "ERP_MAX_ATTESE": 2,
    # The orders list and order search read a copy of the ERP's open orders kept in the
    # ASI_GEST database, at most this many seconds old; 0 = ask the ERP at every request
    # (services/commesse_aperte.py, docs/decisioni/2026-12-08-copia-commesse-aperte.md).
    "COMMESSE_APERTE_SECONDS": 30.0,
    "TIMEZONE": "Europe/Rome",
    "LICENSE_FILE": None,
    # Another public key (PEM path) instead of the vendor's built-in one: honoured in a
    # TESTING app only (the test suite's throwaway keys); no environment variable sets it.
    "LICENSE_PUBLIC_KEY": None,
    "DOCUMENTS_DIR": None,
    # Technical documents: the types (SPEC §4), the largest file, and the accepted
    # formats as {extension: content type} (text form in the environment:
    # "pdf,png,pos=text/plain"; see asigest/domain/documenti.py).
    "DOCUMENT_TYPES": TIPI_DOCUMENTO,
    "DOCUMENT_MAX_BYTES": 50 * 1024 * 1024,
    "DOCUMENT_EXTENSIONS": documenti.FORMATI_PREDEFINITI,
    "BABEL_DEFAULT_LOCALE": "it",
    "LANGUAGES": ("it", "en"),
    "PAGE_SIZE": 25,
    # Kiosk: the operator's session locks after this many seconds without a request (§9),
    # and a lotto open longer than FORGOTTEN_HOURS is flagged as forgotten (R13).
    "KIOSK_IDLE_SECONDS": 300,
    "FORGOTTEN_HOURS": 12,
    # Cookies: HttpOnly and SameSite always; Secure when served over HTTPS
    # (ASIGEST_SECURE_COOKIES=1 behind the TLS proxy).
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "asigest_session",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,  # token lives as long as the session
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto/-Host
    # (werkzeug ProxyFix). 0 = served directly. Without it every client has the proxy's
    # address: the login lockout by address and the audit log's Postazione would lump
    # them together, and Secure cookies/HSTS could not tell HTTPS from HTTP.
    "PROXY_FIX": 0,
    # Strict-Transport-Security max-age sent on HTTPS answers (0 = no header).
    "HSTS_SECONDS": 365 * 24 * 3600,
    # SQLite only: NORMAL keeps answered commits through a process crash, FULL also
    # through an OS crash or power loss (one fsync per commit).
    "SQLITE_SYNCHRONOUS": "NORMAL",
    # Login lockout (domain/accessi.py): failures per badge / per client address within
    # the window lock that badge / address for LOGIN_LOCK_MINUTES; failures are kept
    # LOGIN_KEEP_DAYS days in TentativiAccesso.
    "LOGIN_MAX_BADGE": 5,
    "LOGIN_MAX_ADDRESS": 20,
    "LOGIN_WINDOW_MINUTES": 15,
    "LOGIN_LOCK_MINUTES": 15,
    "LOGIN_KEEP_DAYS": 30,
    # Origins whose browser pages may call the API (web/cors.py): "http://localhost:5173,
    # https://mes.example.lan"; none by default.
    "CORS_ORIGINS": (),
}


def load(app: Flask, overrides: Mapping[str, object] | None = None) -> None:
    """Fill ``app.config`` in order: defaults, instance file, environment, overrides."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("asigest.cfg", silent=True)
    for env_name, (key, convert) in _ENV_SETTINGS.items():
        value = os.environ.get(env_name)
        if value:
            app.config[key] = convert(value)
    if overrides:
        app.config.update(overrides)
    if app.config.get("SESSION_COOKIE_SECURE"):
        # Served over HTTPS: every cookie Secure, and links built for https.
        app.config.setdefault("REMEMBER_COOKIE_SECURE", True)
        app.config["PREFERRED_URL_SCHEME"] = "https"

    if int(app.config["ERP_MAX_ATTESE"]) < 1 or float(app.config["ERP_PAUSA_SECONDS"]) < 0:
        raise ValueError("ASIGEST_ERP_MAX_ATTESE deve essere almeno 1 e ASIGEST_ERP_PAUSA_SECONDS non negativo.")
    if float(app.config["COMMESSE_APERTE_SECONDS"]) < 0:
        raise ValueError("ASIGEST_COMMESSE_APERTE_SECONDS non può essere negativo (0: nessuna copia).")
    if app.config["SQLITE_SYNCHRONOUS"] not in dialects.SQLITE_SYNCHRONOUS:
        raise ValueError(
            f"ASIGEST_SQLITE_SYNCHRONOUS={app.config['SQLITE_SYNCHRONOUS']!r} non valido: usare NORMAL o FULL."
        )

    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'asigest.db'}")
    app.config.setdefault("ERP_URL", dialects.sqlite_readonly_url(instance / "erp_demo.db"))
    if not app.config.get("DOCUMENTS_DIR"):
        app.config["DOCUMENTS_DIR"] = str(instance / "documenti")
    app.config["DOCUMENT_TYPES"] = documenti.tipi(app.config["DOCUMENT_TYPES"])
    app.config["DOCUMENT_EXTENSIONS"] = documenti.formati(app.config["DOCUMENT_EXTENSIONS"])
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        # Requests bigger than the largest document (plus its envelope) are cut off
        # before they are read; the exact file limit is checked while storing.
        app.config["MAX_CONTENT_LENGTH"] = int(app.config["DOCUMENT_MAX_BYTES"]) + MULTIPART_MARGIN
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")

    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dialects.asigest_engine_options(app.config["DATABASE_URL"])
    app.config["SQLALCHEMY_BINDS"] = {
        "erp": {
            "url": dialects.erp_url(app.config["ERP_URL"]),
            **dialects.erp_engine_options(app.config["ERP_URL"], app.config["ERP_TIMEOUT"]),
        }
    }


def _instance_secret(path: Path) -> str:
    """Read the instance secret, creating it atomically the first time.

    Several workers may start at once: ``O_EXCL`` lets exactly one write it and the
    others read what that one wrote.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            secret = path.read_text().strip()
            if secret:
                return secret
            time.sleep(0.02)
        raise RuntimeError(f"Chiave segreta vuota in {path}: cancellare il file e riavviare.") from None
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
