"""Every migration renders as SQL Server DDL (``flask db upgrade --sql`` offline, with the
``mssql+pyodbc://`` dialect and no server) and the script is what a DBA expects:
NVARCHAR for people's text, DATETIME2 for instants, BIT, IDENTITY keys, every index, no
SQLite- or PostgreSQL-only construct, and nothing SQL Server would refuse (UNIQUE over a
nullable column, index keys over its size limits).

The checks walk the migrations found in ``migrations/versions`` and the models' metadata,
so a migration added later is covered without touching this file.
"""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.types import TypeDecorator

from asigest import PROJECT_ROOT
from asigest.extensions import db

MIGRATIONS = PROJECT_ROOT / "migrations"

# SQL Server's limits on an index key (bytes): clustered (the primary key) and nonclustered.
MAX_CLUSTERED_KEY = 900
MAX_NONCLUSTERED_KEY = 1700

# Columns that hold what people type or read: they must be Unicode (NVARCHAR) to keep
# accents on any server collation.
TESTO_PERSONE = {
    "Nome",
    "Cognome",
    "Descrizione",
    "Note",
    "NoteScarti",
    "Titolo",
    "NomeFile",
    "Reparto",
    "Postazione",
    "RIFCOMMCLI",
    "DESART",
    "NOMECLIENTE",
    "DIBA",
    "Revisione",
    "Matricola",
    "Codice",
    "CodiceLotto",
    "CODART",
}

# Text that is not T-SQL (or means something else there: TIMESTAMP is rowversion).
NON_TSQL = {
    "AUTOINCREMENT": r"\bAUTOINCREMENT\b",
    "BOOLEAN": r"\bBOOLEAN\b",
    "TIMESTAMP": r"\bTIMESTAMP\b",
    "WITHOUT TIME ZONE": r"\bWITHOUT TIME ZONE\b",
    "DATETIME (not DATETIME2)": r"\bDATETIME\b(?!2)",
    "SERIAL": r"\b(BIG)?SERIAL\b",
    "TEXT / NTEXT type": r"\bN?TEXT\b",
    "JSONB": r"\bJSONB\b",
    "BYTEA": r"\bBYTEA\b",
    "true/false literal": r"\b(TRUE|FALSE)\b",
    "PostgreSQL cast ::": r"::",
    "ILIKE": r"\bILIKE\b",
    "ON CONFLICT": r"\bON CONFLICT\b",
    "RETURNING": r"\bRETURNING\b",
    "SQLite pragma": r"\bPRAGMA\b",
    "SQLite catalog": r"\bsqlite_\w+",
    "ANALYZE": r"\bANALYZE\b",
    "double-quoted identifier": r'"\w+"',
}


def render(app, url: str, revisions: str = "head", downgrade: bool = False) -> str:
    """The migrations as one SQL script for the database named by ``url`` (offline mode)."""
    output = io.StringIO()
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    with app.app_context():
        if downgrade:
            command.downgrade(config, revisions, sql=True)
        else:
            command.upgrade(config, revisions, sql=True)
    return output.getvalue()


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    """An app with its default SQLite settings: offline rendering connects to nothing."""
    from asigest import create_app

    return create_app({"INSTANCE_PATH": tmp_path_factory.mktemp("offline"), "SECRET_KEY": "x"})


@pytest.fixture(scope="module")
def script(offline_app) -> str:
    return render(offline_app, "mssql+pyodbc://")


@pytest.fixture(scope="module")
def tables(script) -> dict[str, dict[str, str]]:
    """``{table: {column: rendered type and options}}`` from the script's CREATE TABLEs
    and the columns later migrations add (``ALTER TABLE … ADD``, without their DEFAULT)."""
    found = {}
    for name, body in re.findall(r"CREATE TABLE \[(\w+)\] \((.*?)\n\);", script, re.S):
        found[name] = dict(re.findall(r"^\s+\[(\w+)\] ([^\n]*?),?\s*$", body, re.M))
    for name, column, rendered in re.findall(
        r"^ALTER TABLE \[(\w+)\] ADD \[(\w+)\] (.*?)(?: DEFAULT [^;\n]*)?;$", script, re.M
    ):
        found[name][column] = rendered
    return found


