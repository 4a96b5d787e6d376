"""The audit log: reading it (filters, plant-time periods, keyset pages, readable details)
and keeping it append-only (the ORM guard and a static check of the code)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Text, cast, delete, func, select, update

from asigest.domain.periodo import Periodo
from asigest.errors import InvalidInput, NotFound
from asigest.models import LogEvento
from asigest.models.audit import LogEventiImmutabile
from asigest.services import audit
from asigest.services import eventi as svc
from asigest.services.auth import actor_for

ROME = "Europe/Rome"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ASIGEST = Path(__file__).resolve().parents[2] / "asigest"


@pytest.fixture
def registra(db_session):
    """``registra(azione, entita, entita_id, quando, actor=None, **dettagli)`` → LogID, committed."""

    def add(azione, entita, entita_id, quando, actor=None, **dettagli):
        evento = audit.record(db_session, actor, azione, entita, entita_id, **dettagli)
        evento.data_ora = quando
        db_session.commit()
        return evento.id

    return add


def cerca(session, **filtro):
    prima_di = filtro.pop("prima_di", None)
    limit = filtro.pop("limit", svc.PAGINA)
    return svc.cerca_eventi(session, filtro=svc.FiltroEventi(**filtro), zona=ROME, prima_di=prima_di, limit=limit)


def ids(pagina) -> list[int]:
    return [e.id for e in pagina.items]


def snapshot(session) -> list[tuple]:
    """Every LogEventi row as stored, Dettagli as the database's own text."""
    session.rollback()
    t = LogEvento.__table__.c
    return session.execute(
        select(
            t.LogID, t.DataOra, t.UtenteID, t.Postazione, t.Azione, t.Entita, t.EntitaID, cast(t.Dettagli, Text)
        ).order_by(t.LogID)
    ).all()


# -- filters ------------------------------------------------------------------------


def test_filters_by_entity_user_action_and_instance(db_session, make_user, registra):
    capo = actor_for(make_user(ruolo="SUPERVISORE"))
    operatore = actor_for(make_user(ruolo="OPERATORE", password=None, pin="1234"))
    a = registra("LOTTO_APERTO", "Lotti", 7, T0, operatore)
    b = registra("LOTTO_CHIUSO", "Lotti", 7, T0 + timedelta(hours=1), operatore)
    c = registra("LOTTO_APERTO", "Lotti", 8, T0 + timedelta(hours=2), operatore)
    d = registra("CONFIG_MODIFICATA", "ConfigCommessa", 3, T0 + timedelta(hours=3), capo)
    e = registra("LOTTO_RETTIFICATO", "Lotti", 7, T0 + timedelta(hours=4), capo, motivo="conteggio errato")
    everything = [i for i in ids(cerca(db_session)) if i in {a, b, c, d, e}]

    assert everything == [e, d, c, b, a]  # newest first
    assert ids(cerca(db_session, entita="Lotti", entita_id=7)) == [e, b, a]
    assert ids(cerca(db_session, entita="ConfigCommessa")) == [d]
    assert ids(cerca(db_session, utente_id=capo.utente_id, entita="Lotti")) == [e]
    assert ids(cerca(db_session, azione="LOTTO_APERTO")) == [c, a]
    assert ids(cerca(db_session, azione="LOTTO_APERTO", utente_id=capo.utente_id)) == []
    # An action is written with one entity type only: a mismatch cannot match anything.
    assert ids(cerca(db_session, azione="LOTTO_APERTO", entita="ConfigCommessa")) == []


def test_frequent_and_rare_entity_types_give_the_same_rows(db_session, registra, monkeypatch):
    """The two plans of an entity-type filter (see the module docstring) agree."""
    scritti = [registra("LOTTO_APERTO", "Lotti", n, T0 + timedelta(minutes=n)) for n in range(1, 8)]
    registra("CONFIG_CREATA", "ConfigCommessa", 1, T0 + timedelta(minutes=3, seconds=30))
    rara = [ids(p) for p in _tutte_le_pagine(db_session, entita="Lotti", limit=3)]
    monkeypatch.setattr(svc, "SOGLIA_RARA", 2)  # now "Lotti" (7 rows) counts as frequent
    frequente = [ids(p) for p in _tutte_le_pagine(db_session, entita="Lotti", limit=3)]
    assert rara == frequente == [scritti[::-1][0:3], scritti[::-1][3:6], scritti[::-1][6:]]


