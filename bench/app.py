"""The app as served in benchmarks, plus bare routes to measure the server's own cost.

``gunicorn bench.app:app`` — the bare routes go through the same WSGI server, worker
and network path as the real ones, so a ratio to them cancels out this machine's noise:

- ``/_bench/bare``: plain text, nothing else;
- ``/_bench/json``: a small JSON object (Flask's own serialisation);
- ``/_bench/pk``: one ``SELECT`` by primary key through the app's session (a user row),
  answered as JSON: the floor of any route that reads the database.
"""

from flask import jsonify
from sqlalchemy import select

from asigest import create_app
from asigest.models import Utente
from asigest.web import deps
from asigest.web.access import public

app = create_app()


@public
def bare():
    return "ok"


@public
def bare_json():
    return jsonify({"ok": True, "n": 1})


@public
def bare_pk():
    riga = deps.session().execute(select(Utente.id, Utente.matricola).where(Utente.id == 1)).one_or_none()
    return jsonify({"UtenteID": riga[0] if riga else None, "Matricola": riga[1] if riga else None})


app.add_url_rule("/_bench/bare", "bench_bare", bare)
app.add_url_rule("/_bench/json", "bench_json", bare_json)
app.add_url_rule("/_bench/pk", "bench_pk", bare_pk)
