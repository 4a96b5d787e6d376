"""The operator kiosk at ``/kiosk/<CodiceMacchina>`` (SPEC §9): badge + PIN, then one
screen — the lotto open on this machine with *Chiudi lotto*, or a scan field, the order
card and *Apri lotto*.

Only the badge form is public; every other route is ``@kiosk`` (``web/access.py``
checks the machine-bound session and its idle time). htmx swaps ``#pannello``; a plain
request gets the whole page with the same partial. Every state-changing form carries a
one-time token (R11) passed to the service as ``chiave``, with the fingerprint of what
the form was submitted for as ``impronta``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext

from asigest.domain import hashing
from asigest.domain import lotti as regole
from asigest.domain.richieste import impronta
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_, AsigestError, RuleViolation
from asigest.models.types import utcnow
from asigest.services import auth as auth_service
from asigest.services import fermi as fermi_service
from asigest.services import kiosk as kiosk_service
from asigest.services import lotti as lotti_service
from asigest.services import origini as origini_service
from asigest.services.documenti import file_documento, get_documento
from asigest.web import deps
from asigest.web.access import (
    end_kiosk_session,
    kiosk,
    kiosk_actor,
    public,
    requires,
    session_secret,
    start_kiosk_session,
)
from asigest.web.auth import limiti_accesso, login_refused
from asigest.web.documenti import archivio, invia_file
from asigest.web.htmx import is_htmx, vary_on_htmx
from asigest.web.kiosk.forms import (
    ApriForm,
    BadgeForm,
    ChiusuraForm,
    FermoForm,
    RiprendiForm,
    etichette,
    intero,
    numero,
    validato,
)
from asigest.web.security import consenti_cornice_propria

log = logging.getLogger(__name__)

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")
etichette_bp = Blueprint("etichette", __name__)


def _chiave() -> str:
    """A fresh one-time token for a state-changing form (R11)."""
    return secrets.token_urlsafe(16)


def _chiave_modulo(chiave: str | None, *richiesta: str) -> dict:
    """``chiave`` and ``impronta`` for the service: the form's one-time token and what
    it was submitted for — operation, machine and order or lotto — so a token shown
    with one form cannot replay as another operation (R11)."""
    chiave = (chiave or "")[:100] or None
    return {"chiave": chiave, "impronta": impronta("kiosk", *richiesta) if chiave else None}


_SENZA_ORIGINE = N_("Togliere quell'etichetta dal campo «Lotti di origine» per usare i lotti chiusi per primi.")


def _testo_errore(exc: AsigestError) -> str:
    """A refusal in the operator's words."""
    if exc.code == lotti_service.ChiaveRiusata.code:
        return gettext(
            "Questo modulo era già stato usato per un'altra operazione: non è stato salvato nulla. "
            "Ripetere l'operazione da questa schermata."
        )
    return exc.text(gettext)


def _errori(form) -> dict[str, list[str]]:
    """A form's messages by field, as the panel shows them (CSRF is checked before)."""
    return {campo: [str(m) for m in messaggi] for campo, messaggi in form.errors.items() if campo != "csrf_token"}


