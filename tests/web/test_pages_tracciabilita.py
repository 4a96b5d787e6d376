"""``/tracciabilita``: the scan field, the backward tree and the forward one (SPEC §12)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete

from asigest.models import LottoOrigine
from tests.web.test_api_lotti import _smd_chiusi, apri_controlli, linea


def test_a_scanned_code_shows_where_the_pieces_came_from_and_went(client, linea, login):
    _smd_chiusi(client, linea)
    assert apri_controlli(client, linea).status_code == 201
    login("SUPERVISORE")
    pagina = client.get("/tracciabilita", query_string={"codice": "2026-1234-controlli-001"})
    assert pagina.status_code == 200
    html = pagina.get_data(as_text=True)
    indietro, avanti = html.split("Dove sono andati")
    # CONTROLLI-001 drew its 60 pieces FIFO from SMD-001 (closed first, 100 good).
    assert "2026-1234-CONTROLLI-001" in indietro and "2026-1234-SMD-001" in indietro
    assert "60 pezzi" in indietro
    assert "Nessun lotto di una fase successiva" in avanti

    avanti = client.get("/tracciabilita?codice=2026-1234-SMD-001").get_data(as_text=True).split("Dove sono andati")[1]
    assert "2026-1234-CONTROLLI-001" in avanti and "60 pezzi" in avanti


def test_an_unknown_code_is_said_next_to_the_field(client, linea, login):
    login("OPERATORE")
    html = client.get("/tracciabilita?codice=2026-9-SMD-001").get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "2026-9-SMD-001 non esiste" in html
    assert 'value="2026-9-SMD-001"' in html


def test_the_empty_page_has_the_scan_field_and_the_lotto_page_links_to_it(client, linea, login):
    login("SUPERVISORE")
    html = client.get("/tracciabilita").get_data(as_text=True)
    assert 'name="codice"' in html and "autofocus" in html
    _smd_chiusi(client, linea)
    lotto = client.get("/api/lotti/smd/", headers=linea["headers"]).json[0]
    html = client.get(f"/lotti/{lotto['LottoID']}").get_data(as_text=True)
    assert f"/tracciabilita?codice={lotto['CodiceLotto']}" in html


def test_the_trace_exports_to_excel_one_row_per_lotto(client, linea, login):
    import io

    from openpyxl import load_workbook

    _smd_chiusi(client, linea)
    assert apri_controlli(client, linea, Origini=[{"CodiceLotto": "2026-1234-SMD-002", "Qta": 50}]).status_code == 201
    login("SUPERVISORE")
    pagina = client.get("/tracciabilita?codice=2026-1234-CONTROLLI-001").get_data(as_text=True)
    assert "/tracciabilita/esporta.xlsx?codice=2026-1234-CONTROLLI-001" in pagina
    assert "Firma" in pagina  # the signature block of the printed report
    risposta = client.get("/tracciabilita/esporta.xlsx?codice=2026-1234-CONTROLLI-001")
    assert risposta.status_code == 200 and risposta.headers["Cache-Control"] == "private, no-store"
    foglio = load_workbook(io.BytesIO(risposta.data)).active
    righe = list(foglio.iter_rows(values_only=True))
    assert righe[0][:5] == ("Direzione", "Livello", "Codice lotto", "Collegato a", "Pezzi prelevati")
    assert [r[:5] for r in righe[1:]] == [
        ("indietro", 0, "2026-1234-CONTROLLI-001", None, None),
        ("indietro", 1, "2026-1234-SMD-002", "2026-1234-CONTROLLI-001", 50),
        ("indietro", 1, "2026-1234-SMD-001", "2026-1234-CONTROLLI-001", 10),
    ]
    # The order as people read it, beside the ERP's id, on screen and in the export.
    assert righe[0][5:7] == ("Commessa", "Commessa (ID)") and righe[1][5:7] == ("2026/1234", 101)
    assert "Commessa 2026/1234 (ID 101)" in pagina
    # An unknown code goes back to the page, which says why.
    assert client.get("/tracciabilita/esporta.xlsx?codice=NIENTE-1").status_code == 302


# -- a whole order ---------------------------------------------------------------------


def _commessa_con_controlli(client, linea):
    """SMD-001 (100 good), SMD-002 (50 good, 50 scrap); CONTROLLI-001 (60) drew 50 from
    SMD-002 (named) and 10 from SMD-001."""
    _smd_chiusi(client, linea)
    risposta = apri_controlli(client, linea, Origini=[{"CodiceLotto": "2026-1234-SMD-002"}])
    assert risposta.status_code == 201, risposta.json


@pytest.mark.parametrize("scritto", ["2026/1234", "1234", " 2026 / 1234 ", "ID 101", "id:101"])
def test_an_order_shows_every_lotto_from_its_first_fase(client, linea, login, scritto):
    _commessa_con_controlli(client, linea)
    login("SUPERVISORE")
    pagina = client.get("/tracciabilita", query_string={"codice": scritto})
    assert pagina.status_code == 200
    html = pagina.get_data(as_text=True)
    assert 'id="traccia-commessa"' in html and "Commessa 2026/1234" in html
    assert "Nessun lotto di una fase successiva" not in html and 'aria-invalid="true"' not in html
    # Each fase's totals.
    assert re.search(r'data-fase="SMD">.*?>2<.*?>0<.*?>200<.*?>150<.*?>50<', html, re.DOTALL), (
        "SMD: 2 lotti, 0 aperti, 200 entrati, 150 buoni, 50 scarti"
    )
    assert re.search(r'data-fase="CONTROLLI">.*?>1<.*?>1<.*?>60<.*?>0<.*?>0<', html, re.DOTALL)
    # The first fase's lotti are the roots, CONTROLLI-001 under each with what it drew.
    albero = html.split('class="traccia-albero traccia-commessa"')[1]
    smd1, smd2 = albero.split("2026-1234-SMD-002</a>")
    assert "2026-1234-SMD-001" in smd1 and "2026-1234-CONTROLLI-001" in smd1 and "10 pezzi" in smd1
    assert "2026-1234-CONTROLLI-001" in smd2 and "50 pezzi" in smd2
    assert "Nessun lotto di origine registrato" not in html
    assert "/tracciabilita/esporta.xlsx?commessa=101" in html and "Firma" in html
    assert "Rapporto di tracciabilità della commessa 2026/1234" in html  # the printed report's title


def test_an_order_by_link_names_it_in_the_field(client, linea, login):
    _commessa_con_controlli(client, linea)
    login("OPERATORE")
    html = client.get("/tracciabilita?commessa=101").get_data(as_text=True)
    assert 'value="2026/1234"' in html and 'id="traccia-commessa"' in html


def test_a_later_lotto_with_no_draw_recorded_is_a_root_flagged(client, linea, login, db_session):
    """History the rebuild could not place (0012): the lotto is still in the order's trace."""
    _commessa_con_controlli(client, linea)
    db_session.execute(delete(LottoOrigine))
    db_session.commit()
    login("SUPERVISORE")
    html = client.get("/tracciabilita?codice=2026/1234").get_data(as_text=True)
    albero = html.split('class="traccia-albero traccia-commessa"')[1]
    assert albero.count("2026-1234-CONTROLLI-001") == 1
    assert albero.count("Nessun lotto di origine registrato") == 1
    assert albero.index("2026-1234-SMD-002") < albero.index("2026-1234-CONTROLLI-001</a>")
    assert albero.index("2026-1234-CONTROLLI-001</a>") < albero.index("Nessun lotto di origine registrato")


