"""The demo data set (``asigest/demo/``) and the ``demo``, ``user`` and ``token`` commands.

The in-process tests build the demo once per module in a database of its own (SQLite, or
PostgreSQL as the run's) for the tests that only read it, and once per test that changes
it, and check it against the business rules the application enforces: R5 at every
opening instant, R7 on every close, R8 on every fase, one open lotto per machine, audit
rows for everything. The command tests run ``flask --app
wsgi`` in a subprocess on a fresh instance folder, as a person would.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, delete, func, select, true

from asigest import PROJECT_ROOT, demo
from asigest.dialects import sqlite_readonly_url
from asigest.domain import hashing
from asigest.erp import ErpGateway
from asigest.erp.tables import commesse_table
from asigest.models import CausaleScarto, ConfigCommessa, Fase, LogEvento, Lotto, Macchina, Utente
from asigest.services import auth
from asigest.services.catalog import ensure_base_catalog

# A Wednesday, 10:30 in Rome: mid-shift, so machines are working "now".
NOW = datetime(2026, 3, 18, 9, 30, tzinfo=UTC)
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
def fast_hashing(monkeypatch):
    """argon2 at minimal cost: the demo creates 15 users and the real cost (~0.25 s each)
    belongs to ``domain/hashing.py``, not to what these tests check. Verification reads
    the cost from the hash, so logging in still goes through the real code."""
    monkeypatch.setattr(hashing, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(hashing, "_hasher_pin", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo built once at ``NOW`` with the default seed, for the tests that only read
    it, in a database of its own (SQLite, or PostgreSQL as the run's): building it takes
    seconds, and a dozen tests read the same one. The session's cheap argon2 applies."""
    from asigest import create_app
    from asigest.cli import run_init
    from asigest.extensions import db
    from tests.server_fixture import database_usa_e_getta

    cartella = tmp_path_factory.mktemp("demo-letta")
    erp_path = cartella / "erp_demo.db"
    with database_usa_e_getta(cartella) as url:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": cartella / "instance",
                "DATABASE_URL": url,
                "ERP_URL": sqlite_readonly_url(erp_path),
                "SECRET_KEY": "test-secret",
            }
        )
        with app.app_context():
            run_init()
            summary = demo.build_demo(db.session, erp_path, now=NOW)
            yield SimpleNamespace(summary=summary, erp_path=erp_path, session=db.session)
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def built_qui(db_session, tmp_path, fast_hashing):
    """The demo built at ``NOW`` for one test that changes it (logs in, rebuilds the ERP)."""
    erp_path = tmp_path / "erp_demo.db"
    summary = demo.build_demo(db_session, erp_path, now=NOW)
    return SimpleNamespace(summary=summary, erp_path=erp_path, session=db_session)


def erp_commesse(path: Path) -> list:
    """Every COMMESSE row of the file, read the way the application reads the ERP."""
    engine = create_engine(sqlite_readonly_url(path))
    try:
        with engine.connect() as conn:
            ids = list(conn.scalars(select(commesse_table(None).c.ID)))
        return list(ErpGateway(engine, None).get_many(ids).values())
    finally:
        engine.dispose()


def all_lotti(session) -> list[Lotto]:
    return list(session.scalars(select(Lotto).order_by(Lotto.data_inizio, Lotto.id)))


def lotti_per_fase(session) -> dict[int, list[Lotto]]:
    gruppi = defaultdict(list)
    for lotto in all_lotti(session):
        gruppi[lotto.fase_id].append(lotto)
    return gruppi


def fasi_per_commessa(session) -> dict[int, list[Fase]]:
    """Each configured commessa's fasi in flow order (FaseTipo.Ordine)."""
    gruppi = defaultdict(list)
    for fase in session.scalars(select(Fase)):
        gruppi[fase.commessa_erp_id].append(fase)
    return {k: sorted(v, key=lambda f: f.fase_tipo.ordine) for k, v in gruppi.items()}


# -- the ERP file ---------------------------------------------------------------------------


