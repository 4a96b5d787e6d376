"""R12 drift decided from plain values (``asigest.domain.drift``)."""

from __future__ import annotations

import pytest

from asigest.domain.drift import ASSENTE, QTA, STATO, OrdineErp, valuta_scostamento

APERTA = OrdineErp(qta=500, stato="O", aperto=True)
CHIUSA = OrdineErp(qta=500, stato="C", aperto=False)


def valuta(qta=500, ordine=APERTA, stati=("IN_CORSO", "APERTA"), aperti=0):
    return valuta_scostamento(101, qta_configurata=qta, ordine=ordine, stati_fasi=stati, lotti_aperti=aperti)


def test_unchanged_order_has_no_drift():
    assert valuta() is None


def test_quantity_changed_in_the_erp():
    s = valuta(qta=400)
    assert s.tipi == (QTA,) and not s.grave
    assert (s.qta_configurata, s.qta_erp, s.stato_erp) == (400, 500, "O")
    assert s.quantita_cambiata and not s.non_aperta and not s.assente


def test_quantity_removed_in_the_erp_is_a_change_too():
    assert valuta(ordine=OrdineErp(qta=None, stato="O", aperto=True)).tipi == (QTA,)


def test_config_without_stamped_quantity_cannot_drift_on_quantity():
    assert valuta(qta=None, ordine=OrdineErp(qta=999, stato="O", aperto=True)) is None


@pytest.mark.parametrize("stato", ["C", "S", None, "X"])
def test_order_no_longer_open_while_production_is_not_finished(stato):
    s = valuta(ordine=OrdineErp(qta=500, stato=stato, aperto=False))
    assert s.tipi == (STATO,) and not s.grave and s.stato_erp == stato


def test_closed_with_open_lotti_is_grave():
    s = valuta(ordine=CHIUSA, stati=("COMPLETATA", "IN_CORSO"), aperti=2)
    assert s.tipi == (STATO,) and s.grave and s.lotti_aperti == 2


def test_closed_after_every_fase_completed_is_the_normal_end():
    assert valuta(ordine=CHIUSA, stati=("COMPLETATA", "COMPLETATA")) is None
    # ...also when the ERP changed the quantity afterwards: the configuration is history.
    assert valuta(qta=400, ordine=CHIUSA, stati=("COMPLETATA",)) is None


def test_completed_fasi_with_a_lotto_still_open_are_still_in_production():
    s = valuta(ordine=CHIUSA, stati=("COMPLETATA", "COMPLETATA"), aperti=1)
    assert s is not None and s.grave


def test_missing_from_the_erp():
    s = valuta(ordine=None)
    assert s.tipi == (ASSENTE,) and not s.grave and s.assente and s.qta_erp is None and s.stato_erp is None
    assert valuta(ordine=None, aperti=1).grave
    assert valuta(ordine=None, stati=("COMPLETATA",)) is None


def test_quantity_and_state_together():
    s = valuta(qta=400, ordine=CHIUSA, aperti=1)
    assert s.tipi == (QTA, STATO) and s.grave


def test_open_order_with_changed_quantity_and_open_lotti_is_not_grave():
    assert not valuta(qta=400, aperti=3).grave
