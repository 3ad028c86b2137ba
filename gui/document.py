"""The editor's document: the source audio plus an ordered list of patches. Plain Python, no Qt.

The source stays as it was read: int16 in memory for 16-bit files (its own size), otherwise
float32 in a memory-mapped temporary file, so an hour of 44.1 kHz stereo stays within about twice
its 16-bit size. Each repair is a small patch (region, method, replacement samples); the edited
audio is the source with the patches laid over it in order. Undo and redo are pure operations on
the patch list, which the GUI wraps in QUndoCommands.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from voicemend.engine.audio import Audio, SourceFormat
from voicemend.engine.blockwise import needs_blocks
from voicemend.engine.detect import Detection
from voicemend.engine.detect.snap import Snap, snap_regions
from voicemend.engine.errors import AudioFileError, VoicemendError
from voicemend.engine.inpaint import Inpainter
from voicemend.engine.inpaint.clipped import clipping_rails
from voicemend.engine.io import (
    atomic_path,
    available_memory_bytes,
    info,
    open_audio,
    open_writer,
    output_format,
    output_subtype,
    write_text_atomic,
)
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region, holders, normalize_regions
from voicemend.plugin.chain import Chain
from voicemend.plugin.processors import ChainContext

PROJECT_FORMAT = "voicemend-project"
PROJECT_VERSION = 1
CONTEXT_S = 2.0
MAX_CLUSTER_S = 60.0  # regions repaired together (Repair all) span at most this much audio
BLOCK_FRAMES = 1 << 20


@dataclass
class Patch:
    """One repair: ``samples`` (channels, end - start) replace the source over [start, end)."""

    id: int
    start: int
    end: int
    method: str
    samples: np.ndarray
    label: str = ""
    region: tuple[int, int] = (0, 0)  # the repaired region itself, without crossfades


@dataclass
class Document:
    path: Path
    sample_rate: int
    source: np.ndarray  # (frames, channels): int16, or float32 memmap
    subtype: str
    format: str
    patches: list[Patch] = field(default_factory=list)
    dirty: bool = False
    # NaN/Inf samples of a float source, read as silence and offered for repair
    nonfinite: NonfiniteLog = field(default_factory=NonfiniteLog)
    _next_id: int = field(default=1, repr=False)
    _span_cache: tuple[np.ndarray, np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    # --- opening --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Document:
        p = Path(path)
        i = info(p)  # names the problem with a file it cannot read (or an M4A, WMA...)
        if i.n_frames == 0:
            raise AudioFileError(f"{p} holds no audio frames (empty file)")
        log = NonfiniteLog()
        try:
            if i.subtype == "PCM_16" and _fits_in_memory(2 * i.n_frames * i.n_channels):
                data, _ = sf.read(str(p), dtype="int16", always_2d=True)
            else:  # decoded to disk and mapped: a file larger than memory opens too
                data = _read_to_memmap(p, i.n_frames, i.n_channels, log)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(f"cannot read {p}: {exc}") from None
        return cls(p, i.sample_rate, data, i.subtype, i.format, nonfinite=log)

    def nonfinite_left(self) -> list[Detection]:
        """The source's NaN/Inf runs (read as silence) that no repair covers yet."""
        found = self.nonfinite.detections(self.sample_rate, self.n_frames)
        return [
            d
            for d in found
            if not any(
                p.region[0] <= d.region.start and d.region.end <= p.region[1] for p in self.patches
            )
        ]

    @property
    def source_format(self) -> SourceFormat:
        """How the source is stored: what an export keeps, and the bitrate a coded one is
        coded at again."""
        return SourceFormat(self.format, self.subtype, str(self.path))

    @property
    def n_frames(self) -> int:
        return int(self.source.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.source.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.sample_rate

    # --- reading ----------------------------------------------------------------------------
    def original(self, start: int, end: int) -> np.ndarray:
        """Source samples [start, end) as float32 (channels, n)."""
        block = self.source[max(0, start) : min(self.n_frames, end)]
        if block.dtype == np.int16:
            return block.T.astype(np.float32) / 32768.0
        return np.array(block.T, dtype=np.float32)

    def edited(self, start: int, end: int) -> np.ndarray:
        """The edited audio [start, end): the source with every patch laid over it, in order."""
        start, end = max(0, start), min(self.n_frames, end)
        out = self.original(start, end)
        starts, ends = self._spans()
        touching = np.flatnonzero((starts < end) & (ends > start))  # in order: later ones win
        _lay_over(out, start, [self.patches[i] for i in touching])
        return out

    def _spans(self) -> tuple[np.ndarray, np.ndarray]:
        """The patches' starts and ends as arrays, so a read finds the few that touch it without
        visiting thousands (a clipped file's "Repair all" leaves one per clipped run)."""
        if self._span_cache is None:  # add and remove reset it
            self._span_cache = (
                np.fromiter((p.start for p in self.patches), np.int64, len(self.patches)),
                np.fromiter((p.end for p in self.patches), np.int64, len(self.patches)),
            )
        return self._span_cache

    # --- editing (pure operations; the GUI's undo stack calls these) -------------------------
    def add(self, patch: Patch) -> None:
        if patch.id >= self._next_id:  # patches restored from a project or recovery file
            self._next_id = patch.id + 1
        self.patches.append(patch)
        self._span_cache = None
        self.dirty = True

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def remove(self, patch_id: int) -> Patch:
        # From the end: undo takes off the newest first (thousands after "repair all").
        for i in range(len(self.patches) - 1, -1, -1):
            if self.patches[i].id == patch_id:
                self.dirty = True
                self._span_cache = None
                return self.patches.pop(i)
        raise VoicemendError(f"no edit with id {patch_id}")

    def snap(self, region: Region) -> Snap:
        """``region`` grown to the edges of a dropout it cuts into (``engine.detect.snap``),
        judged against the levels of the edited audio within ``CONTEXT_S`` of it."""
        ctx = int(CONTEXT_S * self.sample_rate)
        w0, w1 = max(0, region.start - ctx), min(self.n_frames, region.end + ctx)
        window = Audio(self.edited(w0, w1), self.sample_rate)
        local = snap_regions(window, [region.shifted(-w0)])[0]
        return Snap(region, local.snapped.shifted(w0), local.kind)

    def make_patch(
        self,
        region: Region,
        inpainter: Inpainter,
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        clipped: bool = False,
    ) -> Patch:
        """Repair ``region`` of the edited audio; returns the patch (not yet added). A
        ``clipped`` region (a clipped run) keeps its fill beyond the rail."""
        patches = self.make_patches(
            [region], inpainter, [region] if clipped else [], progress, should_cancel
        )
        return patches[0]

    def make_patches(
        self,
        regions: Sequence[Region],
        inpainter: Inpainter,
        clipped: Sequence[Region] = (),
        progress: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        partial: Sequence[tuple[Region, tuple[int, ...]]] = (),
    ) -> list[Patch]:
        """Repair ``regions`` of the edited audio (and ``partial`` ones, found in the channels
        they name only, in those) as the engine repairs a file: regions close
        together go through one ``inpaint`` call, so a region not yet repaired is never context
        for its neighbour and each patch is cut from the audio with all of them repaired. (Made
        one by one against the unrepaired audio, a clipped file's runs, a few ms apart, were
        repaired as if their neighbours were true, and each patch's crossfade margin put its
        neighbours' clipped samples back: 15 s of speech clipped at 1.5x went from 17.4 to
        17.8 dB SNR on the clipped samples, against 25.4 dB this way.) Within ``clipped``
        spans (clipped runs) fills keep beyond the rail. Returns the patches, not yet added, in
        time order."""
        for region in [*regions, *(r for r, _ in partial)]:
            if region.end > self.n_frames:
                raise VoicemendError("the selection runs past the end of the file")
        whole = normalize_regions(regions, self.n_frames)
        todo = normalize_regions([*whole, *(r for r, _ in partial)], self.n_frames)
        # which of todo each whole region and partial piece lies in (by bisection: thousands
        # of clipped runs, some in one channel only)
        with_whole = set(holders(todo, whole))
        pieces_at: dict[int, list[tuple[Region, tuple[int, ...]]]] = {}
        for piece, i in zip(partial, holders(todo, (r for r, _ in partial)), strict=True):
            pieces_at.setdefault(i, []).append(piece)
        done: list[Patch] = []
        for group in _clusters(todo, int(CONTEXT_S * self.sample_rate), self.sample_rate):
            counted = None
            if progress is not None:
                offset = len(done)
                counted = lambda i, _n, o=offset: progress(o + i, len(todo))  # noqa: E731
            later = todo[len(done) + len(group) :]
            first = len(done)
            own = [j for j in range(len(group)) if first + j in with_whole]
            some = [p for j in range(first, first + len(group)) for p in pieces_at.get(j, ())]
            done += self._repair_cluster(
                group, inpainter, clipped, (done, later), counted, should_cancel, (own, some)
            )
        return done

    def _repair_cluster(
        self,
        group: list[Region],
        inpainter: Inpainter,
        clipped: Sequence[Region],
        around: tuple[list[Patch], list[Region]],
        progress: Callable[[int, int], None] | None,
        should_cancel: Callable[[], bool] | None,
        parts: tuple[Sequence[int], Sequence[tuple[Region, tuple[int, ...]]]] | None = None,
    ) -> list[Patch]:
        """One ``inpaint`` of ``group``; ``around`` holds the patches made for the groups
        before it (laid over its window) and the regions after it (not yet repaired, so never
        context), as a whole-file repair would have them. ``parts``: the indices in ``group``
        of the regions to repair in every channel, and the partial pieces (found in some
        channels only) of the others; by default all of ``group`` in every channel."""
        ctx = int(CONTEXT_S * self.sample_rate)
        w0, w1 = max(0, group[0].start - ctx), min(self.n_frames, group[-1].end + ctx)
        samples = self.edited(w0, w1)
        earlier, later = around
        _lay_over(samples, w0, earlier)
        window = Audio(samples, self.sample_rate)

        def inside(spans: Sequence[Region]) -> list[Region]:
            return [
                Region(max(r.start, w0) - w0, min(r.end, w1) - w0)
                for r in spans
                if r.end > w0 and r.start < w1
            ]

        runs = inside(clipped)
        own_at, pieces = parts if parts is not None else (range(len(group)), [])
        own = [group[i] for i in own_at]
        some = [(r.shifted(-w0), c) for r, c in pieces]
        result = inpainter.inpaint(
            window,
            [r.shifted(-w0) for r in own],
            partial=some,
            progress=progress,
            should_cancel=should_cancel,
            also_damaged=inside(later),
            clipped=runs,
            # the source's extremes, not the edited window's (a patch may hold restored peaks)
            rails=clipping_rails(self.original(w0, w1)) if runs else None,
        )
        patches = []
        for report in result.reports:
            lo = max(0, report.region.start - report.crossfade_frames[0])
            hi = min(window.n_frames, report.region.end + report.crossfade_frames[1])
            patches.append(
                Patch(
                    self._new_id(),
                    w0 + lo,
                    w0 + hi,
                    report.method,
                    np.array(result.audio.samples[:, lo:hi]),
                    label=report.notes,
                    region=(w0 + report.region.start, w0 + report.region.end),
                )
            )
        return patches

    # --- writing ----------------------------------------------------------------------------
    def export(
        self,
        path: str | os.PathLike[str],
        subtype: str | None = None,
        overwrite: bool = False,
        progress: Callable[[int, int], None] | None = None,
        process: Callable[[np.ndarray, int], np.ndarray] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> Path:
        """Write the edited audio (atomically); an existing file, the source included, needs
        ``overwrite``. ``process`` (an effects chain) runs over the whole edited audio first,
        or, for a :class:`Chain` and a document too large for that, over a copy on disk block by
        block; without it the audio streams out block by block. A cancelled export leaves no
        file.
        """
        out = Path(path)
        if out.exists() and not overwrite:
            raise AudioFileError(f"{out} exists; confirm to replace it")
        fmt = output_format(out)
        chosen = output_subtype(out, self.source_format, subtype or None, fmt)
        if isinstance(process, Chain) and needs_blocks(
            self.n_channels, self.n_frames + round(process.tail_s * self.sample_rate)
        ):
            like = SourceFormat(fmt, chosen, str(self.path))  # coded at the source's bitrate
            return self._export_through_chain_in_blocks(
                out, process, like, overwrite, progress, should_cancel
            )
        processed = None
        if process is not None:
            processed = np.atleast_2d(process(self.edited(0, self.n_frames), self.sample_rate))
            if not np.all(np.isfinite(processed)):
                raise VoicemendError("the effects chain produced NaN or Inf samples")
        n_frames = self.n_frames if processed is None else processed.shape[1]
        channels = self.n_channels if processed is None else processed.shape[0]
        with open_writer(
            out,
            self.sample_rate,
            channels,
            self.source_format,
            format=fmt,
            subtype=chosen,
            overwrite=overwrite,
            expected_frames=n_frames,
        ) as write:
            for start in range(0, n_frames, BLOCK_FRAMES):
                if should_cancel is not None and should_cancel():
                    raise VoicemendError("export cancelled; nothing was written")
                end = min(n_frames, start + BLOCK_FRAMES)
                write(self.edited(start, end) if processed is None else processed[:, start:end])
                if progress is not None:
                    progress(end, n_frames)
        return out

    def _export_through_chain_in_blocks(
        self,
        out: Path,
        chain: Chain,
        like: SourceFormat,
        overwrite: bool,
        progress: Callable[[int, int], None] | None,
        should_cancel: Callable[[], bool] | None,
    ) -> Path:
        """The edited audio goes to a float copy beside ``out``, then through
        :meth:`Chain.process_file`; the copy is removed however that ends."""

        def report(done: int, total: int) -> None:
            if should_cancel is not None and should_cancel():
                raise VoicemendError("export cancelled; nothing was written")
            if progress is not None:
                progress(done, total)

        n = self.n_frames
        with tempfile.TemporaryDirectory(prefix=".voicemend-export-", dir=out.parent) as work:
            edited = Path(work) / "edited.w64"
            with open_writer(
                edited, self.sample_rate, self.n_channels, subtype="FLOAT", expected_frames=n
            ) as write:
                for start in range(0, n, BLOCK_FRAMES):
                    end = min(n, start + BLOCK_FRAMES)
                    report(start, n)
                    write(self.edited(start, end))
            context = ChainContext(progress=lambda _stage, done, total: report(done, total))
            chain.process_file(edited, out, context, overwrite=overwrite, like=like)
        return out

    def save_project(self, path: str | os.PathLike[str], mark_clean: bool = True) -> Path:
        """``NAME.voicemend`` (JSON) plus ``NAME.voicemend.flac`` holding the patches' samples.

        Autosave passes ``mark_clean=False``: a recovery copy is not a save the user made.
        """
        project = Path(path)
        sidecar = project.with_name(project.name + ".flac")
        rows, offset = [], 0
        for p in self.patches:
            rows.append(
                {
                    "id": p.id,
                    "start": p.start,
                    "end": p.end,
                    "method": p.method,
                    "label": p.label,
                    "region": list(p.region),
                    "offset": offset,
                }
            )
            offset += p.end - p.start
        if self.patches:
            stacked = np.concatenate([p.samples for p in self.patches], axis=1)
            with atomic_path(sidecar) as tmp:
                sf.write(str(tmp), stacked.T, self.sample_rate, subtype="PCM_24", format="FLAC")
        stat = self.path.stat()
        data = {
            "format": PROJECT_FORMAT,
            "format_version": PROJECT_VERSION,
            "source": str(self.path.resolve()),
            "source_size": stat.st_size,
            "sample_rate": self.sample_rate,
            "channels": self.n_channels,
            "frames": self.n_frames,
            "patches": rows,
        }
        write_text_atomic(project, json.dumps(data, indent=1) + "\n", overwrite=True)
        if mark_clean:
            self.dirty = False
        return project

    @classmethod
    def load_project(cls, path: str | os.PathLike[str]) -> Document:
        """The source named by a ``.voicemend`` project, with the project's patches applied."""
        data = _read_project(Path(path))
        doc = cls.open(data["source"])
        for patch in doc.project_patches(path):
            doc.add(patch)
        doc.dirty = False
        return doc

    def project_patches(self, path: str | os.PathLike[str]) -> list[Patch]:
        """The patches a project (or recovery file) holds for this document, without reading the
        source again; refused if the project belongs to another or a changed source."""
        project = Path(path)
        data = _read_project(project)
        if Path(data["source"]).resolve() != self.path.resolve():
            raise VoicemendError(f"{project} belongs to {data['source']}, not {self.path}")
        if (self.n_frames, self.n_channels, self.sample_rate) != (
            data["frames"],
            data["channels"],
            data["sample_rate"],
        ):
            raise VoicemendError(f"the source {data['source']} changed since the project was saved")
        if not data["patches"]:
            return []
        try:
            stacked, _ = sf.read(
                str(project.with_name(project.name + ".flac")), dtype="float32", always_2d=True
            )
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise VoicemendError(f"cannot read the repairs saved with {project}: {exc}") from None
        patches = []
        for row in data["patches"]:
            n = row["end"] - row["start"]
            samples = stacked[row["offset"] : row["offset"] + n].T.copy()
            patches.append(
                Patch(
                    row["id"],
                    row["start"],
                    row["end"],
                    row["method"],
                    samples,
                    row.get("label", ""),
                    tuple(row.get("region", (0, 0))),
                )
            )
        return patches

    def recovery_path(self) -> Path:
        """Where autosave writes: the user's cache folder, keyed by the source path."""
        base = (
            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
            / "voicemend"
            / "recovery"
        )
        base.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:12]
        return base / f"{self.path.stem}-{key}.voicemend"


def project_source(path: str | os.PathLike[str]) -> Path:
    """The audio file a ``.voicemend`` project edits."""
    return Path(_read_project(Path(path))["source"])


def _read_project(project: Path) -> dict:
    try:
        data = json.loads(project.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise VoicemendError(f"cannot read project {project}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
        raise VoicemendError(f"{project} is not a voicemend project")
    if data.get("format_version") != PROJECT_VERSION:
        raise VoicemendError(f"{project}: unsupported format_version {data.get('format_version')}")
    return data


def _fits_in_memory(n_bytes: int) -> bool:
    """Comfortably: the editor also holds the peak pyramids, the spectrogram and its patches."""
    free = available_memory_bytes()
    return free is None or 2 * n_bytes <= free


def _read_to_memmap(path: Path, frames: int, channels: int, log: NonfiniteLog) -> np.ndarray:
    """Decode any file into a float32 memory-mapped temporary file, block by block; NaN/Inf
    samples go in as silence, noted in ``log``."""
    fd, name = tempfile.mkstemp(prefix="voicemend-source-", suffix=".f32")
    os.close(fd)
    data = np.memmap(name, dtype=np.float32, mode="w+", shape=(frames, channels))
    os.unlink(name)  # the mapping stays valid; the disk space goes when it is closed
    pos = 0
    with open_audio(path) as f:
        for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            data[pos : pos + block.shape[0]] = log.take(block.T, pos).T
            pos += block.shape[0]
    return data


def _lay_over(out: np.ndarray, start: int, patches: Sequence[Patch]) -> None:
    """Write each patch, in order, over the frames of ``out`` (channels, n; its first frame
    is ``start``) that it covers."""
    end = start + out.shape[1]
    for patch in patches:
        lo, hi = max(start, patch.start), min(end, patch.end)
        if lo < hi:
            out[:, lo - start : hi - start] = patch.samples[:, lo - patch.start : hi - patch.start]


def _clusters(regions: list[Region], context: int, sample_rate: int) -> list[list[Region]]:
    """Sorted ``regions`` in groups whose windows (``context`` either side) overlap, each
    spanning at most MAX_CLUSTER_S, so a group is one ``inpaint`` call on a bounded window."""
    most = int(MAX_CLUSTER_S * sample_rate)
    groups: list[list[Region]] = []
    for region in regions:
        if (
            groups
            and region.start - groups[-1][-1].end <= 2 * context
            and region.end - groups[-1][0].start <= most
        ):
            groups[-1].append(region)
        else:
            groups.append([region])
    return groups
