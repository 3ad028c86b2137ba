"""Blind mode: find regions to repair without being told (zero runs, packet loss, clipping,
losses a call's decoder concealed, clicks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from voicemend.engine.audio import Audio
from voicemend.engine.detect.bandwidth import analysis_rate, bandwidth_hz, power_spectrum
from voicemend.engine.detect.clicks import ClickSettings, find_clicks
from voicemend.engine.detect.clipping import ClippingSettings, find_clipping
from voicemend.engine.detect.concealment import (
    ConcealmentSettings,
    find_concealment,
    load_concealment_net,
)
from voicemend.engine.detect.levels import (
    FLOOR_CLEAR_OF_SILENCE_MS,
    SILENT_SAMPLE,
    LevelProfile,
    WindowPower,
    frame_levels_db,
    grid_sample,
    sample_quantum,
)
from voicemend.engine.detect.packet_loss import PacketLossSettings, find_packet_loss
from voicemend.engine.detect.silence import (
    SilenceSettings,
    clear_of_quantum,
    faded_silence,
    find_dips,
    find_held_runs,
    find_silence_runs,
    pad_ringing,
    past_ringing,
)
from voicemend.engine.detect.types import DEFAULT_KINDS, Detection, DropoutKind
from voicemend.engine.models.concealment import ConcealmentNet
from voicemend.engine.rates import to_rate
from voicemend.engine.regions import Region

ProgressCallback = Callable[[int, int], None]

# Long files are scanned in blocks; the overlap exceeds the longest detectable run.
BLOCK_S = 60.0
OVERLAP_S = 3.0


@dataclass(frozen=True)
class DetectorSettings:
    silence: SilenceSettings = field(default_factory=SilenceSettings)
    packet_loss: PacketLossSettings = field(default_factory=PacketLossSettings)
    clipping: ClippingSettings = field(default_factory=ClippingSettings)
    concealment: ConcealmentSettings = field(default_factory=ConcealmentSettings)
    clicks: ClickSettings = field(default_factory=ClickSettings)
    kinds: tuple[DropoutKind, ...] = DEFAULT_KINDS
    min_confidence: float = 0.5


class DropoutDetector:
    """``detector(audio) -> list[Detection]``, merged across channels and sorted by time."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()

    @cached_property
    def concealment_net(self) -> ConcealmentNet | None:
        """The concealment network, loaded on first use (``None`` when none ships)."""
        return load_concealment_net(self.settings.concealment)

    def __call__(
        self,
        audio: Audio,
        progress: ProgressCallback | None = None,
        profiles: Sequence[LevelProfile] | None = None,
        known: Sequence[Detection] = (),
    ) -> list[Detection]:
        """``profiles`` (one per channel) replace the levels measured on ``audio``: a file
        scanned in parts is judged against its own levels (:func:`file_profiles`), not each
        part's. ``known`` is damage found before looking (the NaN samples a reader took out,
        engine.nonfinite), merged with what is found whatever ``kinds`` asks for."""
        found: list[Detection] = []
        blocks = _blocks(audio.n_frames, audio.sample_rate)
        total = audio.n_channels * len(blocks)
        for ch in range(audio.n_channels):
            x = audio.samples[ch]
            profile = (
                _profile(x, audio.sample_rate, blocks, self.settings.silence.threshold)
                if profiles is None
                else profiles[ch]
            )
            for i, (lo, hi, own_lo, own_hi) in enumerate(blocks):
                for det in self._detect_block(x[lo:hi], audio.sample_rate, profile):
                    start = det.region.start + lo
                    if own_lo <= start < own_hi:
                        region = Region(start, det.region.end + lo)
                        found.append(Detection(region, det.kind, det.confidence, (ch,)))
                if progress is not None:
                    progress(ch * len(blocks) + i + 1, total)
        kept = [d for d in found if d.confidence >= self.settings.min_confidence] + list(known)
        return [_with_twins(audio, d) for d in merge_detections(kept)]

    def _detect_block(
        self, x: np.ndarray, sample_rate: int, profile: LevelProfile
    ) -> list[Detection]:
        s = self.settings
        out: list[Detection] = []
        # the rate the channel's band fits (engine.detect.bandwidth): under the file's own, it
        # was resampled from there
        rate = analysis_rate(sample_rate, profile.bandwidth_hz)
        power = WindowPower(x)  # one cumulative power for the silence searches below
        if DropoutKind.DIGITAL_SILENCE in s.kinds:
            runs = find_silence_runs(x, sample_rate, profile, s.silence, power)
            if rate < sample_rate:
                runs = pad_ringing(x, sample_rate, runs, s.silence, power)
            out += past_ringing(x, sample_rate, runs, s.silence, profile.floor_db, power)
        if DropoutKind.PACKET_LOSS in s.kinds:
            found = _found_at(
                rate,
                x,
                sample_rate,
                lambda y, r: find_packet_loss(
                    y, r, profile, s.packet_loss, power if y is x else None
                ),
            )
            out += faded_silence(x, sample_rate, found, profile, s.silence, power)
        if DropoutKind.DIGITAL_SILENCE in s.kinds:
            # short cuts a codec filled with noise, where no run or burst above lies
            out += find_dips(x, sample_rate, s.silence, out, power)
        if DropoutKind.HELD in s.kinds:
            out += find_held_runs(x, sample_rate, profile, s.silence)
        out = clear_of_quantum(x, sample_rate, out, profile.quantum, s.silence, power)
        if DropoutKind.CLIPPING in s.kinds:
            out += find_clipping(x, s.clipping, (profile.top, profile.bottom))
        if DropoutKind.CONCEALED in s.kinds and (net := self.concealment_net) is not None:
            out += _beside_holes(find_concealment(x, sample_rate, net, s.concealment), out)
        if DropoutKind.CLICK in s.kinds:
            # a click in a call saved at a higher rate is as band-limited as the call: above
            # its band the signal is nearly silent and its prediction nearly perfect
            out += _found_at(rate, x, sample_rate, lambda y, r: find_clicks(y, r, s.clicks))
        return out

    def regions(self, audio: Audio) -> list[Region]:
        return [d.region for d in self(audio)]


