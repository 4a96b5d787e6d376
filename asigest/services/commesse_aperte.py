"""The copy of the ERP's open orders that the orders list and order search read
(docs/decisioni/2026-12-08-copia-commesse-aperte.md).

The copy lives in the ASI_GEST database (``CommesseAperte``), so every worker and every
server reads the same one. It answers while it is younger than ``freschezza``; the first
request that finds it older claims the refresh with a conditional UPDATE of
``StatoCommesseAperte`` (one claimant among all workers and servers), reads every open
order from the ERP and writes what changed. Requests that find the refresh claimed by
another, or the ERP's circuit breaker open, ask the ERP as before (``ErpGateway.list_open``):
so no answer is ever older than ``freschezza``, and an ERP that does not answer is
reported (503 ``ERP_UNAVAILABLE``) as soon as the copy is too old to stand in for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, Select, Table, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from asigest.erp import Commessa, ErpGateway
from asigest.erp.gateway import MAX_FETCH, escape_like, numero_cercato
from asigest.models import CommessaAperta, ConfigCommessa, StatoCommesseAperte
from asigest.models.types import utcnow
from asigest.services.chunks import chunked
from asigest.services.uow import DbSession, righe_toccate, transaction

log = logging.getLogger(__name__)

# Joins the text columns in ``Testo``: a search holding it is answered by the ERP, so a
# match never spans two columns.
SEPARATORE = "\x1f"
# Below any INT value: NULL sorts last, newest first, as SQLite and SQL Server sort it.
_NULL_IN_FONDO = -(2**31) - 1
# A refresh claimed longer ago than this is taken over (its worker died mid-way).
RECLAMO_SCADUTO = timedelta(minutes=2)
_STATO = 1

_TABELLA = cast(Table, CommessaAperta.__table__)
_STATO_T = cast(Table, StatoCommesseAperte.__table__)
_LEGGI_STATO = select(_STATO_T.c.AggiornataIl).where(_STATO_T.c.ID == _STATO)
_COLONNE = (
    "Esercizio",
    "Numerocom",
    "RifCommCli",
    "CodArt",
    "DesArt",
    "Qta",
    "DataConsegna",
    "IdCliente",
    "NomeCliente",
    "Testo",
    "ChiaveEsercizio",
    "ChiaveNumero",
)


def cerca(
    session: DbSession,
    erp: ErpGateway,
    q: str | None,
    *,
    limit: int,
    offset: int,
    freschezza: timedelta,
    ora: datetime | None = None,
) -> list[tuple[Commessa, bool]] | None:
    """A page of the open orders matching ``q`` (all of them without one), newest first,
    each with whether it is configured here, as ``ErpGateway.list_open`` answers them, from
    a copy at most ``freschezza`` old; refreshes the copy first when it is older.

    None when the copy cannot answer (another worker is refreshing it, the ERP's breaker
    is open, or ``q`` holds the separator): the caller asks the ERP.
    Raises ErpUnavailable when this request refreshes the copy and the ERP does not answer.
    """
    testo = (q or "").strip()
    if SEPARATORE in testo:
        return None
    ora = ora or utcnow()
    if not _fresca(session, freschezza, ora) and not aggiorna(session, erp, freschezza=freschezza, ora=ora):
        return None
    return _pagina(session, testo, limit, offset)


def aggiorna(session: DbSession, erp: ErpGateway, *, freschezza: timedelta, ora: datetime | None = None) -> bool:
    """Refresh the copy from the ERP when it is older than ``freschezza`` and no other
    refresh is running; True when the copy is now at most ``freschezza`` old as of ``ora``.
    Ends the session's transaction first: the claim is a write, which on SQLite begins its
    own transaction.

    Raises ErpUnavailable when the ERP does not answer (the claim is given back).
    """
    ora = ora or utcnow()
    if erp.protezione is not None and erp.protezione.aperto:
        return False  # the ERP is known not to answer: the caller's own ERP call says so at once
    # Not joining the reads the caller began: a write that does is refused on SQLite when
    # another writer committed since (BEGIN IMMEDIATE declares it up front instead).
    session.rollback()
    if not _reclama(session, freschezza, ora):
        return _fresca(session, freschezza, ora)
    try:
        ordini = erp.all_open()
    except BaseException:
        _rilascia(session, ora)
        raise
    return _scrivi(session, ordini, ora)


def _fresca(session: DbSession, freschezza: timedelta, ora: datetime) -> bool:
    # In the session's transaction, which the page's read then shares (one BEGIN on SQLite).
    riga = session.execute(_LEGGI_STATO).first()
    aggiornata = riga[0] if riga else None
    # A time ahead of this server's clock (another server's clock) counts as stale.
    return aggiornata is not None and ora - freschezza < aggiornata <= ora + freschezza


def _e_lo_stato() -> ColumnElement[bool]:
    return StatoCommesseAperte.id == _STATO


def _reclama(session: DbSession, freschezza: timedelta, ora: datetime) -> bool:
    """Claim the refresh (committed at once, so every other worker sees it); False when
    the copy is fresh or another refresh, younger than RECLAMO_SCADUTO, holds the claim."""
    s = StatoCommesseAperte
    stantia = or_(s.aggiornata_il.is_(None), s.aggiornata_il <= ora - freschezza, s.aggiornata_il > ora + freschezza)
    libera = or_(s.aggiornamento_dal.is_(None), s.aggiornamento_dal < ora - RECLAMO_SCADUTO)
    try:
        with transaction(session):
            esito = session.execute(
                update(s).where(_e_lo_stato(), stantia, libera).values(aggiornamento_dal=ora),
                execution_options={"synchronize_session": False},
            )
            if righe_toccate(esito) == 1:
                return True
            if session.execute(select(s.id).where(_e_lo_stato())).first() is not None:
                return False
            # No row yet (a new database): the first to add it holds the claim.
            session.execute(insert(s).values(id=_STATO, aggiornata_il=None, aggiornamento_dal=ora))
    except IntegrityError:
        return False  # another worker added it first (PostgreSQL, SQL Server)
    return True


def _rilascia(session: DbSession, ora: datetime) -> None:
    """Give back this request's claim after the ERP failed: the next request tries again."""
    try:
        with transaction(session):
            session.execute(
                update(StatoCommesseAperte)
                .where(_e_lo_stato(), StatoCommesseAperte.aggiornamento_dal == ora)
                .values(aggiornamento_dal=None),
                execution_options={"synchronize_session": False},
            )
    except Exception:
        # The claim expires by itself (RECLAMO_SCADUTO); the ERP's error is what to report.
        log.warning("Copia delle commesse aperte: aggiornamento non rilasciato", exc_info=True)


