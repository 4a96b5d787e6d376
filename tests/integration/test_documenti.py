"""Technical documents (services/documenti.py, services/archivio.py) against the real
ASI_GEST database and a real folder: content-addressed, deduplicated storage, file names
that never become paths, delete that keeps shared bytes, R4's document check, audit rows.

ERP rows (tests/erp_fixture.py): commesse 1 and 8 are both of article ART-001,
commessa 2 of ART-002, 101 of ``SCH-[X]``, 104 has no CODART.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from asigest.domain.documenti import FORMATI_PREDEFINITI
from asigest.errors import Conflict, Forbidden, InvalidInput, NotFound
from asigest.models import DocumentoTecnico, Fase, FaseTipo, LogEvento
from asigest.models.documenti import TIPI_DOCUMENTO
from asigest.services import audit, auth
from asigest.services import documenti as documenti_service
from asigest.services.archivio import CHUNK, Archivio, LimiteSuperato
from asigest.services.documenti import (
    DocumentoRifiutato,
    FileTroppoGrande,
    RegoleDocumenti,
)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "archivio" / "documenti"


@pytest.fixture
def archivio(root) -> Archivio:
    return Archivio(root)


@pytest.fixture
def regole() -> RegoleDocumenti:
    return RegoleDocumenti(tipi=TIPI_DOCUMENTO, max_bytes=64 * 1024, formati=dict(FORMATI_PREDEFINITI))


@pytest.fixture
def supervisore(make_user):
    return auth.actor_for(make_user("SUPERVISORE"), postazione="10.0.0.7")


@pytest.fixture
def carica(db_session, erp, archivio, regole, supervisore):
    """``carica(content=PDF, nome="schema.pdf", tipo="SCHEMA_MONTAGGIO", commessa=1, codart=None, **kw)``."""

    def upload(content=PDF, nome="schema.pdf", tipo="SCHEMA_MONTAGGIO", commessa=1, codart=None, **kw):
        values = {
            "actor": supervisore,
            "archivio": archivio,
            "regole": regole,
            "file": io.BytesIO(content),
            "nome_file": nome,
            "tipo": tipo,
            "titolo": kw.pop("titolo", "Schema di montaggio"),
            "commessa_erp_id": None if codart else commessa,
            "codart": codart,
        }
        values.update(kw)
        return documenti_service.upload_documento(db_session, erp, **values)

    return upload


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def eventi(session, azione: str) -> list[LogEvento]:
    return list(session.scalars(select(LogEvento).where(LogEvento.azione == azione).order_by(LogEvento.id)))


def commessa(erp, commessa_id):
    return documenti_service.commessa_erp(erp, commessa_id)


# -- storage -------------------------------------------------------------------------------


def test_upload_stores_the_bytes_under_their_sha256_and_records_the_row(db_session, carica, root, supervisore):
    documento = carica(content=PDF, nome="Schema TOP.pdf", revisione="B")
    sha = hashlib.sha256(PDF).hexdigest()
    path = root / sha[:2] / sha[2:4] / sha
    assert files_under(root) == [path]
    assert path.read_bytes() == PDF

    row = db_session.get(DocumentoTecnico, documento.id)
    assert (row.commessa_erp_id, row.codart, row.tipo, row.titolo, row.revisione) == (
        1,
        None,
        "SCHEMA_MONTAGGIO",
        "Schema di montaggio",
        "B",
    )
    assert (row.nome_file, row.content_type, row.dimensione, row.sha256) == (
        "Schema TOP.pdf",
        "application/pdf",
        len(PDF),
        sha,
    )
    assert row.caricato_da == supervisore.utente_id
    assert row.data_caricamento.tzinfo is not None


def test_a_deleted_documents_id_is_never_given_again(db_session, carica, archivio, supervisore):
    """The audit log names documents by id: on SQLite too (AUTOINCREMENT, migration 0009)."""
    primo = carica().id
    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=primo)
    secondo = carica().id
    assert secondo > primo
    assert [e.entita_id for e in eventi(db_session, "DOCUMENTO_ELIMINATO")] == [primo]


def test_upload_writes_its_audit_row_with_the_metadata(db_session, carica, supervisore):
    documento = carica(nome="schema.pdf", revisione="C")
    [evento] = eventi(db_session, "DOCUMENTO_CARICATO")
    assert (evento.entita, evento.entita_id, evento.utente_id) == (
        "DocumentiTecnici",
        documento.id,
        supervisore.utente_id,
    )
    assert evento.postazione == "10.0.0.7"
    assert evento.dettagli["dopo"] == {
        "CommessaERPId": 1,
        "CODART": None,
        "Tipo": "SCHEMA_MONTAGGIO",
        "Titolo": "Schema di montaggio",
        "NomeFile": "schema.pdf",
        "ContentType": "application/pdf",
        "Dimensione": len(PDF),
        "Sha256": hashlib.sha256(PDF).hexdigest(),
        "Revisione": "C",
    }


def test_same_bytes_uploaded_twice_are_stored_once(db_session, carica, root):
    first = carica(content=PDF, nome="a.pdf", tipo="DIBA", commessa=1)
    second = carica(content=PDF, nome="b.pdf", tipo="ISTRUZIONI", codart="ART-002")
    assert first.sha256 == second.sha256
    assert len(files_under(root)) == 1
    assert count(db_session, DocumentoTecnico) == 2


def test_the_same_file_with_the_same_type_for_the_same_order_is_refused(db_session, carica):
    carica(content=PDF, tipo="DIBA", commessa=1)
    with pytest.raises(Conflict) as refused:
        carica(content=PDF, tipo="DIBA", commessa=1, nome="copia.pdf")
    assert refused.value.code == "DOCUMENTO_DUPLICATO"
    assert count(db_session, DocumentoTecnico) == 1
    assert len(eventi(db_session, "DOCUMENTO_CARICATO")) == 1


@pytest.mark.parametrize(
    ("nome", "salvato"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\system.ini.pdf", "system.ini.pdf"),
        ("/var/lib/asigest/instance/asigest.db.pdf", "asigest.db.pdf"),
        ("C:\\Users\\rossi\\Desktop\\schema.pdf", "schema.pdf"),
        ('a"b\r\nX-Injected: 1.pdf', "a_b X-Injected_ 1.pdf"),
        ("evil\u202efdp.exe.pdf", "evilfdp.exe.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("schéma_ß_电路.pdf", "schéma_ß_电路.pdf"),
    ],
)
def test_file_names_never_become_paths(db_session, carica, tmp_path, root, nome, salvato):
    documento = carica(nome=nome)
    assert documento.nome_file == salvato
    sha = hashlib.sha256(PDF).hexdigest()
    # Everything written under tmp_path is the one content-addressed file.
    assert files_under(tmp_path) == [root / sha[:2] / sha[2:4] / sha]


def test_a_very_long_name_is_shortened_keeping_its_extension(carica):
    documento = carica(nome="x" * 300 + ".pdf")
    assert len(documento.nome_file) <= 200
    assert documento.nome_file.endswith(".pdf") and documento.nome_file.startswith("xxx")


def test_archive_paths_come_only_from_a_sha256(archivio):
    for bad in ("../../etc/passwd", "ab/../../x", "A" * 64, "0" * 63, "", None):
        with pytest.raises(ValueError):
            archivio.percorso(bad)


class _Stream(io.BytesIO):
    """Remembers the largest read it was asked for; refuses to be read whole."""

    largest = 0

    def read(self, size=-1):
        assert size is not None and size > 0, "lettura dell'intero file"
        self.largest = max(self.largest, size)
        return super().read(size)


def test_storage_streams_in_chunks_and_leaves_no_temporary_file(archivio, root):
    content = b"%PDF-" + bytes(range(256)) * (3 * CHUNK // 256)
    stream = _Stream(content)
    stored = archivio.salva(stream)
    assert stream.largest == CHUNK
    assert stored.sha256 == hashlib.sha256(content).hexdigest() and stored.dimensione == len(content) and stored.nuovo
    assert files_under(root) == [archivio.percorso(stored.sha256)]
    assert archivio.salva(io.BytesIO(content)).nuovo is False
    assert files_under(root) == [archivio.percorso(stored.sha256)]


def test_storage_over_the_limit_keeps_nothing(archivio, root):
    with pytest.raises(LimiteSuperato):
        archivio.salva(io.BytesIO(b"x" * 5000), max_bytes=4999)
    assert files_under(root) == []
    assert archivio.salva(io.BytesIO(b"x" * 5000), max_bytes=5000).dimensione == 5000


def test_a_damaged_copy_is_replaced_by_the_complete_bytes(archivio):
    stored = archivio.salva(io.BytesIO(PDF))
    archivio.percorso(stored.sha256).write_bytes(PDF[:5])  # e.g. a bad restore from backup
    again = archivio.salva(io.BytesIO(PDF))
    assert again.nuovo and archivio.percorso(stored.sha256).read_bytes() == PDF


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"commessa": 999999}, DocumentoRifiutato, "COMMESSA_INESISTENTE"),
        ({"nome": "../../etc/passwd"}, DocumentoRifiutato, "FORMATO_NON_AMMESSO"),
        ({"nome": "setup.exe", "content": b"MZ\x90\x00"}, DocumentoRifiutato, "FORMATO_NON_AMMESSO"),
        ({"nome": "pagina.html", "content": b"<script>alert(1)</script>"}, DocumentoRifiutato, "FORMATO_NON_AMMESSO"),
        (
            {"nome": "finto.pdf", "content": b"<html><script>alert(1)</script>"},
            DocumentoRifiutato,
            "CONTENUTO_NON_VALIDO",
        ),
        ({"nome": "foto.png", "content": PDF}, DocumentoRifiutato, "CONTENUTO_NON_VALIDO"),
        ({"nome": "distinta.xlsx", "content": b"not a zip"}, DocumentoRifiutato, "CONTENUTO_NON_VALIDO"),
        ({"nome": "vuoto.pdf", "content": b""}, InvalidInput, "VALIDATION_ERROR"),
        ({"content": b"%PDF-" + b"x" * (64 * 1024)}, FileTroppoGrande, "TOO_LARGE"),
    ],
)
def test_refused_uploads_store_nothing(db_session, carica, tmp_path, kwargs, error, code):
    with pytest.raises(error) as refused:
        carica(**kwargs)
    assert refused.value.code == code
    assert files_under(tmp_path) == []
    assert count(db_session, DocumentoTecnico) == 0
    assert eventi(db_session, "DOCUMENTO_CARICATO") == []


def test_size_limit_is_exact_and_named_in_the_message(carica, regole):
    assert carica(content=b"%PDF-" + b"x" * (regole.max_bytes - 5)).dimensione == regole.max_bytes
    with pytest.raises(FileTroppoGrande) as refused:
        carica(content=b"%PDF-" + b"y" * (regole.max_bytes - 4))
    assert refused.value.status == 413
    assert "64 KB" in refused.value.text()


def test_text_formats_without_a_signature_are_accepted(carica):
    assert carica(nome="programma.csv", content=b"ref;x;y\nR1;1;2\n").content_type == "text/csv"
    assert carica(nome="scheda.STEP", content=b"ISO-10303-21;\n").content_type == "model/step"


@pytest.mark.parametrize(
    ("kwargs", "campi"),
    [
        ({"titolo": "  "}, {"Titolo"}),
        ({"titolo": "t" * 201}, {"Titolo"}),
        ({"tipo": "FOTO"}, {"Tipo"}),
        ({"tipo": ""}, {"Tipo"}),
        ({"revisione": "r" * 21}, {"Revisione"}),
        ({"commessa": None}, {"CommessaERPId"}),
        ({"commessa_erp_id": 1, "codart": "ART-001"}, {"CommessaERPId"}),
        ({"codart": "A" * 31}, {"CODART"}),
        ({"file": None}, {"file"}),
        ({"nome_file": ""}, {"file"}),
        ({"titolo": "", "tipo": "NO", "file": None}, {"Titolo", "Tipo", "file"}),
    ],
)
def test_malformed_uploads_name_every_field_at_fault(db_session, carica, kwargs, campi):
    with pytest.raises(InvalidInput) as refused:
        carica(**kwargs)
    assert set(refused.value.errors) == campi
    assert count(db_session, DocumentoTecnico) == 0


def test_type_codes_are_read_case_insensitively(carica):
    assert carica(tipo=" diba ").tipo == "DIBA"


def test_operators_cannot_upload_or_delete(db_session, erp, archivio, regole, make_user, carica):
    operatore = auth.actor_for(make_user("OPERATORE"))
    with pytest.raises(Forbidden):
        documenti_service.upload_documento(
            db_session,
            erp,
            actor=operatore,
            archivio=archivio,
            regole=regole,
            file=io.BytesIO(PDF),
            nome_file="a.pdf",
            tipo="DIBA",
            titolo="x",
            commessa_erp_id=1,
        )
    documento = carica()
    with pytest.raises(Forbidden):
        documenti_service.delete_documento(db_session, actor=operatore, archivio=archivio, documento_id=documento.id)
    assert count(db_session, DocumentoTecnico) == 1


def test_a_failed_commit_removes_the_bytes_it_had_just_stored(db_session, carica, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database giù")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        carica()
    assert files_under(tmp_path) == []
    assert count(db_session, DocumentoTecnico) == 0


# -- delete ------------------------------------------------------------------------------------


def test_delete_keeps_the_record_marked_and_the_bytes(db_session, carica, archivio, root, supervisore):
    """SPEC §12: a deleted document keeps its record — marked deleted, when and by whom —
    and its bytes; it leaves the lists, the download and the duplicate check."""
    first = carica(content=PDF, tipo="DIBA", commessa=1)
    second = carica(content=PDF, tipo="DIBA", commessa=2)
    path = archivio.percorso(first.sha256)
    first_id, second_id = first.id, second.id

    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=first_id)
    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=second_id)
    db_session.rollback()
    for documento_id in (first_id, second_id):
        record = db_session.get(DocumentoTecnico, documento_id)
        assert record.eliminato and record.eliminato_da == supervisore.utente_id
        assert record.data_eliminazione.tzinfo is not None
        with pytest.raises(NotFound):
            documenti_service.get_documento(db_session, documento_id)
        with pytest.raises(NotFound):
            documenti_service.file_documento(db_session, archivio=archivio, documento_id=documento_id)
    assert files_under(root) == [path] and path.read_bytes() == PDF
    assert documenti_service.list_documenti(db_session, None, codart=None) == []
    # The same file can be uploaded again: the deleted record is not a duplicate.
    again = carica(content=PDF, tipo="DIBA", commessa=1)
    assert again.id > second_id and not again.eliminato


def test_the_documents_current_at_an_instant_include_those_deleted_later(
    db_session, erp, carica, archivio, supervisore
):
    """What an operator opening a lotto had on screen: uploaded by then, not yet deleted."""
    from datetime import timedelta

    from asigest.models.types import utcnow

    vecchio = carica(content=PDF, tipo="DIBA", commessa=1, titolo="DIBA rev A")
    articolo = carica(content=PDF + b"art", tipo="ISTRUZIONI", codart="ART-001", titolo="Istruzioni")
    db_session.rollback()
    prima_di_tutto = db_session.get(DocumentoTecnico, vecchio.id).data_caricamento - timedelta(seconds=1)
    dopo_il_caricamento = utcnow()
    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=vecchio.id)
    nuovo = carica(content=PDF + b"B", tipo="DIBA", commessa=1, titolo="DIBA rev B")
    db_session.rollback()
    ordine = commessa(erp, 1)
    assert ordine.codart == "ART-001"

    def titoli(istante):
        return sorted(d.titolo for d in documenti_service.documenti_correnti(db_session, ordine, istante))

    assert titoli(prima_di_tutto) == []
    assert titoli(dopo_il_caricamento) == ["DIBA rev A", "Istruzioni"]
    assert titoli(utcnow()) == ["DIBA rev B", "Istruzioni"]
    assert {d.id for d in documenti_service.documenti_commessa(db_session, ordine) for d in [d.documento]} == {
        articolo.id,
        nuovo.id,
    }


def test_two_deletes_at_once_make_one_record_and_one_log_row(app, db_session, carica, archivio, supervisore):
    import threading

    from asigest.extensions import db

    documento_id = carica().id
    esiti: list[object] = []
    pronti = threading.Barrier(2)

    def elimina():
        with app.app_context():
            pronti.wait()
            try:
                documenti_service.delete_documento(
                    db.session, actor=supervisore, archivio=archivio, documento_id=documento_id
                )
                esiti.append("ok")
            except NotFound:
                esiti.append("404")
            finally:
                db.session.remove()

    fili = [threading.Thread(target=elimina) for _ in range(2)]
    for filo in fili:
        filo.start()
    for filo in fili:
        filo.join(30)
    assert sorted(esiti) == ["404", "ok"]
    db_session.rollback()
    assert len(eventi(db_session, "DOCUMENTO_ELIMINATO")) == 1


def test_delete_writes_its_audit_row_and_unknown_ids_are_not_found(db_session, carica, archivio, supervisore):
    documento = carica(nome="schema.pdf")
    documento_id = documento.id
    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=documento_id)
    [evento] = eventi(db_session, "DOCUMENTO_ELIMINATO")
    assert (evento.entita, evento.entita_id, evento.utente_id) == (
        "DocumentiTecnici",
        documento_id,
        supervisore.utente_id,
    )
    assert evento.dettagli["prima"]["NomeFile"] == "schema.pdf"
    assert evento.dettagli["prima"]["Sha256"] == hashlib.sha256(PDF).hexdigest()
    with pytest.raises(NotFound):
        documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=documento_id)
    assert len(eventi(db_session, "DOCUMENTO_ELIMINATO")) == 1


def test_remove_puts_the_file_back_when_a_row_appeared_meanwhile(archivio):
    """The delete asks "still used?" after moving the file aside: an upload of the same
    bytes that committed in between keeps its file."""
    stored = archivio.salva(io.BytesIO(PDF))
    assert archivio.rimuovi(stored.sha256, ancora_usato=lambda: True) is False
    assert archivio.percorso(stored.sha256).read_bytes() == PDF
    assert files_under(archivio.root) == [archivio.percorso(stored.sha256)]

    def broken():
        raise RuntimeError("database giù")

    assert archivio.rimuovi(stored.sha256, ancora_usato=broken) is False  # in doubt, keep it
    assert archivio.esiste(stored.sha256)
    assert archivio.rimuovi(stored.sha256, ancora_usato=lambda: False) is True
    assert files_under(archivio.root) == []


def test_upload_rewrites_its_file_if_a_concurrent_delete_removed_it_before_the_commit(
    db_session, erp, regole, supervisore, root
):
    """The other half of the race: the last other row with these bytes is deleted (and
    the file removed) between this upload's write and its commit."""

    class Racing(Archivio):
        calls = 0

        def salva(self, stream, *, max_bytes=None):
            stored = super().salva(stream, max_bytes=max_bytes)
            Racing.calls += 1
            if Racing.calls == 1:
                self.percorso(stored.sha256).unlink()  # the concurrent delete
            return stored

    documento = documenti_service.upload_documento(
        db_session,
        erp,
        actor=supervisore,
        archivio=Racing(root),
        regole=regole,
        file=io.BytesIO(PDF),
        nome_file="a.pdf",
        tipo="DIBA",
        titolo="Distinta",
        commessa_erp_id=1,
    )
    assert Racing.calls == 2
    assert Archivio(root).percorso(documento.sha256).read_bytes() == PDF


