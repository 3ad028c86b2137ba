"""Pitch-period estimation at a gap edge by normalised cross-correlation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import oaconvolve

MIN_F0_HZ = 60.0
MAX_F0_HZ = 400.0
# A lag within this fraction of the best correlation that is shorter wins (avoids octave errors).
OCTAVE_TOLERANCE = 0.92


@dataclass(frozen=True)
class PitchEstimate:
    period_frames: int
    periodicity: float  # normalised correlation at the period, 0..1

    @property
    def voiced(self) -> bool:
        return self.periodicity >= 0.5


def estimate_period(
    history: np.ndarray,
    sample_rate: int,
    window_ms: float = 25.0,
    min_f0_hz: float = MIN_F0_HZ,
    max_f0_hz: float = MAX_F0_HZ,
) -> PitchEstimate:
    """Period of the signal just before the end of ``history`` (1-D, time order).

    Compares the last ``window_ms`` with the same span shifted back by every candidate lag.
    """
    min_lag = max(2, int(sample_rate / max_f0_hz))
    max_lag = int(sample_rate / min_f0_hz)
    window = max(int(window_ms / 1000 * sample_rate), min_lag)
    if history.size < window + min_lag + 1:
        return PitchEstimate(max(min_lag, 1), 0.0)
    max_lag = min(max_lag, history.size - window)
    template = history[-window:]
    search = history[-(window + max_lag) :]
    # corr[lag] = <template, search segment ending `lag` samples before the end>
    corr_full = oaconvolve(search, template[::-1], mode="valid")  # length max_lag + 1
    corr = corr_full[::-1]
    energy_t = float(np.dot(template, template))
    csum = np.concatenate(([0.0], np.cumsum(search**2)))
    seg_energy = (csum[window:] - csum[:-window])[::-1]  # energy of the segment at each lag
    denom = np.sqrt(np.maximum(energy_t * seg_energy, 1e-20))
    ncc = corr / denom
    lags = np.arange(ncc.size)
    valid = lags >= min_lag
    if energy_t <= 1e-12 or not valid.any():
        return PitchEstimate(min_lag, 0.0)
    scores = np.where(valid, ncc, -np.inf)
    best = float(scores.max())
    candidates = np.flatnonzero(scores >= OCTAVE_TOLERANCE * best) if best > 0 else []
    lag = int(candidates[0]) if len(candidates) else int(np.argmax(scores))
    # Refine to the local maximum next to the chosen candidate.
    while lag + 1 < scores.size and scores[lag + 1] > scores[lag]:
        lag += 1
    return PitchEstimate(lag, float(max(0.0, scores[lag])))
