"""What a machine's kiosk reads: its machine, what is open on it, the order an operator
scanned and that order's card. Opening and closing are ``services.lotti``; this module
only reads, so every rule stays in one place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, true

from asigest.domain.lotti import leggi_scansione
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, NotFound, RuleViolation
from asigest.models import CausaleScarto, ConfigCommessa, Fase, Lotto, Macchina, Utente
from asigest.services.configurazione import FaseConDisponibile, con_disponibile
from asigest.services.documenti import DocumentoVoce, documenti_commessa, tipi_mancanti
from asigest.services.uow import DbSession


@dataclass(frozen=True)
class SchedaKiosk:
    """The order card at a kiosk: the ERP order, its set-up, its phases with what is
    available (R5), the phase this machine works, the documents and what is missing."""

    commessa: Commessa
    config: ConfigCommessa | None
    fasi: list[FaseConDisponibile]
    fase: FaseConDisponibile | None
    documenti: list[DocumentoVoce]
    mancanti: list[str]


def macchina_attiva(session: DbSession, codice: str) -> Macchina:
    """The active machine with this code. Raises NotFound (unknown or out of service)."""
    macchina = session.scalar(select(Macchina).where(Macchina.codice == (codice or "").strip()))
    if macchina is None or not macchina.attiva:
        raise NotFound(N_("La postazione %(codice)s non esiste o non è attiva: avvisare il capoturno."), codice=codice)
    return macchina


def lotto_aperto(session: DbSession, macchina: Macchina) -> Lotto | None:
    """The lotto open on the machine, if any."""
    return session.scalar(select(Lotto).where(Lotto.macchina_id == macchina.id, Lotto.data_fine.is_(None)))


def causali_valide(session: DbSession, macchina: Macchina) -> list[CausaleScarto]:
    """Active scrap reasons valid for the machine's phase type (or for any phase)."""
    return list(
        session.scalars(
            select(CausaleScarto)
            .where(
                CausaleScarto.attiva == true(),
                or_(CausaleScarto.fase_tipo_id.is_(None), CausaleScarto.fase_tipo_id == macchina.fase_tipo_id),
            )
            .order_by(CausaleScarto.codice)
        )
    )


def nome_operatore(session: DbSession, utente_id: int | None) -> str:
    """``Nome Cognome`` of a user, for labels; empty when unknown."""
    utente = session.get(Utente, utente_id) if utente_id else None
    return utente.nome_completo if utente else ""


def cerca_commessa(session: DbSession, erp: ErpGateway, testo: str, *, anno_corrente: int) -> Commessa:
    """The order an operator scanned or typed: ``2026/1234``, ``1234`` (this year) or a
    CodiceLotto of any phase (its order: the label travels with the boards).

    Raises RuleViolation SCANSIONE_NON_VALIDA, NotFound, ErpUnavailable.
    """
    scansione = leggi_scansione(testo)
    if scansione is None:
        raise RuleViolation(
            N_("Codice non riconosciuto: scansionare l'etichetta del lotto o scrivere la commessa come 2026/1234."),
            code="SCANSIONE_NON_VALIDA",
        )
    if scansione.codice_lotto:
        lotto = session.scalar(select(Lotto).where(Lotto.codice_lotto == scansione.codice_lotto))
        if lotto is None:
            raise NotFound(
                N_("Il lotto %(codice)s non esiste: controllare l'etichetta."), codice=scansione.codice_lotto
            )
        commessa = erp.get(lotto.fase.commessa_erp_id)
    elif scansione.numerocom is not None:
        commessa = erp.get_by_numero(scansione.esercizio or anno_corrente, scansione.numerocom)
    else:  # a Scansione holds a lotto code or a number
        commessa = None
    if commessa is None:
        raise NotFound(N_("Commessa %(testo)s non trovata nel gestionale: controllare il numero."), testo=testo.strip())
    return commessa


def get_commessa(erp: ErpGateway, commessa_id: int) -> Commessa:
    """One ERP order by id. Raises NotFound, ErpUnavailable."""
    commessa = erp.get(commessa_id)
    if commessa is None:
        raise NotFound(N_("Commessa non trovata nel gestionale."))
    return commessa


def scheda(session: DbSession, commessa: Commessa, macchina: Macchina) -> SchedaKiosk:
    """The order card as the machine's kiosk shows it."""
    config = session.scalar(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id == commessa.id))
    fasi_db = session.scalars(select(Fase).where(Fase.commessa_erp_id == commessa.id)).all()
    fasi = sorted(con_disponibile(session, fasi_db), key=lambda f: f.fase_tipo.ordine)
    fase = next((f for f in fasi if f.fase_tipo.id == macchina.fase_tipo_id), None)
    mancanti = tipi_mancanti(session, commessa).get(macchina.fase_tipo.codice, []) if config else []
    return SchedaKiosk(commessa, config, fasi, fase, documenti_commessa(session, commessa), mancanti)
