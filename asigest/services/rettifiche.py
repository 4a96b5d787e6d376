"""A supervisor's hand corrections: a fase's state (R8 by hand), a closed lotto's figures
(R10) and cancelling a lotto opened by mistake.

Each is one transaction with its LogEventi row, which always carries the supervisor's
mandatory ``motivo`` (stripped, 1–500 characters; else ``InvalidInput`` on "Motivo").
Who may call them (SUPERVISORE and above) is the web layer's ``@requires``.

**Fase states** (``cambia_stato_fase``), audit ``FASE_STATO_MODIFICATO`` with
prima/dopo ``{"Stato", "DataChiusura"}``:

============  =========================================  ================================
asked         allowed from                               refused
============  =========================================  ================================
SOSPESA       APERTA, IN_CORSO (open lotti may still be  SOSPESA → STATO_INVARIATO;
              closed; R4 refuses new ones)               COMPLETATA → FASE_COMPLETATA
COMPLETATA    APERTA, IN_CORSO, SOSPESA — also short of  COMPLETATA → STATO_INVARIATO;
              QtaPrevista (closing short); sets          open lotti → FASE_LOTTI_APERTI
              DataChiusura
APERTA or     SOSPESA, COMPLETATA ("riprendi/riapri"):   APERTA, IN_CORSO →
IN_CORSO      becomes IN_CORSO when the fase has lotti,  STATO_INVARIATO
              else APERTA; clears DataChiusura
============  =========================================  ================================

Any other value is ``InvalidInput`` on "Stato". A reopened fase whose QtaProdotta
already reaches QtaPrevista stays IN_CORSO until its next close completes it again (R8).

**Corrections** (``rettifica_lotto``, R10), audit ``LOTTO_RETTIFICATO``: only a closed
lotto (open → LOTTO_APERTO: close it at the terminal or cancel it); the new figures obey
R7 as a close does; the scrap reason must be active and valid for the fase's type,
except that the lotto's current reason may be kept even if it has been retired since;
with no scrap there must be no reason (R7). Changing nothing is RETTIFICA_INVARIATA. The
fase's totals are recomputed from its lotti (``lotti.ricalcola_totali``), never patched
by differences: a COMPLETATA fase stays completed when they drop (the supervisor reopens
it by hand), an IN_CORSO fase that now reaches QtaPrevista with no open lotto completes.

Every fase of the lotto's order is locked (in FaseID order, so two corrections — or a
correction and a kiosk open, which locks one fase — cannot deadlock) while the figures
change, so an open in a later phase cannot take pieces the correction removes. A later
fase may not end up having used more pieces than the phase before it produced
(RETTIFICA_SUPERA_DISPONIBILE, naming that fase and its pieces: correct its lotti
first). ``configurazione.con_disponibile`` shows such a shortfall as 0, so the check
reads the raw figures (R5 without the floor) and refuses only a correction that makes
a fase's shortfall appear or grow. The **first** fase draws from the order, not from a
phase: raising a closed lotto's output there may overrun QtaPrevista (it records pieces
that were really made), so it is not refused.

**Draws** (R14, ``services/origini.py``): a correction keeps the lotto's draws equal to
what it now consumes — the excess goes back to its sources newest draw first, more is
drawn FIFO — and is refused when the lotto is a source that already gave more pieces
than its new QtaOutput (RETTIFICA_SOTTO_PRELIEVI, naming the lotti that drew: correct
those first) or when its sources cannot give what it now needs. A cancelled lotto's
draws are deleted with it. The audit rows keep the draws before and after ("Origini").

**Cancelling** (``annulla_lotto``), audit ``LOTTO_ANNULLATO`` with the whole lotto in
``prima``: only while the lotto is open (closed → LOTTO_CHIUSO: use the correction). The
Lotti row is deleted (no schema change); the LogEventi row is what remains of it. The
fase's totals are recomputed; a fase left without lotti forgets its DataApertura and,
if it was IN_CORSO, goes back to APERTA. The one-time key that opened it (R11) is
detached, so its replay answers LOTTO_ANNULLATO. LottoIDs are never reused (identity on
PostgreSQL and SQL Server, AUTOINCREMENT on SQLite since migration 0004), so the
cancelled lotto's audit rows stay its own. R6 gives the next lotto of the fase
1 + the highest progressivo present, so cancelling the last lotto frees its number and
CodiceLotto for the next one — the label of a cancelled lotto must not be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, false, func, or_, select, true, update

from asigest.domain import lotti as regole
from asigest.domain.actor import Actor
from asigest.domain.quantita import ConsumiFase
from asigest.domain.stati import APERTA, COMPLETATA, IN_CORSO, SOSPESA, STATI_FASE
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, ErpUnavailable, InvalidInput, NotFound, RuleViolation
from asigest.models import CausaleScarto, Fase, LogEvento, Lotto, RichiestaEseguita, Utente
from asigest.models.types import utcnow
from asigest.services import audit, origini
from asigest.services.chunks import chunked
from asigest.services.configurazione import (
    FaseConDisponibile,
    TotaliLotti,
    con_disponibile,
    fasi_bloccate,
    totali_lotti,
)
from asigest.services.lotti import (
    APRI,
    ChiusuraNonValida,
    _causale,
    _fase_bloccata,
    _lotto_dict,
    completa_esaurite,
    get_lotto,
    ricalcola_totali,
)
from asigest.services.uow import DbSession, con_riprova_o_conflitto, righe_toccate, transaction

FASE_STATO = "FASE_STATO_MODIFICATO"
RETTIFICA = "LOTTO_RETTIFICATO"
ANNULLA = "LOTTO_ANNULLATO"

MAX_MOTIVO = 500
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class SchedaLotto:
    """One lotto as the supervisor's page shows it."""

    lotto: Lotto
    fase: FaseConDisponibile
    commessa: Commessa | None  # None while the ERP does not answer: the lotto is shown anyway
    operatore: Utente | None
    operatore_chiusura: Utente | None
    causali: list[CausaleScarto]


