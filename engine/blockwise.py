"""Repair a file too large to decode at once: front to back in blocks, as one pass would.

Each block is the last ``margin`` of repaired output before it, the block itself and ``margin``
of the input after it. Every repair reads at most a few seconds around its gap (the widest
window, ``neural``'s, is about 3 s), so with a margin well beyond that a region sees the same
context it would see in a whole-file pass: the regions before it repaired, those after it still
damaged (``also_damaged``), and its random draws seeded by its index in the file
(``seed_offset``). A block owns the regions that start in it and writes up to the end of the last
one's crossfade; the next block starts there. Detection runs per block with the levels of the
whole file (measured in a first pass) and keeps what starts in the block.

The one difference from a whole-file pass: a repair near a block's start limits its fill's peak
against the repaired output before it, where a whole-file pass uses the damaged input minus the
regions (the limit guards against overshoot, so both give the same fills unless a fill overshoots).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio, SourceFormat
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.detect import Detection, DropoutDetector, by_channels, clipped_regions
from voicemend.engine.detect.detector import file_profiles
from voicemend.engine.detect.levels import SILENT_SAMPLE
from voicemend.engine.inpaint.base import Inpainter, RegionReport
from voicemend.engine.io import AudioReader, available_memory_bytes, decoded_bytes, open_writer
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region, holders, normalize_regions

Progress = Callable[[int, int], None]

BLOCK_S = 120.0  # input each block owns (a 48 kHz stereo block is 46 MB as float32)
MARGIN_S = 10.0  # context kept each side, beyond the longest region
# A whole-file repair holds the input, the output and the working copies of a few regions: about
# three times the decoded file. Files above this share of the free memory, or above MAX_WHOLE
# bytes, go block by block.
WHOLE_FILE_COPIES = 3
MAX_WHOLE_BYTES = 2 * 2**30


def needs_blocks(n_channels: int, n_frames: int, available: int | None = None) -> bool:
    """Whether repairing a file of this size whole would strain the memory that is free."""
    need = WHOLE_FILE_COPIES * decoded_bytes(n_channels, n_frames)
    free = available_memory_bytes() if available is None else available
    return need > MAX_WHOLE_BYTES or (free is not None and need > free)


@dataclass
class BlockwiseResult:
    sample_rate: int
    n_frames: int
    reports: list[RegionReport] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    blocks: int = 0


def repair_in_blocks(
    source: str | Path,
    output: str | Path,
    inpainter: Inpainter,
    regions: Sequence[Region] = (),
    *,
    detector: DropoutDetector | None = None,
    block_s: float = BLOCK_S,
    overwrite: bool = False,
    progress: Progress | None = None,
    detect_progress: Progress | None = None,
    like: SourceFormat | None = None,
    clipped: Sequence[Region] = (),
    partial: Sequence[tuple[Region, Sequence[int]]] = (),
    nonfinite: NonfiniteLog | None = None,
) -> BlockwiseResult:
    """Repair ``regions`` (frames of the whole file), ``partial`` ones in their channels only
    (see ``Inpainter.inpaint``) and, with a ``detector``, what it finds,
    reading ``source`` and writing ``output`` block by block; ``output`` appears only when all
    of it is written, in the sample format of ``like`` where given (else the source's).
    ``progress`` counts frames written, ``detect_progress`` frames measured. ``clipped``
    (file frames) and the clipped runs the detector finds keep their fills beyond the rail.
    NaN/Inf samples are read as silence and repaired, and noted in ``nonfinite`` where given
    (engine.nonfinite)."""
    if not block_s > 0:
        raise ValueError(f"block length must be above 0 s, got {block_s}")
    log = NonfiniteLog() if nonfinite is None else nonfinite
    with AudioReader(source, NonfiniteLog()) as probe:
        sr, n, channels, stored = probe.sample_rate, probe.n_frames, probe.n_channels, probe.source
        profiles = None
        if detector is not None or clipped:  # clipped runs keep to the file's rails
            measured = detect_progress if detector is not None else None
            silent = SILENT_SAMPLE if detector is None else detector.settings.silence.threshold
            profiles = file_profiles(_counting(probe.read, n, measured), n, sr, silent)
    rails = None
    if profiles is not None:
        rails = (
            np.array([p.top for p in profiles], dtype=np.float64),
            np.array([p.bottom for p in profiles], dtype=np.float64),
        )
    given = normalize_regions(regions, n)
    given_partial = [(r, tuple(ch)) for r, ch in partial]
    longest = max((r.n_frames for r in [*given, *(r for r, _ in given_partial)]), default=0)
    margin = int(MARGIN_S * sr) + longest
    fade = int(MAX_CROSSFADE_MS / 1000 * sr)
    block = max(1, int(block_s * sr))
    result = BlockwiseResult(sr, n)
    # The writer is entered first so that the reader closes before the output is renamed into
    # place: with --in-place that is the input, which Windows will not replace while it is open.
    with (
        open_writer(
            output,
            sr,
            channels,
            like or stored,
            overwrite=overwrite,
            expected_frames=n,
        ) as write,
        AudioReader(source, log) as reader,
    ):
        ahead = np.empty((channels, 0), np.float32)  # input from frame `a` on, read already
        before = np.empty((channels, 0), np.float32)  # the output just before `a`
        a = 0
        while a < n:
            want = min(n, a + block + margin)
            if a + ahead.shape[1] < want:
                ahead = np.concatenate([ahead, reader.read(want - a - ahead.shape[1])], axis=1)
                if a + ahead.shape[1] < want:  # the file ends before its header said it would
                    n = want = result.n_frames = a + ahead.shape[1]
            offset = a - before.shape[1]  # the file frame of the block's first sample
            audio = Audio(np.concatenate([before, ahead], axis=1), sr, reader.source)
            found = _detections(detector, audio, profiles, offset, a, log)
            whole_found, partial_found = by_channels(found, channels)
            held = a + ahead.shape[1]
            whole = [r for r in given if r.end > a and r.start < held] + whole_found
            parts = [(r, c) for r, c in given_partial if r.end > a and r.start < held]
            parts += partial_found
            todo = normalize_regions(whole + [r for r, _ in parts], n)
            owned, stop = _owned(todo, a + block, fade, n if want == n else None)
            if stop - a > ahead.shape[1] - margin and want < n:
                block = stop - a  # a region runs past the margin: read on and take it whole
                continue
            # owned regions with a whole-file piece are repaired in every channel; the rest
            # only in the channels their partial pieces name
            with_whole = set(holders(todo, whole))
            local = [r.shifted(-offset) for i, r in enumerate(owned) if i in with_whole]
            local_partial = [
                (r.shifted(-offset), c)
                for (r, c), i in zip(parts, holders(todo, (r for r, _ in parts)), strict=True)
                if i < len(owned)
            ]
            rest = [  # the damage ahead, cut to what the block holds
                Region(r.start - offset, min(r.end - offset, audio.n_frames))
                for r in todo[len(owned) :]
                if r.start - offset < audio.n_frames
            ]
            at_rail = [
                Region(max(0, r.start - offset), min(r.end - offset, audio.n_frames))
                for r in [*clipped, *clipped_regions(found)]
                if r.end > offset and r.start - offset < audio.n_frames
            ]
            repaired = inpainter.inpaint(
                audio,
                local,
                also_damaged=rest,
                seed_offset=len(result.reports),
                clipped=at_rail,
                rails=rails,
                partial=local_partial,
            )
            write(repaired.audio.samples[:, a - offset : stop - offset])
            result.reports += [_shifted(r, offset) for r in repaired.reports]
            result.detections += [d for d in found if d.region.start < stop]
            result.blocks += 1
            before = repaired.audio.samples[:, max(0, stop - offset - margin) : stop - offset]
            ahead = ahead[:, stop - a :]
            a, block = stop, max(1, int(block_s * sr))
            if progress is not None:
                progress(a, n)
    return result


def _owned(
    todo: Sequence[Region], end: int, fade: int, file_end: int | None
) -> tuple[list[Region], int]:
    """The regions a block ending near ``end`` repairs, and where its output stops: past the
    last one's crossfade, and short of where the next one's crossfade could begin. At the end
    of the file (``file_end``) it takes everything."""
    if file_end is not None:
        return list(todo), file_end
    stop, owned = end, 0
    while owned < len(todo) and todo[owned].start < stop + fade:
        stop = max(stop, todo[owned].end + fade)
        owned += 1
    return list(todo[:owned]), stop


def _detections(
    detector: DropoutDetector | None,
    audio: Audio,
    profiles: Sequence | None,
    offset: int,
    first: int,
    nonfinite: NonfiniteLog,
) -> list[Detection]:
    """What the detector finds in the block, with the NaN runs read in it (found with no
    detector too), in file frames, that starts at or after ``first`` (what starts earlier was
    found, and repaired, with the block before)."""
    end = offset + audio.n_frames
    known = nonfinite.detections(audio.sample_rate, end, offset, end)
    found = known if detector is None else detector(audio, profiles=profiles, known=known)
    moved = (replace(d, region=d.region.shifted(offset)) for d in found)
    return [d for d in moved if d.region.start >= first]


def _shifted(report: RegionReport, offset: int) -> RegionReport:
    return replace(report, region=report.region.shifted(offset))


def _counting(
    read: Callable[[int], np.ndarray], total: int, progress: Progress | None
) -> Callable[[int], np.ndarray]:
    done = 0

    def counted(n_frames: int) -> np.ndarray:
        nonlocal done
        block = read(n_frames)
        done += block.shape[1]
        if progress is not None:
            progress(done, total)
        return block

    return counted


def detect_in_blocks(
    source: str | Path,
    detector: DropoutDetector | None = None,
    *,
    block_s: float = BLOCK_S,
    progress: Progress | None = None,
    nonfinite: NonfiniteLog | None = None,
) -> tuple[int, int, list[Detection]]:
    """(sample rate, frames, detections) of a file read block by block; the detections are
    those a whole-file scan finds (the file's own levels, each block with ``MARGIN_S`` of
    context either side), with the runs of NaN/Inf samples (read as silence, and noted in
    ``nonfinite`` where given). ``progress`` counts frames, over the two passes."""
    if not block_s > 0:
        raise ValueError(f"block length must be above 0 s, got {block_s}")
    detector = detector or DropoutDetector()
    log = NonfiniteLog() if nonfinite is None else nonfinite
    with AudioReader(source, NonfiniteLog()) as probe:
        sr, n = probe.sample_rate, probe.n_frames
        half = None if progress is None else (lambda done, _total: progress(done, 2 * n))
        profiles = file_profiles(
            _counting(probe.read, n, half), n, sr, detector.settings.silence.threshold
        )
    margin, block = int(MARGIN_S * sr), max(1, int(block_s * sr))
    found: list[Detection] = []
    with AudioReader(source, log) as reader:
        held = np.empty((reader.n_channels, 0), np.float32)  # input from frame `held_at` on
        held_at = 0
        for a in range(0, max(n, 1), block):
            want = min(n, a + block + margin)
            held = np.concatenate([held, reader.read(want - held_at - held.shape[1])], axis=1)
            if held_at + held.shape[1] < want:  # the file ends before its header said it would
                n = held_at + held.shape[1]
            if a >= n:
                break
            start = max(0, a - margin)
            held, held_at = held[:, start - held_at :], start
            audio = Audio(held, sr, reader.source)
            for d in _detections(detector, audio, profiles, held_at, a, log):
                if d.region.start < a + block:
                    found.append(d)
            if progress is not None:
                progress(n + min(n, a + block), 2 * n)
    return sr, n, found
