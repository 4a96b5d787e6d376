"""The KPIs of SPEC §6, one definition each, shared by the dashboard page, the API and exports.

Definitions (``calcola_kpi``):

- **Period**: whole local days ``da``..``a`` in the plant's zone (default: the ISO week,
  Monday to Sunday, holding today: ``periodo_predefinito``). The KPIs of the period are
  over the lotti **closed** in it: DataFine in [local midnight of ``da``, local midnight
  after ``a``), turned into UTC with the zone's rules of each day (23/25-hour days around
  daylight-saving changes included). At most 366 days (``domain.kpi.errori_periodo``).
- ``lotti_settimana``: how many lotti closed in the period (the name is the contract's;
  it is the period's count for any period). ``lotti_per_fase``: the same by phase type,
  every active FaseTipo code always present (0 included), plus an inactive type's code
  when lotti of its fasi closed in the period — so the values add up to
  ``lotti_settimana``. A lotto's type is its fase's (not its machine's, which an admin may
  change later).
- ``pezzi_buoni`` / ``pezzi_scartati``: Σ QtaOutput / Σ QtaScarti of those lotti;
  ``scarti_percent`` = 100 · scrap / (good + scrap), 2 decimals (halves up), 0.0 when
  nothing closed. The remainder of a lotto closed short (R7: it returns to the fase's
  availability) was not worked, so it counts neither as good nor as scrap.
- Pareto lists ``scarti_per_fase``, ``scarti_per_macchina``, ``scarti_per_causale``:
  scrap of the period by phase type / machine / scrap reason, largest first, equal
  totals by code, only entries above zero. R7 makes a reason mandatory with scrap, so a
  "no reason" entry (CausaleID, Codice and Descrizione null) appears only if the data
  breaks R7 (e.g. rows written outside the application).
- ``top_operatori``: up to 5 operators by good pieces of the lotti closed in the period,
  credited to the operator who **opened** the lotto (OperatoreID: who worked it; the one
  who closed it may be a colleague at shift change), largest first, equal totals by
  OperatoreID, only operators with good pieces; Nome = "Nome Cognome".
- ``lotti_aperti``: lotti open now; ``lotti_dimenticati``: of those, open longer than the
  R13 limit (``ore_dimenticato``) now. Both regardless of the period.
- ``resa_primo_passaggio``: first-pass yield by phase type, 100 · Σ good / Σ (good +
  scrap) of its lotti closed in the period, 2 decimals; None when none closed. As for
  ``scarti_percent``, a remainder returned to availability was not worked and is not
  counted. Keys as ``lotti_per_fase``.
- ``produzione_giornaliera``: good pieces per local day (by DataFine) over the 30 days
  ending with the period's last day or today, whichever is earlier, oldest first, days
  with nothing included (``{"data": date, "pezzi_buoni": n}``).
- ``durata_media_minuti``: by phase type, the mean of DataFine − DataInizio in minutes
  of the lotti closed in the period, 1 decimal; None when none closed. Keys as
  ``lotti_per_fase``.

The KPIs read only ASI_GEST (lotti, fasi, machines, reasons, users), never the ERP: an
order's NULL ERP fields or an unreachable ERP change nothing here.

How it stays fast on years of history (SPEC §11): the figures by phase type (counts,
good, scrap, first-pass yield, mean duration), the 30-day chart and the top operators
are read from the daily summaries KpiGiorni and KpiOperatoriGiorni
(services/riepilogo_kpi.py: a few hundred rows a day at most, kept exact in the same
transaction as every lotto), so their cost follows the days asked for, not the lotti
in them. The summaries are used only when kept for the plant's zone; otherwise (and
for the scrap Pareto lists always) the queries read the lotti.
Every query on the lotti reads the period's lotti
through ``IX_Lotti_DataFine_KPI`` (DataFine first, then every column the KPIs read;
migration 0005), so it walks one range of one index and never the table, and its cost
follows the lotti of the period and of the chart's 30 days, not the history.
Aggregates are computed by the database; a few hundred grouped rows at most come back
to Python. On the 1M-lotti reference data set (SQLite, ~10,000 lotti a week) a whole
week takes about 21 ms, 30 days about 90 ms, a year about 1.2 s (at 10k lotti: 2.5, 3.5
and 12 ms); the same week costs the same with three months or two years of history.

- The phase-type figures group the period's lotti by FaseID first (on the index alone)
  and join the few hundred fasi after, instead of looking up the fase of each lotto.
- Scrap by reason and by machine come from one query grouped by both. Grouping by the
  machine alone lets SQLite, with statistics (ANALYZE), prefer a skip-scan of
  ``IX_Lotti_MacchinaID_DataFine`` that reads every lotto row from the table (three to
  five times slower). The top operators' query met the same skip-scan of
  ``IX_Lotti_OperatoreID_DataFine``; it groups by ``OperatoreID + 0``, which is no plain
  column, so SQLite reads the period's range of the covering index instead (3.9 → 1.9 ms
  a week at 1M lotti).
- The daily chart is one SELECT of 30 scalar subqueries, one range sum per day with UTC
  bounds computed in Python from local midnights: portable, exact on daylight-saving
  days, and ten times faster on SQLite than grouping the 30 days by a CASE over DataFine
  (each row compared with up to 30 bounds).
- The mean duration needs Σ (DataFine − DataInizio), and no timestamp difference is
  portable SQL; reading the period's lotti into Python to subtract there cost 30–50 ms
  a week at 1M lotti. So ``dialects.SecondiTra`` compiles per database to its own exact
  difference in seconds (SQLite julianday, PostgreSQL EXTRACT(EPOCH), SQL Server
  DATEDIFF_BIG in milliseconds), summed by the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import NamedTuple, TypedDict

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Date,
    Row,
    Select,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import Label

from asigest.dialects import SecondiTra
from asigest.domain import kpi as regole
from asigest.domain.periodo import Periodo, mezzanotte_utc, oggi, settimana_iso
from asigest.errors import InvalidInput
from asigest.models import (
    CausaleScarto,
    Fase,
    FaseTipo,
    KpiGiorno,
    KpiOperatoreGiorno,
    KpiScartiGiorno,
    Lotto,
    Macchina,
    Utente,
)
from asigest.models.types import UTCDateTime
from asigest.services import riepilogo_kpi
from asigest.services.uow import DbSession


class ScartiFase(TypedDict):
    FaseTipo: str
    pezzi_scartati: int


class ScartiMacchina(TypedDict):
    MacchinaID: int
    Codice: str
    pezzi_scartati: int


class ScartiCausale(TypedDict):
    """A reason's scrap; the three fields are null only for scrap without a reason (R7 broken)."""

    CausaleID: int | None
    Codice: str | None
    Descrizione: str | None
    pezzi_scartati: int