def test_erp_file_has_realistic_orders_readable_read_only(built):
    commesse = erp_commesse(built.erp_path)

    assert 380 <= len(commesse) <= 420 and len(commesse) == built.summary.commesse_erp
    assert {c.esercizio for c in commesse} == {2025, 2026}
    assert len({(c.esercizio, c.numerocom) for c in commesse}) == len(commesse)
    stati = [c.statocommessa for c in commesse]
    assert 0.12 <= 1 - stati.count("O") / len(commesse) <= 0.30
    assert "C" in stati and "S" in stati
    for colonna in ("rifcommcli", "dataconsegna", "nomecliente"):
        assert any(getattr(c, colonna) is None for c in commesse), f"nessun NULL in {colonna}"
    assert all(50 <= c.qta <= 3000 for c in commesse)
    scadenze = [c.dataconsegna for c in commesse if c.dataconsegna]
    assert NOW.date() - timedelta(days=70) <= min(scadenze) and max(scadenze) <= NOW.date() + timedelta(days=160)
    assert 20 <= len({c.nomecliente for c in commesse if c.nomecliente}) <= 30
    assert 40 <= len({c.codart for c in commesse}) <= 70
    assert all(re.fullmatch(r"[A-Z]{3}-\d{4}-[A-Z]", c.codart) for c in commesse)


def test_erp_newest_orders_are_mostly_open(built):
    commesse = sorted(erp_commesse(built.erp_path), key=lambda c: (c.esercizio, c.numerocom))
    newest = commesse[-100:]
    assert sum(c.aperta for c in newest) >= 85