# -- reading ---------------------------------------------------------------------------


def scheda_lotto(session: DbSession, erp: ErpGateway, lotto_id: int) -> SchedaLotto:
    """A lotto with its order (None when the ERP does not answer or lacks it), its fase
    (totals and QtaDisponibile), its operators and the scrap reasons a correction may
    choose (active ones valid for its phase type, plus its own).

    Raises NotFound.
    """
    lotto = get_lotto(session, _id_valido(lotto_id, N_("Il lotto %(id)s non esiste.")))
    return SchedaLotto(
        lotto=lotto,
        fase=fase_disponibile(session, lotto.fase_id),
        commessa=_commessa(erp, lotto.fase.commessa_erp_id),
        operatore=session.get(Utente, lotto.operatore_id),
        operatore_chiusura=session.get(Utente, lotto.operatore_chiusura_id) if lotto.operatore_chiusura_id else None,
        causali=causali_per_fase(session, lotto.fase.fase_tipo_id, attuale_id=lotto.causale_id),
    )


def fase_disponibile(session: DbSession, fase_id: int) -> FaseConDisponibile:
    """One fase with its QtaDisponibile (R5), computed over its whole order.

    Raises NotFound.
    """
    fase = session.get(Fase, _id_valido(fase_id, N_("La fase %(id)s non esiste.")))
    if fase is None:
        raise NotFound(N_("La fase %(id)s non esiste."), id=fase_id)
    fasi = session.scalars(select(Fase).where(Fase.commessa_erp_id == fase.commessa_erp_id)).all()
    return next(f for f in con_disponibile(session, fasi) if f.id == fase.id)


def lotti_aperti_per_fase(session: DbSession, fase_ids: list[int]) -> dict[int, int]:
    """``{FaseID: open lotti}`` for the given fasi (those without open lotti are absent)."""
    trovati: dict[int, int] = {}
    for chunk in chunked(sorted(set(fase_ids))):
        stmt = (
            select(Lotto.fase_id, func.count())
            .where(Lotto.fase_id.in_(chunk), Lotto.data_fine.is_(None))
            .group_by(Lotto.fase_id)
        )
        trovati.update({fase_id: int(n) for fase_id, n in session.execute(stmt)})
    return trovati


