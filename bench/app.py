"""The app as served in benchmarks, plus one bare route to measure the server's own cost.

``gunicorn bench.app:app`` — the bare route goes through the same WSGI server, worker
and network path as the real ones, so a ratio to it cancels out this machine's noise.
"""

from asigest import create_app
from asigest.web.access import public

app = create_app()


@public
def bare():
    return "ok"


app.add_url_rule("/_bench/bare", "bench_bare", bare)
