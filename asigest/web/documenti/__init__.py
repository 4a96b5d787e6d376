"""Technical documents pages: the order card's documents section (list, R4 check per
phase, upload and delete for supervisors), the per-article list, and the download.

Everything here needs a login (``web/access.py``); upload and delete need a supervisor.
The section is an htmx fragment: the card loads it, and uploading or deleting answers
with it re-rendered, so the list and the missing-types check are always current.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_decimal, gettext
from flask_login import current_user

from asigest.domain import documenti as regole_file
from asigest.domain.actor import Actor
from asigest.domain.ruoli import SUPERVISORE
from asigest.erp import Commessa
from asigest.errors import N_, AsigestError, Conflict, InvalidInput, NotFound
from asigest.models import DocumentoTecnico
from asigest.services import documenti as documenti_service
from asigest.services.archivio import Archivio
from asigest.services.documenti import (
    DocumentoRifiutato,
    DocumentoVoce,
    FileTroppoGrande,
    RegoleDocumenti,
)
from asigest.web import deps
from asigest.web.access import requires
from asigest.web.htmx import is_htmx, vary_on_htmx

bp = Blueprint("documenti", __name__)

# How the default document types read on a page; a type the plant adds shows its code.
_TIPI = {
    "DIBA": N_("Distinta base (DIBA)"),
    "SCHEMA_MONTAGGIO": N_("Schema di montaggio"),
    "PROGRAMMA_SMD": N_("Programma SMD"),
    "ISTRUZIONI": N_("Istruzioni di lavoro"),
    "CICLO_COLLAUDO": N_("Ciclo di collaudo"),
    "ALTRO": N_("Altro"),
}
# Form inputs of the section; the service's destination errors land on "destinazione".
_CAMPI_FORM = ("Tipo", "Titolo", "Revisione", "destinazione")
_CAMPO_PAGINA = {"CommessaERPId": "destinazione", "CODART": "destinazione"}


# -- shared with the API ---------------------------------------------------------------


def archivio() -> Archivio:
    """The documents folder of this instance (DOCUMENTS_DIR)."""
    return Archivio(current_app.config["DOCUMENTS_DIR"])


def regole() -> RegoleDocumenti:
    """The plant's document settings as the service wants them."""
    config = current_app.config
    return RegoleDocumenti(
        tipi=regole_file.tipi(config["DOCUMENT_TYPES"]),
        max_bytes=int(config["DOCUMENT_MAX_BYTES"]),
        formati=regole_file.formati(config["DOCUMENT_EXTENSIONS"]),
    )


def attore() -> Actor:
    """The caller, with the client address as Postazione for the audit log."""
    return replace(deps.actor(), postazione=deps.postazione())


def invia_file(documento: DocumentoTecnico, percorso: Path, *, allegato: bool):
    """The stored bytes with the stored ContentType and a safe Content-Disposition.

    ``download_name`` lets werkzeug write an ASCII ``filename`` and an RFC 5987
    ``filename*`` for the rest; NomeFile was sanitised at upload (no quotes, no line
    breaks). Files never change, so the Sha256 is the ETag and browsers revalidate.
    """
    response = send_file(
        percorso,
        mimetype=documento.content_type,
        as_attachment=allegato,
        download_name=documento.nome_file,
        conditional=True,
        etag=documento.sha256,
    )
    response.headers["Content-Type"] = documento.content_type  # exactly as stored, no charset guessed
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- template helpers ------------------------------------------------------------------


@bp.app_template_filter("tipo_documento")
def tipo_documento(codice: str | None) -> str:
    """A document type code as people read it."""
    return gettext(_TIPI[codice]) if codice in _TIPI else (codice or "—")


@bp.app_template_filter("dimensione")
def dimensione(byte: int | None) -> str:
    """A file size in the interface's number format: ``1,5 MB``."""
    if byte is None:
        return "—"
    valore, unita = regole_file.scala_dimensione(byte)
    return f"{format_decimal(round(valore, 1))} {unita}"


@bp.app_template_filter("mostrabile")
def mostrabile(content_type: str) -> bool:
    return regole_file.mostrabile_nel_browser(content_type)


# -- pages -------------------------------------------------------------------------------


@bp.get("/commesse/<int:commessa_id>/documenti")
def sezione_commessa(commessa_id: int):
    """The documents section of an order card (htmx fragment); a browser gets the card."""
    if not is_htmx():
        return vary_on_htmx(redirect(url_for("pages.commessa", commessa_id=commessa_id, _anchor="documenti")))
    return _sezione(documenti_service.commessa_erp(deps.erp(), commessa_id))


