"""``/api/documenti`` (SPEC §7): upload (multipart), list, get, download, delete — shapes,
status codes, hostile file names, size limits, formats and the role matrix.

Each test stores files in its own DOCUMENTS_DIR under ``tmp_path``, so "nothing written
outside DOCUMENTS_DIR" is checked by listing ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from asigest.models import DocumentoTecnico, LogEvento

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FIELDS = {
    "DocumentoID",
    "CommessaERPId",
    "CODART",
    "Tipo",
    "Titolo",
    "NomeFile",
    "ContentType",
    "Dimensione",
    "Sha256",
    "Revisione",
    "DataCaricamento",
    "CaricatoDa",
}


@pytest.fixture
def archivio_dir(app, tmp_path, monkeypatch) -> Path:
    """A DOCUMENTS_DIR of this test's own (restored afterwards by monkeypatch)."""
    path = tmp_path / "archivio" / "documenti"
    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(path))
    return path


@pytest.fixture
def headers(api_token, archivio_dir):
    return api_token("SUPERVISORE")


def upload(client, headers, content=PDF, nome="schema.pdf", **fields):
    data = {"Tipo": "SCHEMA_MONTAGGIO", "Titolo": "Schema di montaggio", "CommessaERPId": "1"}
    data.update({k: v for k, v in fields.items() if v is not None})
    for key in [k for k, v in fields.items() if v is None]:
        data.pop(key, None)
    data["file"] = (io.BytesIO(content), nome)
    return client.post("/api/documenti/", data=data, headers=headers, content_type="multipart/form-data")


def raw_upload(client, headers, nome: str, content=PDF, **fields):
    """A multipart body written by hand, the name sent as RFC 5987 ``filename*`` — how a
    client delivers quotes and line breaks that a plain ``filename="…"`` cannot carry."""
    boundary = "----asigest-test"
    parts = []
    for key, value in {"Tipo": "DIBA", "Titolo": "Distinta", "CommessaERPId": "1", **fields}.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quote(nome, safe='')}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        "/api/documenti/", data=body, headers=headers, content_type=f"multipart/form-data; boundary={boundary}"
    )


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.is_json
    expected = {"detail", "code", "errors"} if status == 422 else {"detail", "code"}
    assert set(response.json) == expected, response.json
    assert response.json["code"] == code
    assert response.json["detail"] and "Traceback" not in response.text
    return response.json


def stored_files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def documenti_count(db_session) -> int:
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(DocumentoTecnico))


# -- upload ------------------------------------------------------------------------------------


def test_upload_answers_201_with_the_row(client, headers, archivio_dir, db_session):
    response = upload(client, headers, revisione=None, Revisione="C", nome="Schema TOP.pdf")
    assert response.status_code == 201, response.text
    body = response.json
    assert set(body) == FIELDS
    sha = hashlib.sha256(PDF).hexdigest()
    assert body["CommessaERPId"] == 1 and body["CODART"] is None
    assert (body["Tipo"], body["Titolo"], body["Revisione"]) == ("SCHEMA_MONTAGGIO", "Schema di montaggio", "C")
    assert (body["NomeFile"], body["ContentType"], body["Dimensione"], body["Sha256"]) == (
        "Schema TOP.pdf",
        "application/pdf",
        len(PDF),
        sha,
    )
    assert datetime.fromisoformat(body["DataCaricamento"]).utcoffset() is not None
    assert isinstance(body["CaricatoDa"], int)
    assert stored_files(archivio_dir) == [archivio_dir / sha[:2] / sha[2:4] / sha]
    evento = db_session.scalar(select(LogEvento).where(LogEvento.azione == "DOCUMENTO_CARICATO"))
    assert evento.entita_id == body["DocumentoID"] and evento.utente_id == body["CaricatoDa"]
    assert evento.postazione  # the client address


def test_upload_for_an_article(client, headers):
    response = upload(client, headers, CommessaERPId=None, CODART="ART-001", Tipo="DIBA")
    assert response.status_code == 201
    assert (response.json["CommessaERPId"], response.json["CODART"]) == (None, "ART-001")