def causali_per_fase(session: DbSession, fase_tipo_id: int, *, attuale_id: int | None = None) -> list[CausaleScarto]:
    """Active scrap reasons valid for a phase type (or any phase), by code; with
    ``attuale_id`` also that reason, even if retired, so a correction can keep it."""
    valida = (CausaleScarto.attiva == true()) & or_(
        CausaleScarto.fase_tipo_id.is_(None), CausaleScarto.fase_tipo_id == fase_tipo_id
    )
    attuale = CausaleScarto.id == attuale_id if attuale_id else false()
    return list(session.scalars(select(CausaleScarto).where(or_(valida, attuale)).order_by(CausaleScarto.codice)))


@dataclass(frozen=True)
class LottoAnnullato:
    """What remains of a cancelled lotto: its data as the audit row kept it (contract
    column names), when, by whom and why."""

    dati: dict[str, object]
    quando: datetime
    da: Utente | None
    motivo: str | None
    commessa: Commessa | None = None  # when asked with an ERP that answers


def lotto_annullato(session: DbSession, lotto_id: int, erp: ErpGateway | None = None) -> LottoAnnullato | None:
    """The cancellation of the lotto that had this id, from its audit row; None if it
    was never cancelled. With ``erp``, also its order (None when the ERP does not answer)."""
    if not 0 < lotto_id <= _INT32_MAX:
        return None
    evento = session.scalar(
        select(LogEvento)
        .where(LogEvento.entita == "Lotti", LogEvento.entita_id == lotto_id, LogEvento.azione == ANNULLA)
        .order_by(LogEvento.id.desc())
        .limit(1)
    )
    if evento is None:
        return None
    dettagli = evento.dettagli or {}
    dati = dettagli.get("prima") or {}
    return LottoAnnullato(
        dati=dati,
        quando=evento.data_ora,
        da=session.get(Utente, evento.utente_id) if evento.utente_id else None,
        motivo=dettagli.get("motivo"),
        commessa=_commessa(erp, dati.get("CommessaERPId")) if erp is not None else None,
    )


def _commessa(erp: ErpGateway, commessa_id: int | None) -> Commessa | None:
    if not isinstance(commessa_id, int):
        return None
    try:
        return erp.get(commessa_id)
    except ErpUnavailable:
        return None


# -- fase states (R8 by hand) ------------------------------------------------------------


def cambia_stato_fase(
    session: DbSession, *, actor: Actor, fase_id: int, stato: str, motivo: str, adesso: datetime | None = None
) -> Fase:
    """Suspend, complete, resume or reopen a fase by hand, with a reason (table in the
    module docstring).

    Raises InvalidInput (Stato, Motivo), NotFound, RuleViolation STATO_INVARIATO,
    FASE_COMPLETATA, FASE_LOTTI_APERTI; Conflict when the database stays busy.
    """
    motivo = motivo_valido(motivo)
    if stato not in STATI_FASE:
        raise InvalidInput({"Stato": [N_("Stato sconosciuto: usare APERTA, IN_CORSO, SOSPESA o COMPLETATA.")]})
    fase_id = _id_valido(fase_id, N_("La fase %(id)s non esiste."))

    def operazione() -> Fase:
        with transaction(session):
            fase = _fase_bloccata(session, fase_id)
            prima = _stato_dict(fase)
            nuovo = _nuovo_stato(session, fase, stato)
            fase.stato = nuovo
            if nuovo == COMPLETATA:
                fase.data_chiusura = adesso or utcnow()
            elif nuovo in (APERTA, IN_CORSO):
                fase.data_chiusura = None
            audit.record(
                session, actor, FASE_STATO, "Fasi", fase.id, prima=prima, dopo=_stato_dict(fase), motivo=motivo
            )
            if nuovo == COMPLETATA:
                # R8: the fasi after it that can now never get another piece complete too.
                completa_esaurite(session, fase.commessa_erp_id, adesso or utcnow())
        return fase

    return con_riprova_o_conflitto(session, operazione)


