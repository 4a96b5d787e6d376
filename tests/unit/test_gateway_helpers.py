"""Pure helpers, no application and no ASI_GEST database: ERP number parsing and LIKE
escaping, the Commessa value, roles, hashing, domain errors and the dialect adapter,
including the ERP engine's read-only guard on a throwaway SQLite file."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import create_engine, text

from asigest.dialects import ReadOnlyViolation, backend, install_readonly_guard, sqlite_readonly_url
from asigest.domain import hashing
from asigest.domain.ruoli import ADMIN, OPERATORE, SUPERVISORE, ha_ruolo
from asigest.erp.gateway import Commessa, escape_like, numero_cercato, parse_numero_commessa
from asigest.errors import (
    AsigestError,
    Conflict,
    ErpUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
    Unauthenticated,
)

# -- parse_numero_commessa ----------------------------------------------------------


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("2026/1234", (2026, 1234)),
        ("2026-1234", (2026, 1234)),
        (" 2026 / 7 ", (2026, 7)),
        ("2025/0001", (2025, 1)),
        ("\t2026-1\n", (2026, 1)),
    ],
)
def test_numero_commessa_as_people_type_it_is_understood(typed, expected):
    assert parse_numero_commessa(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        None,
        "1234",
        "2026",
        "26/1234",
        "20266/1",
        "2026/",
        "/1234",
        "2026/12a",
        "abcd/1234",
        "2026//1234",
        "2026/1234/5",
        "2026 1234",
        "2026/1234567890",
    ],
)
def test_anything_else_is_not_a_numero_commessa(typed):
    assert parse_numero_commessa(typed) is None


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("2026/1234", (2026, 1234)),
        (" 2026 - 7 ", (2026, 7)),
        ("1234", (None, 1234)),
        ("0", (None, 0)),
        ("2147483647", (None, 2147483647)),
        ("2147483648", (None, None)),  # over an INT: no order has it
        ("³", (None, None)),  # a digit to str.isdigit(), not to int()
        ("12a", (None, None)),
        ("scheda", (None, None)),
    ],
)
def test_the_number_a_search_names(typed, expected):
    assert numero_cercato(typed) == expected


# -- escape_like --------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, escaped",
    [
        ("50%", r"50\%"),
        ("a_b", r"a\_b"),
        ("C:\\dir", r"C:\\dir"),
        ("SCH-[X]", r"SCH-\[X]"),
        ("%_[\\", r"\%\_\[\\"),
        ("Scheda già", "Scheda già"),
    ],
)
def test_like_wildcards_typed_by_a_user_are_escaped(typed, escaped):
    assert escape_like(typed) == escaped


# -- Commessa -----------------------------------------------------------------------


def _commessa(**fields) -> Commessa:
    values = {
        "id": 1,
        "esercizio": 2026,
        "numerocom": 1234,
        "rifcommcli": "PO-1",
        "codart": "ART-1",
        "desart": "Scheda",
        "qta": 100,
        "dataconsegna": date(2026, 12, 1),
        "statocommessa": "O",
        "idcliente": 7,
        "nomecliente": "Cliente",
    }
    values.update(fields)
    return Commessa(**values)


@pytest.mark.parametrize(
    "stato, aperta", [("O", True), ("o", True), (" O ", True), ("C", False), ("S", False), ("", False), (None, False)]
)
def test_only_stato_o_is_an_open_commessa(stato, aperta):
    assert _commessa(statocommessa=stato).aperta is aperta


def test_numero_reads_like_people_say_it():
    assert _commessa().numero == "2026/1234"


def test_numero_shows_question_marks_for_missing_parts():
    assert _commessa(esercizio=None).numero == "?/1234"
    assert _commessa(numerocom=None).numero == "2026/?"


def test_as_erp_dict_uses_erp_column_names_and_iso_dates():
    assert _commessa().as_erp_dict() == {
        "ID": 1,
        "ESERCIZIO": 2026,
        "NUMEROCOM": 1234,
        "RIFCOMMCLI": "PO-1",
        "CODART": "ART-1",
        "DESART": "Scheda",
        "QTA": 100,
        "DATACONSEGNA": "2026-12-01",
        "STATOCOMMESSA": "O",
        "IDCLIENTE": 7,
        "NOMECLIENTE": "Cliente",
    }


def test_as_erp_dict_keeps_nulls_as_none():
    nulls = dict.fromkeys(
        [
            "esercizio",
            "numerocom",
            "rifcommcli",
            "codart",
            "desart",
            "qta",
            "dataconsegna",
            "statocommessa",
            "idcliente",
            "nomecliente",
        ]
    )
    result = _commessa(id=104, **nulls).as_erp_dict()
    assert result["ID"] == 104
    assert all(value is None for key, value in result.items() if key != "ID")


def test_the_orders_list_answer_is_what_marshmallow_writes_from_its_fields():
    """``CommessaSchema.dump`` writes the rows with ``as_erp_dict``; the schema's fields
    (which document the answer) would write the same."""
    from marshmallow import Schema

    from asigest.services.commesse import CommessaRiga
    from asigest.web.api.schemas import CommessaSchema

    nulls = dict.fromkeys(["esercizio", "rifcommcli", "codart", "desart", "qta", "dataconsegna", "nomecliente"])
    righe = [
        CommessaRiga(_commessa(), True),
        CommessaRiga(_commessa(id=104, **nulls), False),
        CommessaRiga(_commessa(id=105, desart="Città più già", statocommessa="O"), False),
    ]
    schema = CommessaSchema(many=True)
    scritte = schema.dump(righe)
    assert scritte == Schema.dump(schema, righe)
    assert [list(r) for r in scritte] == [list(r) for r in Schema.dump(schema, righe)]  # the same key order
    assert CommessaSchema().dump(righe[1]) == Schema.dump(CommessaSchema(), righe[1])


# -- roles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ruolo_utente, ruolo_minimo, allowed",
    [
        (OPERATORE, OPERATORE, True),
        (OPERATORE, SUPERVISORE, False),
        (OPERATORE, ADMIN, False),
        (SUPERVISORE, OPERATORE, True),
        (SUPERVISORE, SUPERVISORE, True),
        (SUPERVISORE, ADMIN, False),
        (ADMIN, OPERATORE, True),
        (ADMIN, SUPERVISORE, True),
        (ADMIN, ADMIN, True),
        ("OSPITE", OPERATORE, False),
        ("", OPERATORE, False),
        ("admin", ADMIN, False),
    ],
)
def test_role_matrix(ruolo_utente, ruolo_minimo, allowed):
    assert ha_ruolo(ruolo_utente, ruolo_minimo) is allowed


# -- hashing ------------------------------------------------------------------------


def test_secret_hash_is_argon2id_and_never_the_plain_text():
    stored = hashing.hash_secret("segreto-123")
    assert stored.startswith("$argon2id$")
    assert "segreto-123" not in stored


def test_same_secret_hashes_differently_each_time():
    assert hashing.hash_secret("1234") != hashing.hash_secret("1234")


def test_right_secret_verifies():
    assert hashing.verify_secret(hashing.hash_secret("1234"), "1234") is True


def test_wrong_secret_does_not_verify():
    assert hashing.verify_secret(hashing.hash_secret("1234"), "4321") is False


def test_missing_hash_never_verifies_even_the_dummy_secret():
    assert hashing.verify_secret(None, "") is False
    assert hashing.verify_secret(None, "asigest-dummy-secret") is False


def test_garbage_hash_does_not_verify():
    assert hashing.verify_secret("not-a-hash", "1234") is False


def test_token_digest_is_stable_sha256_hex():
    token = "asg_esempio"
    assert hashing.token_digest(token) == hashing.token_digest(token)
    assert hashing.token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert hashing.token_digest(token) != hashing.token_digest(token + "x")


def test_api_tokens_are_prefixed_and_random():
    first, second = hashing.new_api_token(), hashing.new_api_token()
    assert first.startswith(hashing.TOKEN_PREFIX) and second.startswith(hashing.TOKEN_PREFIX)
    assert first != second
    assert len(first) >= len(hashing.TOKEN_PREFIX) + 43  # 32 random bytes, base64url


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error_class, status, code",
    [
        (AsigestError, 400, "ERRORE"),
        (InvalidInput, 422, "VALIDATION_ERROR"),
        (RuleViolation, 400, "RULE_VIOLATION"),
        (Unauthenticated, 401, "UNAUTHENTICATED"),
        (Forbidden, 403, "FORBIDDEN"),
        (NotFound, 404, "NOT_FOUND"),
        (Conflict, 409, "CONFLICT"),
        (ErpUnavailable, 503, "ERP_UNAVAILABLE"),
    ],
)
def test_each_error_has_its_http_status_and_code(error_class, status, code):
    error = error_class()
    assert (error.status, error.code) == (status, code)
    assert error.text()  # a default message people can read


def test_error_text_fills_parameters():
    error = NotFound("La commessa %(id)s non esiste.", id=42)
    assert error.text() == "La commessa 42 non esiste."
    assert str(error) == "La commessa 42 non esiste."


def test_error_text_translates_before_filling():
    error = NotFound("La commessa %(id)s non esiste.", id=42)
    assert error.text(lambda s: s.replace("La commessa", "Order")) == "Order 42 non esiste."


def test_error_without_parameters_keeps_a_literal_percent():
    assert RuleViolation("Scarti al 100%").text() == "Scarti al 100%"


def test_error_code_can_be_overridden_per_instance():
    error = RuleViolation("x", code="CREDENZIALI_ERRATE")
    assert error.code == "CREDENZIALI_ERRATE"
    assert RuleViolation().code == "RULE_VIOLATION"


def test_invalid_input_carries_per_field_errors():
    error = InvalidInput({"pin": ["Il PIN deve avere da 4 a 8 cifre."]})
    assert error.errors == {"pin": ["Il PIN deve avere da 4 a 8 cifre."]}
    assert InvalidInput().errors == {}


def test_erp_unavailable_message_says_what_to_do():
    assert "non risponde" in ErpUnavailable().text()


# -- dialects -----------------------------------------------------------------------


def test_sqlite_readonly_url_opens_the_file_read_only(tmp_path):
    url = sqlite_readonly_url(tmp_path / "erp.db")
    assert url == f"sqlite:///file:{(tmp_path / 'erp.db').as_posix()}?mode=ro&uri=true"


@pytest.mark.parametrize(
    "url, name",
    [
        ("sqlite:///x.db", "sqlite"),
        ("postgresql+psycopg://u@h/db", "postgresql"),
        ("mssql+pyodbc://u:p@dsn", "mssql"),
    ],
)
def test_backend_names_the_database(url, name):
    assert backend(url) == name


@pytest.fixture
def guarded_engine(tmp_path):
    """A SQLite file engine with the ERP read-only guard installed."""
    path = tmp_path / "guard.db"
    plain = create_engine(f"sqlite:///{path}")
    with plain.begin() as conn:
        conn.execute(text("CREATE TABLE T (ID INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO T (ID) VALUES (1)"))
    plain.dispose()
    engine = create_engine(f"sqlite:///{path}")
    install_readonly_guard(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    ["SELECT ID FROM T", "  select ID from T", "/* lettura */ SELECT ID FROM T", "-- lettura\nSELECT ID FROM T"],
)
def test_guard_lets_reads_through(guarded_engine, statement):
    with guarded_engine.connect() as conn:
        assert conn.execute(text(statement)).scalar() == 1


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO T (ID) VALUES (2)",
        "UPDATE T SET ID = 2",
        "DELETE FROM T",
        "CREATE TABLE U (ID INTEGER)",
        "  /* c */ DELETE FROM T",
        "-- commento\nDELETE FROM T",
        "DROP TABLE T",
        "delete from T",
        "PRAGMA journal_mode=WAL",
    ],
)
def test_guard_refuses_anything_but_select(guarded_engine, statement):
    with guarded_engine.connect() as conn:
        with pytest.raises(ReadOnlyViolation, match="sola lettura"):
            conn.execute(text(statement))
        assert conn.execute(text("SELECT COUNT(*) FROM T")).scalar() == 1


def test_production_hashers_use_argon2id_passwords_the_defaults_pins_the_owasp_minimum():
    # The module's constants are what production uses (tests swap cheaper ones in):
    # docs/decisioni/2026-12-07-costo-hash-pin.md says why a PIN costs less.
    from asigest.domain import hashing

    assert hashing.HASHER_PASSWORD.hash("x").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hashing.HASHER_PIN.hash("1234").startswith("$argon2id$v=19$m=8192,t=1,p=1$")


def test_a_pin_hashed_with_other_parameters_still_verifies_and_asks_to_be_redone():
    from argon2 import PasswordHasher

    from asigest.domain import hashing

    vecchio = PasswordHasher(time_cost=1, memory_cost=16, parallelism=1).hash("2468")
    assert hashing.verify_pin(vecchio, "2468") and not hashing.verify_pin(vecchio, "1357")
    assert hashing.pin_da_rifare(vecchio)
    assert not hashing.pin_da_rifare(hashing.hash_pin("2468"))
    assert hashing.pin_da_rifare("non-un-hash")
    assert hashing.verify_pin(None, "asigest-dummy-secret") is False
