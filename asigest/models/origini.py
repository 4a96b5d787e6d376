"""Genealogy (R14, SPEC §12): which closed lotti of the previous phase a lotto drew its pieces from."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, UniqueConstraint, column
from sqlalchemy.orm import Mapped, mapped_column

from asigest.extensions import Model


class LottoOrigine(Model):
    """One draw: lotto ``LottoID`` took ``Qta`` pieces from the closed lotto ``LottoOrigineID``.

    The rules across rows (Σ draws of a lotto = what it consumes, Σ drawn from a source ≤
    its QtaOutput, sources closed, of the same order and of the previous enabled phase)
    are held by ``services/origini.py`` under the drawing fase's lock; the database holds
    what one row can say. ``OrigineID`` orders the draws of a lotto (the newest is given
    back first after a short close) and is never reused (AUTOINCREMENT on SQLite).
    """

    __tablename__ = "LottiOrigini"
    __table_args__ = (
        CheckConstraint(column("Qta") > 0, name="qta"),
        CheckConstraint(column("LottoID") != column("LottoOrigineID"), name="non_da_se"),
        # UNIQUE(LottoID, LottoOrigineID) (SPEC §12) also serves "the draws of this lotto";
        # the index below serves the forward trace and "how much was drawn from this source".
        UniqueConstraint("LottoID", "LottoOrigineID", name="UQ_LottiOrigini_LottoID_LottoOrigineID"),
        Index("IX_LottiOrigini_LottoOrigineID", "LottoOrigineID", "Qta"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column("OrigineID", Integer, primary_key=True)
    lotto_id: Mapped[int] = mapped_column("LottoID", ForeignKey("Lotti.LottoID"), nullable=False)
    lotto_origine_id: Mapped[int] = mapped_column("LottoOrigineID", ForeignKey("Lotti.LottoID"), nullable=False)
    qta: Mapped[int] = mapped_column("Qta", Integer, nullable=False)