class OperatoreTop(TypedDict):
    OperatoreID: int
    Nome: str  # "Nome Cognome"
    pezzi_buoni: int


class GiornoProduzione(TypedDict):
    data: date
    pezzi_buoni: int


class _ScartiPareto(TypedDict):
    scarti_per_macchina: list[ScartiMacchina]
    scarti_per_causale: list[ScartiCausale]


@dataclass(frozen=True)
class Kpi:
    """The KPIs of one period (whole local days ``periodo.da``..``periodo.a``); see the
    module docstring for each definition."""

    periodo: Periodo
    lotti_settimana: int  # lotti closed in the period
    lotti_per_fase: dict[str, int]  # every active phase type code (and inactive ones with lotti) → lotti closed
    pezzi_buoni: int
    pezzi_scartati: int
    scarti_percent: float  # 2 decimals, 0.0 when nothing closed
    # Pareto lists, largest first; each item a dict with the keys shown.
    scarti_per_fase: list[ScartiFase] = field(default_factory=list)
    scarti_per_macchina: list[ScartiMacchina] = field(default_factory=list)
    scarti_per_causale: list[ScartiCausale] = field(default_factory=list)
    top_operatori: list[OperatoreTop] = field(default_factory=list)  # ≤5
    lotti_aperti: int = 0  # open now
    lotti_dimenticati: int = 0  # open longer than FORGOTTEN_HOURS now (R13)
    resa_primo_passaggio: dict[str, float | None] = field(default_factory=dict)  # code → % good of worked, None if none
    produzione_giornaliera: list[GiornoProduzione] = field(default_factory=list)  # 30 days, oldest first
    durata_media_minuti: dict[str, float | None] = field(
        default_factory=dict
    )  # code → minutes (1 decimal), None if none

    def as_api(self) -> dict[str, object]:
        """The ``/api/dashboard/kpi`` object: SPEC §6's keys, dates as ISO strings."""
        da, a = self.periodo.giorni()
        return {
            "periodo": {"da": da.isoformat(), "a": a.isoformat()},
            "lotti_settimana": self.lotti_settimana,
            "lotti_per_fase": dict(self.lotti_per_fase),
            "pezzi_buoni": self.pezzi_buoni,
            "pezzi_scartati": self.pezzi_scartati,
            "scarti_percent": self.scarti_percent,
            "scarti_per_fase": [dict(voce) for voce in self.scarti_per_fase],
            "scarti_per_macchina": [dict(voce) for voce in self.scarti_per_macchina],
            "scarti_per_causale": [dict(voce) for voce in self.scarti_per_causale],
            "top_operatori": [dict(voce) for voce in self.top_operatori],
            "lotti_aperti": self.lotti_aperti,
            "lotti_dimenticati": self.lotti_dimenticati,
            "resa_primo_passaggio": dict(self.resa_primo_passaggio),
            "produzione_giornaliera": [
                {"data": voce["data"].isoformat(), "pezzi_buoni": voce["pezzi_buoni"]}
                for voce in self.produzione_giornaliera
            ],
            "durata_media_minuti": dict(self.durata_media_minuti),
        }