@pytest.mark.parametrize(
    ("nome", "salvato"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..%2F..%2Fetc%2Fpasswd.pdf", "%2F..%2Fetc%2Fpasswd.pdf"),  # literal text, leading dots dropped
        ("schéma_ß_电路.pdf", "schéma_ß_电路.pdf"),
        ("n" * 300 + ".pdf", "n" * 196 + ".pdf"),
    ],
)
def test_hostile_names_are_stored_safely(client, headers, tmp_path, archivio_dir, nome, salvato):
    response = upload(client, headers, nome=nome)
    assert response.status_code == 201, response.text
    assert response.json["NomeFile"] == salvato
    sha = hashlib.sha256(PDF).hexdigest()
    assert stored_files(tmp_path) == [archivio_dir / sha[:2] / sha[2:4] / sha]


@pytest.mark.parametrize(
    "nome",
    ['rapporto "finale"\r\nX-Injected: 1.pdf', "a\nb\rcd.pdf", "nota\u202efdp.exe.pdf", '"; filename="evil.html.pdf'],
)
def test_quotes_control_characters_and_line_breaks_never_reach_a_header(client, headers, tmp_path, archivio_dir, nome):
    response = raw_upload(client, headers, nome)
    assert response.status_code == 201, response.text
    stored = response.json["NomeFile"]
    assert not re.search(r'[\x00-\x1f\x7f"\u202e/\\]', stored), stored
    assert stored.endswith(".pdf")
    download = client.get(f"/api/documenti/{response.json['DocumentoID']}/file", headers=headers)
    disposition = download.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment;")
    assert "X-Injected" not in download.headers
    assert len(stored_files(tmp_path)) == 1


def test_a_nul_in_the_file_name_is_refused_and_nothing_is_stored(client, headers, tmp_path, row_count):
    """SPEC §7: text with a NUL is 422, the file name included (nothing is cleaned up and kept)."""
    prima = row_count()
    response = raw_upload(client, headers, "a\nb\rc\x00d.pdf")
    assert response.status_code == 422, response.text
    assert list(response.json["errors"]) == ["file"]
    assert row_count() == prima and stored_files(tmp_path) == []


def test_a_windows_path_keeps_only_its_last_component(client, headers, tmp_path):
    # Sent as filename*: inside a quoted filename="…" werkzeug reads backslashes as escapes.
    response = raw_upload(client, headers, "C:\\Windows\\System32\\drivers\\etc\\hosts.pdf")
    assert response.status_code == 201, response.text
    assert response.json["NomeFile"] == "hosts.pdf"
    assert len(stored_files(tmp_path)) == 1


def test_a_name_without_extension_is_refused_and_nothing_is_written(client, headers, tmp_path, db_session):
    body = assert_error(upload(client, headers, nome="../../etc/passwd"), 400, "FORMATO_NON_AMMESSO")
    assert "passwd" in body["detail"] and "pdf" in body["detail"]
    assert stored_files(tmp_path) == []
    assert documenti_count(db_session) == 0


@pytest.mark.parametrize(
    ("nome", "content", "code"),
    [
        ("setup.exe", b"MZ\x90\x00", "FORMATO_NON_AMMESSO"),
        ("pagina.html", b"<html><script>alert(1)</script>", "FORMATO_NON_AMMESSO"),
        ("disegno.svg", b"<svg onload='alert(1)'/>", "FORMATO_NON_AMMESSO"),
        ("finto.pdf", b"<html><script>alert(1)</script>", "CONTENUTO_NON_VALIDO"),
        ("foto.jpg", PNG, "CONTENUTO_NON_VALIDO"),
    ],
)
def test_formats_not_allowed_or_not_matching_are_refused_with_400(client, headers, tmp_path, nome, content, code):
    assert_error(upload(client, headers, nome=nome, content=content), 400, code)
    assert stored_files(tmp_path) == []


def test_allowed_formats_are_a_setting(app, client, headers, monkeypatch):
    assert upload(client, headers, nome="posizioni.pos", content=b"R1 10 20\n").status_code == 400
    monkeypatch.setitem(app.config, "DOCUMENT_EXTENSIONS", {"pos": "text/plain"})
    response = upload(client, headers, nome="posizioni.pos", content=b"R1 10 20\n")
    assert response.status_code == 201 and response.json["ContentType"] == "text/plain"
    assert_error(upload(client, headers, nome="b.pdf"), 400, "FORMATO_NON_AMMESSO")


