"""Security headers on every response, including a Content-Security-Policy that allows
no inline script or style (htmx's own indicator styles are turned off in the layout),
and Strict-Transport-Security when the site is served over HTTPS (the request came in
over HTTPS — through ProxyFix behind a TLS proxy — or ASIGEST_SECURE_COOKIES says so)."""

from __future__ import annotations

from flask import current_app, request

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# For a page the application frames itself (the kiosk's label, printed from a hidden
# frame of the kiosk screen): framed by its own origin only, never by another site.
CSP_CORNICE_PROPRIA = CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def consenti_cornice_propria(response):
    """Let pages of this same site show ``response`` in a frame (and no other site)."""
    response.headers["Content-Security-Policy"] = CSP_CORNICE_PROPRIA
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def add_security_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html" or response.mimetype == "application/json":
        # Pages and API answers carry personal and production data: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    hsts = int(current_app.config.get("HSTS_SECONDS") or 0)
    if hsts > 0 and (request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE")):
        # No includeSubDomains: the plant's other intranet hosts are not ours to decide.
        response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts}")
    return response


def init_app(app) -> None:
    app.after_request(add_security_headers)