def periodo_predefinito(adesso: datetime, zona: str) -> Periodo:
    """The current ISO week in the plant's zone (SPEC §6's default)."""
    return settimana_iso(oggi(zona, adesso))


def calcola_kpi(session: DbSession, periodo: Periodo, *, adesso: datetime, zona: str, ore_dimenticato: float) -> Kpi:
    """The KPIs of ``periodo`` in the plant's ``zona``: both days given, at most 366 days,
    or neither (``Periodo()``: the current ISO week, ``periodo_predefinito``). ``adesso``
    is now (aware): for the open and forgotten lotti and the daily chart's last day;
    ``ore_dimenticato`` is the R13 limit. Reads only; see the module docstring.

    Raises InvalidInput (``da``/``a``) for a period with one day only, inverted, or too long.
    """
    errori = regole.errori_periodo(periodo.da, periodo.a)
    if errori:
        raise InvalidInput(errori)
    if periodo.da is None:
        periodo = periodo_predefinito(adesso, zona)
    inizio, fine = periodo.limiti_utc(zona)
    riepilogo = riepilogo_kpi.in_uso(session, zona)

    per_tipo = _per_tipo_riepilogo(session, periodo) if riepilogo else _per_tipo(session, inizio, fine)
    tipi = session.execute(
        select(FaseTipo.id, FaseTipo.codice, FaseTipo.attivo).order_by(FaseTipo.ordine, FaseTipo.codice)
    ).all()
    # Active types always; a retired one while lotti of its fasi close in the period.
    per_codice = {
        codice: per_tipo.get(tipo_id, _NIENTE) for tipo_id, codice, attivo in tipi if attivo or tipo_id in per_tipo
    }
    buoni = sum(t.buoni for t in per_codice.values())
    scartati = sum(t.scarti for t in per_codice.values())
    aperti, dimenticati = _aperti(session, adesso - timedelta(hours=ore_dimenticato))
    return Kpi(
        periodo=periodo,
        lotti_settimana=sum(t.lotti for t in per_codice.values()),
        lotti_per_fase={codice: t.lotti for codice, t in per_codice.items()},
        pezzi_buoni=buoni,
        pezzi_scartati=scartati,
        scarti_percent=regole.percentuale(scartati, buoni + scartati) or 0.0,
        scarti_per_fase=[
            {"FaseTipo": codice, "pezzi_scartati": n}
            for codice, n in regole.pareto({c: t.scarti for c, t in per_codice.items()}, lambda c: c)
        ],
        **(_scarti_riepilogo(session, periodo) if riepilogo else _scarti(session, inizio, fine)),
        top_operatori=_top_operatori_riepilogo(session, periodo)
        if riepilogo
        else _top_operatori(session, inizio, fine),
        lotti_aperti=aperti,
        lotti_dimenticati=dimenticati,
        resa_primo_passaggio={c: regole.percentuale(t.buoni, t.buoni + t.scarti) for c, t in per_codice.items()},
        produzione_giornaliera=(_produzione_giornaliera_riepilogo if riepilogo else _produzione_giornaliera)(
            session, regole.giorni_produzione(periodo.giorni()[1], oggi(zona, adesso)), zona
        ),
        durata_media_minuti={c: regole.media_minuti(t.secondi, t.lotti) for c, t in per_codice.items()},
    )