@pytest.mark.parametrize(
    ("query", "messaggio"),
    [
        ({"codice": "2026/9999"}, "Commessa 2026/9999 non trovata nel gestionale"),
        ({"codice": "ID 5"}, "non è configurata per la produzione"),
        ({"commessa": "abc"}, "Commessa non valida"),
        ({"commessa": "99999999999"}, "Commessa non valida"),
    ],
)
def test_an_order_that_cannot_be_traced_is_said_next_to_the_field(client, linea, login, query, messaggio):
    login("SUPERVISORE")
    risposta = client.get("/tracciabilita", query_string=query)
    assert risposta.status_code == 200
    html = risposta.get_data(as_text=True)
    assert messaggio in html and 'aria-invalid="true"' in html and 'id="traccia-commessa"' not in html


def test_an_order_with_no_lotto_yet_says_so(client, linea, login):
    login("SUPERVISORE")
    html = client.get("/tracciabilita?codice=2026/1234").get_data(as_text=True)
    assert "Nessun lotto ancora aperto per questa commessa." in html
    assert re.search(r'data-fase="SMD">.*?>0<', html, re.DOTALL)


def test_the_order_trace_exports_to_excel_one_row_per_draw(client, linea, login):
    import io

    from openpyxl import load_workbook

    _commessa_con_controlli(client, linea)
    login("SUPERVISORE")
    risposta = client.get("/tracciabilita/esporta.xlsx?commessa=101")
    assert risposta.status_code == 200 and risposta.headers["Cache-Control"] == "private, no-store"
    assert "tracciabilita_commessa_2026-1234_" in risposta.headers["Content-Disposition"]
    righe = list(load_workbook(io.BytesIO(risposta.data)).active.iter_rows(values_only=True))
    assert [r[1:5] for r in righe[1:]] == [
        (0, "2026-1234-SMD-001", None, None),
        (1, "2026-1234-CONTROLLI-001", "2026-1234-SMD-001", 10),
        (0, "2026-1234-SMD-002", None, None),
        (1, "2026-1234-CONTROLLI-001", "2026-1234-SMD-002", 50),
    ]
    # An order that cannot be traced goes back to the page, which says why.
    assert client.get("/tracciabilita/esporta.xlsx?commessa=5").status_code == 302
