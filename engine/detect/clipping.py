"""Runs of samples stuck at the converter's rail (digital clipping).

A run of samples at the file's extreme is not enough: the smooth top of a loud low tone, sampled
at 192 kHz or quantised to 8 bits, also holds one value for several samples. What sets clipping
apart is that the waveform was still climbing when it hit the rail: the flanks either side of
the run, extended across it, rise well past the rail. Extended the same way, a smooth peak's
flanks rise about four times the window that counts as "at the rail" (the tolerance plus one
quantisation step: for a parabola, the secant over the run's length either side overshoots by
``(2 + 2) * window``), so a run counts only where they rise ``min_overshoot`` windows.

Many clipped peaks are short, though: at 16 kHz, runs of one or two samples are two thirds of
the clipped runs of speech driven 1.2x past the rail and a quarter at 2x, and a flank test
cannot tell a one-sample run from any peak that happens to be the file's largest. Once a side's
rail is established (by ``min_runs`` runs that pass the test), every shorter run held at that
rail counts as well: a sample lands within ``tolerance`` of a rail that other peaks were cut at
only by being cut there itself (or by reaching it to within one step, where the repair changes
next to nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs


@dataclass(frozen=True)
class ClippingSettings:
    min_run: int = 3  # consecutive samples at the rail
    tolerance: float = 2.0**-15  # how close to the rail counts as "at the rail" (1 LSB of 16-bit)
    min_peak: float = 0.05  # quieter files are not checked: their peaks are not a rail
    min_runs: int = 2  # one flat peak alone is not evidence of clipping
    min_overshoot: float = 8.0  # flank rise past the rail, in windows (a smooth peak's: about 4)
    step_search: float = 0.05  # how far below the peak to look for the quantisation step
    short_runs: bool = True  # runs under min_run at a rail that longer runs established


def find_clipping(
    x: np.ndarray,
    settings: ClippingSettings,
    rails: tuple[float | None, float | None] = (None, None),
) -> list[Detection]:
    """Flat-topped runs at the positive or negative rail whose flanks were still climbing.
    Each run becomes one region. ``rails`` (top, bottom) are the file's extremes where ``x`` is
    a part of it (else its own are used): a part repaired already may hold restored peaks past
    the rail, which are not the rail."""
    if not x.size:
        return []
    top = float(np.max(x)) if rails[0] is None else rails[0]
    bottom = float(np.min(x)) if rails[1] is None else rails[1]
    peak = max(top, -bottom)
    if peak < settings.min_peak:
        return []
    window = settings.tolerance + quantisation_step(x, peak, settings.step_search)
    runs: list[tuple[int, int]] = []
    short: list[tuple[int, int]] = []
    for y, rail in ((x, top), (-x, -bottom)):
        at = (y >= rail - settings.tolerance) & (y <= rail + settings.tolerance)
        held = true_runs(at)
        climbing = [
            (a, b)
            for a, b in held
            if b - a >= settings.min_run and overshoot(y, a, b) >= settings.min_overshoot * window
        ]
        runs += climbing
        if settings.short_runs and len(climbing) >= settings.min_runs and rail > 0:
            short += [(a, b) for a, b in held if b - a < settings.min_run]
    if len(runs) < settings.min_runs:
        return []
    # A climbing run is surer the longer it is and the more of them there are; a short run
    # borrows its rail from them, so it stays just above the detector's threshold and yields
    # to a dropout it touches when the two merge.
    found = [(a, b, 0.5 + 0.1 * (b - a) + 0.02 * len(runs)) for a, b in runs]
    found += [(a, b, 0.5 + 0.05 * (b - a)) for a, b in short]
    found.sort()
    return [
        Detection(Region(int(a), int(b)), DropoutKind.CLIPPING, float(np.clip(c, 0.0, 1.0)))
        for a, b, c in found
    ]


def quantisation_step(x: np.ndarray, peak: float, search: float) -> float:
    """The smallest gap between the distinct magnitudes near the peak: 2^-7 for 8-bit audio,
    2^-15 for 16-bit, next to nothing for float."""
    near = np.unique(np.abs(x[np.abs(x) >= peak - search]))
    return float(np.min(np.diff(near))) if near.size > 1 else 0.0


def overshoot(y: np.ndarray, a: int, b: int) -> float:
    """How far above the run ``y[a:b]`` the flanks, extended to its middle, would reach: each
    flank's slope is taken over as many samples as the run is long (and at least two), and the
    gentler side counts. Zero where the run has no flank to measure."""
    span = max(2, b - a)
    slopes = []
    if a > 0:
        k = min(span, a)
        slopes.append((y[a] - y[a - k]) / k)
    if b < y.size:
        k = min(span, y.size - b)
        slopes.append((y[b - 1] - y[b - 1 + k]) / k)
    return max(0.0, float(min(slopes)) * (b - a) / 2) if slopes else 0.0
