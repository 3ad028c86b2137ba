"""Regions to repair: half-open sample ranges, with parsing of user times and merging."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voicemend.engine.errors import RegionError


@dataclass(frozen=True, order=True)
class Region:
    """Frames ``[start, end)`` of an audio buffer. Always non-empty and non-negative."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RegionError(f"region {name} must be an integer frame index, got {value!r}")
        if self.start < 0:
            raise RegionError(f"region starts before the audio (frame {self.start})")
        if self.end < self.start:
            raise RegionError(
                f"region is reversed: end frame {self.end} < start frame {self.start}"
            )
        if self.end == self.start:
            raise RegionError(f"region at frame {self.start} has zero length")

    @property
    def n_frames(self) -> int:
        return self.end - self.start

    @classmethod
    def from_seconds(cls, start_s: float, end_s: float, sample_rate: int) -> Region:
        """Convert times to frames, rounding outwards so the whole marked span is covered."""
        for value in (start_s, end_s):
            if not math.isfinite(value):
                raise RegionError(f"region time {value!r} is not a finite number")
        if end_s < start_s:
            raise RegionError(f"region is reversed: end {end_s:g} s < start {start_s:g} s")
        if end_s == start_s:
            raise RegionError(f"region at {start_s:g} s has zero length")
        if start_s < 0:
            raise RegionError(f"region starts before the audio ({start_s:g} s)")
        start = math.floor(start_s * sample_rate + 1e-9)
        end = max(math.ceil(end_s * sample_rate - 1e-9), start + 1)
        return cls(start, end)

    def seconds(self, sample_rate: int) -> tuple[float, float]:
        return self.start / sample_rate, self.end / sample_rate

    def shifted(self, frames: int) -> Region:
        """The same span ``frames`` later (earlier if negative): file frames <-> a part's."""
        return Region(self.start + frames, self.end + frames)

    def overlaps_or_touches(self, other: Region) -> bool:
        return self.start <= other.end and other.start <= self.end


def normalize_regions(regions: Iterable[Region], n_frames: int) -> list[Region]:
    """Validate against the audio length, sort, and merge overlapping or adjacent regions."""
    ordered = sorted(regions)
    for region in ordered:
        if region.end > n_frames:
            raise RegionError(
                f"region {region.start}-{region.end} ends after the audio ({n_frames} frames)"
            )
    merged: list[Region] = []
    for region in ordered:
        if merged and merged[-1].overlaps_or_touches(region):
            last = merged.pop()
            region = Region(last.start, max(last.end, region.end))
        merged.append(region)
    return merged


def holders(todo: Sequence[Region], pieces: Iterable[Region]) -> list[int]:
    """For each of ``pieces``, the index in ``todo`` (sorted and disjoint, as
    :func:`normalize_regions` gives, and covering every piece) of the region that holds it;
    by bisection, so thousands of clipped runs cost no more than a sort."""
    starts = [r.start for r in todo]
    return [bisect.bisect_right(starts, p.start) - 1 for p in pieces]


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time_s(text: str) -> float:
    """Parse ``12.5``, ``mm:ss.sss`` or ``hh:mm:ss.sss`` into seconds."""
    t = text.strip()
    try:
        value = float(t)
    except ValueError:
        match = _CLOCK.match(t)
        if not match:
            raise RegionError(
                f"cannot read time {text!r}; use seconds (12.5) or mm:ss.sss (1:02.5)"
            ) from None
        hours, minutes, seconds = match.groups()
        if float(seconds) >= 60:
            raise RegionError(f"cannot read time {text!r}: seconds must be below 60") from None
        value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if not math.isfinite(value) or value < 0:
        raise RegionError(f"time {text!r} must be a finite, non-negative number of seconds")
    return value


def parse_region_spec(spec: str) -> tuple[float, float]:
    """Parse ``START:END`` (or ``START-END``) with times in seconds or mm:ss.sss, into seconds.

    ``1.0:1.2`` and ``0:01.0:0:01.2`` both work: the colons split evenly between the two times.
    """
    text = spec.strip()
    if "-" in text:
        parts = text.split("-")
        if len(parts) != 2:
            raise RegionError(f"cannot read region {spec!r}; use START:END")
        return _checked(spec, parse_time_s(parts[0]), parse_time_s(parts[1]))
    pieces = text.split(":")
    if len(pieces) % 2 != 0 or len(pieces) > 6:
        raise RegionError(
            f"cannot read region {spec!r}; use START:END with both times in the same form, "
            "e.g. 12.5:12.7 or 01:02.500:01:02.700"
        )
    half = len(pieces) // 2
    start = parse_time_s(":".join(pieces[:half]))
    end = parse_time_s(":".join(pieces[half:]))
    return _checked(spec, start, end)


def _checked(spec: str, start_s: float, end_s: float) -> tuple[float, float]:
    if end_s < start_s:
        raise RegionError(f"region {spec!r} is reversed (end before start)")
    if end_s == start_s:
        raise RegionError(f"region {spec!r} has zero length")
    return start_s, end_s


def format_time_s(seconds: float) -> str:
    """``mm:ss.sss`` (or ``h:mm:ss.sss``) for humans."""
    ms_total = round(seconds * 1000)
    hours, rem = divmod(ms_total, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs = rem / 1000
    if hours:
        return f"{hours}:{minutes:02d}:{secs:06.3f}"
    return f"{minutes:02d}:{secs:06.3f}"
