"""Moving a window and its mask of unknown samples between sample rates.

Methods that work at a fixed internal rate (the neural models at 16 kHz, LSAR's low-rate first
pass) take the window there and the result back; the mask is rounded outwards so no unknown
sample is ever treated as known.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly


def to_rate(x: np.ndarray, from_rate: int, to_rate: int, n_out: int | None = None) -> np.ndarray:
    """``x`` (..., n) resampled along its last axis, as float64 (polyphase, scipy); with
    ``n_out``, cut or zero-padded to that length (a round trip can be a sample off)."""
    y = np.asarray(x, dtype=np.float64)
    if from_rate != to_rate:
        ratio = Fraction(to_rate, from_rate).limit_denominator(1000)
        y = resample_poly(y, ratio.numerator, ratio.denominator, axis=-1)
    if n_out is None:
        return y
    y = y[..., :n_out]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n_out - y.shape[-1])]
    return np.pad(y, pad)


def mask_to_rate(mask: np.ndarray, from_rate: int, to_rate: int, n_out: int) -> np.ndarray:
    """A boolean mask at another rate, rounded outwards so every unknown sample stays unknown."""
    idx = np.flatnonzero(mask)
    out = np.zeros(n_out, dtype=bool)
    if idx.size:
        lo = np.floor(idx * to_rate / from_rate).astype(int)
        hi = np.ceil((idx + 1) * to_rate / from_rate).astype(int)
        diff = np.zeros(n_out + 1, dtype=np.int64)
        np.add.at(diff, np.clip(lo, 0, n_out), 1)
        np.add.at(diff, np.clip(hi, 0, n_out), -1)
        out = np.cumsum(diff[:-1]) > 0
    return out