def revisioni() -> list:
    """Every migration, base first."""
    return list(reversed(list(ScriptDirectory(str(MIGRATIONS)).walk_revisions())))


def tipo_base(column: sa.Column):
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def test_every_migration_renders_in_order_up_to_the_head(script):
    steps = re.findall(r"^-- Running upgrade (\w*) -> (\w+)$", script, re.M)
    attese = [(r.down_revision or "", r.revision) for r in revisioni()]
    assert steps == attese
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert re.search(rf"UPDATE alembic_version SET version_num='{head}'|INSERT INTO alembic_version .*'{head}'", script)
    # sqlcmd / SSMS batches: one GO after each statement, one transaction around all.
    assert script.lstrip().startswith("BEGIN TRANSACTION;") and "\nGO\n" in script
    assert script.rstrip().endswith("COMMIT;\n\nGO") or script.rstrip().endswith("GO")


def test_the_script_creates_every_table_of_the_models(tables):
    assert set(tables) - {"alembic_version"} == {t.name for t in db.metadata.sorted_tables}


def test_no_construct_of_another_database(script):
    trovati = {nome: re.findall(regola, script, re.I) for nome, regola in NON_TSQL.items()}
    assert {nome: sorted(set(v)) for nome, v in trovati.items() if v} == {}


def test_column_types_are_sql_servers(tables):
    """Unicode → NVARCHAR, plain String (codes, hashes) → VARCHAR, instants → DATETIME2,
    dates → DATE, times → TIME, decimals → NUMERIC(p, s), booleans → BIT, JSON → NVARCHAR(max),
    integers → INTEGER/BIGINT."""
    sbagliati = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            kind = tipo_base(column)
            if isinstance(kind, sa.JSON):
                atteso = r"NVARCHAR\(max\)"
            elif isinstance(kind, sa.Unicode):
                atteso = rf"NVARCHAR\({kind.length}\)"
            elif isinstance(kind, sa.String):
                atteso = rf"VARCHAR\({kind.length}\)"
            elif isinstance(kind, sa.DateTime):
                atteso = r"DATETIME2"
            elif isinstance(kind, sa.Date):
                atteso = r"DATE"
            elif isinstance(kind, sa.Time):
                atteso = r"TIME"  # CalendarioTurni: a shift's local wall time
            elif isinstance(kind, sa.Numeric):
                atteso = rf"NUMERIC\({kind.precision}, {kind.scale}\)"  # TempiCiclo.SecondiPerPezzo
            elif isinstance(kind, sa.Boolean):
                atteso = r"BIT"
            elif isinstance(kind, sa.BigInteger):
                atteso = r"BIGINT"
            elif isinstance(kind, sa.Integer):
                atteso = r"INTEGER"
            else:
                atteso = None
            rendered = tables[table.name].get(column.name, "")
            nullability = "NULL" if column.nullable else "NOT NULL"
            if atteso is None or not re.fullmatch(rf"{atteso} {nullability}( IDENTITY)?", rendered):
                sbagliati.append(f"{table.name}.{column.name}: {rendered!r} ({kind!r})")
    assert sbagliati == []


def test_text_people_read_is_nvarchar(tables):
    ascii_only = [
        f"{t}.{c}: {tipo}"
        for t, cols in tables.items()
        for c, tipo in cols.items()
        if c in TESTO_PERSONE and not tipo.startswith("NVARCHAR")
    ]
    assert ascii_only == []


def test_generated_keys_are_identity_and_others_are_not(tables):
    for table in db.metadata.sorted_tables:
        chiave = list(table.primary_key.columns)
        for column in table.columns:
            generated = (
                len(chiave) == 1
                and column is chiave[0]
                and isinstance(tipo_base(column), sa.Integer)
                and column.autoincrement in (True, "auto")
            )
            assert tables[table.name][column.name].endswith("IDENTITY") == generated, f"{table.name}.{column.name}"


