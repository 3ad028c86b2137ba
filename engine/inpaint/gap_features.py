"""What a per-gap choice between fills may look at: the context around the gap and the fills.

Nothing here reads inside the gap of the damaged audio. All of it is measured at 16 kHz on one
channel (the caller passes the channels' mean), on at most :data:`CONTEXT_S` either side:
- levels (dB, 50 ms) either side of the gap and their difference, and the edges' level against
  the whole context's;
- periodicity (peak normalised autocorrelation, 2.5-16 ms lags) and pitch lag either side, and
  how far the two lags differ (|log ratio|): a held vowel, or a voiced-unvoiced change;
- the spectral distance between the 40 ms either side (mean |dB|), each side's spectral
  centroid and zero-crossing rate;
- for each fill: its level in the gap and in the gap's middle third against the edges', the
  periodicity of its middle (a buzz), its spectral flatness and share of energy under 700 Hz;
- the log-spectral distance between each pair of fills (how far the methods disagree).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
from scipy.signal import stft

RATE = 16_000
CONTEXT_S = 1.0
SIDE_MS = 50.0
SPEC_MS = 40.0
N_SPECTRUM = 1024
LOW_SHARE_HZ = 700.0
EPS = 1e-10


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + EPS))


def periodicity(x: np.ndarray) -> tuple[float, float]:
    """(peak normalised autocorrelation over 2.5-16 ms lags, its lag in ms); (0, 0) when ``x``
    is shorter than two of the longest lags."""
    x = x - x.mean()
    lo, hi = int(0.0025 * RATE), int(0.016 * RATE)
    if x.size < 2 * hi:
        return 0.0, 0.0
    best, lag = 0.0, lo
    for k in range(lo, hi):
        a, b = x[:-k], x[k:]
        r = float(a @ b / (np.sqrt((a @ a) * (b @ b)) + EPS))
        if r > best:
            best, lag = r, k
    return best, 1000.0 * lag / RATE


def _power(x: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(x * np.hanning(x.size), N_SPECTRUM)) ** 2


def spectrum_db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(_power(x) + EPS)


def centroid_hz(x: np.ndarray) -> float:
    p = _power(x)
    f = np.fft.rfftfreq(N_SPECTRUM, 1 / RATE)
    return float((p * f).sum() / (p.sum() + EPS))


def zero_crossing_rate(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(np.signbit(x).astype(np.int8)))))


def flatness(x: np.ndarray) -> float:
    """Geometric over arithmetic mean of the power spectrum: 1 for white noise, near 0 for tones."""
    p = _power(x) + EPS
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def low_share(x: np.ndarray) -> float:
    """The fraction of ``x``'s energy under 700 Hz."""
    p = _power(x)
    f = np.fft.rfftfreq(N_SPECTRUM, 1 / RATE)
    return float(p[f < LOW_SHARE_HZ].sum() / (p.sum() + EPS))


def log_spectrogram(x: np.ndarray) -> np.ndarray:
    _, _, z = stft(x, nperseg=512, noverlap=384)
    return 10 * np.log10(np.abs(z) ** 2 + 1e-8)


def gap_features(
    damaged: np.ndarray,
    gap: tuple[int, int],
    fills: Mapping[str, np.ndarray],
    known: np.ndarray | None = None,
) -> dict[str, float]:
    """The features of one gap ``[start, end)`` of the 16 kHz mono ``damaged`` audio, where each
    of ``fills`` is ``damaged`` with that method's fill pasted in. ``known`` (default: all but
    the gap) marks the samples that count as context."""
    start, end = gap
    reach = int(CONTEXT_S * RATE)
    lo, hi = max(0, start - reach), min(damaged.size, end + reach)
    damaged = np.asarray(damaged[lo:hi], np.float64)
    fills = {k: np.asarray(v[lo:hi], np.float64) for k, v in fills.items()}
    start, end = start - lo, end - lo
    if known is None:
        known_here = np.ones(damaged.size, bool)
        known_here[start:end] = False
    else:
        known_here = np.asarray(known[lo:hi], bool)
    side = int(SIDE_MS * RATE / 1000)
    spec = int(SPEC_MS * RATE / 1000)
    left = damaged[max(0, start - side) : start]
    right = damaged[end : end + side]
    f: dict[str, float] = {"gap_ms": 1000.0 * (end - start) / RATE}
    f["level_left"], f["level_right"] = level_db(left), level_db(right)
    f["level_diff"] = abs(f["level_left"] - f["level_right"])
    f["level_context"] = level_db(damaged[known_here]) if known_here.any() else level_db(left)
    f["edge_vs_context"] = 0.5 * (f["level_left"] + f["level_right"]) - f["level_context"]
    pl, lag_l = periodicity(left[-spec:])
    pr, lag_r = periodicity(right[:spec])
    f["periodic_left"], f["periodic_right"] = pl, pr
    f["periodic_min"] = min(pl, pr)
    f["lag_mismatch"] = float(abs(np.log((lag_l + 1) / (lag_r + 1))))
    sl, sr = left[-spec:], right[:spec]
    f["side_distance_db"] = float(np.mean(np.abs(spectrum_db(sl) - spectrum_db(sr))))
    f["centroid_left"], f["centroid_right"] = centroid_hz(sl), centroid_hz(sr)
    f["zcr_left"], f["zcr_right"] = zero_crossing_rate(sl), zero_crossing_rate(sr)
    seg = slice(start, end)
    third = (end - start) // 3
    mid = slice(start + third, end - third)
    edge_level = 0.5 * (f["level_left"] + f["level_right"])
    specs = {}
    for name, y in fills.items():
        key = name.replace("-", "_")
        f[f"{key}_level"] = level_db(y[seg]) - edge_level
        f[f"{key}_mid_level"] = level_db(y[mid]) - edge_level
        specs[key] = log_spectrogram(y[seg])
        f[f"{key}_periodic_mid"] = periodicity(y[mid][: 2 * spec])[0]
        f[f"{key}_flatness"] = flatness(y[seg])
        f[f"{key}_low_share"] = low_share(y[seg])
    for a, b in combinations(sorted(specs), 2):
        f[f"lsd_{a}_{b}"] = float(np.mean(np.abs(specs[a] - specs[b])))
    return f
