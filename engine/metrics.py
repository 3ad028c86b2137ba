"""Signal metrics that need no extra packages: log-spectral distance and SI-SDR on a segment."""

from __future__ import annotations

import numpy as np
from scipy.signal import stft

# Power floor relative to the reference's peak bin, so silent bins don't dominate the distance.
POWER_FLOOR_DB = -80.0


def log_spectral_distance(
    reference: np.ndarray, estimate: np.ndarray, sample_rate: int, frame_ms: float = 32.0
) -> float:
    """RMS log-spectral distance in dB, averaged over frames (1-D inputs of equal length)."""
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape or ref.ndim != 1:
        raise ValueError("reference and estimate must be 1-D arrays of the same length")
    n_fft = max(16, int(frame_ms / 1000 * sample_rate))
    n_fft = min(n_fft, ref.size)
    hop = max(1, n_fft // 4)
    _, _, s_ref = stft(ref, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    _, _, s_est = stft(est, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False)
    p_ref, p_est = np.abs(s_ref) ** 2, np.abs(s_est) ** 2
    floor = max(float(p_ref.max()), 1e-20) * 10 ** (POWER_FLOOR_DB / 10)
    diff = 10 * np.log10(p_ref + floor) - 10 * np.log10(p_est + floor)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019)."""
    ref = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    est = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    energy = float(np.dot(ref, ref))
    if energy == 0.0:
        return float("-inf") if np.any(est) else float("inf")
    target = (np.dot(est, ref) / energy) * ref
    noise = est - target
    return float(
        10 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20))
    )


def band_energy_db(x: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Mean power (dB) of ``x`` between two frequencies: for checking spectral holes."""
    spec = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64) * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / sample_rate)
    band = (freqs >= low_hz) & (freqs < high_hz)
    return float(10 * np.log10(np.mean(spec[band]) + 1e-20)) if band.any() else float("-inf")
