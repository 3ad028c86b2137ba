"""File-level jobs shared by the CLI and the editor: repair a file, detect dropouts in a file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voicemend.engine.audio import Audio, SourceFormat, check_repair_rate
from voicemend.engine.blockwise import BLOCK_S, detect_in_blocks, needs_blocks, repair_in_blocks
from voicemend.engine.detect import (
    Detection,
    DetectorSettings,
    DropoutDetector,
    by_channels,
    clipped_regions,
    kinds_sought,
    some_channels,
)
from voicemend.engine.detect.snap import Snap, snap_regions, snap_regions_in_file
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.engine.inpaint import InpaintResult, get_inpainter
from voicemend.engine.inpaint.base import Inpainter, RegionReport
from voicemend.engine.io import AudioInfo, check_subtype, info, load, save
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region, normalize_regions
from voicemend.plugin.labels import label_channels, read_regions

Progress = Callable[[int, int], None]


@dataclass
class RepairJob:
    """What to repair in one file and where to write it."""

    input: Path
    output: Path
    regions_s: Sequence[tuple[float, float]] = ()
    labels: Path | None = None
    auto: bool = False
    method: str = "auto"
    in_place: bool = False
    overwrite: bool = False
    device: str = "auto"
    # Repair in blocks of this many seconds, never holding the whole file; None: only files too
    # large to repair whole in the memory that is free (see engine.blockwise.needs_blocks).
    block_s: float | None = None
    # The output's sample format (soundfile subtype, e.g. "FLOAT"); None keeps the input's.
    subtype: str | None = None
    # Grow given regions (--region, --labels) to the edges of a dropout they cut into, so that
    # none of it is left beside them as context (engine.detect.snap).
    snap: bool = True
    # With ``auto``, also find the losses a call's decoder concealed (the concealment network).
    concealed: bool = False
    # With ``auto``, also find clicks (engine.detect.clicks).
    clicks: bool = False

    def detector(self) -> DropoutDetector:
        """The detector ``auto`` repairs what it finds of."""
        return DropoutDetector(DetectorSettings(kinds=kinds_sought(self.concealed, self.clicks)))


@dataclass
class RepairOutcome:
    """What a repair did. A file repaired block by block is never held whole: ``audio`` and
    ``result.audio`` are then None, and ``reports`` still list every region."""

    sample_rate: int
    reports: list[RegionReport]
    detections: list[Detection] = field(default_factory=list)
    output: Path | None = None
    audio: Audio | None = None
    result: InpaintResult | None = None
    blocks: int = 0
    snaps: list[Snap] = field(default_factory=list)  # the given regions that were moved
    # the NaN/Inf samples read as silence and repaired (engine.nonfinite)
    nonfinite: NonfiniteLog = field(default_factory=NonfiniteLog)

    def snapped(self) -> list[Snap]:
        return [s for s in self.snaps if s.moved]


def check_output_path(job: RepairJob) -> None:
    """Refuse to replace the input without ``in_place``, or another file without ``overwrite``."""
    same = _same_file(job.input, job.output)
    if same and not job.in_place:
        raise VoicemendError(
            f"refusing to write over the input {job.input}; pass --in-place to do so"
        )
    if job.output.exists() and not same and not job.overwrite:
        raise VoicemendError(f"{job.output} exists; pass --overwrite to replace it")
    if job.subtype is not None:
        check_subtype(job.output, job.subtype)


@dataclass
class Regions:
    """What a job repairs: ``whole`` regions in every channel, ``partial`` ones (detected in
    some channels only) in theirs; and the detections and snaps behind them."""

    whole: list[Region]
    partial: list[tuple[Region, tuple[int, ...]]]
    detections: list[Detection]
    snaps: list[Snap]


def collect_regions(
    job: RepairJob,
    audio: Audio,
    detector: DropoutDetector | None = None,
    detect_progress: Progress | None = None,
    known: Sequence[Detection] = (),
) -> Regions:
    """Regions from --region, --labels (snapped, with ``job.snap``) and --auto, validated
    against the audio, and the ``known`` damage (NaN samples read as silence), which is always
    repaired."""
    regions, partial = _given_regions(
        job, audio.sample_rate, audio.duration_s, (audio.n_frames, audio.n_channels)
    )
    snaps = snap_regions(audio, regions) if job.snap else []
    if snaps:
        regions = [s.snapped for s in snaps]
    detections = list(known)
    if job.auto:
        detections = (detector or job.detector())(audio, progress=detect_progress, known=known)
    if detections:
        whole, found = by_channels(detections, audio.n_channels)
        regions += whole
        partial += found
    return Regions(normalize_regions(regions, audio.n_frames), partial, detections, snaps)


def run_repair(
    job: RepairJob, progress: Progress | None = None, detect_progress: Progress | None = None
) -> RepairOutcome:
    """Load, find regions, repair, save atomically. Nothing is written if any step fails."""
    check_output_path(job)
    inpainter = get_inpainter(job.method, device=job.device)
    head = info(job.input)
    if job.block_s is not None or needs_blocks(head.n_channels, head.n_frames):
        return _repair_in_blocks(job, inpainter, head, progress, detect_progress)
    log = NonfiniteLog()
    audio = load(job.input, nonfinite=log)
    known = log.detections(audio.sample_rate, audio.n_frames)
    todo = collect_regions(job, audio, detect_progress=detect_progress, known=known)
    detections, snaps = todo.detections, todo.snaps
    if not todo.whole and not todo.partial and not job.auto:
        raise VoicemendError("nothing to repair: give --region, --labels or --auto")
    result = inpainter.inpaint(
        audio,
        todo.whole,
        progress=progress,
        clipped=clipped_regions(detections),
        partial=todo.partial,
    )
    out = save(
        result.audio, job.output, overwrite=job.overwrite or job.in_place, subtype=job.subtype
    )
    return RepairOutcome(
        audio.sample_rate,
        result.reports,
        detections,
        out,
        audio,
        result,
        snaps=snaps,
        nonfinite=log,
    )


def _repair_in_blocks(
    job: RepairJob,
    inpainter: Inpainter,
    head: AudioInfo,
    progress: Progress | None,
    detect_progress: Progress | None,
) -> RepairOutcome:
    """:func:`run_repair` for a file too large to hold (or when asked): block by block, with
    ``progress`` counting seconds of audio instead of regions."""
    check_repair_rate(head.sample_rate)
    regions, partial = _given_regions(
        job, head.sample_rate, head.duration_s, (head.n_frames, head.n_channels)
    )
    if not regions and not partial and not job.auto:
        raise VoicemendError("nothing to repair: give --region, --labels or --auto")
    snaps = snap_regions_in_file(job.input, regions) if job.snap else []
    if snaps:
        regions = normalize_regions([s.snapped for s in snaps], head.n_frames)
    log = NonfiniteLog()
    done = repair_in_blocks(
        job.input,
        job.output,
        inpainter,
        regions,
        detector=job.detector() if job.auto else None,
        block_s=job.block_s or BLOCK_S,
        overwrite=job.overwrite or job.in_place,
        progress=_in_seconds(progress, head.sample_rate),
        detect_progress=_in_seconds(detect_progress, head.sample_rate),
        like=None if job.subtype is None else SourceFormat("", job.subtype, ""),
        partial=partial,
        nonfinite=log,
    )
    return RepairOutcome(
        done.sample_rate,
        done.reports,
        done.detections,
        job.output,
        blocks=done.blocks,
        snaps=snaps,
        nonfinite=log,
    )


@dataclass
class DetectOutcome:
    """Detections in a file; ``audio`` is None where the file was scanned block by block."""

    sample_rate: int
    n_frames: int
    detections: list[Detection]
    audio: Audio | None = None
    n_channels: int = 1

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate


def run_detect(
    path: Path,
    detector: DropoutDetector | None = None,
    progress: Progress | None = None,
    block_s: float | None = None,
) -> DetectOutcome:
    """Detect dropouts in a file; block by block (``block_s``, or files too large to hold)."""
    head = info(path)
    if block_s is not None or needs_blocks(head.n_channels, head.n_frames):
        sr, n, found = detect_in_blocks(
            path,
            detector,
            block_s=block_s or BLOCK_S,
            progress=_in_seconds(progress, head.sample_rate),
        )
        return DetectOutcome(sr, n, found, n_channels=head.n_channels)
    log = NonfiniteLog()
    audio = load(path, nonfinite=log)
    known = log.detections(audio.sample_rate, audio.n_frames)
    found = (detector or DropoutDetector())(audio, progress=progress, known=known)
    return DetectOutcome(audio.sample_rate, audio.n_frames, found, audio, audio.n_channels)


def _in_seconds(progress: Progress | None, sample_rate: int) -> Progress | None:
    """Progress in frames told in whole seconds of audio, which is what a person can read."""
    if progress is None:
        return None
    return lambda done, total: progress(done // sample_rate, -(-total // sample_rate))


def _given_regions(
    job: RepairJob, sr: int, duration_s: float, size: tuple[int, int]
) -> tuple[list[Region], list[tuple[Region, tuple[int, ...]]]]:
    """The regions of --region and --labels, in frames, checked against the file's length:
    those for every channel, and the labels that name some of the ``size`` = (frames,
    channels) file's channels only (``[R]``, as ``voicemend detect`` writes for a dropout in
    one side), which are a detector's edges and are not snapped."""
    n_frames, n_channels = size
    spans: list[tuple[float, float, tuple[int, ...] | None]] = [
        (a, b, None) for a, b in job.regions_s
    ]
    if job.labels is not None:
        spans += [
            (lb.start_s, lb.end_s, label_channels(lb.text)) for lb in read_regions(job.labels)
        ]
    whole, partial = [], []
    for start_s, end_s, channels in spans:
        if end_s > duration_s + 1e-9:
            raise VoicemendError(
                f"region {start_s:g}-{end_s:g} s ends after the audio ({duration_s:.3f} s)"
            )
        r = Region.from_seconds(start_s, end_s, sr)
        region = Region(r.start, min(r.end, n_frames))
        named = some_channels(channels, n_channels)
        if named is None:  # no tag, or one this file's channels do not fit: every channel
            whole.append(region)
        else:
            partial.append((region, named))
    return normalize_regions(whole, n_frames), partial


def _same_file(a: Path, b: Path) -> bool:
    try:
        if b.exists():
            return os.path.samefile(a, b)
    except OSError as exc:
        raise AudioFileError(f"cannot check {b}: {exc}") from None
    return a.resolve() == b.resolve()