@bp.post("/commesse/<int:commessa_id>/documenti")
@requires(SUPERVISORE)
def carica(commessa_id: int):
    """Upload a document from the order card, for this order or for its article."""
    commessa = documenti_service.commessa_erp(deps.erp(), commessa_id)
    valori = {campo: request.form.get(campo, "") for campo in _CAMPI_FORM}
    upload = request.files.get("file")
    per_articolo = valori["destinazione"] == "articolo"
    try:
        if per_articolo and not commessa.codart:
            raise DocumentoRifiutato(
                N_("La commessa non ha un codice articolo nel gestionale: caricare il documento per la commessa."),
                code="ARTICOLO_ASSENTE",
                campo="destinazione",
            )
        documento = documenti_service.upload_documento(
            deps.session(),
            deps.erp(),
            actor=attore(),
            archivio=archivio(),
            regole=regole(),
            file=upload.stream if upload and upload.filename else None,
            nome_file=upload.filename if upload else None,
            tipo=valori["Tipo"],
            titolo=valori["Titolo"],
            revisione=valori["Revisione"],
            commessa_erp_id=None if per_articolo else commessa.id,
            codart=commessa.codart if per_articolo else None,
        )
    except (InvalidInput, DocumentoRifiutato, FileTroppoGrande, Conflict) as error:
        if not is_htmx():
            raise
        return _sezione(commessa, valori=valori, errori=_errori(error))
    if not is_htmx():
        return redirect(url_for("pages.commessa", commessa_id=commessa.id, _anchor="documenti"), 303)
    return _sezione(commessa, messaggio=gettext("Documento «%(titolo)s» caricato.", titolo=documento.titolo))


@bp.delete("/commesse/<int:commessa_id>/documenti/<int:documento_id>")
@requires(SUPERVISORE)
def elimina(commessa_id: int, documento_id: int):
    """Delete a document shown on the order card; answers with the section re-rendered."""
    commessa = documenti_service.commessa_erp(deps.erp(), commessa_id)
    try:
        titolo = documenti_service.get_documento(deps.session(), documento_id).titolo
        documenti_service.delete_documento(
            deps.session(), actor=attore(), archivio=archivio(), documento_id=documento_id
        )
    except NotFound as error:  # deleted meanwhile by someone else: show the list as it is now
        return _sezione(commessa, errori={"_": [error.text(gettext)]})
    return _sezione(commessa, messaggio=gettext("Documento «%(titolo)s» eliminato.", titolo=titolo))


@bp.get("/documenti")
def articolo():
    """The documents of an article (``?codart=``): they apply to every order of it."""
    codart = (request.args.get("codart") or "").strip()[:30]
    documenti = documenti_service.list_documenti(deps.session(), deps.erp(), codart=codart, limit=500) if codart else []
    voci = [DocumentoVoce(d, per_articolo=True) for d in documenti]
    return render_template("documenti/articolo.html", codart=codart, voci=voci)


@bp.get("/documenti/<int:documento_id>/file")
def scarica(documento_id: int):
    """A document's file: PDF and images open in the browser, the rest (or ``?scarica=1``) downloads."""
    documento, percorso = documenti_service.file_documento(
        deps.session(), archivio=archivio(), documento_id=documento_id
    )
    allegato = request.args.get("scarica") == "1" or not regole_file.mostrabile_nel_browser(documento.content_type)
    return invia_file(documento, percorso, allegato=allegato)


# -- helpers -------------------------------------------------------------------------------


def _sezione(
    commessa: Commessa, *, valori: dict | None = None, errori: dict | None = None, messaggio: str | None = None
):
    sezione = documenti_service.sezione_documenti(deps.session(), commessa)
    impostazioni = regole()
    html = render_template(
        "documenti/_sezione.html",
        s=sezione,
        gestione=current_user.actor.puo(SUPERVISORE),
        tipi=impostazioni.tipi,
        formati=sorted(impostazioni.formati),
        max_bytes=impostazioni.max_bytes,
        valori=valori or {"destinazione": "commessa"},
        errori=errori or {},
        messaggio=messaggio,
    )
    return vary_on_htmx(make_response(html))


def _errori(error: AsigestError) -> dict[str, list[str]]:
    """A refusal as ``{form input: [translated messages]}``; ``"_"`` is the whole form."""
    if isinstance(error, InvalidInput) and error.errors:
        errori: dict[str, list[str]] = {}
        for campo, messaggi in error.errors.items():
            errori.setdefault(_CAMPO_PAGINA.get(campo, campo), []).extend(gettext(m) for m in messaggi)
        return errori
    campo = getattr(error, "campo", None) or "_"
    return {_CAMPO_PAGINA.get(campo, campo): [error.text(gettext)]}