def test_period_is_whole_days_in_plant_time(db_session, registra):
    """2 March in Rome (UTC+1) runs from 1 March 23:00 UTC to 2 March 23:00 UTC."""
    prima = registra("LOGIN", "Utenti", 1, datetime(2026, 3, 1, 22, 59, tzinfo=UTC))
    inizio = registra("LOGIN", "Utenti", 1, datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    fine = registra("LOGIN", "Utenti", 1, datetime(2026, 3, 2, 22, 59, 59, tzinfo=UTC))
    dopo = registra("LOGIN", "Utenti", 1, datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    giorno = Periodo(date(2026, 3, 2), date(2026, 3, 2))

    assert ids(cerca(db_session, periodo=giorno)) == [fine, inizio]
    # (entita: leave out the base catalog's own event, written now by the test set-up)
    assert ids(cerca(db_session, entita="Utenti", periodo=Periodo(da=date(2026, 3, 2)))) == [dopo, fine, inizio]
    assert ids(cerca(db_session, periodo=Periodo(a=date(2026, 3, 1)))) == [prima]
    assert ids(cerca(db_session, azione="LOGIN", periodo=giorno)) == [fine, inizio]


def test_inverted_period_and_number_without_type_are_refused(db_session):
    with pytest.raises(InvalidInput) as inverted:
        cerca(db_session, periodo=Periodo(date(2026, 3, 5), date(2026, 3, 1)))
    assert "a" in inverted.value.errors
    with pytest.raises(InvalidInput) as alone:
        cerca(db_session, entita_id=5)
    assert "entita" in alone.value.errors


# -- pages ---------------------------------------------------------------------------


def _tutte_le_pagine(session, **filtro):
    pagine, cursore = [], None
    while True:
        pagina = cerca(session, prima_di=cursore, **filtro)
        pagine.append(pagina)
        if not pagina.has_more:
            return pagine
        cursore = pagina.prossimo


def test_keyset_pages_cover_everything_once_even_with_equal_instants(db_session, registra):
    """Ten events, four of them at the same instant: pages of three list each exactly once,
    in (DataOra, LogID) order, and only the last page says there is no more."""
    scritti = [registra("LOGIN", "Utenti", 1, T0 + timedelta(minutes=n)) for n in range(6)]
    scritti += [registra("LOGIN", "Utenti", 1, T0 + timedelta(minutes=10)) for _ in range(4)]
    pagine = _tutte_le_pagine(db_session, entita="Utenti", limit=3)

    assert [len(p.items) for p in pagine] == [3, 3, 3, 1]
    assert [p.has_more for p in pagine] == [True, True, True, False]
    assert [i for p in pagine for i in ids(p)] == scritti[6:][::-1] + scritti[:6][::-1]
    assert pagine[-1].prossimo is None


def test_exactly_one_page_says_no_more(db_session, registra):
    for n in range(3):
        registra("LOGIN", "Utenti", 1, T0 + timedelta(minutes=n))
    pagina = cerca(db_session, entita="Utenti", limit=3)
    assert len(pagina.items) == 3 and not pagina.has_more and pagina.prossimo is None


def test_unknown_cursor_is_not_found(db_session):
    with pytest.raises(NotFound):
        cerca(db_session, prima_di=987654)


# -- reading an event ----------------------------------------------------------------


def test_event_carries_who_where_and_the_order(db_session, make_user, registra):
    capo = make_user(ruolo="SUPERVISORE", nome="Giulia", cognome="Ferrari")
    registra(
        "CONFIG_MODIFICATA",
        "ConfigCommessa",
        4,
        T0,
        actor_for(capo, "10.0.0.7"),
        prima={"CommessaERPId": 101, "Note": "vecchia"},
        dopo={"CommessaERPId": 101, "Note": "nuova"},
    )
    evento = cerca(db_session, entita="ConfigCommessa").items[0]
    assert (evento.utente, evento.matricola, evento.postazione) == ("Giulia Ferrari", capo.matricola, "10.0.0.7")
    assert evento.commessa_erp_id == 101
    assert (
        evento.etichetta_azione == "Configurazione modificata" and evento.etichetta_entita == "Configurazione commessa"
    )


def test_details_read_as_field_before_after_with_changes_marked():
    righe, motivo = svc.righe_dettaglio(
        {
            "prima": {"QtaOutput": 90, "QtaScarti": 10, "CausaleID": 3},
            "dopo": {"QtaOutput": 95, "QtaScarti": 5, "CausaleID": 3, "NoteScarti": "ricontati"},
            "motivo": "errore di battitura",
        }
    )
    assert motivo == "errore di battitura"
    per_campo = {r.campo: r for r in righe}
    assert [r.campo for r in righe] == ["QtaOutput", "QtaScarti", "CausaleID", "NoteScarti"]
    assert (per_campo["QtaOutput"].prima, per_campo["QtaOutput"].dopo, per_campo["QtaOutput"].cambiato) == (
        90,
        95,
        True,
    )
    assert per_campo["CausaleID"].cambiato is False
    assert per_campo["NoteScarti"].cambiato and not per_campo["NoteScarti"].ha_prima


def test_details_of_a_creation_mark_nothing_and_odd_shapes_stay_visible():
    righe, motivo = svc.righe_dettaglio({"dopo": {"Codice": "SMD-L9", "Attiva": True}})
    assert motivo is None and [(r.campo, r.dopo, r.cambiato) for r in righe] == [
        ("Codice", "SMD-L9", False),
        ("Attiva", True, False),
    ]
    assert svc.righe_dettaglio(None) == ([], None)
    assert [(r.campo, r.dopo) for r in svc.righe_dettaglio(["x", 1])[0]] == [("Dettagli", ["x", 1])]
    righe, _ = svc.righe_dettaglio({"righe_aggiunte": 3, "prima": "testo"})
    assert {(r.campo, r.prima, r.dopo) for r in righe} == {("prima", "testo", None), ("righe_aggiunte", None, 3)}


# -- append-only ---------------------------------------------------------------------


def test_orm_changes_to_an_event_are_refused_and_nothing_changes(db_session, registra):
    log_id = registra("LOTTO_CHIUSO", "Lotti", 5, T0, dopo={"QtaOutput": 10})
    before = snapshot(db_session)

    evento = db_session.get(LogEvento, log_id)
    evento.dettagli = {"dopo": {"QtaOutput": 99}}
    with pytest.raises(LogEventiImmutabile):
        db_session.commit()
    db_session.rollback()

    db_session.delete(db_session.get(LogEvento, log_id))
    with pytest.raises(LogEventiImmutabile):
        db_session.flush()
    db_session.rollback()

    assert snapshot(db_session) == before


@pytest.mark.parametrize(
    "statement",
    [
        lambda: update(LogEvento).values(azione="X"),
        lambda: update(LogEvento).where(LogEvento.id > 0).values(postazione="X"),
        lambda: delete(LogEvento),
        lambda: delete(LogEvento).where(LogEvento.entita == "Lotti"),
    ],
    ids=["update", "update-where", "delete", "delete-where"],
)
def test_orm_update_and_delete_statements_are_refused(db_session, registra, statement):
    registra("LOTTO_APERTO", "Lotti", 5, T0, dopo={"QtaInput": 10})
    before = snapshot(db_session)
    with pytest.raises(LogEventiImmutabile):
        db_session.execute(statement())
    db_session.rollback()
    assert snapshot(db_session) == before


def test_legacy_query_delete_and_bulk_update_are_refused(db_session, registra):
    log_id = registra("LOTTO_APERTO", "Lotti", 5, T0)
    before = snapshot(db_session)
    with pytest.raises(LogEventiImmutabile):
        db_session.query(LogEvento).filter(LogEvento.id == log_id).delete()
    db_session.rollback()
    with pytest.raises(LogEventiImmutabile):
        db_session.execute(update(LogEvento), [{"id": log_id, "azione": "X"}])
    db_session.rollback()
    assert snapshot(db_session) == before


def test_other_tables_and_new_events_are_untouched_by_the_guard(db_session, registra):
    """The guard stops changes to events only: adding events and ORM updates of other
    tables (as the lotti service does) still work, in the same session."""
    from asigest.models import FaseTipo

    registra("LOGIN", "Utenti", 1, T0)
    prima = db_session.scalar(select(func.count()).select_from(LogEvento))
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.execute(update(FaseTipo).where(FaseTipo.id == tipo.id).values(descrizione="SMD (prova)"))
    db_session.commit()
    registra("LOGIN", "Utenti", 1, T0 + timedelta(minutes=1))
    assert db_session.scalar(select(func.count()).select_from(LogEvento)) == prima + 1


def test_core_table_statements_are_the_documented_way_around(db_session, registra):
    """The test suite empties every table between tests with Core ``delete(table)``:
    not an ORM statement, so not refused. No module of the application does that
    to LogEventi (next test)."""
    registra("LOGIN", "Utenti", 1, T0)
    db_session.execute(delete(LogEvento.__table__))
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(LogEvento)) == 0


_DML = {"update", "delete", "bulk_update_mappings", "bulk_save_objects"}
_SQL_TEXT = re.compile(
    r"\b(UPDATE\s+[\[\"`]?(dbo\.)?LogEventi|DELETE\s+FROM\s+[\[\"`]?(dbo\.)?LogEventi|TRUNCATE)", re.I
)


def _nomina_log(node) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "LogEvento":
            return True
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value == "LogEventi":
            return True
    return False


def _sorgenti():
    files = sorted(p for p in ASIGEST.rglob("*.py") if "translations" not in p.parts)
    assert len(files) > 20
    return files


def test_no_module_updates_or_deletes_events():
    """No ``update(LogEvento…)``/``delete(LogEvento…)``, ``query(LogEvento).delete()``,
    bulk updates or SQL text changing LogEventi anywhere in ``asigest/``."""
    trovati = []
    for path in _sorgenti():
        sorgente = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(sorgente)):
            if not isinstance(node, ast.Call):
                continue
            nome = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if nome in _DML and (
                any(_nomina_log(a) for a in node.args)
                or (isinstance(node.func, ast.Attribute) and _nomina_log(node.func.value))
            ):
                trovati.append(f"{path.relative_to(ASIGEST.parent)}:{node.lineno}")
            if nome in ("text", "exec_driver_sql") and node.args:
                # literal SQL, f-strings included (their constant parts)
                sql = "".join(str(c.value) for c in ast.walk(node.args[0]) if isinstance(c, ast.Constant))
                if _SQL_TEXT.search(sql):
                    trovati.append(f"{path.relative_to(ASIGEST.parent)}:{node.lineno}")
    assert not trovati, "LogEventi è in sola aggiunta, ma questi punti lo modificano: " + ", ".join(trovati)