def _render(macchina, *, status: int = 200, **contesto):
    """The main screen: the ``#pannello`` fragment for htmx, the whole page otherwise."""
    session = deps.session()
    # A running stop is what matters now (R15): its screen comes first, whatever else was
    # asked; the lotto open on the machine stays open across it.
    fermo = fermi_service.fermo_in_corso(session, macchina.id)
    if fermo is not None:
        contesto.pop("scheda", None)
        contesto["lotto_in_fermo"] = kiosk_service.lotto_aperto(session, macchina)
    elif contesto.pop("scegli_fermo", False):
        contesto["causali_fermo"] = fermi_service.causali_per_macchina(session, macchina)
    lotto = contesto.pop("lotto", None)
    if lotto is None and "scheda" not in contesto and fermo is None:
        lotto = kiosk_service.lotto_aperto(session, macchina)
    commessa_lotto = None
    if lotto is not None:
        try:
            commessa_lotto = kiosk_service.get_commessa(deps.erp(), lotto.fase.commessa_erp_id)
        except AsigestError:
            commessa_lotto = None  # closing never needs the ERP: show the lotto without it
    contesto.setdefault("valori", {})
    contesto.setdefault("errori", {})
    scheda = contesto.get("scheda")
    if scheda is not None and scheda.impedimento is not None:
        contesto["impedimento"] = _testo_errore(scheda.impedimento)
    html = render_template(
        "kiosk/_pannello.html" if is_htmx() else "kiosk/main.html",
        macchina=macchina,
        lotto=lotto,
        commessa_lotto=commessa_lotto,
        dimenticato=lotto is not None
        and lotto.data_fine is None
        and regole.dimenticato(lotto.data_inizio, utcnow(), float(current_app.config["FORGOTTEN_HOURS"])),
        causali=kiosk_service.causali_valide(session, macchina) if lotto is not None else [],
        chiave=_chiave(),
        fermo=fermo,
        durata_fermo=durata(fermo.inizio, utcnow()) if fermo is not None else "",
        operatore=g.actor,
        idle=int(current_app.config["KIOSK_IDLE_SECONDS"]),
        **contesto,
    )
    return vary_on_htmx(current_app.make_response((html, 200 if is_htmx() else status)))


def _anno_corrente() -> int:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).year


# -- badge -----------------------------------------------------------------------------


@bp.route("/<codice>", methods=["GET", "POST"])
@public
def badge(codice: str):
    """Badge + PIN form (GET, POST to log in); with a valid kiosk session, the main screen."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    form = BadgeForm()
    errore = None
    status, headers = 400, dict[str, str]()
    if request.method == "POST":
        if not form.validate():
            errore = " ".join(m for campo in ("matricola", "pin") for m in map(str, form[campo].errors))
        else:
            segreto = hashing.new_session_secret()  # fresh at every login: no fixation
            try:
                actor = auth_service.authenticate_pin(
                    session,
                    form.matricola.data,
                    form.pin.data,
                    postazione=macchina.codice,
                    indirizzo=deps.postazione(),
                    limiti=limiti_accesso(),
                    sessione=segreto,
                    sostituisce=session_secret(),
                )
            except RuleViolation as exc:
                errore = exc.text(gettext)
                status, headers = login_refused(exc)
            else:
                start_kiosk_session(actor, macchina.codice, segreto)
                if is_htmx():
                    return "", 204, {"HX-Redirect": url_for("kiosk.badge", codice=macchina.codice)}
                return redirect(url_for("kiosk.badge", codice=macchina.codice))
    else:
        in_sessione = kiosk_actor(macchina.codice)
        if in_sessione is not None:
            g.actor = in_sessione
            return _render(macchina)
    html = render_template(
        "kiosk/badge.html", macchina=macchina, errore=errore, matricola=(form.matricola.data or "")[:30]
    )
    return (html, status, headers) if errore else html


@bp.post("/<codice>/esci")
@kiosk
def esci(codice: str):
    """Lock the kiosk: end its session (every copy of the cookie, on every server) and go
    back to the badge form."""
    end_kiosk_session(codice)
    target = url_for("kiosk.badge", codice=codice)
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


# -- order -----------------------------------------------------------------------------


@bp.get("/<codice>/commessa")
@kiosk
def commessa(codice: str):
    """The order card for a scanned or typed order number or lotto label."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    testo = (request.args.get("q") or "").strip()[:60]
    try:
        trovata = kiosk_service.cerca_commessa(session, deps.erp(), testo, anno_corrente=_anno_corrente())
    except AsigestError as exc:
        return _render(macchina, status=400, errori={"q": [exc.text(gettext)]}, valori={"q": testo})
    scheda = kiosk_service.scheda(session, trovata, macchina, licenza=deps.licenza())
    valori = {"q": testo, "origini": kiosk_service.origine_proposta(session, scheda, testo) or ""}
    return _render(macchina, scheda=scheda, valori=valori)


