"""Login sessions against the real database (services/auth.py, services/sessioni.py,
table Sessioni): opened with the login, checked in one query, ended once, ended all
together by a new secret or deactivation."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from asigest.domain import hashing
from asigest.domain.accessi import LimitiAccesso
from asigest.extensions import db
from asigest.models import LogEvento, Sessione
from asigest.models.types import utcnow
from asigest.services import auth

LIMITI = LimitiAccesso()
IP = "10.0.0.7"


def eventi(session, azione: str) -> list[LogEvento]:
    session.rollback()
    return list(session.scalars(select(LogEvento).where(LogEvento.azione == azione).order_by(LogEvento.id)))


def accedi(
    session,
    matricola: str,
    *,
    kiosk: bool = False,
    sostituisce: str | None = None,
    postazione: str = "SMD-L1",
    indirizzo: str = IP,
):
    """Log in with a new session; returns (Actor, secret)."""
    segreto = hashing.new_session_secret()
    if kiosk:
        actor = auth.authenticate_pin(
            session,
            matricola,
            "2468",
            postazione=postazione,
            indirizzo=indirizzo,
            sessione=segreto,
            sostituisce=sostituisce,
            limiti=LIMITI,
        )
    else:
        actor = auth.authenticate_password(
            session,
            matricola,
            "password123",
            postazione=indirizzo,
            indirizzo=indirizzo,
            sessione=segreto,
            sostituisce=sostituisce,
            limiti=LIMITI,
        )
    return actor, segreto


@pytest.fixture
def capo(make_user):
    return make_user(ruolo="SUPERVISORE", matricola="C001", pin="2468")


@pytest.fixture
def admin_actor(make_user):
    admin = make_user(ruolo="ADMIN", matricola="A001")
    return auth.actor_for(admin)


@pytest.fixture
def statements(db_session):
    """The SQL statements sent while the test runs (list of strings)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_login_opens_its_row_with_the_login_audit_row(db_session, capo):
    actor, segreto = accedi(db_session, "C001")
    db_session.rollback()
    [riga] = db_session.scalars(select(Sessione)).all()
    assert (riga.utente_id, riga.tipo, riga.postazione, riga.data_fine) == (capo.id, "UFFICIO", IP, None)
    assert riga.chiave == hashing.token_digest(segreto) and actor.sessione_id == riga.id
    [evento] = eventi(db_session, "LOGIN")
    assert evento.dettagli == {"dopo": {"SessioneID": riga.id}}


def test_a_kiosk_login_binds_the_row_to_its_machine(db_session, capo):
    actor, segreto = accedi(db_session, "C001", kiosk=True, postazione="SMD-L2")
    assert auth.session_actor(db_session, segreto, "KIOSK", utente_id=capo.id, postazione="SMD-L2") == actor
    assert auth.session_actor(db_session, segreto, "KIOSK", utente_id=capo.id, postazione="SMD-L1") is None
    assert auth.session_actor(db_session, segreto, "UFFICIO", utente_id=capo.id) is None


def test_the_session_check_is_one_statement(db_session, capo, statements):
    utente_id = capo.id
    _, segreto = accedi(db_session, "C001")
    db_session.rollback()
    statements.clear()
    actor = auth.session_actor(db_session, segreto, "UFFICIO", utente_id=utente_id)
    assert actor.utente_id == utente_id and actor.sessione_id is not None
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements


def test_a_session_ends_once_and_a_replay_writes_nothing(db_session, capo):
    _, segreto = accedi(db_session, "C001")
    assert auth.end_session(db_session, segreto, motivo="LOGOUT", postazione=IP) is True
    assert auth.session_actor(db_session, segreto, "UFFICIO") is None
    db_session.rollback()
    fine = db_session.scalar(select(Sessione.data_fine))
    assert auth.end_session(db_session, segreto, motivo="LOGOUT") is False
    assert auth.end_session(db_session, "mai-esistito", motivo="LOGOUT") is False
    db_session.rollback()
    assert db_session.scalar(select(Sessione.data_fine)) == fine
    assert len(eventi(db_session, "LOGOUT")) == 1


def test_a_deactivated_user_has_no_session(db_session, capo, admin_actor):
    _, segreto = accedi(db_session, "C001")
    auth.deactivate_user(db_session, actor=admin_actor, utente_id=capo.id)
    assert auth.session_actor(db_session, segreto, "UFFICIO") is None


def test_a_new_password_ends_every_session_but_the_actors_own(db_session, capo):
    io, mio = accedi(db_session, "C001")
    _, altro = accedi(db_session, "C001")
    _, chiosco = accedi(db_session, "C001", kiosk=True)
    auth.set_password(db_session, actor=io, utente_id=capo.id, password="nuova-password-1")
    assert auth.session_actor(db_session, mio, "UFFICIO") is not None
    assert auth.session_actor(db_session, altro, "UFFICIO") is None
    assert auth.session_actor(db_session, chiosco, "KIOSK") is None
    [evento] = eventi(db_session, "PASSWORD_REIMPOSTATA")
    assert evento.dettagli == {"dopo": {"SessioniChiuse": 2}}


def test_changes_that_are_not_secrets_keep_the_sessions(db_session, capo, admin_actor):
    _, segreto = accedi(db_session, "C001")
    auth.update_user(db_session, actor=admin_actor, utente_id=capo.id, nome="Nuovo", ruolo="ADMIN")
    assert auth.session_actor(db_session, segreto, "UFFICIO").ruolo == "ADMIN"


def test_a_change_that_ends_no_session_says_nothing_about_sessions(db_session, capo, admin_actor):
    auth.reset_pin(db_session, actor=admin_actor, utente_id=capo.id, pin="97531")
    [evento] = eventi(db_session, "PIN_REIMPOSTATO")
    assert evento.dettagli is None


def test_the_database_holds_the_session_rules(db_session, capo):
    adesso = utcnow()
    for campi in (
        {"tipo": "ALTRO"},
        {"data_fine": adesso},
        {"motivo_fine": "LOGOUT"},
        {"data_fine": adesso, "motivo_fine": "BOH"},
    ):
        db_session.add(
            Sessione(**{"utente_id": capo.id, "chiave": "0" * 64, "tipo": "UFFICIO", "data_inizio": adesso, **campi})
        )
        with pytest.raises(IntegrityError):
            db_session.commit()
        db_session.rollback()
    for _ in range(2):
        db_session.add(Sessione(utente_id=capo.id, chiave="1" * 64, tipo="KIOSK", data_inizio=adesso))
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()