def test_document_types_are_a_setting(app, client, headers, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_TYPES", ("DIBA", "FOTO_CAMPIONE"))
    assert upload(client, headers, Tipo="FOTO_CAMPIONE").status_code == 201
    body = assert_error(upload(client, headers, Tipo="ISTRUZIONI", nome="c.pdf"), 422, "VALIDATION_ERROR")
    assert set(body["errors"]) == {"Tipo"}


def test_a_file_over_the_document_limit_is_413_with_the_json_error(
    app, client, headers, tmp_path, monkeypatch, db_session
):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 2048)
    assert upload(client, headers, content=b"%PDF-" + b"x" * 2043).status_code == 201
    body = assert_error(upload(client, headers, content=b"%PDF-" + b"y" * 2044), 413, "TOO_LARGE")
    assert "2 KB" in body["detail"]
    assert documenti_count(db_session) == 1
    assert len(stored_files(tmp_path)) == 1


def test_a_request_over_max_content_length_is_413_before_it_is_read(app, client, headers, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    assert_error(upload(client, headers, content=b"%PDF-" + b"z" * 8192), 413, "TOO_LARGE")
    assert stored_files(tmp_path) == []


def test_default_request_limit_leaves_room_for_the_largest_document(app):
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["DOCUMENT_MAX_BYTES"] == 50 * 1024 * 1024


@pytest.mark.parametrize(
    ("fields", "campi"),
    [
        ({"file": None}, {"file"}),
        ({"Titolo": None}, {"Titolo"}),
        ({"Titolo": ""}, {"Titolo"}),
        ({"Titolo": "   "}, {"Titolo"}),
        ({"Tipo": None}, {"Tipo"}),
        ({"Tipo": "FOTO"}, {"Tipo"}),
        ({"CommessaERPId": "abc"}, {"CommessaERPId"}),
        ({"CommessaERPId": "0"}, {"CommessaERPId"}),
        ({"CommessaERPId": None}, {"CommessaERPId"}),
        ({"CODART": "ART-001"}, {"CommessaERPId"}),
        ({"Revisione": "r" * 21}, {"Revisione"}),
        ({"Colore": "rosso"}, {"Colore"}),
    ],
)
def test_malformed_uploads_are_422_with_the_fields(client, headers, tmp_path, db_session, fields, campi):
    data = {"Tipo": "DIBA", "Titolo": "Distinta", "CommessaERPId": "1", "file": (io.BytesIO(PDF), "d.pdf")}
    for key, value in fields.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = client.post("/api/documenti/", data=data, headers=headers, content_type="multipart/form-data")
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert set(body["errors"]) == campi, body
    assert stored_files(tmp_path) == [] and documenti_count(db_session) == 0


def test_a_json_body_is_422_asking_for_multipart(client, headers):
    response = client.post("/api/documenti/", json={"Tipo": "DIBA", "Titolo": "x", "CommessaERPId": 1}, headers=headers)
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert "multipart/form-data" in body["errors"]["_body"][0]


def test_an_unknown_order_is_refused_with_400(client, headers, tmp_path):
    body = assert_error(upload(client, headers, CommessaERPId="999999"), 400, "COMMESSA_INESISTENTE")
    assert "999999" in body["detail"]
    assert stored_files(tmp_path) == []


def test_the_same_file_twice_is_409_and_stored_once(client, headers, tmp_path, db_session):
    assert upload(client, headers).status_code == 201
    assert_error(upload(client, headers, nome="copia.pdf"), 409, "DOCUMENTO_DUPLICATO")
    assert upload(client, headers, CommessaERPId="2").status_code == 201  # another order: fine
    assert documenti_count(db_session) == 2
    assert len(stored_files(tmp_path)) == 1


def test_upload_for_an_order_answers_503_when_the_erp_is_unreachable(make_app, api_token, tmp_path):
    from asigest.dialects import sqlite_readonly_url

    broken = make_app(ERP_URL=sqlite_readonly_url(tmp_path / "manca.db"), DOCUMENTS_DIR=str(tmp_path / "doc"))
    client = broken.test_client()
    headers = api_token("SUPERVISORE")
    assert_error(upload(client, headers), 503, "ERP_UNAVAILABLE")
    assert stored_files(tmp_path) == []
    # An article's document does not need the ERP.
    assert upload(client, headers, CommessaERPId=None, CODART="ART-001").status_code == 201


# -- read ---------------------------------------------------------------------------------------


@pytest.fixture
def documenti(client, headers):
    """Four documents: order 1, article ART-001 (orders 1 and 8), order 8, article ART-002."""
    ids = {}
    for key, fields in {
        "commessa1": {"CommessaERPId": "1"},
        "art001": {"CommessaERPId": None, "CODART": "ART-001"},
        "commessa8": {"CommessaERPId": "8"},
        "art002": {"CommessaERPId": None, "CODART": "ART-002"},
    }.items():
        response = upload(client, headers, content=PDF + key.encode(), nome=f"{key}.pdf", **fields)
        assert response.status_code == 201, response.text
        ids[key] = response.json["DocumentoID"]
    return ids


def test_list_by_order_includes_its_articles_documents(client, headers, documenti):
    rows = client.get("/api/documenti/?CommessaERPId=1", headers=headers).json
    assert [r["DocumentoID"] for r in rows] == [documenti["art001"], documenti["commessa1"]]
    assert all(set(r) == FIELDS for r in rows)
    assert rows[0]["CommessaERPId"] is None and rows[0]["CODART"] == "ART-001"
    rows = client.get("/api/documenti/?CommessaERPId=8", headers=headers).json
    assert {r["DocumentoID"] for r in rows} == {documenti["art001"], documenti["commessa8"]}


def test_list_by_article_all_and_pages(client, headers, documenti):
    rows = client.get("/api/documenti/?CODART=ART-001", headers=headers).json
    assert [r["DocumentoID"] for r in rows] == [documenti["art001"]]
    everything = client.get("/api/documenti/", headers=headers).json
    assert [r["DocumentoID"] for r in everything] == sorted(documenti.values(), reverse=True)  # newest first
    page = client.get("/api/documenti/?limit=2&offset=1", headers=headers).json
    assert [r["DocumentoID"] for r in page] == [r["DocumentoID"] for r in everything[1:3]]


@pytest.mark.parametrize(
    "query", ["limit=501", "limit=0", "offset=-1", "CommessaERPId=abc", "CommessaERPId=1&CODART=ART-001", "CODART="]
)
def test_list_filters_are_validated(client, headers, query):
    assert_error(client.get(f"/api/documenti/?{query}", headers=headers), 422, "VALIDATION_ERROR")


def test_list_by_an_unknown_order_is_404(client, headers):
    assert_error(client.get("/api/documenti/?CommessaERPId=999999", headers=headers), 404, "NOT_FOUND")


def test_get_one_and_unknown(client, headers, documenti):
    response = client.get(f"/api/documenti/{documenti['commessa1']}", headers=headers)
    assert response.status_code == 200 and set(response.json) == FIELDS
    assert response.json["NomeFile"] == "commessa1.pdf"
    assert_error(client.get("/api/documenti/999999", headers=headers), 404, "NOT_FOUND")


def test_download_sends_the_bytes_with_type_and_a_safe_disposition(client, headers):
    created = upload(client, headers, nome="schéma_ß_电路.pdf").json
    response = client.get(f"/api/documenti/{created['DocumentoID']}/file", headers=headers)
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''sch%C3%A9ma_%C3%9F_%E7%94%B5%E8%B7%AF.pdf" in disposition
    assert disposition.isascii()
    assert response.headers["ETag"].strip('"') == created["Sha256"]
    again = client.get(
        f"/api/documenti/{created['DocumentoID']}/file", headers={**headers, "If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_download_of_text_keeps_the_stored_type(client, headers):
    created = upload(client, headers, nome="distinta.csv", content=b"ref;qta\nR1;2\n").json
    response = client.get(f"/api/documenti/{created['DocumentoID']}/file", headers=headers)
    assert response.headers["Content-Type"] == "text/csv"
    assert response.headers["Content-Disposition"] == "attachment; filename=distinta.csv"


def test_download_unknown_or_missing_file_is_404(client, headers, archivio_dir):
    assert_error(client.get("/api/documenti/999999/file", headers=headers), 404, "NOT_FOUND")
    created = upload(client, headers).json
    (archivio_dir / created["Sha256"][:2] / created["Sha256"][2:4] / created["Sha256"]).unlink()
    assert_error(client.get(f"/api/documenti/{created['DocumentoID']}/file", headers=headers), 404, "FILE_MANCANTE")


# -- delete -------------------------------------------------------------------------------------


def test_delete_is_204_and_keeps_the_record_and_the_bytes(client, headers, archivio_dir, db_session):
    first = upload(client, headers, CommessaERPId="1").json
    second = upload(client, headers, CommessaERPId="2").json
    path = archivio_dir / first["Sha256"][:2] / first["Sha256"][2:4] / first["Sha256"]

    response = client.delete(f"/api/documenti/{first['DocumentoID']}", headers=headers)
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/documenti/{first['DocumentoID']}", headers=headers).status_code == 404
    assert path.read_bytes() == PDF
    assert client.get(f"/api/documenti/{second['DocumentoID']}/file", headers=headers).data == PDF

    assert client.delete(f"/api/documenti/{second['DocumentoID']}", headers=headers).status_code == 204
    # SPEC §12: the records stay (marked deleted) and so do their bytes, for the trace.
    assert stored_files(archivio_dir) == [path]
    assert client.get(f"/api/documenti/{second['DocumentoID']}/file", headers=headers).status_code == 404
    assert client.get("/api/documenti/?CommessaERPId=2", headers=headers).json == []
    assert_error(client.delete(f"/api/documenti/{second['DocumentoID']}", headers=headers), 404, "NOT_FOUND")
    db_session.rollback()
    azioni = list(
        db_session.scalars(
            select(LogEvento.azione).where(LogEvento.entita == "DocumentiTecnici").order_by(LogEvento.id)
        )
    )
    assert azioni == ["DOCUMENTO_CARICATO", "DOCUMENTO_CARICATO", "DOCUMENTO_ELIMINATO", "DOCUMENTO_ELIMINATO"]


# -- roles ---------------------------------------------------------------------------------------

ROLE_MATRIX = [
    # (role, may read, may write)
    ("OPERATORE", True, False),
    ("SUPERVISORE", True, True),
    ("ADMIN", True, True),
]


@pytest.mark.parametrize(("ruolo", "legge", "scrive"), ROLE_MATRIX)
def test_role_matrix(client, api_token, archivio_dir, db_session, ruolo, legge, scrive):
    existing = upload(client, api_token("SUPERVISORE")).json["DocumentoID"]
    headers = api_token(ruolo)
    for url in (
        "/api/documenti/",
        f"/api/documenti/{existing}",
        f"/api/documenti/{existing}/file",
        "/api/documenti/?CommessaERPId=1",
    ):
        assert client.get(url, headers=headers).status_code == (200 if legge else 403), url

    created = upload(client, headers, content=PDF + b"nuovo")
    deleted = client.delete(f"/api/documenti/{existing}", headers=headers)
    if scrive:
        assert created.status_code == 201 and deleted.status_code == 204
    else:
        assert_error(created, 403, "FORBIDDEN")
        assert_error(deleted, 403, "FORBIDDEN")
        assert documenti_count(db_session) == 1
        assert len(stored_files(archivio_dir)) == 1


# -- OpenAPI ---------------------------------------------------------------------------------------


def test_openapi_documents_the_multipart_upload_and_the_binary_download(client, headers):
    doc = client.get("/api/openapi.json").json
    post = doc["paths"]["/api/documenti/"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    per_commessa, per_articolo = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]["oneOf"]
    for form, campo, altro in ((per_commessa, "CommessaERPId", "CODART"), (per_articolo, "CODART", "CommessaERPId")):
        # Exactly one of the two: each choice requires its own and does not have the other.
        assert form["properties"]["file"] == {**form["properties"]["file"], "type": "string", "format": "binary"}
        assert set(form["required"]) == {"file", "Tipo", "Titolo", campo}
        assert altro not in form["properties"] and form["additionalProperties"] is False
        assert "Revisione" in form["properties"]
    assert {"201", "400", "403", "409", "413", "422"} <= set(post["responses"])

    returned = upload(client, headers).json
    item = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert set(doc["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]]["properties"]) == set(returned)

    download = doc["paths"]["/api/documenti/{id}/file"]["get"]["responses"]["200"]["content"]
    # Each file comes back with the content type of its format (the DOCUMENT_EXTENSIONS setting).
    assert returned["ContentType"] in download
    assert all(media == {"schema": {"type": "string", "format": "binary"}} for media in download.values())
    assert "204" in doc["paths"]["/api/documenti/{id}"]["delete"]["responses"]
