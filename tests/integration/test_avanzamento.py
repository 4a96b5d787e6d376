"""Order progress (``services/avanzamento``) against real databases: which orders, the late
and at-risk flags at their boundaries (also near midnight in the plant's zone), NULL ERP
fields, orders the ERP no longer has, filters, sort, paging, QtaDisponibile, the ERP down,
and a fixed number of statements whatever the number of orders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, event

from asigest.dialects import sqlite_readonly_url
from asigest.domain.periodo import oggi as oggi_in
from asigest.erp import ErpGateway
from asigest.errors import ErpUnavailable
from asigest.extensions import db
from asigest.models import Fase
from asigest.services import avanzamento, configurazione
from asigest.services.avanzamento import Filtri
from tests.avanzamento_fixture import PER_CONSEGNA, PIANO, configura, gateway, scrivi_erp
from tests.erp_fixture import build_erp, commessa_row
from tests.lotti_fixture import lotto_factory

D = date(2026, 3, 30)  # the Monday after the switch to summer time in Europe/Rome


@pytest.fixture
def erp_d(tmp_path):
    """The fixture's ERP with due dates around D."""
    g = gateway(scrivi_erp(tmp_path / "erp.db", D))
    yield g
    g.engine.dispose()


@pytest.fixture
def fasi(db_session):
    return configura(db_session)


@pytest.fixture
def erp_giu(tmp_path):
    g = ErpGateway(create_engine(sqlite_readonly_url(tmp_path / "manca.db")))
    yield g
    g.engine.dispose()


def pagina(session, erp, *, oggi=D, ordine="consegna", limit=50, offset=0, con_disponibile=False, **filtri):
    return avanzamento.avanzamento_commesse(
        session,
        erp,
        oggi=oggi,
        filtri=Filtri(**filtri),
        ordine=ordine,
        limit=limit,
        offset=offset,
        con_disponibile=con_disponibile,
    )


def ids(p) -> list[int]:
    return [c.commessa_erp_id for c in p.items]


def per_id(p) -> dict:
    return {c.commessa_erp_id: c for c in p.items}


# -- which orders ---------------------------------------------------------------------------


def test_by_default_every_configured_order_open_in_the_erp_soonest_due_first(db_session, erp_d, fasi):
    p = pagina(db_session, erp_d)
    # 6 is closed in the ERP, 7 is not configured, 999 is missing from the ERP.
    assert ids(p) == PER_CONSEGNA
    assert (p.totale, p.has_more, p.offset, p.limit) == (6, False, 0, 50)


def test_phases_come_in_flow_order_with_their_totals_and_percentages(db_session, erp_d, fasi):
    c = per_id(pagina(db_session, erp_d))[3]
    assert [(f.fase_tipo, f.stato, f.qta_prodotta, f.qta_prevista) for f in c.fasi] == [
        ("SMD", "APERTA", 0, 100),
        ("PTH", "SOSPESA", 0, 100),
    ]
    uno = per_id(pagina(db_session, erp_d))[1]
    assert [(f.fase_tipo, f.percentuale, f.qta_scarti) for f in uno.fasi] == [("SMD", 100.0, 3), ("CONTROLLI", 40.0, 0)]
    assert uno.percentuale == 70.0  # mean of the phases, each capped at 100
    assert uno.ultima_fase.fase_tipo == "CONTROLLI"
    assert (uno.numero, uno.esercizio, uno.numerocom, uno.nomecliente, uno.codart, uno.qta, uno.dataconsegna) == (
        "2026/1001",
        2026,
        1001,
        "Elettronica Adriatica S.p.A.",
        "SCH-001",
        100,
        D - timedelta(days=1),
    )


def test_every_listed_order_has_its_phases_also_those_due_later(db_session, erp_d, fasi):
    """The page reads the phases of far-off orders only for its own rows: they are still there."""
    p = per_id(pagina(db_session, erp_d))
    assert [f.fase_tipo for f in p[4].fasi] == ["SMD", "CONTROLLI"] and p[4].percentuale == 100.0
    assert [f.fase_tipo for f in p[5].fasi] == ["SMD"]
    selezione = avanzamento.seleziona_commesse(db_session, erp_d, oggi=D)
    assert [(c.commessa_erp_id, len(c.fasi)) for c in selezione.commesse] == [
        (8, 2),
        (1, 2),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 1),
    ]
    assert (selezione.in_ritardo, selezione.a_rischio) == (1, 2)


