"""Technical documents: upload, lists per order and per article, download, delete, and
R4's document check (``tipi_mancanti``).

A document belongs to one commessa (CommessaERPId) or to one article (CODART); an
article's documents apply to every commessa of that article. Bytes are stored by
``services.archivio``, content-addressed; rows here only describe them. Settings
(types, size limit, formats) come in as a ``RegoleDocumenti`` value and the file as a
binary stream, so nothing here knows about Flask. Deleting keeps the record and the
bytes, marked deleted (SPEC §12): ``documenti_correnti`` answers what applied at a past
instant.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import ColumnElement, Select, and_, or_, select

from asigest.domain import documenti as regole_file
from asigest.domain.actor import Actor
from asigest.domain.ruoli import SUPERVISORE
from asigest.erp import Commessa, ErpGateway
from asigest.errors import (
    N_,
    AsigestError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
)
from asigest.models import DocumentoTecnico, Fase, FaseTipo
from asigest.models.types import utcnow
from asigest.services import audit
from asigest.services.archivio import Archivio, LimiteSuperato
from asigest.services.uow import DbSession, transaction

log = logging.getLogger(__name__)

ENTITA = "DocumentiTecnici"
MAX_TITOLO = 200
MAX_REVISIONE = 20
MAX_CODART = 30


@dataclass(frozen=True)
class RegoleDocumenti:
    """The plant's settings for documents (DOCUMENT_TYPES, DOCUMENT_MAX_BYTES, DOCUMENT_EXTENSIONS)."""

    tipi: tuple[str, ...]
    max_bytes: int
    formati: Mapping[str, str]  # extension → content type


@dataclass(frozen=True)
class DocumentoVoce:
    """A document as a commessa sees it: its own, or its article's (``per_articolo``)."""

    documento: DocumentoTecnico
    per_articolo: bool


@dataclass(frozen=True)
class RequisitoFase:
    """R4 for one fase: the document types its FaseTipo requires and those still missing."""

    fase_tipo: str
    richiesti: list[str]
    mancanti: list[str]


@dataclass(frozen=True)
class SezioneDocumenti:
    """What the order card's documents section shows."""

    commessa: Commessa
    voci: list[DocumentoVoce]
    requisiti: list[RequisitoFase] = field(default_factory=list)

    @property
    def mancanti(self) -> dict[str, list[str]]:
        return {r.fase_tipo: r.mancanti for r in self.requisiti if r.mancanti}


class DocumentoRifiutato(RuleViolation):
    """A rule refused the upload; ``campo`` names the input at fault (for inline messages)."""

    def __init__(self, message: str, *, code: str, campo: str | None = None, **params: object) -> None:
        self.campo = campo
        super().__init__(message, code=code, **params)


class FileTroppoGrande(AsigestError):
    """The file is over DOCUMENT_MAX_BYTES (HTTP 413, like a request over MAX_CONTENT_LENGTH)."""

    status = 413
    code = "TOO_LARGE"
    campo = "file"
    default_message = N_(
        "Il file supera il limite di %(limite)s: ridurne la dimensione (per esempio comprimendolo) e riprovare."
    )


# -- which documents apply ------------------------------------------------------------


def _dell_articolo(codart: str) -> ColumnElement[bool]:
    """Rows of an article. A row naming both a commessa and an article counts as the commessa's."""
    return and_(DocumentoTecnico.codart == codart, DocumentoTecnico.commessa_erp_id.is_(None))


def _in_uso() -> ColumnElement[bool]:
    """Documents not deleted: a deleted one keeps its row for the trace (SPEC §12) and is
    gone from everything else."""
    return DocumentoTecnico.data_eliminazione.is_(None)


def _per(commessa: Commessa) -> ColumnElement[bool]:
    """Rows, deleted ones included, that apply to ``commessa``: its own, and its article's."""
    propri = DocumentoTecnico.commessa_erp_id == commessa.id
    return or_(propri, _dell_articolo(commessa.codart)) if commessa.codart else propri


def _validi_per(commessa: Commessa) -> ColumnElement[bool]:
    """Documents in use that apply to ``commessa``."""
    return and_(_in_uso(), _per(commessa))


def _recenti_prima(stmt: Select[DocumentoTecnico]) -> Select[DocumentoTecnico]:
    return stmt.order_by(DocumentoTecnico.data_caricamento.desc(), DocumentoTecnico.id.desc())


def commessa_erp(erp: ErpGateway, commessa_id: int) -> Commessa:
    """The ERP order whose documents are wanted (any ERP state).

    Raises NotFound when the ERP does not have it, ErpUnavailable when it does not answer.
    """
    commessa = erp.get(commessa_id)
    if commessa is None:
        raise NotFound(N_("La commessa %(id)s non esiste nel gestionale."), id=commessa_id)
    return commessa