def test_every_index_of_the_models_is_created(script):
    mancanti = []
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            colonne = ", ".join(f"[{c.name}]" for c in index.columns)
            unique = "UNIQUE " if index.unique else ""
            if f"CREATE {unique}INDEX [{index.name}] ON [{table.name}] ({colonne})" not in script:
                mancanti.append(index.name)
    assert mancanti == []


def test_unique_keys_are_over_not_null_columns():
    """SQL Server lets a UNIQUE constraint hold one NULL only (PostgreSQL and SQLite any
    number): a nullable unique column would behave differently there. A filtered unique
    index (``mssql_where``) is the way to say "unique among the rows that have it"."""
    nullable = []
    for table in db.metadata.sorted_tables:
        vincoli = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        vincoli += [i for i in table.indexes if i.unique and i.dialect_options["mssql"].get("where") is None]
        for vincolo in vincoli:
            nullable += [f"{table.name}.{c.name}" for c in vincolo.columns if c.nullable]
    assert nullable == []


def _byte(column: sa.Column) -> int:
    kind = tipo_base(column)
    if isinstance(kind, sa.JSON) or (isinstance(kind, sa.String) and not kind.length):
        return 10**9  # (max) columns cannot be index keys
    if isinstance(kind, sa.Unicode):
        return 2 * kind.length
    if isinstance(kind, sa.String):
        return kind.length
    if isinstance(kind, (sa.BigInteger, sa.DateTime)):
        return 8
    if isinstance(kind, (sa.Integer, sa.Date)):
        return 4
    return 1


def test_index_keys_fit_sql_servers_limits():
    troppo = []
    for table in db.metadata.sorted_tables:
        pk = sum(_byte(c) for c in table.primary_key.columns)
        if pk > MAX_CLUSTERED_KEY:
            troppo.append(f"PK {table.name}: {pk} byte")
        chiavi = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)] + list(table.indexes)
        for chiave in chiavi:
            size = sum(_byte(c) for c in chiave.columns)
            if size > MAX_NONCLUSTERED_KEY:
                troppo.append(f"{chiave.name}: {size} byte")
    assert troppo == []


def test_dialect_specific_migrations_leave_nothing_on_sql_server(script):
    """0004 and 0009 (SQLite's AUTOINCREMENT rebuilds) and 0005's ANALYZE run on SQLite
    only: the offline SQL Server script passes through them with nothing but the version bump."""
    blocchi = dict(
        re.findall(r"^-- Running upgrade \w* -> (\w+)\n(.*?)(?=^-- Running upgrade|\Z)", script, re.M | re.S)
    )
    for revisione, precedente in (("0004", "0003"), ("0009", "0008")):
        solo_versione = [line for line in blocchi[revisione].splitlines() if line.strip() and line.strip() != "GO"]
        solo_versione = [line for line in solo_versione if line.strip() != "COMMIT;"]
        assert solo_versione == [
            f"UPDATE alembic_version SET version_num='{revisione}' WHERE alembic_version.version_num = '{precedente}';"
        ]
    assert "ANALYZE" not in blocchi["0005"] and "CREATE INDEX [IX_Lotti_DataFine_KPI]" in blocchi["0005"]


def test_downgrade_to_base_renders_too(offline_app):
    script = render(offline_app, "mssql+pyodbc://", "head:base", downgrade=True)
    for table in db.metadata.sorted_tables:
        assert f"DROP TABLE [{table.name}]" in script
    assert "DELETE FROM alembic_version" in script


def test_postgresql_script_renders_too(offline_app):
    script = render(offline_app, "postgresql+psycopg://")
    assert "sqlite_" not in script and "PRAGMA" not in script and "NVARCHAR" not in script
    assert 'CREATE TABLE "Lotti"' in script and "TIMESTAMP WITHOUT TIME ZONE" in script
