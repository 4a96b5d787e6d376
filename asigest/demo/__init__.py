"""The demo data set behind ``flask --app wsgi demo`` (SPEC §8): a client of the services
(people through ``auth.create_user``, audit rows through ``audit.record``), never used by them.

Three parts, in this order:

1. **ERP demo database** (``erp.py``): a SQLite file with ~400 realistic COMMESSE, written
   through its own plain engine (never the app's read-only ERP bind), with the rollback
   journal SQLite uses by default so that the read-only opener and file-lock checks behave
   as with a file other tools share.
2. **People** through ``auth.create_user`` (``storico.utenti_demo``), so the hashes and
   audit rows are exactly what the application makes.
3. **Weeks of history** in one transaction (``storico.py``): machines, ~40 configured
   commesse and their fasi, and the lotti a simulated plant would have produced in the
   last six weeks; then the shift calendar, the machines' stops over those weeks and the
   cycle times (``fermi.py``), so the OEE of the demo is meaningful.

The history is a small discrete-event simulation (``simulazione.py``), not random rows:
machines pick work in shift hours (Europe/Rome, Mon–Fri 06–22, Sat 06–14) in time order,
and every lotto is opened only with the quantity R5 makes available *at its opening
instant* (a later fase sees only what the previous enabled fase had closed by then).
Closing follows R7, fase totals and states follow R8, so the data passes every check the
application and the database apply. Machine speeds are scaled to the chosen workload so
the SMD lines still have a backlog at ``now``: a few lotti are open then, one of them for
~20 hours (R13), and the last configured commesse have not started yet.

Because R5 lets only the first enabled fase make up for scrap, a later fase that
scrapped anything ends a few pieces short of QtaPrevista and stays IN_CORSO: closing
it is the supervisor's manual R8 decision, which the demo does not make up.

The people, machines, customers and boards are in ``cast.py``. The same ``seed`` always
gives the same data; dates are relative to ``now``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import false, func, select

from asigest.demo.cast import MACCHINE, UTENTI
from asigest.demo.erp import genera_erp, scrivi_erp
from asigest.demo.fermi import crea_fermi
from asigest.demo.storico import crea_storico, utenti_demo
from asigest.models import ConfigCommessa, Fase, LogEvento, Lotto, Macchina, Utente
from asigest.services import audit
from asigest.services.uow import transaction

log = logging.getLogger(__name__)

# Azione of the row that marks a complete demo (written in the history's transaction).
AZIONE_DEMO = "DEMO_CREATA"


# -- summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What ``build_demo`` made (or found, when only the ERP file was rebuilt)."""

    commesse_erp: int
    configurate: int
    macchine: int
    utenti: int
    lotti: int
    lotti_aperti: int
    solo_erp: bool = False

    def describe(self) -> str:
        """One Italian line for the command line."""
        dati = (
            f"{self.configurate} configurate, {self.macchine} macchine, {self.utenti} utenti, "
            f"{_migliaia(self.lotti)} lotti ({self.lotti_aperti} aperti)"
        )
        if self.solo_erp:
            return (
                f"ERP demo ricreato: {_migliaia(self.commesse_erp)} commesse ERP. "
                f"Dati ASI_GEST già presenti e lasciati invariati: {dati}."
            )
        return f"Demo pronta: {_migliaia(self.commesse_erp)} commesse ERP, {dati}."


def _migliaia(n: int) -> str:
    """``1234`` → ``1.234``, the Italian way."""
    return f"{n:,}".replace(",", ".")


# -- public interface ------------------------------------------------------------------


def is_loaded(session) -> bool:
    """True when the demo's history is in ASI_GEST.

    Checked on the marker row written in the same transaction as the history rather than
    on the demo users: users are created first, one commit each, so a run that failed
    later leaves them behind without the rest, and that must not count as loaded.
    """
    marker = select(LogEvento.id).where(LogEvento.azione == AZIONE_DEMO).limit(1)
    return session.scalar(marker) is not None


def logins_text() -> str:
    """The demo logins and kiosk addresses, in Italian, for the command line."""
    righe = ["Accessi demo (pagina /login, campi matricola e password):"]
    righe.append(f"  {'Ruolo':<13}{'Matricola':<15}Password")
    for u in UTENTI:
        if u.password:
            righe.append(f"  {u.ruolo.capitalize():<13}{u.matricola:<15}{u.password}")
    righe.append("Operatori (badge = matricola, poi PIN sul terminale):")
    righe.append(f"  {'Matricola':<11}{'PIN':<6}{'Nome':<21}Reparto")
    for u in UTENTI:
        if u.pin:
            righe.append(f"  {u.matricola:<11}{u.pin:<6}{u.nome + ' ' + u.cognome:<21}{u.reparto}")
    righe.append("Terminali (un browser per macchina):")
    for m in MACCHINE:
        righe.append(f"  /kiosk/{m.codice:<12}{m.descrizione}")
    return "\n".join(righe)


