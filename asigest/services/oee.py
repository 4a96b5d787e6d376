"""OEE per machine, line (Reparto) and phase type for a period (SPEC §13): the one place
that reads what ``domain/oee.py`` computes from, shared by the dashboard and the API.

- The period is whole local days in the plant's zone (default: the current ISO week, as
  the KPIs), at most 366 days (``domain.kpi.errori_periodo``).
- Machines: the active ones (or the one asked for, active or not), filtered by phase type
  or Reparto. Each machine's calendar is its own rows, else its Reparto's
  (``domain.oee.turni_del_giorno``).
- Stops: those that end after the period starts or still run, and start before it
  ends, read through ``IX_Fermi_Fine`` (of the machines asked for only, with a filter),
  as plain UTC values (``_fermi``).
- Pieces: Σ good and scrap of the lotti **closed** in the period (DataFine), by machine
  and phase type, and by order too when some cycle time names an article. By machine
  and type only, from the daily summary ``KpiProduzioneGiorni`` (one row per machine,
  type and local day, kept exact by services/riepilogo_kpi.py) when it is in use for
  the plant's zone, as the KPIs decide; by order, or without the summary, from the
  lotti themselves through ``IX_Lotti_DataFine_KPI`` (the same figures, slower). A
  lotto's pieces count on the machine it ran on, at the cycle time of its article: the
  article (CODART) is the ERP's, read in batches only when some cycle time names an
  article; an order the ERP no longer has takes the cycle times for any article.
- Group rows (``totale``, ``reparti``, ``fasi_tipo``) add the machines' times and pieces
  (``domain.oee.somma``): each factor is the group's own ratio.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import DateTime, func, literal_column, null, or_, select, true, type_coerce

from asigest.domain import oee as regole
from asigest.domain.kpi import errori_periodo
from asigest.domain.periodo import Periodo
from asigest.erp import ErpGateway
from asigest.errors import InvalidInput
from asigest.models import (
    CalendarioTurni,
    CausaleFermo,
    Fase,
    FaseTipo,
    KpiProduzioneGiorno,
    Lotto,
    Macchina,
    TempoCiclo,
)
from asigest.models.fermi import Fermo
from asigest.services import riepilogo_kpi
from asigest.services.chunks import IN_CHUNK
from asigest.services.kpi import periodo_predefinito
from asigest.services.uow import DbSession


@dataclass(frozen=True)
class RigaMacchina:
    macchina: Macchina
    figure: regole.FigureOee


@dataclass(frozen=True)
class Oee:
    periodo: Periodo
    macchine: list[RigaMacchina]
    totale: regole.FigureOee
    reparti: dict[str, regole.FigureOee]
    fasi_tipo: dict[str, regole.FigureOee]

    def as_api(self) -> dict[str, object]:
        """The object of ``GET /api/dashboard/oee`` (SPEC §13)."""
        da, a = self.periodo.giorni()
        return {
            "periodo": {"da": da.isoformat(), "a": a.isoformat()},
            "macchine": [
                {
                    "MacchinaID": r.macchina.id,
                    "Codice": r.macchina.codice,
                    "Descrizione": r.macchina.descrizione,
                    "Reparto": r.macchina.reparto,
                    "FaseTipo": r.macchina.fase_tipo.codice,
                    **figure_api(r.figure),
                }
                for r in self.macchine
            ],
            "totale": figure_api(self.totale),
            "reparti": [{"Reparto": nome or None, **figure_api(f)} for nome, f in self.reparti.items()],
            "fasi_tipo": [{"FaseTipo": nome, **figure_api(f)} for nome, f in self.fasi_tipo.items()],
        }


def figure_api(f: regole.FigureOee) -> dict[str, object]:
    """One machine's or group's figures under the API's keys: minutes with 2 decimals,
    factors as fractions with 4, None with the missing input named in ``mancante``."""
    m = regole.arrotonda_minuti
    senza = f.senza_calendario
    return {
        "tempo_calendario_min": None if senza else m(f.tempo_calendario),
        "tempo_fermi_pianificati_min": m(f.tempo_fermi_pianificati),
        "tempo_pianificato_min": None if senza else m(f.tempo_pianificato),
        "tempo_fermo_min": m(f.tempo_fermo),
        "tempo_lavoro_min": None if senza else m(f.tempo_lavoro),
        "pezzi_buoni": f.pezzi_buoni,
        "pezzi_scartati": f.pezzi_scartati,
        "disponibilita": regole.frazione(f.disponibilita),
        "efficienza": regole.frazione(f.efficienza),
        "qualita": regole.frazione(f.qualita),
        "oee": regole.frazione(f.oee),
        "mancante": f.mancante,
        "articoli_senza_tempo_ciclo": sorted(f.articoli_senza_ciclo),
        "fermi_per_causale": [
            {
                "Codice": v.codice,
                "Descrizione": v.descrizione,
                "Categoria": v.categoria,
                "minuti": m(v.minuti),
                "fermi": v.fermi,
            }
            for v in f.fermi_per_causale
        ],
        "perdita_velocita_min": m(f.perdita_velocita),
        "perdita_scarti_min": m(f.perdita_scarti),
        "guasti": f.guasti,
        "mtbf_min": m(f.mtbf),
        "mttr_min": m(f.mttr),
    }


def calcola_oee(
    session: DbSession,
    erp: ErpGateway | None,
    periodo: Periodo,
    *,
    zona: str,
    adesso: datetime,
    macchina_id: int | None = None,
    fase_tipo: str | None = None,
    reparto: str | None = None,
) -> Oee:
    """The OEE figures of ``periodo`` (both days or neither: the current ISO week) per
    machine and for the group asked for. ``erp`` is needed only when a cycle time names an
    article (ErpUnavailable otherwise propagates: the figures would be wrong without it).

    Raises InvalidInput (``da``/``a``).
    """
    errori = errori_periodo(periodo.da, periodo.a)
    if errori:
        raise InvalidInput(errori)
    if periodo.da is None:
        periodo = periodo_predefinito(adesso, zona)
    giorni = periodo.giorni()
    inizio, fine = periodo.limiti_utc(zona)

    macchine = _macchine(session, macchina_id, fase_tipo, reparto)
    ids = {m.id for m in macchine}
    calendario = _calendario(session, giorni)
    # Only the machines asked for: a Reparto's or a phase type's stops, not the plant's.
    fermi = _fermi(session, inizio, fine, None if macchina_id is None and not (fase_tipo or reparto) else sorted(ids))
    cicli = [
        regole.RegolaCiclo(r.codart, r.fase_tipo_id, r.macchina_id, Decimal(r.secondi_per_pezzo))
        for r in session.scalars(select(TempoCiclo))
    ]
    per_articolo = any(c.codart is not None for c in cicli)
    per_commessa = per_articolo and erp is not None
    if not per_commessa and riepilogo_kpi.in_uso(session, zona):
        produzione = _produzione_riepilogo(session, giorni, macchina_id)
    else:
        produzione = _produzione(session, inizio, fine, macchina_id, per_commessa=per_commessa)
    articoli = _articoli(
        erp, {r[0] for m, righe_m in produzione.items() if m in ids for r in righe_m if r[0] is not None}, cicli
    )

    righe = []
    turni_per: dict[tuple[str, str], list[regole.Intervallo] | None] = {}
    for macchina in macchine:
        propri = calendario.get(("M", str(macchina.id)), [])
        livelli = [propri]
        if macchina.reparto:
            livelli.append(calendario.get(("R", macchina.reparto), []))
        # Machines that follow their Reparto's calendar share its planned time: computed once.
        chiave = ("M", str(macchina.id)) if propri else ("R", macchina.reparto or "")
        if chiave not in turni_per:
            turni = regole.tempo_calendario(giorni, zona, *livelli)
            turni_per[chiave] = None if turni is None else [(_utc_semplice(a), _utc_semplice(b)) for a, b in turni]
        pezzi: dict[tuple[str | None, int], list[int]] = defaultdict(lambda: [0, 0])
        for commessa, tipo, buoni, scarti in produzione.get(macchina.id, []):
            somma = pezzi[(articoli.get(commessa) if commessa is not None else None, tipo)]
            somma[0] += buoni
            somma[1] += scarti
        figure = regole.calcola(
            periodo=(_utc_semplice(inizio), _utc_semplice(fine)),
            adesso=_utc_semplice(adesso),
            turni=turni_per[chiave],
            fermi=fermi.get(macchina.id, []),
            produzione=[
                regole.ProduzioneOee(
                    buoni,
                    scarti,
                    regole.tempo_ciclo(cicli, codart=codart, fase_tipo_id=tipo, macchina_id=macchina.id),
                    codart,
                )
                for (codart, tipo), (buoni, scarti) in pezzi.items()
            ],
        )
        righe.append(RigaMacchina(macchina, figure))

    reparti: dict[str, list[regole.FigureOee]] = defaultdict(list)
    tipi: dict[str, list[regole.FigureOee]] = defaultdict(list)
    for r in righe:
        reparti[r.macchina.reparto or ""].append(r.figure)
        tipi[r.macchina.fase_tipo.codice].append(r.figure)
    return Oee(
        periodo=periodo,
        macchine=righe,
        totale=regole.somma(r.figure for r in righe),
        reparti={nome: regole.somma(f) for nome, f in sorted(reparti.items())},
        fasi_tipo={nome: regole.somma(f) for nome, f in tipi.items()},
    )


def _macchine(
    session: DbSession, macchina_id: int | None, fase_tipo: str | None, reparto: str | None
) -> list[Macchina]:
    query = select(Macchina).join(FaseTipo, Macchina.fase_tipo_id == FaseTipo.id)
    if macchina_id is not None:
        query = query.where(Macchina.id == macchina_id)
    else:
        query = query.where(Macchina.attiva == true())
    if fase_tipo:
        query = query.where(FaseTipo.codice == fase_tipo.upper())
    if reparto:
        query = query.where(Macchina.reparto == reparto)
    return list(session.scalars(query.order_by(FaseTipo.ordine, Macchina.codice)))


def _calendario(session: DbSession, giorni: tuple[date, date]) -> dict[tuple[str, str], list[regole.Turno]]:
    """Every weekly row and the dated rows of the period (and the day before), by
    ("M", MacchinaID) or ("R", Reparto)."""
    da, a = giorni
    query = select(CalendarioTurni).where(
        or_(CalendarioTurni.data.is_(None), CalendarioTurni.data.between(da - timedelta(days=1), a))
    )
    livelli: dict[tuple[str, str], list[regole.Turno]] = defaultdict(list)
    for r in session.scalars(query):
        chiave = ("M", str(r.macchina_id)) if r.macchina_id is not None else ("R", r.reparto or "")
        livelli[chiave].append(regole.Turno(r.giorno_settimana, r.data, r.ora_inizio, r.ora_fine))
    return livelli


def _fermi(
    session: DbSession, inizio: datetime, fine: datetime, macchine: list[int] | None
) -> dict[int, list[regole.FermoOee]]:
    """The stops of ``macchine`` (None: every machine) that touch the period, by machine,
    with their instants as plain UTC values (no tzinfo).

    At 1M lotti a 90-day period holds about 12,000 stops, and making each instant aware
    (UTCDateTime, or ``replace(tzinfo=…)``) cost more than the query: the instants stay
    as the database holds them, and the few others the figures compare them with (the
    period, now, the shifts) are made plain instead (``_utc_semplice``). The reasons are
    read once, not joined to every stop."""
    causali = {
        r.id: (r.codice, r.descrizione, r.categoria, bool(r.pianificato))
        for r in session.execute(
            select(
                CausaleFermo.id,
                CausaleFermo.codice,
                CausaleFermo.descrizione,
                CausaleFermo.categoria,
                CausaleFermo.pianificato,
            )
        )
    }
    query = select(
        Fermo.macchina_id,
        type_coerce(Fermo.inizio, DateTime()),
        type_coerce(Fermo.fine, DateTime()),
        Fermo.causale_id,
    ).where(or_(Fermo.fine > inizio, Fermo.fine.is_(None)), Fermo.inizio < fine)
    if macchine is not None and len(macchine) <= IN_CHUNK:
        query = query.where(Fermo.macchina_id.in_(macchine))
    per_macchina: dict[int, list[regole.FermoOee]] = defaultdict(list)
    # Through the connection: plain rows, without the ORM's per-row bookkeeping.
    for m, f_inizio, f_fine, causale in session.connection().execute(query).all():
        per_macchina[m].append(regole.FermoOee(f_inizio, f_fine, *causali[causale]))
    return per_macchina


def _utc_semplice(istante: datetime) -> datetime:
    """An aware instant as the plain UTC value the stops are read as (see ``_fermi``)."""
    return istante.astimezone(UTC).replace(tzinfo=None)


def _produzione(
    session: DbSession, inizio: datetime, fine: datetime, macchina_id: int | None, *, per_commessa: bool
) -> dict[int, list[tuple[int | None, int, int, int]]]:
    """{MacchinaID: [(CommessaERPId or None, FaseTipoID, good, scrap)]} of the lotti closed
    in the period; by order only when some cycle time names an article (``per_commessa``).

    ``MacchinaID + 0`` groups the same values but is no plain column: SQLite then reads the
    period's range of the covering index IX_Lotti_DataFine_KPI instead of walking the
    per-machine index and the table (as the KPIs' top operators do)."""
    macchina = (Lotto.macchina_id + literal_column("0")).label("macchina")
    gruppi = [macchina, Fase.fase_tipo_id] + ([Fase.commessa_erp_id] if per_commessa else [])
    query = (
        select(
            macchina,
            Fase.commessa_erp_id if per_commessa else null(),
            Fase.fase_tipo_id,
            func.sum(Lotto.qta_output),
            func.sum(Lotto.qta_scarti),
        )
        .join(Fase, Lotto.fase_id == Fase.id)
        .where(Lotto.data_fine >= inizio, Lotto.data_fine < fine)
        .group_by(*gruppi)
    )
    if macchina_id is not None:
        query = query.where(Lotto.macchina_id == macchina_id)
    per_macchina: dict[int, list[tuple[int | None, int, int, int]]] = defaultdict(list)
    # Through the connection: plain rows, without the ORM's per-row bookkeeping.
    for m, commessa, tipo, buoni, scarti in session.connection().execute(query):
        per_macchina[int(m)].append((commessa, tipo, int(buoni or 0), int(scarti or 0)))
    return per_macchina


def _produzione_riepilogo(
    session: DbSession, giorni: tuple[date, date], macchina_id: int | None
) -> dict[int, list[tuple[int | None, int, int, int]]]:
    """What ``_produzione`` returns without orders, from KpiProduzioneGiorni: the rows of
    the period's local days (a lotto counts on the day it closed, as in the lotti)."""
    r = KpiProduzioneGiorno
    query = (
        select(r.macchina_id, r.fase_tipo_id, func.sum(r.qta_output), func.sum(r.qta_scarti))
        .where(r.giorno >= giorni[0], r.giorno <= giorni[1])
        .group_by(r.macchina_id, r.fase_tipo_id)
    )
    if macchina_id is not None:
        query = query.where(r.macchina_id == macchina_id)
    per_macchina: dict[int, list[tuple[int | None, int, int, int]]] = defaultdict(list)
    for m, tipo, buoni, scarti in session.connection().execute(query).all():
        per_macchina[int(m)].append((None, tipo, int(buoni or 0), int(scarti or 0)))
    return per_macchina


def _articoli(erp: ErpGateway | None, commesse: set[int], cicli: list[regole.RegolaCiclo]) -> dict[int, str | None]:
    """CODART of each order, only when some cycle time depends on the article."""
    if not commesse or erp is None or not any(c.codart is not None for c in cicli):
        return {}
    return {i: c.codart for i, c in erp.get_many(commesse).items()}