class _ReclamoPerso(Exception):
    """Another worker took over this refresh (its claim had expired)."""


def _scrivi(session: DbSession, ordini: Sequence[Commessa], ora: datetime) -> bool:
    """Make the copy ``ordini`` (every open order as read), in one transaction with the
    end of the claim: inserts the new, updates the changed, deletes those no longer open.
    False, writing nothing, when the claim was taken over meanwhile."""
    nuove = {c.id: _valori(c) for c in ordini}
    chiave = _TABELLA.c.CommessaERPId
    try:
        with transaction(session):
            esito = session.execute(
                update(StatoCommesseAperte)
                .where(_e_lo_stato(), StatoCommesseAperte.aggiornamento_dal == ora)
                .values(aggiornata_il=ora, aggiornamento_dal=None),
                execution_options={"synchronize_session": False},
            )
            if righe_toccate(esito) != 1:
                raise _ReclamoPerso()
            attuali = {
                riga[0]: tuple(riga[1:]) for riga in session.execute(select(chiave, *(_TABELLA.c[n] for n in _COLONNE)))
            }
            via = sorted(attuali.keys() - nuove.keys())
            for blocco in chunked(via):
                session.execute(delete(_TABELLA).where(chiave.in_(blocco)))
            aggiunte = [
                {"CommessaERPId": i, **dict(zip(_COLONNE, v, strict=True))}
                for i, v in nuove.items()
                if i not in attuali
            ]
            if aggiunte:
                session.execute(insert(_TABELLA), aggiunte)
            cambiate = [
                {"chiave": i, **dict(zip(_COLONNE, v, strict=True))}
                for i, v in nuove.items()
                if i in attuali and attuali[i] != v
            ]
            if cambiate:
                session.execute(update(_TABELLA).where(chiave == bindparam("chiave")), cambiate)
    except _ReclamoPerso:
        return False
    log.log(
        logging.INFO if aggiunte or cambiate or via else logging.DEBUG,
        "Copia delle commesse aperte aggiornata: %d aperte, %d nuove, %d cambiate, %d non più aperte",
        len(nuove),
        len(aggiunte),
        len(cambiate),
        len(via),
    )
    return True


