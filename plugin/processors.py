"""voicemend stages with pedalboard's call shape, ``processor(audio, sample_rate) -> audio``.

Arrays follow pedalboard's conventions: float32, 1-D for mono or 2-D channels-first
``(channels, samples)``, and the output has the input's shape. A 2-D array that looks like
``(samples, channels)`` is refused with a hint instead of being silently misread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicemend.engine.audio import Audio, SourceFormat, check_repair_rate
from voicemend.engine.blockwise import detect_in_blocks, repair_in_blocks
from voicemend.engine.detect import (
    DEFAULT_KINDS,
    ClickSettings,
    Detection,
    DetectorSettings,
    DropoutDetector,
    DropoutKind,
    by_channels,
    clipped_regions,
    some_channels,
)
from voicemend.engine.detect.clicks import SPLICE_FORWARD_RATIO
from voicemend.engine.detect.snap import Snap, snap_regions, snap_regions_in_file
from voicemend.engine.errors import InvalidAudioError, VoicemendError
from voicemend.engine.inpaint import INPAINTERS, get_inpainter
from voicemend.engine.inpaint.base import RegionReport
from voicemend.engine.io import info
from voicemend.engine.regions import Region, normalize_regions

MAX_CHANNELS = 64  # more "channels" than this means the array is (samples, channels)


@dataclass
class ChainContext:
    """What stages of one chain run share: regions found upstream, reports for the caller."""

    regions_s: list[tuple[float, float]] = field(default_factory=list)
    detections: list[dict[str, object]] = field(default_factory=list)
    reports: list[dict[str, object]] = field(default_factory=list)
    snaps: list[dict[str, object]] = field(default_factory=list)  # given spans that were grown
    # The spans of regions_s that a detector stage found: a dropout's edges already, not snapped.
    detected_s: list[tuple[float, float]] = field(default_factory=list)
    # The channels each of detected_s was found in (all, or some: one side of a call).
    detected_channels: list[tuple[int, ...]] = field(default_factory=list)
    # (stage name, done, total) within one file, for progress bars on long files
    progress: Callable[[str, int, int], None] | None = None
    # Damage found while the file was read (NaN samples read as silence, engine.nonfinite), in
    # frames: the first DetectDropouts or Inpaint stage takes it in, and it is repaired
    known: list[Detection] = field(default_factory=list)

    def stage_progress(self, stage: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None
        report = self.progress
        return lambda done, total: report(stage, done, total)


def to_audio(samples: np.ndarray, sample_rate: float) -> tuple[Audio, bool]:
    """Wrap a pedalboard-style array; returns the Audio and whether the input was 1-D."""
    arr = np.asarray(samples)
    if arr.ndim not in (1, 2):
        raise InvalidAudioError(
            f"audio must be 1-D (mono) or 2-D (channels, samples), got {arr.ndim}-D"
        )
    if arr.ndim == 2 and arr.shape[0] > MAX_CHANNELS and arr.shape[1] <= MAX_CHANNELS:
        raise InvalidAudioError(
            f"audio of shape {arr.shape} looks like (samples, channels); pass it as (channels, "
            "samples), e.g. audio.T"
        )
    rate = float(sample_rate)
    if not rate.is_integer():
        raise InvalidAudioError(f"sample rate must be a whole number of Hz, got {sample_rate}")
    audio = Audio.from_array(arr.astype(np.float32, copy=False), int(rate))
    return audio, arr.ndim == 1


def from_audio(audio: Audio, mono_1d: bool) -> np.ndarray:
    out = np.array(audio.samples, dtype=np.float32)
    return out[0] if mono_1d else out


class Processor(ABC):
    """A voicemend chain stage. Stages are data-describable: ``params()`` round-trips presets."""

    type_name: str
    writes_audio = True  # False for a stage that only reads (it passes audio through unchanged)

    def __call__(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        return self.process(audio, sample_rate, ChainContext())

    def process(self, audio: np.ndarray, sample_rate: float, context: ChainContext) -> np.ndarray:
        wrapped, mono_1d = to_audio(audio, sample_rate)
        if wrapped.n_frames == 0:
            return np.array(audio, dtype=np.float32)
        return from_audio(self.apply(wrapped, context), mono_1d)

    @abstractmethod
    def apply(self, audio: Audio, context: ChainContext) -> Audio:
        """Process one whole buffer."""

    def process_file(
        self,
        source: Path,
        output: Path | None,
        context: ChainContext,
        *,
        block_s: float,
        like: SourceFormat | None = None,
        overwrite: bool = False,
    ) -> None:
        """Process a file too large to hold, block by block: read ``source`` and write
        ``output`` in the sample format of ``like`` (a stage that does not write audio is given
        None and only reads)."""
        raise VoicemendError(f"{type(self).__name__} cannot process a file block by block")

    @abstractmethod
    def params(self) -> dict[str, object]:
        """Constructor arguments that rebuild this stage (JSON types only)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class DetectDropouts(Processor):
    """Finds dropouts; passes audio through unchanged and hands regions to later ``Inpaint``s."""

    type_name = "voicemend.DetectDropouts"
    writes_audio = False

    def __init__(
        self,
        min_confidence: float = 0.5,
        kinds: Sequence[str] | None = None,
        splices: bool = False,
    ) -> None:
        try:
            chosen = tuple(DropoutKind(k) for k in (kinds or [k.value for k in DEFAULT_KINDS]))
        except ValueError:
            known = ", ".join(k.value for k in DropoutKind)
            raise VoicemendError(
                f"unknown dropout kind in {list(kinds or [])}; known: {known}"
            ) from None
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise VoicemendError(f"min_confidence must be within 0..1, got {min_confidence}")
        self.min_confidence = float(min_confidence)
        self.kinds = [k.value for k in chosen]
        if splices and DropoutKind.CLICK not in chosen:
            raise VoicemendError("splices are sought as clicks: add 'click' to kinds")
        self.splices = bool(splices)
        # a splice's step shows in the forward error only (engine.detect.clicks)
        clicks = ClickSettings(forward_ratio=SPLICE_FORWARD_RATIO) if splices else ClickSettings()
        self.detector = DropoutDetector(
            DetectorSettings(kinds=chosen, min_confidence=self.min_confidence, clicks=clicks)
        )
        self.detections: list[Detection] = []

    def apply(self, audio: Audio, context: ChainContext) -> Audio:
        known, context.known = context.known, []  # handed on below with what is found
        self.detections = self.detector(
            audio, progress=context.stage_progress("detect"), known=known
        )
        self._hand_on(audio.sample_rate, context)
        return audio

    def process_file(
        self,
        source: Path,
        output: Path | None,
        context: ChainContext,
        *,
        block_s: float,
        like: SourceFormat | None = None,
        overwrite: bool = False,
    ) -> None:
        sr, _, self.detections = detect_in_blocks(
            source, self.detector, block_s=block_s, progress=context.stage_progress("detect")
        )
        self._hand_on(sr, context)

    def _hand_on(self, sample_rate: int, context: ChainContext) -> None:
        """Pass the detections to the stages after this one."""
        spans = [d.seconds(sample_rate) for d in self.detections]
        context.detections += [d.to_dict(sample_rate) for d in self.detections]
        context.regions_s += spans
        context.detected_s += spans
        context.detected_channels += [tuple(d.channels) for d in self.detections]

    def params(self) -> dict[str, object]:
        return {
            "min_confidence": self.min_confidence,
            "kinds": list(self.kinds),
            "splices": self.splices,
        }


