"""``auto``: pick the better classical method for each region from its length.

Measured on the dev split (log-spectral distance on the gap ± 50 ms): LSAR wins up to about 40 ms,
pitch-pattern repetition from 60 ms on, because LSAR's fill decays towards silence in long gaps.
"""

from __future__ import annotations

import numpy as np

from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lsar import Lsar
from voicemend.engine.inpaint.pattern import Pattern

LSAR_MAX_GAP_MS = 40.0


class Auto(Inpainter):
    """Delegates each region to ``lsar`` (gaps up to 40 ms) or ``pattern`` (longer gaps)."""

    name = "auto"

    def __init__(self, lsar: Lsar | None = None, pattern: Pattern | None = None) -> None:
        self.lsar = lsar or Lsar()
        self.pattern = pattern or Pattern()

    def choose(self, ctx: GapContext) -> Inpainter:
        if 1000 * ctx.gap_frames / ctx.sample_rate <= LSAR_MAX_GAP_MS:
            return self.lsar
        return self.pattern

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return self.choose(ctx).fill(ctx)