def test_download_of_a_row_whose_file_is_missing_is_a_clear_not_found(db_session, carica, archivio):
    documento = carica()
    archivio.percorso(documento.sha256).unlink()
    with pytest.raises(NotFound) as refused:
        documenti_service.file_documento(db_session, archivio=archivio, documento_id=documento.id)
    assert refused.value.code == "FILE_MANCANTE"


# -- lists -----------------------------------------------------------------------------------------


def test_a_commessa_sees_its_own_documents_and_its_articles(db_session, erp, carica):
    proprio = carica(content=PDF + b"1", tipo="DIBA", commessa=1)
    articolo = carica(content=PDF + b"2", tipo="ISTRUZIONI", codart="ART-001")
    carica(content=PDF + b"3", tipo="DIBA", commessa=8)  # same article, other order
    carica(content=PDF + b"4", tipo="DIBA", codart="ART-002")  # other article

    voci = documenti_service.documenti_commessa(db_session, commessa(erp, 1))
    assert [(v.documento.id, v.per_articolo) for v in voci] == [(articolo.id, True), (proprio.id, False)]

    api = documenti_service.list_documenti(db_session, erp, commessa_erp_id=1)
    assert [d.id for d in api] == [articolo.id, proprio.id]
    assert [d.id for d in documenti_service.list_documenti(db_session, erp, codart="ART-001")] == [articolo.id]
    assert len(documenti_service.list_documenti(db_session, erp)) == 4
    assert len(documenti_service.list_documenti(db_session, erp, limit=2, offset=3)) == 1


