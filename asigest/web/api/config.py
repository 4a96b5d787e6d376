"""/api/config (SPEC §7)."""

from asigest.web.api import bp  # noqa: F401
