"""``/api/documenti``: technical documents (SPEC §7). Every role reads and downloads;
supervisors upload and delete."""

from __future__ import annotations

from asigest.domain.ruoli import SUPERVISORE
from asigest.services import documenti as documenti_service
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.api import bp
from asigest.web.api.base import endpoint
from asigest.web.api.schemas_documenti import (
    DocumentiQuery,
    DocumentoCaricaSchema,
    DocumentoSchema,
)
from asigest.web.documenti import archivio, attore, invia_file, regole


@bp.get("/documenti/")
@endpoint(
    summary="Documenti tecnici",
    query=DocumentiQuery(),
    response=DocumentoSchema(many=True),
    errors=(404, 422, 503),
    collegamenti={
        nome: (vista, {"id": "$response.body#/0/DocumentoID"})
        for nome, vista in (("Documento", "documento_get"), ("File", "documento_file"), ("Elimina", "documento_delete"))
    },
)
def documenti_list(query):
    """Newest first. ``CommessaERPId``: the order's documents and its article's (those have
    CommessaERPId null); ``CODART``: the article's; neither: all."""
    return documenti_service.list_documenti(
        deps.session(), deps.erp(), codart=query.pop("CODART"), commessa_erp_id=query.pop("CommessaERPId"), **query
    )


@bp.post("/documenti/")
@requires(SUPERVISORE)
@endpoint(
    summary="Carica un documento",
    form=DocumentoCaricaSchema(),
    response=DocumentoSchema(),
    status=201,
    errors={
        400: "Formato non ammesso (FORMATO_NON_AMMESSO), contenuto diverso da quello dell'estensione "
        "(CONTENUTO_NON_VALIDO), commessa inesistente nel gestionale (COMMESSA_INESISTENTE).",
        403: None,
        409: "Lo stesso file con lo stesso tipo c'è già (DOCUMENTO_DUPLICATO).",
        413: None,
        422: None,
        503: None,
    },
    collegamenti={
        nome: (vista, {"id": "$response.body#/DocumentoID"})
        for nome, vista in (("Documento", "documento_get"), ("File", "documento_file"), ("Elimina", "documento_delete"))
    },
)
def documento_create(form):
    """Upload a file for a commessa (``CommessaERPId``) or an article (``CODART``). 413 over
    the size limit; 400 for a format not allowed, content not matching its extension or an
    order unknown to the ERP; 409 for the same file with the same type already there."""
    upload = form["file"]
    return documenti_service.upload_documento(
        deps.session(),
        deps.erp(),
        actor=attore(),
        archivio=archivio(),
        regole=regole(),
        file=upload.stream,
        nome_file=upload.filename,
        tipo=form["Tipo"],
        titolo=form["Titolo"],
        revisione=form["Revisione"],
        commessa_erp_id=form["CommessaERPId"],
        codart=form["CODART"],
    )


@bp.get("/documenti/<int:documento_id>")
@endpoint(summary="Un documento", response=DocumentoSchema(), errors=(404,))
def documento_get(documento_id: int):
    """One document's description (the bytes are at ``/file``)."""
    return documenti_service.get_documento(deps.session(), documento_id)


@bp.delete("/documenti/<int:documento_id>")
@requires(SUPERVISORE)
@endpoint(summary="Elimina un documento", status=204, errors=(403, 404))
def documento_delete(documento_id: int):
    """The document leaves every list, download and check; its record stays, marked
    deleted (when, by whom), with its bytes, for the trace (SPEC §12)."""
    documenti_service.delete_documento(deps.session(), actor=attore(), archivio=archivio(), documento_id=documento_id)
    return "", 204


@bp.get("/documenti/<int:documento_id>/file")
@endpoint(summary="Scarica il file di un documento", binary=True, errors=(404,))
def documento_file(documento_id: int):
    """The bytes with the stored ContentType, as an attachment named NomeFile; ETag = Sha256."""
    documento, percorso = documenti_service.file_documento(
        deps.session(), archivio=archivio(), documento_id=documento_id
    )
    return invia_file(documento, percorso, allegato=True)
