"""The ASI_GEST schema: migrations and models agree, the database itself holds the
rules of SPEC §4, names are the contract's, and the migration renders for SQL Server."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from asigest import PROJECT_ROOT
from asigest.extensions import db
from asigest.models import ConfigCommessa, Fase, FaseTipo, Lotto, Macchina, Utente

MIGRATIONS = PROJECT_ROOT / "migrations"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- migrations and models ---------------------------------------------------------------


@pytest.fixture
def catalog_engine(app, database_url):
    """A plain engine on the ASI_GEST database for reading its catalog.

    Reflection sends the backend's own catalog queries (``pg_catalog``…), which are not
    the application's and need not compile for SQL Server, so they stay off the engine
    that ``mssql_compatible`` watches.
    """
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_and_models_describe_the_same_schema(catalog_engine):
    with catalog_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diffs == []


def test_database_is_at_the_latest_migration(catalog_engine):
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    with catalog_engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    assert len(heads) == 1, "le migrazioni devono avere una sola testa"
    assert current == heads


def test_sqlite_enforces_foreign_keys(db_session):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PRAGMA foreign_keys esiste solo su SQLite")
    assert db_session.execute(text("PRAGMA foreign_keys")).scalar() == 1


# -- names are the contract's (SPEC §4) ----------------------------------------------------

CONTRACT_COLUMNS = {
    "FaseTipo": {"FaseTipoID", "Codice", "Descrizione", "Ordine", "DocumentiRichiesti", "Attivo"},
    "Utenti": {
        "UtenteID",
        "Matricola",
        "Nome",
        "Cognome",
        "Ruolo",
        "PinHash",
        "PasswordHash",
        "Attivo",
        "DataCreazione",
        "UltimoAccesso",
        "Lingua",  # SPEC §9: the operator's language is a user setting
    },
    "Macchine": {"MacchinaID", "Codice", "Descrizione", "FaseTipoID", "Reparto", "Attiva"},
    "CausaliScarto": {"CausaleID", "Codice", "Descrizione", "FaseTipoID", "Attiva"},
    "ConfigCommessa": {
        "ConfigID",
        "CommessaERPId",
        "FlagSMD",
        "FlagPTH",
        "FlagControlli",
        "DIBA",
        "Revisione",
        "Note",
        "DataCreazione",
        "DataModifica",
        "BloccataDocumentazione",
        "QtaERP",
        "CreatoDa",
    },
    "Fasi": {
        "FaseID",
        "CommessaERPId",
        "FaseTipoID",
        "Stato",
        "QtaPrevista",
        "QtaProdotta",
        "QtaScarti",
        "DataApertura",
        "DataChiusura",
    },
    "Lotti": {
        "LottoID",
        "FaseID",
        "Progressivo",
        "CodiceLotto",
        "DataInizio",
        "DataFine",
        "QtaInput",
        "QtaOutput",
        "QtaScarti",
        "CausaleID",
        "NoteScarti",
        "OperatoreID",
        "OperatoreChiusuraID",
        "MacchinaID",
        "DIBA",
        "Revisione",
    },
    "DocumentiTecnici": {
        "DocumentoID",
        "CommessaERPId",
        "CODART",
        "Tipo",
        "Titolo",
        "NomeFile",
        "ContentType",
        "Dimensione",
        "Sha256",
        "Revisione",
        "DataCaricamento",
        "CaricatoDa",
        # SPEC §12: a deleted document keeps its record, marked deleted with when and who.
        "DataEliminazione",
        "EliminatoDa",
    },
    "LogEventi": {"LogID", "DataOra", "UtenteID", "Postazione", "Azione", "Entita", "EntitaID", "Dettagli"},
    # SPEC §12 names LottoID, LottoOrigineID and Qta; OrigineID (the key, in draw order) is ours.
    "LottiOrigini": {"OrigineID", "LottoID", "LottoOrigineID", "Qta"},
    # SPEC §13 names these; CalendarioTurni's columns (only "weekday, start, end; plus dated
    # exceptions" there) and the keys of CalendarioTurni and TempiCiclo are ours.
    "CausaliFermo": {"CausaleFermoID", "Codice", "Descrizione", "FaseTipoID", "Categoria", "Pianificato", "Attiva"},
    "Fermi": {"FermoID", "MacchinaID", "Inizio", "Fine", "CausaleFermoID", "OperatoreID", "Note"},
    "CalendarioTurni": {
        "CalendarioID",
        "MacchinaID",
        "Reparto",
        "GiornoSettimana",
        "Data",
        "OraInizio",
        "OraFine",
        "Note",
    },
    "TempiCiclo": {"TempoCicloID", "CODART", "FaseTipoID", "MacchinaID", "SecondiPerPezzo"},
}

CONTRACT_PRIMARY_KEYS = {
    "FaseTipo": "FaseTipoID",
    "Utenti": "UtenteID",
    "Macchine": "MacchinaID",
    "CausaliScarto": "CausaleID",
    "ConfigCommessa": "ConfigID",
    "Fasi": "FaseID",
    "Lotti": "LottoID",
    "DocumentiTecnici": "DocumentoID",
    "LogEventi": "LogID",
    "CausaliFermo": "CausaleFermoID",
    "Fermi": "FermoID",
}


def test_table_names_are_the_contracts():
    # ApiToken (hashed API tokens), RichiesteEseguite (R11 one-time keys), TentativiAccesso
    # (failed logins, for the lockout), Sessioni (login sessions the server can end),
    # KpiGiorni, KpiOperatoriGiorni, KpiScartiGiorni, KpiProduzioneGiorni and KpiRiepilogo
    # (the KPIs' and the OEE's daily summaries), CommesseAperte and StatoCommesseAperte
    # (the copy of the ERP's open orders that search reads) are ours;
    # LottiOrigini is SPEC §12's.
    assert set(db.metadata.tables) == set(CONTRACT_COLUMNS) | {
        "ApiToken",
        "RichiesteEseguite",
        "TentativiAccesso",
        "Sessioni",
        "KpiGiorni",
        "KpiOperatoriGiorni",
        "KpiScartiGiorni",
        "KpiProduzioneGiorni",
        "KpiRiepilogo",
        "CommesseAperte",
        "StatoCommesseAperte",
    }


@pytest.mark.parametrize("table_name", sorted(CONTRACT_COLUMNS))
def test_column_names_are_the_contracts(table_name):
    assert {c.name for c in db.metadata.tables[table_name].columns} == CONTRACT_COLUMNS[table_name]


@pytest.mark.parametrize("table_name", sorted(CONTRACT_PRIMARY_KEYS))
def test_primary_keys_are_the_contracts(table_name):
    assert [c.name for c in db.metadata.tables[table_name].primary_key] == [CONTRACT_PRIMARY_KEYS[table_name]]


def test_database_tables_have_the_contracts_columns(catalog_engine):
    inspector = inspect(catalog_engine)
    for table_name, columns in CONTRACT_COLUMNS.items():
        assert {c["name"] for c in inspector.get_columns(table_name)} == columns, table_name


# -- the database holds the rules ---------------------------------------------------------


@pytest.fixture
def tipi(db_session) -> dict[str, FaseTipo]:
    return {ft.codice: ft for ft in db_session.query(FaseTipo)}


@pytest.fixture
def operatore(make_user) -> Utente:
    return make_user(ruolo="OPERATORE", password=None, pin="1234")


@pytest.fixture
def make_macchina(db_session, tipi):
    def make(codice="SMD-L1", tipo="SMD"):
        macchina = Macchina(codice=codice, descrizione=codice, fase_tipo_id=tipi[tipo].id)
        db_session.add(macchina)
        db_session.commit()
        return macchina

    return make


@pytest.fixture
def fase(db_session, tipi) -> Fase:
    fase = Fase(commessa_erp_id=101, fase_tipo_id=tipi["SMD"].id, stato="IN_CORSO", qta_prevista=500)
    db_session.add(fase)
    db_session.commit()
    return fase


@pytest.fixture
def make_lotto(db_session, fase, operatore, make_macchina):
    """``make_lotto(**overrides)`` → an unsaved Lotto (open unless overridden)."""
    counter = iter(range(1, 1000))
    default_macchina = []

    def make(**overrides):
        n = next(counter)
        if "macchina_id" not in overrides and not default_macchina:
            default_macchina.append(make_macchina())
        values = {
            "fase_id": fase.id,
            "progressivo": n,
            "codice_lotto": f"2026-1234-SMD-{n:03d}",
            "data_inizio": T0 + timedelta(hours=n),
            "qta_input": 100,
            "operatore_id": operatore.id,
            "macchina_id": overrides.get("macchina_id") or default_macchina[0].id,
        }
        values.update(overrides)
        return Lotto(**values)

    return make


def closed(**values) -> dict:
    return {"data_fine": T0 + timedelta(days=1), "qta_output": 90, "qta_scarti": 10, **values}


def assert_refused(session, *objects):
    """Adding ``objects`` must fail in the database; the session is rolled back after."""
    session.add_all(objects)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def assert_accepted(session, *objects):
    session.add_all(objects)
    session.commit()


def test_duplicate_matricola_is_refused(db_session, make_user):
    make_user(matricola="B100")
    assert_refused(db_session, Utente(matricola="B100", nome="Altro", cognome="Utente", ruolo="OPERATORE"))


def test_unknown_ruolo_is_refused(db_session):
    assert_refused(db_session, Utente(matricola="B200", nome="Mario", cognome="Rossi", ruolo="CAPOTURNO"))


def test_config_without_any_phase_is_refused(db_session):
    assert_refused(
        db_session, ConfigCommessa(commessa_erp_id=101, flag_smd=False, flag_pth=False, flag_controlli=False)
    )


@pytest.mark.parametrize("flags", [(True, False, False), (False, True, False), (False, False, True)])
def test_config_with_one_phase_is_accepted(db_session, flags):
    smd, pth, controlli = flags
    assert_accepted(
        db_session, ConfigCommessa(commessa_erp_id=101, flag_smd=smd, flag_pth=pth, flag_controlli=controlli)
    )


def test_second_config_for_the_same_commessa_is_refused(db_session):
    assert_accepted(db_session, ConfigCommessa(commessa_erp_id=101))
    assert_refused(db_session, ConfigCommessa(commessa_erp_id=101))


def test_same_phase_twice_for_a_commessa_is_refused(db_session, tipi, fase):
    assert_refused(db_session, Fase(commessa_erp_id=101, fase_tipo_id=tipi["SMD"].id, stato="APERTA"))


def test_same_phase_type_for_another_commessa_is_accepted(db_session, tipi, fase):
    assert_accepted(db_session, Fase(commessa_erp_id=102, fase_tipo_id=tipi["SMD"].id, stato="APERTA"))


def test_unknown_fase_state_is_refused(db_session, tipi):
    assert_refused(db_session, Fase(commessa_erp_id=101, fase_tipo_id=tipi["PTH"].id, stato="CHIUSA"))


def test_fase_with_a_missing_phase_type_is_refused(db_session):
    assert_refused(db_session, Fase(commessa_erp_id=101, fase_tipo_id=999_999, stato="APERTA"))


def test_machine_with_a_missing_phase_type_is_refused(db_session):
    assert_refused(db_session, Macchina(codice="X-1", descrizione="X", fase_tipo_id=999_999))


def test_duplicate_machine_code_is_refused(db_session, tipi, make_macchina):
    make_macchina("SMD-L1")
    assert_refused(db_session, Macchina(codice="SMD-L1", descrizione="doppia", fase_tipo_id=tipi["SMD"].id))


def test_lotto_with_zero_input_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(qta_input=0))


def test_lotto_with_negative_input_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(qta_input=-5))


def test_open_lotto_is_accepted(db_session, make_lotto):
    assert_accepted(db_session, make_lotto())


def test_closed_lotto_within_its_input_is_accepted(db_session, make_lotto):
    assert_accepted(db_session, make_lotto(**closed(qta_output=60, qta_scarti=40)))


def test_closed_lotto_with_more_out_than_in_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(**closed(qta_output=95, qta_scarti=10)))


def test_closed_lotto_with_nothing_out_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(**closed(qta_output=0, qta_scarti=0)))


def test_closed_lotto_with_negative_scrap_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(**closed(qta_output=50, qta_scarti=-1)))


@pytest.mark.parametrize("missing", ["qta_output", "qta_scarti"])
def test_closed_lotto_without_quantities_is_refused(db_session, make_lotto, missing):
    assert_refused(db_session, make_lotto(**closed(**{missing: None})))


def test_open_lotto_with_output_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(qta_output=10))


def test_open_lotto_with_scrap_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(qta_scarti=1))


def test_second_open_lotto_on_a_machine_is_refused(db_session, make_lotto):
    assert_accepted(db_session, make_lotto())
    assert_refused(db_session, make_lotto())


def test_closed_lotti_on_a_machine_do_not_block_each_other(db_session, make_lotto):
    assert_accepted(db_session, make_lotto(**closed()), make_lotto(**closed()))
    assert_accepted(db_session, make_lotto())


def test_open_lotti_on_different_machines_are_accepted(db_session, make_lotto, make_macchina):
    altra = make_macchina("SMD-L2")
    assert_accepted(db_session, make_lotto(), make_lotto(macchina_id=altra.id))


def test_duplicate_progressivo_in_a_fase_is_refused(db_session, make_lotto):
    assert_accepted(db_session, make_lotto(progressivo=1, **closed()))
    assert_refused(db_session, make_lotto(progressivo=1, codice_lotto="ALTRO-001", **closed()))


def test_duplicate_codice_lotto_is_refused(db_session, make_lotto):
    assert_accepted(db_session, make_lotto(codice_lotto="2026-1234-SMD-001", **closed()))
    assert_refused(db_session, make_lotto(codice_lotto="2026-1234-SMD-001", **closed()))


def test_lotto_with_a_missing_operator_is_refused(db_session, make_lotto):
    assert_refused(db_session, make_lotto(operatore_id=999_999))


def _origine(lotto, sorgente, qta=5):
    from asigest.models import LottoOrigine

    return LottoOrigine(lotto_id=lotto.id, lotto_origine_id=sorgente.id, qta=qta)


@pytest.fixture
def due_lotti(db_session, make_lotto, make_macchina):
    sorgente = make_lotto(**closed())
    lotto = make_lotto(macchina_id=make_macchina("SMD-L2").id)
    assert_accepted(db_session, sorgente, lotto)
    return sorgente, lotto


def test_a_draw_is_accepted(db_session, due_lotti):
    sorgente, lotto = due_lotti
    assert_accepted(db_session, _origine(lotto, sorgente))


@pytest.mark.parametrize("qta", [0, -3])
def test_a_draw_of_no_pieces_is_refused(db_session, due_lotti, qta):
    sorgente, lotto = due_lotti
    assert_refused(db_session, _origine(lotto, sorgente, qta))


def test_the_same_source_twice_for_a_lotto_is_refused(db_session, due_lotti):
    sorgente, lotto = due_lotti
    assert_accepted(db_session, _origine(lotto, sorgente))
    assert_refused(db_session, _origine(lotto, sorgente, 2))


def test_a_lotto_drawing_from_itself_is_refused(db_session, due_lotti):
    _, lotto = due_lotti
    assert_refused(db_session, _origine(lotto, lotto))


def test_a_draw_from_a_missing_lotto_is_refused(db_session, due_lotti):
    from asigest.models import LottoOrigine

    _, lotto = due_lotti
    assert_refused(db_session, LottoOrigine(lotto_id=lotto.id, lotto_origine_id=999_999, qta=1))


def test_document_without_commessa_or_article_is_refused(db_session):
    from asigest.models import DocumentoTecnico

    assert_refused(
        db_session,
        DocumentoTecnico(
            tipo="DIBA",
            titolo="DIBA",
            nome_file="d.pdf",
            content_type="application/pdf",
            dimensione=10,
            sha256="0" * 64,
        ),
    )


def test_constraints_hold_for_core_inserts_too(db_session, tipi):
    with pytest.raises(IntegrityError):
        db_session.execute(
            insert(Fase.__table__).values(
                CommessaERPId=101, FaseTipoID=tipi["SMD"].id, Stato="BOH", QtaPrevista=0, QtaProdotta=0, QtaScarti=0
            )
        )
    db_session.rollback()


# -- SQL Server ------------------------------------------------------------------------------


@pytest.fixture
def mssql_sql(app) -> str:
    """The migration as SQL Server DDL, rendered offline (``flask db upgrade --sql``)."""
    output = io.StringIO()
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", "mssql+pyodbc://u:p@dsn")
    with app.app_context():
        command.upgrade(config, "head", sql=True)
    return output.getvalue()


def test_migration_renders_for_sql_server(mssql_sql):
    for table_name in CONTRACT_COLUMNS:
        assert f"CREATE TABLE [{table_name}]" in mssql_sql
    assert "IDENTITY" in mssql_sql


def test_sql_server_columns_are_unicode_and_datetime(mssql_sql):
    assert "[CodiceLotto] NVARCHAR(40) NOT NULL" in mssql_sql
    assert re.search(r"\[DataInizio\] DATETIME2 NOT NULL", mssql_sql, re.I)


def test_sql_server_gets_the_filtered_index_for_one_open_lotto_per_machine(mssql_sql):
    assert (
        "CREATE UNIQUE INDEX [UX_Lotti_MacchinaAperta] ON [Lotti] ([MacchinaID]) WHERE [DataFine] IS NULL" in mssql_sql
    )


def test_sql_server_flag_check_compares_bits_with_one(mssql_sql):
    assert "CHECK ([FlagSMD] = 1 OR [FlagPTH] = 1 OR [FlagControlli] = 1)" in mssql_sql
    lowered = mssql_sql.lower()
    assert "= true" not in lowered and "= false" not in lowered


def test_sql_server_script_records_the_head_revision(mssql_sql):
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    # The first revision inserts its number, each later one updates it to its own.
    last = [line for line in mssql_sql.splitlines() if "alembic_version" in line and "version_num" in line][-1]
    assert f"'{head}'" in last


def _checks(ddl: str) -> dict[str, str]:
    """``{constraint name: condition}`` for every CHECK in SQL Server DDL, with quoting
    and spacing removed so a model's expression and a migration's text compare equal."""
    found = re.findall(r"CONSTRAINT \[(\w+)\] CHECK \((.*)\)", ddl)
    return {name: re.sub(r"[\s\[\]\"()]", "", condition) for name, condition in found}


def test_migration_checks_are_the_models_checks(mssql_sql):
    from sqlalchemy.dialects import mssql
    from sqlalchemy.schema import CreateTable

    model_ddl = "\n".join(
        str(CreateTable(table).compile(dialect=mssql.dialect())) for table in db.metadata.sorted_tables
    )
    model_checks = _checks(model_ddl)
    assert "CK_Lotti_chiusura" in model_checks and "CK_ConfigCommessa_almeno_una_fase" in model_checks
    assert _checks(mssql_sql) == model_checks