def transizioni(stato: str, lotti_aperti: int = 0) -> tuple[str, ...]:
    """The hand changes that make sense from ``stato`` (what the order card offers):
    SOSPESA, COMPLETATA and/or IN_CORSO (resume or reopen)."""
    if stato in (APERTA, IN_CORSO):
        return (SOSPESA,) if lotti_aperti else (SOSPESA, COMPLETATA)
    if stato == SOSPESA:
        return (IN_CORSO,) if lotti_aperti else (IN_CORSO, COMPLETATA)
    if stato == COMPLETATA:
        return (IN_CORSO,)
    return ()


def _nuovo_stato(session: DbSession, fase: Fase, chiesto: str) -> str:
    attuale = fase.stato
    if chiesto == SOSPESA:
        if attuale == SOSPESA:
            raise RuleViolation(N_("La fase è già sospesa."), code="STATO_INVARIATO")
        if attuale == COMPLETATA:
            raise RuleViolation(N_("La fase è completata: per sospenderla, riaprirla prima."), code="FASE_COMPLETATA")
        return SOSPESA
    if chiesto == COMPLETATA:
        if attuale == COMPLETATA:
            raise RuleViolation(N_("La fase è già completata."), code="STATO_INVARIATO")
        aperti = _conta_lotti(session, fase.id, solo_aperti=True)
        if aperti:
            raise RuleViolation(
                N_(
                    "La fase ha ancora %(n)s lotti aperti: chiuderli dal terminale (o annullarli) prima di completarla."
                ),
                code="FASE_LOTTI_APERTI",
                n=aperti,
            )
        return COMPLETATA
    # APERTA or IN_CORSO: resume a suspended fase or reopen a completed one.
    if attuale in (APERTA, IN_CORSO):
        raise RuleViolation(N_("La fase è già attiva: non c'è nulla da riprendere o riaprire."), code="STATO_INVARIATO")
    return IN_CORSO if _conta_lotti(session, fase.id) else APERTA


def _conta_lotti(session: DbSession, fase_id: int, *, solo_aperti: bool = False) -> int:
    stmt = select(func.count()).select_from(Lotto).where(Lotto.fase_id == fase_id)
    if solo_aperti:
        stmt = stmt.where(Lotto.data_fine.is_(None))
    return session.scalar(stmt) or 0  # (COUNT: never NULL)


def _stato_dict(fase: Fase) -> dict[str, object]:
    return {"Stato": fase.stato, "DataChiusura": fase.data_chiusura.isoformat() if fase.data_chiusura else None}


# -- corrections (R10) -------------------------------------------------------------------


