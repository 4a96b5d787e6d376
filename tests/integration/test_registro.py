"""The lotti register's service (filters, sort, paging, ERP down, streaming) and the order
progress that the exports read, against real databases."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, update

from asigest.dialects import sqlite_readonly_url
from asigest.domain.periodo import Periodo
from asigest.erp import ErpGateway
from asigest.errors import ErpUnavailable, NotFound, RuleViolation
from asigest.models import Fase
from asigest.services import avanzamento, registro
from tests.registro_fixture import T, costruisci

ADESSO = T + timedelta(days=10)
ZONA = "Europe/Rome"


@pytest.fixture
def reg(db_session, make_user):
    return costruisci(db_session, make_user, adesso=ADESSO)


@pytest.fixture
def erp_giu(tmp_path):
    """A real gateway on an ERP that does not answer (the file is missing)."""
    engine = create_engine(sqlite_readonly_url(tmp_path / "manca.db"))
    yield ErpGateway(engine)
    engine.dispose()


class ContaErp(ErpGateway):
    """The real gateway, counting its ``get_many`` lookups."""

    def __init__(self, erp: ErpGateway):
        super().__init__(erp.engine)
        self.table = erp.table
        self.chiamate: list[set] = []

    def get_many(self, ids):
        ids = set(ids)
        self.chiamate.append(ids)
        return super().get_many(ids)


def cerca(session, erp, ordine="-inizio", limit=50, offset=0, **filtri):
    return registro.cerca_lotti(
        session,
        erp,
        registro.Filtri(**filtri),
        ordine=ordine,
        limit=limit,
        offset=offset,
        adesso=ADESSO,
        zona=ZONA,
        ore_dimenticato=12,
    )


def nomi(reg, pagina) -> list[str]:
    per_id = {v: k for k, v in reg.lotti.items()}
    return [per_id[r.id] for r in pagina.items]


# -- filters -----------------------------------------------------------------------------


def test_without_filters_every_lotto_newest_start_first(db_session, erp, reg):
    pagina = cerca(db_session, erp)
    assert nomi(reg, pagina) == ["b3", "b2", "b1", "a3", "a2", "a1"]
    assert pagina.has_more is False and pagina.erp_disponibile is True


def test_a_row_carries_what_the_page_shows(db_session, erp, reg):
    riga = next(r for r in cerca(db_session, erp).items if r.id == reg.lotti["a1"])
    assert (riga.codice_lotto, riga.fase_tipo, riga.macchina) == ("2026-1234-SMD-001", "SMD", "SMD-A")
    assert (riga.operatore, riga.matricola, riga.chiuso_da) == ("Anna Bianchi", "OP1", "Anna Bianchi")
    assert (riga.qta_input, riga.qta_output, riga.qta_scarti) == (100, 95, 5)
    assert (riga.causale, riga.causale_descrizione) == ("SMD-PICK", "Componente mancante o disallineato (pick & place)")
    assert riga.data_inizio == T and riga.data_fine == T + timedelta(hours=1)
    assert riga.commessa.numero == "2026/1234" and riga.numero_commessa == "2026/1234"
    assert riga.commessa.nomecliente == "Elettronica Adriatica S.p.A."
    assert not riga.aperto and not riga.dimenticato


@pytest.mark.parametrize(
    "filtri, attesi",
    [
        ({"fase_tipo": "SMD"}, ["b3", "b1", "a2", "a1"]),
        ({"fase_tipo": "PTH"}, ["b2"]),
        ({"commessa_id": 101}, ["a3", "a2", "a1"]),
        ({"commessa_id": 103}, []),
        ({"stato": "aperti"}, ["b3", "b2"]),
        ({"stato": "chiusi"}, ["b1", "a3", "a2", "a1"]),
        ({"dimenticati": True}, ["b2"]),
        ({"con_scarti": True}, ["a3", "a1"]),
        ({"periodo": Periodo(date(2026, 3, 3), date(2026, 3, 4))}, ["a3", "a2"]),
        ({"periodo": Periodo(date(2026, 3, 5), None)}, ["b3", "b2", "b1"]),
        ({"periodo": Periodo(None, date(2026, 3, 2))}, ["a1"]),
    ],
)
def test_each_filter_alone(db_session, erp, reg, filtri, attesi):
    assert nomi(reg, cerca(db_session, erp, **filtri)) == attesi


def test_machine_operator_and_reason_filters(db_session, erp, reg):
    assert nomi(reg, cerca(db_session, erp, macchina_id=reg.macchine["SMD-A"])) == ["b1", "a1"]
    assert nomi(reg, cerca(db_session, erp, operatore_id=reg.operatori["op2"].id)) == ["b1", "a2"]
    assert nomi(reg, cerca(db_session, erp, causale_id=reg.causali["CTRL-AOI"])) == ["a3"]


def test_filters_combine(db_session, erp, reg):
    assert nomi(reg, cerca(db_session, erp, fase_tipo="SMD", operatore_id=reg.operatori["op1"].id)) == ["b3", "a1"]
    assert nomi(reg, cerca(db_session, erp, fase_tipo="SMD", stato="aperti", commessa_id=1)) == ["b3"]
    assert nomi(
        reg,
        cerca(
            db_session,
            erp,
            macchina_id=reg.macchine["SMD-A"],
            con_scarti=True,
            periodo=Periodo(date(2026, 3, 2), date(2026, 3, 2)),
        ),
    ) == ["a1"]
    assert nomi(reg, cerca(db_session, erp, commessa_id=101, stato="aperti")) == []
    assert nomi(reg, cerca(db_session, erp, dimenticati=True, fase_tipo="SMD")) == []
    # Forgotten lotti are open ones: asking for closed forgotten lotti finds none.
    assert nomi(reg, cerca(db_session, erp, dimenticati=True, stato="chiusi")) == []
    assert nomi(reg, cerca(db_session, erp, dimenticati=True, stato="aperti")) == ["b2"]


def test_the_same_filters_with_other_values_find_their_own_lotti(db_session, erp, reg):
    """A statement is kept per set of filters and sort (``registro._query_pagina``); each
    search binds its own values, never those of the search before."""
    for macchina, attesi in (("SMD-A", ["b1", "a1"]), ("SMD-B", ["b3", "a2"]), ("SMD-A", ["b1", "a1"])):
        assert nomi(reg, cerca(db_session, erp, macchina_id=reg.macchine[macchina])) == attesi
    for tipo, attesi in (("PTH", ["b2"]), ("SMD", ["b3", "b1", "a2", "a1"]), ("CONTROLLI", ["a3"])):
        assert nomi(reg, cerca(db_session, erp, fase_tipo=tipo)) == attesi
    prima_settimana = Periodo(date(2026, 3, 1), date(2026, 3, 8))
    for adesso, attesi in (
        (ADESSO, ["b2"]),
        (T + timedelta(days=4, hours=6), []),
        (ADESSO + timedelta(days=30), ["b3", "b2"]),
    ):
        pagina = registro.cerca_lotti(
            db_session, erp, registro.Filtri(dimenticati=True), adesso=adesso, zona=ZONA, ore_dimenticato=12
        )
        assert nomi(reg, pagina) == attesi
    assert nomi(reg, cerca(db_session, erp, stato="aperti", periodo=prima_settimana)) == ["b2"]


def test_forgotten_means_open_longer_than_the_limit(db_session, erp, make_user):
    reg = costruisci(db_session, make_user, adesso=ADESSO, storia=False)
    reg.lotto(db_session, "oltre", 1, "SMD", "SMD-A", "op1", ADESSO - timedelta(hours=12, seconds=1))
    reg.lotto(db_session, "limite", 1, "PTH", "PTH-A", "op1", ADESSO - timedelta(hours=12))
    reg.lotto(db_session, "chiuso", 101, "SMD", "SMD-B", "op1", ADESSO - timedelta(days=3), ADESSO - timedelta(days=2))
    pagina = cerca(db_session, erp, dimenticati=True)
    assert nomi(reg, pagina) == ["oltre"]
    assert [r.dimenticato for r in cerca(db_session, erp).items] == [False, True, False]


def test_period_is_whole_local_days_across_the_dst_change(db_session, erp, make_user):
    """29 March 2026 in Rome lasts 23 hours: 28 March 23:00 UTC to 29 March 22:00 UTC."""
    reg = costruisci(db_session, make_user, adesso=ADESSO, storia=False)
    istanti = {
        "prima": datetime(2026, 3, 28, 22, 59, tzinfo=UTC),  # 23:59 on the 28th, local
        "mezzanotte": datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # 00:00 on the 29th (CET)
        "sera": datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # 23:59 on the 29th (CEST)
        "dopo": datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # 00:00 on the 30th
    }
    for nome, inizio in istanti.items():
        reg.lotto(db_session, nome, 101, "SMD", "SMD-A", "op1", inizio, inizio + timedelta(minutes=30))
    domenica = Periodo(date(2026, 3, 29), date(2026, 3, 29))
    assert nomi(reg, cerca(db_session, erp, periodo=domenica)) == ["sera", "mezzanotte"]
    assert nomi(reg, cerca(db_session, erp, periodo=Periodo(date(2026, 3, 30), None))) == ["dopo"]
    assert nomi(reg, cerca(db_session, erp, periodo=Periodo(None, date(2026, 3, 28)))) == ["prima"]


# -- sort and paging -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ordine, attesi",
    [
        ("inizio", ["a1", "a2", "a3", "b1", "b2", "b3"]),
        ("codice", ["b2", "b1", "b3", "a3", "a1", "a2"]),
        ("-codice", ["a2", "a1", "a3", "b3", "b1", "b2"]),
        # Open lotti have no end and no quantities: they come last in either direction.
        ("-fine", ["b1", "a3", "a2", "a1", "b3", "b2"]),
        ("fine", ["a1", "a2", "a3", "b1", "b2", "b3"]),
        ("-scarti", ["a1", "a3", "b1", "a2", "b3", "b2"]),
        ("scarti", ["a2", "b1", "a3", "a1", "b2", "b3"]),
        ("-buoni", ["a1", "a2", "a3", "b1", "b3", "b2"]),
        ("buoni", ["b1", "a3", "a2", "a1", "b2", "b3"]),
    ],
)
def test_sort_keys(db_session, erp, reg, ordine, attesi):
    assert nomi(reg, cerca(db_session, erp, ordine=ordine)) == attesi


@pytest.mark.parametrize("ordine", ["", "nome", "--inizio", "inizio;drop", "LottoID", "-", None, "Inizio"])
def test_an_unknown_sort_falls_back_to_the_default(db_session, erp, reg, ordine):
    assert registro.leggi_ordine(ordine) == "-inizio"
    assert nomi(reg, cerca(db_session, erp, ordine=ordine)) == ["b3", "b2", "b1", "a3", "a2", "a1"]


def test_equal_keys_keep_a_stable_order_by_lotto_id(db_session, erp, make_user):
    reg = costruisci(db_session, make_user, adesso=ADESSO, storia=False)
    for n in range(4):  # same start for all: the LottoID decides
        reg.lotto(db_session, f"x{n}", 101, "SMD", "SMD-A", "op1", T, T + timedelta(hours=1))
    assert nomi(reg, cerca(db_session, erp, ordine="-inizio")) == ["x3", "x2", "x1", "x0"]
    assert nomi(reg, cerca(db_session, erp, ordine="inizio")) == ["x0", "x1", "x2", "x3"]


def test_pages_tell_whether_more_follow(db_session, erp, reg):
    pagine = [cerca(db_session, erp, limit=4, offset=o) for o in (0, 4, 8)]
    assert [nomi(reg, p) for p in pagine] == [["b3", "b2", "b1", "a3"], ["a2", "a1"], []]
    assert [p.has_more for p in pagine] == [True, False, False]
    exact = cerca(db_session, erp, limit=6)
    assert len(exact.items) == 6 and exact.has_more is False


# -- the ERP ---------------------------------------------------------------------------


def test_the_page_reads_its_orders_with_one_erp_lookup(db_session, erp, reg):
    conta = ContaErp(erp)
    cerca(db_session, conta)
    assert conta.chiamate == [{101, 1}]


def test_erp_down_still_lists_the_lotti_with_their_codes(db_session, reg, erp_giu):
    pagina = cerca(db_session, erp_giu)
    assert pagina.erp_disponibile is False
    assert nomi(reg, pagina) == ["b3", "b2", "b1", "a3", "a2", "a1"]
    assert all(r.commessa is None for r in pagina.items)
    assert pagina.items[-1].numero_commessa == "#101"
    assert pagina.items[-1].codice_lotto == "2026-1234-SMD-001"


@pytest.mark.parametrize(
    "testo, atteso",
    [
        ("2026/1234", 101),
        (" 2026/1234 ", 101),
        ("1234", 101),
        ("2025/1234", 102),
        ("1001", 1),  # this year's number 1001 is order ID 1
        ("105", 105),  # no number 105 this year: the ERP ID
        ("2026-1001-PTH-001", 1),  # a lotto's code: its order
    ],
)
def test_the_order_filter_reads_numbers_ids_and_lotto_codes(db_session, erp, reg, testo, atteso):
    assert registro.trova_commessa(db_session, erp, testo, anno_corrente=2026).id == atteso


@pytest.mark.parametrize(
    "testo, errore",
    [
        ("abc", RuleViolation),
        ("2026/99999", NotFound),
        ("9999-1-SMD-001", NotFound),
        ("2027/1234", NotFound),
    ],
)
def test_an_order_that_cannot_be_found_is_refused_with_a_message(db_session, erp, reg, testo, errore):
    with pytest.raises(errore) as refused:
        registro.trova_commessa(db_session, erp, testo, anno_corrente=2026)
    assert refused.value.text()


def test_the_order_filter_needs_the_erp(db_session, reg, erp_giu):
    with pytest.raises(ErpUnavailable):
        registro.trova_commessa(db_session, erp_giu, "2026/1234", anno_corrente=2026)


# -- streaming for exports -------------------------------------------------------------------


def righe(session, erp, blocco=1000, ordine="-inizio", **filtri):
    return registro.righe_lotti(
        session,
        erp,
        registro.Filtri(**filtri),
        ordine=ordine,
        adesso=ADESSO,
        zona=ZONA,
        ore_dimenticato=12,
        blocco=blocco,
    )


def test_export_rows_are_the_register_in_the_same_order(db_session, erp, reg):
    for ordine in ("-inizio", "-scarti", "codice", "fine"):
        pagina = cerca(db_session, erp, ordine=ordine)
        tutte = list(righe(db_session, erp, ordine=ordine, blocco=4))
        assert [r.id for r in tutte] == [r.id for r in pagina.items]
        assert [r.commessa.id for r in tutte] == [r.commessa.id for r in pagina.items]
    assert [r.id for r in righe(db_session, erp, con_scarti=True)] == [reg.lotti["a3"], reg.lotti["a1"]]


def test_export_rows_stream_in_chunks_with_one_erp_lookup_per_chunk(db_session, erp, reg):
    conta = ContaErp(erp)
    flusso = righe(db_session, conta, blocco=2)
    assert inspect.isgenerator(flusso)
    assert conta.chiamate == []  # nothing read before the first row is asked for
    next(flusso)
    assert conta.chiamate == [{1}]  # only the first chunk (b3, b2) was read
    list(flusso)
    # b1 is order 1 too (already known); a3/a2 and a1 are 101: asked once.
    assert conta.chiamate == [{1}, {101}]


def test_export_rows_outlive_the_requests_session(db_session, erp, reg):
    """A web server sends a streamed body after the request's session was closed."""
    flusso = righe(db_session, erp, blocco=2)
    primo = next(flusso)
    db_session.close()
    assert [primo.id, *(r.id for r in flusso)] == [reg.lotti[n] for n in ("b3", "b2", "b1", "a3", "a2", "a1")]


