"""What a server process does once, after it has loaded the app: keep Python's cyclic
garbage collector out of the requests' tail (decision ``docs/decisioni/2026-12-07-garbage-collector.md``).

The app's modules, SQLAlchemy's mappers and compiled statements, Flask's and
marshmallow's objects — some hundred thousand long-lived containers — are loaded once
and never become garbage. Left where they are, every full collection walks all of them
(measured: 80–180 ms, a request that meets one waits that long). ``gc.freeze()`` moves
them to the permanent generation, which no collection walks; the thresholds make the
young collections rarer, since a request's objects die by reference counting, not by
the collector.

gunicorn calls ``dopo_il_caricamento`` from ``post_worker_init`` (``gunicorn.conf.py``);
nothing here changes what a request computes, only when the collector runs.
"""

from __future__ import annotations

import gc

# (generation 0, 1, 2): a young collection every 10,000 net container allocations
# instead of 700; generations 1 and 2 keep Python's defaults.
SOGLIE = (10_000, 10, 10)


def dopo_il_caricamento() -> None:
    """Collect what loading left behind, freeze the rest, raise the young threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SOGLIE)