def test_all_configured_orders_on_request_also_closed_and_missing_from_the_erp(db_session, erp_d, fasi):
    p = pagina(db_session, erp_d, tutte=True)
    assert ids(p) == [6, 8, 1, 2, 3, 4, 5, 999]  # no due date (5, 999) last, then by ID
    mancante, chiusa = per_id(p)[999], per_id(p)[6]
    assert mancante.commessa is None and mancante.numero == "#999" and not mancante.aperta
    assert (mancante.esercizio, mancante.numerocom, mancante.desart, mancante.dataconsegna) == (None, None, None, None)
    assert not mancante.in_ritardo and not mancante.a_rischio
    assert chiusa.statocommessa == "C" and chiusa.in_ritardo  # late: its last phase is not done


def test_null_erp_fields_are_read_as_missing(db_session, erp_d, fasi):
    c = per_id(pagina(db_session, erp_d))[5]
    assert (c.numerocom, c.desart, c.codart, c.nomecliente, c.dataconsegna) == (None, None, None, None, None)
    assert c.numero == "2026/?"
    assert not c.in_ritardo and not c.a_rischio  # without a due date never late nor at risk


def test_no_configured_order_gives_an_empty_page(db_session, erp_d):
    p = pagina(db_session, erp_d)
    assert (p.items, p.totale, p.in_ritardo, p.a_rischio, p.has_more) == ([], 0, 0, 0, False)


# -- late and at risk -----------------------------------------------------------------------


def test_late_and_at_risk_flags(db_session, erp_d, fasi):
    flags = {i: (c.in_ritardo, c.a_rischio) for i, c in per_id(pagina(db_session, erp_d)).items()}
    assert flags == {
        8: (False, False),  # due two days ago, but the last phase is COMPLETATA
        1: (True, False),  # due yesterday, CONTROLLI still running
        2: (False, True),  # due today: not late yet, at risk
        3: (False, True),  # due in 7 days: the last day at risk
        4: (False, False),  # due in 8 days
        5: (False, False),  # no due date
    }


@pytest.mark.parametrize(
    "giorno, ritardo, rischio",
    [
        (D - timedelta(days=8), False, False),  # order 2 is due D: 8 days ahead, not at risk yet
        (D - timedelta(days=7), False, True),
        (D, False, True),  # due today is not late
        (D + timedelta(days=1), True, False),  # the day after, it is
    ],
)
def test_the_flags_of_an_order_at_their_boundaries(db_session, erp_d, fasi, giorno, ritardo, rischio):
    c = per_id(pagina(db_session, erp_d, oggi=giorno))[2]
    assert (c.in_ritardo, c.a_rischio) == (ritardo, rischio)


@pytest.mark.parametrize(
    "adesso, ritardo",
    [
        # D-1 = Sunday 29 March 2026, the day clocks go to summer time (UTC+2 from 03:00).
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), False),  # 23:59 in Rome: still the due date
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), True),  # 00:00 on the 30th in Rome, though still the 29th in UTC
    ],
)
def test_late_is_decided_by_the_calendar_day_in_the_plant_zone(db_session, erp_d, fasi, adesso, ritardo):
    giorno = oggi_in("Europe/Rome", adesso)
    assert per_id(pagina(db_session, erp_d, oggi=giorno))[1].in_ritardo is ritardo


def test_an_order_becomes_on_time_when_its_last_phase_completes(db_session, erp_d, fasi):
    db_session.get(Fase, fasi[(1, "CONTROLLI")]).stato = "COMPLETATA"
    db_session.commit()
    c = per_id(pagina(db_session, erp_d))[1]
    assert not c.in_ritardo and not c.a_rischio


def test_an_order_without_phases_is_not_done(db_session, erp_d, fasi):
    db_session.execute(delete(Fase).where(Fase.commessa_erp_id == 1))
    db_session.commit()
    c = per_id(pagina(db_session, erp_d))[1]
    assert c.fasi == () and c.ultima_fase is None and c.percentuale == 0.0
    assert c.in_ritardo


# -- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "testo, attesi",
    [
        ("2026/1003", [3]),
        ("2026-1003", [3]),
        ("1003", [3]),
        ("2025/1003", []),
        ("adriatica", [1]),  # customer, any case
        ("pth-777", [3]),  # article code
        ("ALIMENTATORE", [1]),  # article description
        ("ORD-00004", [4]),  # the customer's reference
        ("Scheda di prova", [8, 2, 3, 4]),  # 5 has no DESART: skipped, not an error
        ("nulla del genere", []),
        ("  1002  ", [2]),
    ],
)
def test_text_filter_matches_as_the_orders_search(db_session, erp_d, fasi, testo, attesi):
    assert ids(pagina(db_session, erp_d, testo=testo)) == attesi


