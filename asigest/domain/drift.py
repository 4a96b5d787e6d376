"""R12 — drift: the ERP order changed after ASI-GEST configured it.

A configured order is compared with its ERP row only while it is *in production*: some
fase is not COMPLETATA, or a lotto is open. Once every fase is complete and no lotto
is open, the configuration is history, and what the ERP does next (closing the order,
archiving it) is the normal end, not drift.

While in production, the order drifts when:

- ``QTA``: the ERP's QTA differs from ConfigCommessa.QtaERP, the QTA stamped at
  configuration (a NULL QTA in the ERP differs too; a config without QtaERP cannot be
  compared and never drifts on quantity). The fasi still plan the old quantity;
- ``STATO``: the ERP order is no longer open (STATOCOMMESSA ≠ 'O': configuring needed
  'O', so any other state — closed, suspended, NULL — is a change);
- ``ASSENTE``: the ERP has no such order any more.

It is *grave* (shown in red) when the order is closed or missing in the ERP while
lotti are open: people are working for an order the ERP no longer has open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asigest.domain.stati import COMPLETATA

QTA = "QTA"
STATO = "STATO"
ASSENTE = "ASSENTE"


@dataclass(frozen=True)
class OrdineErp:
    """What drift needs of the ERP order: its QTA, its STATOCOMMESSA, whether that is open."""

    qta: int | None
    stato: str | None
    aperto: bool


@dataclass(frozen=True)
class Scostamento:
    """How a configured order differs from its ERP row (see the module docstring)."""

    commessa_erp_id: int
    tipi: tuple[str, ...]
    grave: bool
    qta_configurata: int | None
    qta_erp: int | None
    stato_erp: str | None
    lotti_aperti: int

    @property
    def quantita_cambiata(self) -> bool:
        return QTA in self.tipi

    @property
    def non_aperta(self) -> bool:
        return STATO in self.tipi

    @property
    def assente(self) -> bool:
        return ASSENTE in self.tipi


def in_produzione(stati_fasi: Iterable[str], lotti_aperti: int) -> bool:
    """True while some fase is not COMPLETATA or some lotto is open."""
    return lotti_aperti > 0 or any(stato != COMPLETATA for stato in stati_fasi)


def valuta_scostamento(
    commessa_erp_id: int,
    *,
    qta_configurata: int | None,
    ordine: OrdineErp | None,
    stati_fasi: Iterable[str],
    lotti_aperti: int,
) -> Scostamento | None:
    """The order's drift, or None when it has none (or is no longer in production).

    ``ordine`` is None when the ERP has no row for ``commessa_erp_id``.
    """
    if not in_produzione(list(stati_fasi), lotti_aperti):
        return None
    if ordine is None:
        tipi: tuple[str, ...] = (ASSENTE,)
    else:
        tipi = tuple(
            tipo
            for tipo, presente in (
                (QTA, qta_configurata is not None and ordine.qta != qta_configurata),
                (STATO, not ordine.aperto),
            )
            if presente
        )
    if not tipi:
        return None
    return Scostamento(
        commessa_erp_id=commessa_erp_id,
        tipi=tipi,
        grave=lotti_aperti > 0 and (ASSENTE in tipi or STATO in tipi),
        qta_configurata=qta_configurata,
        qta_erp=ordine.qta if ordine else None,
        stato_erp=ordine.stato if ordine else None,
        lotti_aperti=lotti_aperti,
    )
