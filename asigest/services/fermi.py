"""Machine stops (R15, SPEC §13): declared at the kiosk or by line software, added,
corrected or split afterwards by a supervisor with a note.

Each operation is one transaction with its LogEventi row. The machine's row is locked
(``FOR UPDATE`` on PostgreSQL and SQL Server; SQLite's writers take the database lock at
BEGIN) while its stops are checked, so two terminals starting a stop at the same instant
are one after the other; the filtered unique index ``UX_Fermi_MacchinaAperto`` refuses
a second running stop whatever slips through. Starting and ending a stop take the same
one-time keys as opening and closing a lotto (R11, ``services/lotti.py``): a replay of
the same request returns the first result, the key with another request is refused.

Stops of one machine never overlap: a supervisor's added or corrected stop that would
cover another one is refused, so the OEE counts each minute once (``domain/oee.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from asigest.domain.actor import Actor
from asigest.domain.oee import CATEGORIE_FERMO
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_, Forbidden, InvalidInput, NotFound, RuleViolation
from asigest.models import CausaleFermo, FaseTipo, Macchina, Utente
from asigest.models.fermi import Fermo
from asigest.models.types import utcnow
from asigest.services import audit, chiavi
from asigest.services.anagrafiche import codice_libero, transazione_con_codice
from asigest.services.lotti import ChiaveRiusata
from asigest.services.uow import DbSession, Riprova, con_riprova_o_conflitto, transaction

INIZIA = "FERMO_INIZIATO"
TERMINA = "FERMO_TERMINATO"
REGISTRA = "FERMO_REGISTRATO"
RETTIFICA = "FERMO_RETTIFICATO"
DIVIDI = "FERMO_DIVISO"


@dataclass(frozen=True)
class EsitoFermo:
    """The stop an operation produced, and whether this call replayed an earlier one."""

    fermo: Fermo
    ripetuto: bool = False


# -- reading ---------------------------------------------------------------------------------


def get_fermo(session: DbSession, fermo_id: int) -> Fermo:
    """One stop by id. Raises NotFound."""
    fermo = session.get(Fermo, fermo_id)
    if fermo is None:
        raise NotFound(N_("Il fermo %(id)s non esiste."), id=fermo_id)
    return fermo


def fermo_in_corso(session: DbSession, macchina_id: int) -> Fermo | None:
    """The running stop of a machine, if any (there is at most one)."""
    return session.scalar(select(Fermo).where(Fermo.macchina_id == macchina_id, Fermo.fine.is_(None)))


def fermi_in_corso(session: DbSession) -> list[Fermo]:
    """Every running stop, oldest first (the wall screen)."""
    return list(session.scalars(select(Fermo).where(Fermo.fine.is_(None)).order_by(Fermo.inizio)))


def list_fermi(
    session: DbSession,
    *,
    macchina_id: int | None = None,
    aperti: bool | None = None,
    da: datetime | None = None,
    a: datetime | None = None,
    causale: str | None = None,
    reparto: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Fermo]:
    """Stops newest first: of a machine, running or ended, touching ``[da, a)`` (UTC), of a
    reason or a Reparto; each with the operator who declared it loaded."""
    query = select(Fermo).options(joinedload(Fermo.operatore))
    if macchina_id is not None:
        query = query.where(Fermo.macchina_id == macchina_id)
    if aperti is not None:
        query = query.where(Fermo.fine.is_(None) if aperti else Fermo.fine.is_not(None))
    if a is not None:
        query = query.where(Fermo.inizio < a)
    if da is not None:
        query = query.where(or_(Fermo.fine.is_(None), Fermo.fine > da))
    if causale:
        query = query.join(CausaleFermo, Fermo.causale_id == CausaleFermo.id).where(CausaleFermo.codice == causale)
    if reparto:
        query = query.join(Macchina, Fermo.macchina_id == Macchina.id).where(Macchina.reparto == reparto)
    return list(session.scalars(query.order_by(Fermo.inizio.desc(), Fermo.id.desc()).limit(limit).offset(offset)))


def causali_per_macchina(session: DbSession, macchina: Macchina) -> list[CausaleFermo]:
    """Active stop reasons of the machine's phase type or of any phase: the kiosk's tiles."""
    return list(
        session.scalars(
            select(CausaleFermo)
            .where(
                CausaleFermo.attiva == true(),
                or_(CausaleFermo.fase_tipo_id.is_(None), CausaleFermo.fase_tipo_id == macchina.fase_tipo_id),
            )
            .order_by(CausaleFermo.pianificato, CausaleFermo.categoria, CausaleFermo.codice)
        )
    )


# -- starting and ending at the machine ------------------------------------------------------


def inizia_fermo(
    session: DbSession,
    *,
    actor: Actor,
    macchina_id: int,
    causale: str,
    note: str | None = None,
    operatore_id: int | None = None,
    chiave: str | None = None,
    impronta: str | None = None,
    adesso: datetime | None = None,
) -> EsitoFermo:
    """Start a stop of a machine now, with its reason's code (R15). A lotto open on the
    machine stays open. ``operatore_id`` defaults to the actor; an OPERATORE may name only
    itself (Forbidden). ``chiave``/``impronta``: the one-time key (R11).

    Raises NotFound (machine), RuleViolation MACCHINA_NON_ATTIVA, CAUSALE_FERMO_NON_VALIDA,
    FERMO_IN_CORSO, OPERATORE_NON_ATTIVO; ChiaveRiusata; Forbidden.
    """
    operatore = _operatore(actor, operatore_id)
    chiavi.richiede_impronta(chiave, impronta)

    def operazione() -> EsitoFermo:
        with transaction(session):
            macchina = _macchina_bloccata(session, macchina_id)
            gia = _gia_eseguita(session, actor, chiave, impronta, INIZIA)
            if gia is not None:
                return gia
            if not macchina.attiva:
                raise RuleViolation(N_("Macchina non attiva: rivolgersi al capoturno."), code="MACCHINA_NON_ATTIVA")
            _operatore_attivo(session, operatore)
            scelta = _causale(session, causale, macchina)
            in_corso = fermo_in_corso(session, macchina.id)
            if in_corso is not None:
                raise _gia_fermo(in_corso)
            fermo = Fermo(
                macchina_id=macchina.id,
                inizio=adesso or utcnow(),
                causale_id=scelta.id,
                operatore_id=operatore,
                note=_nota(note),
            )
            session.add(fermo)
            try:
                session.flush()
                chiavi.registra(session, actor, chiave, impronta, INIZIA, fermo.id)
                session.flush()
            except IntegrityError as exc:
                # Another terminal started a stop, or the same key was committed meanwhile:
                # the next attempt finds it and answers FERMO_IN_CORSO or by the key.
                raise Riprova() from exc
            audit.record(session, actor, INIZIA, "Fermi", fermo.id, postazione=macchina.codice, dopo=fermo_dict(fermo))
        return EsitoFermo(fermo)

    return con_riprova_o_conflitto(session, operazione, tentativi=5)


def termina_fermo(
    session: DbSession,
    *,
    actor: Actor,
    fermo_id: int,
    macchina_id: int | None = None,
    chiave: str | None = None,
    impronta: str | None = None,
    adesso: datetime | None = None,
) -> EsitoFermo:
    """End a running stop now (*Riprendi*). ``macchina_id``: the kiosk's machine, which
    the stop must be of. Raises NotFound, RuleViolation FERMO_GIA_TERMINATO,
    FERMO_ALTRA_MACCHINA; ChiaveRiusata."""
    chiavi.richiede_impronta(chiave, impronta)

    def operazione() -> EsitoFermo:
        with transaction(session):
            fermo = get_fermo(session, fermo_id)
            _macchina_bloccata(session, fermo.macchina_id)
            session.refresh(fermo)
            gia = _gia_eseguita(session, actor, chiave, impronta, TERMINA)
            if gia is not None:
                return gia
            if macchina_id is not None and fermo.macchina_id != macchina_id:
                raise RuleViolation(N_("Questo fermo non è di questa macchina."), code="FERMO_ALTRA_MACCHINA")
            if fermo.fine is not None:
                raise RuleViolation(N_("Il fermo è già terminato."), code="FERMO_GIA_TERMINATO")
            prima = fermo_dict(fermo)
            fermo.fine = max(adesso or utcnow(), fermo.inizio)
            try:
                chiavi.registra(session, actor, chiave, impronta, TERMINA, fermo.id)
                session.flush()
            except IntegrityError as exc:
                raise Riprova() from exc
            audit.record(
                session,
                actor,
                TERMINA,
                "Fermi",
                fermo.id,
                postazione=fermo.macchina.codice,
                prima=prima,
                dopo=fermo_dict(fermo),
            )
        return EsitoFermo(fermo)

    return con_riprova_o_conflitto(session, operazione, tentativi=5)


# -- the supervisor's hand -------------------------------------------------------------------


def registra_fermo(
    session: DbSession,
    *,
    actor: Actor,
    macchina_id: int,
    causale: str,
    inizio: datetime,
    fine: datetime,
    motivo: str,
    note: str | None = None,
    operatore_id: int | None = None,
    adesso: datetime | None = None,
) -> Fermo:
    """A stop nobody declared at the time, added afterwards with a note (``motivo``).

    Raises Forbidden (not a supervisor), InvalidInput (times, note), NotFound,
    RuleViolation CAUSALE_FERMO_NON_VALIDA, FERMI_SOVRAPPOSTI.
    """
    _supervisore(actor)
    testo = _motivo(motivo)
    _orari(inizio, fine, adesso or utcnow())
    with transaction(session):
        macchina = _macchina_bloccata(session, macchina_id)
        scelta = _causale(session, causale, macchina)
        _non_sovrapposto(session, macchina.id, inizio, fine)
        fermo = Fermo(
            macchina_id=macchina.id,
            inizio=inizio,
            fine=fine,
            causale_id=scelta.id,
            operatore_id=operatore_id or actor.utente_id,
            note=_nota(note),
        )
        session.add(fermo)
        session.flush()
        audit.record(session, actor, REGISTRA, "Fermi", fermo.id, dopo=fermo_dict(fermo), motivo=testo)
    return fermo


def correggi_fermo(
    session: DbSession,
    *,
    actor: Actor,
    fermo_id: int,
    motivo: str,
    inizio: datetime | None = None,
    fine: datetime | None = None,
    causale: str | None = None,
    note: str | None = None,
    adesso: datetime | None = None,
) -> Fermo:
    """Correct a stop's start, end, reason or note with a mandatory note (``motivo``);
    what is not given stays. A running stop may get an end. LogEventi keeps before/after.

    Raises Forbidden, InvalidInput, NotFound, RuleViolation CAUSALE_FERMO_NON_VALIDA,
    FERMI_SOVRAPPOSTI.
    """
    _supervisore(actor)
    testo = _motivo(motivo)
    with transaction(session):
        fermo = get_fermo(session, fermo_id)
        macchina = _macchina_bloccata(session, fermo.macchina_id)
        session.refresh(fermo)
        prima = fermo_dict(fermo)
        nuovo_inizio = inizio or fermo.inizio
        nuova_fine = fine or fermo.fine
        _orari(nuovo_inizio, nuova_fine, adesso or utcnow())
        _non_sovrapposto(session, macchina.id, nuovo_inizio, nuova_fine, escluso_id=fermo.id)
        if causale:
            fermo.causale_id = _causale(session, causale, macchina).id
        fermo.inizio, fermo.fine = nuovo_inizio, nuova_fine
        if note is not None:
            fermo.note = _nota(note)
        session.flush()
        session.refresh(fermo)
        audit.record(session, actor, RETTIFICA, "Fermi", fermo.id, prima=prima, dopo=fermo_dict(fermo), motivo=testo)
    return fermo


def dividi_fermo(
    session: DbSession,
    *,
    actor: Actor,
    fermo_id: int,
    alle: datetime,
    causale: str,
    motivo: str,
    adesso: datetime | None = None,
) -> tuple[Fermo, Fermo]:
    """Split a stop at ``alle``: the first part keeps its reason, the second (from
    ``alle`` to the old end, still running if the stop was) takes ``causale`` — a
    breakdown that turned into a wait for the spare part. Returns both parts.

    Raises Forbidden, InvalidInput (``alle`` not inside the stop), NotFound,
    RuleViolation CAUSALE_FERMO_NON_VALIDA.
    """
    _supervisore(actor)
    testo = _motivo(motivo)
    with transaction(session):
        fermo = get_fermo(session, fermo_id)
        macchina = _macchina_bloccata(session, fermo.macchina_id)
        session.refresh(fermo)
        fine = fermo.fine or adesso or utcnow()
        if not fermo.inizio < alle < fine:
            raise InvalidInput(
                {"alle": [N_("Il punto di divisione deve cadere dentro il fermo, tra il suo inizio e la sua fine.")]}
            )
        scelta = _causale(session, causale, macchina)
        prima = fermo_dict(fermo)
        seconda_fine = fermo.fine
        fermo.fine = alle
        session.flush()
        seconda = Fermo(
            macchina_id=macchina.id,
            inizio=alle,
            fine=seconda_fine,
            causale_id=scelta.id,
            operatore_id=fermo.operatore_id,
            note=fermo.note,
        )
        session.add(seconda)
        session.flush()
        session.refresh(fermo)
        audit.record(
            session,
            actor,
            DIVIDI,
            "Fermi",
            fermo.id,
            prima=prima,
            dopo={"primo": fermo_dict(fermo), "secondo": {"FermoID": seconda.id, **fermo_dict(seconda)}},
            motivo=testo,
        )
    return fermo, seconda


# -- stop reasons (admin) --------------------------------------------------------------------


def list_causali_fermo(session: DbSession, *, solo_attive: bool = False) -> list[CausaleFermo]:
    """Stop reasons by code."""
    query = select(CausaleFermo).order_by(CausaleFermo.codice)
    if solo_attive:
        query = query.where(CausaleFermo.attiva == true())
    return list(session.scalars(query))


def get_causale_fermo(session: DbSession, causale_id: int) -> CausaleFermo:
    """One stop reason by id. Raises NotFound."""
    causale = session.get(CausaleFermo, causale_id)
    if causale is None:
        raise NotFound(N_("La causale di fermo %(id)s non esiste."), id=causale_id)
    return causale


def salva_causale_fermo(
    session: DbSession,
    *,
    actor: Actor | None,
    causale_id: int | None = None,
    codice: str | None = None,
    descrizione: str | None = None,
    fase_tipo: str | None = None,
    categoria: str | None = None,
    pianificato: bool | None = None,
    attiva: bool | None = None,
    cambia_fase_tipo: bool = False,
) -> CausaleFermo:
    """Create a stop reason (``causale_id`` None: code, description and category needed)
    or change the given fields of one. ``fase_tipo`` "" or None with ``cambia_fase_tipo``
    means any phase. Raises InvalidInput, NotFound, Conflict CODICE_IN_USO."""
    errori: dict[str, list[str]] = {}
    nuova = causale_id is None
    codice = (codice or "").strip().upper() if codice is not None else None
    if nuova and not codice:
        errori["Codice"] = [N_("Indicare il codice.")]
    if (descrizione is not None and not descrizione.strip()) or (nuova and descrizione is None):
        errori["Descrizione"] = [N_("Indicare la descrizione.")]
    if categoria is not None and categoria not in CATEGORIE_FERMO:
        errori["Categoria"] = [
            N_("Categoria non valida: una tra GUASTO, ATTREZZAGGIO, MATERIALE, ATTESA, QUALITA, ALTRO.")
        ]
    elif nuova and categoria is None:
        errori["Categoria"] = [N_("Indicare la categoria.")]
    fase_id = None
    if fase_tipo:
        tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == fase_tipo.strip().upper()))
        if tipo is None:
            errori["FaseTipo"] = [N_("Tipo di fase sconosciuto.")]
        else:
            fase_id = tipo.id
    if errori:
        raise InvalidInput(errori)
    chiave = codice or ""
    with transazione_con_codice(session, CausaleFermo, chiave, causale_id):
        if nuova:
            assert codice is not None and descrizione is not None and categoria is not None  # (checked above)
            codice_libero(session, CausaleFermo, codice)
            causale = CausaleFermo(
                codice=codice,
                descrizione=descrizione.strip(),
                fase_tipo_id=fase_id,
                categoria=categoria,
                pianificato=bool(pianificato),
                attiva=True if attiva is None else attiva,
            )
            session.add(causale)
            prima = None
        else:
            assert causale_id is not None
            causale = get_causale_fermo(session, causale_id)
            prima = causale_dict(causale)
            if codice:
                codice_libero(session, CausaleFermo, codice, causale.id)
                causale.codice = codice
            if descrizione is not None:
                causale.descrizione = descrizione.strip()
            if fase_tipo or cambia_fase_tipo:
                causale.fase_tipo_id = fase_id
            if categoria is not None:
                causale.categoria = categoria
            if pianificato is not None:
                causale.pianificato = pianificato
            if attiva is not None:
                causale.attiva = attiva
        session.flush()
        audit.record(
            session,
            actor,
            "CAUSALE_FERMO_CREATA" if nuova else "CAUSALE_FERMO_MODIFICATA",
            "CausaliFermo",
            causale.id,
            prima=prima,
            dopo=causale_dict(causale),
        )
    return causale


def causale_dict(causale: CausaleFermo) -> dict[str, object]:
    return {
        "Codice": causale.codice,
        "Descrizione": causale.descrizione,
        "FaseTipoID": causale.fase_tipo_id,
        "Categoria": causale.categoria,
        "Pianificato": causale.pianificato,
        "Attiva": causale.attiva,
    }


# -- shared ----------------------------------------------------------------------------------


def fermo_dict(fermo: Fermo) -> dict[str, object]:
    return {
        "MacchinaID": fermo.macchina_id,
        "Inizio": fermo.inizio.isoformat(),
        "Fine": fermo.fine.isoformat() if fermo.fine else None,
        "CausaleFermoID": fermo.causale_id,
        "OperatoreID": fermo.operatore_id,
        "Note": fermo.note,
    }


def _macchina_bloccata(session: DbSession, macchina_id: int) -> Macchina:
    """The machine, locked until commit (PostgreSQL, SQL Server): its stops change one at a time."""
    macchina = session.scalar(select(Macchina).where(Macchina.id == macchina_id).with_for_update(of=Macchina))
    if macchina is None:
        raise NotFound(N_("La macchina %(id)s non esiste."), id=macchina_id)
    return macchina


def _causale(session: DbSession, codice: str, macchina: Macchina) -> CausaleFermo:
    causale = session.scalar(select(CausaleFermo).where(CausaleFermo.codice == (codice or "").strip().upper()))
    if causale is None or not causale.attiva:
        raise RuleViolation(
            N_("Causale di fermo %(codice)s sconosciuta o non attiva."), code="CAUSALE_FERMO_NON_VALIDA", codice=codice
        )
    if causale.fase_tipo_id not in (None, macchina.fase_tipo_id):
        raise RuleViolation(
            N_("La causale di fermo %(codice)s non vale per la fase %(fase)s: sceglierne un'altra."),
            code="CAUSALE_FERMO_NON_VALIDA",
            codice=causale.codice,
            fase=macchina.fase_tipo.codice,
        )
    return causale


def _gia_fermo(in_corso: Fermo) -> RuleViolation:
    return RuleViolation(
        N_("La macchina è già ferma (%(causale)s): premere «Riprendi» prima di dichiarare un altro fermo."),
        code="FERMO_IN_CORSO",
        causale=in_corso.causale.codice,
    )


def _non_sovrapposto(
    session: DbSession, macchina_id: int, inizio: datetime, fine: datetime | None, *, escluso_id: int | None = None
) -> None:
    query = select(Fermo).where(Fermo.macchina_id == macchina_id, or_(Fermo.fine.is_(None), Fermo.fine > inizio))
    if fine is not None:
        query = query.where(Fermo.inizio < fine)
    if escluso_id is not None:
        query = query.where(Fermo.id != escluso_id)
    altro = session.scalar(query.order_by(Fermo.inizio).limit(1))
    if altro is not None:
        raise RuleViolation(
            N_(
                "Il fermo si sovrappone al fermo %(id)s (%(causale)s) della stessa macchina: correggere quello o gli orari."
            ),
            code="FERMI_SOVRAPPOSTI",
            id=altro.id,
            causale=altro.causale.codice,
        )
    if fine is None:
        in_corso = session.scalar(
            select(Fermo.id).where(
                Fermo.macchina_id == macchina_id, Fermo.fine.is_(None), Fermo.id != (escluso_id or 0)
            )
        )
        if in_corso is not None:
            raise RuleViolation(N_("La macchina ha già un fermo in corso."), code="FERMO_IN_CORSO")


def _orari(inizio: datetime, fine: datetime | None, adesso: datetime) -> None:
    errori: dict[str, list[str]] = {}
    if inizio > adesso:
        errori["Inizio"] = [N_("L'inizio del fermo non può essere nel futuro.")]
    if fine is not None and fine > adesso:
        errori["Fine"] = [N_("La fine del fermo non può essere nel futuro.")]
    elif fine is not None and fine <= inizio:
        errori["Fine"] = [N_("La fine del fermo deve venire dopo il suo inizio.")]
    if errori:
        raise InvalidInput(errori)


def _motivo(motivo: str | None) -> str:
    testo = (motivo or "").strip()
    if not testo:
        raise InvalidInput({"Motivo": [N_("Indicare il motivo della modifica: resta nel registro eventi.")]})
    return testo[:500]


def _nota(note: str | None) -> str | None:
    return (note or "").strip()[:500] or None


def _supervisore(actor: Actor) -> None:
    if not actor.puo(SUPERVISORE):
        raise Forbidden(N_("Solo un capoturno può aggiungere o correggere i fermi."))


def _operatore(actor: Actor, operatore_id: int | None) -> int:
    if operatore_id is None or operatore_id == actor.utente_id:
        return actor.utente_id
    if not actor.puo(SUPERVISORE):
        raise Forbidden(N_("Un operatore dichiara i fermi solo a proprio nome."))
    return operatore_id


def _operatore_attivo(session: DbSession, operatore_id: int) -> None:
    operatore = session.get(Utente, operatore_id)
    if operatore is None or not operatore.attivo:
        raise RuleViolation(N_("Operatore non attivo: rivolgersi al capoturno."), code="OPERATORE_NON_ATTIVO")


def _gia_eseguita(
    session: DbSession, actor: Actor, chiave: str | None, impronta: str | None, operazione: str
) -> EsitoFermo | None:
    """The stop an earlier request with the same key produced (R11), or ChiaveRiusata
    when the key was first used for another request."""
    fatta = chiavi.richiesta(session, actor, chiave)
    if fatta is None:
        return None
    if fatta.impronta != impronta or fatta.operazione != operazione or fatta.entita_id is None:
        raise ChiaveRiusata()
    return EsitoFermo(get_fermo(session, fatta.entita_id), ripetuto=True)