# -- reading --------------------------------------------------------------------------


def list_documenti(
    session: DbSession,
    erp: ErpGateway,
    *,
    commessa_erp_id: int | None = None,
    codart: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DocumentoTecnico]:
    """Documents newest first: those that apply to a commessa (its own and its
    article's), or those of an article, or all of them.

    Raises NotFound for a commessa the ERP does not have, ErpUnavailable when the ERP
    does not answer (only when filtering by commessa: its article comes from the ERP).
    """
    stmt = select(DocumentoTecnico).where(_in_uso())
    if commessa_erp_id is not None:
        stmt = stmt.where(_validi_per(commessa_erp(erp, commessa_erp_id)))
    elif codart is not None:
        stmt = stmt.where(_dell_articolo(codart.strip()))
    return list(session.scalars(_recenti_prima(stmt).limit(limit).offset(offset)))


def documenti_commessa(session: DbSession, commessa: Commessa) -> list[DocumentoVoce]:
    """Every document that applies to ``commessa`` (an ERP order already read), newest
    first, each marked per-article or not."""
    rows = session.scalars(_recenti_prima(select(DocumentoTecnico).where(_validi_per(commessa))))
    return [DocumentoVoce(d, per_articolo=d.commessa_erp_id is None) for d in rows]


def requisiti_fasi(session: DbSession, commessa: Commessa) -> list[RequisitoFase]:
    """R4's document check for each fase of ``commessa``, in flow order: the types its
    FaseTipo.DocumentiRichiesti lists and which of them no document of the commessa or
    of its article (CODART) provides yet."""
    fasi = list(
        session.scalars(
            select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa.id).order_by(FaseTipo.ordine)
        )
    )
    richiesti = {f.fase_tipo.codice: list(dict.fromkeys(f.fase_tipo.documenti_richiesti or [])) for f in fasi}
    presenti: set[str] = set()
    if any(richiesti.values()):
        presenti = set(session.scalars(select(DocumentoTecnico.tipo).where(_validi_per(commessa)).distinct()))
    return [RequisitoFase(codice, tipi, [t for t in tipi if t not in presenti]) for codice, tipi in richiesti.items()]


def tipi_mancanti(session: DbSession, commessa: Commessa) -> dict[str, list[str]]:
    """R4: ``{FaseTipo code: [document types missing]}`` for every fase of ``commessa``
    (an empty list when nothing is missing). A lotto may open in a fase only when its
    list is empty; the refusal names the missing types."""
    return {r.fase_tipo: r.mancanti for r in requisiti_fasi(session, commessa)}


def tipi_mancanti_fase(session: DbSession, commessa: Commessa, fase_tipo: FaseTipo) -> list[str]:
    """R4 for one fase: the document types its FaseTipo requires that no document of
    ``commessa`` or of its article provides yet (no query when it requires none)."""
    richiesti = list(dict.fromkeys(fase_tipo.documenti_richiesti or []))
    if not richiesti:
        return []
    presenti = set(session.scalars(select(DocumentoTecnico.tipo).where(_validi_per(commessa)).distinct()))
    return [t for t in richiesti if t not in presenti]


def sezione_documenti(session: DbSession, commessa: Commessa) -> SezioneDocumenti:
    """The order card's documents: the list and the per-fase check."""
    return SezioneDocumenti(commessa, documenti_commessa(session, commessa), requisiti_fasi(session, commessa))


def documenti_correnti(session: DbSession, commessa: Commessa, istante: datetime) -> list[DocumentoTecnico]:
    """The documents that applied to ``commessa`` (an ERP order already read) at
    ``istante``: uploaded by then and not yet deleted then — what an operator opening a
    lotto at that moment had (SPEC §12). Newest first."""
    stmt = select(DocumentoTecnico).where(
        _per(commessa),
        DocumentoTecnico.data_caricamento <= istante,
        or_(DocumentoTecnico.data_eliminazione.is_(None), DocumentoTecnico.data_eliminazione > istante),
    )
    return list(session.scalars(_recenti_prima(stmt)))


def get_documento(session: DbSession, documento_id: int) -> DocumentoTecnico:
    """One document in use, by id. Raises NotFound (also for a deleted one)."""
    documento = session.get(DocumentoTecnico, documento_id)
    if documento is None or documento.eliminato:
        raise NotFound(N_("Il documento %(id)s non esiste (forse è stato eliminato)."), id=documento_id)
    return documento


