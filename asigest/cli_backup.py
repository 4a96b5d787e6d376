"""``flask --app wsgi backup PATH [--overwrite]``: a consistent copy of the SQLite ASI_GEST
database, made while the application runs (``services/backup.py``; README, "Backup e
ripristino")."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from asigest.errors import AsigestError
from asigest.services import backup


@click.command("backup")
@click.argument("percorso", metavar="PATH", type=click.Path())  # a str: "backup/" must stay a folder
@click.option("--overwrite", is_flag=True, help="Sostituisce PATH se esiste già.")
@with_appcontext
def backup_command(percorso: str, overwrite: bool):
    """Copy the SQLite ASI_GEST database to PATH (a file, or a folder for a dated name), safely while the app runs."""
    try:
        copia = backup.copia_database(current_app.config["DATABASE_URL"], percorso, sovrascrivi=overwrite)
    except AsigestError as error:
        click.echo(f"Errore: {error.text()}", err=True)
        sys.exit(1)
    click.echo(
        f"Copia del database ASI_GEST scritta in {copia.percorso} "
        f"({copia.dimensione / 1_048_576:.1f} MB in {copia.secondi:.1f} s, integrità verificata)."
    )
    click.echo(
        "I documenti tecnici non sono nel database: copiare anche la cartella "
        f"{current_app.config['DOCUMENTS_DIR']} (per esempio con rsync), dopo il database."
    )
