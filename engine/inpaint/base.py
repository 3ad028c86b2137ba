"""The inpainter interface: ``inpainter(audio, regions) -> audio`` plus per-region reports.

The base class owns everything that is the same for every method: validation, the context window
around each region, the mask of samples still unknown, crossfade sizes, paste-back and timing.
A method only implements :meth:`Inpainter.fill` for one gap. A method that gains from doing many
gaps at once (a neural network on a GPU) also sets ``max_batch`` and implements
:meth:`Inpainter.fill_many`; the engine then hands it runs of regions whose context windows share
no sample, so each sees exactly the context it would have seen one at a time.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from voicemend.engine.audio import Audio, check_repair_rate
from voicemend.engine.crossfade import MAX_CROSSFADE_MS, paste
from voicemend.engine.errors import InpaintError, VoicemendError
from voicemend.engine.inpaint.clipped import Rails, clipping_rails, keep_beyond_rail
from voicemend.engine.regions import Region, holders, normalize_regions

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]

# A fill may not exceed this multiple of the context's peak: guards against unstable solutions.
PEAK_LIMIT_FACTOR = 1.5


class Cancelled(VoicemendError):
    """The caller asked to stop; no output was produced."""


@dataclass(frozen=True)
class GapContext:
    """What a method sees of one gap.

    ``window`` is float64 (channels, n) around the gap; ``known`` is False inside the gap and inside
    any other region not yet repaired. The method returns a fill covering
    ``[gap_start - fade_left, gap_end + fade_right)`` of the window.
    """

    window: np.ndarray
    known: np.ndarray
    gap_start: int
    gap_end: int
    fade_left: int
    fade_right: int
    sample_rate: int
    seed: int = 0
    window_start: int = 0  # frame of the audio where ``window`` begins

    @property
    def gap_frames(self) -> int:
        return self.gap_end - self.gap_start

    @property
    def span(self) -> slice:
        return slice(self.gap_start - self.fade_left, self.gap_end + self.fade_right)

    def known_run_before(self) -> int:
        """Length of the contiguous known run that ends at the gap."""
        before = self.known[: self.gap_start][::-1]
        unknown = np.flatnonzero(~before)
        return int(unknown[0]) if unknown.size else int(before.size)

    def known_run_after(self) -> int:
        """Length of the contiguous known run that starts at the gap end."""
        after = self.known[self.gap_end :]
        unknown = np.flatnonzero(~after)
        return int(unknown[0]) if unknown.size else int(after.size)


@dataclass(frozen=True)
class RegionReport:
    """How one region was repaired."""

    region: Region
    method: str
    elapsed_s: float
    context_frames: tuple[int, int]
    crossfade_frames: tuple[int, int]
    notes: str = ""
    peak: float = 0.0  # the largest magnitude the repair wrote (past 1.0: over full scale)
    kept_at_rail: int = 0  # samples of a clipped run held at its clipped value, not under it


@dataclass(frozen=True)
class InpaintResult:
    audio: Audio
    reports: list[RegionReport] = field(default_factory=list)


class Inpainter(ABC):
    """Base class. Subclasses set ``name`` and implement :meth:`fill`."""

    name: ClassVar[str]
    uses_torch_device: ClassVar[bool] = False  # neural methods run on a chosen torch device
    max_batch: int = 1  # regions per fill_many call; 1: one at a time

    def __call__(self, audio: Audio, regions: Sequence[Region]) -> Audio:
        return self.inpaint(audio, regions).audio

    # --- what a method may tune -------------------------------------------------------------
    def context_frames(self, gap_frames: int, sample_rate: int) -> int | tuple[int, int]:
        """Frames of context wanted on each side of a gap, or (before, after)."""
        return max(gap_frames, int(0.1 * sample_rate))

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        """Frames of overlap wanted at each edge (capped at 10 ms by the engine)."""
        return int(MAX_CROSSFADE_MS / 1000 * sample_rate)

    @abstractmethod
    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        """Return (fill shaped (channels, span length), a short note for the report)."""

    def fill_many(self, contexts: Sequence[GapContext]) -> list[tuple[np.ndarray, str]]:
        """:meth:`fill` for several gaps whose windows have the same shape (see ``max_batch``)."""
        return [self.fill(ctx) for ctx in contexts]

    def choose(self, ctx: GapContext) -> Inpainter:
        """The inpainter that handles this gap; ``auto`` overrides it."""
        return self

    def same_as(self, gap_ms: float) -> str:
        """The name of the method whose repair of a gap of ``gap_ms`` this one's equals sample
        for sample (its own, unless it hands such gaps on): lets a bench reuse that method's
        scores."""
        return self.name

    # --- the engine ---------------------------------------------------------------------------
    def inpaint(
        self,
        audio: Audio,
        regions: Sequence[Region],
        *,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        also_damaged: Sequence[Region] = (),
        seed_offset: int = 0,
        clipped: Sequence[Region] = (),
        rails: Rails | None = None,
        partial: Sequence[tuple[Region, Sequence[int]]] = (),
    ) -> InpaintResult:
        """Repair ``regions``; every sample outside them ± crossfade stays bit-identical.

        ``partial`` regions are repaired too, but are damaged in the listed channels only (a
        dropout on one side of a two-person call): a region made only of them keeps the other
        channels bit-identical, while the fill still reads every channel's context.

        ``also_damaged`` regions are left as they are but, like regions not yet repaired, never
        serve as context; ``seed_offset`` is added to each region's index for the fills that
        draw random numbers. With both, a file repaired in parts gets the repairs a whole-file
        pass gives (see :mod:`voicemend.engine.blockwise`). Within ``clipped`` spans (clipped
        runs, as the detector reports them) a fill never comes out under the rail it replaces
        (:mod:`voicemend.engine.inpaint.clipped`); ``rails`` are the file's extremes per
        channel where ``audio`` is a part of it (by default, ``audio``'s own).
        """
        check_repair_rate(audio.sample_rate)
        todo = normalize_regions([*regions, *(r for r, _ in partial)], audio.n_frames)
        damaged_channels = _damaged_channels(todo, regions, partial, audio.n_channels)
        out = audio.samples.copy()
        pending = np.zeros(audio.n_frames, dtype=bool)
        for region in [*todo, *normalize_regions(also_damaged, audio.n_frames)]:
            pending[region.start : region.end] = True
        if todo and pending.all():
            raise InpaintError(
                "the regions cover the whole file; there is no context to repair from"
            )
        # Fills are peak-limited against undamaged input only, so limits never compound.
        damaged = pending.copy()
        at_rail = np.zeros(audio.n_frames, dtype=bool)
        for region in normalize_regions(clipped, audio.n_frames):
            at_rail[region.start : region.end] = True
        if rails is None and at_rail.any():  # by default the audio's own extremes
            rails = clipping_rails(audio.samples)
        reports: list[RegionReport] = []
        index = 0
        while index < len(todo):
            if should_cancel is not None and should_cancel():
                raise Cancelled("repair cancelled")
            t0 = time.perf_counter()
            method, batch = self._next_batch(
                out, pending, todo, index, audio.sample_rate, seed_offset
            )
            fills = method.fill_many(batch)
            share = (time.perf_counter() - t0) / len(batch)
            for ctx, (fill, note) in zip(batch, fills, strict=True):
                region = todo[index]
                # channels this region is not damaged in: what the paste writes there is undone
                keep = [c for c in range(audio.n_channels) if c not in damaged_channels[index]]
                span = slice(region.start - ctx.fade_left, region.end + ctx.fade_right)
                before = out[keep, span].copy() if keep else None
                if len(batch) > 1:
                    note = f"{note}; batch of {len(batch)}"
                reports.append(
                    self._paste_fill(
                        audio.samples,
                        out,
                        damaged,
                        region,
                        ctx,
                        (fill, note),
                        method,
                        share,
                        (at_rail, rails),
                    )
                )
                if before is not None:
                    out[keep, span] = before
                pending[region.start : region.end] = False
                index += 1
                if progress is not None:
                    progress(index, len(todo))
        return InpaintResult(audio.with_samples(out), reports)

    def _next_batch(
        self,
        out: np.ndarray,
        pending: np.ndarray,
        todo: Sequence[Region],
        first: int,
        sample_rate: int,
        seed_offset: int = 0,
    ) -> tuple[Inpainter, list[GapContext]]:
        """The method for region ``first`` and the contexts of the regions it can fill together.

        Regions join while they follow in order, go to the same method, have windows of the same
        length, and their windows share no sample with the earlier ones: then no region of the
        batch can see another's repair, and each context is the one a region-by-region pass
        would build.
        """
        seed = seed_offset + first
        ctx = self._context(out, pending, todo[first], sample_rate, self, seed)
        method = self.choose(ctx)
        if method is not self:
            ctx = self._context(out, pending, todo[first], sample_rate, method, seed)
        batch = [ctx]
        window_end = ctx.window_start + ctx.window.shape[1]
        for index in range(first + 1, min(len(todo), first + method.max_batch)):
            seed = seed_offset + index
            probe = self._context(out, pending, todo[index], sample_rate, self, seed)
            if self.choose(probe) is not method:
                break
            if method is not self:
                probe = self._context(out, pending, todo[index], sample_rate, method, seed)
            if probe.window_start < window_end or probe.window.shape != ctx.window.shape:
                break
            batch.append(probe)
            window_end = probe.window_start + probe.window.shape[1]
        return method, batch

    @staticmethod
    def _paste_fill(
        source: np.ndarray,
        out: np.ndarray,
        damaged: np.ndarray,
        region: Region,
        ctx: GapContext,
        filled: tuple[np.ndarray, str],
        method: Inpainter,
        fill_s: float,
        clipped: tuple[np.ndarray, Rails | None] | None = None,
    ) -> RegionReport:
        """Peak-limit the fill, crossfade it in, and keep what it wrote beyond the rail where
        the input was clipped (``clipped``: a mask of the file's frames in clipped runs, whose
        crossfades can reach a neighbouring run, and the file's rails); ``fill_s`` is this
        region's share of the time its batch took to fill."""
        t0 = time.perf_counter()
        fill, note = np.asarray(filled[0], dtype=np.float64), filled[1]
        w0 = ctx.window_start
        w1 = w0 + ctx.window.shape[1]
        peak = float(np.abs(source[:, w0:w1][:, ~damaged[w0:w1]]).max(initial=0.0))
        fill, limited = _limit_peak(fill, PEAK_LIMIT_FACTOR * peak)
        if limited:
            note = f"{note}; peak-limited".lstrip("; ")
        paste(out, fill, region.start, region.end, ctx.fade_left, ctx.fade_right)
        span = slice(region.start - ctx.fade_left, region.end + ctx.fade_right)
        moved = 0
        if clipped is not None and clipped[0][span].any():
            out[:, span], moved = keep_beyond_rail(
                source[:, span], out[:, span], clipped[0][span], clipped[1]
            )
            if moved:
                note = f"{note}; {moved} sample(s) kept at the clipping rail".lstrip("; ")
        peak_written = float(np.max(np.abs(out[:, span]), initial=0.0))
        return RegionReport(
            region=region,
            method=method.name,
            elapsed_s=fill_s + time.perf_counter() - t0,
            context_frames=(ctx.gap_start, ctx.window.shape[1] - ctx.gap_end),
            crossfade_frames=(ctx.fade_left, ctx.fade_right),
            notes=note,
            peak=peak_written,
            kept_at_rail=moved,
        )

    @staticmethod
    def _context(
        out: np.ndarray,
        pending: np.ndarray,
        region: Region,
        sample_rate: int,
        method: Inpainter,
        seed: int,
    ) -> GapContext:
        gap = region.n_frames
        n_total = out.shape[1]
        want = method.context_frames(gap, sample_rate)
        before, after = want if isinstance(want, tuple) else (want, want)
        w0 = max(0, region.start - before)
        w1 = min(n_total, region.end + after)
        known = ~pending[w0:w1]
        gap_start, gap_end = region.start - w0, region.end - w0
        ctx = GapContext(
            window=out[:, w0:w1].astype(np.float64),
            known=known,
            gap_start=gap_start,
            gap_end=gap_end,
            fade_left=0,
            fade_right=0,
            sample_rate=sample_rate,
            seed=seed,
            window_start=w0,
        )
        cap = crossfade_cap(method, gap, sample_rate)
        # Fades stay within the known run next to the gap and leave half of it to a neighbour.
        return replace(
            ctx,
            fade_left=min(cap, _fade_room(ctx.known_run_before(), gap_start)),
            fade_right=min(cap, _fade_room(ctx.known_run_after(), known.size - gap_end)),
        )


def crossfade_cap(method: Inpainter, gap_frames: int, sample_rate: int) -> int:
    """The crossfade ``method`` takes at each edge of a gap, room allowing: what it asks for,
    at most :data:`MAX_CROSSFADE_MS`."""
    return min(
        method.crossfade_frames(gap_frames, sample_rate),
        int(MAX_CROSSFADE_MS / 1000 * sample_rate),
    )


def _fade_room(known_run: int, to_window_edge: int) -> int:
    """A fade may use a whole run that reaches the window edge, else half (for the neighbour)."""
    if known_run >= to_window_edge:
        return known_run
    return known_run // 2


def _limit_peak(fill: np.ndarray, limit: float) -> tuple[np.ndarray, bool]:
    if limit == 0.0:
        return np.zeros_like(fill), bool(np.any(fill != 0))
    if np.max(np.abs(fill)) <= limit:
        return fill, False
    return np.clip(fill, -limit, limit), True


def _damaged_channels(
    todo: Sequence[Region],
    regions: Sequence[Region],
    partial: Sequence[tuple[Region, Sequence[int]]],
    n_channels: int,
) -> list[frozenset[int]]:
    """Per region to repair (``todo``: sorted, disjoint, each the union of some of
    ``regions`` and ``partial``), the channels damaged in it: all where a whole-file region
    lies in it, else those its ``partial`` parts name."""
    every = frozenset(range(n_channels))
    named: list[set[int] | None] = [set() for _ in todo]
    for i in holders(todo, regions):
        named[i] = None  # every channel
    for (_, chans), i in zip(partial, holders(todo, (r for r, _ in partial)), strict=True):
        bad = [c for c in chans if not 0 <= c < n_channels]
        if bad:
            raise InpaintError(f"channel {bad[0]} is named damaged, but the audio has {n_channels}")
        own = named[i]
        if own is not None:
            own.update(chans)
    return [every if n is None or not n else frozenset(n) for n in named]
