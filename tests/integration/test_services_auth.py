"""People and credentials (services/auth.py) and the base catalog (services/catalog.py)
against the real ASI_GEST database."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from asigest.domain import hashing
from asigest.domain.actor import Actor
from asigest.errors import Conflict, InvalidInput, NotFound, RuleViolation
from asigest.models import ApiToken, CausaleScarto, FaseTipo, LogEvento, Utente
from asigest.services import auth
from asigest.services.catalog import BASE_CAUSALI, BASE_FASI, ensure_base_catalog


def create(session, **overrides) -> Utente:
    values = {
        "actor": None,
        "matricola": "B001",
        "nome": "Mario",
        "cognome": "Rossi",
        "ruolo": "SUPERVISORE",
        "password": "password123",
        "pin": None,
    }
    values.update(overrides)
    return auth.create_user(session, **values)


def eventi(session, azione: str) -> list[LogEvento]:
    return list(session.scalars(select(LogEvento).where(LogEvento.azione == azione).order_by(LogEvento.id)))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def commits(db_session):
    """How many times the session commits during the test."""
    seen = []
    session = db_session()

    def on_commit(_session):
        seen.append(1)

    event.listen(session, "after_commit", on_commit)
    yield seen
    event.remove(session, "after_commit", on_commit)


# -- create_user ---------------------------------------------------------------------------


def test_create_user_stores_argon2_hashes_not_the_secrets(db_session):
    utente = create(db_session, ruolo="OPERATORE", password="segreto-lungo", pin="4321")
    db_session.expire_all()
    stored = db_session.get(Utente, utente.id)
    assert stored.password_hash.startswith("$argon2id$") and stored.pin_hash.startswith("$argon2id$")
    assert "segreto-lungo" not in stored.password_hash and "4321" not in stored.pin_hash


def test_create_user_without_password_or_pin_stores_no_hash(db_session):
    utente = create(db_session, password=None, pin=None)
    assert utente.password_hash is None and utente.pin_hash is None


def test_create_user_trims_names_and_badge(db_session):
    utente = create(db_session, matricola="  B777 ", nome=" Anna ", cognome=" Bianchi ")
    assert (utente.matricola, utente.nome, utente.cognome) == ("B777", "Anna", "Bianchi")
    assert utente.attivo is True


def test_duplicate_matricola_is_a_conflict(db_session):
    create(db_session, matricola="B001")
    with pytest.raises(Conflict) as raised:
        create(db_session, matricola="B001", nome="Altro")
    assert "B001" in raised.value.text()
    assert count(db_session, Utente) == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"ruolo": "CAPO"}, "ruolo"),
        ({"ruolo": "operatore"}, "ruolo"),
        ({"pin": "12"}, "pin"),
        ({"pin": "123456789"}, "pin"),
        ({"pin": "12a4"}, "pin"),
        ({"password": "corta"}, "password"),
        ({"matricola": "   "}, "matricola"),
        ({"nome": ""}, "nome"),
        ({"cognome": " "}, "cognome"),
    ],
)
def test_bad_input_is_reported_on_its_field(db_session, overrides, field):
    with pytest.raises(InvalidInput) as raised:
        create(db_session, **overrides)
    assert list(raised.value.errors) == [field]
    assert raised.value.errors[field][0]
    assert count(db_session, Utente) == 0


def test_every_bad_field_is_reported_at_once(db_session):
    with pytest.raises(InvalidInput) as raised:
        create(db_session, matricola="", ruolo="X", pin="1", password="x")
    assert set(raised.value.errors) == {"matricola", "ruolo", "pin", "password"}


def test_create_user_writes_its_audit_row(db_session, make_user):
    admin = make_user(ruolo="ADMIN")
    actor = auth.actor_for(admin)
    utente = create(db_session, actor=actor, matricola="B050", ruolo="OPERATORE", password=None, pin="1234")
    [evento] = [e for e in eventi(db_session, "UTENTE_CREATO") if e.entita_id == utente.id]
    assert evento.entita == "Utenti" and evento.utente_id == admin.id
    assert evento.dettagli == {"dopo": {"Matricola": "B050", "Nome": "Mario", "Cognome": "Rossi", "Ruolo": "OPERATORE"}}


def test_audit_row_never_holds_secrets(db_session):
    utente = create(db_session, password="segreto-lungo", pin="9876")
    [evento] = eventi(db_session, "UTENTE_CREATO")
    assert "segreto-lungo" not in str(evento.dettagli) and "9876" not in str(evento.dettagli)
    assert utente.password_hash not in str(evento.dettagli)


def test_user_and_audit_row_commit_together(db_session, commits):
    create(db_session)
    assert len(commits) == 1
    assert count(db_session, Utente) == 1 and len(eventi(db_session, "UTENTE_CREATO")) == 1


def test_user_is_not_created_when_its_audit_row_fails(db_session):
    # An actor id that no user has: the LogEventi row breaks its foreign key at commit.
    ghost = Actor(utente_id=999_999, matricola="NESSUNO", ruolo="ADMIN")
    with pytest.raises(IntegrityError):
        create(db_session, actor=ghost)
    assert count(db_session, Utente) == 0
    assert eventi(db_session, "UTENTE_CREATO") == []


# -- authenticate_password -------------------------------------------------------------------


def test_right_password_logs_in(db_session):
    utente = create(db_session, matricola="B010", ruolo="ADMIN")
    actor = auth.authenticate_password(db_session, "B010", "password123", postazione="10.0.0.5")
    assert (actor.utente_id, actor.matricola, actor.ruolo, actor.nome) == (utente.id, "B010", "ADMIN", "Mario Rossi")
    assert actor.postazione == "10.0.0.5"


def test_login_accepts_a_badge_with_spaces_around(db_session):
    create(db_session, matricola="B010")
    assert auth.authenticate_password(db_session, " B010\n", "password123").matricola == "B010"


def test_login_sets_ultimo_accesso(db_session):
    utente = create(db_session, matricola="B010")
    assert utente.ultimo_accesso is None
    auth.authenticate_password(db_session, "B010", "password123")
    db_session.expire_all()
    assert db_session.get(Utente, utente.id).ultimo_accesso is not None


def test_login_writes_a_login_audit_row(db_session):
    utente = create(db_session, matricola="B010")
    auth.authenticate_password(db_session, "B010", "password123", postazione="10.0.0.5")
    [evento] = eventi(db_session, "LOGIN")
    assert (evento.utente_id, evento.entita, evento.entita_id, evento.postazione) == (
        utente.id,
        "Utenti",
        utente.id,
        "10.0.0.5",
    )


def _login_failure(session, matricola, password) -> RuleViolation:
    with pytest.raises(RuleViolation) as raised:
        auth.authenticate_password(session, matricola, password)
    return raised.value


def test_every_login_failure_says_the_same_thing(db_session):
    create(db_session, matricola="B010")
    create(db_session, matricola="B011")
    create(db_session, matricola="B012", password=None, pin="1234")
    inattivo = db_session.scalar(select(Utente).where(Utente.matricola == "B011"))
    inattivo.attivo = False
    db_session.commit()

    failures = [
        _login_failure(db_session, "B010", "sbagliata1"),  # wrong password
        _login_failure(db_session, "NESSUNO", "password123"),  # unknown badge
        _login_failure(db_session, "B011", "password123"),  # right password, deactivated
        _login_failure(db_session, "B012", ""),  # operator without a password
        _login_failure(db_session, "", ""),
    ]
    assert {(f.code, f.text()) for f in failures} == {("CREDENZIALI_ERRATE", failures[0].text())}


def test_failed_login_writes_nothing(db_session):
    utente = create(db_session, matricola="B010")
    _login_failure(db_session, "B010", "sbagliata1")
    db_session.expire_all()
    assert db_session.get(Utente, utente.id).ultimo_accesso is None
    assert eventi(db_session, "LOGIN") == []


def test_load_actor_forgets_deactivated_users(db_session):
    utente = create(db_session)
    assert auth.load_actor(db_session, utente.id).matricola == utente.matricola
    utente.attivo = False
    db_session.commit()
    assert auth.load_actor(db_session, utente.id) is None
    assert auth.load_actor(db_session, 999_999) is None


# -- API tokens ---------------------------------------------------------------------------------


def test_token_is_stored_only_as_its_sha256(db_session):
    create(db_session, matricola="B020")
    token = auth.create_token(db_session, actor=None, matricola="B020", descrizione="MES linea 2")
    [record] = db_session.scalars(select(ApiToken))
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (record.token_hash, record.prefisso, record.descrizione)
    assert record.prefisso == token[:12] and token.startswith("asg_")


def test_token_creation_is_audited_without_the_token(db_session):
    create(db_session, matricola="B020")
    token = auth.create_token(db_session, actor=None, matricola="B020")
    [evento] = eventi(db_session, "TOKEN_CREATO")
    assert token not in str(evento.dettagli)


def test_token_authenticates_its_user(db_session):
    utente = create(db_session, matricola="B020", ruolo="OPERATORE", password=None, pin="1234")
    token = auth.create_token(db_session, actor=None, matricola="B020")
    actor = auth.authenticate_token(db_session, token)
    assert (actor.utente_id, actor.ruolo) == (utente.id, "OPERATORE")


def test_unknown_token_authenticates_nobody(db_session):
    create(db_session, matricola="B020")
    token = auth.create_token(db_session, actor=None, matricola="B020")
    assert auth.authenticate_token(db_session, token + "x") is None
    assert auth.authenticate_token(db_session, "") is None


def test_revoked_token_stops_working(db_session):
    create(db_session, matricola="B020")
    token = auth.create_token(db_session, actor=None, matricola="B020")
    [record] = db_session.scalars(select(ApiToken))
    auth.revoke_token(db_session, actor=None, token_id=record.id)
    assert auth.authenticate_token(db_session, token) is None
    assert len(eventi(db_session, "TOKEN_REVOCATO")) == 1


def test_revoking_twice_is_harmless(db_session):
    create(db_session, matricola="B020")
    auth.create_token(db_session, actor=None, matricola="B020")
    [record] = db_session.scalars(select(ApiToken))
    auth.revoke_token(db_session, actor=None, token_id=record.id)
    auth.revoke_token(db_session, actor=None, token_id=record.id)
    assert len(eventi(db_session, "TOKEN_REVOCATO")) == 1


def test_revoking_an_unknown_token_is_not_found(db_session):
    with pytest.raises(NotFound):
        auth.revoke_token(db_session, actor=None, token_id=999_999)


def test_deactivated_users_token_stops_working(db_session):
    utente = create(db_session, matricola="B020")
    token = auth.create_token(db_session, actor=None, matricola="B020")
    utente.attivo = False
    db_session.commit()
    assert auth.authenticate_token(db_session, token) is None


def test_no_token_for_an_unknown_badge(db_session):
    with pytest.raises(NotFound):
        auth.create_token(db_session, actor=None, matricola="NESSUNO")
    assert count(db_session, ApiToken) == 0


def test_no_token_for_a_deactivated_user(db_session):
    utente = create(db_session, matricola="B020")
    utente.attivo = False
    db_session.commit()
    with pytest.raises(RuleViolation):
        auth.create_token(db_session, actor=None, matricola="B020")
    assert count(db_session, ApiToken) == 0


def test_list_tokens_newest_first(db_session):
    create(db_session, matricola="B020")
    auth.create_token(db_session, actor=None, matricola="B020", descrizione="primo")
    auth.create_token(db_session, actor=None, matricola="B020", descrizione="secondo")
    assert [t.descrizione for t in auth.list_tokens(db_session)] == ["secondo", "primo"]


# -- base catalog ---------------------------------------------------------------------------------


def test_base_catalog_is_present_after_init(db_session):
    tipi = {ft.codice: ft.ordine for ft in db_session.scalars(select(FaseTipo))}
    assert tipi == {codice: ordine for codice, _, ordine in BASE_FASI}
    assert set(db_session.scalars(select(CausaleScarto.codice))) == {c for c, _, _ in BASE_CAUSALI}


def test_base_catalog_phase_types_require_no_documents(db_session):
    assert all(ft.documenti_richiesti == [] for ft in db_session.scalars(select(FaseTipo)))


def test_base_catalog_causali_point_at_their_phase(db_session):
    causali = {
        c.codice: (c.fase_tipo.codice if c.fase_tipo else None) for c in db_session.scalars(select(CausaleScarto))
    }
    assert causali == {codice: fase for codice, _, fase in BASE_CAUSALI}


def test_ensure_base_catalog_twice_adds_nothing(db_session):
    assert ensure_base_catalog(db_session) == 0
    assert count(db_session, FaseTipo) == len(BASE_FASI)
    assert count(db_session, CausaleScarto) == len(BASE_CAUSALI)


def test_ensure_base_catalog_keeps_what_the_plant_changed(db_session):
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    smd.descrizione = "Linea SMD reparto 2"
    smd.documenti_richiesti = ["PROGRAMMA_SMD"]
    causale = db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "MANIP"))
    causale.attiva = False
    db_session.commit()

    assert ensure_base_catalog(db_session) == 0
    db_session.expire_all()
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    assert (smd.descrizione, smd.documenti_richiesti) == ("Linea SMD reparto 2", ["PROGRAMMA_SMD"])
    assert db_session.scalar(select(CausaleScarto.attiva).where(CausaleScarto.codice == "MANIP")) is False


def test_ensure_base_catalog_restores_a_missing_entry(db_session):
    db_session.delete(db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "PCB-DIF")))
    db_session.commit()
    assert ensure_base_catalog(db_session) == 1
    assert db_session.scalar(select(CausaleScarto.descrizione).where(CausaleScarto.codice == "PCB-DIF"))
    assert eventi(db_session, "CATALOGO_INIZIALIZZATO")[-1].dettagli == {"dopo": {"righe_aggiunte": 1}}


def test_ensure_base_catalog_that_adds_nothing_writes_no_audit_row(db_session):
    before = len(eventi(db_session, "CATALOGO_INIZIALIZZATO"))
    ensure_base_catalog(db_session)
    assert len(eventi(db_session, "CATALOGO_INIZIALIZZATO")) == before


def test_a_pin_stored_with_older_parameters_logs_in_and_is_stored_again(db_session, make_user):
    """Changing the PIN's hash cost locks nobody out: the old hash verifies, and the
    good login stores the PIN again with today's parameters, in the login's transaction."""
    from argon2 import PasswordHasher

    operatore = make_user(ruolo="OPERATORE", password=None, pin="2468")
    vecchio = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash("2468")
    db_session.get(Utente, operatore.id).pin_hash = vecchio
    db_session.commit()
    auth.authenticate_pin(db_session, operatore.matricola, "2468", postazione="SMD-1")
    db_session.rollback()
    nuovo = db_session.get(Utente, operatore.id).pin_hash
    assert nuovo != vecchio and not hashing.pin_da_rifare(nuovo) and hashing.verify_pin(nuovo, "2468")
    riga = db_session.scalars(select(LogEvento).where(LogEvento.azione == "LOGIN_KIOSK")).one()
    assert riga.dettagli["dopo"] == {"PinRicalcolato": True}
    # The next login finds nothing to redo.
    auth.authenticate_pin(db_session, operatore.matricola, "2468", postazione="SMD-1")
    db_session.rollback()
    assert db_session.get(Utente, operatore.id).pin_hash == nuovo
