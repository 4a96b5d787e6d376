"""gunicorn reads this file from its working directory (the repository, or the install
folder of docs/deploy.md): settings given on the command line still win."""

from asigest.processo import dopo_il_caricamento


def post_worker_init(worker):
    """In each worker, once the app is loaded: the collector out of the requests' tail."""
    dopo_il_caricamento()
