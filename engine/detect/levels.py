"""Level statistics that tell active speech from pauses, and short-time power around edges."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.ndimage import binary_dilation

FRAME_MS = 20.0
# Levels are floored here so that digital silence has a finite dB value.
FLOOR_DB = -120.0
# A sample at or under this is digital silence (about 2 LSB of 16-bit; the silence search's
# ``SilenceSettings.threshold``). A frame of such samples is no audio for the levels either: a
# decoder fed zeros puts out samples a hair off zero (Opus: -90..-110 dBFS where a gate had
# closed), and read as audio those frames set the room's floor. Train files through a random
# gate and Opus 24 kb/s (60; floors -67..-83 dBFS against -35..-47 uncoded): false detections
# 37 -> 1, detections off the gated files' cuts 327 -> 41 (cuts found 131 -> 132 of 591);
# through AAC 64 kb/s 1 -> 1 and 13 -> 2 (410 -> 408), MP3 128 kb/s 0 -> 0 and 18 -> 5 (532 ->
# 530); uncoded (120) clean files 7 -> 2, gated 1 -> 1 (cuts 1108 -> 1107).
SILENT_SAMPLE = 2.0**-14
# The room's floor is read away from digital silence: next to it lies no room but a gate's
# fade or a codec's decay into the zeros (Opus takes 100-200 ms down from -65 to -85 dBFS), and
# in gated speech those frames are most of what is not speech, so a floor read over them lies
# so low that the gate's pauses no longer sit under it (``SilenceSettings.fade_below_floor_db``)
# and read as cuts. Train files through a random gate (and cut as the detection bench cuts),
# with 200 ms and 3 s below, and the codec tails of ``SilenceSettings.codec_tail_reach_ms``:
# through Opus 24 kb/s at 48 kHz (60 files) false detections 184 -> 36, cuts into the gated
# files found 123 -> 129 of 591 (534 -> 324 detections off them); through AAC 64 kb/s 3 -> 1,
# 421 -> 408 (25 -> 13 off); MP3 128 kb/s 0 -> 0, 533 -> 528 (27 -> 18 off); uncoded (120
# files) 1 -> 1, 1113 -> 1108 of 1184 (16 -> 15 off); nothing else moved. 500 ms did no better.
# With near-silent frames left out too (:data:`SILENT_SAMPLE`) it still takes the Opus-coded
# gated files' false detections 3 -> 1 and those off their cuts 109 -> 41.
FLOOR_CLEAR_OF_SILENCE_MS = 200.0
# Under this much audio clear of the zeros the floor is read over everything audible: in a
# short clip it moves with whatever lies beside them (a pause beside a cut takes it 3-15 dB up;
# with 1 s, 6 of the quality bench's 13 000 blind cuts, 2 s excerpts, read as fades). 3 s kept
# all of the gains above, 5 s let 10 of the Opus false detections back.
FLOOR_MIN_CLEAR_S = 3.0


# Samples gathered from each block for :func:`sample_quantum`, spread over the block
GRID_SAMPLES = 65536
# A grid is a step that 90 % of the nonzero samples are whole multiples of (within 1 % of a
# step), using 8 or more of its levels, no coarser than 6 bits (2^-5): quiet speech stored in
# 8 bits, or such a file scaled later (a gain, a normalisation in float) or partly repaired.
GRID_SHARE = 0.9
GRID_TOLERANCE = 0.01
GRID_MIN_LEVELS = 8
GRID_MAX_STEP = 2.0**-5


def grid_sample(x: np.ndarray, limit: int = GRID_SAMPLES) -> np.ndarray:
    """Up to ``limit`` of ``x``'s nonzero magnitudes, spread over it, for :func:`sample_quantum`
    (read from every k-th sample, k leaving 4 times as many, most of them not zero)."""
    spread = x[:: max(1, x.size // (4 * limit))]
    nonzero = np.abs(spread[spread != 0]).astype(np.float64)
    return nonzero[:: max(1, -(-nonzero.size // limit))]


def sample_quantum(magnitudes: np.ndarray) -> float:
    """The step of the grid the samples (nonzero magnitudes, :func:`grid_sample`) lie on, or
    0.0 where they lie on none. The smallest magnitudes (the 0.5th percentile) are one step,
    or a few where nothing in the audio is quiet: the largest of that over 1 to 8 that the
    samples lie on is the step."""
    if magnitudes.size == 0:
        return 0.0
    low = magnitudes.size // 200
    smallest = float(np.partition(magnitudes, low)[low])
    for steps in range(1, 9):
        step = smallest / steps
        if not 0.0 < step <= GRID_MAX_STEP:
            continue
        ratio = magnitudes / step
        levels = np.round(ratio)
        on = np.abs(ratio - levels) <= GRID_TOLERANCE
        if on.mean() >= GRID_SHARE and np.unique(levels[on]).size >= GRID_MIN_LEVELS:
            return step
    return 0.0


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
    # The step of the grid its samples lie on (8-bit: 2^-7; :func:`sample_quantum`), 0.0
    # where they lie on none
    quantum: float = 0.0

    @classmethod
    def measure(
        cls,
        x: np.ndarray,
        sample_rate: int,
        floor_clear_ms: float = 0.0,
        silent_sample: float = 0.0,
    ) -> LevelProfile:
        """From ``x``'s 20 ms frames (:func:`frame_levels_db`, ``silent_sample`` as there)."""
        if x.size < max(1, int(FRAME_MS / 1000 * sample_rate)):
            level = float(power_db(np.mean(x.astype(np.float64) ** 2))) if x.size else FLOOR_DB
            return cls(level, level)
        return cls.from_levels(frame_levels_db(x, sample_rate, silent_sample), floor_clear_ms)

    @classmethod
    def from_levels(cls, levels: np.ndarray, floor_clear_ms: float = 0.0) -> LevelProfile:
        """From frame levels in dB; digitally silent frames are left out of the statistics, and
        the floor is read ``floor_clear_ms`` or more away from them where enough is left (see
        :data:`FLOOR_CLEAR_OF_SILENCE_MS`)."""
        silent = levels <= FLOOR_DB + 1
        audible = levels[~silent]
        if audible.size == 0:
            return cls(FLOOR_DB, FLOOR_DB)
        floor_levels = audible
        reach = round(floor_clear_ms / FRAME_MS)
        if reach > 0 and silent.any():
            near = binary_dilation(silent, np.ones(2 * reach + 1, dtype=bool))
            if (~near).sum() >= FLOOR_MIN_CLEAR_S * 1000 / FRAME_MS:
                floor_levels = levels[~near]
        return cls(float(np.percentile(audible, 95)), float(np.percentile(floor_levels, 10)))


