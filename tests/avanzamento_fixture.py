"""Orders with due dates around a chosen day, for the order progress tests (service, page, API).

An ERP of its own (``righe_erp(giorno)``: dates relative to ``giorno``) and the matching
ASI_GEST set-up written through the models (``configura``). With D = ``giorno``:

    id  numero      due    ERP         fasi (stato prodotta/prevista)                      flags on D
    1   2026/1001   D-1    open        SMD COMPLETATA 100/100, CONTROLLI IN_CORSO 40/100   late
    2   2026/1002   D      open        SMD IN_CORSO 50/200                                 at risk (due today)
    3   2026/1003   D+7    open        SMD APERTA 0/100, PTH SOSPESA 0/100                 at risk (last day)
    4   2026/1004   D+8    open        SMD COMPLETATA 300/300, CONTROLLI COMPLETATA 300/300  —
    5   2026/NULL   NULL   open        SMD IN_CORSO 10/100 (DESART, CODART, NOMECLIENTE NULL) —
    6   2025/900    D-10   closed 'C'  SMD IN_CORSO 5/100                                   late (listed with ``tutte``)
    7   2026/1007   D+1    open        not configured
    8   2026/1008   D-2    open        SMD COMPLETATA 80/80, CONTROLLI COMPLETATA 80/80 (last done)  —
    999 —           —      missing     SMD APERTA 0/50 (the ERP no longer has it)            —
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select

from asigest.dialects import sqlite_readonly_url
from asigest.erp import ErpGateway
from asigest.models import ConfigCommessa, Fase, FaseTipo
from tests.erp_fixture import build_erp, commessa_row

# commessa → [(fase, stato, prodotta, prevista, scarti)]
PIANO = {
    1: [("SMD", "COMPLETATA", 100, 100, 3), ("CONTROLLI", "IN_CORSO", 40, 100, 0)],
    2: [("SMD", "IN_CORSO", 50, 200, 7)],
    3: [("SMD", "APERTA", 0, 100, 0), ("PTH", "SOSPESA", 0, 100, 0)],
    4: [("SMD", "COMPLETATA", 300, 300, 0), ("CONTROLLI", "COMPLETATA", 300, 300, 0)],
    5: [("SMD", "IN_CORSO", 10, 100, 0)],
    6: [("SMD", "IN_CORSO", 5, 100, 0)],
    8: [("SMD", "COMPLETATA", 80, 80, 0), ("CONTROLLI", "COMPLETATA", 80, 80, 0)],
    999: [("SMD", "APERTA", 0, 50, 0)],
}
# The default selection (configured and open in the ERP) by due date, soonest first, none last.
PER_CONSEGNA = [8, 1, 2, 3, 4, 5]


def righe_erp(giorno: date) -> list[dict]:
    d = lambda n: giorno + timedelta(days=n)  # noqa: E731
    return [
        commessa_row(
            1,
            numerocom=1001,
            DATACONSEGNA=d(-1),
            NOMECLIENTE="Elettronica Adriatica S.p.A.",
            CODART="SCH-001",
            DESART="Scheda alimentatore",
        ),
        commessa_row(2, numerocom=1002, DATACONSEGNA=d(0), NOMECLIENTE="Meccatronica Bresciana", QTA=200),
        commessa_row(3, numerocom=1003, DATACONSEGNA=d(7), NOMECLIENTE="Zeta Controlli", CODART="PTH-777"),
        commessa_row(4, numerocom=1004, DATACONSEGNA=d(8), NOMECLIENTE="Alfa Impianti", QTA=300),
        {**commessa_row(5, DATACONSEGNA=None, CODART=None, DESART=None, NOMECLIENTE=None), "NUMEROCOM": None},
        commessa_row(6, esercizio=2025, numerocom=900, DATACONSEGNA=d(-10), STATOCOMMESSA="C"),
        commessa_row(7, numerocom=1007, DATACONSEGNA=d(1)),
        commessa_row(8, numerocom=1008, DATACONSEGNA=d(-2), NOMECLIENTE="Beta Elettronica", QTA=80),
    ]


def scrivi_erp(path: Path, giorno: date) -> Path:
    """The ERP file for ``giorno``."""
    return build_erp(path, righe_erp(giorno))


def gateway(path: Path) -> ErpGateway:
    """A real read-only gateway on an ERP file (dispose ``gateway.engine`` after use)."""
    return ErpGateway(create_engine(sqlite_readonly_url(path)))


def configura(session, piano: dict | None = None) -> dict[tuple[int, str], int]:
    """Write the configs and fasi of ``piano`` (default ``PIANO``); → {(commessa, fase): FaseID}."""
    tipi = {t.codice: t.id for t in session.scalars(select(FaseTipo))}
    fasi: dict[tuple[int, str], int] = {}
    for commessa_id, elenco in (piano or PIANO).items():
        codici = {f[0] for f in elenco}
        session.add(
            ConfigCommessa(
                commessa_erp_id=commessa_id,
                flag_smd="SMD" in codici,
                flag_pth="PTH" in codici,
                flag_controlli="CONTROLLI" in codici or not ({"SMD", "PTH"} & codici),
                diba="DB-1",
                revisione="A",
                qta_erp=elenco[0][3],
            )
        )
        for codice, stato, prodotta, prevista, scarti in elenco:
            fase = Fase(
                commessa_erp_id=commessa_id,
                fase_tipo_id=tipi[codice],
                stato=stato,
                qta_prevista=prevista,
                qta_prodotta=prodotta,
                qta_scarti=scarti,
            )
            session.add(fase)
            session.flush()
            fasi[(commessa_id, codice)] = fase.id
    session.commit()
    return fasi