def rettifica_lotto(
    session: DbSession,
    *,
    actor: Actor,
    lotto_id: int,
    qta_output: int,
    qta_scarti: int,
    causale: str | None,
    motivo: str,
    fase_tipo: str | None = None,
    adesso: datetime | None = None,
) -> Lotto:
    """Correct a closed lotto's good pieces, scrap and scrap reason (R10), recompute its
    fase's totals and check no later phase has used pieces that no longer exist.

    ``causale`` is the scrap reason's code (None: no reason; required with scrap, refused without).
    Raises InvalidInput (Motivo), NotFound, RuleViolation TIPO_FASE_DIVERSO, LOTTO_APERTO,
    CAUSALE_NON_VALIDA, RETTIFICA_INVARIATA, RETTIFICA_SUPERA_DISPONIBILE, RETTIFICA_SOTTO_PRELIEVI (R14),
    ChiusuraNonValida (R7, per field); Conflict when the database stays busy.
    """
    motivo = motivo_valido(motivo)
    lotto_id = _id_valido(lotto_id, N_("Il lotto %(id)s non esiste."))
    codice = (causale or "").strip() or None

    def operazione() -> Lotto:
        with transaction(session):
            fasi = fasi_bloccate(session, _fase_del_lotto(session, lotto_id)[1])
            # Loaded under the locks: what a concurrent close or correction committed.
            lotto = get_lotto(session, lotto_id, fase_tipo=fase_tipo)
            fase = next(f for f in fasi if f.id == lotto.fase_id)
            if lotto.data_fine is None:
                raise RuleViolation(
                    N_("Il lotto %(codice)s è ancora aperto: chiuderlo dal terminale o annullarlo, non rettificarlo."),
                    code="LOTTO_APERTO",
                    codice=lotto.codice_lotto,
                )
            nuova = _causale_rettifica(session, codice, lotto, fase)
            errori = regole.errori_chiusura(lotto.qta_input, qta_output, qta_scarti, nuova is not None)
            if errori:
                raise ChiusuraNonValida(errori)
            nuova_id = nuova.id if nuova else None
            if (qta_output, qta_scarti, nuova_id) == (lotto.qta_output, lotto.qta_scarti, lotto.causale_id):
                raise RuleViolation(
                    N_("La rettifica non cambia nulla: il lotto %(codice)s ha già questi valori."),
                    code="RETTIFICA_INVARIATA",
                    codice=lotto.codice_lotto,
                )
            output_prima = lotto.qta_output
            precedente = origini.fase_precedente(session, fase)
            prima = {**_rettifica_dict(lotto), "Fase": _totali_dict(fase)}
            if precedente is not None:
                prima["Origini"] = origini.origini_dict(session, lotto.id)
            scoperti_prima = _scoperti(session, fasi)
            mancanti_prima = origini.mancanti(session, lotto)
            lotto.qta_output, lotto.qta_scarti, lotto.causale_id = qta_output, qta_scarti, nuova_id
            session.flush()
            session.refresh(lotto)
            ricalcola_totali(session, fase, adesso or utcnow())
            _controlla_scoperti(session, fasi, scoperti_prima)
            # R14: a source may not end up having given more than its good pieces.
            origini.controlla_fonte(session, lotto, qta_output, output_prima)
            _allinea_origini(session, lotto, precedente, mancanti_prima)
            dopo = {**_rettifica_dict(lotto), "Fase": _totali_dict(fase)}
            if precedente is not None:
                dopo["Origini"] = origini.origini_dict(session, lotto.id)
            audit.record(
                session,
                actor,
                RETTIFICA,
                "Lotti",
                lotto.id,
                prima=prima,
                dopo=dopo,
                motivo=motivo,
            )
        return lotto

    return con_riprova_o_conflitto(session, operazione)


def _allinea_origini(session: DbSession, lotto: Lotto, precedente: Fase | None, mancanti_prima: int) -> None:
    """R14: the corrected lotto's draws follow what it now consumes (excess given back
    newest first, more drawn FIFO). Refused when its sources cannot give what it now
    needs — only a shortfall that appears or grows, as for the fasi above."""
    if precedente is None:
        return
    if origini.allinea(session, lotto, precedente) > mancanti_prima:
        raise RuleViolation(
            N_(
                "La rettifica chiede al lotto %(codice)s più pezzi di quanti ne restino nei lotti chiusi della fase "
                "%(fase)s: rettificare prima quei lotti o ridurre le quantità."
            ),
            code="RETTIFICA_SUPERA_DISPONIBILE",
            codice=lotto.codice_lotto,
            fase=precedente.fase_tipo.codice,
        )


def _fase_del_lotto(session: DbSession, lotto_id: int) -> tuple[int, int]:
    """``(FaseID, CommessaERPId)`` of a lotto, read without loading it: the lotto itself
    is loaded only once its fase is locked, so it is not a stale copy."""
    trovata = session.execute(
        select(Fase.id, Fase.commessa_erp_id).join(Lotto, Lotto.fase_id == Fase.id).where(Lotto.id == lotto_id)
    ).first()
    if trovata is None:
        raise NotFound(N_("Il lotto %(id)s non esiste."), id=lotto_id)
    return trovata[0], trovata[1]