def frame_levels_db(x: np.ndarray, sample_rate: int, silent_sample: float = 0.0) -> np.ndarray:
    """The power of ``x``'s whole 20 ms frames in dB; a frame whose every sample is at or under
    ``silent_sample`` reads as digital silence (:data:`FLOOR_DB`, see :data:`SILENT_SAMPLE`)."""
    n = max(1, int(FRAME_MS / 1000 * sample_rate))
    k = x.size // n
    frames = x[: k * n].reshape(k, n).astype(np.float64)
    levels = power_db(np.mean(frames**2, axis=1))
    if silent_sample > 0.0 and k:
        levels[np.max(np.abs(frames), axis=1) <= silent_sample] = FLOOR_DB
    return levels


class WindowPower:
    """Mean power of any window in O(1) from a cumulative sum (float64, per channel), built on
    the first question, so the searches of one block can share one and pay for it only if
    one of them asks."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.n = x.size

    @cached_property
    def _csum(self) -> np.ndarray:
        return np.concatenate(([0.0], np.cumsum(np.asarray(self.x, dtype=np.float64) ** 2)))

    def mean(self, start: np.ndarray | int, end: np.ndarray | int) -> np.ndarray:
        """Mean power of [start, end), clipped to the signal (empty windows give 0)."""
        a = np.clip(start, 0, self.n)
        b = np.clip(end, 0, self.n)
        length = np.maximum(b - a, 1)
        return (self._csum[b] - self._csum[a]) / length

    @classmethod
    def of(cls, x: np.ndarray, power: WindowPower | None) -> WindowPower:
        """``power`` where the caller has one for ``x`` (checked by length), else a new one."""
        if power is None:
            return cls(x)
        if power.n != x.size:
            raise ValueError(f"the window power given is of {power.n} samples, not {x.size}")
        return power
