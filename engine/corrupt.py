"""Synthetic damage for tests, demos and benchmarks: zero runs, packet-loss bursts, clipping,
clicks, and a hard noise gate (not damage: the digital silence of an edited recording's pauses).

Positions are drawn inside active speech (not in pauses), seeded, so every run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.detect.levels import (
    FRAME_MS,
    LevelProfile,
    WindowPower,
    frame_levels_db,
)
from voicemend.engine.regions import Region

PACKET_MS = 20.0
# A frame counts as active speech when within this many dB of the file's loud-speech level.
ACTIVE_BELOW_SPEECH_DB = 25.0


@dataclass(frozen=True)
class Damage:
    """One injected corruption: where, what, and (for packet loss) the fill used."""

    region: Region
    kind: str  # "zero", "packet_zero", "packet_noise", "clip"


def active_mask(
    x: np.ndarray, sample_rate: int, below_speech_db: float = ACTIVE_BELOW_SPEECH_DB
) -> np.ndarray:
    """Per-sample mask of active speech from 20 ms frame levels."""
    n = max(1, int(FRAME_MS / 1000 * sample_rate))
    levels = frame_levels_db(x, sample_rate)
    profile = LevelProfile.from_levels(levels)
    active = np.repeat(levels >= profile.speech_db - below_speech_db, n)
    return np.concatenate((active, np.zeros(x.size - active.size, dtype=bool)))


def speech_positions(
    x: np.ndarray,
    sample_rate: int,
    length: int,
    count: int,
    rng: np.random.Generator,
    margin_s: float = 0.3,
    min_active_fraction: float = 0.9,
    taken: list[Region] | None = None,
    allow_overlap: bool = False,
) -> list[Region]:
    """Up to ``count`` regions of ``length`` frames lying in active speech.

    They do not overlap each other (or ``taken``) unless ``allow_overlap``: benchmark positions
    are separate cases, so they may overlap.
    """
    active = active_mask(x, sample_rate)
    csum = np.concatenate(([0], np.cumsum(active)))
    margin = int(margin_s * sample_rate)
    lo, hi = margin, x.size - margin - length
    if hi <= lo:
        return []
    starts = np.arange(lo, hi)
    fraction = (csum[starts + length] - csum[starts]) / length
    candidates = starts[fraction >= min_active_fraction]
    chosen: list[Region] = list(taken or [])
    out: list[Region] = []
    guard = int(0.05 * sample_rate)
    if allow_overlap:
        # A permutation prefix: asking for more positions later keeps the first ones.
        picks = rng.permutation(candidates)[:count]
        return [Region(int(s), int(s) + length) for s in picks]
    for start in rng.permutation(candidates):
        if len(out) >= count:
            break
        region = Region(int(start), int(start) + length)
        if all(region.end + guard <= r.start or r.end + guard <= region.start for r in chosen):
            chosen.append(region)
            out.append(region)
    out.sort()
    return out


def zero_gap(audio: Audio, region: Region) -> Audio:
    samples = audio.samples.copy()
    samples[:, region.start : region.end] = 0.0
    return audio.with_samples(samples)


def packet_burst(
    audio: Audio, region: Region, noise_dbfs: float | None, rng: np.random.Generator
) -> Audio:
    """Replace the region by zeros (``noise_dbfs`` None) or by white comfort noise at that level."""
    samples = audio.samples.copy()
    n = region.n_frames
    if noise_dbfs is None:
        samples[:, region.start : region.end] = 0.0
    else:
        rms = 10 ** (noise_dbfs / 20)
        noise = rng.standard_normal((audio.n_channels, n)) * rms
        samples[:, region.start : region.end] = noise.astype(np.float32)
    return audio.with_samples(samples)


CLICK_SHAPES = ("impulse", "doublet", "ring")
CLICK_LEVEL_MS = 20.0  # either side of a click, the speech its level is measured against


def click_shape(kind: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A click of peak 1: one sample (``impulse``), a sample and the next of opposite signs
    (``doublet``, a splice's jump and back) or a damped 1-6 kHz ring of 0.3-2 ms (``ring``)."""
    if kind == "impulse":
        return np.array([1.0])
    if kind == "doublet":
        return np.array([1.0, -0.7])
    if kind != "ring":
        raise ValueError(f"unknown click shape {kind!r}; known: {', '.join(CLICK_SHAPES)}")
    n = np.arange(max(2, round(rng.uniform(0.3, 2.0) * sample_rate / 1000)))
    ring = np.exp(-4.0 * n / n.size) * np.cos(2 * np.pi * rng.uniform(1000, 6000) * n / sample_rate)
    return ring / np.max(np.abs(ring))