def merge_detections(detections: list[Detection]) -> list[Detection]:
    """Union overlapping detections (across kinds and channels); the surest (then longest) one
    names the kind, and the clipped runs inside a span named otherwise are kept with it."""
    merged: list[Detection] = []
    for det in sorted(detections, key=lambda d: (d.region.start, d.region.end)):
        if merged and merged[-1].region.overlaps_or_touches(det.region):
            last = merged.pop()
            # the surer names the span; of two as sure, the longer (a dropout touching a
            # clipped peak is the dropout)
            best = max((last, det), key=lambda d: (d.confidence, d.region.n_frames))
            region = Region(last.region.start, max(last.region.end, det.region.end))
            channels = tuple(sorted(set(last.channels) | set(det.channels)))
            runs = last.clipped_runs() + det.clipped_runs()
            if best.kind is DropoutKind.CLIPPING:
                runs = ()  # the whole span is then a clipped run
            confidence = max(last.confidence, det.confidence)
            det = Detection(region, best.kind, confidence, channels, tuple(sorted(set(runs))))
        merged.append(det)
    return merged


TWIN_CONTEXT_MS = 20.0
TWIN_DIFFERENCE_DB = -40.0


def _with_twins(audio: Audio, det: Detection) -> Detection:
    """``det`` naming also the channels that carry the same signal as one it names, over its
    region and 20 ms either side (a mono call saved as two channels): a run found at 0.55 in
    one and 0.45 in the other is one dropout, repaired in both, not in one only."""
    if len(det.channels) >= audio.n_channels:
        return det
    pad = round(TWIN_CONTEXT_MS / 1000 * audio.sample_rate)
    span = audio.samples[:, max(0, det.region.start - pad) : det.region.end + pad]
    limit = 10 ** (TWIN_DIFFERENCE_DB / 20)
    levels = {k: float(np.sqrt(np.mean(span[k].astype(np.float64) ** 2))) for k in det.channels}
    named = set(det.channels)
    for c in range(audio.n_channels):
        if c in named:
            continue
        for k, level in levels.items():
            gap = float(np.sqrt(np.mean((span[c].astype(np.float64) - span[k]) ** 2)))
            if gap <= limit * level or gap == 0.0:
                named.add(c)
                break
    return replace(det, channels=tuple(sorted(named)))


def _beside_holes(concealed: list[Detection], found: list[Detection]) -> list[Detection]:
    """The concealed runs that touch no silent or comfort-noise dropout: around a hole the
    network hears a fade, and the level rules' edges are the exact ones."""
    holes = [
        d.region for d in found if d.kind in (DropoutKind.DIGITAL_SILENCE, DropoutKind.PACKET_LOSS)
    ]
    return [c for c in concealed if not any(c.region.overlaps_or_touches(h) for h in holes)]


