"""Migrations over a database that already holds data: 0008 (RichiesteEseguite.Impronta),
0009 (SQLite AUTOINCREMENT for ConfigCommessa, Fasi and DocumentiTecnici), 0012 (the
draws of the lotti already recorded, R14) and 0016 (the OEE's daily production summary).

Each test builds its own throwaway database (SQLite, or PostgreSQL with
``ASIGEST_TEST_DATABASE_URL``) migrated to 0007 (a copy of one ``flask --app wsgi db
upgrade 0007`` migrated once per test process), writes rows as an installation of
that version would have them — deleted rows included, whose ids only LogEventi still
names — and upgrades it to the head as a plant does, ``flask --app wsgi db upgrade``
(the application's own engine settings: PRAGMA foreign_keys on).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from asigest.extensions import db

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Per table: its key column and the highest id LogEventi names (a row deleted long ago).
ALTI = {"ConfigCommessa": ("ConfigID", 9), "Fasi": ("FaseID", 12), "DocumentiTecnici": ("DocumentoID", 7)}


@pytest.fixture
def alla_0007(tmp_path, erp_file):
    """``(app, ids, migra)``: an app on a new database migrated to 0007 with rows in every
    table 0008 and 0009 touch (``ids``: the rows kept, by table); ``migra(revisione)``
    upgrades it as a plant does, ``flask --app wsgi db upgrade`` in its own process
    (whose catalog queries are the migration tool's, not the application's SQL)."""
    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url
    from tests.server_fixture import ROOT, ambiente, come_dopo, database_usa_e_getta

    with database_usa_e_getta(tmp_path) as url:
        come_dopo(url, "db", "upgrade", "0007")  # made once per test process, copied here
        env = ambiente(url, sqlite_readonly_url(erp_file), tmp_path / "istanza")

        def migra(revisione: str = "head") -> subprocess.CompletedProcess:
            esito = subprocess.run(
                [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "db", "upgrade", revisione],
                cwd=ROOT,
                check=True,
                capture_output=True,
                env=env,
                timeout=300,
            )
            db.session.remove()
            db.engine.dispose()  # read the migrated schema on fresh connections
            return esito

        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": tmp_path / "istanza",
                "DATABASE_URL": url,
                "ERP_URL": sqlite_readonly_url(erp_file),
                "SECRET_KEY": "x",
            }
        )
        with app.app_context():
            ids = _righe_di_una_0007()
            db.session.remove()
            yield app, ids, migra
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def _tabella(nome):
    return db.metadata.tables[nome]


def _righe_di_una_0007() -> dict[str, list[int]]:
    """Two rows per table, the last of each deleted again (with its audit rows left)."""
    s = db.session

    def nuova(nome, **valori) -> int:
        return s.execute(insert(_tabella(nome)).values(**valori)).inserted_primary_key[0]

    utente = nuova(
        "Utenti", Matricola="B1", Nome="Ada", Cognome="Rossi", Ruolo="OPERATORE", Attivo=True, DataCreazione=T0
    )
    tipo = nuova("FaseTipo", Codice="SMD", Descrizione="SMD", Ordine=10, DocumentiRichiesti=[], Attivo=True)
    macchina = nuova("Macchine", Codice="SMD-1", Descrizione="Linea", FaseTipoID=tipo, Attiva=True)
    ids: dict[str, list[int]] = {}
    for n in (101, 102):
        ids.setdefault("ConfigCommessa", []).append(
            nuova(
                "ConfigCommessa",
                CommessaERPId=n,
                FlagSMD=True,
                FlagPTH=False,
                FlagControlli=False,
                BloccataDocumentazione=False,
                DataCreazione=T0,
            )
        )
        ids.setdefault("Fasi", []).append(
            nuova(
                "Fasi", CommessaERPId=n, FaseTipoID=tipo, Stato="IN_CORSO", QtaPrevista=10, QtaProdotta=0, QtaScarti=0
            )
        )
        ids.setdefault("DocumentiTecnici", []).append(
            nuova(
                "DocumentiTecnici",
                CommessaERPId=n,
                Tipo="DIBA",
                Titolo="DIBA",
                NomeFile="d.pdf",
                ContentType="application/pdf",
                Dimensione=1,
                Sha256="0" * 64,
                DataCaricamento=T0,
            )
        )
    lotto = nuova(
        "Lotti",
        FaseID=ids["Fasi"][0],
        Progressivo=1,
        CodiceLotto="2026-101-SMD-001",
        DataInizio=T0,
        QtaInput=5,
        OperatoreID=utente,
        MacchinaID=macchina,
    )
    nuova(
        "RichiesteEseguite",
        UtenteID=utente,
        Chiave="prima-della-0008",
        Operazione="LOTTO_APERTO",
        EntitaID=lotto,
        DataOra=T0,
    )
    for nome, (chiave, alto) in ALTI.items():
        ultimo = ids[nome].pop()
        s.execute(delete(_tabella(nome)).where(_tabella(nome).c[chiave] == ultimo))
        for entita_id in (ultimo, alto):
            nuova("LogEventi", DataOra=T0, UtenteID=utente, Azione="ELIMINATA", Entita=nome, EntitaID=entita_id)
    s.commit()
    ids["Lotti"] = [lotto]
    return ids


def _schema(tabella: str) -> tuple:
    """What a rebuild must keep: columns, indexes, unique keys and foreign keys."""
    ispettore = inspect(db.engine)
    return (
        [(c["name"], str(c["type"]), c["nullable"]) for c in ispettore.get_columns(tabella)],
        sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in ispettore.get_indexes(tabella)),
        sorted((u["name"], tuple(u["column_names"])) for u in ispettore.get_unique_constraints(tabella)),
        sorted((f["referred_table"], tuple(f["constrained_columns"])) for f in ispettore.get_foreign_keys(tabella)),
    )


def test_keys_recorded_before_0008_get_an_empty_fingerprint(alla_0007):
    _, _, migra = alla_0007
    migra("0008")
    richieste = _tabella("RichiesteEseguite")
    assert db.session.execute(select(richieste.c.Chiave, richieste.c.Impronta)).all() == [("prima-della-0008", "")]


def test_0009_keeps_every_row_and_reference_and_never_reuses_an_id(alla_0007):
    _, ids, migra = alla_0007
    if db.engine.dialect.name != "sqlite":
        pytest.skip("0009 cambia solo SQLite: le identity di PostgreSQL e SQL Server non riusano gli id")
    tabelle = (*ALTI, "Lotti")
    prima = {t: _schema(t) for t in tabelle}
    migra("0009")  # later revisions change these tables on purpose (0013: DocumentiTecnici)
    s = db.session

    assert {t: _schema(t) for t in tabelle} == prima
    for nome, (chiave, _alto) in ALTI.items():
        ddl = s.execute(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": nome}).scalar_one()
        assert f'"{chiave}" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT' in ddl, ddl
        assert s.scalars(select(_tabella(nome).c[chiave])).all() == ids[nome]
        assert (
            s.scalar(
                select(func.count()).select_from(text("sqlite_master")).where(text("type = 'table' AND name = :t")),
                {"t": nome + "_copia"},
            )
            == 0
        )
    assert s.execute(text("PRAGMA foreign_key_check")).all() == []
    assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1

    # A new row gets an id above every one the table or the audit log ever used.
    s.execute(
        insert(_tabella("ConfigCommessa")).values(
            CommessaERPId=103, FlagSMD=True, FlagPTH=False, FlagControlli=False, BloccataDocumentazione=False
        )
    )
    fase = s.execute(
        insert(_tabella("Fasi")).values(
            CommessaERPId=103, FaseTipoID=1, Stato="APERTA", QtaPrevista=1, QtaProdotta=0, QtaScarti=0
        )
    ).inserted_primary_key[0]
    s.execute(
        insert(_tabella("DocumentiTecnici")).values(
            CODART="A",
            Tipo="DIBA",
            Titolo="D",
            NomeFile="d.pdf",
            ContentType="application/pdf",
            Dimensione=1,
            Sha256="1" * 64,
        )
    )
    s.commit()
    for nome, (chiave, alto) in ALTI.items():
        assert s.scalar(select(func.max(_tabella(nome).c[chiave]))) == alto + 1, nome
    assert fase == ALTI["Fasi"][1] + 1

    # Lotti still references Fasi: the rebuilt table's rows are held by its foreign key.
    with pytest.raises(IntegrityError):
        s.execute(delete(_tabella("Fasi")).where(_tabella("Fasi").c.FaseID == ids["Fasi"][0]))
        s.flush()
    s.rollback()
    with pytest.raises(IntegrityError):
        s.execute(
            insert(_tabella("Lotti")).values(
                FaseID=999, Progressivo=1, CodiceLotto="X-1", DataInizio=T0, QtaInput=1, OperatoreID=1, MacchinaID=1
            )
        )
        s.commit()
    s.rollback()


def test_0012_rebuilds_the_draws_of_the_lotti_already_recorded_and_reports_the_rest(alla_0007):
    """Replayed in time order: a source counts from its close, a lotto draws FIFO at its
    open and gives back newest first at its close; what found no source is reported."""
    from alembic.script import ScriptDirectory

    from asigest import PROJECT_ROOT

    _, ids, migra = alla_0007
    migra(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_revision("0012").down_revision)
    s = db.session
    smd = ids["Fasi"][0]  # its lotto 2026-101-SMD-001 is still open: nobody's source
    utente, macchina = s.execute(select(_tabella("Lotti").c.OperatoreID, _tabella("Lotti").c.MacchinaID)).one()
    pth_tipo = s.execute(
        insert(_tabella("FaseTipo")).values(
            Codice="PTH", Descrizione="PTH", Ordine=20, DocumentiRichiesti=[], Attivo=True
        )
    ).inserted_primary_key[0]
    pth = s.execute(
        insert(_tabella("Fasi")).values(
            CommessaERPId=101, FaseTipoID=pth_tipo, Stato="IN_CORSO", QtaPrevista=10, QtaProdotta=0, QtaScarti=0
        )
    ).inserted_primary_key[0]
    linea_pth = s.execute(
        insert(_tabella("Macchine")).values(Codice="PTH-1", Descrizione="PTH", FaseTipoID=pth_tipo, Attiva=True)
    ).inserted_primary_key[0]
    ore = lambda n: T0 + timedelta(hours=n)  # noqa: E731

    def lotto(fase, prog, tipo, inizio, fine, qta_input, output=None, scarti=None) -> int:
        return s.execute(
            insert(_tabella("Lotti")).values(
                FaseID=fase,
                Progressivo=prog,
                CodiceLotto=f"2026-101-{tipo}-{prog:03d}",
                DataInizio=inizio,
                DataFine=fine,
                QtaInput=qta_input,
                QtaOutput=output,
                QtaScarti=scarti,
                OperatoreID=utente,
                MacchinaID=macchina if tipo == "SMD" else linea_pth,
            )
        ).inserted_primary_key[0]

    smd2 = lotto(smd, 2, "SMD", ore(1), ore(2), 30, 30, 0)
    smd3 = lotto(smd, 3, "SMD", ore(3), ore(4), 20, 20, 0)
    pth1 = lotto(pth, 1, "PTH", ore(3), ore(5), 25, 20, 2)  # draws 25 of SMD-002, gives 3 back
    pth2 = lotto(pth, 2, "PTH", ore(6), None, 30)  # 28 left upstream: 2 pieces from nowhere
    s.commit()

    esito = migra()
    origini = _tabella("LottiOrigini")
    righe = s.execute(
        select(origini.c.LottoID, origini.c.LottoOrigineID, origini.c.Qta).order_by(origini.c.OrigineID)
    ).all()
    assert righe == [(pth1, smd2, 22), (pth2, smd2, 8), (pth2, smd3, 20)]
    testo = esito.stderr.decode()
    assert "3 prelievi ricostruiti per 2 lotti" in testo, testo
    assert "1 lotti con 2 pezzi non collocati" in testo


@pytest.mark.parametrize("tenuti", [True, False], ids=["riepiloghi-tenuti", "senza-riepiloghi"])
def test_0016_fills_the_production_summary_from_the_closed_lotti(alla_0007, tenuti):
    """With the summaries kept (KpiRiepilogo names Europe/Rome), KpiProduzioneGiorni gets
    what services/riepilogo_kpi.py would have kept, days local to that zone (22:30Z is
    the 28th in Rome, 23:30Z the 29th), and the row stays: nothing else is rebuilt.
    Without the row it stays empty, for ``init`` to rebuild every summary."""
    from asigest.services import riepilogo_kpi

    _, ids, migra = alla_0007
    migra("0015")
    s = db.session
    fase = ids["Fasi"][0]
    utente, macchina = s.execute(select(_tabella("Lotti").c.OperatoreID, _tabella("Lotti").c.MacchinaID)).one()
    for prog, fine, buoni, scarti in (
        (2, datetime(2026, 3, 28, 22, 30, tzinfo=UTC), 7, 1),
        (3, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), 5, 0),
        (4, datetime(2026, 3, 29, 8, 0, tzinfo=UTC), 4, 2),
    ):
        s.execute(
            insert(_tabella("Lotti")).values(
                FaseID=fase,
                Progressivo=prog,
                CodiceLotto=f"2026-101-SMD-{prog:03d}",
                DataInizio=fine - timedelta(hours=1),
                DataFine=fine,
                QtaInput=buoni + scarti,
                QtaOutput=buoni,
                QtaScarti=scarti,
                OperatoreID=utente,
                MacchinaID=macchina,
            )
        )
    if tenuti:
        s.execute(insert(_tabella("KpiRiepilogo")).values(ID=1, Zona="Europe/Rome", RicostruitoIl=T0))
    s.commit()

    migra()
    tenute = {
        k: v
        for (t, k), v in riepilogo_kpi.righe_tenute(s.connection()).items()
        if t.modello.__tablename__ == "KpiProduzioneGiorni"
    }
    if not tenuti:
        assert tenute == {}
        return
    assert riepilogo_kpi.zona_attiva(s.connection()) == "Europe/Rome"
    attese = {
        k: v
        for (t, k), v in riepilogo_kpi.aggrega(s.connection(), "Europe/Rome").items()
        if t is riepilogo_kpi.PER_PRODUZIONE
    }
    tipo = s.execute(select(_tabella("Fasi").c.FaseTipoID).where(_tabella("Fasi").c.FaseID == fase)).scalar()
    assert (
        tenute
        == attese
        == {
            (date(2026, 3, 28), macchina, tipo): [1, 7, 1],
            (date(2026, 3, 29), macchina, tipo): [2, 9, 2],
        }
    )