def _valori(c: Commessa) -> tuple[object, ...]:
    """The copy's row for ``c``, in ``_COLONNE``'s order."""
    testo = SEPARATORE.join((v or "").lower() for v in (c.rifcommcli, c.codart, c.desart, c.nomecliente))
    return (
        c.esercizio,
        c.numerocom,
        c.rifcommcli,
        c.codart,
        c.desart,
        c.qta,
        c.dataconsegna,
        c.idcliente,
        c.nomecliente,
        testo,
        _NULL_IN_FONDO if c.esercizio is None else c.esercizio,
        _NULL_IN_FONDO if c.numerocom is None else c.numerocom,
    )


def _pagina(session: DbSession, testo: str, limit: int, offset: int) -> list[tuple[Commessa, bool]]:
    """One page of the copy, in ``ErpGateway.list_open``'s order and with its matches,
    each with whether it is configured here."""
    parametri: dict[str, object] = {"limite": max(1, min(int(limit), MAX_FETCH)), "salta": max(0, int(offset))}
    if not testo:
        filtro = "tutte"
    else:
        parametri["modello"] = f"%{escape_like(testo.lower())}%"
        esercizio, numerocom = numero_cercato(testo)
        parametri.update(esercizio=esercizio, numerocom=numerocom)
        filtro = "testo" if numerocom is None else "testo_numero" if esercizio is None else "testo_anno_numero"
    return [
        (
            Commessa(
                id=r[0],
                esercizio=r[1],
                numerocom=r[2],
                rifcommcli=r[3],
                codart=r[4],
                desart=r[5],
                qta=r[6],
                dataconsegna=r[7],
                statocommessa="O",
                idcliente=r[8],
                nomecliente=r[9],
            ),
            r[10] is not None,
        )
        for r in session.execute(_PAGINE[filtro], parametri).all()  # one fetchall, not a fetchone per row
    ]


def _istruzione_pagina(filtro: str) -> Select[tuple[Any, ...]]:
    """The page's SELECT for one kind of search, built once: Core columns, no ORM rows,
    and parameters for everything that varies (building the statement and its cache key
    at every request cost more than running it)."""
    a = _TABELLA.c
    config_t = cast(Table, ConfigCommessa.__table__)
    stmt = select(
        a.CommessaERPId,
        a.Esercizio,
        a.Numerocom,
        a.RifCommCli,
        a.CodArt,
        a.DesArt,
        a.Qta,
        a.DataConsegna,
        a.IdCliente,
        a.NomeCliente,
        config_t.c.ConfigID,
    ).select_from(_TABELLA.outerjoin(config_t, config_t.c.CommessaERPId == a.CommessaERPId))
    if filtro != "tutte":
        condizioni: list[ColumnElement[bool]] = [a.Testo.like(bindparam("modello"), escape="\\")]
        if filtro == "testo_numero":
            condizioni.append(a.Numerocom == bindparam("numerocom"))
        elif filtro == "testo_anno_numero":
            condizioni.append(and_(a.Esercizio == bindparam("esercizio"), a.Numerocom == bindparam("numerocom")))
        stmt = stmt.where(or_(*condizioni))
    return (
        stmt.order_by(a.ChiaveEsercizio.desc(), a.ChiaveNumero.desc(), a.CommessaERPId.desc())
        .limit(bindparam("limite", type_=Integer))
        .offset(bindparam("salta", type_=Integer))
    )


_PAGINE = {filtro: _istruzione_pagina(filtro) for filtro in ("tutte", "testo", "testo_numero", "testo_anno_numero")}