def test_an_order_without_article_sees_only_its_own(db_session, erp, carica):
    carica(content=PDF + b"1", commessa=104)
    assert len(documenti_service.documenti_commessa(db_session, commessa(erp, 104))) == 1


def test_article_codes_match_literally(db_session, erp, carica):
    carica(codart="SCH-[X]")
    assert len(documenti_service.documenti_commessa(db_session, commessa(erp, 101))) == 1
    assert documenti_service.list_documenti(db_session, erp, codart="SCH-%") == []


def test_list_for_an_unknown_order_is_not_found(db_session, erp):
    with pytest.raises(NotFound):
        documenti_service.list_documenti(db_session, erp, commessa_erp_id=999999)


# -- R4: required document types ------------------------------------------------------------------


@pytest.fixture
def richiesti(db_session):
    """Set DocumentiRichiesti per FaseTipo code and create the fasi of some orders."""

    def setup(per_tipo: dict[str, list[str]], fasi: dict[int, tuple[str, ...]]):
        tipi = {ft.codice: ft for ft in db_session.scalars(select(FaseTipo))}
        for codice, documenti in per_tipo.items():
            tipi[codice].documenti_richiesti = documenti
        for commessa_id, codici in fasi.items():
            for codice in codici:
                db_session.add(
                    Fase(commessa_erp_id=commessa_id, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=10)
                )
        db_session.commit()

    return setup


