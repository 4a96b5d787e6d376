"""Exports of the lotti register and of the order progress, read back: ``.xlsx`` with
openpyxl (typed cells, plant-time dates, a bold frozen header with an autofilter) and
CSV as Italian Excel expects it (UTF-8 BOM, ``;``, CRLF), streamed."""

from __future__ import annotations

import contextvars
import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import update

from asigest.extensions import db
from asigest.models import Fase, Lotto
from asigest.models.types import utcnow
from tests.registro_fixture import T, costruisci

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TITOLI_LOTTI = [
    "Codice lotto",
    "Commessa",
    "ID commessa ERP",
    "Cliente",
    "Articolo",
    "Descrizione articolo",
    "Fase",
    "Progressivo",
    "Macchina",
    "Operatore",
    "Matricola",
    "Inizio",
    "Fine",
    "Durata (min)",
    "Stato",
    "Dimenticato",
    "Pezzi in ingresso",
    "Pezzi buoni",
    "Scarti",
    "Causale",
    "Descrizione causale",
    "Note scarti",
    "Chiuso da",
    "DIBA",
    "Revisione",
]
TITOLI_AVANZAMENTO = [
    "Commessa",
    "ID commessa ERP",
    "Cliente",
    "Articolo",
    "Descrizione articolo",
    "Quantità ordinata",
    "Data consegna",
    "Stato commessa ERP",
    "Fase",
    "Stato fase",
    "Quantità prevista",
    "Quantità prodotta",
    "Scarti",
    "% avanzamento",
    "In ritardo",
]


@pytest.fixture
def reg(db_session, make_user):
    return costruisci(db_session, make_user, adesso=utcnow())


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


def foglio(response):
    assert response.status_code == 200, response.text[:500]
    assert response.mimetype == XLSX
    return load_workbook(io.BytesIO(response.data)).active


@dataclass
class Scaricato:
    """A response read to the end, and whether it was streamed."""

    status_code: int
    headers: dict
    mimetype: str
    charset: str
    is_streamed: bool
    blocchi: list
    text: str

    @property
    def data(self) -> bytes:
        return b"".join(self.blocchi)


def scarica(client, url: str) -> Scaricato:
    """GET ``url`` and read the body in the same context, as a WSGI server does.

    The ``client`` fixture runs each request in a context of its own and reads the body
    afterwards; a streamed body (``stream_with_context``) must be read where its request
    ran, so request and reading run here together in one fresh context.
    """

    def richiesta():
        response = FlaskClient.open(client, url)
        try:
            streamed = response.is_streamed
            blocchi = list(response.response) if streamed else [response.get_data()]
        finally:
            response.close()
        data = b"".join(blocchi)
        return Scaricato(
            response.status_code,
            dict(response.headers),
            response.mimetype,
            response.mimetype_params.get("charset", ""),
            streamed,
            blocchi,
            data.decode("utf-8", "replace"),
        )

    risultato = contextvars.Context().run(richiesta)
    db.session.rollback()  # the test reads what the request committed, as IsolatedClient does
    return risultato


def righe_csv(response) -> list[list[str]]:
    if not isinstance(response, Scaricato):
        raise TypeError("leggere i CSV con scarica()")
    assert response.status_code == 200
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    testo = raw.decode("utf-8-sig")
    assert "\r\n" in testo and "\n" not in testo.replace("\r\n", "")
    return list(csv.reader(io.StringIO(testo, newline=""), delimiter=";"))


# -- lotti -----------------------------------------------------------------------------------


