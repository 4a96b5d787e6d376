"""htmx helpers: the one place that decides whether a request came from htmx."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from werkzeug.wrappers import Response

R = TypeVar("R", bound=Response)


def is_htmx() -> bool:
    """True for a request made by htmx (and not a history restore, which wants the page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def vary_on_htmx(response: R) -> R:
    """Responses that differ by HX-Request must say so, or caches mix page and fragment."""
    response.vary.add("HX-Request")
    return response