def _causale_rettifica(session: DbSession, codice: str | None, lotto: Lotto, fase: Fase) -> CausaleScarto | None:
    if codice is None:
        return None
    if lotto.causale is not None and lotto.causale.codice == codice:
        return lotto.causale  # kept as it is, even if retired since the close
    return _causale(session, codice, fase)


def _scoperti(session: DbSession, fasi: list[Fase]) -> dict[int, tuple[int, int]]:
    """Per later fase (flow order): ``(pieces it has used, pieces the phase before it
    produced)`` — R5 without its floor at zero. The first fase draws from the order."""
    ordinate = _in_ordine(fasi)
    totali = totali_lotti(session, [f.id for f in ordinate])
    consumi = [_consumi(f, totali.get(f.id)) for f in ordinate]
    return {
        fase.id: (consumo.consumata, precedente.output_chiusi)
        for fase, precedente, consumo in zip(ordinate[1:], consumi, consumi[1:])
    }


def _consumi(fase: Fase, totali: TotaliLotti | None) -> ConsumiFase:
    if totali is None:
        return ConsumiFase(fase.qta_prevista)
    return ConsumiFase(
        fase.qta_prevista,
        output_chiusi=totali.output_chiusi,
        scarti_chiusi=totali.scarti_chiusi,
        input_aperti=totali.input_aperti,
    )


def _controlla_scoperti(session: DbSession, fasi: list[Fase], prima: dict[int, tuple[int, int]]) -> None:
    """Refuse when a later fase now lacks pieces it did not lack before (or lacks more)."""
    ordinate = _in_ordine(fasi)
    dopo = _scoperti(session, fasi)
    for precedente, fase in zip(ordinate, ordinate[1:]):
        usati, prodotti = dopo[fase.id]
        usati_prima, prodotti_prima = prima[fase.id]
        if usati - prodotti > max(0, usati_prima - prodotti_prima):
            raise RuleViolation(
                N_(
                    "La rettifica toglierebbe pezzi già lavorati: la fase %(fase)s ne ha già usati %(usati)s, "
                    "ma la fase %(precedente)s ne avrebbe prodotti solo %(prodotti)s. "
                    "Rettificare prima i lotti della fase %(fase)s."
                ),
                code="RETTIFICA_SUPERA_DISPONIBILE",
                fase=fase.fase_tipo.codice,
                usati=usati,
                precedente=precedente.fase_tipo.codice,
                prodotti=prodotti,
            )


def _in_ordine(fasi: list[Fase]) -> list[Fase]:
    """Flow order (FaseTipo.Ordine), as R5 and ``con_disponibile`` read it."""
    return sorted(fasi, key=lambda f: (f.fase_tipo.ordine, f.fase_tipo_id))


def _rettifica_dict(lotto: Lotto) -> dict[str, object]:
    return {**_lotto_dict(lotto), "CausaleScarto": lotto.causale.codice if lotto.causale else None}


def _totali_dict(fase: Fase) -> dict[str, object]:
    return {"QtaProdotta": fase.qta_prodotta, "QtaScarti": fase.qta_scarti, "Stato": fase.stato}


# -- cancelling a lotto opened by mistake ------------------------------------------------