def test_tipi_mancanti_counts_the_orders_and_its_articles_documents(db_session, erp, carica, richiesti):
    richiesti(
        {"SMD": ["PROGRAMMA_SMD", "SCHEMA_MONTAGGIO"], "PTH": [], "CONTROLLI": ["CICLO_COLLAUDO"]},
        {1: ("SMD", "PTH", "CONTROLLI"), 8: ("SMD",)},
    )
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 1)) == {
        "SMD": ["PROGRAMMA_SMD", "SCHEMA_MONTAGGIO"],
        "PTH": [],
        "CONTROLLI": ["CICLO_COLLAUDO"],
    }

    carica(content=PDF + b"p", tipo="PROGRAMMA_SMD", commessa=1, nome="prog.pdf")
    carica(content=PDF + b"c", tipo="CICLO_COLLAUDO", commessa=2)  # another order: does not count
    carica(content=PDF + b"d", tipo="CICLO_COLLAUDO", codart="ART-002")  # another article: does not count
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 1)) == {
        "SMD": ["SCHEMA_MONTAGGIO"],
        "PTH": [],
        "CONTROLLI": ["CICLO_COLLAUDO"],
    }

    carica(content=PDF + b"s", tipo="SCHEMA_MONTAGGIO", codart="ART-001")  # the article's: counts for 1 and 8
    carica(content=PDF + b"k", tipo="CICLO_COLLAUDO", commessa=1)
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 1)) == {"SMD": [], "PTH": [], "CONTROLLI": []}
    # Order 8 has the article's schema but not order 1's own program.
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 8)) == {"SMD": ["PROGRAMMA_SMD"]}


def test_tipi_mancanti_follows_the_flow_order_and_handles_edge_cases(db_session, erp, richiesti):
    richiesti({"SMD": ["DIBA", "DIBA"], "CONTROLLI": ["DIBA"]}, {104: ("CONTROLLI", "SMD")})
    mancanti = documenti_service.tipi_mancanti(db_session, commessa(erp, 104))  # no CODART
    assert list(mancanti) == ["SMD", "CONTROLLI"]
    assert mancanti == {"SMD": ["DIBA"], "CONTROLLI": ["DIBA"]}
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 2)) == {}  # not configured


def test_deleting_a_required_document_makes_it_missing_again(db_session, erp, carica, archivio, supervisore, richiesti):
    richiesti({"SMD": ["DIBA"]}, {1: ("SMD",)})
    documento = carica(tipo="DIBA", codart="ART-001")
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 1)) == {"SMD": []}
    documenti_service.delete_documento(db_session, actor=supervisore, archivio=archivio, documento_id=documento.id)
    assert documenti_service.tipi_mancanti(db_session, commessa(erp, 1)) == {"SMD": ["DIBA"]}
