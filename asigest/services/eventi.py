"""Reading the audit log (LogEventi): filtered, newest first, each row ready to read.

The log is append-only (``asigest.models.audit``); this module only reads it.

Speed on millions of rows, with the indexes LogEventi has — (Entita, EntitaID),
(UtenteID, DataOra), (Azione, DataOra), (DataOra) — and no COUNT:

- pages are *keyset* pages, newest first on (DataOra, LogID): the next page starts
  before the last event shown (``prima_di``), so page 1,000 costs what page 1 costs;
  ``limit + 1`` rows tell whether there is a next page;
- one entity instance (Entita + EntitaID) reads its few rows by that index;
- a user or an action walks its (…, DataOra) index newest first and stops at the page;
- an entity type alone (e.g. every event about lotti) has no index that is also
  ordered by time. A bounded probe reads at most ``SOGLIA_RARA + 1`` LogIDs of that
  type from the (Entita, EntitaID) index. A *rare* type (that many or fewer) is then
  read by those LogIDs and sorted in memory. A *frequent* one is read walking the
  DataOra index newest first, keeping its rows: with more than ``SOGLIA_RARA`` of them
  in the log, a page is found after a short walk. For that walk the Entita condition is
  written as an expression (``Entita || ''``) so that no planner, with or without
  statistics, trades the ordered walk for an Entita lookup and a sort of millions of
  rows; and the rare case names its LogIDs because a planner *with* statistics (few
  distinct Entita values) would otherwise pick the walk, through the whole log.
  ``SOGLIA_RARA`` keeps that id list well under SQL Server's 2,100 parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, or_, select

from asigest.domain.periodo import Periodo
from asigest.errors import N_, InvalidInput, NotFound
from asigest.models import LogEvento, Utente
from asigest.services.chunks import chunked
from asigest.services.uow import DbSession

PAGINA = 50
SOGLIA_RARA = 1000
_INT32_MAX = 2**31 - 1

# Entita values written by ``audit.record`` → how a person names one of them.
ENTITA = {
    "Lotti": N_("Lotto"),
    "Fasi": N_("Fase"),
    "ConfigCommessa": N_("Configurazione commessa"),
    "DocumentiTecnici": N_("Documento tecnico"),
    "Utenti": N_("Utente"),
    "ApiToken": N_("Token API"),
    "Macchine": N_("Macchina"),
    "CausaliScarto": N_("Causale di scarto"),
    "FaseTipo": N_("Tipo di fase"),
    "Demo": N_("Dati dimostrativi"),
    "Fermi": N_("Fermo macchina"),
    "CausaliFermo": N_("Causale di fermo"),
    "CalendarioTurni": N_("Calendario turni"),
    "TempiCiclo": N_("Tempo ciclo"),
}

# Every Azione the application writes → (its reading, the Entita it is written with).
# A static test checks that each ``audit.record`` call in ``asigest/`` uses one of these.
AZIONI = {
    "LOTTO_APERTO": (N_("Lotto aperto"), "Lotti"),
    "LOTTO_CHIUSO": (N_("Lotto chiuso"), "Lotti"),
    "LOTTO_RETTIFICATO": (N_("Lotto rettificato"), "Lotti"),
    "LOTTO_ANNULLATO": (N_("Lotto annullato"), "Lotti"),
    "FASE_CREATA": (N_("Fase aggiunta"), "Fasi"),
    "FASE_ELIMINATA": (N_("Fase eliminata"), "Fasi"),
    "FASE_STATO_MODIFICATO": (N_("Stato della fase cambiato"), "Fasi"),
    "CONFIG_CREATA": (N_("Commessa configurata"), "ConfigCommessa"),
    "CONFIG_MODIFICATA": (N_("Configurazione modificata"), "ConfigCommessa"),
    "CONFIG_ELIMINATA": (N_("Configurazione eliminata"), "ConfigCommessa"),
    "DOCUMENTO_CARICATO": (N_("Documento caricato"), "DocumentiTecnici"),
    "DOCUMENTO_ELIMINATO": (N_("Documento eliminato"), "DocumentiTecnici"),
    "LOGIN": (N_("Accesso in ufficio"), "Utenti"),
    "LOGIN_KIOSK": (N_("Accesso al terminale"), "Utenti"),
    "ACCESSO_BLOCCATO": (N_("Accesso bloccato per troppi tentativi errati"), "Utenti"),
    "ACCESSO_SBLOCCATO": (N_("Badge sbloccato a mano"), "Utenti"),
    "LOGOUT": (N_("Uscita dall'ufficio"), "Utenti"),
    "LOGOUT_KIOSK": (N_("Uscita dal terminale"), "Utenti"),
    "UTENTE_CREATO": (N_("Utente creato"), "Utenti"),
    "UTENTE_MODIFICATO": (N_("Utente modificato"), "Utenti"),
    "UTENTE_DISATTIVATO": (N_("Utente disattivato"), "Utenti"),
    "PIN_REIMPOSTATO": (N_("PIN reimpostato"), "Utenti"),
    "PASSWORD_REIMPOSTATA": (N_("Password reimpostata"), "Utenti"),
    "TOKEN_CREATO": (N_("Token API creato"), "ApiToken"),
    "TOKEN_REVOCATO": (N_("Token API revocato"), "ApiToken"),
    "MACCHINA_CREATA": (N_("Macchina creata"), "Macchine"),
    "MACCHINA_MODIFICATA": (N_("Macchina modificata"), "Macchine"),
    "MACCHINA_DISATTIVATA": (N_("Macchina disattivata"), "Macchine"),
    "CAUSALE_CREATA": (N_("Causale di scarto creata"), "CausaliScarto"),
    "CAUSALE_MODIFICATA": (N_("Causale di scarto modificata"), "CausaliScarto"),
    "FASETIPO_CREATA": (N_("Tipo di fase creato"), "FaseTipo"),
    "FASETIPO_MODIFICATA": (N_("Tipo di fase modificato"), "FaseTipo"),
    "CATALOGO_INIZIALIZZATO": (N_("Catalogo di base inserito"), "FaseTipo"),
    "DEMO_CREATA": (N_("Dati dimostrativi creati"), "Demo"),
    "FERMO_INIZIATO": (N_("Fermo macchina iniziato"), "Fermi"),
    "FERMO_TERMINATO": (N_("Fermo macchina terminato"), "Fermi"),
    "FERMO_REGISTRATO": (N_("Fermo aggiunto dal capoturno"), "Fermi"),
    "FERMO_RETTIFICATO": (N_("Fermo corretto"), "Fermi"),
    "FERMO_DIVISO": (N_("Fermo diviso in due"), "Fermi"),
    "CAUSALE_FERMO_CREATA": (N_("Causale di fermo creata"), "CausaliFermo"),
    "CAUSALE_FERMO_MODIFICATA": (N_("Causale di fermo modificata"), "CausaliFermo"),
    "TURNO_AGGIUNTO": (N_("Turno aggiunto al calendario"), "CalendarioTurni"),
    "TURNO_ELIMINATO": (N_("Turno tolto dal calendario"), "CalendarioTurni"),
    "TEMPO_CICLO_IMPOSTATO": (N_("Tempo ciclo impostato"), "TempiCiclo"),
    "TEMPO_CICLO_ELIMINATO": (N_("Tempo ciclo eliminato"), "TempiCiclo"),
}


@dataclass(frozen=True)
class FiltroEventi:
    """What to look for; every part is optional. ``entita_id`` needs ``entita``."""

    entita: str | None = None
    entita_id: int | None = None
    utente_id: int | None = None
    azione: str | None = None
    periodo: Periodo = field(default_factory=Periodo)

    @property
    def una_entita(self) -> bool:
        """True when the filter names one entity instance (a lotto's history)."""
        return self.entita is not None and self.entita_id is not None


@dataclass(frozen=True)
class RigaDettaglio:
    """One field of an event's Dettagli: its value before and after (``ha_*`` False when
    that side does not mention the field) and whether it changed."""

    campo: str
    prima: Any = None
    dopo: Any = None
    ha_prima: bool = False
    ha_dopo: bool = False
    cambiato: bool = False


@dataclass(frozen=True)
class Evento:
    """One LogEventi row as a page shows it."""

    id: int
    data_ora: datetime
    utente_id: int | None
    utente: str | None
    matricola: str | None
    postazione: str | None
    azione: str
    entita: str
    entita_id: int | None
    commessa_erp_id: int | None
    motivo: str | None
    righe: list[RigaDettaglio]

    @property
    def etichetta_azione(self) -> str | None:
        return AZIONI[self.azione][0] if self.azione in AZIONI else None

    @property
    def etichetta_entita(self) -> str | None:
        return ENTITA.get(self.entita)


@dataclass(frozen=True)
class PaginaEventi:
    """Events newest first; ``prossimo`` is the ``prima_di`` of the next page (None: last page)."""

    items: list[Evento]
    has_more: bool
    prossimo: int | None


@dataclass(frozen=True)
class UtenteFiltro:
    id: int
    etichetta: str


def cerca_eventi(
    session: DbSession, *, filtro: FiltroEventi, zona: str, prima_di: int | None = None, limit: int = PAGINA
) -> PaginaEventi:
    """Events matching ``filtro``, newest first (DataOra, then LogID), ``limit`` at a time,
    starting after the event ``prima_di`` when given. The period is whole local days of
    ``zona``.

    Raises InvalidInput (period inverted, EntitaID without Entita), NotFound (unknown
    ``prima_di``).
    """
    if filtro.periodo.invertito:
        raise InvalidInput({"a": [N_("La data finale viene prima di quella iniziale: correggere il periodo.")]})
    if filtro.entita_id is not None and not filtro.entita:
        raise InvalidInput({"entita": [N_("Scegliere anche il tipo di entità per cercare un numero.")]})
    limit = max(1, min(int(limit), 500))
    if filtro.azione in AZIONI and filtro.entita and AZIONI[filtro.azione][1] != filtro.entita:
        # No such event exists: answer without walking an index that cannot find one.
        return PaginaEventi(items=[], has_more=False, prossimo=None)
    condizioni = _condizioni(session, filtro, zona)
    if condizioni is None:
        return PaginaEventi(items=[], has_more=False, prossimo=None)
    stmt = select(LogEvento).where(*condizioni)
    if prima_di is not None:
        stmt = stmt.where(*_prima_di(session, prima_di))
    stmt = stmt.order_by(LogEvento.data_ora.desc(), LogEvento.id.desc()).limit(limit + 1)
    righe = list(session.scalars(stmt))
    has_more = len(righe) > limit
    righe = righe[:limit]
    persone = _persone(session, {r.utente_id for r in righe if r.utente_id is not None})
    items = [_evento(r, persone.get(r.utente_id) if r.utente_id is not None else None) for r in righe]
    return PaginaEventi(items=items, has_more=has_more, prossimo=righe[-1].id if has_more else None)


def utenti_filtro(session: DbSession) -> list[UtenteFiltro]:
    """Every user (active or not: the log keeps the departed), by surname, for the filter."""
    rows = session.execute(
        select(Utente.id, Utente.cognome, Utente.nome, Utente.matricola).order_by(
            Utente.cognome, Utente.nome, Utente.id
        )
    )
    return [UtenteFiltro(r.id, f"{r.cognome} {r.nome} ({r.matricola})") for r in rows]


def righe_dettaglio(dettagli: Any) -> tuple[list[RigaDettaglio], str | None]:
    """Dettagli as rows field | before | after, and the ``motivo`` when there is one.

    ``prima``/``dopo`` objects are read field by field (fields in order of first
    appearance); a value is *changed* when the event has both sides and they differ.
    Anything else in Dettagli (other keys, non-object values) is shown as an "after"
    value, so nothing recorded is ever hidden.
    """
    if dettagli is None:
        return [], None
    if not isinstance(dettagli, dict):
        return [RigaDettaglio("Dettagli", dopo=dettagli, ha_dopo=True)], None
    prima, dopo = dettagli.get("prima"), dettagli.get("dopo")
    motivo = dettagli.get("motivo")
    if motivo is not None and not isinstance(motivo, str):
        motivo = str(motivo)
    prima_d = prima if isinstance(prima, dict) else ({} if prima is None else {"prima": prima})
    dopo_d = dopo if isinstance(dopo, dict) else ({} if dopo is None else {"dopo": dopo})
    entrambi = prima is not None and dopo is not None
    righe = []
    for campo in dict.fromkeys([*prima_d, *dopo_d]):
        ha_prima, ha_dopo = campo in prima_d, campo in dopo_d
        valore_prima, valore_dopo = prima_d.get(campo), dopo_d.get(campo)
        cambiato = entrambi and (ha_prima != ha_dopo or valore_prima != valore_dopo)
        righe.append(RigaDettaglio(str(campo), valore_prima, valore_dopo, ha_prima, ha_dopo, cambiato))
    for campo, valore in dettagli.items():
        if campo not in ("prima", "dopo", "motivo"):
            righe.append(RigaDettaglio(str(campo), dopo=valore, ha_dopo=True))
    return righe, motivo


# -- building blocks ----------------------------------------------------------------


def _condizioni(session: DbSession, filtro: FiltroEventi, zona: str) -> list[ColumnElement[bool]] | None:
    """The WHERE conditions (see the module docstring); None when nothing can match."""
    c = LogEvento
    condizioni: list[ColumnElement[bool]] = []
    if filtro.una_entita:
        condizioni += [c.entita == filtro.entita, c.entita_id == filtro.entita_id]
    elif filtro.entita:
        rari = None
        if filtro.utente_id is None and filtro.azione is None:
            rari = _ids_se_rara(session, filtro.entita)
        if rari is None:
            # A user's or an action's index, or the DataOra walk: keep planners off Entita.
            condizioni.append(c.entita.concat(literal("")) == filtro.entita)
        elif not rari:
            return None
        else:
            condizioni.append(c.id.in_(rari))
    if filtro.utente_id is not None:
        condizioni.append(c.utente_id == filtro.utente_id)
    if filtro.azione:
        condizioni.append(c.azione == filtro.azione)
    inizio, fine = filtro.periodo.inizio_utc(zona), filtro.periodo.fine_utc(zona)
    if inizio is not None:
        condizioni.append(c.data_ora >= inizio)
    if fine is not None:
        condizioni.append(c.data_ora < fine)
    return condizioni


def _ids_se_rara(session: DbSession, entita: str) -> list[int] | None:
    """The LogIDs about ``entita`` when there are at most SOGLIA_RARA, read from the
    (Entita, EntitaID) index and never more than one past the threshold; else None."""
    ids = list(session.scalars(select(LogEvento.id).where(LogEvento.entita == entita).limit(SOGLIA_RARA + 1)))
    return ids if len(ids) <= SOGLIA_RARA else None


def _prima_di(session: DbSession, log_id: int) -> list[ColumnElement[bool]]:
    """Keyset condition: strictly older than event ``log_id`` in (DataOra, LogID) order.
    Written with a plain ``DataOra <=`` bound so that the DataOra indexes serve it."""
    evento = session.get(LogEvento, log_id) if 0 < log_id <= _INT32_MAX else None
    if evento is None:
        raise NotFound(N_("L'evento %(id)s non esiste: ricominciare dai più recenti."), id=log_id)
    quando = evento.data_ora
    return [
        LogEvento.data_ora <= quando,
        or_(LogEvento.data_ora < quando, and_(LogEvento.data_ora == quando, LogEvento.id < log_id)),
    ]


def _persone(session: DbSession, ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{UtenteID: (name, matricola)}`` for the users of one page."""
    found = {}
    for chunk in chunked(sorted(ids)):
        for r in session.execute(
            select(Utente.id, Utente.nome, Utente.cognome, Utente.matricola).where(Utente.id.in_(chunk))
        ):
            found[r.id] = (f"{r.nome} {r.cognome}", r.matricola)
    return found


def _commessa(dettagli: Any) -> int | None:
    """The ERP order an event is about, when its Dettagli name one (config and fase rows do)."""
    if not isinstance(dettagli, dict):
        return None
    for lato in ("dopo", "prima"):
        valori = dettagli.get(lato)
        if isinstance(valori, dict):
            valore = valori.get("CommessaERPId")
            if isinstance(valore, int) and not isinstance(valore, bool) and 0 < valore <= _INT32_MAX:
                return valore
    return None


def _evento(riga: LogEvento, persona: tuple[str, str] | None) -> Evento:
    righe, motivo = righe_dettaglio(riga.dettagli)
    return Evento(
        id=riga.id,
        data_ora=riga.data_ora,
        utente_id=riga.utente_id,
        utente=persona[0] if persona else None,
        matricola=persona[1] if persona else None,
        postazione=riga.postazione,
        azione=riga.azione,
        entita=riga.entita,
        entita_id=riga.entita_id,
        commessa_erp_id=_commessa(riga.dettagli),
        motivo=motivo,
        righe=righe,
    )