def annulla_lotto(
    session: DbSession,
    *,
    actor: Actor,
    lotto_id: int,
    motivo: str,
    fase_tipo: str | None = None,
    adesso: datetime | None = None,
) -> dict[str, object]:
    """Cancel an open lotto opened by mistake: its row is deleted, its fase's totals and
    state recomputed, and the audit row keeps the whole lotto and the reason.

    Returns the cancelled lotto as the audit row keeps it (contract column names).
    Raises InvalidInput (Motivo), NotFound, RuleViolation TIPO_FASE_DIVERSO, LOTTO_CHIUSO;
    Conflict when the database stays busy.
    """
    motivo = motivo_valido(motivo)
    lotto_id = _id_valido(lotto_id, N_("Il lotto %(id)s non esiste."))

    def operazione() -> dict[str, object]:
        with transaction(session):
            fase = _fase_bloccata(session, _fase_del_lotto(session, lotto_id)[0])
            # Loaded under the lock: a close of this lotto committed meanwhile is seen.
            lotto = get_lotto(session, lotto_id, fase_tipo=fase_tipo)
            if lotto.data_fine is not None:
                raise _lotto_chiuso(lotto)
            prima = annullato_dict(lotto, fase)
            tirati = origini.origini_dict(session, lotto.id)
            if tirati:
                prima["Origini"] = tirati
            # R14: its pieces go back to their sources (an open lotto is nobody's source).
            origini.elimina(session, lotto.id)
            tolti = righe_toccate(
                session.execute(
                    delete(Lotto)
                    .where(Lotto.id == lotto.id, Lotto.data_fine.is_(None))
                    .execution_options(synchronize_session=False)
                )
            )
            if tolti != 1:
                raise _lotto_chiuso(lotto)
            session.expunge(lotto)
            _stacca_chiavi(session, lotto)
            ricalcola_totali(session, fase, adesso or utcnow())
            if not _conta_lotti(session, fase.id):
                fase.data_apertura = None
                if fase.stato == IN_CORSO:
                    fase.stato = APERTA
            audit.record(session, actor, ANNULLA, "Lotti", lotto_id, prima=prima, motivo=motivo)
        return prima

    return con_riprova_o_conflitto(session, operazione)


def annullato_dict(lotto: Lotto, fase: Fase) -> dict[str, object]:
    """A lotto as its cancellation keeps it: every column, with the contract's names."""
    return {
        "LottoID": lotto.id,
        **_lotto_dict(lotto),
        "CommessaERPId": fase.commessa_erp_id,
        "FaseTipo": fase.fase_tipo.codice,
        "DIBA": lotto.diba,
        "Revisione": lotto.revisione,
        "NoteScarti": lotto.note_scarti,
    }


def _lotto_chiuso(lotto: Lotto) -> RuleViolation:
    return RuleViolation(
        N_("Il lotto %(codice)s è già chiuso e non si può annullare: usare la rettifica per correggerne le quantità."),
        code="LOTTO_CHIUSO",
        codice=lotto.codice_lotto,
    )


def _stacca_chiavi(session: DbSession, lotto: Lotto) -> None:
    """Detach the one-time keys (R11) that opened ``lotto``: a replay must learn it was
    cancelled, not get another lotto that later takes the same LottoID.

    The key belongs to whoever opened the lotto (the operator, or the supervisor or line
    software acting for them, as its LOTTO_APERTO audit row says); looking it up by them
    uses the (UtenteID, Chiave) index instead of scanning every key ever kept.
    """
    aprono = session.scalars(
        select(LogEvento.utente_id).where(
            LogEvento.entita == "Lotti", LogEvento.entita_id == lotto.id, LogEvento.azione == APRI
        )
    )
    autori = sorted({lotto.operatore_id, *(a for a in aprono if a is not None)})
    session.execute(
        update(RichiestaEseguita)
        .where(
            RichiestaEseguita.utente_id.in_(autori),
            RichiestaEseguita.entita_id == lotto.id,
            RichiestaEseguita.operazione == APRI,
        )
        .values(entita_id=None)
        .execution_options(synchronize_session=False)
    )


# -- shared ----------------------------------------------------------------------------


def motivo_valido(motivo: object) -> str:
    """The supervisor's reason, stripped: 1–500 characters.

    Raises InvalidInput on "Motivo".
    """
    testo = motivo.strip() if isinstance(motivo, str) else ""
    if not testo:
        raise InvalidInput({"Motivo": [N_("Indicare il motivo: resta nel registro delle modifiche.")]})
    if len(testo) > MAX_MOTIVO:
        raise InvalidInput({"Motivo": [N_("Al massimo 500 caratteri.")]})
    return testo


def _id_valido(valore: int, messaggio: str) -> int:
    if not 0 < valore <= _INT32_MAX:
        raise NotFound(messaggio, id=valore)
    return valore
