"""Commands: ``flask --app wsgi init | demo | user create | token create|list|revoke`` (SPEC §8),
``origini`` and ``commesse-aperte``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from asigest import demo
from asigest.domain.anagrafiche import LINGUE
from asigest.domain.ruoli import RUOLI
from asigest.errors import AsigestError
from asigest.extensions import db
from asigest.services import auth as auth_service
from asigest.services import catalog, riepilogo_kpi

log = logging.getLogger(__name__)


def _fail(error: AsigestError):
    detail = ""
    if error.errors:
        detail = " " + "; ".join(f"{k}: {', '.join(v)}" for k, v in error.errors.items())
    click.echo(f"Errore: {error.text()}{detail}", err=True)
    sys.exit(1)


def run_init() -> int:
    """Migrations to the latest revision, the base catalog, and the KPIs' daily summary
    when it is not kept for the plant's zone yet; returns catalog rows added."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    added = catalog.ensure_base_catalog(db.session)
    riepilogo_kpi.assicura(db.session, current_app.config["TIMEZONE"])
    return added


@click.command("init")
def init_command():
    """Create or upgrade the ASI_GEST schema and insert the base catalog (safe to repeat)."""
    added = run_init()
    click.echo(f"Database ASI_GEST pronto ({added} voci di catalogo aggiunte).")


def _demo_erp_path() -> Path:
    url = make_url(current_app.config["ERP_URL"])
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException(
            "La demo crea un ERP SQLite: ASIGEST_ERP_URL punta a un altro database e non verrà mai scritto."
        )
    path = url.database[len("file:") :] if url.database.startswith("file:") else url.database
    return Path(path)


@click.command("demo")
@click.option("--reset", is_flag=True, help="Cancella e ricrea i dati demo (ERP e ASI_GEST).")
def demo_command(reset: bool):
    """Set up the demo: ERP SQLite with orders, machines, people and weeks of lotti."""
    erp_path = _demo_erp_path()
    if reset:
        downgrade(directory=current_app.extensions["migrate"].directory, revision="base")
        erp_path.unlink(missing_ok=True)
    run_init()
    if demo.is_loaded(db.session) and erp_path.exists():
        click.echo("Dati demo già presenti (usare --reset per ricrearli).")
    else:
        summary = demo.build_demo(db.session, erp_path)
        click.echo(summary.describe())
    click.echo(demo.logins_text())


@click.group("user")
def user_group():
    """Manage users."""


@user_group.command("create")
@click.option("--matricola", required=True, help="Codice badge, unico.")
@click.option("--nome", required=True)
@click.option("--cognome", required=True)
@click.option("--ruolo", required=True, type=click.Choice(RUOLI, case_sensitive=False))
@click.option("--password", default=None, help="Per SUPERVISORE/ADMIN (login web).")
@click.option("--pin", default=None, help="Per OPERATORE (terminale), 4–8 cifre.")
@click.option(
    "--lingua", default="it", show_default=True, type=click.Choice(LINGUE), help="Lingua del terminale per l'utente."
)
def user_create(matricola, nome, cognome, ruolo, password, pin, lingua):
    """Create a user with hashed password and/or PIN."""
    try:
        utente = auth_service.create_user(
            db.session,
            actor=None,
            matricola=matricola,
            nome=nome,
            cognome=cognome,
            ruolo=ruolo.upper(),
            password=password,
            pin=pin,
            lingua=lingua,
        )
    except AsigestError as error:
        _fail(error)
    click.echo(f"Utente {utente.matricola} creato (id {utente.id}, {utente.ruolo}).")


@click.group("token")
def token_group():
    """Manage API tokens."""


@token_group.command("create")
@click.option("--matricola", required=True, help="L'utente per cui agisce il token.")
@click.option("--descrizione", default=None, help="A cosa serve (es. 'MES linea 2').")
def token_create(matricola, descrizione):
    """Create an API token; the token alone is the last line of output (shown only once)."""
    try:
        token = auth_service.create_token(db.session, actor=None, matricola=matricola, descrizione=descrizione)
    except AsigestError as error:
        _fail(error)
    click.echo(f"Token creato per {matricola}. Conservarlo ora: non sarà più mostrato.")
    click.echo(token)


@token_group.command("list")
def token_list():
    """List tokens (prefix, user, state); never the secret."""
    for record in auth_service.list_tokens(db.session):
        stato = "revocato" if record.data_revoca else "attivo"
        click.echo(f"{record.id}\t{record.prefisso}…\t{record.utente.matricola}\t{stato}\t{record.descrizione or ''}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id):
    """Revoke a token by its id (see ``token list``)."""
    try:
        auth_service.revoke_token(db.session, actor=None, token_id=token_id)
    except AsigestError as error:
        _fail(error)
    click.echo(f"Token {token_id} revocato.")


@click.command("origini")
def origini_command():
    """Rebuild the draws (R14) of lotti recorded without them, and say what could not be placed."""
    from asigest.services import origini

    with db.engine.begin() as conn:
        click.echo(origini.ricostruisci_storico(conn).descrivi())


@click.command("commesse-aperte")
def commesse_aperte_command():
    """Refresh the copy of the ERP's open orders that search reads, now (a timer running
    this more often than ASIGEST_COMMESSE_APERTE_SECONDS spares searches the wait)."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from asigest.erp import ErpGateway
    from asigest.models import CommessaAperta
    from asigest.services import commesse_aperte

    erp = ErpGateway(db.engines["erp"], current_app.config.get("ERP_SCHEMA"))
    try:
        aggiornata = commesse_aperte.aggiorna(db.session, erp, freschezza=timedelta(0))
    except AsigestError as error:
        _fail(error)
    if not aggiornata:
        click.echo("Un altro aggiornamento della copia è in corso: nulla da fare.")
        return
    aperte = db.session.scalar(select(func.count()).select_from(CommessaAperta))
    click.echo(f"Copia delle commesse aperte aggiornata: {aperte} commesse aperte.")


def init_app(app) -> None:
    for command in (init_command, demo_command, user_group, token_group, origini_command, commesse_aperte_command):
        app.cli.add_command(command)
    from asigest.cli_licenza import license_group

    app.cli.add_command(license_group)
    from asigest.cli_backup import backup_command

    app.cli.add_command(backup_command)
