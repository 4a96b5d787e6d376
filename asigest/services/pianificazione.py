"""What the OEE is measured against (SPEC §13), kept by supervisors: the shift calendar
per machine or Reparto with its dated exceptions, and the ideal cycle times per article,
phase type and machine. Each change is one transaction with its LogEventi row."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from asigest.domain.actor import Actor
from asigest.domain.ruoli import SUPERVISORE
from asigest.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from asigest.models import CalendarioTurni, FaseTipo, Macchina, TempoCiclo
from asigest.services import audit
from asigest.services.uow import DbSession, transaction

# -- shift calendar --------------------------------------------------------------------------


def list_turni(session: DbSession) -> list[CalendarioTurni]:
    """Every calendar row: machines' and Reparti's, weekly first (by weekday and start),
    then the dated ones (newest first)."""
    righe = list(session.scalars(select(CalendarioTurni)))
    settimanali = sorted(
        (r for r in righe if r.data is None),
        key=lambda r: (r.macchina_id or 0, r.reparto or "", r.giorno_settimana or 0, r.ora_inizio or time(0)),
    )
    datate = sorted(
        (r for r in righe if r.data is not None), key=lambda r: (r.data, r.ora_inizio or time(0)), reverse=True
    )
    return settimanali + datate


def aggiungi_turno(
    session: DbSession,
    *,
    actor: Actor,
    macchina_id: int | None = None,
    reparto: str | None = None,
    giorno_settimana: int | None = None,
    data: date | None = None,
    ora_inizio: time | None = None,
    ora_fine: time | None = None,
    note: str | None = None,
) -> CalendarioTurni:
    """Add a shift (weekly: ``giorno_settimana`` 1–7; dated: ``data``) for a machine or a
    Reparto. A dated row without times closes that day (a holiday). A shift whose end is
    not after its start ends the next day.

    Raises Forbidden, InvalidInput (which field), NotFound (machine)."""
    _supervisore(actor)
    reparto = (reparto or "").strip()[:50] or None
    errori: dict[str, list[str]] = {}
    if (macchina_id is None) == (reparto is None):
        errori["macchina"] = [N_("Indicare la macchina oppure il reparto (uno dei due).")]
    if (giorno_settimana is None) == (data is None):
        errori["giorno"] = [N_("Indicare il giorno della settimana oppure una data (una delle due).")]
    elif giorno_settimana is not None and not 1 <= giorno_settimana <= 7:
        errori["giorno"] = [N_("Giorno della settimana non valido.")]
    if (ora_inizio is None) != (ora_fine is None):
        errori["ora_fine"] = [N_("Indicare sia l'inizio sia la fine del turno (nessuna delle due: giorno chiuso).")]
    elif ora_inizio is None and data is None:
        errori["ora_inizio"] = [N_("Un turno settimanale ha un orario di inizio e di fine.")]
    elif ora_inizio is not None and ora_inizio == ora_fine:
        errori["ora_fine"] = [N_("Il turno deve finire a un'ora diversa da quella di inizio.")]
    if errori:
        raise InvalidInput(errori)
    with transaction(session):
        if macchina_id is not None and session.get(Macchina, macchina_id) is None:
            raise NotFound(N_("La macchina %(id)s non esiste."), id=macchina_id)
        turno = CalendarioTurni(
            macchina_id=macchina_id,
            reparto=reparto,
            giorno_settimana=giorno_settimana,
            data=data,
            ora_inizio=ora_inizio,
            ora_fine=ora_fine,
            note=(note or "").strip()[:200] or None,
        )
        session.add(turno)
        session.flush()
        audit.record(session, actor, "TURNO_AGGIUNTO", "CalendarioTurni", turno.id, dopo=turno_dict(turno))
    return turno


def elimina_turno(session: DbSession, *, actor: Actor, turno_id: int) -> None:
    """Remove a calendar row (the audit row keeps what it was). Raises Forbidden, NotFound."""
    _supervisore(actor)
    with transaction(session):
        turno = session.get(CalendarioTurni, turno_id)
        if turno is None:
            raise NotFound(N_("La riga di calendario %(id)s non esiste."), id=turno_id)
        audit.record(session, actor, "TURNO_ELIMINATO", "CalendarioTurni", turno.id, prima=turno_dict(turno))
        session.delete(turno)


def turno_dict(turno: CalendarioTurni) -> dict[str, object]:
    return {
        "MacchinaID": turno.macchina_id,
        "Reparto": turno.reparto,
        "GiornoSettimana": turno.giorno_settimana,
        "Data": turno.data.isoformat() if turno.data else None,
        "OraInizio": turno.ora_inizio.isoformat() if turno.ora_inizio else None,
        "OraFine": turno.ora_fine.isoformat() if turno.ora_fine else None,
        "Note": turno.note,
    }


# -- cycle times -----------------------------------------------------------------------------


def list_tempi_ciclo(session: DbSession) -> list[TempoCiclo]:
    """Every cycle time, by phase type, article and machine."""
    righe = list(session.scalars(select(TempoCiclo)))
    return sorted(righe, key=lambda r: (r.fase_tipo.ordine, r.codart or "", r.macchina_id or 0))


def imposta_tempo_ciclo(
    session: DbSession,
    *,
    actor: Actor,
    fase_tipo: str,
    secondi: str | Decimal,
    codart: str | None = None,
    macchina_id: int | None = None,
) -> TempoCiclo:
    """Set the ideal seconds per piece for an article (or any, ``codart`` None) in a phase
    type on a machine (or any): the row of that combination is created or changed.

    Raises Forbidden, InvalidInput, NotFound (machine), Conflict (saved at the same
    instant by someone else: try again)."""
    _supervisore(actor)
    errori: dict[str, list[str]] = {}
    try:
        valore = Decimal(str(secondi).strip().replace(",", "."))
    except InvalidOperation:
        valore = Decimal(0)
    if not valore.is_finite() or not Decimal("0.001") <= valore <= Decimal("9999999"):
        errori["secondi"] = [N_("Indicare i secondi per pezzo: un numero maggiore di zero (es. 12,5).")]
    codart = (codart or "").strip()[:30] or None
    with transaction(session):
        tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == (fase_tipo or "").strip().upper()))
        if tipo is None:
            errori["fase_tipo"] = [N_("Tipo di fase sconosciuto.")]
        if errori:
            raise InvalidInput(errori)
        assert tipo is not None
        macchina = session.get(Macchina, macchina_id) if macchina_id is not None else None
        if macchina_id is not None and macchina is None:
            raise NotFound(N_("La macchina %(id)s non esiste."), id=macchina_id)
        if macchina is not None and macchina.fase_tipo_id != tipo.id:
            raise InvalidInput({"macchina": [N_("La macchina lavora un altro tipo di fase.")]})
        riga = session.scalar(
            select(TempoCiclo).where(
                TempoCiclo.fase_tipo_id == tipo.id,
                TempoCiclo.codart.is_(None) if codart is None else TempoCiclo.codart == codart,
                TempoCiclo.macchina_id.is_(None) if macchina_id is None else TempoCiclo.macchina_id == macchina_id,
            )
        )
        prima = tempo_dict(riga) if riga is not None else None
        if riga is None:
            riga = TempoCiclo(codart=codart, fase_tipo_id=tipo.id, macchina_id=macchina_id, secondi_per_pezzo=valore)
            session.add(riga)
        else:
            riga.secondi_per_pezzo = valore
        try:
            session.flush()
        except IntegrityError as exc:  # the filtered unique index: the same combination saved meanwhile
            raise Conflict(N_("Tempo ciclo salvato nello stesso istante da un altro utente: riprovare.")) from exc
        audit.record(session, actor, "TEMPO_CICLO_IMPOSTATO", "TempiCiclo", riga.id, prima=prima, dopo=tempo_dict(riga))
    return riga


def elimina_tempo_ciclo(session: DbSession, *, actor: Actor, tempo_id: int) -> None:
    """Remove a cycle time (the audit row keeps it). Raises Forbidden, NotFound."""
    _supervisore(actor)
    with transaction(session):
        riga = session.get(TempoCiclo, tempo_id)
        if riga is None:
            raise NotFound(N_("Il tempo ciclo %(id)s non esiste."), id=tempo_id)
        audit.record(session, actor, "TEMPO_CICLO_ELIMINATO", "TempiCiclo", riga.id, prima=tempo_dict(riga))
        session.delete(riga)


def tempo_dict(riga: TempoCiclo) -> dict[str, object]:
    return {
        "CODART": riga.codart,
        "FaseTipoID": riga.fase_tipo_id,
        "MacchinaID": riga.macchina_id,
        "SecondiPerPezzo": str(riga.secondi_per_pezzo),
    }


def _supervisore(actor: Actor) -> None:
    if not actor.puo(SUPERVISORE):
        raise Forbidden(N_("Solo un capoturno può cambiare calendario e tempi ciclo."))