def test_export_rows_without_the_erp_ask_it_once(db_session, reg, erp_giu):
    conta = ContaErp(erp_giu)
    tutte = list(righe(db_session, conta, blocco=2))
    assert len(tutte) == 6 and all(r.commessa is None for r in tutte)
    assert len(conta.chiamate) == 1


# -- order progress --------------------------------------------------------------------------


def progresso(session, erp, oggi=date(2026, 3, 10), **kw):
    return [
        (r.commessa_erp_id, r.fase_tipo, r.stato, r.qta_prevista, r.qta_prodotta, r.qta_scarti, r.in_ritardo)
        for r in avanzamento.righe_avanzamento(session, erp, oggi=oggi, **kw)
    ]


def test_progress_lists_each_fase_of_the_orders_open_in_the_erp(db_session, erp, reg):
    db_session.execute(
        update(Fase).where(Fase.id == reg.fasi[(101, "SMD")]).values(qta_prodotta=145, qta_scarti=5, stato="IN_CORSO")
    )
    db_session.commit()
    assert progresso(db_session, erp) == [
        (101, "SMD", "IN_CORSO", 500, 145, 5, False),
        (101, "CONTROLLI", "APERTA", 500, 0, 0, False),
        (1, "SMD", "APERTA", 100, 0, 0, False),
        (1, "PTH", "APERTA", 100, 0, 0, False),
    ]
    # 103 is closed in the ERP: listed only when all configured orders are asked for.
    assert [r[:2] for r in progresso(db_session, erp, tutte=True)] == [
        (103, "SMD"),
        (101, "SMD"),
        (101, "CONTROLLI"),
        (1, "SMD"),
        (1, "PTH"),
    ]


def test_progress_is_late_after_the_due_date_until_the_last_fase_completes(db_session, erp, reg):
    # The ERP fixture's orders are due on 1 December 2026.
    assert {r[6] for r in progresso(db_session, erp, oggi=date(2026, 12, 1))} == {False}
    assert {r[6] for r in progresso(db_session, erp, oggi=date(2026, 12, 2))} == {True}
    db_session.execute(update(Fase).where(Fase.id == reg.fasi[(101, "CONTROLLI")]).values(stato="COMPLETATA"))
    db_session.commit()
    late = {(r[0], r[6]) for r in progresso(db_session, erp, oggi=date(2026, 12, 2))}
    assert late == {(101, False), (1, True)}


def test_progress_reads_orders_in_blocks(db_session, erp, reg):
    conta = ContaErp(erp)
    assert progresso(db_session, conta, blocco=1, tutte=True) == progresso(db_session, erp, tutte=True)
    assert conta.chiamate == [{103}, {101}, {1}]


def test_progress_needs_the_erp(db_session, reg, erp_giu):
    with pytest.raises(ErpUnavailable):
        progresso(db_session, erp_giu)