def test_text_filter_finds_an_order_missing_from_the_erp_by_its_id(db_session, erp_d, fasi):
    assert ids(pagina(db_session, erp_d, testo="999", tutte=True)) == [999]
    assert ids(pagina(db_session, erp_d, testo="999")) == []


def test_late_and_at_risk_filters_show_either_and_the_counts_stay(db_session, erp_d, fasi):
    assert ids(pagina(db_session, erp_d, in_ritardo=True)) == [1]
    assert ids(pagina(db_session, erp_d, a_rischio=True)) == [2, 3]
    p = pagina(db_session, erp_d, in_ritardo=True, a_rischio=True)
    assert ids(p) == [1, 2, 3]
    # The counts are of the orders matching the other filters, so the page can offer both.
    assert (p.totale, p.in_ritardo, p.a_rischio) == (3, 1, 2)
    assert (pagina(db_session, erp_d, a_rischio=True).in_ritardo) == 1


@pytest.mark.parametrize(
    "filtri, attesi",
    [
        ({"fase_tipo": "PTH"}, [3]),
        ({"fase_tipo": "CONTROLLI"}, [8, 1, 4]),
        ({"stato_fase": "IN_CORSO"}, [1, 2, 5]),
        ({"stato_fase": "COMPLETATA"}, [8, 1, 4]),
        # The same phase must match both: order 1's CONTROLLI is IN_CORSO, its SMD COMPLETATA.
        ({"fase_tipo": "CONTROLLI", "stato_fase": "IN_CORSO"}, [1]),
        ({"fase_tipo": "SMD", "stato_fase": "SOSPESA"}, []),
        ({"fase_tipo": "SMD", "stato_fase": "IN_CORSO", "testo": "meccatronica"}, [2]),
        ({"stato_fase": "IN_CORSO", "in_ritardo": True}, [1]),
    ],
)
def test_phase_filters(db_session, erp_d, fasi, filtri, attesi):
    assert ids(pagina(db_session, erp_d, **filtri)) == attesi


# -- sort and paging --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ordine, attesi",
    [
        ("consegna", [8, 1, 2, 3, 4, 5]),
        ("-consegna", [4, 3, 2, 1, 8, 5]),  # no due date last either way
        ("numero", [1, 2, 3, 4, 8, 5]),  # 5 has no NUMEROCOM: last
        ("-numero", [8, 4, 3, 2, 1, 5]),
        ("cliente", [4, 8, 1, 2, 3, 5]),  # Alfa, Beta, Elettronica, Meccatronica, Zeta; none last
        ("-cliente", [3, 2, 1, 8, 4, 5]),
        ("avanzamento", [3, 5, 2, 1, 8, 4]),  # 0, 10, 25, 70, 100 (8 before 4: sooner due)
        ("-avanzamento", [8, 4, 1, 2, 5, 3]),
        ("ritardo", [1, 2, 3, 8, 4, 5]),  # late, then at risk, then the rest, each by due date
        ("sconosciuto", [8, 1, 2, 3, 4, 5]),  # an unknown sort is the default
    ],
)
def test_sort(db_session, erp_d, fasi, ordine, attesi):
    assert ids(pagina(db_session, erp_d, ordine=ordine)) == attesi


@pytest.mark.parametrize("ordine", avanzamento.ORDINI)
def test_whatever_the_sort_every_order_of_the_page_has_its_phases(db_session, erp_d, fasi, ordine):
    p = pagina(db_session, erp_d, ordine=ordine, tutte=True)
    assert {c.commessa_erp_id: len(c.fasi) for c in p.items} == {i: len(f) for i, f in PIANO.items()}


def test_ties_break_by_erp_id(db_session, erp_d):
    configura(db_session, {i: [("SMD", "APERTA", 0, 10, 0)] for i in (4, 3, 2)})
    # 2, 3 and 4 have different due dates but the same progress (0 %).
    assert ids(pagina(db_session, erp_d, ordine="avanzamento")) == [2, 3, 4]
    assert ids(pagina(db_session, erp_d, ordine="-avanzamento")) == [2, 3, 4]


def test_paging(db_session, erp_d, fasi):
    primi = pagina(db_session, erp_d, limit=4)
    assert ids(primi) == [8, 1, 2, 3] and primi.has_more and primi.totale == 6
    ultimi = pagina(db_session, erp_d, limit=4, offset=4)
    assert ids(ultimi) == [4, 5] and not ultimi.has_more
    oltre = pagina(db_session, erp_d, limit=4, offset=40)
    assert ids(oltre) == [] and not oltre.has_more and oltre.totale == 6