@bp.post("/<codice>/apri")
@kiosk
def apri(codice: str):
    """Open a lotto on this machine for the order on the card (R4, R5, R11)."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    form = ApriForm()
    valori = {"qta_input": (form.qta_input.data or "")[:12], "origini": (form.origini.data or "")[:300]}
    trovata = kiosk_service.get_commessa(deps.erp(), numero(form.commessa_id.data) or 0)
    scheda = kiosk_service.scheda(session, trovata, macchina, licenza=deps.licenza())
    if scheda.fase is None:
        errori = {
            "_": [
                gettext(
                    "Questa commessa non ha la fase %(fase)s: non si apre un lotto qui.", fase=macchina.fase_tipo.codice
                )
            ]
        }
        return _render(macchina, status=400, scheda=scheda, errori=errori, valori=valori)
    if not form.validate():
        return _render(macchina, status=400, scheda=scheda, errori=_errori(form), valori=valori)
    try:
        # Whoever badged in at the machine works the lotto, whatever their role.
        actor = deps.actor()
        # The labels scanned at the open: drawn first, in the order read; the rest FIFO (R14).
        # A label read twice (a second pass of the scanner) counts once.
        codici = list(dict.fromkeys(c.upper() for c in etichette(form.origini.data)))
        esito = lotti_service.apri_lotto(
            session,
            deps.erp(),
            actor=actor,
            fase_id=scheda.fase.id,
            macchina_id=macchina.id,
            qta_input=validato(intero(form.qta_input)),
            operatore_id=actor.utente_id,
            licenza=deps.licenza(),
            origini=[origini_service.Scelta(codice) for codice in codici],
            **_chiave_modulo(
                form.chiave.data, "apri", macchina.codice, f"commessa={trovata.id}", f"origini={','.join(codici)}"
            ),
        )
    except AsigestError as exc:
        testo = _testo_errore(exc)
        if exc.code.startswith("ORIGIN"):
            # ORIGINE_SCONOSCIUTA, _ALTRA_COMMESSA, _FASE_SBAGLIATA, _APERTA, _ESAURITA…: on the labels.
            campo, testo = "origini", " ".join((testo, gettext(_SENZA_ORIGINE)))
        elif exc.code == "QUANTITA_NON_DISPONIBILE" and scheda.apribile:
            campo = "qta_input"
        else:
            campo = "_"
        scheda = kiosk_service.scheda(session, trovata, macchina, licenza=deps.licenza())
        return _render(macchina, status=400, scheda=scheda, errori={campo: [testo]}, valori=valori)
    return _render(macchina, lotto=esito.lotto, appena_aperto=True)


@bp.post("/<codice>/chiudi")
@kiosk
def chiudi(codice: str):
    """Close the lotto open on this machine with good pieces, scrap and reason (R7, R8, R11).

    A close that leaves pieces unaccounted (good + scrap < input) needs ``conferma_resto``
    naming how many go back to availability: without it the form comes back asking for
    that confirmation, and nothing is saved (SPEC §9).
    """
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    form = ChiusuraForm()
    valori = {k: (form[k].data or "")[:500] for k in ("qta_output", "qta_scarti", "causale", "note")}
    try:
        lotto = lotti_service.get_lotto(session, numero(form.lotto_id.data) or 0)
        if lotto.macchina_id != macchina.id:
            raise RuleViolation(N_("Questo lotto non è di questa macchina."), code="LOTTO_ALTRA_MACCHINA")
        if not form.validate():
            return _render(macchina, status=400, errori=_errori(form), valori=valori)
        output, scarti = intero(form.qta_output), intero(form.qta_scarti, vuoto=0)
        causale = form.causale.data or None
        if form.tutto_buono.data:
            if scarti:
                errori = {
                    "qta_scarti": [
                        gettext(
                            "Sono indicati %(n)s scarti: per chiudere con gli scarti premere «Chiudi lotto», "
                            "altrimenti riportarli a 0.",
                            n=scarti,
                        )
                    ]
                }
                return _render(macchina, status=400, errori=errori, valori=valori)
            # Every piece good: no scrap, so no reason either (one tapped by mistake is dropped).
            output, scarti, causale = lotto.qta_input, 0, None
            valori.update(qta_output=str(output), qta_scarti="0", causale="")
        resto = regole.resto_chiusura(lotto.qta_input, output, scarti)
        corretti = not regole.errori_chiusura(lotto.qta_input, output, scarti, bool(causale))
        if resto and corretti and numero(form.conferma_resto.data) != resto:
            return _render(macchina, status=400, valori=valori, resto=resto, errori=_conferma(lotto, resto))
        esito = lotti_service.chiudi_lotto(
            session,
            actor=deps.actor(),
            lotto_id=lotto.id,
            qta_output=validato(output),
            qta_scarti=validato(scarti),
            causale=causale,
            note=form.note.data or None,
            **_chiave_modulo(form.chiave.data, "chiudi", macchina.codice, f"lotto={lotto.id}"),
        )
    except lotti_service.ChiusuraNonValida as exc:
        errori = {ChiusuraForm.CAMPI.get(k, "_"): [gettext(m) for m in v] for k, v in (exc.errors or {}).items()}
        return _render(macchina, status=400, errori=errori, valori=valori)
    except AsigestError as exc:
        campo = "causale" if exc.code == "CAUSALE_NON_VALIDA" else "_"
        return _render(macchina, status=400, errori={campo: [_testo_errore(exc)]}, valori=valori)
    # Committed: from here on nothing may turn the close into an error on screen (SPEC §9).
    chiuso = esito.lotto
    scheda = _scheda_se_possibile(session, macchina, chiuso.fase.commessa_erp_id)
    return _render(macchina, scheda=scheda, chiuso=chiuso, senza_scheda=scheda is None)


def _conferma(lotto, resto: int) -> dict[str, list[str]]:
    """The short close's question, on the quantities (SPEC §9)."""
    return {
        "resto": [
            ngettext(
                "Buoni + scarti non arrivano ai %(entrati)s pezzi entrati: %(num)s pezzo non contato "
                "torna disponibile per altri lotti. Confermare, oppure correggere i numeri.",
                "Buoni + scarti non arrivano ai %(entrati)s pezzi entrati: %(num)s pezzi non contati "
                "tornano disponibili per altri lotti. Confermare, oppure correggere i numeri.",
                resto,
                entrati=lotto.qta_input,
            )
        ]
    }