# -- queries -------------------------------------------------------------------------------


class _Totali(NamedTuple):
    """The lotti of one phase type closed in the period: how many, Σ good, Σ scrap, Σ seconds open."""

    lotti: int
    buoni: int
    scarti: int
    secondi: float


_NIENTE = _Totali(0, 0, 0, 0.0)


def _chiusi_tra(
    inizio: datetime | BindParameter[datetime], fine: datetime | BindParameter[datetime]
) -> ColumnElement[bool]:
    return (Lotto.data_fine >= inizio) & (Lotto.data_fine < fine)


# Most statements are built once and run with the period's bounds bound: building them
# for every request cost as much as running them on a small plant. (Not the top
# operators': SQL Server renders its LIMIT into the statement.)
_INIZIO: BindParameter[datetime] = bindparam("inizio", type_=UTCDateTime())
_FINE: BindParameter[datetime] = bindparam("fine", type_=UTCDateTime())


@cache
def _query_per_tipo() -> Select[int, int, int | None, int | None, float | None]:
    per_fase = (
        select(
            Lotto.fase_id.label("fase_id"),
            func.count().label("lotti"),
            func.sum(Lotto.qta_output).label("buoni"),
            func.sum(Lotto.qta_scarti).label("scarti"),
            func.sum(SecondiTra(Lotto.data_inizio, Lotto.data_fine)).label("secondi"),
        )
        .where(_chiusi_tra(_INIZIO, _FINE))
        .group_by(Lotto.fase_id)
        .subquery("per_fase")
    )
    return (
        select(
            Fase.fase_tipo_id,
            func.sum(per_fase.c.lotti),
            func.sum(per_fase.c.buoni),
            func.sum(per_fase.c.scarti),
            func.sum(per_fase.c.secondi),
        )
        .join(Fase, Fase.id == per_fase.c.fase_id)
        .group_by(Fase.fase_tipo_id)
    )


def _per_tipo(session: DbSession, inizio: datetime, fine: datetime) -> dict[int, _Totali]:
    """``{FaseTipoID: _Totali}`` of the lotti closed in [inizio, fine)."""
    righe = session.execute(_query_per_tipo(), {"inizio": inizio, "fine": fine})
    return {
        tipo: _Totali(int(n), int(buoni or 0), int(scarti or 0), float(secondi or 0))
        for tipo, n, buoni, scarti, secondi in righe
    }


