"""The copy of the ERP's open orders that the orders list and search read
(services/commesse_aperte.py, docs/decisioni/2026-12-08-copia-commesse-aperte.md).

Checked: the copy answers exactly what the ERP answers (same orders, same fields, same
order, same pages) for every kind of search the gateway's tests name; an order opened,
closed or changed in the ERP shows in the answers once the copy is ``FRESCHEZZA`` old and
not later; only one worker refreshes at a time and the others ask the ERP meanwhile; an
ERP that does not answer is reported (ErpUnavailable) as soon as the copy is too old,
and a failed refresh gives its claim back.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, delete, select

from asigest.dialects import erp_engine_options, install_readonly_guard, sqlite_readonly_url
from asigest.erp import ErpGateway
from asigest.erp.gateway import ProtezioneErp
from asigest.errors import ErpUnavailable
from asigest.models import CommessaAperta, ConfigCommessa, StatoCommesseAperte
from asigest.models.types import utcnow
from asigest.services import commesse_aperte
from asigest.services.commesse import list_commesse
from tests.erp_fixture import commessa_row, standard_rows

FRESCHEZZA = 30  # seconds, as the default ASIGEST_COMMESSE_APERTE_SECONDS

# Every kind of search of tests/integration/test_erp_gateway.py, and then some.
RICERCHE = [
    None,
    "",
    "   ",
    "1001",
    "1234",
    "78",
    "2026/1234",
    "2026-1234",
    " 2026 / 1234 ",
    "2025/1234",
    "2026/77",
    "po 50",
    "ORD-00040",
    "ord-0004",
    "sch-[x]",
    "art-003",
    "ALIMENTATORE 24v",
    "ELETTRONICA adriatica",
    "meccatronica",
    "già",
    "città",
    "Più Già",
    "CITTÀ",
    "ÜNÏCODE",
    "%",
    "_",
    "50%_",
    "%_sconto",
    "[X]",
    "[A-Z]",
    "\\",
    "Commessa chiusa",
    "Sospesa in ERP",
    "99999999999999999999",
    "scheda",
    "s",
    "2026",
    "cliente generico",
    "nessuna corrispondenza",
]


@pytest.fixture
def copia_vuota(db_session):
    """No copy yet, as on a new database (another test may have filled it)."""
    db_session.execute(delete(CommessaAperta))
    db_session.execute(delete(StatoCommesseAperte))
    db_session.commit()
    return db_session


def gateway_su(path, *, protezione=None) -> ErpGateway:
    url = sqlite_readonly_url(path)
    engine = create_engine(url, **erp_engine_options(url, 1.0))
    install_readonly_guard(engine)
    return ErpGateway(engine, protezione=protezione)


@pytest.fixture
def erp_modificabile(tmp_path, erp_file):
    """A copy of the test ERP that the test changes as the office would (its own writable
    connection), and the read-only gateway the application would have on it."""
    path = tmp_path / "erp_vivo.db"
    shutil.copy(erp_file, path)
    gateway = gateway_su(path)
    ufficio = sqlite3.connect(path, isolation_level=None)
    yield gateway, ufficio
    ufficio.close()
    gateway.engine.dispose()


def dalla_copia(session, erp, q=None, *, ora, limit=1000, offset=0):
    pagina = list_commesse(session, erp, q=q, limit=limit, offset=offset, freschezza=FRESCHEZZA, ora=ora)
    return [riga.commessa for riga in pagina.items]


def ids(commesse):
    return [c.id for c in commesse]


def stato(session):
    session.rollback()
    return session.execute(select(StatoCommesseAperte)).scalar_one_or_none()


# -- the same answers as the ERP ------------------------------------------------------


@pytest.mark.parametrize("q", RICERCHE)
def test_the_copy_answers_exactly_what_the_erp_answers(copia_vuota, erp, q):
    ora = utcnow()
    risposta = dalla_copia(copia_vuota, erp, q, ora=ora)
    assert risposta == erp.list_open(q, limit=1000)  # every field, in the ERP's order
    assert stato(copia_vuota).aggiornata_il == ora  # from the copy, not from the ERP


@pytest.mark.parametrize("q", [None, "art-003", "scheda", "1234"])
@pytest.mark.parametrize("limit", [1, 7, 43])
def test_the_copys_pages_are_the_erps_pages(copia_vuota, erp, q, limit):
    ora = utcnow()
    for offset in range(0, 60, limit):
        assert dalla_copia(copia_vuota, erp, q, ora=ora, limit=limit, offset=offset) == erp.list_open(
            q, limit=limit, offset=offset
        )


def test_has_more_and_configurata_are_as_from_the_erp(copia_vuota, erp):
    copia_vuota.add(ConfigCommessa(commessa_erp_id=101, flag_smd=True, flag_pth=False, flag_controlli=True))
    copia_vuota.commit()
    dal_erp = list_commesse(copia_vuota, erp, q="scheda", limit=5, freschezza=0)
    dalla_copia_ = list_commesse(copia_vuota, erp, q="scheda", limit=5, freschezza=FRESCHEZZA)
    assert dalla_copia_ == dal_erp
    assert dalla_copia_.has_more and [r.configurata for r in dalla_copia_.items] == [True, False, False, False, False]
    ultima = list_commesse(copia_vuota, erp, q="alimentatore", limit=1, freschezza=FRESCHEZZA)
    assert not ultima.has_more and ids(r.commessa for r in ultima.items) == [101]


def test_the_copy_holds_the_open_orders_only(copia_vuota, erp):
    dalla_copia(copia_vuota, erp, ora=utcnow())
    aperte = {r["ID"] for r in standard_rows() if r["STATOCOMMESSA"] == "O"}
    assert set(copia_vuota.scalars(select(CommessaAperta.id))) == aperte


def test_a_search_holding_the_separator_asks_the_erp(copia_vuota, erp):
    assert dalla_copia(copia_vuota, erp, f"ord{commesse_aperte.SEPARATORE}art", ora=utcnow()) == []
    assert stato(copia_vuota) is None  # the copy was not even read


# -- freshness ------------------------------------------------------------------------


def test_a_new_closed_or_changed_order_shows_once_the_copy_is_freschezza_old(copia_vuota, erp_modificabile):
    erp, ufficio = erp_modificabile
    t0 = utcnow()
    assert ids(dalla_copia(copia_vuota, erp, "ORD-00005", ora=t0)) == [5]
    assert dalla_copia(copia_vuota, erp, "Nuova dal gestionale", ora=t0) == []

    # The office releases a new order, closes order 5 and changes order 6.
    ufficio.execute(
        "INSERT INTO COMMESSE (ID, ESERCIZIO, NUMEROCOM, RIFCOMMCLI, CODART, DESART, QTA, DATACONSEGNA,"
        " STATOCOMMESSA, IDCLIENTE, NOMECLIENTE) VALUES (500, 2027, 1, 'ORD-500', 'ART-500',"
        " 'Nuova dal gestionale', 10, '2027-01-15', 'O', 10, 'Cliente Nuovo')"
    )
    ufficio.execute("UPDATE COMMESSE SET STATOCOMMESSA = 'C' WHERE ID = 5")
    ufficio.execute("UPDATE COMMESSE SET QTA = 999, DESART = 'Descrizione cambiata' WHERE ID = 6")

    # Within the freshness the copy answers as it was: this is the staleness promised.
    poco_dopo = t0 + timedelta(seconds=FRESCHEZZA - 1)
    assert ids(dalla_copia(copia_vuota, erp, "ORD-00005", ora=poco_dopo)) == [5]
    assert dalla_copia(copia_vuota, erp, "Nuova dal gestionale", ora=poco_dopo) == []

    # Once it is FRESCHEZZA old, the next request refreshes it: the ERP's new answers.
    scaduta = t0 + timedelta(seconds=FRESCHEZZA)
    assert ids(dalla_copia(copia_vuota, erp, "Nuova dal gestionale", ora=scaduta)) == [500]
    assert dalla_copia(copia_vuota, erp, "ORD-00005", ora=scaduta) == []
    (sei,) = dalla_copia(copia_vuota, erp, "descrizione cambiata", ora=scaduta)
    assert (sei.id, sei.qta) == (6, 999)
    assert stato(copia_vuota).aggiornata_il == scaduta
    for q in RICERCHE:
        assert dalla_copia(copia_vuota, erp, q, ora=scaduta) == erp.list_open(q, limit=1000), q
    assert dalla_copia(copia_vuota, erp, ora=scaduta)[0].id == 500  # newest first


def test_a_refresh_writes_only_what_changed(copia_vuota, erp_modificabile):
    erp, ufficio = erp_modificabile
    t0 = utcnow()
    dalla_copia(copia_vuota, erp, ora=t0)
    ufficio.execute("UPDATE COMMESSE SET NOMECLIENTE = 'Altro Cliente' WHERE ID = 7")
    ufficio.execute("UPDATE COMMESSE SET ESERCIZIO = NULL WHERE ID = 8")  # its key changes
    ufficio.execute("DELETE FROM COMMESSE WHERE ID = 9")  # gone from the ERP
    prima = {c.id: c.testo for c in copia_vuota.scalars(select(CommessaAperta))}
    copia_vuota.rollback()
    dopo = t0 + timedelta(seconds=FRESCHEZZA)
    assert dalla_copia(copia_vuota, erp, ora=dopo) == erp.list_open(limit=1000)
    testi = {c.id: c.testo for c in copia_vuota.scalars(select(CommessaAperta))}
    assert prima.keys() - testi.keys() == {9}
    assert testi[7] != prima[7] and "altro cliente" in testi[7]
    assert ids(dalla_copia(copia_vuota, erp, ora=dopo))[-3:] == [102, 8, 104]  # NULL ESERCIZIO last


def test_a_copy_from_a_clock_ahead_counts_as_stale(copia_vuota, erp):
    """Another server whose clock runs ahead stamped the copy: it is not taken as fresh
    for longer than FRESCHEZZA."""
    ora = utcnow()
    dalla_copia(copia_vuota, erp, ora=ora + timedelta(hours=1))
    dalla_copia(copia_vuota, erp, ora=ora)
    assert stato(copia_vuota).aggiornata_il == ora


# -- one refresh at a time --------------------------------------------------------------


def test_while_another_worker_refreshes_the_erp_answers(copia_vuota, erp_modificabile):
    erp, ufficio = erp_modificabile
    t0 = utcnow()
    dalla_copia(copia_vuota, erp, ora=t0)
    ufficio.execute("UPDATE COMMESSE SET STATOCOMMESSA = 'C' WHERE ID = 5")
    scaduta = t0 + timedelta(seconds=FRESCHEZZA + 1)
    # Another worker claimed the refresh a moment ago and has not finished.
    altro = scaduta - timedelta(seconds=1)
    copia_vuota.execute(StatoCommesseAperte.__table__.update().values(AggiornamentoDal=altro))
    copia_vuota.commit()
    assert dalla_copia(copia_vuota, erp, ora=scaduta) == erp.list_open(limit=1000)  # asked the ERP
    assert 5 not in ids(dalla_copia(copia_vuota, erp, ora=scaduta))
    assert stato(copia_vuota).aggiornata_il == t0 and stato(copia_vuota).aggiornamento_dal == altro
    assert 5 in set(copia_vuota.scalars(select(CommessaAperta.id)))  # the copy untouched

    # A claim older than RECLAMO_SCADUTO (its worker died) is taken over.
    tardi = altro + commesse_aperte.RECLAMO_SCADUTO + timedelta(seconds=1)
    assert dalla_copia(copia_vuota, erp, ora=tardi) == erp.list_open(limit=1000)
    s = stato(copia_vuota)
    assert (s.aggiornata_il, s.aggiornamento_dal) == (tardi, None)
    assert 5 not in set(copia_vuota.scalars(select(CommessaAperta.id)))


def test_only_one_claim_at_a_time(copia_vuota):
    ora = utcnow()
    freschezza = timedelta(seconds=FRESCHEZZA)
    assert commesse_aperte._reclama(copia_vuota, freschezza, ora) is True  # adds the row
    assert commesse_aperte._reclama(copia_vuota, freschezza, ora) is False
    assert commesse_aperte._reclama(copia_vuota, freschezza, ora + timedelta(seconds=5)) is False
    assert stato(copia_vuota).aggiornamento_dal == ora


def test_a_refresh_whose_claim_was_taken_over_writes_nothing(copia_vuota, erp):
    ora = utcnow()
    freschezza = timedelta(seconds=FRESCHEZZA)
    assert commesse_aperte._reclama(copia_vuota, freschezza, ora)
    dopo = ora + commesse_aperte.RECLAMO_SCADUTO + timedelta(seconds=1)
    assert commesse_aperte._reclama(copia_vuota, freschezza, dopo)  # another worker took over
    assert commesse_aperte._scrivi(copia_vuota, erp.all_open(), ora) is False
    assert copia_vuota.scalars(select(CommessaAperta.id)).first() is None
    assert stato(copia_vuota).aggiornamento_dal == dopo


# -- the ERP does not answer ----------------------------------------------------------------


def test_an_erp_that_does_not_answer_is_reported_once_the_copy_is_too_old(copia_vuota, erp, tmp_path):
    t0 = utcnow()
    dalla_copia(copia_vuota, erp, ora=t0)
    spento = gateway_su(tmp_path / "non-esiste.db")
    try:
        # Within the freshness the copy stands in for the ERP.
        assert dalla_copia(copia_vuota, spento, "1234", ora=t0 + timedelta(seconds=1)) == erp.list_open("1234")
        with pytest.raises(ErpUnavailable):
            dalla_copia(copia_vuota, spento, "1234", ora=t0 + timedelta(seconds=FRESCHEZZA))
    finally:
        spento.engine.dispose()
    s = stato(copia_vuota)
    assert (s.aggiornata_il, s.aggiornamento_dal) == (t0, None)  # the claim given back


def test_with_the_breaker_open_no_refresh_is_claimed(copia_vuota, tmp_path):
    protezione = ProtezioneErp(pausa=60, max_attese=2)
    spento = gateway_su(tmp_path / "non-esiste.db", protezione=protezione)
    try:
        with pytest.raises(ErpUnavailable):
            dalla_copia(copia_vuota, spento, "1234", ora=utcnow())  # the refresh's read fails
        assert protezione.aperto
        assert stato(copia_vuota).aggiornamento_dal is None
        copia_vuota.execute(delete(StatoCommesseAperte))
        copia_vuota.commit()
        with pytest.raises(ErpUnavailable):
            dalla_copia(copia_vuota, spento, "1234", ora=utcnow())  # at once, from the breaker
        assert stato(copia_vuota) is None  # nothing was written
    finally:
        spento.engine.dispose()


def test_without_freschezza_every_request_asks_the_erp(copia_vuota, erp):
    pagina = list_commesse(copia_vuota, erp, q="1234", freschezza=0)
    assert [r.commessa for r in pagina.items] == erp.list_open("1234")
    assert stato(copia_vuota) is None


def test_a_negative_freshness_stops_the_start(tmp_path):
    from asigest import create_app

    with pytest.raises(ValueError, match="ASIGEST_COMMESSE_APERTE_SECONDS"):
        create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "COMMESSE_APERTE_SECONDS": -1})


def test_the_command_refreshes_the_copy_now(app, copia_vuota):
    runner = app.test_cli_runner()
    risultato = runner.invoke(args=["commesse-aperte"])
    assert risultato.exit_code == 0, risultato.output
    aperte = [r for r in standard_rows() if r["STATOCOMMESSA"] == "O"]
    assert f"aggiornata: {len(aperte)} commesse aperte" in risultato.output
    prima = stato(copia_vuota).aggiornata_il
    assert runner.invoke(args=["commesse-aperte"]).exit_code == 0  # fresh or not: now
    assert stato(copia_vuota).aggiornata_il > prima


def test_the_command_says_when_the_erp_does_not_answer(app_without_erp):
    from asigest.extensions import db

    with app_without_erp.app_context():  # as ``flask`` runs it: in the app's context
        risultato = app_without_erp.test_cli_runner().invoke(args=["commesse-aperte"])
        assert risultato.exit_code == 1, risultato.output
        assert "Il gestionale ASITRON non risponde" in risultato.output
        db.session.rollback()
        assert db.session.scalar(select(StatoCommesseAperte.aggiornamento_dal)) is None  # the claim given back