def _found_at(
    rate: int,
    x: np.ndarray,
    sample_rate: int,
    find: Callable[[np.ndarray, int], list[Detection]],
) -> list[Detection]:
    """``find(samples, rate)`` run at ``rate`` (the rate the channel's band fits), its regions
    put back on ``sample_rate``'s samples, rounded outwards."""
    if rate == sample_rate:
        return find(x, sample_rate)
    out = []
    for det in find(to_rate(x, sample_rate, rate), rate):
        start = int(np.floor(det.region.start * sample_rate / rate))
        end = min(x.size, int(np.ceil(det.region.end * sample_rate / rate)))
        out.append(replace(det, region=Region(start, end)))
    return out


def _blocks(n_frames: int, sample_rate: int) -> list[tuple[int, int, int, int]]:
    """(read_start, read_end, own_start, own_end) per block."""
    step = int(BLOCK_S * sample_rate)
    overlap = int(OVERLAP_S * sample_rate)
    blocks = []
    for own_lo in range(0, max(n_frames, 1), step):
        own_hi = min(n_frames, own_lo + step)
        blocks.append((max(0, own_lo - overlap), min(n_frames, own_hi + overlap), own_lo, own_hi))
    return blocks


def _profile(
    x: np.ndarray,
    sample_rate: int,
    blocks: list[tuple[int, int, int, int]],
    silent_sample: float = SILENT_SAMPLE,
) -> LevelProfile:
    """File-wide levels from 20 ms frames, gathered block by block to keep memory flat; frames
    of samples at or under ``silent_sample`` are digital silence (see ``SILENT_SAMPLE``)."""
    levels = [frame_levels_db(x[lo:hi], sample_rate, silent_sample) for _, _, lo, hi in blocks]
    levels = [v for v in levels if v.size]
    if not levels:
        profile = LevelProfile.measure(x, sample_rate, FLOOR_CLEAR_OF_SILENCE_MS, silent_sample)
    else:
        profile = LevelProfile.from_levels(np.concatenate(levels), FLOOR_CLEAR_OF_SILENCE_MS)
    top = max((float(x[lo:hi].max()) for _, _, lo, hi in blocks if hi > lo), default=0.0)
    bottom = min((float(x[lo:hi].min()) for _, _, lo, hi in blocks if hi > lo), default=0.0)
    power = sum(power_spectrum(x[lo:hi], sample_rate) for _, _, lo, hi in blocks)
    band = bandwidth_hz(np.asarray(power), sample_rate)
    gathered = [grid_sample(x[lo:hi]) for _, _, lo, hi in blocks]
    quantum = sample_quantum(np.concatenate(gathered) if gathered else np.zeros(0))
    return replace(profile, top=top, bottom=bottom, bandwidth_hz=band, quantum=quantum)


def file_profiles(
    read: Callable[[int], np.ndarray],
    n_frames: int,
    sample_rate: int,
    silent_sample: float = SILENT_SAMPLE,
) -> list[LevelProfile]:
    """Per channel, the levels :class:`DropoutDetector` measures on a whole file, from a reader
    that returns the file's next (channels, frames) samples: the same 20 ms frames in the same
    blocks, without holding the file."""
    levels: list[list[np.ndarray]] = []
    powers: list[np.ndarray | float] = []
    tops: list[float] = []
    bottoms: list[float] = []
    gathered: list[list[np.ndarray]] = []
    block = np.empty((0, 0), np.float32)
    for _, _, lo, hi in _blocks(n_frames, sample_rate):
        block = read(hi - lo)
        levels = levels or [[] for _ in block]
        tops, bottoms = tops or [0.0] * len(block), bottoms or [0.0] * len(block)
        powers = powers or [0.0] * len(block)
        gathered = gathered or [[] for _ in block]
        for ch, x in enumerate(block):
            levels[ch].append(frame_levels_db(x, sample_rate, silent_sample))
            gathered[ch].append(grid_sample(x))
            powers[ch] = powers[ch] + power_spectrum(x, sample_rate)
            if x.size:
                tops[ch], bottoms[ch] = (
                    max(tops[ch], float(x.max())),
                    min(bottoms[ch], float(x.min())),
                )
    profiles = []
    for ch, parts in enumerate(levels):
        found = [v for v in parts if v.size]
        if found:
            profile = LevelProfile.from_levels(np.concatenate(found), FLOOR_CLEAR_OF_SILENCE_MS)
        else:  # shorter than one frame: the one block read is the whole file
            profile = LevelProfile.measure(
                block[ch], sample_rate, FLOOR_CLEAR_OF_SILENCE_MS, silent_sample
            )
        band = bandwidth_hz(np.asarray(powers[ch]), sample_rate)
        profiles.append(
            replace(
                profile,
                top=tops[ch],
                bottom=bottoms[ch],
                bandwidth_hz=band,
                quantum=sample_quantum(np.concatenate(gathered[ch])),
            )
        )
    return profiles