def test_page_phases_have_dates_and_available_quantity_on_request(db_session, erp_d, make_user, fasi):
    operatore = make_user(ruolo="OPERATORE")
    lotto = lotto_factory(db_session, operatore.id)
    smd = db_session.get(Fase, fasi[(2, "SMD")])
    lotto(smd, 60, output=50, scarti=7)
    lotto(smd, 30)  # open: its input is taken
    apertura = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    smd.data_apertura = apertura
    db_session.commit()
    c = per_id(pagina(db_session, erp_d, con_disponibile=True))[2]
    attesa = configurazione.fasi_commessa(db_session, erp_d, 2)
    assert [f.qta_disponibile for f in c.fasi] == [f.qta_disponibile for f in attesa] == [200 - 50 - 30]
    assert c.fasi[0].data_apertura == apertura and c.fasi[0].data_chiusura is None
    senza = per_id(pagina(db_session, erp_d))[2]
    assert senza.fasi[0].qta_disponibile is None and senza.fasi[0].data_apertura == apertura


# -- ERP down, exports, statements -------------------------------------------------------------


def test_without_the_erp_nothing_is_guessed(db_session, fasi, erp_giu):
    with pytest.raises(ErpUnavailable):
        pagina(db_session, erp_giu)
    with pytest.raises(ErpUnavailable):
        pagina(db_session, erp_giu, tutte=True)


def test_export_rows_follow_the_page_filters_and_sort(db_session, erp_d, fasi):
    filtri = Filtri(in_ritardo=True, a_rischio=True)
    righe = list(avanzamento.righe_avanzamento(db_session, erp_d, oggi=D, filtri=filtri, ordine="-consegna"))
    assert [(r.commessa_erp_id, r.fase_tipo, r.in_ritardo) for r in righe] == [
        (3, "SMD", False),
        (3, "PTH", False),
        (2, "SMD", False),
        (1, "SMD", True),
        (1, "CONTROLLI", True),
    ]


def test_export_rows_without_filters_keep_the_newest_id_first(db_session, erp_d, fasi):
    righe = list(avanzamento.righe_avanzamento(db_session, erp_d, oggi=D, blocco=2))
    assert [r.commessa_erp_id for r in righe] == [8, 8, 5, 4, 4, 3, 3, 2, 1, 1]
    tutte = list(avanzamento.righe_avanzamento(db_session, erp_d, oggi=D, tutte=True))
    assert [r.commessa_erp_id for r in tutte][:3] == [999, 8, 8] and tutte[0].commessa is None


class Conta:
    """Statements sent to the ASI_GEST and ERP engines while it is active."""

    def __init__(self, *engines):
        self.engines = engines
        self.n = 0

    def _uno(self, *args, **kwargs):
        self.n += 1

    def __enter__(self):
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._uno)
        return self

    def __exit__(self, *exc):
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._uno)


def _erp_con(tmp_path, n: int) -> ErpGateway:
    rows = [commessa_row(i, numerocom=5000 + i, DATACONSEGNA=D + timedelta(days=i % 20 - 10)) for i in range(1, n + 1)]
    return gateway(build_erp(tmp_path / f"erp{n}.db", rows))


@pytest.mark.parametrize("opzioni", [{}, {"con_disponibile": True}, {"tutte": True}, {"ordine": "-avanzamento"}])
def test_statements_do_not_grow_with_the_orders(db_session, tmp_path, make_user, opzioni):
    """No N+1: 3 orders and 40 (each with a lotto) cost the same number of statements."""
    lotto = lotto_factory(db_session, make_user(ruolo="OPERATORE").id)
    conteggi = []
    for primo, ultimo in ((1, 3), (4, 40)):
        nuove = configura(
            db_session,
            {i: [("SMD", "IN_CORSO", 5, 10, 0), ("CONTROLLI", "APERTA", 0, 10, 0)] for i in range(primo, ultimo + 1)},
        )
        for (_, codice), fase_id in nuove.items():
            if codice == "SMD":
                lotto(db_session.get(Fase, fase_id), 5, output=5)
        erp = _erp_con(tmp_path, ultimo)
        try:
            with Conta(db.engines[None], erp.engine) as conta:
                p = pagina(db_session, erp, **opzioni)
            assert p.totale == ultimo and all(len(c.fasi) == 2 for c in p.items)
            conteggi.append(conta.n)
        finally:
            erp.engine.dispose()
    assert conteggi[0] == conteggi[1], conteggi
