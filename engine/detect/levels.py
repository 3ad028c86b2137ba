"""Level statistics that tell active speech from pauses, and short-time power around edges."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 20.0
# Levels are floored here so that digital silence has a finite dB value.
FLOOR_DB = -120.0


def power_db(power: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 10 ** (FLOOR_DB / 10)))


@dataclass(frozen=True)
class LevelProfile:
    """File-wide reference levels in dBFS (power of 20 ms frames)."""

    speech_db: float  # loud speech: 95th percentile of frame levels
    floor_db: float  # background: 10th percentile of non-silent frame levels
    # The channel's extremes (its clipping rails), None where only a part was measured: a part
    # repaired already can hold restored peaks past the input's rail.
    top: float | None = None
    bottom: float | None = None
    # The band the channel fills (engine.detect.bandwidth), None where not measured.
    bandwidth_hz: float | None = None

    @classmethod
    def measure(cls, x: np.ndarray, sample_rate: int) -> LevelProfile:
        n = max(1, int(FRAME_MS / 1000 * sample_rate))
        n_frames = x.size // n
        if n_frames == 0:
            level = float(power_db(np.mean(x**2))) if x.size else FLOOR_DB
            return cls(level, level)
        frames = x[: n_frames * n].reshape(n_frames, n)
        return cls.from_levels(power_db(np.mean(frames.astype(np.float64) ** 2, axis=1)))

    @classmethod
    def from_levels(cls, levels: np.ndarray) -> LevelProfile:
        """From frame levels in dB; digitally silent frames are left out of the statistics."""
        audible = levels[levels > FLOOR_DB + 1]
        if audible.size == 0:
            return cls(FLOOR_DB, FLOOR_DB)
        return cls(float(np.percentile(audible, 95)), float(np.percentile(audible, 10)))


class WindowPower:
    """Mean power of any window in O(1) from a cumulative sum (float64, per channel)."""

    def __init__(self, x: np.ndarray) -> None:
        self._csum = np.concatenate(([0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)))
        self.n = x.size

    def mean(self, start: np.ndarray | int, end: np.ndarray | int) -> np.ndarray:
        """Mean power of [start, end), clipped to the signal (empty windows give 0)."""
        a = np.clip(start, 0, self.n)
        b = np.clip(end, 0, self.n)
        length = np.maximum(b - a, 1)
        return (self._csum[b] - self._csum[a]) / length