def test_erp_file_keeps_sqlite_rollback_journal(built):
    """WAL would need a -shm file that a read-only opener cannot create."""
    with sqlite3.connect(f"file:{built.erp_path}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not built.erp_path.with_name(built.erp_path.name + "-wal").exists()


# -- configuration ----------------------------------------------------------------------------


def test_configured_commesse_are_open_erp_orders_with_their_fasi(built):
    session = built.session
    erp = {c.id: c for c in erp_commesse(built.erp_path)}
    configs = list(session.scalars(select(ConfigCommessa)))
    fasi = fasi_per_commessa(session)
    supervisore = session.scalar(select(Utente).where(Utente.matricola == "supervisore"))

    assert 35 <= len(configs) <= 45 and len(configs) == built.summary.configurate
    piantate = _scostamenti_piantati(session, erp, configs)
    cicli = defaultdict(int)
    for config in configs:
        commessa = erp[config.commessa_erp_id]
        if config.commessa_erp_id not in piantate:
            assert commessa.aperta
            assert config.qta_erp == commessa.qta
        assert config.creato_da == supervisore.id
        assert re.fullmatch(r"DB-[A-Z]{3}-\d{4}", config.diba) and config.revisione in {"A", "B", "C"}
        tipi = [f.fase_tipo.codice for f in fasi[config.commessa_erp_id]]
        flags = (("SMD", config.flag_smd), ("PTH", config.flag_pth), ("CONTROLLI", config.flag_controlli))
        attesi = [tipo for tipo, acceso in flags if acceso]
        assert tipi == attesi
        assert all(f.qta_prevista == config.qta_erp for f in fasi[config.commessa_erp_id])
        cicli["+".join(tipi)] += 1
    assert set(fasi) == {c.commessa_erp_id for c in configs}
    assert cicli["SMD+CONTROLLI"] > cicli["SMD+PTH+CONTROLLI"] > 0 and cicli["PTH+CONTROLLI"] > 0
    assert any(c.note for c in configs)


# -- lotti and fasi against the business rules --------------------------------------------------


def test_fase_totals_and_states_follow_r8(built):
    session = built.session
    somme = {
        fase_id: (prodotta, scarti)
        for fase_id, prodotta, scarti in session.execute(
            select(Lotto.fase_id, func.sum(Lotto.qta_output), func.sum(Lotto.qta_scarti))
            .where(Lotto.data_fine.is_not(None))
            .group_by(Lotto.fase_id)
        )
    }
    lotti = lotti_per_fase(session)
    stati = defaultdict(int)
    for fase in session.scalars(select(Fase)):
        assert (fase.qta_prodotta, fase.qta_scarti) == somme.get(fase.id, (0, 0)), fase.id
        suoi = lotti.get(fase.id, [])
        aperti = [lt for lt in suoi if lt.data_fine is None]
        if not suoi:
            assert (fase.stato, fase.data_apertura, fase.data_chiusura) == ("APERTA", None, None)
        elif fase.qta_prodotta >= fase.qta_prevista and not aperti:
            assert fase.stato == "COMPLETATA"
            assert fase.data_chiusura == max(lt.data_fine for lt in suoi)
        else:
            assert fase.stato == "IN_CORSO" and fase.data_chiusura is None
        if suoi:
            assert fase.data_apertura == suoi[0].data_inizio
        stati[fase.stato] += 1
    assert stati["APERTA"] and stati["IN_CORSO"] and stati["COMPLETATA"]


def test_closed_lotti_respect_r7(built):
    session = built.session
    causali = {c.id: c for c in session.scalars(select(CausaleScarto))}
    lotti = all_lotti(session)
    chiusi = [lt for lt in lotti if lt.data_fine is not None]
    for lotto in chiusi:
        assert lotto.qta_output >= 0 and lotto.qta_scarti >= 0, lotto.codice_lotto
        assert 0 < lotto.qta_output + lotto.qta_scarti <= lotto.qta_input, lotto.codice_lotto
        if lotto.qta_scarti:
            causale = causali[lotto.causale_id]
            assert causale.fase_tipo_id in (None, lotto.fase.fase_tipo_id), lotto.codice_lotto
        else:
            assert lotto.causale_id is None and lotto.note_scarti is None
    for lotto in lotti:
        if lotto.data_fine is None:
            assert (lotto.qta_output, lotto.qta_scarti, lotto.causale_id, lotto.operatore_chiusura_id) == (None,) * 4
    scarti = sum(lt.qta_scarti for lt in chiusi)
    assert 0.3 <= 100 * scarti / (scarti + sum(lt.qta_output for lt in chiusi)) <= 3
    assert any(lt.note_scarti for lt in chiusi)
    assert any(lt.qta_output + lt.qta_scarti < lt.qta_input for lt in chiusi), "nessun lotto chiuso con resto"


def _disponibile(fase: Fase, precedenti: list[Lotto] | None, fatti: list[Lotto], t: datetime) -> int:
    """R5 at instant ``t``, over the lotti of the fase opened before (``fatti``)."""

    def chiuso(lt):
        return lt.data_fine is not None and lt.data_fine <= t

    if precedenti is None:
        return fase.qta_prevista - sum(lt.qta_output if chiuso(lt) else lt.qta_input for lt in fatti)
    arrivati = sum(lt.qta_output for lt in precedenti if chiuso(lt))
    return arrivati - sum(lt.qta_output + lt.qta_scarti if chiuso(lt) else lt.qta_input for lt in fatti)


def test_every_lotto_opened_within_r5_availability_at_its_instant(built):
    """Later fasi never take more than the previous enabled fase had produced by then,
    and the first fase never more than QtaPrevista allows."""
    session = built.session
    lotti = lotti_per_fase(session)
    for fasi in fasi_per_commessa(session).values():
        for posizione, fase in enumerate(fasi):
            precedenti = lotti.get(fasi[posizione - 1].id, []) if posizione else None
            suoi = lotti.get(fase.id, [])
            for i, lotto in enumerate(suoi):
                disponibile = _disponibile(fase, precedenti, suoi[:i], lotto.data_inizio)
                assert 0 < lotto.qta_input <= disponibile, lotto.codice_lotto
            # ...and at the end too, counting every lotto.
            assert _disponibile(fase, precedenti, suoi, NOW) >= 0, fase.id


def test_every_lotto_of_a_later_fase_has_whole_draws(built):
    """R14: the demo's draws add up to what each lotto consumes, from closed lotti of the
    previous fase of its order, none giving more than it made."""
    from asigest.models import LottoOrigine
    from asigest.services import origini

    assert origini.violazioni(built.session) == []
    assert built.session.scalar(select(func.count()).select_from(LottoOrigine)) > 100


def test_lotti_codes_progressivi_and_stamps(built):
    session = built.session
    erp = {c.id: c for c in erp_commesse(built.erp_path)}
    configs = {c.commessa_erp_id: c for c in session.scalars(select(ConfigCommessa))}
    ruoli = dict(session.execute(select(Utente.id, Utente.ruolo)).all())
    for fase_id, suoi in lotti_per_fase(session).items():
        assert [lt.progressivo for lt in suoi] == list(range(1, len(suoi) + 1)), fase_id
        for lotto in suoi:
            fase = lotto.fase
            commessa, config = erp[fase.commessa_erp_id], configs[fase.commessa_erp_id]
            tipo = fase.fase_tipo.codice
            assert lotto.codice_lotto == f"{commessa.esercizio}-{commessa.numerocom}-{tipo}-{lotto.progressivo:03d}"
            assert lotto.macchina.fase_tipo_id == fase.fase_tipo_id
            assert (lotto.diba, lotto.revisione) == (config.diba, config.revisione)
            assert ruoli[lotto.operatore_id] == "OPERATORE"
            assert lotto.data_fine is None or ruoli[lotto.operatore_chiusura_id] == "OPERATORE"
            assert lotto.data_inizio >= config.data_creazione


def test_blocked_config_has_no_lotti(built):
    """A config blocked for documentation (R4) never had a lotto opened."""
    session = built.session
    bloccate = list(session.scalars(select(ConfigCommessa).where(ConfigCommessa.bloccata_documentazione == true())))
    assert bloccate and all(c.note for c in bloccate)
    for config in bloccate:
        fasi = select(Fase.id).where(Fase.commessa_erp_id == config.commessa_erp_id)
        assert session.scalar(select(func.count(Lotto.id)).where(Lotto.fase_id.in_(fasi))) == 0


def test_lotti_times_are_plausible_shift_hours_without_overlap(built):
    lotti = all_lotti(built.session)
    assert 1000 <= len(lotti) <= 3000 and len(lotti) == built.summary.lotti
    per_macchina = defaultdict(list)
    for lotto in lotti:
        inizio = lotto.data_inizio.astimezone(ROME)
        assert inizio.weekday() != 6 and time(6) <= inizio.time() < time(22), lotto.codice_lotto
        assert NOW - timedelta(days=45) <= lotto.data_inizio < NOW
        if lotto.data_fine is not None:
            fine = lotto.data_fine.astimezone(ROME)
            assert fine.date() == inizio.date() and fine.time() <= time(22), lotto.codice_lotto
            assert timedelta(minutes=20) <= lotto.data_fine - lotto.data_inizio <= timedelta(minutes=240)
        per_macchina[lotto.macchina_id].append(lotto)
    for suoi in per_macchina.values():
        for prima, dopo in zip(suoi, suoi[1:]):
            assert prima.data_fine is not None and prima.data_fine <= dopo.data_inizio, dopo.codice_lotto
    assert len(per_macchina) == 9


def test_a_few_lotti_open_at_most_one_per_machine_one_forgotten(built):
    aperti = [lt for lt in all_lotti(built.session) if lt.data_fine is None]
    macchine = [lt.macchina_id for lt in aperti]
    assert 2 <= len(aperti) == built.summary.lotti_aperti
    assert len(macchine) == len(set(macchine))
    assert any(NOW - lt.data_inizio > timedelta(hours=12) for lt in aperti), "nessun lotto dimenticato (R13)"


def test_machines_of_the_demo(built):
    macchine = {m.codice: m for m in built.session.scalars(select(Macchina))}
    attese = {
        "SMD-L1": "SMD",
        "SMD-L2": "SMD",
        "SMD-L3": "SMD",
        "PTH-01": "PTH",
        "PTH-02": "PTH",
        "PTH-ONDA": "PTH",
        "CTRL-AOI1": "CONTROLLI",
        "CTRL-ICT1": "CONTROLLI",
        "CTRL-COLL1": "CONTROLLI",
    }
    assert {codice: m.fase_tipo.codice for codice, m in macchine.items()} == attese
    assert {m.reparto for m in macchine.values()} == {"SMD", "PTH", "Collaudo"}
    assert all(m.descrizione and m.attiva for m in macchine.values())


def test_every_lotto_and_config_has_its_audit_rows(built):
    session = built.session
    eventi = defaultdict(list)
    for evento in session.scalars(select(LogEvento)):
        eventi[(evento.azione, evento.entita_id)].append(evento)
    for lotto in all_lotti(session):
        (aperto,) = eventi[("LOTTO_APERTO", lotto.id)]
        assert (aperto.entita, aperto.data_ora, aperto.utente_id) == ("Lotti", lotto.data_inizio, lotto.operatore_id)
        assert aperto.postazione == lotto.macchina.codice
        assert aperto.dettagli["dopo"]["QtaInput"] == lotto.qta_input
        chiusi = eventi[("LOTTO_CHIUSO", lotto.id)]
        if lotto.data_fine is None:
            assert chiusi == []
        else:
            (chiuso,) = chiusi
            assert (chiuso.data_ora, chiuso.utente_id) == (lotto.data_fine, lotto.operatore_chiusura_id)
            assert chiuso.dettagli["dopo"]["QtaOutput"] == lotto.qta_output
            assert chiuso.dettagli["dopo"]["QtaScarti"] == lotto.qta_scarti
    for config in session.scalars(select(ConfigCommessa)):
        (creata,) = eventi[("CONFIG_CREATA", config.id)]
        assert creata.entita == "ConfigCommessa" and creata.data_ora == config.data_creazione
    storia = list(session.scalars(select(LogEvento).where(LogEvento.entita == "Lotti").order_by(LogEvento.id)))
    assert [e.data_ora for e in storia] == sorted(e.data_ora for e in storia)


# -- people, summary, repeatability ----------------------------------------------------------


def test_demo_users_can_log_in(built_qui):
    session = built_qui.session
    assert auth.authenticate_password(session, "admin", "admin1234").ruolo == "ADMIN"
    assert auth.authenticate_password(session, "supervisore", "super1234").ruolo == "SUPERVISORE"
    assert auth.authenticate_password(session, "supervisore2", "super1234").ruolo == "SUPERVISORE"
    operatori = list(session.scalars(select(Utente).where(Utente.ruolo == "OPERATORE").order_by(Utente.matricola)))
    assert len(operatori) == 12 and operatori[0].matricola == "1001"
    testo = demo.logins_text()
    for operatore in operatori:
        pin = re.search(rf"^\s+{operatore.matricola}\s+(\d{{4}})\s", testo, re.M).group(1)
        assert hashing.verify_secret(operatore.pin_hash, pin), operatore.matricola


def test_logins_text_lists_accounts_and_terminals():
    testo = demo.logins_text()
    attesi = ("admin", "admin1234", "supervisore", "super1234", "1001", "0101", "/kiosk/SMD-L1", "/kiosk/CTRL-COLL1")
    for atteso in attesi:
        assert atteso in testo


def test_summary_describes_in_italian(built):
    riga = built.summary.describe()
    assert riga.startswith("Demo pronta: 400 commesse ERP, 40 configurate, 9 macchine, 15 utenti, ")
    assert re.search(r"\d\.\d{3} lotti \(\d+ aperti\)\.$", riga)


def _fingerprint(session, erp_path: Path) -> tuple:
    lotti = [
        (lt.codice_lotto, lt.data_inizio, lt.data_fine, lt.qta_input, lt.qta_output, lt.qta_scarti, lt.macchina.codice)
        for lt in all_lotti(session)
    ]
    configs = sorted(
        (c.commessa_erp_id, c.flag_smd, c.flag_pth, c.flag_controlli, c.diba, c.note)
        for c in session.scalars(select(ConfigCommessa))
    )
    return lotti, configs, sorted(erp_commesse(erp_path), key=lambda c: c.id)


def _empty_asigest(session) -> None:
    """What the autouse cleaning does after a test, done in the middle of one."""
    from asigest.extensions import db

    for table in reversed(db.metadata.sorted_tables):
        session.execute(delete(table))
    session.commit()
    ensure_base_catalog(session)


def test_is_loaded_flips_to_true_and_the_same_seed_gives_the_same_demo(db_session, tmp_path, fast_hashing):
    # One test for both: each needs a demo built in the run's database (seconds on PostgreSQL).
    assert not demo.is_loaded(db_session)
    primo = demo.build_demo(db_session, tmp_path / "a.db", now=NOW)
    assert demo.is_loaded(db_session)
    impronta = _fingerprint(db_session, tmp_path / "a.db")
    _empty_asigest(db_session)
    secondo = demo.build_demo(db_session, tmp_path / "b.db", now=NOW)

    assert secondo == primo
    assert _fingerprint(db_session, tmp_path / "b.db") == impronta


def test_missing_erp_file_is_rebuilt_alone_and_still_matches(built_qui):
    built = built_qui
    session = built.session
    prima = session.scalar(select(func.count(LogEvento.id)))
    built.erp_path.unlink()

    summary = demo.build_demo(session, built.erp_path, now=NOW + timedelta(days=1))

    assert summary.solo_erp and "ERP demo ricreato" in summary.describe()
    assert (summary.lotti, summary.configurate) == (built.summary.lotti, built.summary.configurate)
    assert session.scalar(select(func.count(LogEvento.id))) == prima
    erp = {c.id: c for c in erp_commesse(built.erp_path)}
    configs = list(session.scalars(select(ConfigCommessa)))
    piantate = _scostamenti_piantati(session, erp, configs)  # the same two as the first time
    for config in configs:
        if config.commessa_erp_id not in piantate:
            assert erp[config.commessa_erp_id].qta == config.qta_erp and erp[config.commessa_erp_id].aperta


def _scostamenti_piantati(session, erp: dict, configs) -> set[int]:
    """The demo ERP differs from the configurations in exactly two planted ways (R12):
    the order of CTRL-AOI1's open lotto is closed, and the latest configured order with no
    lotto has 100 more pieces. Returns their ERP IDs."""
    diverse = {
        c.commessa_erp_id: c
        for c in configs
        if not erp[c.commessa_erp_id].aperta or erp[c.commessa_erp_id].qta != c.qta_erp
    }
    assert len(diverse) == 2, diverse
    chiusa = session.scalar(
        select(Fase.commessa_erp_id)
        .join(Lotto, Lotto.fase_id == Fase.id)
        .join(Macchina, Macchina.id == Lotto.macchina_id)
        .where(Macchina.codice == demo.MACCHINA_COMMESSA_CHIUSA, Lotto.data_fine.is_(None))
    )
    [qta] = set(diverse) - {chiusa}
    assert erp[chiusa].statocommessa == "C" and erp[chiusa].qta == diverse[chiusa].qta_erp
    assert erp[qta].aperta and erp[qta].qta == diverse[qta].qta_erp + 100
    assert not session.scalar(select(func.count(Lotto.id)).join(Fase).where(Fase.commessa_erp_id == qta))
    return set(diverse)


def test_now_must_be_timezone_aware(db_session, tmp_path):
    with pytest.raises(ValueError):
        demo.build_demo(db_session, tmp_path / "erp_demo.db", now=datetime(2026, 3, 18, 9, 30))
    assert not (tmp_path / "erp_demo.db").exists()


# -- the commands, in a subprocess -------------------------------------------------------------


def flask(instance: Path, *args: str) -> subprocess.CompletedProcess:
    """``flask --app wsgi <args>`` on its own instance folder, with default settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASIGEST_")}
    env["ASIGEST_INSTANCE_PATH"] = str(instance)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_demo_command_end_to_end(tmp_path):
    instance = tmp_path / "instance"

    primo = flask(instance, "demo")
    assert primo.returncode == 0, primo.stderr
    assert "Demo pronta: 400 commesse ERP" in primo.stdout
    assert "admin1234" in primo.stdout and "/kiosk/SMD-L1" in primo.stdout
    assert (instance / "erp_demo.db").exists() and (instance / "asigest.db").exists()

    secondo = flask(instance, "demo")
    assert secondo.returncode == 0, secondo.stderr
    assert "già presenti" in secondo.stdout and "admin1234" in secondo.stdout

    (instance / "erp_demo.db").unlink()
    terzo = flask(instance, "demo")
    assert terzo.returncode == 0, terzo.stderr
    assert "ERP demo ricreato" in terzo.stdout and (instance / "erp_demo.db").exists()

    reset = flask(instance, "demo", "--reset")
    assert reset.returncode == 0, reset.stderr
    assert "Demo pronta" in reset.stdout and "admin1234" in reset.stdout


def test_user_and_token_commands(tmp_path):
    instance = tmp_path / "instance"
    assert flask(instance, "init").returncode == 0

    creato = flask(
        instance,
        "user",
        "create",
        "--matricola",
        "2001",
        "--nome",
        "Anna",
        "--cognome",
        "Neri",
        "--ruolo",
        "operatore",
        "--pin",
        "4321",
        "--lingua",
        "en",
    )
    assert creato.returncode == 0, creato.stderr
    assert "Utente 2001 creato" in creato.stdout
    with sqlite3.connect(instance / "asigest.db") as conn:
        assert conn.execute("SELECT Lingua FROM Utenti WHERE Matricola = '2001'").fetchone() == ("en",)

    doppio = flask(
        instance,
        "user",
        "create",
        "--matricola",
        "2001",
        "--nome",
        "Anna",
        "--cognome",
        "Neri",
        "--ruolo",
        "OPERATORE",
        "--pin",
        "4321",
    )
    assert doppio.returncode != 0 and "già usata" in doppio.stderr

    token = flask(instance, "token", "create", "--matricola", "2001")
    assert token.returncode == 0, token.stderr
    assert re.fullmatch(r"asg_[A-Za-z0-9_-]{40,}", token.stdout.strip().splitlines()[-1])

    ignoto = flask(instance, "token", "create", "--matricola", "9999")
    assert ignoto.returncode != 0
    assert "Nessun utente con matricola 9999" in ignoto.stderr
