"""``flask --app wsgi backup PATH``: a consistent online copy of the SQLite database
(``services/backup.py``), refused with the right tool named for other databases."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from asigest.errors import RuleViolation
from asigest.services import backup
from tests.server_fixture import prepara_impianto


def _piccolo_db(percorso: Path) -> str:
    conn = sqlite3.connect(percorso)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    return f"sqlite:///{percorso}"


def _integrita(percorso: Path) -> list[str]:
    conn = sqlite3.connect(f"{percorso.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, strumento",
    [
        ("postgresql+psycopg://app@db01/asi_gest", "pg_dump"),
        ("mssql+pyodbc://app:x@sqlsrv01/ASI_GEST?driver=ODBC+Driver+18+for+SQL+Server", "BACKUP DATABASE"),
        ("mysql+pymysql://app@db01/asi_gest", "strumento di backup del suo server"),
    ],
)
def test_other_databases_are_refused_naming_their_own_backup(tmp_path, url, strumento):
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, tmp_path / "copia.db")
    assert errore.value.code == "BACKUP_NON_SQLITE" and strumento in errore.value.text()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_database_is_refused(tmp_path, url):
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, tmp_path / "copia.db")
    assert errore.value.code == "BACKUP_SQLITE_IN_MEMORIA"


def test_missing_source_or_folder_and_the_database_itself_are_refused(tmp_path):
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(f"sqlite:///{tmp_path / 'manca.db'}", tmp_path / "copia.db")
    assert errore.value.code == "BACKUP_ORIGINE_ASSENTE"
    url = _piccolo_db(tmp_path / "asigest.db")
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, tmp_path / "non-esiste" / "copia.db")
    assert errore.value.code == "BACKUP_CARTELLA_ASSENTE" and "crearla" in errore.value.text()
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, f"{tmp_path / 'cartella-non-creata'}/")
    assert errore.value.code == "BACKUP_CARTELLA_ASSENTE" and not (tmp_path / "cartella-non-creata").exists()
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, tmp_path / "asigest.db", sovrascrivi=True)
    assert errore.value.code == "BACKUP_STESSO_FILE"


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    url = _piccolo_db(tmp_path / "asigest.db")
    destinazione = tmp_path / "copia.db"
    destinazione.write_bytes(b"backup di ieri")
    with pytest.raises(RuleViolation) as errore:
        backup.copia_database(url, destinazione)
    assert errore.value.code == "BACKUP_DESTINAZIONE_ESISTENTE" and "--overwrite" in errore.value.text()
    assert destinazione.read_bytes() == b"backup di ieri"

    copia = backup.copia_database(url, destinazione, sovrascrivi=True)
    assert copia.percorso == destinazione and copia.dimensione == destinazione.stat().st_size
    assert _integrita(destinazione) == ["ok"]
    assert not list(tmp_path.glob(".asigest-backup-*"))  # no temporary file left


def test_folder_gets_a_dated_self_contained_copy(tmp_path):
    url = _piccolo_db(tmp_path / "asigest.db")
    cartella = tmp_path / "backup"
    cartella.mkdir()
    copia = backup.copia_database(url, cartella)
    assert copia.percorso.parent == cartella and copia.percorso.name.startswith("asigest-")
    assert [p.name for p in cartella.iterdir()] == [copia.percorso.name]  # no -wal / -shm beside it
    conn = sqlite3.connect(copia.percorso)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()


def test_sqlite_file_uri_is_understood(tmp_path):
    from asigest.dialects import sqlite_readonly_url

    percorso = tmp_path / "asigest.db"
    _piccolo_db(percorso)
    assert backup.percorso_sqlite(sqlite_readonly_url(percorso)) == percorso


# -- a copy while the application writes -------------------------------------------------------


def test_copy_while_writing_is_a_consistent_snapshot(tmp_path):
    """A writer thread opens and closes lotti through the services while five copies are
    taken: each copy passes integrity_check and is one instant of the database — every
    fase's totals equal its closed lotti, every lotto has its audit rows."""
    from asigest import create_app
    from asigest.erp import ErpGateway
    from asigest.extensions import db
    from asigest.services import auth, lotti

    url = f"sqlite:///{tmp_path / 'asigest.db'}"
    impianto = prepara_impianto(url, tmp_path, macchine=2, commesse=2)
    app = create_app(
        {"INSTANCE_PATH": tmp_path / "istanza", "DATABASE_URL": url, "ERP_URL": impianto.erp_url, "SECRET_KEY": "x"}
    )
    fermo, scritti, errori = threading.Event(), [], []

    def scrittore(n: int):
        try:
            with app.app_context():
                session, erp = db.session, ErpGateway(db.engines["erp"], None)
                actor = auth.load_actor(session, impianto.operatori[n][0])
                while not fermo.is_set():
                    lotto = lotti.apri_lotto(
                        session,
                        erp,
                        actor=actor,
                        fase_id=impianto.fasi[n],
                        macchina_id=impianto.macchine[n][0],
                        qta_input=10,
                    ).lotto
                    lotti.chiudi_lotto(
                        session, actor=actor, lotto_id=lotto.id, qta_output=9, qta_scarti=1, causale="SMD-PICK"
                    )
                    scritti.append(lotto.id)
                db.session.remove()
        except Exception as exc:  # reported by the test
            errori.append(exc)

    threads = [threading.Thread(target=scrittore, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    copie = []
    try:
        for n in range(5):
            time.sleep(0.15)
            copie.append(backup.copia_database(url, tmp_path / f"copia-{n}.db").percorso)
    finally:
        fermo.set()
        for t in threads:
            t.join(30)
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    assert not errori, errori
    assert make_url(url).database and scritti

    contati = []
    for percorso in copie:
        assert _integrita(percorso) == ["ok"]
        conn = sqlite3.connect(percorso)
        try:
            for fase_id, prodotta, scarti, somma_out, somma_scarti in conn.execute(
                'SELECT f."FaseID", f."QtaProdotta", f."QtaScarti", COALESCE(SUM(l."QtaOutput"), 0), '
                'COALESCE(SUM(l."QtaScarti"), 0) FROM "Fasi" f LEFT JOIN "Lotti" l ON l."FaseID" = f."FaseID" '
                'GROUP BY f."FaseID", f."QtaProdotta", f."QtaScarti"'
            ):
                assert (prodotta, scarti) == (somma_out, somma_scarti), f"{percorso.name}: fase {fase_id}"
            n_lotti, n_chiusi = conn.execute('SELECT COUNT(*), COUNT("DataFine") FROM "Lotti"').fetchone()
            aperti, chiusi = conn.execute(
                'SELECT SUM("Azione" = ?), SUM("Azione" = ?) FROM "LogEventi" WHERE "Entita" = ?',
                ("LOTTO_APERTO", "LOTTO_CHIUSO", "Lotti"),
            ).fetchone()
            assert (aperti or 0, chiusi or 0) == (n_lotti, n_chiusi), percorso.name
        finally:
            conn.close()
        contati.append(n_lotti)
    assert (
        contati == sorted(contati) and contati[0] < contati[-1]
    )  # later copies, later instants: writes ran between them
    assert contati[-1] <= len(scritti) + 2


# -- the command -----------------------------------------------------------------------------


def test_backup_command(app, tmp_path):
    runner = app.test_cli_runner()
    destinazione = tmp_path / "copia.db"
    risultato = runner.invoke(args=["backup", str(destinazione)])
    if make_url(app.config["DATABASE_URL"]).get_backend_name() != "sqlite":
        assert risultato.exit_code == 1 and "pg_dump" in risultato.output
        assert not destinazione.exists()
        return
    assert risultato.exit_code == 0, risultato.output
    assert "integrità verificata" in risultato.output and "documenti" in risultato.output
    assert _integrita(destinazione) == ["ok"]
    risultato = runner.invoke(args=["backup", str(destinazione)])
    assert risultato.exit_code == 1 and "esiste già" in risultato.output
    assert runner.invoke(args=["backup", str(destinazione), "--overwrite"]).exit_code == 0


@pytest.mark.parametrize("valore, atteso", [(None, 1), ("full", 2), ("NORMAL", 1)])
def test_sqlite_synchronous_follows_the_setting(tmp_path, valore, atteso):
    """ASIGEST_SQLITE_SYNCHRONOUS: NORMAL (1) by default, FULL (2) when asked for."""
    from sqlalchemy import text

    from asigest import create_app
    from asigest.extensions import db

    impostazioni = {"INSTANCE_PATH": tmp_path, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "SECRET_KEY": "x"}
    if valore is not None:
        impostazioni["SQLITE_SYNCHRONOUS"] = valore.upper()
    app = create_app(impostazioni)
    with app.app_context():
        assert db.session.execute(text("PRAGMA synchronous")).scalar() == atteso
        db.session.remove()
        db.engines[None].dispose()


def test_an_unknown_sqlite_synchronous_value_stops_the_start(tmp_path):
    from asigest import create_app

    with pytest.raises(ValueError, match="NORMAL o FULL"):
        create_app({"INSTANCE_PATH": tmp_path, "SQLITE_SYNCHRONOUS": "OFF", "SECRET_KEY": "x"})
