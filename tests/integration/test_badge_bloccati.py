"""Unlocking a badge locked by wrong PINs or passwords, against the real database
(services/auth.py, TentativiAccesso): the badge is free at once, its failures still count
for their address, the unlock is audited, and only an ADMIN frees an ADMIN's badge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from asigest.domain import hashing
from asigest.domain.accessi import LimitiAccesso
from asigest.domain.actor import Actor
from asigest.errors import Forbidden, NotFound, RuleViolation
from asigest.models import LogEvento, TentativoAccesso
from asigest.models.types import utcnow
from asigest.services import auth
from asigest.services.auth import AccessoBloccato

LIMITI = LimitiAccesso()
IP = "10.0.0.7"


def eventi(session, azione: str) -> list[LogEvento]:
    session.rollback()
    return list(session.scalars(select(LogEvento).where(LogEvento.azione == azione).order_by(LogEvento.id)))


def accedi(session, matricola: str, *, postazione: str = "SMD-L1", indirizzo: str = IP):
    """A kiosk login with PIN 2468 and a new session; returns the Actor."""
    return auth.authenticate_pin(
        session,
        matricola,
        "2468",
        postazione=postazione,
        indirizzo=indirizzo,
        sessione=hashing.new_session_secret(),
        limiti=LIMITI,
    )


@pytest.fixture
def capo(make_user):
    return make_user(ruolo="SUPERVISORE", matricola="C001", pin="2468")


@pytest.fixture
def admin_actor(make_user):
    return auth.actor_for(make_user(ruolo="ADMIN", matricola="A001"))


def blocca(session, matricola: str, *, indirizzo: str = IP, volte: int = 5):
    """``volte`` wrong PINs for ``matricola`` from ``indirizzo`` (five lock the badge)."""
    for _ in range(volte):
        with pytest.raises(RuleViolation):
            auth.authenticate_pin(session, matricola, "0000", postazione="SMD-L1", indirizzo=indirizzo, limiti=LIMITI)


def test_locked_badges_lists_the_locked_ones_only(db_session, capo, make_user):
    libero = make_user(ruolo="OPERATORE", matricola="O001", pin="2468")
    blocca(db_session, "C001")
    blocca(db_session, "O001", volte=3)
    blocca(db_session, "NESSUNO")  # an unknown badge is locked too, but is nobody's
    [b] = auth.locked_badges(db_session, LIMITI)
    assert (b.utente_id, b.matricola, b.tentativi) == (capo.id, "C001", 5)
    assert b.fino_a - utcnow() > timedelta(minutes=14)
    assert auth.badge_lock_end(db_session, libero, LIMITI) is None


def test_an_unlock_frees_the_badge_at_once_and_is_audited(db_session, capo, admin_actor):
    blocca(db_session, "C001")
    utente, fine = auth.unlock_badge(db_session, actor=admin_actor, utente_id=capo.id, limiti=LIMITI)
    assert utente.id == capo.id and fine is not None
    assert auth.locked_badges(db_session, LIMITI) == []
    assert accedi(db_session, "C001").utente_id == capo.id
    [evento] = eventi(db_session, "ACCESSO_SBLOCCATO")
    assert evento.utente_id == admin_actor.utente_id and evento.entita_id == capo.id
    assert evento.dettagli == {
        "prima": {"FinoA": fine.isoformat()},
        "dopo": {"Matricola": "C001", "TentativiAzzerati": 5},
    }


def test_an_unlock_leaves_the_address_lock_in_place(db_session, capo, make_user):
    for n in range(3):
        make_user(ruolo="OPERATORE", matricola=f"O{n}", pin="2468")
        blocca(db_session, f"O{n}")
    blocca(db_session, "C001")  # the 20th failure from the address: badge and address locked
    admin = auth.actor_for(make_user(ruolo="ADMIN", matricola="A002"))
    assert auth.unlock_badge(db_session, actor=admin, utente_id=capo.id, limiti=LIMITI)[1] is not None
    with pytest.raises(AccessoBloccato):
        accedi(db_session, "C001")  # from the locked address: still refused
    assert accedi(db_session, "C001", indirizzo="10.0.0.8").utente_id == capo.id  # elsewhere: in
    db_session.rollback()
    assert (
        db_session.scalar(select(func.count()).select_from(TentativoAccesso).where(TentativoAccesso.indirizzo == IP))
        == 20
    )


def test_unlocking_a_free_badge_writes_nothing(db_session, capo, admin_actor):
    assert auth.unlock_badge(db_session, actor=admin_actor, utente_id=capo.id, limiti=LIMITI) == (capo, None)
    assert eventi(db_session, "ACCESSO_SBLOCCATO") == []


def test_only_an_admin_unlocks_an_admins_badge(db_session, capo, make_user):
    admin = make_user(ruolo="ADMIN", matricola="A003")
    for _ in range(5):
        with pytest.raises(RuleViolation):
            auth.authenticate_password(db_session, "A003", "sbagliata!", indirizzo=IP, limiti=LIMITI)
    supervisore = Actor(utente_id=capo.id, matricola="C001", ruolo="SUPERVISORE")
    with pytest.raises(Forbidden):
        auth.unlock_badge(db_session, actor=supervisore, utente_id=admin.id, limiti=LIMITI)
    with pytest.raises(NotFound):
        auth.unlock_badge(db_session, actor=supervisore, utente_id=999_999, limiti=LIMITI)
    assert [b.utente_id for b in auth.locked_badges(db_session, LIMITI)] == [admin.id]
