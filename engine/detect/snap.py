"""Selections snapped out to the dropout they cut into.

A hand-made selection is rarely sample-exact. Where it stops a few samples short of a dropout's
edge, those samples of zeros or comfort noise stay beside the region, and every repair method
reads the audio next to a region as true: LSAR extrapolates from it. One sample of comfort noise
left beside the demo's 60 ms burst took LSAR's log-spectral distance from 5.4 to 14.4 dB. So a
given region that overlaps a dropout the detector finds grows to that dropout's edges, by at
most ``max_extend_ms`` each side (a selection that covers part of a long dropout on purpose still
keeps most of its edges where they were put). A region that touches no dropout is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.detect.detector import DetectorSettings, DropoutDetector, file_profiles
from voicemend.engine.detect.levels import LevelProfile
from voicemend.engine.detect.types import DropoutKind
from voicemend.engine.io import AudioReader
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region


@dataclass(frozen=True)
class SnapSettings:
    # The most an edge moves outwards. A slip of the mouse is a few ms; a dropout the selection
    # only grazes (or a detection that reaches too far) must not swallow speech.
    max_extend_ms: float = 50.0
    # Audio read each side of a region for the detector: comfort-noise bursts need their
    # surroundings to be told from pauses, and the detector's longest look is a few ms.
    context_ms: float = 300.0
    # Clipping is left out: a clipped run is repaired as one, and its edges are the rail's.
    detector: DetectorSettings = field(
        default_factory=lambda: DetectorSettings(
            kinds=(DropoutKind.DIGITAL_SILENCE, DropoutKind.PACKET_LOSS)
        )
    )


@dataclass(frozen=True)
class Snap:
    """A given region and where it went."""

    given: Region
    snapped: Region
    kind: DropoutKind | None = None  # the dropout it was snapped to

    @property
    def moved(self) -> bool:
        return self.snapped != self.given

    def describe(self, sample_rate: int) -> str:
        """``"+1.2 ms before, +0.4 ms after (packet_loss)"``, for a status line or a report."""
        before = (self.given.start - self.snapped.start) * 1000 / sample_rate
        after = (self.snapped.end - self.given.end) * 1000 / sample_rate
        return f"+{before:.1f} ms before, +{after:.1f} ms after ({self.kind})"

    def to_dict(self, sample_rate: int) -> dict[str, object]:
        """For reports: the span as given and as repaired, in seconds, and what it cut into."""
        return {
            "given_s": [round(t, 6) for t in self.given.seconds(sample_rate)],
            "snapped_s": [round(t, 6) for t in self.snapped.seconds(sample_rate)],
            "dropout": None if self.kind is None else self.kind.value,
        }


def snap_regions(
    audio: Audio,
    regions: Sequence[Region],
    settings: SnapSettings | None = None,
    profiles: Sequence[LevelProfile] | None = None,
) -> list[Snap]:
    """Each region of ``audio`` grown to the edges of the dropouts it overlaps (in order)."""
    s = settings or SnapSettings()
    sr = audio.sample_rate
    if profiles is None:
        profiles = file_profiles(_reader(audio.samples), audio.n_frames, sr)
    context = round(s.context_ms / 1000 * sr)

    def window(lo: int, hi: int) -> np.ndarray:
        return audio.samples[:, lo:hi]

    return [_snap(r, window, audio.n_frames, sr, context, s, profiles) for r in regions]


def snap_regions_in_file(
    path: str | os.PathLike[str], regions: Sequence[Region], settings: SnapSettings | None = None
) -> list[Snap]:
    """:func:`snap_regions` for a file too large to hold: the levels from one pass over it, then
    each region's surroundings read on their own."""
    s = settings or SnapSettings()
    if not regions:
        return []
    with AudioReader(path, NonfiniteLog()) as reader:  # NaN samples: silence, repaired too
        sr, n = reader.sample_rate, reader.n_frames
        profiles = file_profiles(reader.read, n, sr)
        context = round(s.context_ms / 1000 * sr)

        def window(lo: int, hi: int) -> np.ndarray:
            reader.seek(lo)
            return reader.read(hi - lo)

        return [_snap(r, window, n, sr, context, s, profiles) for r in regions]


def _snap(
    region: Region,
    window: Callable[[int, int], np.ndarray],
    n_frames: int,
    sample_rate: int,
    context: int,
    s: SnapSettings,
    profiles: Sequence[LevelProfile],
) -> Snap:
    lo, hi = max(0, region.start - context), min(n_frames, region.end + context)
    part = Audio(np.ascontiguousarray(window(lo, hi), dtype=np.float32), sample_rate)
    found = DropoutDetector(s.detector)(part, profiles=profiles)
    local = region.shifted(-lo)
    touching = [d for d in found if d.region.start < local.end and d.region.end > local.start]
    if not touching:
        return Snap(region, region)
    reach = round(s.max_extend_ms / 1000 * sample_rate)
    start = max(min(local.start, *(d.region.start for d in touching)), local.start - reach)
    end = min(max(local.end, *(d.region.end for d in touching)), local.end + reach)
    snapped = Region(start + lo, end + lo)
    if snapped == region:
        return Snap(region, region)
    return Snap(region, snapped, max(touching, key=lambda d: d.confidence).kind)


def _reader(samples: np.ndarray) -> Callable[[int], np.ndarray]:
    """A front-to-back reader over samples in memory, as :func:`file_profiles` wants."""
    position = 0

    def read(n: int) -> np.ndarray:
        nonlocal position
        block = samples[:, position : position + n]
        position += block.shape[1]
        return block

    return read
