"""A small plant history for the lotti register and its exports, written through the models.

Orders (ERP fixture): 101 = 2026/1234 (SMD → CONTROLLI), 1 = 2026/1001 (SMD → PTH),
103 = 2026/77, closed in the ERP (SMD). Machines SMD-A, SMD-B, PTH-A, CTRL-A; two
operators. Lotti, by name:

    a1  2026/1234 SMD        SMD-A   op1  T        closed 95 good + 5 scrap (SMD-PICK)
    a2  2026/1234 SMD        SMD-B   op2  T+1d     closed 50 good
    a3  2026/1234 CONTROLLI  CTRL-A  op1  T+2d     closed 38 good + 2 scrap (CTRL-AOI)
    b1  2026/1001 SMD        SMD-A   op2  T+3d     closed 20 good
    b2  2026/1001 PTH        PTH-A   op1  T+4d     open (forgotten: days ago)
    b3  2026/1001 SMD        SMD-B   op1  adesso−2h open (recent)

T is Monday 2 March 2026, 07:00 UTC (08:00 in Rome).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from asigest.domain.lotti import codice_lotto
from asigest.models import CausaleScarto, ConfigCommessa, Fase, FaseTipo, Lotto, Macchina

T = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
NUMERI = {101: (2026, 1234), 1: (2026, 1001), 103: (2026, 77)}


@dataclass
class Registro:
    adesso: datetime
    fasi: dict = field(default_factory=dict)  # (commessa, tipo) → FaseID
    macchine: dict = field(default_factory=dict)  # codice → MacchinaID
    operatori: dict = field(default_factory=dict)  # "op1"/"op2" → Utente
    causali: dict = field(default_factory=dict)  # codice → CausaleID
    lotti: dict = field(default_factory=dict)  # name → LottoID
    progressivi: dict = field(default_factory=dict)

    def lotto(
        self,
        session,
        nome: str,
        commessa: int,
        tipo: str,
        macchina: str,
        operatore: str,
        inizio: datetime,
        fine: datetime | None = None,
        qta_input: int = 100,
        buoni: int | None = None,
        scarti: int = 0,
        causale: str | None = None,
        note: str | None = None,
    ) -> int:
        """Add one lotto (closed when ``fine`` is given) and return its id."""
        fase_id = self.fasi[(commessa, tipo)]
        n = self.progressivi[fase_id] = self.progressivi.get(fase_id, 0) + 1
        esercizio, numero = NUMERI[commessa]
        chiuso = fine is not None
        lotto = Lotto(
            fase_id=fase_id,
            progressivo=n,
            codice_lotto=codice_lotto(esercizio, numero, tipo, n),
            data_inizio=inizio,
            data_fine=fine,
            qta_input=qta_input,
            qta_output=(buoni if buoni is not None else qta_input - scarti) if chiuso else None,
            qta_scarti=scarti if chiuso else None,
            causale_id=self.causali[causale] if causale else None,
            note_scarti=note,
            operatore_id=self.operatori[operatore].id,
            operatore_chiusura_id=self.operatori[operatore].id if chiuso else None,
            macchina_id=self.macchine[macchina],
            diba="DB-0001",
            revisione="B",
        )
        session.add(lotto)
        session.commit()
        self.lotti[nome] = lotto.id
        return lotto.id


def costruisci(session, make_user, *, adesso: datetime, storia: bool = True) -> Registro:
    """The plant above; with ``storia=False`` only orders, machines and people (no lotti)."""
    reg = Registro(adesso=adesso)
    tipi = {t.codice: t.id for t in session.scalars(select(FaseTipo))}
    for commessa, fasi, qta in ((101, ("SMD", "CONTROLLI"), 500), (1, ("SMD", "PTH"), 100), (103, ("SMD",), 100)):
        session.add(
            ConfigCommessa(
                commessa_erp_id=commessa,
                flag_smd="SMD" in fasi,
                flag_pth="PTH" in fasi,
                flag_controlli="CONTROLLI" in fasi,
                diba="DB-0001",
                revisione="B",
                qta_erp=qta,
            )
        )
        for codice in fasi:
            fase = Fase(commessa_erp_id=commessa, fase_tipo_id=tipi[codice], stato="APERTA", qta_prevista=qta)
            session.add(fase)
            session.flush()
            reg.fasi[(commessa, codice)] = fase.id
    for codice, tipo in (("SMD-A", "SMD"), ("SMD-B", "SMD"), ("PTH-A", "PTH"), ("CTRL-A", "CONTROLLI")):
        macchina = Macchina(codice=codice, descrizione=f"Macchina {codice}", fase_tipo_id=tipi[tipo], attiva=True)
        session.add(macchina)
        session.flush()
        reg.macchine[codice] = macchina.id
    session.commit()
    reg.operatori["op1"] = make_user(
        ruolo="OPERATORE", matricola="OP1", password=None, pin="1234", nome="Anna", cognome="Bianchi"
    )
    reg.operatori["op2"] = make_user(
        ruolo="OPERATORE", matricola="OP2", password=None, pin="4321", nome="Luca", cognome="Verdi"
    )
    reg.causali = {c.codice: c.id for c in session.scalars(select(CausaleScarto))}
    if storia:
        giorno, ora = timedelta(days=1), timedelta(hours=1)
        reg.lotto(session, "a1", 101, "SMD", "SMD-A", "op1", T, T + ora, 100, scarti=5, causale="SMD-PICK")
        reg.lotto(session, "a2", 101, "SMD", "SMD-B", "op2", T + giorno, T + giorno + 2 * ora, 50)
        reg.lotto(
            session,
            "a3",
            101,
            "CONTROLLI",
            "CTRL-A",
            "op1",
            T + 2 * giorno,
            T + 2 * giorno + ora,
            40,
            scarti=2,
            causale="CTRL-AOI",
        )
        reg.lotto(session, "b1", 1, "SMD", "SMD-A", "op2", T + 3 * giorno, T + 3 * giorno + ora / 2, 20)
        reg.lotto(session, "b2", 1, "PTH", "PTH-A", "op1", T + 4 * giorno, None, 15)
        reg.lotto(session, "b3", 1, "SMD", "SMD-B", "op1", adesso - 2 * ora, None, 10)
    return reg
