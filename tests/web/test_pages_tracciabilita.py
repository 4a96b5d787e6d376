"""``/tracciabilita``: the scan field, the backward tree and the forward one (SPEC §12)."""

from __future__ import annotations

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
    # An unknown code goes back to the page, which says why.
    assert client.get("/tracciabilita/esporta.xlsx?codice=NIENTE-1").status_code == 302
