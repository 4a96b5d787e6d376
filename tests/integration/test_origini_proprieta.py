"""R14 as a property: over random sequences of opens (some naming their sources), closes,
corrections and cancellations, the draws always hold — for every lotto Σ draws = what
it consumes (none in the first fase), for every source Σ drawn ≤ its QtaOutput, no draw
from an open lotto, from another order or from a fase other than the previous one.

Plain ``random`` with fixed seeds: a failure names its seed and step, and replays."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from asigest.errors import AsigestError
from asigest.models import ConfigCommessa, Fase, FaseTipo, Lotto, LottoOrigine, Macchina
from asigest.services import lotti as svc
from asigest.services import origini, rettifiche
from asigest.services.auth import actor_for
from tests.integration.test_lotti import T0

CAUSALE = {"SMD": "SMD-PICK", "PTH": "PTH-SALD", "CONTROLLI": "CTRL-AOI"}
PASSI = 70


@pytest.fixture
def due_commesse(db_session, make_user):
    """Commesse 1 and 2 (QTA 100), each SMD → PTH → CONTROLLI; three machines per phase type."""
    tipi = {t.codice: t for t in db_session.scalars(select(FaseTipo))}
    fasi = {}
    for commessa in (1, 2):
        db_session.add(ConfigCommessa(commessa_erp_id=commessa, flag_pth=True, qta_erp=100))
        for codice in ("SMD", "PTH", "CONTROLLI"):
            fase = Fase(commessa_erp_id=commessa, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=100)
            db_session.add(fase)
            fasi[(commessa, codice)] = fase
    macchine = {}
    for codice in ("SMD", "PTH", "CONTROLLI"):
        for n in (1, 2, 3):
            m = Macchina(codice=f"{codice}-{n}", descrizione="", fase_tipo_id=tipi[codice].id, attiva=True)
            db_session.add(m)
            macchine.setdefault(codice, []).append(m)
    db_session.commit()
    operatore = actor_for(make_user(ruolo="OPERATORE", password=None, pin="1234"))
    capo = actor_for(make_user(ruolo="SUPERVISORE"))
    return (
        {k: f.id for k, f in fasi.items()},
        {k: [m.id for m in v] for k, v in macchine.items()},
        operatore,
        capo,
    )


def _passo(session, erp, rng: random.Random, impianto, adesso) -> str:
    """One random operation; refusals are part of the game (they must change nothing)."""
    fasi, macchine, operatore, capo = impianto
    session.rollback()
    # Ordered: without it PostgreSQL returns rows in heap order, which updates change,
    # and a seed would not replay the same sequence on both databases.
    lotti = session.scalars(select(Lotto).order_by(Lotto.id)).all()
    aperti = [lt for lt in lotti if lt.data_fine is None]
    chiusi = [lt for lt in lotti if lt.data_fine is not None]
    scelta = rng.random()
    occupate = {lt.macchina_id for lt in aperti}
    apribili = [
        (commessa, tipo)
        for (commessa, tipo), fase_id in fasi.items()
        if rettifiche.fase_disponibile(session, fase_id).qta_disponibile > 0
        and any(m not in occupate for m in macchine[tipo])
    ]
    if scelta < 0.45 and apribili:
        # Later phases more often: they are the ones that draw.
        commessa, tipo = rng.choices(apribili, [1 if t == "SMD" else 3 for _, t in apribili])[0]
        fase = session.get(Fase, fasi[(commessa, tipo)])
        disponibile = rettifiche.fase_disponibile(session, fase.id).qta_disponibile
        qta = rng.randint(1, min(disponibile + (2 if rng.random() < 0.1 else 0), 30))  # rarely too much
        nominate = None
        precedente = origini.fase_precedente(session, fase)
        if precedente is not None and rng.random() < 0.4:
            # Mostly a source of the previous phase; now and then any closed lotto (refused).
            candidate = [lt for lt in chiusi if lt.fase_id == precedente.id and rng.random() < 0.9] or chiusi
            if candidate:
                nominate = [origini.Scelta(rng.choice(candidate).codice_lotto, rng.choice([None, 1, 3]))]
        svc.apri_lotto(
            session,
            erp,
            actor=operatore,
            fase_id=fase.id,
            macchina_id=rng.choice([m for m in macchine[tipo] if m not in occupate]),
            qta_input=qta,
            origini=nominate,
            adesso=adesso,
        )
        return f"apri {tipo} {qta} {nominate}"
    if scelta < 0.7 and aperti:
        lotto = rng.choice(aperti)
        consumo = rng.randint(1, lotto.qta_input)
        scarti = rng.randint(0, consumo - 1) if rng.random() < 0.4 else 0
        tipo = lotto.fase.fase_tipo.codice
        svc.chiudi_lotto(
            session,
            actor=operatore,
            lotto_id=lotto.id,
            qta_output=consumo - scarti,
            qta_scarti=scarti,
            causale=CAUSALE[tipo] if scarti else None,
            adesso=adesso,
        )
        return f"chiudi {lotto.codice_lotto} {consumo - scarti}+{scarti}"
    if scelta < 0.85 and chiusi:
        lotto = rng.choice(chiusi)
        consumo = rng.randint(1, lotto.qta_input)
        scarti = rng.randint(0, consumo - 1) if rng.random() < 0.4 else 0
        tipo = lotto.fase.fase_tipo.codice
        rettifiche.rettifica_lotto(
            session,
            actor=capo,
            lotto_id=lotto.id,
            qta_output=consumo - scarti,
            qta_scarti=scarti,
            causale=CAUSALE[tipo] if scarti else None,
            motivo="Ricontati",
            adesso=adesso,
        )
        return f"rettifica {lotto.codice_lotto} {consumo - scarti}+{scarti}"
    if aperti:
        lotto = rng.choice(aperti)
        rettifiche.annulla_lotto(session, actor=capo, lotto_id=lotto.id, motivo="Per errore", adesso=adesso)
        return f"annulla {lotto.codice_lotto}"
    return "niente"


def _fotografia(session) -> tuple:
    session.rollback()
    lotti = [
        (lt.id, lt.data_fine, lt.qta_output, lt.qta_scarti) for lt in session.scalars(select(Lotto).order_by(Lotto.id))
    ]
    tirati = session.execute(
        select(LottoOrigine.lotto_id, LottoOrigine.lotto_origine_id, LottoOrigine.qta).order_by(LottoOrigine.id)
    ).all()
    return lotti, tirati


@pytest.mark.parametrize("seme", [1, 2, 3, 4])
def test_draws_hold_over_random_operations(db_session, erp, due_commesse, seme):
    rng = random.Random(seme)
    fatte = rifiutate = 0
    for passo in range(PASSI):
        adesso = T0 + timedelta(minutes=10 * passo)
        prima = _fotografia(db_session)
        try:
            descritto = _passo(db_session, erp, rng, due_commesse, adesso)
            fatte += 1
        except AsigestError as rifiuto:
            descritto = f"rifiutata: {rifiuto.code}"
            rifiutate += 1
            assert _fotografia(db_session) == prima, f"seme {seme}, passo {passo}: un rifiuto ha cambiato i dati"
        db_session.rollback()
        assert origini.violazioni(db_session) == [], f"seme {seme}, passo {passo}: {descritto}"
    # The sequences really exercise the rules: most operations go through, with draws.
    assert fatte > PASSI // 2 and rifiutate > 0
    assert db_session.scalar(select(LottoOrigine.id).limit(1)) is not None
