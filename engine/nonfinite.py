"""NaN and ±Inf samples in a float file: damage to repair, not a reason to give up on the file.

A plug-in that divided by zero, or a bounce that overflowed, leaves them behind. Players click or
fall silent on them, and no effect or encoder downstream can use them. Read for repair, each
becomes silence and each run of them a ``NON_FINITE`` detection in the channels that hold it,
so the repair fills it like any other dropout and the rest of the file stays as it was. Readers
take a :class:`NonfiniteLog` to do so; without one they refuse such a file, naming the first
sample, as every other path does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs

# Either side of a run, repaired with it: the samples next to a NaN are often the first of
# the fault (a filter blowing up rings before it overflows)
PAD_MS = 0.5
# A longer run is left as the silence it was read as: no method fills seconds of speech (the
# detector seeks dropouts up to 2 s, ``SilenceSettings.max_ms``), and a filter that blew up
# leaves NaN from there to the end of the file, which LSAR would take minutes to "fill"
LONGEST_FILL_S = 2.0


@dataclass
class NonfiniteLog:
    """The runs of NaN/Inf samples a reader read as silence, as (channel, start, end) in
    frames of the file. A run read in two blocks is one run; a block read again after a seek
    adds nothing."""

    pieces: set[tuple[int, int, int]] = field(default_factory=set)  # as read, block by block

    def take(self, samples: np.ndarray, first_frame: int = 0) -> np.ndarray:
        """``samples`` (channels, frames) with NaN/Inf set to 0, their runs noted; the array
        itself when all are finite."""
        bad = ~np.isfinite(samples)
        if not bad.any():
            return samples
        for channel, row in enumerate(bad):
            for start, end in true_runs(row):
                self.pieces.add((channel, first_frame + start, first_frame + end))
        return np.where(bad, np.float32(0.0), samples).astype(samples.dtype, copy=False)

    @property
    def runs(self) -> list[tuple[int, int, int]]:
        """(channel, start, end), sorted; pieces of a run that were read apart, as one."""
        out: list[tuple[int, int, int]] = []
        for ch, start, end in sorted(self.pieces):
            if out and out[-1][0] == ch and start <= out[-1][2]:
                out[-1] = (ch, out[-1][1], max(out[-1][2], end))
            else:
                out.append((ch, start, end))
        return out

    @property
    def n_samples(self) -> int:
        return sum(end - start for _, start, end in self.runs)

    def too_long(self, sample_rate: int) -> list[tuple[int, int, int]]:
        """The runs over :data:`LONGEST_FILL_S`, left as silence."""
        longest = LONGEST_FILL_S * sample_rate
        return [r for r in self.runs if r[2] - r[1] > longest]

    def detections(
        self, sample_rate: int, n_frames: int, start: int = 0, end: int | None = None
    ) -> list[Detection]:
        """One detection per run to fill (padded by ``PAD_MS`` within the file's ``n_frames``;
        not those :meth:`too_long`), runs that meet merged across channels; those that reach
        into [start, end), cut to it, in frames from ``start`` (a block's own)."""
        from voicemend.engine.detect.detector import merge_detections

        end = n_frames if end is None else end
        pad = max(1, round(PAD_MS / 1000 * sample_rate))
        left = self.too_long(sample_rate)
        found = [
            Detection(
                Region(max(0, lo - pad), min(n_frames, hi + pad)),
                DropoutKind.NON_FINITE,
                1.0,
                (ch,),
            )
            for ch, lo, hi in self.runs
            if (ch, lo, hi) not in left
        ]
        return [
            Detection(
                Region(max(d.region.start, start) - start, min(d.region.end, end) - start),
                d.kind,
                d.confidence,
                d.channels,
            )
            for d in merge_detections(found)
            if d.region.end > start and d.region.start < end
        ]

    def describe(self, sample_rate: int) -> str:
        """For people: how many samples, and where the first one is."""
        runs = self.runs
        first = min(start for _, start, _ in runs)
        return (
            f"{self.n_samples} NaN/Inf sample(s) in {len(runs)} run(s), the first at "
            f"{first / sample_rate:.3f} s"
        )

    def outcome(self, sample_rate: int) -> str:
        """For people, after a repair: :meth:`describe`, and what became of them."""
        left = self.too_long(sample_rate)
        if not left:
            return f"{self.describe(sample_rate)}, read as silence and repaired"
        at = min(start for _, start, _ in left) / sample_rate
        rest = "; the rest repaired" if len(left) < len(self.runs) else ""
        return (
            f"{self.describe(sample_rate)}, read as silence; {len(left)} run(s) over "
            f"{LONGEST_FILL_S:g} s (the first at {at:.3f} s) left so, too long to fill{rest}"
        )