class Inpaint(Processor):
    """Repairs given regions (seconds), regions found upstream, or (``auto``) detected ones."""

    type_name = "voicemend.Inpaint"

    def __init__(
        self,
        regions: Sequence[Sequence[float]] | None = None,
        auto: bool = False,
        method: str = "auto",
        device: str = "auto",
        snap: bool = True,
    ) -> None:
        if method not in INPAINTERS:
            raise VoicemendError(
                f"unknown repair method {method!r}; choose one of {', '.join(INPAINTERS)}"
            )
        self.regions_s = [(float(a), float(b)) for a, b in (regions or [])]
        for start_s, end_s in self.regions_s:
            Region.from_seconds(start_s, end_s, 1000)  # validates order and length early
        self.auto = bool(auto)
        self.method = method
        self.device = device
        # Given spans (its own and upstream labels) grow to the edges of dropouts they cut into.
        self.snap = bool(snap)
        self.inpainter = get_inpainter(method, device=device)

    def apply(self, audio: Audio, context: ChainContext) -> Audio:
        sr = audio.sample_rate
        regions, partial = self._regions(
            context, sr, (audio.n_frames, audio.n_channels), lambda r: snap_regions(audio, r)
        )
        clipped = _clipped(context, audio.n_frames)
        known, context.known = context.known, []
        if self.auto and not context.regions_s:
            found = DropoutDetector()(audio, progress=context.stage_progress("detect"), known=known)
            whole, found_partial = by_channels(found, audio.n_channels)
            regions += whole
            partial += found_partial
            clipped += clipped_regions(found)
        elif known:
            whole, found_partial = by_channels(known, audio.n_channels)
            regions += whole
            partial += found_partial
        result = self.inpainter.inpaint(
            audio,
            normalize_regions(regions, audio.n_frames),
            progress=context.stage_progress("repair"),
            clipped=clipped,
            partial=partial,
        )
        context.reports += [_report_dict(r, sr) for r in result.reports]
        return result.audio

    def process_file(
        self,
        source: Path,
        output: Path | None,
        context: ChainContext,
        *,
        block_s: float,
        like: SourceFormat | None = None,
        overwrite: bool = False,
    ) -> None:
        if output is None:
            raise VoicemendError("Inpaint writes audio: give it an output file")
        head = info(source)
        sr, n_frames = head.sample_rate, head.n_frames
        check_repair_rate(sr)
        regions, partial = self._regions(
            context, sr, (n_frames, head.n_channels), lambda r: snap_regions_in_file(source, r)
        )
        done = repair_in_blocks(
            source,
            output,
            self.inpainter,
            regions,
            detector=DropoutDetector() if self.auto and not context.regions_s else None,
            block_s=block_s,
            overwrite=overwrite,
            progress=context.stage_progress("repair"),
            detect_progress=context.stage_progress("detect"),
            like=like,
            clipped=_clipped(context, n_frames),
            partial=partial,
        )
        context.reports += [_report_dict(r, sr) for r in done.reports]

    def _regions(
        self,
        context: ChainContext,
        sample_rate: int,
        size: tuple[int, int],
        snap: Callable[[list[Region]], list[Snap]],
    ) -> tuple[list[Region], list[tuple[Region, tuple[int, ...]]]]:
        """This stage's spans and the labels handed on, grown by ``snap`` (with ``self.snap``),
        beside the regions a detector stage found, whose edges are a dropout's already; and
        those it found in some of the ``size`` = (frames, channels) audio's channels only."""
        n_frames, n_channels = size
        found = set(context.detected_s)
        spans = [*self.regions_s, *(s for s in context.regions_s if s not in found)]
        given = _frames(spans, sample_rate, n_frames)
        if self.snap and given:
            snaps = snap(given)
            given = [s.snapped for s in snaps]
            context.snaps += [s.to_dict(sample_rate) for s in snaps if s.moved]
        channels = dict(zip(context.detected_s, context.detected_channels, strict=False))
        whole, partial = [], []
        for span in sorted(found):
            named = some_channels(channels.get(span), n_channels)
            if named is None:
                whole.append(span)
            else:
                partial += [(r, named) for r in _frames([span], sample_rate, n_frames)]
        return normalize_regions(
            [*given, *_frames(whole, sample_rate, n_frames)], n_frames
        ), partial

    def params(self) -> dict[str, object]:
        return {
            "regions": [list(r) for r in self.regions_s],
            "auto": self.auto,
            "method": self.method,
            "device": self.device,
            "snap": self.snap,
        }


