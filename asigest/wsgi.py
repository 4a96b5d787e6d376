"""The WSGI application of an installed ASI-GEST (the wheel): ``flask --app asigest.wsgi …``,
``gunicorn asigest.wsgi:app``, ``waitress-serve asigest.wsgi:app``. A checkout keeps using
the top-level ``wsgi.py``, which is the same two lines."""

from asigest import create_app

app = create_app()