def _scheda_se_possibile(session, macchina, commessa_id: int):
    """The order card to show after a committed change, or None when it cannot be read
    now (the ERP does not answer, or no longer has the order): the change is saved
    either way, and the screen must say so rather than show an error."""
    try:
        commessa = kiosk_service.get_commessa(deps.erp(), commessa_id)
        return kiosk_service.scheda(session, commessa, macchina, licenza=deps.licenza())
    except AsigestError as exc:
        log.warning(
            "Kiosk %s: scheda della commessa %s non disponibile dopo la chiusura (%s)",
            macchina.codice,
            commessa_id,
            exc.code,
        )
        return None


# -- machine stops (R15) ---------------------------------------------------------------------


def durata(inizio: datetime, adesso: datetime) -> str:
    """How long a stop has run, as the kiosk shows it (kiosk.js keeps it counting)."""
    minuti = max(0, int((adesso - inizio).total_seconds() // 60))
    return f"{minuti // 60} h {minuti % 60:02d} min" if minuti >= 60 else f"{minuti} min"


@bp.get("/<codice>/fermo")
@kiosk
def fermo(codice: str):
    """*Fermo macchina*: the reason tiles of the machine's phase type (or the stop
    already running)."""
    macchina = kiosk_service.macchina_attiva(deps.session(), codice)
    return _render(macchina, scegli_fermo=True)


@bp.post("/<codice>/fermo")
@kiosk
def fermo_inizia(codice: str):
    """Start a stop of this machine with the reason tile tapped (R15, R11). A lotto open
    on the machine stays open."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    form = FermoForm()
    if not form.validate():
        return _render(macchina, status=400, scegli_fermo=True, errori=_errori(form))
    try:
        fermi_service.inizia_fermo(
            session,
            actor=deps.actor(),
            macchina_id=macchina.id,
            causale=form.causale.data,
            **_chiave_modulo(form.chiave.data, "fermo", macchina.codice, f"causale={form.causale.data}"),
        )
    except AsigestError as exc:
        return _render(macchina, status=400, scegli_fermo=True, errori={"causale": [_testo_errore(exc)]})
    return _render(macchina)


@bp.post("/<codice>/riprendi")
@kiosk
def fermo_riprendi(codice: str):
    """*Riprendi*: end the stop running on this machine (one touch; R11)."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    form = RiprendiForm()
    fermo_id = numero(form.fermo_id.data) or 0
    try:
        esito = fermi_service.termina_fermo(
            session,
            actor=deps.actor(),
            fermo_id=fermo_id,
            macchina_id=macchina.id,
            **_chiave_modulo(form.chiave.data, "riprendi", macchina.codice, f"fermo={fermo_id}"),
        )
    except AsigestError as exc:
        return _render(macchina, status=400, errori={"_": [_testo_errore(exc)]})
    return _render(
        macchina, ripreso=esito.fermo, durata_ripreso=durata(esito.fermo.inizio, esito.fermo.fine or utcnow())
    )


# -- documents and label ---------------------------------------------------------------


@bp.get("/<codice>/documenti/<int:documento_id>")
@kiosk
def documento(codice: str, documento_id: int):
    """A technical document's bytes, shown in the kiosk's document view (framed by it)."""
    documento, percorso = file_documento(deps.session(), archivio=archivio(), documento_id=documento_id)
    return consenti_cornice_propria(invia_file(documento, percorso, allegato=False))


# What Chromium shows in a frame by itself; anything else would be downloaded instead.
_MOSTRABILI = ("application/pdf", "image/", "text/plain")


@bp.get("/<codice>/documenti/<int:documento_id>/vista")
@kiosk
def documento_vista(codice: str, documento_id: int):
    """A technical document inside a kiosk page — the machine's bar, *Indietro* and the
    idle lock around it — rather than in a window of its own that nothing locks."""
    session = deps.session()
    macchina = kiosk_service.macchina_attiva(session, codice)
    trovato = get_documento(session, documento_id)
    return render_template(
        "kiosk/documento.html",
        macchina=macchina,
        documento=trovato,
        mostrabile=(trovato.content_type or "").startswith(_MOSTRABILI),
        operatore=g.actor,
        idle=int(current_app.config["KIOSK_IDLE_SECONDS"]),
    )


@bp.get("/<codice>/etichetta/<int:lotto_id>")
@kiosk
def etichetta(codice: str, lotto_id: int):
    """Printable 100×50 mm label of a lotto, with the CodiceLotto as QR code.

    The kiosk screen prints it from a hidden frame (``?stampa=1``, ``kiosk-stampa.js``)
    without leaving the screen; opened as a page (no script), it has the kiosk's idle
    lock like every kiosk view."""
    in_cornice = request.args.get("stampa") == "1"
    html = _etichetta(
        lotto_id,
        indietro=url_for("kiosk.badge", codice=codice),
        # In the frame the screen around it holds the lock; a page of its own holds its own.
        blocco=None if in_cornice else {"idle": int(current_app.config["KIOSK_IDLE_SECONDS"]), "codice": codice},
        in_cornice=in_cornice,
    )
    return consenti_cornice_propria(current_app.make_response(html))


@etichette_bp.get("/lotti/<int:lotto_id>/etichetta")
@requires(SUPERVISORE)
def etichetta_ufficio(lotto_id: int):
    """The same label, reprinted from the office."""
    return _etichetta(lotto_id, indietro=url_for("pages.commesse"))


def qr_svg(testo: str) -> str:
    """The QR code of ``testo`` as inline SVG (segno), no inline style."""
    return segno.make(testo, error="m", micro=False).svg_inline(scale=4, border=2, omitsize=True)


def _etichetta(lotto_id: int, *, indietro: str, blocco: dict | None = None, in_cornice: bool = False):
    session = deps.session()
    lotto = lotti_service.get_lotto(session, lotto_id)
    try:
        commessa = kiosk_service.get_commessa(deps.erp(), lotto.fase.commessa_erp_id)
    except AsigestError:
        commessa = None
    return render_template(
        "kiosk/etichetta.html",
        lotto=lotto,
        commessa=commessa,
        qr=qr_svg(lotto.codice_lotto),
        operatore=kiosk_service.nome_operatore(session, lotto.operatore_id),
        indietro=indietro,
        blocco=blocco,
        in_cornice=in_cornice,
    )
