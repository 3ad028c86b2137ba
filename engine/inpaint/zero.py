"""The zero-fill baseline: what a dropout sounds like unrepaired."""

from __future__ import annotations

import numpy as np

from voicemend.engine.inpaint.base import GapContext, Inpainter


class ZeroFill(Inpainter):
    """Silence in the gap. Only for benchmarks: it is what a missed or unrepaired gap scores."""

    name = "zero"

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return 0

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        return 0

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return np.zeros((ctx.window.shape[0], ctx.gap_frames)), ""
