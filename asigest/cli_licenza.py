"""``flask --app wsgi license show | keygen | issue`` (SPEC §8, §10).

None of them opens a database. ``keygen`` and ``issue`` are the vendor's tools (run where
the private key lives, never on the customer's server); ``show`` is the customer's.

``show`` exits 0 when the license is in force (VALID, EXPIRING), 1 when it needs
attention but production goes on (MISSING, INVALID, EXPIRED within the grace period),
3 when new lotti are refused (EXPIRED past the grace period); 2 stays click's own
"wrong option" code. A monitoring script can alert on anything but 0.
"""

from __future__ import annotations

import secrets
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from asigest.domain import licenza as regole
from asigest.domain.periodo import oggi as oggi_in
from asigest.errors import AsigestError
from asigest.services import licenza as licenza_service

ESCE_IN_VIGORE, ESCE_ATTENZIONE, ESCE_BLOCCATA = 0, 1, 3


def _fail(error: AsigestError):
    click.echo(f"Errore: {error.text()}", err=True)
    sys.exit(1)


def codice_uscita(stato: regole.StatoLicenza) -> int:
    """``license show``'s exit status for a state (see the module docstring)."""
    if stato.stato in (regole.VALID, regole.EXPIRING):
        return ESCE_IN_VIGORE
    return ESCE_BLOCCATA if stato.oltre_tolleranza else ESCE_ATTENZIONE


@click.group("license", cls=AppGroup)  # subcommands run in an app context (settings)
def license_group():
    """License: show the installed one; create vendor keys and sign licenses."""


@license_group.command("show")
@click.option(
    "--file",
    "file_licenza",
    type=click.Path(dir_okay=False),
    default=None,
    help="Un file di licenza da controllare (predefinito: ASIGEST_LICENSE_FILE).",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False),
    default=None,
    help="Chiave pubblica PEM con cui verificarlo (predefinita: quella del fornitore incorporata).",
)
def license_show(file_licenza, public_key):
    """Print the license state, licensee, expiry, days left and terminals."""
    settings = current_app.config
    chiave = public_key or licenza_service.percorso_chiave(settings)
    stato = licenza_service.leggi_stato(
        file_licenza or settings.get("LICENSE_FILE"),
        chiave=chiave,
        oggi=oggi_in(settings["TIMEZONE"]),
    )
    click.echo(f"Stato: {stato.stato}")
    if stato.licenza is not None:
        lic = stato.licenza
        click.echo(f"Intestatario: {lic.licenziatario}")
        if lic.id_licenza:
            click.echo(f"Licenza n.: {lic.id_licenza}")
        click.echo(f"Emessa il: {lic.emessa.isoformat()}")
        click.echo(f"Scadenza: {lic.scadenza.isoformat()} (giorni rimasti: {stato.giorni_rimasti})")
        click.echo(
            f"Tolleranza: {lic.giorni_tolleranza} giorni, fino al {lic.fine_tolleranza.isoformat()}; "
            f"nuovi lotti rifiutati dal {lic.blocco_dal.isoformat()}"
        )
        click.echo(f"Terminali (macchine attive): {lic.max_terminali}")
        click.echo(f"Funzioni: {', '.join(lic.funzioni) or '—'}")
    if chiave is not None:
        click.echo(f"Chiave pubblica: {chiave} (non quella del fornitore incorporata nell'applicazione)")
    click.echo(stato.testo())
    sys.exit(codice_uscita(stato))


@license_group.command("keygen")
@click.option(
    "--out",
    "cartella",
    required=True,
    type=click.Path(file_okay=False),
    help="Cartella dove scrivere private.pem (0600) e public.pem; non deve contenerli già.",
)
def license_keygen(cartella):
    """Create a vendor key pair (Ed25519). The private key never leaves the vendor."""
    try:
        privata, pubblica = licenza_service.genera_chiavi(cartella)
    except AsigestError as error:
        _fail(error)
    click.echo(f"Chiave privata: {privata} (permessi 0600: conservarla, non distribuirla mai)")
    click.echo(f"Chiave pubblica: {pubblica}")
    click.echo(
        "Per incorporarla nell'applicazione prima di distribuirla, sostituire in asigest/domain/licenza.py "
        "le righe _CHIAVE_A e _CHIAVE_B con:"
    )
    click.echo(regole.righe_chiave(pubblica.read_bytes(), secrets.token_bytes(32)), nl=False)


@license_group.command("issue")
@click.option("--private-key", required=True, type=click.Path(dir_okay=False), help="La chiave privata del fornitore.")
@click.option("--licensee", required=True, help="Intestatario (ragione sociale del cliente).")
@click.option(
    "--expiry", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Ultimo giorno di validità, AAAA-MM-GG."
)
@click.option(
    "--max-terminals", required=True, type=click.IntRange(min=1), help="Macchine attive (terminali) permesse."
)
@click.option("--feature", "funzioni", multiple=True, help="Una funzione abilitata (ripetibile).")
@click.option(
    "--grace-days",
    default=regole.TOLLERANZA_PREDEFINITA,
    show_default=True,
    type=click.IntRange(min=0),
    help="Giorni dopo la scadenza in cui tutto funziona ancora, con un avviso.",
)
@click.option("--license-id", default=None, help="Identificativo (predefinito: data di emissione e un codice casuale).")
@click.option("--out", "uscita", required=True, type=click.Path(dir_okay=False), help="Il file di licenza da scrivere.")
def license_issue(private_key, licensee, expiry, max_terminals, funzioni, grace_days, license_id, uscita):
    """Sign a license file for a customer with the vendor's private key."""
    oggi = oggi_in(current_app.config["TIMEZONE"])
    try:
        licenza = licenza_service.emetti(
            chiave_privata=private_key,
            licenziatario=licensee,
            scadenza=expiry.date(),
            max_terminali=max_terminals,
            funzioni=funzioni,
            giorni_tolleranza=grace_days,
            id_licenza=license_id or f"{oggi:%Y%m%d}-{secrets.token_hex(4)}",
            oggi=oggi,
            uscita=uscita,
        )
    except AsigestError as error:
        _fail(error)
    click.echo(
        f"Licenza {licenza.id_licenza} per {licenza.licenziatario} fino al {licenza.scadenza.isoformat()} "
        f"scritta in {uscita}."
    )