@cache
def _query_per_tipo_riepilogo() -> Select[int, int, int | None, int | None, int | None]:
    return (
        select(
            KpiGiorno.fase_tipo_id,
            func.sum(KpiGiorno.lotti),
            func.sum(KpiGiorno.qta_output),
            func.sum(KpiGiorno.qta_scarti),
            func.sum(KpiGiorno.microsecondi),
        )
        .where(KpiGiorno.giorno >= bindparam("da", type_=Date()), KpiGiorno.giorno <= bindparam("a", type_=Date()))
        .group_by(KpiGiorno.fase_tipo_id)
    )


def _per_tipo_riepilogo(session: DbSession, periodo: Periodo) -> dict[int, _Totali]:
    """As ``_per_tipo``, from the daily summary: a few rows a day, whatever the volume."""
    righe = session.execute(_query_per_tipo_riepilogo(), {"da": periodo.da, "a": periodo.a})
    return {
        tipo: _Totali(int(n), int(buoni or 0), int(scarti or 0), int(micro or 0) / 1_000_000)
        for tipo, n, buoni, scarti, micro in righe
    }


@cache
def _query_scarti() -> Select[int | None, str | None, str | None, int, str, int]:
    gruppi = (
        select(
            Lotto.causale_id.label("causale_id"),
            Lotto.macchina_id.label("macchina_id"),
            func.sum(Lotto.qta_scarti).label("scarti"),
        )
        .where(_chiusi_tra(_INIZIO, _FINE), Lotto.qta_scarti > 0)
        .group_by(Lotto.causale_id, Lotto.macchina_id)
        .subquery("gruppi")
    )
    return (
        select(
            gruppi.c.causale_id,
            CausaleScarto.codice,
            CausaleScarto.descrizione,
            gruppi.c.macchina_id,
            Macchina.codice,
            gruppi.c.scarti,
        )
        .join(Macchina, Macchina.id == gruppi.c.macchina_id)
        .outerjoin(CausaleScarto, CausaleScarto.id == gruppi.c.causale_id)
    )


def _scarti(session: DbSession, inizio: datetime, fine: datetime) -> _ScartiPareto:
    """``scarti_per_macchina`` and ``scarti_per_causale`` from one query grouped by both."""
    return _pareto(session.execute(_query_scarti(), {"inizio": inizio, "fine": fine}).all())


