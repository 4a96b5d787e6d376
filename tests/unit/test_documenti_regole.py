"""The pure rules of technical documents (asigest/domain/documenti.py) and how their
settings are read from the environment (asigest/config.py)."""

from __future__ import annotations

import pytest

from asigest.domain import documenti as d


@pytest.mark.parametrize(
    ("nome", "atteso"),
    [
        ("schema.pdf", "schema.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\rossi\\Desktop\\distinta.xlsx", "distinta.xlsx"),
        ('a"b\r\nX: 1.pdf', "a_b X_ 1.pdf"),
        ("tab\there\x00.pdf", "tab here.pdf"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ("  .nascosto.pdf.  ", "nascosto.pdf"),
        ("a<b>c|d?e*f.pdf", "a_b_c_d_e_f.pdf"),
        ("com1.txt", "_com1.txt"),
        ("Cafe\u0301.pdf", "Café.pdf"),  # NFC: one character, as people type it
        ("", "documento"),
        (None, "documento"),
        ("...", "documento"),
        ("dir/", "documento"),
    ],
)
def test_nome_file_sicuro(nome, atteso):
    assert d.nome_file_sicuro(nome) == atteso


def test_long_names_keep_their_extension_within_the_limit():
    assert d.nome_file_sicuro("x" * 300 + ".step") == "x" * (d.MAX_NOME_FILE - 5) + ".step"
    assert len(d.nome_file_sicuro("y" * 300)) == d.MAX_NOME_FILE
    assert len(d.nome_file_sicuro("电" * 300 + ".pdf")) == d.MAX_NOME_FILE


@pytest.mark.parametrize(
    ("nome", "ext"), [("a.PDF", "pdf"), ("a.tar.gz", "gz"), ("passwd", ""), (".pdf", ""), ("a.", "")]
)
def test_estensione(nome, ext):
    assert d.estensione(nome) == ext


@pytest.mark.parametrize(
    ("ext", "inizio", "ok"),
    [
        ("pdf", b"%PDF-1.7", True),
        ("pdf", b"\r\n" * 100 + b"%PDF-1.4", True),  # readers accept a little junk first
        ("pdf", b"x" * 2000 + b"%PDF-1.4", False),
        ("pdf", b"<html>", False),
        ("png", b"\x89PNG\r\n\x1a\n....", True),
        ("png", b"GIF89a", False),
        ("jpg", b"\xff\xd8\xff\xe0", True),
        ("xlsx", b"PK\x03\x04", True),
        ("docx", b"%PDF-", False),
        ("zip", b"PK\x05\x06", True),
        ("csv", b"anything", True),
        ("step", b"ISO-10303-21;", True),
    ],
)
def test_contenuto_coerente(ext, inizio, ok):
    assert d.contenuto_coerente(ext, inizio) is ok


def test_formati_accepts_text_lists_and_mappings():
    assert d.formati("pdf, .PNG ,pos=text/plain,xyz") == {
        "pdf": "application/pdf",
        "png": "image/png",
        "pos": "text/plain",
        "xyz": "application/octet-stream",
    }
    assert d.formati(["pdf"]) == {"pdf": "application/pdf"}
    assert d.formati({"STEP": ""}) == {"step": "model/step"}
    for bad in ("../pdf", "p d f", "a" * 17):
        with pytest.raises(ValueError):
            d.formati(bad)


def test_tipi_and_sizes():
    assert d.tipi(" diba,ALTRO,,diba ") == ("DIBA", "ALTRO")
    assert d.tipi(["Foto"]) == ("FOTO",)
    assert [d.dimensione_leggibile(n) for n in (0, 1023, 1024, 1536, 50 * 1024**2, 3 * 1024**3)] == [
        "0 byte",
        "1023 byte",
        "1 KB",
        "1.5 KB",
        "50 MB",
        "3 GB",
    ]


def test_only_pdf_and_raster_images_open_in_the_browser():
    assert d.mostrabile_nel_browser("application/pdf") and d.mostrabile_nel_browser("image/jpeg")
    for tipo in ("text/html", "image/svg+xml", "text/plain", "application/octet-stream"):
        assert not d.mostrabile_nel_browser(tipo)


def test_document_settings_from_the_environment(tmp_path, monkeypatch):
    from asigest import create_app

    monkeypatch.setenv("ASIGEST_DOCUMENT_TYPES", "diba,foto_campione")
    monkeypatch.setenv("ASIGEST_DOCUMENT_MAX_BYTES", "1048576")
    monkeypatch.setenv("ASIGEST_DOCUMENT_EXTENSIONS", "pdf,pos=text/plain")
    monkeypatch.setenv("ASIGEST_DOCUMENTS_DIR", str(tmp_path / "archivio"))
    app = create_app({"INSTANCE_PATH": tmp_path / "instance", "SECRET_KEY": "x"})
    assert app.config["DOCUMENT_TYPES"] == ("DIBA", "FOTO_CAMPIONE")
    assert app.config["DOCUMENT_EXTENSIONS"] == {"pdf": "application/pdf", "pos": "text/plain"}
    assert app.config["DOCUMENT_MAX_BYTES"] == 1048576
    assert app.config["MAX_CONTENT_LENGTH"] == 1048576 + 1024 * 1024  # the file plus its envelope
    assert app.config["DOCUMENTS_DIR"] == str(tmp_path / "archivio")
    assert not (tmp_path / "archivio").exists()  # created on the first upload, not at start


def test_document_settings_defaults(tmp_path, monkeypatch):
    from asigest import create_app
    from asigest.models.documenti import TIPI_DOCUMENTO

    for name in (
        "ASIGEST_DOCUMENT_TYPES",
        "ASIGEST_DOCUMENT_MAX_BYTES",
        "ASIGEST_DOCUMENT_EXTENSIONS",
        "ASIGEST_DOCUMENTS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "MAX_CONTENT_LENGTH": 123})
    assert app.config["DOCUMENT_TYPES"] == TIPI_DOCUMENTO
    assert app.config["DOCUMENT_EXTENSIONS"] == d.FORMATI_PREDEFINITI
    assert app.config["DOCUMENTS_DIR"] == str(tmp_path / "documenti")
    assert app.config["MAX_CONTENT_LENGTH"] == 123  # set on purpose: kept
