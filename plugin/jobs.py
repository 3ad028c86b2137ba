"""File-level jobs shared by the CLI and the editor: repair a file, detect dropouts in a file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voicemend.engine.audio import Audio
from voicemend.engine.detect import Detection, DropoutDetector
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.engine.inpaint import InpaintResult, get_inpainter
from voicemend.engine.io import load, save
from voicemend.engine.regions import Region, normalize_regions
from voicemend.plugin.labels import read_regions

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


@dataclass
class RepairOutcome:
    audio: Audio
    result: InpaintResult
    detections: list[Detection] = field(default_factory=list)
    output: Path | None = None


def check_output_path(job: RepairJob) -> None:
    """Refuse to replace the input without ``in_place``, or another file without ``overwrite``."""
    same = _same_file(job.input, job.output)
    if same and not job.in_place:
        raise VoicemendError(
            f"refusing to write over the input {job.input}; pass --in-place to do so"
        )
    if job.output.exists() and not same and not job.overwrite:
        raise VoicemendError(f"{job.output} exists; pass --overwrite to replace it")


def collect_regions(
    job: RepairJob,
    audio: Audio,
    detector: DropoutDetector | None = None,
    detect_progress: Progress | None = None,
) -> tuple[list[Region], list[Detection]]:
    """Regions from --region, --labels and --auto, validated against the audio."""
    sr = audio.sample_rate
    spans = list(job.regions_s)
    if job.labels is not None:
        spans += [(lb.start_s, lb.end_s) for lb in read_regions(job.labels)]
    regions = []
    for start_s, end_s in spans:
        if end_s > audio.duration_s + 1e-9:
            raise VoicemendError(
                f"region {start_s:g}-{end_s:g} s ends after the audio ({audio.duration_s:.3f} s)"
            )
        region = Region.from_seconds(start_s, end_s, sr)
        regions.append(Region(region.start, min(region.end, audio.n_frames)))
    detections: list[Detection] = []
    if job.auto:
        detections = (detector or DropoutDetector())(audio, progress=detect_progress)
        regions += [d.region for d in detections]
    return normalize_regions(regions, audio.n_frames), detections


def run_repair(
    job: RepairJob, progress: Progress | None = None, detect_progress: Progress | None = None
) -> RepairOutcome:
    """Load, find regions, repair, save atomically. Nothing is written if any step fails."""
    check_output_path(job)
    inpainter = get_inpainter(job.method, device=job.device)
    audio = load(job.input)
    regions, detections = collect_regions(job, audio, detect_progress=detect_progress)
    if not regions and not job.auto:
        raise VoicemendError("nothing to repair: give --region, --labels or --auto")
    result = inpainter.inpaint(audio, regions, progress=progress)
    out = save(result.audio, job.output, overwrite=job.overwrite or job.in_place)
    return RepairOutcome(audio, result, detections, out)


def run_detect(
    path: Path, detector: DropoutDetector | None = None, progress: Progress | None = None
) -> tuple[Audio, list[Detection]]:
    audio = load(path)
    return audio, (detector or DropoutDetector())(audio, progress=progress)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if b.exists():
            return os.path.samefile(a, b)
    except OSError as exc:
        raise AudioFileError(f"cannot check {b}: {exc}") from None
    return a.resolve() == b.resolve()
