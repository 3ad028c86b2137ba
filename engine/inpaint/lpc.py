"""Autoregressive (LPC) model estimation from the known parts of a signal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import solve_toeplitz

# Relative white-noise correction added to lag 0: keeps the normal equations well conditioned.
WHITE_NOISE_CORRECTION = 1e-6


def autocorrelation(segment: np.ndarray, max_lag: int) -> np.ndarray:
    """Biased autocorrelation of a Hann-windowed segment for lags 0..max_lag (FFT based)."""
    n = segment.size
    if n == 0:
        return np.zeros(max_lag + 1)
    x = segment * np.hanning(n) if n > 2 else segment.copy()  # the symmetric Hann window
    n_fft = 1 << int(np.ceil(np.log2(max(2 * n, 2))))
    spec = np.fft.rfft(x, n_fft)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, n_fft)[: max_lag + 1]
    if r.size < max_lag + 1:
        r = np.concatenate((r, np.zeros(max_lag + 1 - r.size)))
    return r


def estimate_ar(segments: Sequence[np.ndarray], order: int) -> np.ndarray:
    """Prediction-error filter ``c = [1, a_1, ..., a_p]`` from pooled segment autocorrelations.

    The autocorrelation method gives a minimum-phase (stable) filter. Segments shorter than the
    order still contribute their low lags.
    """
    r = np.zeros(order + 1)
    for seg in segments:
        if seg.size > 1:
            r += autocorrelation(np.asarray(seg, dtype=np.float64), order)
    if r[0] <= 0.0:
        return np.concatenate(([1.0], np.zeros(order)))
    r = r.copy()
    r[0] *= 1.0 + WHITE_NOISE_CORRECTION
    # A Gaussian lag window smooths the spectrum estimate (bandwidth expansion).
    lags = np.arange(order + 1)
    r *= np.exp(-0.5 * (lags / (order * 4.0 + 1.0)) ** 2)
    a = solve_toeplitz(r[:order], -r[1 : order + 1])
    return np.concatenate(([1.0], a))


def residual_rms(segments: Sequence[np.ndarray], coeffs: np.ndarray) -> float:
    """RMS of the prediction error of ``coeffs`` over the segments (their valid rows only)."""
    order = coeffs.size - 1
    total, count = 0.0, 0
    for seg in segments:
        if seg.size > order:
            e = np.convolve(seg, coeffs, mode="valid")
            total += float(np.sum(e**2))
            count += e.size
    return float(np.sqrt(total / count)) if count else 0.0
