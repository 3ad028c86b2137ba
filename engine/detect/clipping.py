"""Runs of samples stuck at the converter's rail (digital clipping)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs


@dataclass(frozen=True)
class ClippingSettings:
    min_run: int = 3  # consecutive samples at the rail
    tolerance: float = 2.0**-15  # how close to the peak counts as "at the rail" (1 LSB of 16-bit)
    min_peak: float = 0.05  # quieter files are not checked: their peaks are not a rail
    min_runs: int = 2  # one flat peak alone is not evidence of clipping


def find_clipping(x: np.ndarray, settings: ClippingSettings) -> list[Detection]:
    """Flat-topped runs at ± the file's peak. Each run becomes one region."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < settings.min_peak:
        return []
    level = peak - settings.tolerance
    runs = []
    for rail in (x >= level, x <= -level):
        runs += [(a, b) for a, b in true_runs(rail) if b - a >= settings.min_run]
    if len(runs) < settings.min_runs:
        return []
    runs.sort()
    return [
        Detection(
            Region(int(a), int(b)),
            DropoutKind.CLIPPING,
            float(np.clip(0.5 + 0.1 * (b - a) + 0.02 * len(runs), 0.0, 1.0)),
        )
        for a, b in runs
    ]
