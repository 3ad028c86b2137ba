"""The band a recording actually fills, and the rate to look for comfort noise at.

A call decoded at 16 kHz and saved at 48 kHz holds nothing above 8 kHz: its comfort noise is
white only within that band, and at 48 kHz it reads as coloured, so the packet-loss search (which
tells comfort noise by its flat spectrum) would miss every burst. Resampled to the rate the band
fits, it is white again. A recording whose band reaches near its Nyquist frequency is left at its
own rate.
"""

from __future__ import annotations

import numpy as np

# The band holds all but this fraction of the power: 60 dB down, above a 16-bit file's
# quantisation noise for speech at a normal level, far under real speech's top octaves.
TAIL_FRACTION = 1e-6
FULL_BAND = 0.8  # a band reaching this share of the Nyquist frequency is the file's own
ANALYSIS_RATES_HZ = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
SEGMENT_S = 0.02
OVERSHOOT = 1.2  # the measured band over the true one, at most


def power_spectrum(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Summed power per frequency bin of every other of ``x``'s Hann-windowed segments of about
    20 ms (each without its mean), so that blocks of one file add up to the whole file's. Every
    other one, since the band does not change between them and this runs on every file."""
    n = segment_length(sample_rate)
    k = x.size // n
    if k == 0:
        return np.zeros(n // 2 + 1)
    frames = np.asarray(x[: k * n], dtype=np.float64).reshape(k, n)[::2]
    frames = (frames - frames.mean(axis=1, keepdims=True)) * np.hanning(n)
    return np.sum(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)


def segment_length(sample_rate: int) -> int:
    return int(2 ** np.ceil(np.log2(max(16, SEGMENT_S * sample_rate))))


def bandwidth_hz(power: np.ndarray, sample_rate: int) -> float | None:
    """The lowest frequency above which less than :data:`TAIL_FRACTION` of the power lies; None
    for silence."""
    total = float(np.sum(power))
    if not np.isfinite(total) or total <= 0.0:
        return None
    above = np.cumsum(power[::-1])[::-1] / total  # [k]: the share at bin k and higher
    k = int(np.argmax(above < TAIL_FRACTION)) if np.any(above < TAIL_FRACTION) else power.size
    return k * sample_rate / (2 * (power.size - 1))


def analysis_rate(sample_rate: int, band_hz: float | None) -> int:
    """The rate the band fits, or the file's own where the band is full or unknown.

    Under the band's true width the noise that is left is still white; over it, coloured. A
    resampler's transition band leaks power past a standard rate's Nyquist frequency (scipy's
    polyphase filter: 10-15 % for 16 or 22.05 kHz content, at 60 dB down), so the measured band
    overshoots the true one: of the standard rates whose Nyquist frequency lies within
    :data:`OVERSHOOT` of the band, the lowest is taken; failing that, the highest at or under
    it (2 % slack).

    Such a rate is taken even where the band reaches :data:`FULL_BAND` of the file's Nyquist
    frequency, as long as it keeps no more than that share of the file's band: 16 kHz speech
    saved at 22.05 kHz measures 8.3-9.2 kHz (dev split), mostly over 80 % of 11.025 kHz, and
    analysed at 22.05 kHz its empty top band hid nearly every click. A band that a rate nearly
    the file's own explains (44.1 kHz in a 48 kHz file) is the file's own."""
    if band_hz is None:
        return sample_rate
    rates = [r for r in ANALYSIS_RATES_HZ if r < sample_rate]
    near = [
        r
        for r in rates
        if band_hz / OVERSHOOT <= r / 2 <= 1.02 * band_hz and r <= FULL_BAND * sample_rate
    ]
    if near:
        return min(near)
    if band_hz >= FULL_BAND * sample_rate / 2:
        return sample_rate
    under = [r for r in rates if r / 2 <= 1.02 * band_hz]
    return max(under) if under else min(sample_rate, ANALYSIS_RATES_HZ[0])