def _scarti_del_periodo(
    chiave: InstrumentedAttribute[int], valore: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[int]:
    """Σ scrap of the period's KpiScartiGiorni rows whose ``chiave`` equals ``valore``: one
    range of ``IX_KpiScartiGiorni_<key>`` (key, Giorno, QtaScarti), 0 when none."""
    somma = (
        select(func.sum(KpiScartiGiorno.qta_scarti))
        .where(
            chiave == valore,
            KpiScartiGiorno.giorno >= bindparam("da", type_=Date()),
            KpiScartiGiorno.giorno <= bindparam("a", type_=Date()),
        )
        .scalar_subquery()
    )
    return func.coalesce(somma, 0)


@cache
def _query_scarti_macchine() -> Select[int, str, int]:
    return select(Macchina.id, Macchina.codice, _scarti_del_periodo(KpiScartiGiorno.macchina_id, Macchina.id))


@cache
def _query_scarti_causali() -> CompoundSelect[int | None, str | None, str | None, int]:
    # CausaleID 0 in the summary is scrap without a reason: its row reads as None.
    senza = literal(riepilogo_kpi.SENZA_CAUSALE)
    return union_all(
        select(
            CausaleScarto.id,
            CausaleScarto.codice,
            CausaleScarto.descrizione,
            _scarti_del_periodo(KpiScartiGiorno.causale_id, CausaleScarto.id),
        ),
        select(null(), null(), null(), _scarti_del_periodo(KpiScartiGiorno.causale_id, senza)),
    )


def _scarti_riepilogo(session: DbSession, periodo: Periodo) -> _ScartiPareto:
    """As ``_scarti``, from the daily summary by machine and reason: per machine and per
    reason, one index range each (a few dozen), instead of grouping every row of the
    period by both (thousands a day on a large plant)."""
    giorni = {"da": periodo.da, "a": periodo.a}
    macchine = {mid: (codice, int(n)) for mid, codice, n in session.execute(_query_scarti_macchine(), giorni)}
    causali = {
        cid: (codice, descr, int(n)) for cid, codice, descr, n in session.execute(_query_scarti_causali(), giorni)
    }
    return {
        "scarti_per_macchina": [
            {"MacchinaID": mid, "Codice": macchine[mid][0], "pezzi_scartati": n}
            for mid, n in regole.pareto({mid: v[1] for mid, v in macchine.items()}, lambda mid: macchine[mid][0])
        ],
        "scarti_per_causale": [
            {"CausaleID": cid, "Codice": causali[cid][0], "Descrizione": causali[cid][1], "pezzi_scartati": n}
            for cid, n in regole.pareto(
                {cid: v[2] for cid, v in causali.items()}, lambda cid: (cid is None, causali[cid][0] or "")
            )
        ],
    }


def _pareto(righe: Sequence[Row[int | None, str | None, str | None, int, str, int]]) -> _ScartiPareto:
    """The two Pareto lists from rows (CausaleID, Codice, Descrizione, MacchinaID, Codice,
    scrap). The scrap is made an int: PostgreSQL sums a BIGINT column as NUMERIC."""
    macchine = {riga[3]: riga[4] for riga in righe}
    causali = {riga[0]: (riga[1], riga[2]) for riga in righe}
    per_macchina = regole.somma_per((riga[3], int(riga[5])) for riga in righe)
    per_causale = regole.somma_per((riga[0], int(riga[5])) for riga in righe)
    return {
        "scarti_per_macchina": [
            {"MacchinaID": mid, "Codice": macchine[mid], "pezzi_scartati": n}
            for mid, n in regole.pareto(per_macchina, lambda mid: macchine[mid])
        ],
        "scarti_per_causale": [
            {"CausaleID": cid, "Codice": causali[cid][0], "Descrizione": causali[cid][1], "pezzi_scartati": n}
            # No reason (only if R7 was broken) sorts after every code.
            for cid, n in regole.pareto(per_causale, lambda cid: (cid is None, causali[cid][0] or ""))
        ],
    }


def _top_operatori(session: DbSession, inizio: datetime, fine: datetime) -> list[OperatoreTop]:
    """Up to MAX_OPERATORI operators (who opened the lotti) by good pieces, largest first."""
    # ``OperatoreID + 0`` groups the same values but is no plain column: SQLite then
    # reads the period's range of the covering index instead of skip-scanning
    # IX_Lotti_OperatoreID_DataFine and the table (3.9 → ~1.5 ms a week at 1M lotti).
    operatore = (Lotto.operatore_id + literal_column("0")).label("operatore_id")
    return _migliori(session, operatore, func.sum(Lotto.qta_output), _chiusi_tra(inizio, fine))


def _top_operatori_riepilogo(session: DbSession, periodo: Periodo) -> list[OperatoreTop]:
    """As ``_top_operatori``, from the daily summary by operator: each user's Σ good of
    the period is one range of ``IX_KpiOperatoriGiorni_Operatore`` (OperatoreID, Giorno,
    QtaOutput), then the largest five. Grouping the period's rows by operator instead
    sorted every operator's every day (22,000 rows for 90 days of a large plant)."""
    buoni = func.coalesce(
        select(func.sum(KpiOperatoreGiorno.qta_output))
        .where(
            KpiOperatoreGiorno.operatore_id == Utente.id,
            KpiOperatoreGiorno.giorno >= periodo.da,
            KpiOperatoreGiorno.giorno <= periodo.a,
        )
        .scalar_subquery(),
        0,
    ).label("buoni")
    righe = session.execute(
        select(Utente.id, Utente.nome, Utente.cognome, buoni)
        .order_by(buoni.desc(), Utente.id)
        .limit(regole.MAX_OPERATORI)
    )
    return [
        {"OperatoreID": uid, "Nome": f"{nome} {cognome}", "pezzi_buoni": int(n)}
        for uid, nome, cognome, n in righe
        if n and int(n) > 0
    ]


def _migliori(
    session: DbSession, operatore: Label[int], buoni: ColumnElement[int | None], condizione: ColumnElement[bool]
) -> list[OperatoreTop]:
    """The top operators: ``buoni`` (a sum) grouped by ``operatore`` where ``condizione``,
    the MAX_OPERATORI largest above zero (equal totals by id), with their names."""
    totali = (
        select(operatore, buoni.label("buoni"))
        .where(condizione)
        .group_by(operatore)
        .having(buoni > 0)
        .order_by(buoni.desc(), operatore)
        .limit(regole.MAX_OPERATORI)
        .subquery("totali")
    )
    righe = session.execute(
        select(totali.c.operatore_id, Utente.nome, Utente.cognome, totali.c.buoni)
        .join(Utente, Utente.id == totali.c.operatore_id)
        .order_by(totali.c.buoni.desc(), totali.c.operatore_id)
    )
    return [
        {"OperatoreID": uid, "Nome": f"{nome} {cognome}", "pezzi_buoni": int(buoni)}
        for uid, nome, cognome, buoni in righe
    ]


@cache
def _query_giornaliera() -> Select[*tuple[int | None, ...]]:
    limiti = [bindparam(f"g{n}", type_=UTCDateTime()) for n in range(regole.GIORNI_PRODUZIONE + 1)]
    return select(
        *(
            select(func.sum(Lotto.qta_output)).where(_chiusi_tra(limiti[n], limiti[n + 1])).scalar_subquery()
            for n in range(regole.GIORNI_PRODUZIONE)
        )
    )


def _produzione_giornaliera(session: DbSession, giorni: list[date], zona: str) -> list[GiornoProduzione]:
    """Good pieces closed on each of ``giorni`` (GIORNI_PRODUZIONE consecutive local days),
    one range sum per day between UTC instants of local midnights."""
    limiti = [*giorni, giorni[-1] + timedelta(days=1)]
    valori = session.execute(
        _query_giornaliera(), {f"g{n}": mezzanotte_utc(giorno, zona) for n, giorno in enumerate(limiti)}
    ).one()
    return [{"data": giorno, "pezzi_buoni": int(valore or 0)} for giorno, valore in zip(giorni, valori)]


@cache
def _query_giornaliera_riepilogo() -> Select[date, int | None]:
    return (
        select(KpiGiorno.giorno, func.sum(KpiGiorno.qta_output))
        .where(KpiGiorno.giorno >= bindparam("da", type_=Date()), KpiGiorno.giorno <= bindparam("a", type_=Date()))
        .group_by(KpiGiorno.giorno)
    )


def _produzione_giornaliera_riepilogo(session: DbSession, giorni: list[date], _zona: str) -> list[GiornoProduzione]:
    """As ``_produzione_giornaliera``, from the daily summary (its days are the zone's)."""
    per_giorno = dict(session.execute(_query_giornaliera_riepilogo(), {"da": giorni[0], "a": giorni[-1]}).all())
    return [{"data": giorno, "pezzi_buoni": int(per_giorno.get(giorno) or 0)} for giorno in giorni]


@cache
def _query_aperti() -> Select[int, int | None]:
    limite = bindparam("limite", type_=UTCDateTime())
    return select(func.count(), func.sum(case((Lotto.data_inizio < limite, 1), else_=0))).where(
        Lotto.data_fine.is_(None)
    )


def _aperti(session: DbSession, limite_dimenticato: datetime) -> tuple[int, int]:
    """Lotti open now, and those of them opened before ``limite_dimenticato`` (R13)."""
    aperti, dimenticati = session.execute(_query_aperti(), {"limite": limite_dimenticato}).one()
    return int(aperti), int(dimenticati or 0)
