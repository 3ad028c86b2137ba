"""``auto``: pick, per region, the method the quality bench shows best for that gap length.

The choice is a table of (longest gap in ms, method), the one that
:func:`voicemend.engine.evaluation.report.auto_table` derives from the committed full dev-split
bench (``bench/results/quality-dev``: 100 files, 1 000-2 000 cases per length), with PLCMOS as the
deciding metric and PESQ-WB breaking near-ties (means within 0.01). The reduced runs beside it
(``quality-dev-quick``, ``quality-dev-neural``, ``quality-dev-exemplar``: 24-200 cases per
length) screen new methods before they go through the full protocol; their means carry 3-7 times
its uncertainty, so they do not set the table. PLCMOS is the metric that follows listeners'
ratings of gap repairs best (Diener et al. 2023). A test keeps the table and the bench in step.
In the full bench, LSAR beats
pitch-pattern repetition and every neural configuration on PLCMOS at every length from 20 to
400 ms (3.87 vs 3.49 for pattern at 200 ms; 3.85 vs 3.11 at 400 ms) and on PESQ up to 100 ms,
while pattern and neural-mel lead on PESQ and STOI from 200 ms: repeating one pitch period for
long sounds buzzy, whereas LSAR's re-fitted AR model carries the voice on a few dB under its level.
Copying the context's own speech (``exemplar``) trails LSAR on PLCMOS at every length up to 1 s.
"""

from __future__ import annotations

import math

import numpy as np

from voicemend.engine.inpaint.base import GapContext, Inpainter

# The committed dev-split bench the table follows (a test checks it against it).
BENCHES = ("quality-dev",)
# (longest gap in ms, method name), in order.
AUTO_TABLE: tuple[tuple[float, str], ...] = ((math.inf, "lsar"),)


class Auto(Inpainter):
    """Delegates each region to the method :data:`AUTO_TABLE` names for its length.

    Methods are created on first use, so a table that names a neural method loads its models
    only when a gap of that length comes up; ``device`` is passed on to them.
    """

    name = "auto"
    uses_torch_device = True

    def __init__(
        self, table: tuple[tuple[float, str], ...] = AUTO_TABLE, device: str = "auto"
    ) -> None:
        self.table = table
        self.device = device
        self.methods: dict[str, Inpainter] = {}

    def method(self, name: str) -> Inpainter:
        """The named (installed) method, created on first use."""
        from voicemend.engine.inpaint import get_inpainter

        if name not in self.methods:
            self.methods[name] = get_inpainter(name, device=self.device)
        return self.methods[name]

    def method_name(self, gap_ms: float) -> str:
        """The method for a gap of ``gap_ms``; ``lsar`` where the table's is not installed
        (e.g. weights left out)."""
        from voicemend.engine.inpaint import INPAINTERS

        name = next((n for longest_ms, n in self.table if gap_ms <= longest_ms), self.table[-1][1])
        return name if name in INPAINTERS else "lsar"

    def choose(self, ctx: GapContext) -> Inpainter:
        return self.method(self.method_name(1000 * ctx.gap_frames / ctx.sample_rate))

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return self.choose(ctx).fill(ctx)