def _azioni_registrate():
    """``(file:line, azione, entita)`` of the ``audit.record(...)`` (and ``record_subito``) calls in ``asigest/`` whose
    arguments are literal strings or names assigned string constants in the same module
    (a value computed elsewhere, like the demo's loop over its history, is left out)."""
    trovate = []
    for path in _sorgenti():
        albero = ast.parse(path.read_text(encoding="utf-8"))
        costanti: dict[str, set[str]] = {}
        for node in ast.walk(albero):
            if isinstance(node, ast.Assign):
                valori = {
                    c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
                for target in node.targets:
                    if isinstance(target, ast.Name) and valori:
                        costanti.setdefault(target.id, set()).update(valori)
        for node in ast.walk(albero):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("record", "record_subito")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "audit"
            ):
                continue
            dove = f"{path.relative_to(ASIGEST.parent)}:{node.lineno}"
            azione, entita = node.args[2], node.args[3]

            def valori(arg, forma, costanti=costanti):
                if isinstance(arg, ast.Constant):
                    return {arg.value}
                if isinstance(arg, ast.Name) and arg.id in costanti:
                    return {v for v in costanti[arg.id] if re.fullmatch(forma, v)}
                return set()

            trovate += [(dove, a, e) for a in valori(azione, r"[A-Z][A-Z0-9_]+") for e in valori(entita, r"[A-Za-z]+")]
    return trovate


def test_every_recorded_action_and_entity_has_a_reading():
    """A new ``audit.record`` call must add its Azione (and Entita) to the viewer's lists,
    so that it can be filtered and reads in words."""
    trovate = _azioni_registrate()
    assert len(trovate) >= 25
    mancanti = sorted(
        {
            f"{dove} {a}/{e}"
            for dove, a, e in trovate
            if a not in svc.AZIONI or e not in svc.ENTITA or svc.AZIONI[a][1] != e
        }
    )
    assert not mancanti, "Aggiungere a asigest/services/eventi.py (AZIONI/ENTITA): " + "; ".join(mancanti)
