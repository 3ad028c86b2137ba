"""``auto``: pick, per region, the method the quality bench shows best for that gap length.

The choice is a table of (longest gap in ms, method), read from the committed dev-split bench
(``bench/results/quality-dev-quick``), with PLCMOS as the deciding metric: of the metrics run it is
the one that follows listeners' ratings of gap repairs best (Diener et al. 2023). There, LSAR beats
pitch-pattern repetition on PLCMOS at every length from 20 to 400 ms (3.81 vs 3.53 at 200 ms;
3.68 vs 3.09 at 400 ms), while pattern keeps a small PESQ and STOI lead above 60 ms: repeating one
pitch period for long sounds buzzy, whereas LSAR's fill fades gently. The neural method joins the
table when it ships and the bench shows where it wins.
"""

from __future__ import annotations

import math

import numpy as np

from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lsar import Lsar
from voicemend.engine.inpaint.pattern import Pattern

# (longest gap in ms, method name), in order.
AUTO_TABLE: tuple[tuple[float, str], ...] = ((math.inf, "lsar"),)


class Auto(Inpainter):
    """Delegates each region to the method :data:`AUTO_TABLE` names for its length."""

    name = "auto"

    def __init__(self, table: tuple[tuple[float, str], ...] = AUTO_TABLE) -> None:
        self.table = table
        self.methods: dict[str, Inpainter] = {"lsar": Lsar(), "pattern": Pattern()}

    def choose(self, ctx: GapContext) -> Inpainter:
        gap_ms = 1000 * ctx.gap_frames / ctx.sample_rate
        for longest_ms, name in self.table:
            if gap_ms <= longest_ms:
                return self.methods[name]
        return self.methods[self.table[-1][1]]

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return self.choose(ctx).fill(ctx)
