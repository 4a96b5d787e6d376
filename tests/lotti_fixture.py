"""Lotti written straight through the models, for tests that need a fase's history
before the kiosk's own service exists (R4–R8 arrive with the next issue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from asigest.models import Fase, Lotto, Macchina

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def lotto_factory(session, operatore_id: int):
    """``make(fase, qta_input, output=None, scarti=None)`` → an open lotto, or a closed one
    when ``output`` is given. Each lotto gets its own machine (one open lotto per machine)."""
    numero = count(1)

    def make(fase: Fase, qta_input: int, output: int | None = None, scarti: int | None = None) -> Lotto:
        n = next(numero)
        macchina = Macchina(
            codice=f"M-{fase.fase_tipo.codice}-{n}", descrizione="Prova", fase_tipo_id=fase.fase_tipo_id
        )
        chiuso = output is not None
        lotto = Lotto(
            fase_id=fase.id,
            progressivo=n,
            codice_lotto=f"T-{fase.id}-{n:03d}",
            data_inizio=T0 + timedelta(minutes=n),
            data_fine=T0 + timedelta(hours=1, minutes=n) if chiuso else None,
            qta_input=qta_input,
            qta_output=output,
            qta_scarti=(scarti or 0) if chiuso else None,
            operatore_id=operatore_id,
            macchina=macchina,
        )
        session.add(lotto)
        session.commit()
        return lotto

    return make
