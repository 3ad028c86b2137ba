"""Spectrogram columns for the visible range: cost set by the screen's width, not the file's length.

Instead of a full STFT of an hour, one windowed FFT is taken at each of ``n_columns`` evenly
spaced positions in the range, so any zoom costs the same. Plain numpy, no Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Reader = Callable[[int, int], np.ndarray]  # (start, end) -> float32 (channels, end - start)
FLOOR_DB = -100.0


@dataclass(frozen=True)
class Spectrogram:
    start_frame: int
    end_frame: int
    sample_rate: int
    db: np.ndarray  # (n_columns, n_fft // 2 + 1), dB re full scale, floored at FLOOR_DB

    @property
    def max_hz(self) -> float:
        return self.sample_rate / 2


def n_fft_for(sample_rate: int) -> int:
    """~23 ms windows: 512 at 22.05 kHz, 1024 at 44.1/48 kHz, 256 at 8-16 kHz."""
    return int(2 ** round(np.log2(max(64, 0.023 * sample_rate))))


def compute(
    read: Reader,
    n_frames: int,
    sample_rate: int,
    start: int,
    end: int,
    n_columns: int,
    should_cancel: Callable[[], bool] | None = None,
) -> Spectrogram | None:
    """Columns of [start, end) (channels mixed to mono); None if cancelled."""
    n_fft = n_fft_for(sample_rate)
    start, end = max(0, start), min(n_frames, end)
    n_columns = max(1, min(n_columns, end - start))
    window = np.hanning(n_fft).astype(np.float32)
    scale = 2.0 / window.sum()
    centres = start + (np.arange(n_columns) + 0.5) * (end - start) / n_columns
    frames = np.zeros((n_columns, n_fft), np.float32)
    # Read each column on its own when they are sparse; one block when they overlap.
    if (end - start) <= n_columns * n_fft:
        lo = max(0, start - n_fft // 2)
        hi = min(n_frames, end + n_fft // 2)
        block = read(lo, hi).mean(axis=0)
        for i, c in enumerate(centres.astype(np.int64)):
            a = c - n_fft // 2 - lo
            seg = block[max(0, a) : max(0, a + n_fft)]
            frames[i, max(0, -a) : max(0, -a) + seg.size] = seg
    else:
        for i, c in enumerate(centres.astype(np.int64)):
            if should_cancel is not None and i % 64 == 0 and should_cancel():
                return None
            a = int(c) - n_fft // 2
            seg = read(max(0, a), min(n_frames, a + n_fft)).mean(axis=0)
            frames[i, max(0, -a) : max(0, -a) + seg.size] = seg
    if should_cancel is not None and should_cancel():
        return None
    mag = np.abs(np.fft.rfft(frames * window, axis=1)) * scale
    db = np.maximum(20 * np.log10(mag + 1e-12), FLOOR_DB).astype(np.float32)
    return Spectrogram(start, end, sample_rate, db)
