"""Master data against the real ASI_GEST database: users (services/auth.py) and machines,
scrap reasons, phase types (services/anagrafiche.py). Each rule and refusal, the audit
rows (before/after, never a secret) and the admin lock-out protection."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from asigest.domain import hashing
from asigest.errors import Conflict, InvalidInput, NotFound, RuleViolation
from asigest.models import ApiToken, CausaleScarto, Fase, FaseTipo, LogEvento, Lotto, Macchina, Utente
from asigest.models.documenti import TIPI_DOCUMENTO
from asigest.services import anagrafiche, audit, auth
from tests.lotti_fixture import lotto_factory


def eventi(session, azione: str | None = None) -> list[LogEvento]:
    session.rollback()  # read what is committed
    query = select(LogEvento).order_by(LogEvento.id)
    if azione:
        query = query.where(LogEvento.azione == azione)
    return list(session.scalars(query))


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def admin(make_user):
    """An active ADMIN and the Actor the services get for them."""
    utente = make_user(ruolo="ADMIN", matricola="A001")
    return auth.actor_for(utente)


@pytest.fixture
def operatore(make_user):
    return make_user(ruolo="OPERATORE", matricola="OP1", password=None, pin="1234", nome="Luca", cognome="Verdi")


def tipo(session, codice: str) -> FaseTipo:
    return session.scalar(select(FaseTipo).where(FaseTipo.codice == codice))


# -- users: update -----------------------------------------------------------------------------


def test_update_user_changes_fields_and_logs_only_what_changed(db_session, admin, operatore):
    auth.update_user(
        db_session, actor=admin, utente_id=operatore.id, nome=" Luigi ", cognome="Verdi", ruolo="SUPERVISORE"
    )
    db_session.expire_all()
    stored = db_session.get(Utente, operatore.id)
    assert (stored.nome, stored.cognome, stored.ruolo, stored.attivo) == ("Luigi", "Verdi", "SUPERVISORE", True)
    [evento] = eventi(db_session, "UTENTE_MODIFICATO")
    assert (evento.entita, evento.entita_id, evento.utente_id) == ("Utenti", operatore.id, admin.utente_id)
    assert evento.dettagli == {
        "prima": {"Nome": "Luca", "Ruolo": "OPERATORE"},
        "dopo": {"Nome": "Luigi", "Ruolo": "SUPERVISORE"},
    }


def test_update_without_changes_writes_no_audit_row(db_session, admin, operatore):
    auth.update_user(db_session, actor=admin, utente_id=operatore.id, nome="Luca")
    assert eventi(db_session, "UTENTE_MODIFICATO") == []


def test_badge_can_change_but_must_stay_unique(db_session, admin, operatore, make_user):
    altro = make_user(ruolo="OPERATORE", matricola="OP2", password=None, pin="5555")
    with pytest.raises(Conflict) as raised:
        auth.update_user(db_session, actor=admin, utente_id=altro.id, matricola=" OP1 ", nome="Cambiato")
    assert raised.value.code == "MATRICOLA_IN_USO" and raised.value.status == 409
    assert "OP1" in raised.value.text()
    db_session.expire_all()
    assert (db_session.get(Utente, altro.id).matricola, db_session.get(Utente, altro.id).nome) == ("OP2", "Mario")

    auth.update_user(db_session, actor=admin, utente_id=altro.id, matricola="OP3")
    assert db_session.get(Utente, altro.id).matricola == "OP3"
    # Keeping one's own badge is not a conflict.
    auth.update_user(db_session, actor=admin, utente_id=altro.id, matricola="OP3", nome="Anna")


def test_create_with_a_badge_in_use_is_a_conflict_with_its_code(db_session, admin, operatore):
    with pytest.raises(Conflict) as raised:
        auth.create_user(db_session, actor=admin, matricola="OP1", nome="X", cognome="Y", ruolo="OPERATORE", pin="9999")
    assert raised.value.code == "MATRICOLA_IN_USO"
    assert count(db_session, Utente) == 2


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"nome": "  "}, "nome"),
        ({"cognome": ""}, "cognome"),
        ({"matricola": " "}, "matricola"),
        ({"matricola": "X" * 31}, "matricola"),
        ({"nome": "N" * 61}, "nome"),
        ({"ruolo": "CAPOREPARTO"}, "ruolo"),
        ({"pin": "12"}, "pin"),
        ({"pin": "١٢٣٤"}, "pin"),  # Arabic-Indic digits: not on the kiosk keypad
        ({"password": "corta"}, "password"),
    ],
)
def test_update_user_reports_bad_fields_and_changes_nothing(db_session, admin, operatore, changes, field):
    before = eventi(db_session)
    with pytest.raises(InvalidInput) as raised:
        auth.update_user(db_session, actor=admin, utente_id=operatore.id, **changes)
    assert list(raised.value.errors) == [field]
    db_session.expire_all()
    stored = db_session.get(Utente, operatore.id)
    assert (stored.matricola, stored.nome, stored.cognome, stored.ruolo) == ("OP1", "Luca", "Verdi", "OPERATORE")
    assert eventi(db_session) == before


def test_update_unknown_user_is_not_found(db_session, admin):
    with pytest.raises(NotFound):
        auth.update_user(db_session, actor=admin, utente_id=999_999, nome="X")
    with pytest.raises(NotFound):
        auth.get_user(db_session, 999_999)


def test_a_bad_pin_also_stops_the_other_changes_of_the_same_request(db_session, admin, operatore):
    with pytest.raises(InvalidInput):
        auth.update_user(db_session, actor=admin, utente_id=operatore.id, nome="Nuovo", pin="1")
    db_session.expire_all()
    assert db_session.get(Utente, operatore.id).nome == "Luca"


def test_change_and_audit_commit_together(db_session, admin, operatore, monkeypatch):
    """R9: when the audit row cannot be written the change is rolled back too."""

    def broken(*args, **kwargs):
        raise RuntimeError("log non disponibile")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        auth.update_user(db_session, actor=admin, utente_id=operatore.id, nome="Nuovo")
    with pytest.raises(RuntimeError):
        anagrafiche.create_macchina(db_session, actor=admin, codice="SMD-X", fase_tipo="SMD")
    db_session.expire_all()
    assert db_session.get(Utente, operatore.id).nome == "Luca"
    assert count(db_session, Macchina) == 0


# -- users: deactivate, reactivate -------------------------------------------------------------


def test_deactivate_keeps_the_row_and_stops_logins_and_tokens(db_session, admin, make_user):
    utente = make_user(ruolo="SUPERVISORE", matricola="S1")
    token = auth.create_token(db_session, actor=admin, matricola="S1")
    assert auth.authenticate_token(db_session, token) is not None

    auth.deactivate_user(db_session, actor=admin, utente_id=utente.id)
    db_session.expire_all()
    stored = db_session.get(Utente, utente.id)
    assert stored is not None and stored.attivo is False
    assert auth.load_actor(db_session, utente.id) is None
    assert auth.authenticate_token(db_session, token) is None
    with pytest.raises(RuleViolation):
        auth.authenticate_password(db_session, "S1", "password123")
    [evento] = eventi(db_session, "UTENTE_DISATTIVATO")
    assert evento.entita_id == utente.id and evento.utente_id == admin.utente_id
    assert evento.dettagli == {"prima": {"Attivo": True}, "dopo": {"Attivo": False}}


def test_deactivating_twice_changes_nothing_the_second_time(db_session, admin, operatore):
    auth.deactivate_user(db_session, actor=admin, utente_id=operatore.id)
    auth.deactivate_user(db_session, actor=admin, utente_id=operatore.id)
    assert len(eventi(db_session, "UTENTE_DISATTIVATO")) == 1


def test_reactivate_lets_the_user_back_in(db_session, admin, make_user):
    utente = make_user(ruolo="SUPERVISORE", matricola="S1")
    auth.deactivate_user(db_session, actor=admin, utente_id=utente.id)
    auth.reactivate_user(db_session, actor=admin, utente_id=utente.id)
    assert auth.authenticate_password(db_session, "S1", "password123").utente_id == utente.id
    [evento] = eventi(db_session, "UTENTE_MODIFICATO")
    assert evento.dettagli == {"prima": {"Attivo": False}, "dopo": {"Attivo": True}}


def test_a_deactivated_operator_stays_on_the_lotti_they_made(db_session, admin, operatore):
    smd = tipo(db_session, "SMD")
    fase = Fase(commessa_erp_id=101, fase_tipo_id=smd.id, stato="IN_CORSO", qta_prevista=100)
    db_session.add(fase)
    db_session.commit()
    lotto = lotto_factory(db_session, operatore.id)(fase, 10, output=10)
    auth.deactivate_user(db_session, actor=admin, utente_id=operatore.id)
    db_session.expire_all()
    assert db_session.get(Lotto, lotto.id).operatore_id == operatore.id


# -- users: the admins cannot lock themselves out ---------------------------------------------------


def test_an_admin_cannot_deactivate_themself(db_session, admin, make_user):
    make_user(ruolo="ADMIN", matricola="A002")  # another admin exists: still refused
    with pytest.raises(RuleViolation) as raised:
        auth.deactivate_user(db_session, actor=admin, utente_id=admin.utente_id)
    assert raised.value.code == "AUTO_DISATTIVAZIONE" and raised.value.status == 400
    with pytest.raises(RuleViolation):
        auth.update_user(db_session, actor=admin, utente_id=admin.utente_id, attivo=False)
    db_session.expire_all()
    assert db_session.get(Utente, admin.utente_id).attivo is True
    assert eventi(db_session, "UTENTE_DISATTIVATO") == []


@pytest.mark.parametrize("ruolo", ["SUPERVISORE", "OPERATORE"])
def test_an_admin_cannot_demote_themself(db_session, admin, make_user, ruolo):
    make_user(ruolo="ADMIN", matricola="A002")
    with pytest.raises(RuleViolation) as raised:
        auth.update_user(db_session, actor=admin, utente_id=admin.utente_id, ruolo=ruolo)
    assert raised.value.code == "AUTO_DECLASSAMENTO"
    db_session.expire_all()
    assert db_session.get(Utente, admin.utente_id).ruolo == "ADMIN"


def test_an_admin_may_change_their_own_name_and_secrets(db_session, admin):
    auth.update_user(db_session, actor=admin, utente_id=admin.utente_id, nome="Anna", ruolo="ADMIN", attivo=True)
    auth.set_password(db_session, actor=admin, utente_id=admin.utente_id, password="una-nuova-password")
    assert auth.authenticate_password(db_session, "A001", "una-nuova-password").nome == "Anna Rossi"


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(db_session, admin, make_user):
    secondo = make_user(ruolo="ADMIN", matricola="A002")
    # Two admins: one may retire the other.
    auth.update_user(db_session, actor=admin, utente_id=secondo.id, ruolo="SUPERVISORE")
    # Now A001 is the last one: nobody (here the command line, actor None) may remove them.
    for changes in ({"attivo": False}, {"ruolo": "SUPERVISORE"}, {"ruolo": "OPERATORE", "attivo": False}):
        with pytest.raises(RuleViolation) as raised:
            auth.update_user(db_session, actor=None, utente_id=admin.utente_id, **changes)
        assert raised.value.code == "ULTIMO_ADMIN"
        assert "A001" in raised.value.text()
    db_session.expire_all()
    stored = db_session.get(Utente, admin.utente_id)
    assert (stored.ruolo, stored.attivo) == ("ADMIN", True)


def test_an_inactive_admin_does_not_count_as_a_spare(db_session, admin, make_user):
    dormiente = make_user(ruolo="ADMIN", matricola="A002")
    auth.deactivate_user(db_session, actor=admin, utente_id=dormiente.id)
    with pytest.raises(RuleViolation) as raised:
        auth.deactivate_user(db_session, actor=None, utente_id=admin.utente_id)
    assert raised.value.code == "ULTIMO_ADMIN"
    # An inactive admin can be demoted: it is not holding the door.
    auth.update_user(db_session, actor=admin, utente_id=dormiente.id, ruolo="OPERATORE")


def test_promoting_a_user_to_admin_is_always_allowed(db_session, admin, operatore):
    auth.update_user(db_session, actor=admin, utente_id=operatore.id, ruolo="ADMIN")
    # …and then the first admin may step down, since another one exists.
    auth.update_user(
        db_session,
        actor=auth.actor_for(db_session.get(Utente, operatore.id)),
        utente_id=admin.utente_id,
        ruolo="SUPERVISORE",
    )
    db_session.expire_all()
    assert db_session.get(Utente, admin.utente_id).ruolo == "SUPERVISORE"


# -- users: PIN and password ---------------------------------------------------------------------


def test_reset_pin_replaces_the_hash_and_logs_no_secret(db_session, admin, operatore):
    old_hash = operatore.pin_hash
    auth.reset_pin(db_session, actor=admin, utente_id=operatore.id, pin="24680")
    db_session.expire_all()
    stored = db_session.get(Utente, operatore.id)
    assert stored.pin_hash != old_hash and stored.pin_hash.startswith("$argon2id$")
    assert hashing.verify_secret(stored.pin_hash, "24680")
    assert not hashing.verify_secret(stored.pin_hash, "1234")
    [evento] = eventi(db_session, "PIN_REIMPOSTATO")
    assert (evento.entita, evento.entita_id, evento.utente_id) == ("Utenti", operatore.id, admin.utente_id)
    assert "24680" not in json.dumps(evento.dettagli) and "argon2" not in json.dumps(evento.dettagli)


def test_set_password_replaces_the_hash_and_logs_no_secret(db_session, admin, operatore):
    auth.set_password(db_session, actor=admin, utente_id=operatore.id, password="pass-del-capoturno")
    assert auth.authenticate_password(db_session, "OP1", "pass-del-capoturno").utente_id == operatore.id
    [evento] = eventi(db_session, "PASSWORD_REIMPOSTATA")
    assert evento.entita_id == operatore.id
    assert "pass-del-capoturno" not in json.dumps(evento.dettagli)


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", " 1234", None])
def test_reset_pin_refuses_a_bad_pin_and_keeps_the_old_one(db_session, admin, operatore, pin):
    with pytest.raises(InvalidInput) as raised:
        auth.reset_pin(db_session, actor=admin, utente_id=operatore.id, pin=pin)
    assert list(raised.value.errors) == ["pin"]
    db_session.expire_all()
    assert hashing.verify_secret(db_session.get(Utente, operatore.id).pin_hash, "1234")
    assert eventi(db_session, "PIN_REIMPOSTATO") == []


@pytest.mark.parametrize("password", ["", "1234567", "x" * 201, None])
def test_set_password_refuses_a_bad_password(db_session, admin, operatore, password):
    with pytest.raises(InvalidInput) as raised:
        auth.set_password(db_session, actor=admin, utente_id=operatore.id, password=password)
    assert list(raised.value.errors) == ["password"]
    assert eventi(db_session, "PASSWORD_REIMPOSTATA") == []


def test_no_audit_row_ever_holds_a_secret_or_a_hash(db_session, admin):
    utente = auth.create_user(
        db_session,
        actor=admin,
        matricola="Z9",
        nome="Zeno",
        cognome="Neri",
        ruolo="OPERATORE",
        pin="97531",
        password="segreto-iniziale",
    )
    auth.update_user(
        db_session, actor=admin, utente_id=utente.id, nome="Zeno2", pin="86420", password="segreto-nuovo-1"
    )
    auth.reset_pin(db_session, actor=admin, utente_id=utente.id, pin="11223")
    auth.set_password(db_session, actor=admin, utente_id=utente.id, password="segreto-nuovo-2")
    auth.deactivate_user(db_session, actor=admin, utente_id=utente.id)
    righe = eventi(db_session)
    assert {"UTENTE_CREATO", "UTENTE_MODIFICATO", "PIN_REIMPOSTATO", "PASSWORD_REIMPOSTATA", "UTENTE_DISATTIVATO"} <= {
        e.azione for e in righe
    }
    testo = json.dumps([e.dettagli for e in righe])
    for segreto in (
        "97531",
        "86420",
        "11223",
        "segreto-iniziale",
        "segreto-nuovo-1",
        "segreto-nuovo-2",
        "argon2",
        "PinHash",
        "PasswordHash",
    ):
        assert segreto not in testo


def test_pin_and_data_in_one_update_write_both_audit_rows(db_session, admin, operatore):
    auth.update_user(db_session, actor=admin, utente_id=operatore.id, cognome="Bianchi", pin="4321")
    assert [e.azione for e in eventi(db_session) if e.entita_id == operatore.id][-2:] == [
        "UTENTE_MODIFICATO",
        "PIN_REIMPOSTATO",
    ]
    assert hashing.verify_secret(db_session.get(Utente, operatore.id).pin_hash, "4321")


# -- users: list -------------------------------------------------------------------------------------


def test_list_users_filters_by_text_role_and_state(db_session, admin, make_user):
    make_user(ruolo="OPERATORE", matricola="B-100", nome="Giulia", cognome="Ferri", password=None, pin="1111")
    spento = make_user(ruolo="OPERATORE", matricola="B-200", nome="Paolo", cognome="Gallo", password=None, pin="2222")
    make_user(ruolo="SUPERVISORE", matricola="S_1", nome="Elena", cognome="Conti")
    auth.deactivate_user(db_session, actor=admin, utente_id=spento.id)

    def matricole(**filters):
        return [u.matricola for u in auth.list_users(db_session, **filters)]

    assert matricole() == ["S_1", "B-100", "B-200", "A001"]  # by surname: Conti, Ferri, Gallo, Rossi
    assert matricole(q="FERR") == ["B-100"]  # case-insensitive, on the surname
    assert matricole(q="giul") == ["B-100"]  # on the name
    assert matricole(q="b-2") == ["B-200"]  # on the badge
    assert matricole(q="_") == ["S_1"]  # a LIKE wildcard matches only itself
    assert matricole(q="%") == []
    assert matricole(ruolo="OPERATORE") == ["B-100", "B-200"]
    assert matricole(attivo=False) == ["B-200"]
    assert matricole(attivo=True, ruolo="OPERATORE") == ["B-100"]
    assert matricole(limit=2, offset=1) == ["B-100", "B-200"]


# -- tokens ---------------------------------------------------------------------------------------------


def test_token_description_is_limited_to_its_column(db_session, admin):
    with pytest.raises(InvalidInput) as raised:
        auth.create_token(db_session, actor=admin, matricola="A001", descrizione="x" * 101)
    assert list(raised.value.errors) == ["descrizione"]
    assert count(db_session, ApiToken) == 0


def test_revoke_token_returns_the_record(db_session, admin):
    auth.create_token(db_session, actor=admin, matricola="A001", descrizione="linea 2")
    record = db_session.scalar(select(ApiToken))
    revocato = auth.revoke_token(db_session, actor=admin, token_id=record.id)
    assert revocato.id == record.id and revocato.data_revoca is not None


# -- machines -----------------------------------------------------------------------------------------------


def test_create_machine_normalises_the_code_and_logs_it(db_session, admin):
    macchina = anagrafiche.create_macchina(
        db_session, actor=admin, codice=" smd-l9 ", fase_tipo="smd", descrizione=" Linea 9 ", reparto=" SMD "
    )
    assert (macchina.codice, macchina.descrizione, macchina.fase_tipo.codice, macchina.reparto, macchina.attiva) == (
        "SMD-L9",
        "Linea 9",
        "SMD",
        "SMD",
        True,
    )
    [evento] = eventi(db_session, "MACCHINA_CREATA")
    assert (evento.entita, evento.entita_id, evento.utente_id) == ("Macchine", macchina.id, admin.utente_id)
    assert evento.dettagli == {
        "dopo": {"Codice": "SMD-L9", "Descrizione": "Linea 9", "FaseTipo": "SMD", "Reparto": "SMD", "Attiva": True}
    }


def test_machine_code_is_unique_whatever_the_case(db_session, admin):
    anagrafiche.create_macchina(db_session, actor=admin, codice="PTH-01", fase_tipo="PTH")
    with pytest.raises(Conflict) as raised:
        anagrafiche.create_macchina(db_session, actor=admin, codice="pth-01", fase_tipo="SMD")
    assert raised.value.code == "CODICE_IN_USO" and "PTH-01" in raised.value.text()
    assert count(db_session, Macchina) == 1


@pytest.mark.parametrize(
    "values, field",
    [
        ({"codice": ""}, "codice"),
        ({"codice": "SMD L1"}, "codice"),
        ({"codice": "SMD/L1"}, "codice"),
        ({"codice": "-SMD"}, "codice"),
        ({"codice": "M" * 31}, "codice"),
        ({"fase_tipo": "VERNICIATURA"}, "fase_tipo"),
        ({"fase_tipo": ""}, "fase_tipo"),
        ({"descrizione": "d" * 101}, "descrizione"),
        ({"reparto": "r" * 51}, "reparto"),
    ],
)
def test_create_machine_reports_bad_fields(db_session, admin, values, field):
    arguments = {"codice": "SMD-L1", "fase_tipo": "SMD", **values}
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.create_macchina(db_session, actor=admin, **arguments)
    assert list(raised.value.errors) == [field]
    assert count(db_session, Macchina) == 0


def test_a_machine_needs_an_active_phase_type(db_session, admin):
    anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=tipo(db_session, "PTH").id, attivo=False)
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.create_macchina(db_session, actor=admin, codice="PTH-09", fase_tipo="PTH")
    assert "disattivato" in raised.value.errors["fase_tipo"][0]


def test_update_machine_logs_before_and_after(db_session, admin):
    macchina = anagrafiche.create_macchina(
        db_session, actor=admin, codice="CTRL-1", fase_tipo="CONTROLLI", reparto="Collaudo"
    )
    anagrafiche.update_macchina(
        db_session,
        actor=admin,
        macchina_id=macchina.id,
        codice="ctrl-aoi",
        fase_tipo="SMD",
        reparto="",
        descrizione="AOI",
    )
    db_session.expire_all()
    stored = db_session.get(Macchina, macchina.id)
    assert (stored.codice, stored.fase_tipo.codice, stored.reparto, stored.descrizione) == (
        "CTRL-AOI",
        "SMD",
        None,
        "AOI",
    )
    [evento] = eventi(db_session, "MACCHINA_MODIFICATA")
    assert evento.dettagli == {
        "prima": {"Codice": "CTRL-1", "Descrizione": "", "FaseTipo": "CONTROLLI", "Reparto": "Collaudo"},
        "dopo": {"Codice": "CTRL-AOI", "Descrizione": "AOI", "FaseTipo": "SMD", "Reparto": None},
    }


def test_update_machine_to_a_code_in_use_is_a_conflict(db_session, admin):
    anagrafiche.create_macchina(db_session, actor=admin, codice="SMD-L1", fase_tipo="SMD")
    seconda = anagrafiche.create_macchina(db_session, actor=admin, codice="SMD-L2", fase_tipo="SMD")
    with pytest.raises(Conflict) as raised:
        anagrafiche.update_macchina(db_session, actor=admin, macchina_id=seconda.id, codice="smd-l1")
    assert raised.value.code == "CODICE_IN_USO"
    with pytest.raises(NotFound):
        anagrafiche.update_macchina(db_session, actor=admin, macchina_id=999_999, codice="X")


@pytest.fixture
def macchina_con_lotto_aperto(db_session, admin, operatore):
    macchina = anagrafiche.create_macchina(db_session, actor=admin, codice="SMD-L1", fase_tipo="SMD")
    fase = Fase(commessa_erp_id=101, fase_tipo_id=macchina.fase_tipo_id, stato="IN_CORSO", qta_prevista=100)
    db_session.add(fase)
    db_session.flush()
    lotto = Lotto(
        fase_id=fase.id,
        progressivo=1,
        codice_lotto="2026-1234-SMD-001",
        data_inizio=datetime.now(UTC),
        qta_input=50,
        operatore_id=operatore.id,
        macchina_id=macchina.id,
    )
    db_session.add(lotto)
    db_session.commit()
    return macchina, lotto


def test_a_machine_with_an_open_lotto_cannot_be_deactivated_or_change_phase(
    db_session, admin, macchina_con_lotto_aperto
):
    macchina, lotto = macchina_con_lotto_aperto
    for change in ({"attiva": False}, {"fase_tipo": "PTH"}):
        with pytest.raises(RuleViolation) as raised:
            anagrafiche.update_macchina(db_session, actor=admin, macchina_id=macchina.id, **change)
        assert raised.value.code == "MACCHINA_CON_LOTTO_APERTO"
        assert "2026-1234-SMD-001" in raised.value.text()
    with pytest.raises(RuleViolation):
        anagrafiche.deactivate_macchina(db_session, actor=admin, macchina_id=macchina.id)
    # Other changes are fine while the lotto is open.
    anagrafiche.update_macchina(
        db_session, actor=admin, macchina_id=macchina.id, descrizione="Linea 1", fase_tipo="SMD"
    )

    lotto = db_session.get(Lotto, lotto.id)
    lotto.data_fine, lotto.qta_output, lotto.qta_scarti = datetime.now(UTC), 50, 0
    db_session.commit()
    anagrafiche.deactivate_macchina(db_session, actor=admin, macchina_id=macchina.id)
    db_session.expire_all()
    assert db_session.get(Macchina, macchina.id).attiva is False
    [evento] = eventi(db_session, "MACCHINA_DISATTIVATA")
    assert evento.dettagli == {"prima": {"Attiva": True}, "dopo": {"Attiva": False}}


def test_reactivating_a_machine_needs_its_phase_type_active(db_session, admin):
    macchina = anagrafiche.create_macchina(db_session, actor=admin, codice="PTH-01", fase_tipo="PTH")
    anagrafiche.deactivate_macchina(db_session, actor=admin, macchina_id=macchina.id)
    anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=macchina.fase_tipo_id, attivo=False)
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.reactivate_macchina(db_session, actor=admin, macchina_id=macchina.id)
    assert list(raised.value.errors) == ["fase_tipo"]
    # Moving it to an active type while reactivating is the way out.
    anagrafiche.update_macchina(db_session, actor=admin, macchina_id=macchina.id, attiva=True, fase_tipo="SMD")
    assert [e.azione for e in eventi(db_session) if e.entita == "Macchine"][-1] == "MACCHINA_MODIFICATA"


def test_list_machines_filters_by_phase_and_state(db_session, admin):
    for codice, fase in (("SMD-L2", "SMD"), ("SMD-L1", "SMD"), ("PTH-01", "PTH")):
        anagrafiche.create_macchina(db_session, actor=admin, codice=codice, fase_tipo=fase)
    spenta = anagrafiche.create_macchina(db_session, actor=admin, codice="SMD-L3", fase_tipo="SMD")
    anagrafiche.deactivate_macchina(db_session, actor=admin, macchina_id=spenta.id)

    def codici(**filters):
        return [m.codice for m in anagrafiche.list_macchine(db_session, **filters)]

    assert codici() == ["PTH-01", "SMD-L1", "SMD-L2", "SMD-L3"]
    assert codici(fase_tipo="smd") == ["SMD-L1", "SMD-L2", "SMD-L3"]
    assert codici(fase_tipo="SMD", attiva=True) == ["SMD-L1", "SMD-L2"]
    assert codici(attiva=False) == ["SMD-L3"]
    assert codici(limit=1, offset=1) == ["SMD-L1"]
    assert codici(fase_tipo="NESSUNO") == []


# -- scrap reasons ------------------------------------------------------------------------------------------


def test_create_scrap_reason_for_any_phase_or_one(db_session, admin):
    ovunque = anagrafiche.create_causale(db_session, actor=admin, codice="umid", descrizione="Umidità", fase_tipo=None)
    smd = anagrafiche.create_causale(
        db_session, actor=admin, codice="SMD-VUOTO", descrizione="Nastro vuoto", fase_tipo="SMD"
    )
    assert (ovunque.codice, ovunque.fase_tipo_id, ovunque.attiva) == ("UMID", None, True)
    assert smd.fase_tipo.codice == "SMD"
    creati = eventi(db_session, "CAUSALE_CREATA")
    assert [e.dettagli["dopo"] for e in creati] == [
        {"Codice": "UMID", "Descrizione": "Umidità", "FaseTipo": None, "Attiva": True},
        {"Codice": "SMD-VUOTO", "Descrizione": "Nastro vuoto", "FaseTipo": "SMD", "Attiva": True},
    ]
    assert all(e.entita == "CausaliScarto" and e.utente_id == admin.utente_id for e in creati)


def test_scrap_reason_code_is_unique(db_session, admin):
    with pytest.raises(Conflict) as raised:
        anagrafiche.create_causale(
            db_session, actor=admin, codice="manip", descrizione="Doppione"
        )  # base catalog has MANIP
    assert raised.value.code == "CODICE_IN_USO"


@pytest.mark.parametrize(
    "values, field",
    [
        ({"descrizione": " "}, "descrizione"),
        ({"descrizione": "d" * 201}, "descrizione"),
        ({"codice": "A B"}, "codice"),
        ({"fase_tipo": "NESSUNA"}, "fase_tipo"),
    ],
)
def test_create_scrap_reason_reports_bad_fields(db_session, admin, values, field):
    before = count(db_session, CausaleScarto)
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.create_causale(db_session, actor=admin, **{"codice": "NUOVA", "descrizione": "Nuova", **values})
    assert list(raised.value.errors) == [field]
    assert count(db_session, CausaleScarto) == before


def test_update_scrap_reason_phase_and_state(db_session, admin):
    causale = anagrafiche.create_causale(db_session, actor=admin, codice="X1", descrizione="Prova", fase_tipo="PTH")
    anagrafiche.update_causale(db_session, actor=admin, causale_id=causale.id, fase_tipo=None, attiva=False)
    db_session.expire_all()
    stored = db_session.get(CausaleScarto, causale.id)
    assert (stored.fase_tipo_id, stored.attiva) == (None, False)
    [evento] = eventi(db_session, "CAUSALE_MODIFICATA")
    assert evento.dettagli == {
        "prima": {"FaseTipo": "PTH", "Attiva": True},
        "dopo": {"FaseTipo": None, "Attiva": False},
    }
    # Leaving fase_tipo out keeps it; naming a phase sets it.
    anagrafiche.update_causale(db_session, actor=admin, causale_id=causale.id, descrizione="Prova 2")
    assert db_session.get(CausaleScarto, causale.id).fase_tipo_id is None
    anagrafiche.update_causale(db_session, actor=admin, causale_id=causale.id, fase_tipo="smd")
    assert db_session.get(CausaleScarto, causale.id).fase_tipo.codice == "SMD"


def test_update_scrap_reason_refuses_a_duplicate_code(db_session, admin):
    causale = anagrafiche.create_causale(db_session, actor=admin, codice="X1", descrizione="Prova")
    with pytest.raises(Conflict):
        anagrafiche.update_causale(db_session, actor=admin, causale_id=causale.id, codice="MANIP")
    with pytest.raises(NotFound):
        anagrafiche.update_causale(db_session, actor=admin, causale_id=999_999, descrizione="X")


def test_list_scrap_reasons_for_a_phase_includes_the_generic_ones(db_session, admin):
    pth = {c.codice for c in anagrafiche.list_causali(db_session, fase_tipo="PTH")}
    assert pth == {"PTH-SALD", "PTH-INS", "COMP-DIF", "PCB-DIF", "MANIP"}
    causale = db_session.scalar(select(CausaleScarto).where(CausaleScarto.codice == "MANIP"))
    anagrafiche.update_causale(db_session, actor=admin, causale_id=causale.id, attiva=False)
    attive = {c.codice for c in anagrafiche.list_causali(db_session, fase_tipo="PTH", attiva=True)}
    assert attive == {"PTH-SALD", "PTH-INS", "COMP-DIF", "PCB-DIF"}


# -- phase types ---------------------------------------------------------------------------------------------


def test_edit_phase_type_documents_order_and_description(db_session, admin):
    smd = tipo(db_session, "SMD")
    anagrafiche.update_fase_tipo(
        db_session,
        actor=admin,
        fase_tipo_id=smd.id,
        descrizione="Montaggio SMD (linee)",
        ordine=5,
        documenti_richiesti=["programma_smd", "DIBA", "DIBA"],
    )
    db_session.expire_all()
    stored = db_session.get(FaseTipo, smd.id)
    # Without repeats, in the order of the plant's list of types.
    assert (stored.descrizione, stored.ordine, stored.documenti_richiesti) == (
        "Montaggio SMD (linee)",
        5,
        ["DIBA", "PROGRAMMA_SMD"],
    )
    [evento] = eventi(db_session, "FASETIPO_MODIFICATA")
    assert evento.entita == "FaseTipo" and evento.entita_id == smd.id
    assert evento.dettagli == {
        "prima": {"Descrizione": "Montaggio SMD", "Ordine": 10, "DocumentiRichiesti": []},
        "dopo": {"Descrizione": "Montaggio SMD (linee)", "Ordine": 5, "DocumentiRichiesti": ["DIBA", "PROGRAMMA_SMD"]},
    }


def test_unknown_document_types_are_refused(db_session, admin):
    smd = tipo(db_session, "SMD")
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=smd.id, documenti_richiesti=["DIBA", "FOTO"])
    assert list(raised.value.errors) == ["documenti_richiesti"]
    db_session.expire_all()
    assert db_session.get(FaseTipo, smd.id).documenti_richiesti == []


def test_document_types_come_from_the_setting(db_session, admin):
    assert anagrafiche.tipi_documento({}) == TIPI_DOCUMENTO
    assert anagrafiche.tipi_documento({"DOCUMENT_TYPES": ("DIBA", "GERBER")}) == ("DIBA", "GERBER")
    smd = tipo(db_session, "SMD")
    anagrafiche.update_fase_tipo(
        db_session, actor=admin, fase_tipo_id=smd.id, documenti_richiesti=["GERBER"], tipi_ammessi=("DIBA", "GERBER")
    )
    assert db_session.get(FaseTipo, smd.id).documenti_richiesti == ["GERBER"]
    # GERBER has left the setting: it may stay where it is, but nobody can add it anew.
    anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=smd.id, documenti_richiesti=["GERBER", "DIBA"])
    assert db_session.get(FaseTipo, smd.id).documenti_richiesti == ["DIBA", "GERBER"]
    pth = tipo(db_session, "PTH")
    with pytest.raises(InvalidInput):
        anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=pth.id, documenti_richiesti=["GERBER"])


def test_two_phase_types_cannot_share_a_position(db_session, admin):
    pth = tipo(db_session, "PTH")
    with pytest.raises(Conflict) as raised:
        anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=pth.id, ordine=10)
    assert raised.value.code == "ORDINE_IN_USO" and "SMD" in raised.value.text()
    anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=pth.id, ordine=20)  # its own: fine


@pytest.mark.parametrize("ordine", [-1, 10_001, None, "20", True])
def test_phase_type_position_must_be_a_sane_whole_number(db_session, admin, ordine):
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.create_fase_tipo(
            db_session, actor=admin, codice="VERNICE", descrizione="Verniciatura", ordine=ordine
        )
    assert list(raised.value.errors) == ["ordine"]


def test_create_phase_type(db_session, admin):
    nuovo = anagrafiche.create_fase_tipo(
        db_session,
        actor=admin,
        codice=" tropicalizzazione ",
        descrizione="Tropicalizzazione",
        ordine=25,
        documenti_richiesti=["ISTRUZIONI"],
    )
    assert (nuovo.codice, nuovo.ordine, nuovo.documenti_richiesti, nuovo.attivo) == (
        "TROPICALIZZAZIONE",
        25,
        ["ISTRUZIONI"],
        True,
    )
    assert [t.codice for t in anagrafiche.list_fasi_tipo(db_session)] == [
        "SMD",
        "PTH",
        "TROPICALIZZAZIONE",
        "CONTROLLI",
    ]
    [evento] = eventi(db_session, "FASETIPO_CREATA")
    assert evento.dettagli == {
        "dopo": {
            "Codice": "TROPICALIZZAZIONE",
            "Descrizione": "Tropicalizzazione",
            "Ordine": 25,
            "DocumentiRichiesti": ["ISTRUZIONI"],
            "Attivo": True,
        }
    }
    with pytest.raises(Conflict) as raised:
        anagrafiche.create_fase_tipo(db_session, actor=admin, codice="SMD", descrizione="Doppione", ordine=99)
    assert raised.value.code == "CODICE_IN_USO"


@pytest.mark.parametrize("codice", ["SMD-2", "SMD.2", "2SMD", "CON SPAZIO", "X" * 21, ""])
def test_phase_type_code_fits_lotto_codes_and_api_paths(db_session, admin, codice):
    with pytest.raises(InvalidInput) as raised:
        anagrafiche.create_fase_tipo(db_session, actor=admin, codice=codice, descrizione="Prova", ordine=50)
    assert list(raised.value.errors) == ["codice"]


def test_a_phase_type_in_use_by_active_machines_cannot_be_deactivated(db_session, admin):
    macchina = anagrafiche.create_macchina(db_session, actor=admin, codice="PTH-01", fase_tipo="PTH")
    pth = tipo(db_session, "PTH")
    with pytest.raises(RuleViolation) as raised:
        anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=pth.id, attivo=False)
    assert raised.value.code == "FASETIPO_IN_USO" and "PTH-01" in raised.value.text()
    anagrafiche.deactivate_macchina(db_session, actor=admin, macchina_id=macchina.id)
    anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=pth.id, attivo=False)
    assert [t.codice for t in anagrafiche.list_fasi_tipo(db_session, solo_attivi=True)] == ["SMD", "CONTROLLI"]
    with pytest.raises(NotFound):
        anagrafiche.update_fase_tipo(db_session, actor=admin, fase_tipo_id=999_999, attivo=False)