def file_documento(session: DbSession, *, archivio: Archivio, documento_id: int) -> tuple[DocumentoTecnico, Path]:
    """The document and the path of its bytes, for download.

    Raises NotFound for an unknown id, and NotFound (code FILE_MANCANTE) when the row
    exists but its bytes are not in the archive (a restore without the files folder).
    """
    documento = get_documento(session, documento_id)
    percorso = archivio.percorso(documento.sha256)
    if not percorso.is_file():
        log.error("Documento %s: file %s assente dall'archivio", documento.id, documento.sha256)
        raise NotFound(
            N_("Il file del documento %(id)s non si trova nell'archivio: avvisare l'ufficio IT."),
            code="FILE_MANCANTE",
            id=documento.id,
        )
    return documento, percorso


# -- changing -------------------------------------------------------------------------


def upload_documento(
    session: DbSession,
    erp: ErpGateway,
    *,
    actor: Actor,
    archivio: Archivio,
    regole: RegoleDocumenti,
    file: IO[bytes] | None,
    nome_file: str | None,
    tipo: str | None,
    titolo: str | None,
    revisione: str | None = None,
    commessa_erp_id: int | None = None,
    codart: str | None = None,
) -> DocumentoTecnico:
    """Store a document for a commessa or for an article, with its LogEventi row.

    ``file`` is a binary stream that can be read again (``seek(0)``); ``nome_file`` is
    the uploader's name, kept only, sanitised, for display and download. The format is
    chosen by the extension among ``regole.formati`` and confirmed by the first bytes.

    Raises Forbidden (not a supervisor), InvalidInput (missing or too long field, type
    not in the list, both or neither destination, empty file), DocumentoRifiutato
    (unknown commessa, format not allowed, content not matching its extension),
    FileTroppoGrande, Conflict (the same file with the same type is already there),
    ErpUnavailable.
    """
    _solo_supervisori(actor)
    tipo = (tipo or "").strip().upper()
    titolo = (titolo or "").strip()
    revisione = (revisione or "").strip() or None
    codart = (codart or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not tipo:
        errors["Tipo"] = [N_("Indicare il tipo di documento.")]
    elif tipo not in regole.tipi:
        errors["Tipo"] = [N_("Tipo di documento non previsto: sceglierne uno dell'elenco.")]
    if not titolo:
        errors["Titolo"] = [N_("Indicare un titolo, per esempio «Schema di montaggio lato TOP».")]
    elif len(titolo) > MAX_TITOLO:
        errors["Titolo"] = [N_("Il titolo può avere al massimo 200 caratteri.")]
    if revisione and len(revisione) > MAX_REVISIONE:
        errors["Revisione"] = [N_("La revisione può avere al massimo 20 caratteri.")]
    if commessa_erp_id is None and codart is None:
        errors["CommessaERPId"] = [N_("Indicare la commessa (CommessaERPId) oppure l'articolo (CODART).")]
    elif commessa_erp_id is not None and codart is not None:
        errors["CommessaERPId"] = [N_("Indicare la commessa oppure l'articolo, non entrambi.")]
    elif codart and len(codart) > MAX_CODART:
        errors["CODART"] = [N_("Il codice articolo può avere al massimo 30 caratteri.")]
    if file is None or not (nome_file or "").strip():
        errors["file"] = [N_("Scegliere il file da caricare.")]
    if errors:
        raise InvalidInput(errors)
    assert file is not None  # checked into ``errors`` above

    if commessa_erp_id is not None and erp.get(commessa_erp_id) is None:
        raise DocumentoRifiutato(
            N_("La commessa %(id)s non esiste nel gestionale: controllare il numero."),
            code="COMMESSA_INESISTENTE",
            campo="CommessaERPId",
            id=commessa_erp_id,
        )
    nome = regole_file.nome_file_sicuro(nome_file)
    content_type = _formato(nome, file, regole)

    try:
        archiviato = archivio.salva(file, max_bytes=regole.max_bytes)
    except LimiteSuperato:
        raise FileTroppoGrande(limite=regole_file.dimensione_leggibile(regole.max_bytes)) from None

    destinazione: ColumnElement[bool]
    if commessa_erp_id is not None:
        destinazione = DocumentoTecnico.commessa_erp_id == commessa_erp_id
    else:
        assert codart is not None  # one of the two, checked into ``errors`` above
        destinazione = _dell_articolo(codart)
    uguale = session.scalar(
        select(DocumentoTecnico)
        .where(_in_uso(), destinazione, DocumentoTecnico.sha256 == archiviato.sha256, DocumentoTecnico.tipo == tipo)
        .limit(1)
    )
    if uguale is not None:
        raise Conflict(
            N_("Lo stesso file è già caricato come «%(titolo)s» (%(tipo)s): non è stato aggiunto di nuovo."),
            code="DOCUMENTO_DUPLICATO",
            titolo=uguale.titolo,
            tipo=uguale.tipo,
        )

    try:
        with transaction(session):
            documento = DocumentoTecnico(
                commessa_erp_id=commessa_erp_id,
                codart=codart,
                tipo=tipo,
                titolo=titolo,
                nome_file=nome,
                content_type=content_type,
                dimensione=archiviato.dimensione,
                sha256=archiviato.sha256,
                revisione=revisione,
                caricato_da=actor.utente_id,
            )
            session.add(documento)
            session.flush()
            audit.record(session, actor, "DOCUMENTO_CARICATO", ENTITA, documento.id, dopo=_metadati(documento))
    except BaseException:
        if archiviato.nuovo:
            _rimuovi_se_orfano(session, archivio, archiviato.sha256)
        raise

    # A delete of the last other row with these bytes may have removed the file between
    # our write and our commit (see services.archivio): put it back.
    if not archivio.esiste(archiviato.sha256):
        log.info("Documento %s: file riscritto dopo un'eliminazione concorrente", documento.id)
        file.seek(0)
        archivio.salva(file)
    return documento


def delete_documento(session: DbSession, *, actor: Actor, archivio: Archivio, documento_id: int) -> None:
    """Delete a document: it leaves every list, download and R4 check, and its record
    stays, marked with when and by whom (with its LogEventi row), as do its bytes — a
    trace shows the documents that were current when a lotto opened (SPEC §12), and an
    auditor may ask for the file itself.

    ``archivio`` is kept in the signature for the callers; nothing is removed from it.

    Raises Forbidden (not a supervisor), NotFound (unknown or already deleted).
    """
    _solo_supervisori(actor)
    with transaction(session):
        # Locked, so two deletes at the same instant make one record and one log row.
        documento = session.scalar(
            select(DocumentoTecnico)
            .where(DocumentoTecnico.id == documento_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if documento is None or documento.eliminato:
            raise NotFound(N_("Il documento %(id)s non esiste (forse è stato eliminato)."), id=documento_id)
        documento.data_eliminazione = utcnow()
        documento.eliminato_da = actor.utente_id
        audit.record(session, actor, "DOCUMENTO_ELIMINATO", ENTITA, documento.id, prima=_metadati(documento))


# -- helpers --------------------------------------------------------------------------


def _solo_supervisori(actor: Actor | None) -> None:
    if actor is None or not actor.puo(SUPERVISORE):
        raise Forbidden(N_("Solo un supervisore può caricare o eliminare documenti."))


def _formato(nome: str, file: IO[bytes], regole: RegoleDocumenti) -> str:
    """The content type for ``nome`` from the plant's formats, after checking the first bytes."""
    ammessi = ", ".join(sorted(regole.formati))
    ext = regole_file.estensione(nome)
    if not ext:
        raise DocumentoRifiutato(
            N_(
                "Il file «%(nome)s» non ha estensione: rinominarlo (per esempio .pdf) e riprovare. Formati ammessi: %(ammessi)s."
            ),
            code="FORMATO_NON_AMMESSO",
            campo="file",
            nome=nome,
            ammessi=ammessi,
        )
    if ext not in regole.formati:
        raise DocumentoRifiutato(
            N_("Formato .%(ext)s non ammesso. Formati ammessi: %(ammessi)s."),
            code="FORMATO_NON_AMMESSO",
            campo="file",
            ext=ext,
            ammessi=ammessi,
        )
    inizio = file.read(regole_file.BYTES_FIRMA)
    file.seek(0)
    if not inizio:
        raise InvalidInput({"file": [N_("Il file è vuoto: sceglierne uno con un contenuto.")]})
    if not regole_file.contenuto_coerente(ext, inizio):
        raise DocumentoRifiutato(
            N_(
                "Il contenuto di «%(nome)s» non è un file .%(ext)s valido: forse è stato rinominato. Esportarlo di nuovo e riprovare."
            ),
            code="CONTENUTO_NON_VALIDO",
            campo="file",
            nome=nome,
            ext=ext,
        )
    return regole.formati[ext]


def _metadati(documento: DocumentoTecnico) -> dict[str, object]:
    """What LogEventi keeps of a document (the contract's column names)."""
    return {
        "CommessaERPId": documento.commessa_erp_id,
        "CODART": documento.codart,
        "Tipo": documento.tipo,
        "Titolo": documento.titolo,
        "NomeFile": documento.nome_file,
        "ContentType": documento.content_type,
        "Dimensione": documento.dimensione,
        "Sha256": documento.sha256,
        "Revisione": documento.revisione,
    }


def _rimuovi_se_orfano(session: DbSession, archivio: Archivio, sha256: str) -> None:
    def ancora_usato() -> bool:
        try:
            riga = select(DocumentoTecnico.id).where(DocumentoTecnico.sha256 == sha256).limit(1)
            return session.scalar(riga) is not None
        finally:
            session.rollback()  # end the read, so a later check sees later commits

    archivio.rimuovi(sha256, ancora_usato=ancora_usato)
