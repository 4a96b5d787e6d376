"""Login throttling against the real database (services/auth.py + TentativiAccesso):
per badge and per client address, for the office password and the kiosk PIN, shared
by every process because it lives in the database."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from asigest.domain.accessi import LimitiAccesso
from asigest.errors import RuleViolation
from asigest.extensions import db
from asigest.models import LogEvento, TentativoAccesso
from asigest.models.types import utcnow
from asigest.services import auth
from asigest.services.auth import AccessoBloccato

IP = "10.0.0.7"
BLOCCATO = "Troppi tentativi errati: accesso bloccato per 15 minuti. Riprovare più tardi o rivolgersi al supervisore."


def sbaglia(session, matricola, *, volte=1, indirizzo=IP, pin=False, limiti=None):
    """``volte`` wrong logins; returns the exceptions raised (one per attempt)."""
    errori = []
    for _ in range(volte):
        with pytest.raises(RuleViolation) as exc:
            if pin:
                auth.authenticate_pin(
                    session, matricola, "0000", postazione="SMD-L1", indirizzo=indirizzo, limiti=limiti
                )
            else:
                auth.authenticate_password(session, matricola, "sbagliata!", indirizzo=indirizzo, limiti=limiti)
        errori.append(exc.value)
    return errori


def tentativi(session, **filtro) -> int:
    session.rollback()
    query = select(func.count()).select_from(TentativoAccesso)
    for nome, valore in filtro.items():
        query = query.where(getattr(TentativoAccesso, nome) == valore)
    return session.scalar(query)


def blocchi(session) -> list[LogEvento]:
    session.rollback()
    return list(session.scalars(select(LogEvento).where(LogEvento.azione == "ACCESSO_BLOCCATO").order_by(LogEvento.id)))


def invecchia(session, minuti: float) -> None:
    """Move every recorded failure ``minuti`` into the past (time passing)."""
    session.rollback()
    for riga in session.scalars(select(TentativoAccesso)):
        riga.data_ora -= timedelta(minutes=minuti)
    session.commit()


def test_five_wrong_passwords_lock_the_badge_even_for_the_right_one(db_session, make_user):
    user = make_user(matricola="B100")
    errori = sbaglia(db_session, "B100", volte=5)
    assert [e.code for e in errori] == ["CREDENZIALI_ERRATE"] * 4 + ["ACCESSO_BLOCCATO"]
    assert errori[-1].status == 429 and errori[-1].text() == BLOCCATO
    # Locked: the right password is refused without being checked, and not counted.
    with pytest.raises(AccessoBloccato):
        auth.authenticate_password(db_session, "B100", "password123", indirizzo=IP)
    assert tentativi(db_session, matricola="B100") == 5
    [evento] = blocchi(db_session)
    assert evento.entita == "Utenti" and evento.entita_id == user.id and evento.utente_id is None
    assert evento.dettagli["dopo"]["Motivo"] == "BADGE"
    assert evento.dettagli["dopo"]["Matricola"] == "B100" and evento.dettagli["dopo"]["Indirizzo"] == IP


def test_an_unknown_badge_locks_the_same_way(db_session):
    """Same messages, same lock: the answer never tells whether the badge exists."""
    errori = sbaglia(db_session, "NESSUNO", volte=5)
    assert [e.code for e in errori] == ["CREDENZIALI_ERRATE"] * 4 + ["ACCESSO_BLOCCATO"]
    assert errori[-1].text() == BLOCCATO
    [evento] = blocchi(db_session)
    assert evento.entita_id is None and evento.dettagli["dopo"]["Matricola"] == "NESSUNO"


def test_the_lock_ends_after_its_time(db_session, make_user):
    make_user(matricola="B101")
    sbaglia(db_session, "B101", volte=5)
    invecchia(db_session, 10)
    with pytest.raises(AccessoBloccato) as exc:
        auth.authenticate_password(db_session, "B101", "password123", indirizzo=IP)
    assert exc.value.params["minuti"] == 5
    invecchia(db_session, 5.1)
    assert auth.authenticate_password(db_session, "B101", "password123", indirizzo=IP).matricola == "B101"


def test_a_successful_login_resets_the_badge_count(db_session, make_user):
    make_user(matricola="B102")
    sbaglia(db_session, "B102", volte=4)
    auth.authenticate_password(db_session, "B102", "password123", indirizzo=IP)
    errori = sbaglia(db_session, "B102", volte=4)
    assert {e.code for e in errori} == {"CREDENZIALI_ERRATE"}
    assert auth.authenticate_password(db_session, "B102", "password123", indirizzo=IP)
    # The failures stay on record (the trail), they just no longer count.
    assert tentativi(db_session, matricola="B102") == 8


def test_pin_and_password_failures_count_together(db_session, make_user):
    make_user(matricola="B103", pin="2468")
    sbaglia(db_session, "B103", volte=3, pin=True)
    errori = sbaglia(db_session, "B103", volte=2)
    assert errori[-1].code == "ACCESSO_BLOCCATO"
    with pytest.raises(AccessoBloccato):
        auth.authenticate_pin(db_session, "B103", "2468", postazione="SMD-L1", indirizzo=IP)
    assert tentativi(db_session, tipo="PIN") == 3 and tentativi(db_session, tipo="PASSWORD") == 2


def test_twenty_failures_from_one_address_lock_the_address(db_session, make_user):
    """Guessing across many badges: the address is locked after 20, for every badge, while
    other addresses keep working."""
    make_user(matricola="B104")
    for n in range(19):
        sbaglia(db_session, f"X{n:03d}")
    [ultimo] = sbaglia(db_session, "X999")
    assert ultimo.code == "ACCESSO_BLOCCATO"
    with pytest.raises(AccessoBloccato):
        auth.authenticate_password(db_session, "B104", "password123", indirizzo=IP)
    assert auth.authenticate_password(db_session, "B104", "password123", indirizzo="10.0.0.8").matricola == "B104"
    [evento] = blocchi(db_session)
    assert evento.dettagli["dopo"]["Motivo"] == "INDIRIZZO" and evento.postazione == IP


def test_the_limits_are_settings(db_session, make_user):
    make_user(matricola="B105")
    limiti = LimitiAccesso(max_badge=2, blocco=timedelta(minutes=1))
    errori = sbaglia(db_session, "B105", volte=2, limiti=limiti)
    assert errori[-1].code == "ACCESSO_BLOCCATO"
    assert errori[-1].text() == BLOCCATO.replace("per 15 minuti", "per 1 minuto")


def test_old_failures_are_pruned(db_session):
    sbaglia(db_session, "VECCHIO")
    invecchia(db_session, 31 * 24 * 60)
    sbaglia(db_session, "NUOVO")
    assert tentativi(db_session, matricola="VECCHIO") == 0
    assert tentativi(db_session, matricola="NUOVO") == 1


def test_failures_in_parallel_sessions_all_count(app, db_session, make_user):
    """Several processes failing at the same instant: one row each, none lost, the lock
    holds for all of them (state in the database, not in a process), and the failure that
    reached the threshold is told so (SERIALIZABLE on PostgreSQL, one writer on SQLite)."""
    make_user(matricola="B106")
    engine = db.engine
    partenza = threading.Barrier(6)
    esiti: list[str] = []

    def prova():
        with Session(engine) as session:
            partenza.wait()
            try:
                auth.authenticate_password(session, "B106", "sbagliata!", indirizzo=IP)
            except RuleViolation as exc:
                esiti.append(exc.code)

    threads = [threading.Thread(target=prova) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(esiti) == 6
    # Either recorded (all 6 raced past the check) or refused as locked: never more than 6,
    # never fewer than the 5 that make the lock.
    assert 5 <= tentativi(db_session, matricola="B106") <= 6
    assert "ACCESSO_BLOCCATO" in esiti
    with pytest.raises(AccessoBloccato):
        auth.authenticate_password(db_session, "B106", "password123", indirizzo=IP)
    # Counted as if one after the other: exactly one failure started the lock.
    assert len(blocchi(db_session)) == 1


def test_failure_rows_carry_what_the_trail_needs(db_session):
    sbaglia(db_session, "  B107  ", pin=True, indirizzo="fe80::1")
    db_session.rollback()
    riga = db_session.scalar(select(TentativoAccesso))
    assert (riga.tipo, riga.matricola, riga.indirizzo) == ("PIN", "B107", "fe80::1")
    assert abs((utcnow() - riga.data_ora).total_seconds()) < 60
