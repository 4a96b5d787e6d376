"""Opening and closing lotti (R4–R9, R11, R13): the operations a kiosk or line software performs.

Each operation is one transaction with its LogEventi row and, when the caller gave one,
its one-time key (R11) with the fingerprint of the request (``domain/richieste.py``).
Concurrency is held by the database: the fase row is locked (``FOR UPDATE`` on
PostgreSQL and SQL Server) while a progressivo is chosen or totals are recomputed,
UNIQUE(FaseID, Progressivo) and the one-open-lotto-per-machine index refuse what slips
through, and SQLite's write conflicts are retried from a fresh transaction.

R11 replays. The key is written with the operation and UNIQUE(UtenteID, Chiave) decides:
an operation does not look its key up first (two statements a pair saved on the write
path). A replay cannot succeed a second time: the lotto it opened occupies the machine,
the lotto it closed is closed; and should the work go through anyway (the lotto closed
since), the key's INSERT fails. So whenever an operation with a key is refused, or its
key is taken, it is rolled back and the key is looked up: the same key with the same
fingerprint returns the first result (``Esito.ripetuto``); with any other fingerprint
it is ``ChiaveRiusata`` (422), never another request's result; an unknown key lets the
refusal through.

SPEC R11 answers a second request that arrives while the first is still running with
409. Here it waits instead, and that is deliberate: the same request locks the same
fase, so it waits for the first to commit — as long as the first takes, its ERP
check included; on SQLite at most the busy timeout — and then returns its result (or,
if the first rolled back, does the work itself). That is what a client retrying after a 409 would end up with, minus
the retry, and a double tap at the kiosk shows the lotto instead of an error. The wait
can never hand out a wrong result: a *different* request with the same key may lock
another fase and run alongside, but then both insert the key, UNIQUE(UtenteID, Chiave)
lets only one commit (the other waits for it at its INSERT), and the other finds the
committed key with another fingerprint and ends in ``ChiaveRiusata``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, ScalarSelect, Table, bindparam, case, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    InstrumentedAttribute,
    aliased,
    contains_eager,
    lazyload,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value

from asigest.domain import licenza as regole_licenza
from asigest.domain import lotti as regole
from asigest.domain import quantita
from asigest.domain.actor import Actor
from asigest.domain.origini import Fonte
from asigest.domain.ruoli import SUPERVISORE
from asigest.domain.stati import APERTA, COMPLETATA, IN_CORSO, SOSPESA
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, ErpUnavailable, Forbidden, InvalidInput, NotFound, RuleViolation
from asigest.models import CausaleScarto, ConfigCommessa, Fase, FaseTipo, Lotto, LottoOrigine, Macchina, Utente
from asigest.models.types import utcnow
from asigest.services import audit, chiavi, riepilogo_kpi
from asigest.services import origini as origini_svc
from asigest.services.configurazione import TotaliLotti, con_disponibile, con_totali
from asigest.services.documenti import tipi_mancanti_fase
from asigest.services.uow import (
    DbSession,
    Riprova,
    con_riprova_o_conflitto,
    lettura_singola,
    transaction,
)

T = TypeVar("T")

APRI = "LOTTO_APERTO"
CHIUDI = "LOTTO_CHIUSO"

# What makes an open or a close look its one-time key up (R11): a refusal, or its key
# found taken (an IntegrityError turned into Riprova). Not a database failure.
_RIFIUTI = (RuleViolation, InvalidInput, NotFound, ErpUnavailable, Riprova)


class ChiusuraNonValida(RuleViolation):
    """R7 refused the figures; ``errors`` says which field is wrong (for inline messages)."""

    code = "CHIUSURA_NON_VALIDA"
    default_message = N_("Quantità di chiusura non valide: correggere i campi indicati.")

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__()


class ChiaveRiusata(InvalidInput):
    """R11: the one-time key was first used for another request (another operation,
    lotto, body or form); nothing was done, and the first result is not given out."""

    code = "IDEMPOTENCY_KEY_RIUSATA"
    default_message = N_(
        "Questa chiave (Idempotency-Key) è già stata usata per un'altra richiesta: non è stato eseguito nulla. "
        "Per una nuova richiesta usare una nuova chiave."
    )

    def __init__(self) -> None:
        super().__init__({"Idempotency-Key": [self.default_message]})


@dataclass(frozen=True)
class Esito:
    """The lotto an operation produced, and whether this call was a replay of an earlier one."""

    lotto: Lotto
    ripetuto: bool = False


# -- reading ---------------------------------------------------------------------------


def get_lotto(session: DbSession, lotto_id: int, *, fase_tipo: str | None = None) -> Lotto:
    """One lotto by id; with ``fase_tipo`` (the API path's type) it must be its fase's.

    Raises NotFound, RuleViolation TIPO_FASE_DIVERSO.
    """
    lotto = session.get(Lotto, lotto_id)
    if lotto is None:
        raise NotFound(N_("Il lotto %(id)s non esiste."), id=lotto_id)
    if fase_tipo is not None:
        _stesso_tipo(_tipo(session, fase_tipo), lotto.fase.fase_tipo_id)
    return lotto


def list_lotti(
    session: DbSession,
    *,
    fase_tipo: str,
    aperti: bool | None = None,
    fase_id: int | None = None,
    macchina_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Lotto]:
    """Lotti of one phase type, newest first, optionally only open/closed, of a fase or a machine.

    Raises NotFound for an unknown phase type.
    """
    tipo = _tipo(session, fase_tipo)
    stmt = select(Lotto).join(Fase, Lotto.fase_id == Fase.id).where(Fase.fase_tipo_id == tipo.id)
    if aperti is not None:
        stmt = stmt.where(Lotto.data_fine.is_(None) if aperti else Lotto.data_fine.is_not(None))
    if fase_id is not None:
        stmt = stmt.where(Lotto.fase_id == fase_id)
    if macchina_id is not None:
        stmt = stmt.where(Lotto.macchina_id == macchina_id)
    return list(session.scalars(stmt.order_by(Lotto.id.desc()).limit(limit).offset(offset)))


def _tipo(session: DbSession, codice: str) -> FaseTipo:
    tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == (codice or "").upper()))
    if tipo is None:
        raise NotFound(N_("Tipo di fase «%(tipo)s» sconosciuto."), tipo=codice)
    return tipo


def _del_tipo(session: DbSession, fase: Fase, codice: str) -> None:
    """The fase must be of the API path's type: compared with its loaded FaseTipo, and
    looked up only when it differs (NotFound for an unknown type, else TIPO_FASE_DIVERSO)."""
    if fase.fase_tipo.codice != (codice or "").upper():
        _stesso_tipo(_tipo(session, codice), fase.fase_tipo_id)


def _stesso_tipo(tipo: FaseTipo, fase_tipo_id: int) -> None:
    if tipo.id != fase_tipo_id:
        raise RuleViolation(
            N_("Il lotto o la fase non sono di tipo %(tipo)s: usare l'indirizzo del loro tipo."),
            code="TIPO_FASE_DIVERSO",
            tipo=tipo.codice,
        )


def lotto_aperto_su_macchina(session: DbSession, macchina_id: int) -> Lotto | None:
    """The open lotto on a machine, if any (there is at most one)."""
    return session.scalar(select(Lotto).where(Lotto.macchina_id == macchina_id, Lotto.data_fine.is_(None)))


# The hot path's statements, built once with bound parameters: building them on every
# request cost more CPU than SQLite spent running them (bench/profile_scrittura.py).
_FASE = Fase.id == bindparam("fase")
_COMMESSA_DELLA_FASE = select(Fase.commessa_erp_id).where(_FASE)
_FASE_BLOCCATA = select(Fase).where(_FASE).with_for_update(of=Fase)
_DELLA_COMMESSA = Fase.commessa_erp_id == bindparam("commessa")
_FASI_DELLA_COMMESSA = select(Fase).where(_DELLA_COMMESSA)
_TOTALI_FASE = select(
    func.coalesce(func.sum(Lotto.qta_output), 0),
    func.coalesce(func.sum(Lotto.qta_scarti), 0),
    func.count().filter(Lotto.data_fine.is_(None)),
).where(Lotto.fase_id == bindparam("fase"))
# A close locks its lotto's fase, then the lotto, and reads both (the fase's type and
# the code of the lotto's machine come with them) with the lotto's draws (R14: one row each, oldest
# first, with its source's code; one row of NULLs when it has none). Locking the lotto
# too matters on PostgreSQL: a statement that waited for a lock reads again only the
# rows it locks, so a close queued behind another close of the same lotto sees it
# closed. Its draws change only through operations that close or cancel it, under this
# same lock: a close that waited for one of them is refused, so the draws it goes on
# with are never stale. The KPI summaries' zone comes with them, under its shared lock.
_SORGENTE = aliased(Lotto, name="sorgente")
_LOTTO_E_FASE_BLOCCATI = (
    select(
        Lotto,
        LottoOrigine.lotto_origine_id,
        LottoOrigine.qta,
        _SORGENTE.codice_lotto,
        riepilogo_kpi.ZONA_CONDIVISA.label("zona_kpi"),
        Macchina.codice.label("postazione"),
    )
    .select_from(Fase)  # the fase first, as every operation locks it before its lotti
    .join(Lotto, Lotto.fase_id == Fase.id)
    .join(Macchina, Macchina.id == Lotto.macchina_id)
    .outerjoin(LottoOrigine, LottoOrigine.lotto_id == Lotto.id)
    .outerjoin(_SORGENTE, _SORGENTE.id == LottoOrigine.lotto_origine_id)
    # Of the machine only its code (the audit row's Postazione), not an object; the
    # (still empty) reason is not loaded: building objects cost more than the row.
    .options(contains_eager(Lotto.fase), lazyload(Lotto.macchina), lazyload(Lotto.causale))
    .where(Lotto.id == bindparam("lotto"))
    .order_by(LottoOrigine.id)
    .with_for_update(of=(Fase, Lotto))
    .execution_options(populate_existing=True)
)
# The order's fasi with their lotti's totals (R5, R6, R8) in one statement. Read after
# the fase's lock, so what it counts is what the operations before this one committed.
_APERTO = Lotto.data_fine.is_(None)
_PER_FASE = (
    select(
        Lotto.fase_id.label("fase"),
        func.count(Lotto.id).label("lotti"),
        func.sum(Lotto.qta_output).label("output"),
        func.sum(Lotto.qta_scarti).label("scarti"),
        func.sum(case((_APERTO, Lotto.qta_input))).label("input_aperti"),
        func.count(case((_APERTO, Lotto.id))).label("aperti"),
        func.max(Lotto.progressivo).label("progressivo"),
    )
    .where(Lotto.fase_id.in_(select(Fase.id).where(_DELLA_COMMESSA)))
    .group_by(Lotto.fase_id)
    .subquery()
)
# With them, when the statement's ``precedente`` names a fase, the R14 sources a FIFO
# draw of ``qta`` pieces takes from it (one row each; NULL for the other fasi): an open
# reads both in one statement.
_FONTI = origini_svc.FONTI_DI
_FASI_CON_TOTALI = (
    select(
        Fase,
        _PER_FASE.c.lotti,
        _PER_FASE.c.output,
        _PER_FASE.c.scarti,
        _PER_FASE.c.input_aperti,
        _PER_FASE.c.aperti,
        _PER_FASE.c.progressivo,
        _FONTI.c.fonte,
        _FONTI.c.residuo,
        _FONTI.c.codice,
    )
    .outerjoin(_PER_FASE, _PER_FASE.c.fase == Fase.id)
    .outerjoin(_FONTI, _FONTI.c.fase == Fase.id)
    .where(_DELLA_COMMESSA)
    .order_by(_FONTI.c.chiusa, _FONTI.c.fonte)
)


@dataclass(frozen=True)
class _Flusso:
    """An order's fasi in flow order with their lotti's totals, as one statement read them,
    and the R14 sources of the fase ``fonti_di`` (None: none read)."""

    fasi: list[Fase]
    totali: dict[int, TotaliLotti]
    aperti: dict[int, int]
    ultimo_progressivo: dict[int, int]
    fonti_di: int | None = None
    fonti: dict[Fonte, str] = field(default_factory=dict)

    def disponibile(self, fase_id: int) -> int:
        """R5 for one of the fasi."""
        return next(f.qta_disponibile for f in con_totali(self.fasi, self.totali) if f.id == fase_id)

    def precedente(self, fase_id: int) -> int | None:
        """The fase R14 draws from for ``fase_id``: the one before it, None for the first."""
        return origini_svc.precedente_in([f.id for f in self.fasi], fase_id)


def _flusso(session: DbSession, commessa_erp_id: int, *, fonti_di: int | None = None, qta: int = 0) -> _Flusso:
    """The order's fasi with their totals, and with ``fonti_di`` the sources a FIFO draw
    of ``qta`` pieces takes from that fase."""
    fasi: dict[int, Fase] = {}
    totali: dict[int, TotaliLotti] = {}
    aperti: dict[int, int] = {}
    progressivi: dict[int, int] = {}
    fonti: dict[Fonte, str] = {}
    for fase, lotti, output, scarti, input_aperti, n_aperti, progressivo, fonte, residuo, codice in session.execute(
        _FASI_CON_TOTALI, {"commessa": commessa_erp_id, "precedente": fonti_di, "qta": qta}
    ):
        # The fase with sources comes once per source.
        fasi[fase.id] = fase
        totali[fase.id] = TotaliLotti(
            lotti=lotti or 0, output_chiusi=output or 0, scarti_chiusi=scarti or 0, input_aperti=input_aperti or 0
        )
        aperti[fase.id] = n_aperti or 0
        progressivi[fase.id] = progressivo or 0
        if fonte is not None:
            fonti[Fonte(fonte, int(residuo))] = codice
    return _Flusso(sorted(fasi.values(), key=_ordine_flusso), totali, aperti, progressivi, fonti_di, fonti)


# -- opening ---------------------------------------------------------------------------


def apri_lotto(
    session: DbSession,
    erp: ErpGateway,
    *,
    actor: Actor,
    fase_id: int,
    macchina_id: int,
    qta_input: int,
    operatore_id: int | None = None,
    fase_tipo: str | None = None,
    chiave: str | None = None,
    impronta: str | None = None,
    adesso: datetime | None = None,
    licenza: regole_licenza.StatoLicenza | None = None,
    origini: list[origini_svc.Scelta] | None = None,
) -> Esito:
    """Open a lotto on a machine for a fase (R4, R5, R6), with its draws (R14) and its audit row.

    ``operatore_id`` defaults to the actor only when the actor is an OPERATORE (which may
    only act as itself); a SUPERVISORE or ADMIN must give it (InvalidInput on OperatoreID).
    ``chiave`` (kiosk form token or API Idempotency-Key) with ``impronta`` (the request's
    fingerprint) makes a replay of the same request return the first result; the same
    key with another request raises ChiaveRiusata. Raises InvalidInput, Forbidden,
    NotFound, RuleViolation (each R4 condition with its own code), ErpUnavailable (the
    commessa's ERP state must be checked), Conflict.
    ``licenza`` (the web layer's ``deps.licenza()``) refuses it past the license's grace
    period (RuleViolation LICENZA_SCADUTA); closing never looks at the license (SPEC §10).
    ``origini`` are the sources the operator named (scanned labels, the API's ``Origini``):
    drawn first, the rest FIFO (``services/origini.py``; InvalidInput on "Origini").
    """
    operatore_id = _operatore(actor, operatore_id)
    chiavi.richiede_impronta(chiave, impronta)
    commessa = _commessa_della_fase(session, erp, fase_id)

    def operazione() -> Esito:
        risposta: list[object] = []
        try:
            with transaction(session, conserva=risposta):
                fase, intorno = _fase_bloccata_e_intorno(session, fase_id, operatore_id, macchina_id)
                if fase_tipo is not None:
                    _del_tipo(session, fase, fase_tipo)
                regole_licenza.richiedi_apertura(licenza)
                letta = commessa
                if letta.commessa_id != fase.commessa_erp_id:
                    # The order remembered for this fase id was another's (see
                    # _commessa_della_fase): read this one's now, under the lock, once.
                    letta = _leggi_commessa(erp, _ricorda_commessa(fase.id, fase.commessa_erp_id))
                try:
                    lotto = _apri(
                        session,
                        letta,
                        actor,
                        fase,
                        intorno,
                        macchina_id,
                        qta_input,
                        operatore_id,
                        _utc(adesso),
                        origini,
                    )
                    chiavi.registra(session, actor, chiave, impronta, APRI, lotto.id)
                    session.flush()
                except IntegrityError as exc:
                    raise _vincolo_apertura(exc) from exc
                risposta += (lotto, fase, fase.fase_tipo)
        except _RIFIUTI:
            # Refused, or the key is taken: a replay gets the first result (R11).
            gia = _gia_eseguita(session, actor, chiave, impronta, APRI, fase_id=fase_id)
            if gia is not None:
                return gia
            raise
        return Esito(lotto)

    return con_riprova_o_conflitto(session, operazione)


@dataclass(frozen=True)
class _CommessaLetta:
    """What the ERP said of a fase's order before the write began: the order's id, the
    order (None when the ERP does not have it) or the failure to reach the ERP."""

    commessa_id: int | None = None
    commessa: Commessa | None = None
    guasto: ErpUnavailable | None = None

    def aperta(self) -> Commessa | None:
        """The order, or raise the ERP failure (at the point R4 checks the order's state)."""
        if self.guasto is not None:
            raise self.guasto
        return self.commessa


def _commessa_della_fase(session: DbSession, erp: ErpGateway, fase_id: int) -> _CommessaLetta:
    """Read the fase's order from the ERP before the write transaction starts.

    The ERP may be slow or locked: waited on inside the transaction, it would hold the
    fase's row lock (and on SQLite the whole database's write lock) for up to the ERP
    timeout, so closes, which never need the ERP, would queue behind it. A failure is
    kept rather than raised: a replay of a lotto already opened still gets its answer,
    and the other R4 refusals keep their order. An unknown fase is reported by the
    transaction itself.

    A fase's order never changes, so the process remembers it (``_COMMESSE_DELLE_FASI``)
    and reads it once per fase. The transaction compares it with the locked fase's:
    a fase id given again to another order (a fase deleted, R2, on SQLite) is read again.
    """
    commessa_id = _COMMESSE_DELLE_FASI.get(fase_id)
    if commessa_id is None:
        righe = lettura_singola(session, _COMMESSA_DELLA_FASE, {"fase": fase_id})
        if not righe:
            return _CommessaLetta()
        commessa_id = _ricorda_commessa(fase_id, righe[0][0])
    return _leggi_commessa(erp, commessa_id)


def _leggi_commessa(erp: ErpGateway, commessa_id: int) -> _CommessaLetta:
    try:
        return _CommessaLetta(commessa_id, commessa=erp.get(commessa_id))
    except ErpUnavailable as exc:
        return _CommessaLetta(commessa_id, guasto=exc)


# FaseID → CommessaERPId, as far as this process has read them (a few bytes per fase).
_COMMESSE_DELLE_FASI: dict[int, int] = {}
_FASI_RICORDATE = 100_000


# FaseID → the fase before it in its order's flow (R14), as this process last read it:
# which fase's sources an open reads with the order's fasi. Only a guess: the flow read
# under the lock says which fase it is, and when they differ (the order's
# configuration changed) the sources are read on their own.
_PRECEDENTI: dict[int, int | None] = {}


def _ricorda_precedente(fase_id: int, precedente: int | None) -> int | None:
    if len(_PRECEDENTI) >= _FASI_RICORDATE:
        _PRECEDENTI.clear()
    _PRECEDENTI[fase_id] = precedente
    return precedente


def _ricorda_commessa(fase_id: int, commessa_id: int) -> int:
    if len(_COMMESSE_DELLE_FASI) >= _FASI_RICORDATE:
        _COMMESSE_DELLE_FASI.clear()
    _COMMESSE_DELLE_FASI[fase_id] = commessa_id
    return commessa_id


def _fase_bloccata(session: DbSession, fase_id: int) -> Fase:
    """The fase, locked until commit (PostgreSQL, SQL Server): its lotti get numbers and totals one at a time."""
    fase = session.scalar(_FASE_BLOCCATA, {"fase": fase_id})
    if fase is None:
        raise NotFound(N_("La fase %(id)s non esiste."), id=fase_id)
    return fase


def _fase_bloccata_e_intorno(
    session: DbSession, fase_id: int, operatore_id: int, macchina_id: int
) -> tuple[Fase, _Intorno]:
    """``_fase_bloccata`` with what R4 checks around the fase, in the same statement.

    On PostgreSQL a statement that waited for the lock reads again only the locked row:
    what it read around it may be as old as the statement. That holds where it matters:
    a lotto opened meanwhile on the machine is refused by UX_Lotti_MacchinaAperta, and
    R5, R6 and R14 are read by the statements after the lock (``_flusso``).
    """
    riga = session.execute(
        _FASE_BLOCCATA_E_INTORNO, {"fase": fase_id, "operatore": operatore_id, "macchina": macchina_id}
    ).one_or_none()
    if riga is None:
        raise NotFound(N_("La fase %(id)s non esiste."), id=fase_id)
    intorno = _Intorno(
        operatore_attivo=riga.operatore_attivo,
        macchina_attiva=riga.macchina_attiva,
        macchina_tipo=riga.macchina_tipo,
        macchina_codice=riga.macchina_codice,
        configurata=riga.config_id is not None,
        bloccata=riga.bloccata,
        diba=riga.diba,
        revisione=riga.revisione,
        occupante=riga.occupante,
    )
    return riga.Fase, intorno


def _apri(
    session: DbSession,
    letta: _CommessaLetta,
    actor: Actor,
    fase: Fase,
    intorno: _Intorno,
    macchina_id: int,
    qta_input: int,
    operatore_id: int,
    adesso: datetime,
    scelte: list[origini_svc.Scelta] | None,
) -> Lotto:
    if not intorno.operatore_attivo:
        raise RuleViolation(N_("Operatore non attivo: rivolgersi al capoturno."), code="OPERATORE_NON_ATTIVO")
    if not intorno.macchina_attiva or intorno.macchina_codice is None or intorno.macchina_tipo is None:
        raise RuleViolation(N_("Macchina non attiva: rivolgersi al capoturno."), code="MACCHINA_NON_ATTIVA")
    if intorno.macchina_tipo != fase.fase_tipo_id:
        tipo_macchina = session.get(FaseTipo, intorno.macchina_tipo)
        raise RuleViolation(
            N_("Questa macchina lavora la fase %(macchina)s, non %(fase)s: aprire il lotto sulla macchina giusta."),
            code="MACCHINA_FASE_DIVERSA",
            macchina=tipo_macchina.codice if tipo_macchina else "?",
            fase=fase.fase_tipo.codice,
        )
    if fase.stato == SOSPESA:
        raise RuleViolation(N_("La fase è sospesa: chiedere al capoturno di riprenderla."), code="FASE_SOSPESA")
    if fase.stato == COMPLETATA:
        raise RuleViolation(N_("La fase è già completata: non si aprono altri lotti."), code="FASE_COMPLETATA")
    if not intorno.configurata:
        raise RuleViolation(N_("La commessa non è configurata per la produzione."), code="COMMESSA_NON_CONFIGURATA")
    if intorno.bloccata:
        raise RuleViolation(
            N_("Commessa bloccata per documentazione: chiedere al capoturno di sbloccarla."),
            code="BLOCCATA_DOCUMENTAZIONE",
        )
    commessa = letta.aperta()
    if commessa is None or not commessa.aperta:
        raise RuleViolation(
            N_("La commessa non è più aperta nel gestionale: non si aprono lotti."), code="COMMESSA_NON_APERTA"
        )
    mancanti = tipi_mancanti_fase(session, commessa, fase.fase_tipo)
    if mancanti:
        raise RuleViolation(
            N_("Mancano documenti obbligatori per questa fase: %(tipi)s. Avvisare il capoturno."),
            code="DOCUMENTI_MANCANTI",
            tipi=", ".join(mancanti),
        )
    if intorno.occupante is not None:
        raise RuleViolation(
            N_("Sulla macchina è già aperto il lotto %(codice)s: chiuderlo prima di aprirne un altro."),
            code="MACCHINA_OCCUPATA",
            codice=intorno.occupante,
        )
    # R5 over the order's fasi in flow order; the one before this is where R14 draws
    # from: its FIFO sources come with them when this process already knows which it is
    # (named sources are read with all the others by ``piano_apertura``).
    flusso = _flusso(
        session, fase.commessa_erp_id, fonti_di=None if scelte else _PRECEDENTI.get(fase.id), qta=qta_input
    )
    disponibile = flusso.disponibile(fase.id)
    if not 0 < qta_input <= disponibile:
        raise RuleViolation(
            N_("Quantità non disponibile: si possono lavorare al massimo %(disponibile)s pezzi in questa fase."),
            code="QUANTITA_NON_DISPONIBILE",
            disponibile=disponibile,
        )
    # R14: under the fase's lock, so terminals opening at the same instant draw one after the other.
    precedente = _ricorda_precedente(fase.id, flusso.precedente(fase.id))
    lette = flusso.fonti if precedente is not None and precedente == flusso.fonti_di else None
    piano = origini_svc.piano_apertura(session, fase, precedente, qta_input, scelte, fonti_lette=lette)

    progressivo = flusso.ultimo_progressivo.get(fase.id, 0) + 1
    lotto = Lotto(
        fase_id=fase.id,
        progressivo=progressivo,
        codice_lotto=regole.codice_lotto(commessa.esercizio, commessa.numerocom, fase.fase_tipo.codice, progressivo),
        data_inizio=adesso,
        qta_input=qta_input,
        operatore_id=operatore_id,
        macchina_id=macchina_id,
        diba=intorno.diba,
        revisione=intorno.revisione,
        data_fine=None,
        qta_output=None,
        qta_scarti=None,
        causale_id=None,
        note_scarti=None,
        operatore_chiusura_id=None,
    )
    lotto = _inserisci(session, lotto)
    set_committed_value(lotto, "fase", fase)
    set_committed_value(lotto, "causale", None)
    if fase.stato == APERTA:
        fase.stato = IN_CORSO
        fase.data_apertura = adesso
    dopo = _lotto_dict(lotto)
    if precedente is not None:
        origini_svc.registra(session, lotto.id, piano.presi)
        dopo["Origini"] = piano.origini()
    audit.record_subito(
        session,
        actor,
        APRI,
        "Lotti",
        lotto.id,
        postazione=intorno.macchina_codice,
        dopo=dopo,
    )
    return lotto


def _inserisci(session: DbSession, lotto: Lotto) -> Lotto:
    """Insert a new lotto (every column set) with one Core INSERT … RETURNING its id, and
    make it a persistent object of the session, as a flush would: the unit of work's
    bookkeeping (and the ORM's bulk path) cost more CPU than the INSERT itself. No
    ORM event runs: an open lotto counts in no KPI summary (services/riepilogo_kpi.py)."""
    valori = {colonna.name: getattr(lotto, attributo) for attributo, colonna in _COLONNE_LOTTO}
    lotto.id = session.connection().execute(_NUOVO_LOTTO, valori).scalar_one()
    make_transient_to_detached(lotto)
    # merge, not add: an attempt rolled back before this one (a retry) may have left its
    # lotto in the session under the same id, which SQLite gives out again after a
    # rollback; merge takes that object over instead of refusing the identity.
    return session.merge(lotto, load=False)


_TABELLA_LOTTI = Lotto.__table__
assert isinstance(_TABELLA_LOTTI, Table)  # (typed FromClause: a declarative model's own Table)
_COLONNE_LOTTO = [
    (attributo.key, attributo.columns[0]) for attributo in inspect(Lotto).column_attrs if attributo.key != "id"
]
_NUOVO_LOTTO = insert(_TABELLA_LOTTI).returning(_TABELLA_LOTTI.c.LottoID)


@dataclass(frozen=True)
class _Intorno:
    """What R4 reads besides the fase: the operator, the machine, the order's
    configuration and the lotto open on the machine (None when there is none)."""

    operatore_attivo: bool | None
    macchina_attiva: bool | None
    macchina_tipo: int | None
    macchina_codice: str | None
    configurata: bool
    bloccata: bool | None
    diba: str | None
    revisione: str | None
    occupante: str | None


def _uno(colonna: InstrumentedAttribute[Any], *condizioni: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(colonna).where(*condizioni).scalar_subquery()


# Every row R4 checks around an open (scalar subqueries, each by its key), read with the
# fase's lock: what were six ORM look-ups and the lock, one statement.
_MACCHINA = Macchina.id == bindparam("macchina")
_CONFIG = ConfigCommessa.commessa_erp_id == Fase.commessa_erp_id
_FASE_BLOCCATA_E_INTORNO = (
    select(
        Fase,
        _uno(Utente.attivo, Utente.id == bindparam("operatore")).label("operatore_attivo"),
        _uno(Macchina.attiva, _MACCHINA).label("macchina_attiva"),
        _uno(Macchina.fase_tipo_id, _MACCHINA).label("macchina_tipo"),
        _uno(Macchina.codice, _MACCHINA).label("macchina_codice"),
        _uno(ConfigCommessa.id, _CONFIG).label("config_id"),
        _uno(ConfigCommessa.bloccata_documentazione, _CONFIG).label("bloccata"),
        _uno(ConfigCommessa.diba, _CONFIG).label("diba"),
        _uno(ConfigCommessa.revisione, _CONFIG).label("revisione"),
        # At most one (UX_Lotti_MacchinaAperta).
        _uno(Lotto.codice_lotto, Lotto.macchina_id == bindparam("macchina"), Lotto.data_fine.is_(None)).label(
            "occupante"
        ),
    )
    .where(_FASE)
    .with_for_update(of=Fase)
)


def _disponibile(session: DbSession, fase: Fase) -> int:
    """R5 for one fase (what an open checks)."""
    fasi = con_disponibile(session, _fasi_della_commessa(session, fase.commessa_erp_id))
    return next(f.qta_disponibile for f in fasi if f.id == fase.id)


def _fasi_della_commessa(session: DbSession, commessa_erp_id: int) -> list[Fase]:
    """The fasi of an order (the locked one comes from the session as it is)."""
    return list(session.scalars(_FASI_DELLA_COMMESSA, {"commessa": commessa_erp_id}))


def _utc(adesso: datetime | None) -> datetime:
    """The instant of an operation as the database gives it back (aware UTC): the
    closed lotto is not read again after its UPDATE, so its audit row and KPI day come
    from this value."""
    return utcnow() if adesso is None else adesso.astimezone(UTC)


def _vincolo_apertura(exc: IntegrityError) -> Exception:
    """Which constraint a concurrent open hit: retry for the progressivo, refuse for the machine."""
    text = str(exc.orig)
    if "MacchinaAperta" in text or "MacchinaID" in text:
        return RuleViolation(
            N_("Sulla macchina è appena stato aperto un altro lotto: chiuderlo prima di aprirne un altro."),
            code="MACCHINA_OCCUPATA",
        )
    # A progressivo/CodiceLotto taken by a terminal at the same instant, or the same key
    # committed meanwhile by another request: the next attempt picks the next number, or
    # finds the key and answers by its fingerprint (the first result, or ChiaveRiusata).
    return Riprova()


# -- closing ---------------------------------------------------------------------------


def chiudi_lotto(
    session: DbSession,
    *,
    actor: Actor,
    lotto_id: int,
    qta_output: int,
    qta_scarti: int = 0,
    causale: str | None = None,
    note: str | None = None,
    fase_tipo: str | None = None,
    chiave: str | None = None,
    impronta: str | None = None,
    adesso: datetime | None = None,
) -> Esito:
    """Close an open lotto (R7) and update its fase's totals and state (R8), with its audit row.

    ``causale`` is the scrap reason's code, required when ``qta_scarti`` > 0 (and valid for
    the fase's type), refused when it is 0. Needs no ERP. ``chiave`` and ``impronta`` as
    for ``apri_lotto``. Raises NotFound, ChiusuraNonValida (per-field R7 errors),
    RuleViolation (already closed, reason not valid), ChiaveRiusata, Forbidden.
    """
    chiavi.richiede_impronta(chiave, impronta)

    def operazione() -> Esito:
        risposta: list[object] = []
        try:
            with transaction(session, conserva=risposta):
                letto = _lotto_bloccato(session, lotto_id)
                lotto = letto.lotto
                if fase_tipo is not None:
                    _del_tipo(session, lotto.fase, fase_tipo)
                _chiudi(session, actor, letto, qta_output, qta_scarti, causale, note, _utc(adesso))
                try:
                    chiavi.registra(session, actor, chiave, impronta, CHIUDI, lotto.id)
                    session.flush()
                except IntegrityError as exc:
                    raise Riprova() from exc
                risposta += (lotto, lotto.fase, lotto.fase.fase_tipo)
                risposta += [lotto.causale] if lotto.causale is not None else []
        except _RIFIUTI:
            # Refused (a replay finds its lotto closed), or the key is taken: R11.
            gia = _gia_eseguita(session, actor, chiave, impronta, CHIUDI, lotto_id=lotto_id)
            if gia is not None:
                return gia
            raise
        return Esito(lotto)

    return con_riprova_o_conflitto(session, operazione)


def _chiudi(
    session: DbSession,
    actor: Actor,
    letto: _LottoBloccato,
    qta_output: int | None,
    qta_scarti: int | None,
    codice_causale: str | None,
    note: str | None,
    adesso: datetime,
) -> None:
    # The fase is locked: closes in one fase recompute its totals one after another, and
    # what we read of the lotto is what the previous close committed.
    lotto, tirati, fase = letto.lotto, letto.tirati, letto.lotto.fase
    if lotto.data_fine is not None:
        raise RuleViolation(N_("Il lotto %(codice)s è già chiuso."), code="LOTTO_GIA_CHIUSO", codice=lotto.codice_lotto)
    # Any operator may close a colleague's lotto at the machine (a shift change): the
    # closing operator is recorded in OperatoreChiusuraID, so nothing is hidden.
    errori = regole.errori_chiusura(lotto.qta_input, qta_output, qta_scarti, bool(codice_causale))
    if errori:
        raise ChiusuraNonValida(errori)
    causale = _causale(session, codice_causale, fase) if codice_causale else None
    prima = _lotto_dict(lotto)
    chiusura = {
        "data_fine": adesso,
        "qta_output": qta_output,
        "qta_scarti": qta_scarti,
        "causale_id": causale.id if causale else None,
        "note_scarti": (note or "").strip()[:500] or None,
        "operatore_chiusura_id": actor.utente_id,
    }
    chiusi = session.connection().execute(_CHIUSURA, {**chiusura, "lotto_id": lotto.id}).rowcount
    if chiusi != 1:
        raise RuleViolation(N_("Il lotto %(codice)s è già chiuso."), code="LOTTO_GIA_CHIUSO", codice=lotto.codice_lotto)
    # The lotto now holds what the UPDATE wrote, as a reload would (no statement).
    for campo, valore in chiusura.items():
        set_committed_value(lotto, campo, valore)
    set_committed_value(lotto, "causale", causale)
    # After the UPDATE: the totals count this close.
    flusso = _flusso(session, fase.commessa_erp_id)
    # R14: the remainder of a short close goes back to its sources, newest draw first.
    precedente = flusso.precedente(fase.id)
    dopo = _lotto_dict(lotto)
    if precedente is not None:
        prima["Origini"] = [{"CodiceLotto": codice, "Qta": qta} for _, qta, codice in tirati]
        dopo["Origini"] = prima["Origini"]
        attuali = [(sorgente, qta) for sorgente, qta, _ in tirati]
        if sum(qta for _, qta in attuali) != (qta_output or 0) + (qta_scarti or 0):
            origini_svc.allinea(session, lotto, precedente, attuali)
            dopo["Origini"] = origini_svc.origini_dict(session, lotto.id)
    totali = flusso.totali[fase.id]
    letti = (totali.output_chiusi, totali.scarti_chiusi, flusso.aperti[fase.id])
    ricalcola_totali(session, fase, adesso, fasi=flusso.fasi, letti=letti)
    riepilogo_kpi.lotto_chiuso(session, lotto, letto.zona_kpi)
    audit.record_subito(
        session,
        actor,
        CHIUDI,
        "Lotti",
        lotto.id,
        postazione=letto.postazione,
        prima=prima,
        dopo=dopo,
    )


def _ordine_flusso(fase: Fase) -> tuple[int, int]:
    return (fase.fase_tipo.ordine, fase.fase_tipo_id)


# The close's guarded UPDATE, built once, on the table (the ORM's bulk UPDATE path cost
# more CPU than the statement): the lotto must still be open.
_CHIUSURA = (
    update(_TABELLA_LOTTI)
    .where(_TABELLA_LOTTI.c.LottoID == bindparam("lotto_id"), _TABELLA_LOTTI.c.DataFine.is_(None))
    .values(
        {
            colonna: bindparam(attributo, type_=colonna.type)
            for attributo, colonna in _COLONNE_LOTTO
            if attributo
            in ("data_fine", "qta_output", "qta_scarti", "causale_id", "note_scarti", "operatore_chiusura_id")
        }
    )
)


@dataclass(frozen=True)
class _LottoBloccato:
    """What a close reads with its locks: the lotto (its fase with it), its draws
    ``(LottoOrigineID, Qta, its CodiceLotto)`` oldest first, the KPI summaries' zone, its
    machine's code (the audit row's Postazione)."""

    lotto: Lotto
    tirati: list[tuple[int, int, str]]
    zona_kpi: str | None
    postazione: str


def _lotto_bloccato(session: DbSession, lotto_id: int) -> _LottoBloccato:
    """A lotto and its fase, both locked until commit (PostgreSQL, SQL Server), with what
    the close needs around it, in one statement. Raises NotFound for an unknown lotto
    (or one cancelled meanwhile)."""
    righe = session.execute(_LOTTO_E_FASE_BLOCCATI, {"lotto": lotto_id}).all()
    if not righe:
        raise NotFound(N_("Il lotto %(id)s non esiste."), id=lotto_id)
    tirati = [(sorgente, qta, codice) for _, sorgente, qta, codice, _, _ in righe if sorgente is not None]
    return _LottoBloccato(righe[0][0], tirati, righe[0].zona_kpi, righe[0].postazione)


def ricalcola_totali(
    session: DbSession,
    fase: Fase,
    adesso: datetime,
    *,
    fasi: list[Fase] | None = None,
    letti: tuple[int, int, int] | None = None,
) -> None:
    """R8: the fase's totals are the sums over its closed lotti (never patched by
    differences); it completes when QtaProdotta ≥ QtaPrevista and no lotto is open.
    ``fasi``: the order's fasi when the caller has them already; ``letti``: the fase's
    Σ QtaOutput and Σ QtaScarti of closed lotti and its open lotti, when the caller read
    them in this transaction after its change and under the fase's lock."""
    prodotta, scarti, aperti = letti if letti is not None else session.execute(_TOTALI_FASE, {"fase": fase.id}).one()
    nuovi: dict[str, object] = {"qta_prodotta": int(prodotta or 0), "qta_scarti": int(scarti or 0)}  # (never NULL)
    completa = fase.stato == IN_CORSO and int(prodotta or 0) >= fase.qta_prevista and aperti == 0
    if completa:
        nuovi |= {"stato": COMPLETATA, "data_chiusura": adesso}
    if any(getattr(fase, attributo) != valore for attributo, valore in nuovi.items()):
        # One Core UPDATE (the fase is locked), and the object holds it as committed:
        # every close writes its fase, and the unit of work's flush cost more CPU than
        # the statement. Other pending changes of the fase stay the ORM's to flush.
        session.connection().execute(_COMPLETA_FASE if completa else _TOTALI_DELLA_FASE, {**nuovi, "fase_id": fase.id})
        for attributo, valore in nuovi.items():
            set_committed_value(fase, attributo, valore)
    completa_esaurite(session, fase.commessa_erp_id, adesso, fasi=fasi)


_TABELLA_FASI = Fase.__table__
assert isinstance(_TABELLA_FASI, Table)  # (typed FromClause: a declarative model's own Table)
_TOTALI_DELLA_FASE = (
    update(_TABELLA_FASI)
    .where(_TABELLA_FASI.c.FaseID == bindparam("fase_id"))
    .values(
        {
            _TABELLA_FASI.c.QtaProdotta: bindparam("qta_prodotta"),
            _TABELLA_FASI.c.QtaScarti: bindparam("qta_scarti"),
        }
    )
)
_COMPLETA_FASE = _TOTALI_DELLA_FASE.values(
    {
        _TABELLA_FASI.c.Stato: bindparam("stato"),
        _TABELLA_FASI.c.DataChiusura: bindparam("data_chiusura", type_=_TABELLA_FASI.c.DataChiusura.type),
    }
)


def completa_esaurite(
    session: DbSession, commessa_erp_id: int, adesso: datetime, *, fasi: list[Fase] | None = None
) -> list[Fase]:
    """R8, second half: every later fase of the commessa that can never get another piece
    (``domain.quantita.esaurita``) becomes COMPLETATA, in flow order, so a chain of them
    completes at once. Returns the fasi it completed.

    Each candidate is locked before its lotti are counted, in flow order (the order every
    operation locks fasi in), so a lotto being opened in it at the same instant is either
    seen or refused by R4 after this commits.
    """
    if fasi is None:
        fasi = _fasi_della_commessa(session, commessa_erp_id)
    ordinate = sorted(fasi, key=_ordine_flusso)
    completate = []
    for precedente, fase in zip(ordinate, ordinate[1:], strict=False):
        if precedente.stato != COMPLETATA or fase.stato not in (APERTA, IN_CORSO):
            continue
        session.flush()  # what this transaction changed stays; the lock re-reads the rest
        fase = session.scalars(
            select(Fase).where(Fase.id == fase.id).with_for_update(of=Fase).execution_options(populate_existing=True)
        ).one()
        disponibile = next(f.qta_disponibile for f in con_disponibile(session, ordinate) if f.id == fase.id)
        aperti = session.scalars(
            select(func.count()).select_from(Lotto).where(Lotto.fase_id == fase.id, Lotto.data_fine.is_(None))
        ).one()
        if quantita.esaurita(
            precedente_completata=True,
            attiva=fase.stato in (APERTA, IN_CORSO),
            disponibile=disponibile,
            lotti_aperti=int(aperti),
        ):
            fase.stato = COMPLETATA
            fase.data_chiusura = adesso
            completate.append(fase)
    return completate


def _causale(session: DbSession, codice: str, fase: Fase) -> CausaleScarto:
    causale = session.scalar(select(CausaleScarto).where(CausaleScarto.codice == codice))
    if causale is None or not causale.attiva:
        raise RuleViolation(
            N_("Causale di scarto %(codice)s sconosciuta o non attiva."), code="CAUSALE_NON_VALIDA", codice=codice
        )
    if causale.fase_tipo_id not in (None, fase.fase_tipo_id):
        raise RuleViolation(
            N_("La causale %(codice)s non vale per la fase %(fase)s: sceglierne un'altra."),
            code="CAUSALE_NON_VALIDA",
            codice=codice,
            fase=fase.fase_tipo.codice,
        )
    return causale


# -- shared ----------------------------------------------------------------------------


def _operatore(actor: Actor, operatore_id: int | None) -> int:
    """Who works the lotto (SPEC §7): an OPERATORE is itself unless it names itself; a
    supervisor, an admin or line software must name the operator, since the lotto,
    the KPIs and the trace would otherwise carry the office user's name."""
    if operatore_id is None:
        if actor.puo(SUPERVISORE):
            raise InvalidInput(
                {
                    "OperatoreID": [
                        N_(
                            "Indicare l'operatore che lavora il lotto (OperatoreID): è obbligatorio per supervisori e "
                            "amministratori."
                        )
                    ]
                }
            )
        return actor.utente_id
    if operatore_id != actor.utente_id and not actor.puo(SUPERVISORE):
        raise Forbidden(N_("Un operatore apre e chiude lotti solo a proprio nome."))
    return operatore_id


def _gia_eseguita(
    session: DbSession,
    actor: Actor,
    chiave: str | None,
    impronta: str | None,
    operazione: str,
    *,
    fase_id: int | None = None,
    lotto_id: int | None = None,
) -> Esito | None:
    """The result of an earlier request with the same key (R11), if there was one.

    The earlier request must be this one (same fingerprint), else ChiaveRiusata. A key
    kept before migration 0008 has no fingerprint (''): its replay is accepted only for
    the same operation on the same fase and, for a close, the same lotto — what can
    still be told of its request.
    """
    fatta = chiavi.richiesta(session, actor, chiave)
    if fatta is None:
        return None
    if fatta.impronta:
        if fatta.impronta != impronta:
            raise ChiaveRiusata()
    elif fatta.operazione != operazione or (lotto_id is not None and fatta.entita_id != lotto_id):
        raise ChiaveRiusata()
    # A supervisor may have cancelled the lotto since (rettifiche.annulla_lotto detaches its key).
    lotto = session.get(Lotto, fatta.entita_id) if fatta.entita_id is not None else None
    if lotto is None:
        raise RuleViolation(
            N_("Il lotto è stato annullato dal capoturno: se serve, aprirne uno nuovo."), code="LOTTO_ANNULLATO"
        )
    if not fatta.impronta and fase_id is not None and lotto.fase_id != fase_id:
        raise ChiaveRiusata()
    return Esito(lotto, ripetuto=True)


def _lotto_dict(lotto: Lotto) -> dict[str, object]:
    return {
        "CodiceLotto": lotto.codice_lotto,
        "FaseID": lotto.fase_id,
        "Progressivo": lotto.progressivo,
        "MacchinaID": lotto.macchina_id,
        "OperatoreID": lotto.operatore_id,
        "QtaInput": lotto.qta_input,
        "QtaOutput": lotto.qta_output,
        "QtaScarti": lotto.qta_scarti,
        "CausaleID": lotto.causale_id,
        "DataInizio": lotto.data_inizio.isoformat() if lotto.data_inizio else None,
        "DataFine": lotto.data_fine.isoformat() if lotto.data_fine else None,
    }
