"""The demo's stops, shift calendar and cycle times (SPEC §13), so every OEE figure of
the demo means something.

- **Calendar**: per Reparto, the simulation's own shifts (Mon–Fri 06–14 and 14–22,
  Saturday 06–14), plus the coming national holidays as closed days (dated exceptions).
- **Stops**, per machine and working day of the history, drawn in shift hours without
  overlaps: breakdowns (now and then, 20–120 min), changeovers (most days, 15–45 min),
  material waits, operator waits and quality holds (10–60 min), and the Monday 08:00
  meeting (30 min, planned: out of the planned time). One machine is stopped *now*
  (waiting for material), so the kiosk, the dashboard and the wall show a running stop.
- **Cycle times**: per machine, the seconds per piece that give it an effectiveness
  between 70 % and 85 % over the last two weeks with those stops (the simulation's machines
  run at a calibrated pace, so this is what their "ideal" pace would be), and one board
  with a faster cycle of its own on the first SMD line (the most specific row wins).

Pure data from a seeded ``random.Random``: the same seed gives the same rows.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from asigest.demo.cast import MACCHINE, UTENTI
from asigest.demo.simulazione import FINE_TURNI, GIORNI_STORICO, INIZIO_TURNO, PLANT_TZ
from asigest.models import CalendarioTurni, CausaleFermo, Fase, FaseTipo, Lotto, Macchina, TempoCiclo, Utente
from asigest.models.fermi import Fermo

# (reason code, chance on a working day, shortest and longest minutes)
FERMI_CASUALI = (
    ("GUASTO", 0.12, 20, 120),
    ("ATTREZZAGGIO", 0.7, 15, 45),
    ("MANCA-MAT", 0.3, 10, 60),
    ("ATTESA-OP", 0.15, 10, 30),
    ("ATTESA-QUAL", 0.1, 15, 50),
    ("PULIZIA", 0.2, 10, 20),
)
FESTIVITA = ((12, 8, "Immacolata Concezione"), (12, 25, "Natale"), (12, 26, "Santo Stefano"), (1, 1, "Capodanno"))
MACCHINA_FERMA_ORA = "PTH-02"
# The cycle times are fitted on the last two weeks (the later phases ramp up over the
# history: fitted on all of it, their recent weeks would run above the "ideal" pace).
GIORNI_TARATURA = 14


def crea_fermi(session, rng: random.Random, now: datetime, articoli: dict[int, str | None]) -> None:
    """Calendar, stops and cycle times of the demo, inside the caller's transaction
    (after the history's lotti: the cycle times are fitted to them). ``articoli``: the
    demo ERP's CODART by order id."""
    macchine = {m.codice: m for m in session.scalars(select(Macchina))}
    causali = {c.codice: c for c in session.scalars(select(CausaleFermo))}
    operatori = {u.matricola: u for u in session.scalars(select(Utente))}
    per_reparto: dict[str, list[Utente]] = defaultdict(list)
    for u in UTENTI:
        if u.reparto and u.matricola in operatori:
            per_reparto[u.reparto].append(operatori[u.matricola])

    oggi = now.astimezone(PLANT_TZ).date()
    for reparto in sorted({m.reparto for m in MACCHINE}):
        for settimanale in range(1, 7):
            chiusura = FINE_TURNI[settimanale - 1]
            turni = ((INIZIO_TURNO, 14), (14, chiusura)) if chiusura > 14 else ((INIZIO_TURNO, chiusura),)
            for ora_da, ora_a in turni:
                session.add(
                    CalendarioTurni(
                        reparto=reparto, giorno_settimana=settimanale, ora_inizio=time(ora_da), ora_fine=time(ora_a)
                    )
                )
        for mese, giorno_mese, nome in FESTIVITA:
            anno = oggi.year if (mese, giorno_mese) >= (oggi.month, oggi.day) else oggi.year + 1
            session.add(CalendarioTurni(reparto=reparto, data=date(anno, mese, giorno_mese), note=nome))

    minuti_fermi: dict[str, float] = defaultdict(float)
    for demo in MACCHINE:
        macchina = macchine[demo.codice]
        squadra = per_reparto[demo.reparto]
        for giorni_fa in range(GIORNI_STORICO, 0, -1):
            giorno = oggi - timedelta(days=giorni_fa)
            if giorno.weekday() not in FINE_TURNI:
                continue
            apre = _istante(giorno, INIZIO_TURNO)
            chiude = _istante(giorno, FINE_TURNI[giorno.weekday()])
            proposti: list[tuple[str, datetime, int]] = []
            if giorno.weekday() == 0:
                proposti.append(("RIUNIONE", _istante(giorno, 8), 30))
            for codice, probabilita, minimo, massimo in FERMI_CASUALI:
                if rng.random() < probabilita:
                    durata = rng.randint(minimo, massimo)
                    inizio = apre + timedelta(
                        minutes=rng.randint(0, int((chiude - apre).total_seconds() // 60) - durata)
                    )
                    proposti.append((codice, inizio, durata))
            fine_precedente = apre
            for codice, inizio, durata in sorted(proposti, key=lambda p: p[1]):
                if inizio < fine_precedente:
                    continue  # no overlaps on one machine (the services refuse them too)
                fine = inizio + timedelta(minutes=durata)
                session.add(
                    Fermo(
                        macchina_id=macchina.id,
                        inizio=inizio,
                        fine=fine,
                        causale_id=causali[codice].id,
                        operatore_id=rng.choice(squadra).id,
                        note=None,
                    )
                )
                fine_precedente = fine
                if not causali[codice].pianificato and giorni_fa <= GIORNI_TARATURA:
                    minuti_fermi[demo.codice] += durata
    ferma = macchine[MACCHINA_FERMA_ORA]
    session.add(
        Fermo(
            macchina_id=ferma.id,
            inizio=now - timedelta(minutes=25),
            fine=None,
            causale_id=causali["MANCA-MAT"].id,
            operatore_id=per_reparto["PTH"][0].id,
            note="Mancano i connettori a 40 poli",
        )
    )
    session.flush()
    _tempi_ciclo(session, rng, macchine, minuti_fermi, oggi, articoli)


def _istante(giorno: date, ora: int) -> datetime:
    return datetime.combine(giorno, time(ora), PLANT_TZ).astimezone(UTC)


def _tempi_ciclo(
    session,
    rng: random.Random,
    macchine: dict[str, Macchina],
    minuti_fermi,
    oggi: date,
    articoli: dict[int, str | None],
) -> None:
    """Each machine's seconds per piece, fitted for an effectiveness of 70–85 % over the
    last ``GIORNI_TARATURA`` days."""
    inizio = _istante(oggi - timedelta(days=GIORNI_TARATURA), 0)
    pezzi = dict(
        session.execute(
            select(Lotto.macchina_id, func.sum(Lotto.qta_output + Lotto.qta_scarti))
            .where(Lotto.data_fine.is_not(None), Lotto.data_fine >= inizio, Lotto.data_fine < _istante(oggi, 0))
            .group_by(Lotto.macchina_id)
        ).all()
    )
    ore_turno = sum(
        FINE_TURNI[g.weekday()] - INIZIO_TURNO
        for g in (oggi - timedelta(days=n) for n in range(GIORNI_TARATURA, 0, -1))
        if g.weekday() in FINE_TURNI
    )
    lunedi = sum(1 for n in range(GIORNI_TARATURA, 0, -1) if (oggi - timedelta(days=n)).weekday() == 0)
    tipi = {t.id: t for t in session.scalars(select(FaseTipo))}
    for codice, macchina in sorted(macchine.items()):
        prodotti = int(pezzi.get(macchina.id) or 0)
        if not prodotti:
            continue
        lavoro_min = ore_turno * 60 - lunedi * 30 - minuti_fermi.get(codice, 0)
        efficienza = rng.uniform(0.7, 0.85)
        secondi = Decimal(str(round(efficienza * lavoro_min * 60 / prodotti, 1)))
        session.add(
            TempoCiclo(
                codart=None, fase_tipo_id=macchina.fase_tipo_id, macchina_id=macchina.id, secondi_per_pezzo=secondi
            )
        )
        if codice == "SMD-L1":
            articolo = _articolo_frequente(session, macchina.id, articoli)
            if articolo is not None and tipi.get(macchina.fase_tipo_id) is not None:
                session.add(
                    TempoCiclo(
                        codart=articolo,
                        fase_tipo_id=macchina.fase_tipo_id,
                        macchina_id=macchina.id,
                        secondi_per_pezzo=max(Decimal("0.1"), secondi - Decimal(1)),
                    )
                )


def _articolo_frequente(session, macchina_id: int, articoli: dict[int, str | None]) -> str | None:
    """The article of the order most lotti of the machine were for."""
    commessa = session.scalar(
        select(Fase.commessa_erp_id)
        .join(Lotto, Lotto.fase_id == Fase.id)
        .where(Lotto.macchina_id == macchina_id)
        .group_by(Fase.commessa_erp_id)
        .order_by(func.count().desc(), Fase.commessa_erp_id)
        .limit(1)
    )
    return None if commessa is None else articoli.get(commessa)