def build_demo(session, erp_path: Path, *, seed: int = 2026, now: datetime | None = None) -> DemoSummary:
    """Write the demo ERP file at ``erp_path`` and, unless already there, the demo's
    people, machines, configured commesse and six weeks of lotti in ASI_GEST.

    When ASI_GEST already holds the demo (``is_loaded``) only the ERP file is rebuilt:
    with the same seed it has the same orders, ids and quantities as the first time,
    so the configurations still match it. Existing users with a demo badge are kept
    as they are. ``now`` must be timezone-aware; it defaults to the current instant.

    Raises ValueError for a naive ``now``, InvalidInput/Conflict from user creation, and
    the database's IntegrityError if ASI_GEST already has machines with the demo codes
    (the history then rolls back as a whole).
    """
    now = _utc(now)
    erp_path = Path(erp_path)
    articoli, ordini = genera_erp(random.Random(f"{seed}:erp"), now.date())
    if is_loaded(session):
        pianta_scostamenti(session, ordini)
        scrivi_erp(erp_path, ordini)
        log.info("Dati demo già presenti in ASI_GEST: ricreato solo l'ERP demo %s", erp_path)
        return _conta(session, len(ordini), solo_erp=True)
    scrivi_erp(erp_path, ordini)
    utenti = utenti_demo(session)
    with transaction(session):
        crea_storico(session, random.Random(f"{seed}:storico"), ordini, articoli, utenti, now)
        crea_fermi(session, random.Random(f"{seed}:fermi"), now, {o["ID"]: o.get("CODART") for o in ordini})
        audit.record(session, None, AZIONE_DEMO, "Demo", None, dopo={"seed": seed, "now": now.isoformat()})
    # The ERP "changes" after configuration, as it does in a plant, so the supervisor
    # pages have drift (R12) to show.
    pianta_scostamenti(session, ordini)
    scrivi_erp(erp_path, ordini)
    return _conta(session, len(ordini))


# The machine whose open lotto's order the demo ERP closes (R12 in red).
MACCHINA_COMMESSA_CHIUSA = "CTRL-AOI1"


def pianta_scostamenti(session, ordini: list[dict]) -> dict[int, str]:
    """Change two configured orders in the demo ERP rows, as the office would after
    configuration (R12): the order of the lotto left open on CTRL-AOI1 is closed
    ('C': grave, lotti are being worked for it), and the most recently configured order
    that has no lotto yet gets 100 more pieces. Chosen from ASI_GEST's rows, so the
    ERP-only rebuild plants the same ones. Returns ``{ERP ID: what changed}``.
    """
    per_id = {o["ID"]: o for o in ordini}
    piantati: dict[int, str] = {}
    chiusa = session.scalar(
        select(Fase.commessa_erp_id)
        .join(Lotto, Lotto.fase_id == Fase.id)
        .join(Macchina, Macchina.id == Lotto.macchina_id)
        .where(Macchina.codice == MACCHINA_COMMESSA_CHIUSA, Lotto.data_fine.is_(None))
    )
    if chiusa in per_id:
        per_id[chiusa]["STATOCOMMESSA"] = "C"
        piantati[chiusa] = "STATOCOMMESSA"
    con_lotti = select(Fase.commessa_erp_id).join(Lotto, Lotto.fase_id == Fase.id)
    nuova = session.scalars(
        select(ConfigCommessa)
        .where(ConfigCommessa.commessa_erp_id.not_in(con_lotti), ConfigCommessa.bloccata_documentazione == false())
        .order_by(ConfigCommessa.id.desc())
    ).first()
    if nuova is not None and nuova.commessa_erp_id in per_id and nuova.qta_erp:
        per_id[nuova.commessa_erp_id]["QTA"] = nuova.qta_erp + 100
        piantati[nuova.commessa_erp_id] = "QTA"
    return piantati


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("build_demo needs an aware datetime for now")
    return now.astimezone(UTC)


def _conta(session, commesse_erp: int, *, solo_erp: bool = False) -> DemoSummary:
    def count(column, *where):
        return session.scalar(select(func.count(column)).where(*where))

    return DemoSummary(
        commesse_erp=commesse_erp,
        configurate=count(ConfigCommessa.id),
        macchine=count(Macchina.id),
        utenti=count(Utente.id),
        lotti=count(Lotto.id),
        lotti_aperti=count(Lotto.id, Lotto.data_fine.is_(None)),
        solo_erp=solo_erp,
    )
