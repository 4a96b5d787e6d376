"""What a machine's kiosk reads: its machine, what is open on it, the order an operator
scanned and that order's card. Opening and closing are ``services.lotti``; this module
only reads, so every rule stays in one place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, true

from asigest.domain import licenza as regole_licenza
from asigest.domain.lotti import leggi_scansione
from asigest.domain.stati import COMPLETATA, SOSPESA
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, NotFound, RuleViolation
from asigest.models import CausaleScarto, ConfigCommessa, Fase, Lotto, Macchina, Utente
from asigest.services.configurazione import FaseConDisponibile, con_disponibile
from asigest.services.documenti import DocumentoVoce, documenti_commessa, tipi_mancanti
from asigest.services.origini import fase_precedente, fonti
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
    impedimento: RuleViolation | None = None

    @property
    def apribile(self) -> bool:
        """*Apri lotto* can succeed now: the card offers it only then (SPEC §9)."""
        return self.fase is not None and self.impedimento is None

    @property
    def con_origini(self) -> bool:
        """The machine's fase has a fase before it: its lotti draw from that fase's
        lotti (R14), so the open form takes the labels of the sources."""
        return self.fase is not None and bool(self.fasi) and self.fasi[0].id != self.fase.id


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


def origine_proposta(session: DbSession, scheda: SchedaKiosk, testo: str) -> str | None:
    """The scanned text as the source of the lotto about to open (R14), when it is the
    label of a closed lotto of the fase before the machine's with pieces still to give:
    the label travels with the boards, so the boards in hand come from it. None for
    anything else (an order number, a lotto of another fase, one already used up)."""
    scansione = leggi_scansione(testo)
    if scansione is None or not scansione.codice_lotto or not scheda.apribile or not scheda.con_origini:
        return None
    fase = session.get(Fase, scheda.fase.id) if scheda.fase is not None else None
    precedente = fase_precedente(session, fase) if fase is not None else None
    lotto = session.scalar(select(Lotto).where(Lotto.codice_lotto == scansione.codice_lotto))
    if precedente is None or lotto is None or lotto.fase_id != precedente.id:
        return None
    if any(f.lotto_id == lotto.id for f in fonti(session, precedente.id)):
        return lotto.codice_lotto
    return None


def get_commessa(erp: ErpGateway, commessa_id: int) -> Commessa:
    """One ERP order by id. Raises NotFound, ErpUnavailable."""
    commessa = erp.get(commessa_id)
    if commessa is None:
        raise NotFound(N_("Commessa non trovata nel gestionale."))
    return commessa


def scheda(
    session: DbSession, commessa: Commessa, macchina: Macchina, *, licenza: regole_licenza.StatoLicenza | None = None
) -> SchedaKiosk:
    """The order card as the machine's kiosk shows it, with why a lotto cannot be opened
    now (``impedimento``), if anything stops it. ``licenza``: the license's state today
    (None: not checked)."""
    config = session.scalar(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id == commessa.id))
    fasi_db = session.scalars(select(Fase).where(Fase.commessa_erp_id == commessa.id)).all()
    fasi = sorted(con_disponibile(session, fasi_db), key=lambda f: (f.fase_tipo.ordine, f.fase_tipo.id))
    fase = next((f for f in fasi if f.fase_tipo.id == macchina.fase_tipo_id), None)
    mancanti = tipi_mancanti(session, commessa).get(macchina.fase_tipo.codice, []) if config else []
    impedimento = impedimento_apertura(commessa, config, fasi, fase, mancanti, licenza) if config and fase else None
    return SchedaKiosk(commessa, config, fasi, fase, documenti_commessa(session, commessa), mancanti, impedimento)


def impedimento_apertura(
    commessa: Commessa,
    config: ConfigCommessa,
    fasi: list[FaseConDisponibile],
    fase: FaseConDisponibile,
    mancanti: list[str],
    licenza: regole_licenza.StatoLicenza | None,
) -> RuleViolation | None:
    """Why opening a lotto of ``fase`` would be refused now (R4, in the order the open
    checks it), saying who to call; None when it can succeed. The card shows this
    instead of an *Apri lotto* that could only fail; the open itself still checks every
    rule under its lock (``services.lotti.apri_lotto``).
    """
    try:
        regole_licenza.richiedi_apertura(licenza)
    except RuleViolation as exc:
        return exc
    if fase.stato == SOSPESA:
        return RuleViolation(
            N_("La fase %(fase)s è sospesa: non si aprono lotti. Chiamare il capoturno per riprenderla."),
            code="FASE_SOSPESA",
            fase=fase.fase_tipo.codice,
        )
    if fase.stato == COMPLETATA:
        return RuleViolation(
            N_("La fase %(fase)s è completata: non servono altri lotti. Se mancano pezzi, chiamare il capoturno."),
            code="FASE_COMPLETATA",
            fase=fase.fase_tipo.codice,
        )
    if config.bloccata_documentazione:
        return RuleViolation(
            N_("Commessa bloccata per documentazione: chiamare il capoturno per sbloccarla."),
            code="BLOCCATA_DOCUMENTAZIONE",
        )
    if not commessa.aperta:
        return RuleViolation(
            N_("La commessa è chiusa nel gestionale: non si aprono lotti. Chiamare l'ufficio produzione."),
            code="COMMESSA_NON_APERTA",
        )
    if mancanti:
        return RuleViolation(
            N_("Mancano documenti obbligatori: %(tipi)s. Chiamare il capoturno per caricarli."),
            code="DOCUMENTI_MANCANTI",
            tipi=", ".join(mancanti),
        )
    if fase.qta_disponibile <= 0:
        return _nessun_pezzo(fasi, fase)
    return None


def _nessun_pezzo(fasi: list[FaseConDisponibile], fase: FaseConDisponibile) -> RuleViolation:
    """0 available (R5): waiting for the previous fase, or every piece already in a lotto."""
    indice = next(i for i, f in enumerate(fasi) if f.id == fase.id)
    precedente = fasi[indice - 1] if indice > 0 else None
    if precedente is not None and precedente.stato != COMPLETATA:
        return RuleViolation(
            N_(
                "Nessun pezzo disponibile: si aspettano i pezzi della fase %(precedente)s. "
                "Riprovare quando la fase %(precedente)s chiude un lotto; se i pezzi sono già qui, chiamare il capoturno."
            ),
            code="IN_ATTESA_FASE_PRECEDENTE",
            precedente=precedente.fase_tipo.codice,
        )
    return RuleViolation(
        N_(
            "Nessun pezzo disponibile: quelli di questa fase sono già tutti in lotti aperti o lavorati. "
            "Se ne servono altri, chiamare il capoturno."
        ),
        code="QUANTITA_NON_DISPONIBILE",
    )
