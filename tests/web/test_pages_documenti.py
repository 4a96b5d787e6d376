"""The order card's documents section (``/commesse/<ID>/documenti``, an htmx fragment),
upload and delete from it, R4's missing types per phase, the download route and the
per-article page."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from asigest.models import DocumentoTecnico, FaseTipo
from tests.conftest import csrf_from
from tests.web.test_security_headers import (
    assert_no_inline_code,
    assert_security_headers,
)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def archivio_dir(app, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "documenti"
    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(path))
    return path


@pytest.fixture
def supervisore(login, archivio_dir):
    return login("SUPERVISORE")


@pytest.fixture
def csrf(client):
    def token() -> str:
        return csrf_from(client.get("/commesse").text)

    return token


@pytest.fixture
def carica(client, csrf):
    """``carica(commessa_id=1, content=PDF, nome="schema.pdf", **fields)`` → the htmx response."""

    def post(commessa_id=1, content=PDF, nome="schema.pdf", **fields):
        data = {"Tipo": "SCHEMA_MONTAGGIO", "Titolo": "Schema lato TOP", "Revisione": "", "destinazione": "commessa"}
        data.update(fields)
        if nome is not None:
            data["file"] = (io.BytesIO(content), nome)
        return client.post(
            f"/commesse/{commessa_id}/documenti",
            data=data,
            headers={**HTMX, "X-CSRFToken": csrf()},
            content_type="multipart/form-data",
        )

    return post


def sezione(client, commessa_id=1):
    response = client.get(f"/commesse/{commessa_id}/documenti", headers=HTMX)
    assert response.status_code == 200, response.text
    return response


def rows(html: str) -> dict[int, str]:
    return {int(i): row for i, row in re.findall(r'<tr id="documento-(\d+)">(.*?)</tr>', html, re.S)}


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}">(.*?)</p>', html, re.S)
    assert match, f"nessun errore {field_id}"
    return match.group(1)


def count(db_session) -> int:
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(DocumentoTecnico))


# -- the section -----------------------------------------------------------------------------------


def test_card_loads_the_section_with_htmx(client, supervisore):
    card = client.get("/commesse/1").text
    assert re.search(r'<section[^>]*id="documenti"[^>]*hx-get="/commesse/1/documenti"[^>]*hx-trigger="load"', card)


def test_section_is_a_fragment_with_the_upload_form_for_supervisors(client, supervisore):
    response = sezione(client)
    html = response.text
    assert "<html" not in html and 'id="documenti-sezione"' in html
    assert "HX-Request" in response.headers["Vary"]
    assert "Nessun documento per questa commessa." in html and "ART-001" in html
    form = re.search(r"<form[^>]*>", html[html.index('class="doc-form"') - 20 :]).group(0)
    assert 'hx-post="/commesse/1/documenti"' in form
    assert 'hx-encoding="multipart/form-data"' in form and 'enctype="multipart/form-data"' in form
    assert 'hx-target="#documenti-sezione"' in form
    for name in ("Tipo", "Titolo", "Revisione", "destinazione", "file", "csrf_token"):
        assert f'name="{name}"' in html, name
    assert 'accept=".csv,.docx,' in html and "Al massimo 50 MB" in html
    assert '<option value="PROGRAMMA_SMD">Programma SMD</option>' in html
    assert_no_inline_code(html, "sezione documenti")


def test_a_browser_opening_the_fragment_url_gets_the_card(client, supervisore):
    response = client.get("/commesse/1/documenti")
    assert response.status_code == 302 and response.headers["Location"] == "/commesse/1#documenti"


def test_section_of_an_unknown_order_is_an_inline_message(client, supervisore):
    response = client.get("/commesse/999999/documenti", headers=HTMX)
    assert response.headers["HX-Retarget"] == "#messages"
    assert "La commessa 999999 non esiste nel gestionale." in response.text


def test_operators_see_documents_without_upload_or_delete(client, login, make_user, archivio_dir, carica, db_session):
    from tests.web.conftest import login_on

    login("SUPERVISORE")
    assert carica().status_code == 200
    operatore = make_user("OPERATORE")
    client.post("/logout", headers={"X-CSRFToken": csrf_from(client.get("/commesse").text)})
    assert login_on(client, operatore.matricola).status_code == 302

    html = sezione(client).text
    assert "Schema lato TOP" in html and "/file" in html
    assert "doc-form" not in html and "hx-delete" not in html
    refused = carica(Titolo="Altro")
    assert "Il tuo ruolo non permette questa operazione." in refused.text
    [documento_id] = rows(html)
    deleted = client.delete(
        f"/commesse/1/documenti/{documento_id}",
        headers={**HTMX, "X-CSRFToken": csrf_from(client.get("/commesse").text)},
    )
    assert "Il tuo ruolo non permette questa operazione." in deleted.text
    assert count(db_session) == 1


# -- upload --------------------------------------------------------------------------------------------


def test_upload_through_htmx_re_renders_the_section_with_the_new_row(
    client, supervisore, carica, db_session, archivio_dir
):
    response = carica(Revisione="B", nome="Schema TOP.pdf")
    assert response.status_code == 200
    html = response.text
    assert 'id="documenti-sezione"' in html and "<html" not in html
    assert "Documento «Schema lato TOP» caricato." in html
    [(documento_id, row)] = rows(html).items()
    for text in ("Schema di montaggio", "Schema lato TOP", ">B<", "Schema TOP.pdf", "questa commessa"):
        assert text in row, text
    assert f'href="/documenti/{documento_id}/file"' in row and 'target="_blank"' in row  # PDF opens in the browser
    assert f'href="/documenti/{documento_id}/file?scarica=1"' in row
    assert f'hx-delete="/commesse/1/documenti/{documento_id}"' in row and "hx-confirm=" in row
    # The form is empty again, ready for the next document.
    assert 'value="Schema lato TOP"' not in html
    documento = db_session.get(DocumentoTecnico, documento_id)
    assert (documento.commessa_erp_id, documento.codart, documento.revisione) == (1, None, "B")
    assert_no_inline_code(html, "sezione dopo il caricamento")


def test_upload_for_the_article_shows_on_every_order_of_it(client, supervisore, carica, db_session):
    html = carica(destinazione="articolo", Tipo="DIBA", Titolo="Distinta base").text
    [(documento_id, row)] = rows(html).items()
    assert 'href="/documenti?codart=ART-001"' in row and "articolo ART-001" in row
    assert "sparirà da tutte le sue commesse" in row  # the delete confirmation says so
    assert db_session.get(DocumentoTecnico, documento_id).codart == "ART-001"
    assert documento_id in rows(sezione(client, 8).text)  # order 8 is ART-001 too
    assert documento_id not in rows(sezione(client, 2).text)


def test_article_choice_is_disabled_for_an_order_without_article(client, supervisore, carica, db_session):
    html = sezione(client, 104).text
    assert re.search(r'value="articolo"[^>]*disabled', html)
    refused = carica(commessa_id=104, destinazione="articolo").text
    assert "non ha un codice articolo" in field_error(refused, "doc-destinazione-errore")
    assert count(db_session) == 0


def test_errors_appear_next_to_their_fields_keeping_what_was_typed(client, supervisore, carica, db_session):
    html = carica(Titolo="  ", Revisione="R" * 21, Tipo="DIBA").text
    assert "Indicare un titolo" in field_error(html, "doc-titolo-errore")
    assert "al massimo 20 caratteri" in field_error(html, "doc-revisione-errore")
    assert re.search(r'<option value="DIBA" selected>', html)
    assert f'value="{"R" * 21}"' in html
    assert re.search(r'id="doc-titolo"[^>]*aria-invalid="true"', html)
    assert "selezionarlo di nuovo" in html
    assert "caricato." not in html
    assert count(db_session) == 0


def test_a_missing_file_and_a_bad_type_are_reported_on_their_fields(client, supervisore, carica, db_session):
    html = carica(nome=None, Tipo="INVENTATO").text
    assert "Scegliere il file da caricare." in field_error(html, "doc-file-errore")
    assert "Tipo di documento non previsto" in field_error(html, "doc-tipo-errore")
    assert count(db_session) == 0


@pytest.mark.parametrize(
    ("nome", "content", "message"),
    [
        ("setup.exe", b"MZ", "Formato .exe non ammesso."),
        ("finto.pdf", b"<html>", "non è un file .pdf valido"),
        ("grande.pdf", b"%PDF-" + b"x" * 4096, "Il file supera il limite di 4 KB"),
    ],
)
def test_file_refusals_are_shown_on_the_file_field(
    app, client, supervisore, carica, db_session, archivio_dir, monkeypatch, nome, content, message
):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 4096)
    response = carica(nome=nome, content=content, Titolo="Da tenere")
    assert response.status_code == 200
    assert message in field_error(response.text, "doc-file-errore")
    assert 'value="Da tenere"' in response.text
    assert count(db_session) == 0
    assert not archivio_dir.exists() or not any(p.is_file() for p in archivio_dir.rglob("*"))


def test_a_request_over_max_content_length_gets_an_inline_message(
    app, client, supervisore, carica, db_session, monkeypatch
):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    response = carica(content=b"%PDF-" + b"x" * 8192)
    assert response.headers["HX-Retarget"] == "#messages"
    assert "File troppo grande" in response.text
    assert count(db_session) == 0


def test_a_duplicate_is_reported_above_the_form(client, supervisore, carica, db_session):
    carica()
    html = carica(nome="copia.pdf").text
    assert "Lo stesso file è già caricato come «Schema lato TOP»" in html
    assert count(db_session) == 1


def test_upload_without_csrf_token_is_refused(client, supervisore, db_session):
    response = client.post(
        "/commesse/1/documenti",
        headers=HTMX,
        content_type="multipart/form-data",
        data={"Tipo": "DIBA", "Titolo": "x", "file": (io.BytesIO(PDF), "a.pdf")},
    )
    assert "Il modulo è scaduto o non è valido" in response.text
    assert count(db_session) == 0


# -- delete --------------------------------------------------------------------------------------------


def test_delete_through_htmx_re_renders_the_section(client, supervisore, carica, csrf, db_session, archivio_dir):
    [documento_id] = rows(carica().text)
    response = client.delete(f"/commesse/1/documenti/{documento_id}", headers={**HTMX, "X-CSRFToken": csrf()})
    assert response.status_code == 200
    assert "Documento «Schema lato TOP» eliminato." in response.text
    assert rows(response.text) == {}
    # SPEC §12: the record stays, marked deleted by whom, and so do the bytes.
    db_session.rollback()
    [record] = db_session.scalars(select(DocumentoTecnico)).all()
    assert record.eliminato and record.eliminato_da == supervisore.id
    assert any(p.is_file() for p in archivio_dir.rglob("*"))
    again = client.delete(f"/commesse/1/documenti/{documento_id}", headers={**HTMX, "X-CSRFToken": csrf()})
    assert f"Il documento {documento_id} non esiste" in again.text and 'id="documenti-sezione"' in again.text


# -- R4: missing types ---------------------------------------------------------------------------------


@pytest.fixture
def richiesti(db_session):
    def setup(**per_tipo):
        for fase_tipo in db_session.scalars(select(FaseTipo)):
            fase_tipo.documenti_richiesti = per_tipo.get(fase_tipo.codice, [])
        db_session.commit()

    return setup


def test_missing_types_per_phase_are_highlighted_until_uploaded(client, supervisore, carica, make_config, richiesti):
    richiesti(SMD=["PROGRAMMA_SMD", "SCHEMA_MONTAGGIO"], CONTROLLI=["CICLO_COLLAUDO"])
    make_config(1, fasi=("SMD", "CONTROLLI"))

    html = sezione(client).text
    assert "Mancano documenti richiesti: ai terminali non si potranno aprire lotti di SMD, CONTROLLI" in html
    smd = re.search(r'<tr class="doc-fase-incompleta">\s*<td class="strong">SMD</td>(.*?)</tr>', html, re.S).group(1)
    assert '<span class="badge doc-manca">Programma SMD: manca</span>' in smd
    assert '<span class="badge doc-manca">Schema di montaggio: manca</span>' in smd

    html = carica(Tipo="SCHEMA_MONTAGGIO", destinazione="articolo").text  # the article's counts too
    smd = re.search(r'<td class="strong">SMD</td>(.*?)</tr>', html, re.S).group(1)
    assert '<span class="badge ok">Schema di montaggio</span>' in smd and "Programma SMD: manca" in smd

    carica(Tipo="PROGRAMMA_SMD", content=PDF + b"p", nome="prog.pdf")
    html = carica(Tipo="CICLO_COLLAUDO", content=PDF + b"c", nome="ciclo.pdf").text
    assert "Mancano documenti" not in html and "doc-manca" not in html
    assert "Tutti i documenti richiesti dalle fasi sono presenti." in html


def test_no_check_is_shown_when_no_phase_requires_documents(client, supervisore, make_config):
    make_config(1)
    html = sezione(client).text
    assert "Documenti richiesti" not in html and "Mancano documenti" not in html


# -- download and the article page ------------------------------------------------------------------------


def test_download_page_route_opens_pdfs_inline_and_downloads_on_request(client, supervisore, carica):
    [documento_id] = rows(carica(nome="schéma_电路.pdf").text)
    response = client.get(f"/documenti/{documento_id}/file")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert "filename*=UTF-8''sch%C3%A9ma_%E7%94%B5%E8%B7%AF.pdf" in response.headers["Content-Disposition"]
    assert_security_headers(response)
    forced = client.get(f"/documenti/{documento_id}/file?scarica=1")
    assert forced.headers["Content-Disposition"].startswith("attachment;")


def test_formats_the_browser_cannot_show_are_always_downloaded(client, supervisore, carica):
    [documento_id] = rows(carica(nome="distinta.csv", content=b"ref;qta\n").text)
    response = client.get(f"/documenti/{documento_id}/file")
    assert response.headers["Content-Disposition"] == "attachment; filename=distinta.csv"
    assert 'target="_blank"' not in rows(sezione(client).text)[documento_id]


def test_download_of_an_unknown_document_is_a_404_page(client, supervisore):
    response = client.get("/documenti/999999/file")
    assert response.status_code == 404 and "<html" in response.text


def test_article_page_lists_the_articles_documents(client, supervisore, carica):
    carica(destinazione="articolo", Titolo="Per articolo")
    carica(Titolo="Solo commessa", content=PDF + b"2", nome="b.pdf")
    response = client.get("/documenti?codart=ART-001")
    assert response.status_code == 200
    html = response.text
    assert "Per articolo" in html and "Solo commessa" not in html
    assert "hx-delete" not in html  # managed from an order card
    assert_no_inline_code(html, "pagina articolo")
    empty = client.get("/documenti?codart=NESSUNO").text
    assert "Nessun documento per l'articolo NESSUNO." in empty
    hostile = client.get("/documenti?codart=%3Cscript%3Ex").text
    assert "<script>x" not in hostile and "&lt;script&gt;x" in hostile
    assert 'name="codart"' in client.get("/documenti").text