def _frames(spans: Sequence[tuple[float, float]], sample_rate: int, n_frames: int) -> list[Region]:
    """Regions in seconds as frames of a file ``n_frames`` long, cut to its end."""
    regions = []
    for start_s, end_s in spans:
        r = Region.from_seconds(start_s, min(end_s, n_frames / sample_rate), sample_rate)
        regions.append(Region(r.start, min(r.end, n_frames)))
    return normalize_regions(regions, n_frames)


def _clipped(context: ChainContext, n_frames: int) -> list[Region]:
    """The clipped runs that stages upstream found (frames of the same audio): clipping
    detections, and the runs merged into a detection of another kind (``clipped_frames``)."""
    spans = []
    for d in context.detections:
        if d.get("kind") == DropoutKind.CLIPPING.value:
            spans.append(Region(int(d["start_frame"]), int(d["end_frame"])))  # type: ignore[call-overload]
        spans += [Region(int(a), int(b)) for a, b in d.get("clipped_frames", [])]  # type: ignore[attr-defined]
    kept = [Region(r.start, min(r.end, n_frames)) for r in spans if r.start < n_frames]
    return normalize_regions(kept, n_frames)


def _report_dict(report: RegionReport, sample_rate: int) -> dict[str, object]:
    return {
        "start_s": report.region.start / sample_rate,
        "end_s": report.region.end / sample_rate,
        "method": report.method,
        "elapsed_s": report.elapsed_s,
    }


PROCESSORS: dict[str, type[Processor]] = {
    DetectDropouts.type_name: DetectDropouts,
    Inpaint.type_name: Inpaint,
}