def add_click(audio: Audio, at: int, shape: np.ndarray, above_db: float) -> tuple[Audio, Region]:
    """``audio`` with ``shape`` added at frame ``at`` in every channel, its peak ``above_db``
    over the RMS of the first channel's 20 ms either side; and the click's region."""
    half = round(CLICK_LEVEL_MS / 1000 * audio.sample_rate)
    around = audio.samples[0, max(0, at - half) : at + half].astype(np.float64)
    level = float(np.sqrt(np.mean(around**2))) if around.size else 0.0
    end = min(audio.n_frames, at + shape.size)
    samples = audio.samples.copy()
    samples[:, at:end] += (shape[: end - at] * level * 10 ** (above_db / 20)).astype(samples.dtype)
    return audio.with_samples(samples), Region(at, end)


def packet_region(start: int, n_packets: int, sample_rate: int, grid_offset: int = 0) -> Region:
    """A burst of whole 20 ms packets, aligned to the packet grid at or after ``start``."""
    packet = int(PACKET_MS / 1000 * sample_rate)
    aligned = grid_offset + int(np.ceil((start - grid_offset) / packet)) * packet
    return Region(aligned, aligned + n_packets * packet)


def clip(audio: Audio, region: Region, level: float) -> Audio:
    samples = audio.samples.copy()
    seg = samples[:, region.start : region.end]
    samples[:, region.start : region.end] = np.clip(seg, -level, level)
    return audio.with_samples(samples)


RELEASE_CURVES = ("linear", "exponential")


@dataclass(frozen=True)
class GateSettings:
    """A hard noise gate as editors and streaming tools apply it: closed, it outputs exact zeros.

    The threshold is set, as a user sets it by ear, ``above_floor_db`` over the room noise (the
    10th percentile of 20 ms frame levels), but at least ``min_below_speech_db`` under loud
    speech (their 95th percentile), so that a noisy file's words are not cut. The release falls
    ``"linear"``-ly in gain, or ``"exponential"``-ly (linearly in dB, ``release_range_db`` over
    ``release_ms``), as many gates do, before the gain is 0.
    """

    above_floor_db: float = 10.0
    min_below_speech_db: float = 15.0
    attack_ms: float = 1.0
    hold_ms: float = 20.0
    release_ms: float = 20.0
    detector_ms: float = 5.0  # the envelope: the RMS level over this window
    release_curve: str = "linear"
    release_range_db: float = 100.0

    def __post_init__(self) -> None:
        if self.release_curve not in RELEASE_CURVES:
            raise ValueError(
                f"release_curve must be one of {', '.join(RELEASE_CURVES)}, "
                f"not {self.release_curve!r}"
            )


def noise_gate(audio: Audio, settings: GateSettings | None = None) -> Audio:
    """Every channel gated on its own envelope: open (gain ramping to 1 over ``attack_ms``)
    while the RMS level over ``detector_ms`` is above the threshold and ``hold_ms`` after, then the
    gain falls over ``release_ms`` (see ``release_curve``) to exactly 0."""
    s = settings or GateSettings()
    sr = audio.sample_rate
    out = np.empty_like(audio.samples)
    for ch, x in enumerate(audio.samples):
        levels = LevelProfile.measure(x, sr)
        threshold_db = min(
            levels.floor_db + s.above_floor_db, levels.speech_db - s.min_below_speech_db
        )
        threshold = 10 ** (threshold_db / 20)
        n = max(1, int(s.detector_ms / 1000 * sr))
        idx = np.arange(x.size)
        above = WindowPower(x).mean(idx + 1 - n, idx + 1) > threshold**2  # trailing mean square
        held = _running_max(above.astype(np.float32), int(s.hold_ms / 1000 * sr) + 1) > 0
        # samples since the current open or closed stretch began
        starts = np.zeros(x.size, dtype=np.int64)
        change = np.flatnonzero(np.diff(held)) + 1
        starts[change] = change
        since = idx - np.maximum.accumulate(starts) + 1
        attack = max(1.0, s.attack_ms / 1000 * sr)
        release = max(1.0, s.release_ms / 1000 * sr)
        if s.release_curve == "linear":
            fall = np.maximum(0.0, 1.0 - since / release)
        else:
            fall = np.where(since < release, 10 ** (-s.release_range_db * since / release / 20), 0)
        gain = np.where(held, np.minimum(1.0, since / attack), fall)
        if x.size and not held[0]:  # closed from the start: nothing to release
            gain[: change[0] if change.size else x.size] = 0.0
        out[ch] = (x * gain).astype(np.float32)
    return audio.with_samples(out)


def _running_max(x: np.ndarray, n: int) -> np.ndarray:
    """max(x[i - n + 1 .. i]): the trailing maximum over ``n`` samples."""
    from scipy.ndimage import maximum_filter1d

    if n <= 1:
        return x
    return maximum_filter1d(x, n, origin=(n - 1) // 2, mode="constant")