def test_xlsx_has_a_typed_row_per_lotto_and_a_bold_frozen_filtered_header(client, supervisore, reg):
    ws = foglio(client.get("/lotti/esporta.xlsx"))
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == TITOLI_LOTTI
    assert all(cell.font.bold for cell in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:Y7"
    assert ws.title == "Lotti"
    assert [r[0] for r in rows[1:]] == [
        "2026-1001-SMD-002",
        "2026-1001-PTH-001",
        "2026-1001-SMD-001",
        "2026-1234-CONTROLLI-001",
        "2026-1234-SMD-002",
        "2026-1234-SMD-001",
    ]
    a1 = dict(zip(TITOLI_LOTTI, rows[-1]))
    assert a1["Commessa"] == "2026/1234" and a1["ID commessa ERP"] == 101
    assert a1["Cliente"] == "Elettronica Adriatica S.p.A." and a1["Articolo"] == "SCH-[X]"
    # Numbers are numbers, instants are plant-local datetimes (08:00 in Rome = 07:00 UTC).
    assert (a1["Pezzi in ingresso"], a1["Pezzi buoni"], a1["Scarti"], a1["Progressivo"]) == (100, 95, 5, 1)
    assert all(type(a1[k]) is int for k in ("Pezzi in ingresso", "Pezzi buoni", "Scarti", "Durata (min)"))
    assert a1["Inizio"] == datetime(2026, 3, 2, 8, 0) and a1["Fine"] == datetime(2026, 3, 2, 9, 0)
    assert a1["Durata (min)"] == 60 and a1["Stato"] == "CHIUSO" and a1["Dimenticato"] is False
    assert (a1["Causale"], a1["Operatore"], a1["Chiuso da"]) == ("SMD-PICK", "Anna Bianchi", "Anna Bianchi")
    assert ws.cell(row=7, column=12).number_format == "dd/mm/yyyy hh:mm"
    assert ws.cell(row=7, column=12).is_date
    aperto = dict(zip(TITOLI_LOTTI, rows[2]))  # b2: open and forgotten
    assert aperto["Fine"] is None and aperto["Pezzi buoni"] is None and aperto["Durata (min)"] is None
    assert aperto["Stato"] == "APERTO" and aperto["Dimenticato"] is True


def test_exports_use_the_registers_filters_and_sort(client, supervisore, reg):
    ws = foglio(client.get("/lotti/esporta.xlsx?fase=SMD&stato=chiusi&ordine=-scarti"))
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == [
        "2026-1234-SMD-001",
        "2026-1001-SMD-001",
        "2026-1234-SMD-002",
    ]
    csv_rows = righe_csv(scarica(client, "/lotti/esporta.csv?fase=SMD&stato=chiusi&ordine=-scarti"))
    assert [r[0] for r in csv_rows[1:]] == ["2026-1234-SMD-001", "2026-1001-SMD-001", "2026-1234-SMD-002"]


def test_csv_is_bom_semicolon_crlf_with_italian_dates(client, supervisore, reg):
    response = scarica(client, "/lotti/esporta.csv")
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    rows = righe_csv(response)
    assert rows[0] == TITOLI_LOTTI
    assert len(rows) == 1 + 6
    a1 = dict(zip(TITOLI_LOTTI, rows[-1]))
    assert (a1["Inizio"], a1["Fine"], a1["Durata (min)"]) == ("02/03/2026 08:00", "02/03/2026 09:00", "60")
    assert (a1["Pezzi in ingresso"], a1["Pezzi buoni"], a1["Scarti"]) == ("100", "95", "5")
    assert (a1["Descrizione causale"], a1["Dimenticato"]) == ("Componente mancante o disallineato (pick & place)", "No")
    aperto = dict(zip(TITOLI_LOTTI, rows[2]))
    assert (aperto["Fine"], aperto["Pezzi buoni"], aperto["Dimenticato"]) == ("", "", "Sì")


def test_the_file_is_an_attachment_named_with_the_date(client, supervisore, reg):
    oggi = datetime.now().strftime("%Y-%m-%d")[:7]  # the month, so a test at midnight still passes
    for formato in ("xlsx", "csv"):
        response = scarica(client, f"/lotti/esporta.{formato}")
        disposizione = response.headers["Content-Disposition"]
        assert disposizione.startswith("attachment; filename=lotti_")
        assert disposizione.endswith(f".{formato}") and oggi in disposizione
        assert response.headers["Cache-Control"] == "private, no-store"


def test_text_that_looks_like_a_formula_stays_text(client, supervisore, reg, db_session):
    db_session.execute(update(Lotto).where(Lotto.id == reg.lotti["a1"]).values(note_scarti='=HYPERLINK("x")\x07'))
    db_session.commit()
    ws = foglio(client.get("/lotti/esporta.xlsx?con_scarti=1"))
    cella = ws.cell(row=3, column=TITOLI_LOTTI.index("Note scarti") + 1)
    assert cella.value == '=HYPERLINK("x")' and cella.data_type == "s"
    rows = righe_csv(scarica(client, "/lotti/esporta.csv?con_scarti=1"))
    assert rows[2][TITOLI_LOTTI.index("Note scarti")] == '\'=HYPERLINK("x")\x07'


def test_an_empty_export_has_the_header_only(client, supervisore, reg):
    ws = foglio(client.get("/lotti/esporta.xlsx?da=2020-01-01&a=2020-01-02"))
    assert ws.max_row == 1 and [c.value for c in ws[1]] == TITOLI_LOTTI
    assert righe_csv(scarica(client, "/lotti/esporta.csv?da=2020-01-01&a=2020-01-02")) == [TITOLI_LOTTI]


def test_many_lotti_stream_in_blocks(client, supervisore, db_session, make_user):
    reg = costruisci(db_session, make_user, adesso=utcnow(), storia=False)
    db_session.add_all(
        [
            Lotto(
                fase_id=reg.fasi[(101, "SMD")],
                progressivo=n,
                codice_lotto=f"2026-1234-SMD-{n:04d}",
                data_inizio=T + timedelta(minutes=n),
                data_fine=T + timedelta(minutes=n + 1),
                qta_input=5,
                qta_output=5,
                qta_scarti=0,
                operatore_id=reg.operatori["op1"].id,
                macchina_id=reg.macchine["SMD-A"],
            )
            for n in range(1, 2502)
        ]
    )
    db_session.commit()
    response = scarica(client, "/lotti/esporta.csv?ordine=inizio")
    assert response.is_streamed
    blocchi = response.blocchi
    assert len(blocchi) >= 6  # header, then blocks of 500 rows
    rows = list(csv.reader(io.StringIO(b"".join(blocchi).decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(rows) == 1 + 2501
    assert rows[1][0] == "2026-1234-SMD-0001" and rows[-1][0] == "2026-1234-SMD-2501"
    ws = foglio(client.get("/lotti/esporta.xlsx"))
    assert ws.max_row == 1 + 2501


@pytest.mark.parametrize("query", ["da=ieri", "macchina=abc", "commessa=2026/99999", "stato=forse"])
def test_bad_filters_export_nothing_and_lead_back_to_the_register(client, supervisore, reg, query):
    for formato in ("xlsx", "csv"):
        response = client.get(f"/lotti/esporta.{formato}?{query}&ordine=codice")
        assert response.status_code == 302
        destinazione = urlsplit(response.headers["Location"])
        assert destinazione.path == "/lotti" and query.split("=")[0] in destinazione.query
        pagina = client.get(response.headers["Location"])
        assert pagina.status_code == 400 and "field-error" in pagina.text


@pytest.mark.parametrize("url", ["/lotti/esporta.pdf", "/lotti/esporta.", "/avanzamento/esporta.xls"])
def test_an_unknown_format_is_a_404(client, supervisore, url):
    assert client.get(url).status_code == 404


def test_erp_down_exports_lotti_without_order_data(make_app, make_user, db_session, tmp_path):
    from asigest.dialects import sqlite_readonly_url
    from tests.web.conftest import login_on

    costruisci(db_session, make_user, adesso=utcnow())
    browser = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db")).test_client()
    assert login_on(browser, make_user().matricola).status_code == 302
    rows = righe_csv(scarica(browser, "/lotti/esporta.csv"))
    a1 = dict(zip(TITOLI_LOTTI, rows[-1]))
    assert (a1["Codice lotto"], a1["ID commessa ERP"], a1["Commessa"], a1["Cliente"]) == (
        "2026-1234-SMD-001",
        "101",
        "",
        "",
    )
    response = scarica(browser, "/avanzamento/esporta.csv")
    assert response.status_code == 503 and "Il gestionale ASITRON non risponde" in response.text


# -- order progress --------------------------------------------------------------------------


def test_progress_xlsx_lists_the_open_orders_phases(client, supervisore, reg, db_session):
    db_session.execute(
        update(Fase).where(Fase.id == reg.fasi[(101, "SMD")]).values(qta_prodotta=145, qta_scarti=7, stato="IN_CORSO")
    )
    db_session.commit()
    ws = foglio(client.get("/avanzamento/esporta.xlsx"))
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == TITOLI_AVANZAMENTO and ws.title == "Avanzamento"
    assert [(r[0], r[8]) for r in rows[1:]] == [
        ("2026/1234", "SMD"),
        ("2026/1234", "CONTROLLI"),
        ("2026/1001", "SMD"),
        ("2026/1001", "PTH"),
    ]
    smd = dict(zip(TITOLI_AVANZAMENTO, rows[1]))
    assert (smd["Quantità ordinata"], smd["Quantità prevista"], smd["Quantità prodotta"], smd["Scarti"]) == (
        500,
        500,
        145,
        7,
    )
    assert smd["% avanzamento"] == 29.0 and smd["Stato fase"] == "IN_CORSO" and smd["Stato commessa ERP"] == "O"
    assert smd["Data consegna"] == datetime(2026, 12, 1)  # a date cell (openpyxl reads dates as datetimes)
    assert ws.cell(row=2, column=7).number_format == "dd/mm/yyyy"
    assert isinstance(smd["In ritardo"], bool)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:O5"


def test_progress_csv_all_configured_orders_on_request(client, supervisore, reg, db_session):
    db_session.execute(update(Fase).where(Fase.id == reg.fasi[(1, "SMD")]).values(qta_prodotta=1, qta_prevista=3))
    db_session.commit()
    solo_aperte = righe_csv(scarica(client, "/avanzamento/esporta.csv"))
    assert [r[0] for r in solo_aperte[1:]] == ["2026/1234", "2026/1234", "2026/1001", "2026/1001"]
    assert dict(zip(TITOLI_AVANZAMENTO, solo_aperte[3]))["% avanzamento"] == "33,3"
    assert dict(zip(TITOLI_AVANZAMENTO, solo_aperte[3]))["Data consegna"] == "01/12/2026"
    tutte = righe_csv(scarica(client, "/avanzamento/esporta.csv?tutte=1"))
    assert [r[0] for r in tutte[1:]] == ["2026/77", "2026/1234", "2026/1234", "2026/1001", "2026/1001"]
    assert dict(zip(TITOLI_AVANZAMENTO, tutte[1]))["Stato commessa ERP"] == "C"


def test_exports_need_a_login(client, reg):
    for url in ("/lotti/esporta.xlsx", "/lotti/esporta.csv", "/avanzamento/esporta.csv"):
        response = client.get(url)
        assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
