"""Runs of digital (exact or near) silence inside active audio."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from voicemend.engine.detect.levels import SILENT_SAMPLE, LevelProfile, WindowPower, power_db
from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs


@dataclass(frozen=True)
class SilenceSettings:
    threshold: float = SILENT_SAMPLE  # |x| at or below this is "digital silence"
    min_ms: float = 5.0
    max_ms: float = 2000.0
    neighbour_ms: float = 10.0
    # The audio next to the run must be this far above the threshold to count as active.
    active_margin_db: float = 20.0
    edge_ms: float = 1.0
    # In a band-limited channel (a 16 kHz call saved at 48 kHz) zeros written before the
    # resampling ring into both sides of the gap: the run found is about 0.5 ms short each end,
    # and that ringing, read as true context, misleads the fill. A side whose 0.5 ms next to the
    # run is ``ring_db`` under the 1 ms beyond it rings (median 22.7 dB under; beside zeros
    # written at the file's own rate 0.2 dB) and is widened by ``ring_pad_ms``. 20-60 ms gaps
    # at 48 kHz repaired by lsar, gap +- 20 ms: log-spectral distance 9.05 -> 7.10 dB and SI-SDR
    # -1.72 -> +2.79 dB on 30 dev files (8.78 -> 7.84 dB, -1.67 -> +0.83 dB on 30 train files);
    # zeros written at 48 kHz kept their edges (both sets unchanged). 10 and 15 dB widened some
    # of those too.
    ring_db: float = 20.0
    ring_pad_ms: float = 1.0
    # How far out a ringing tail is looked through (ring_extent). A resampler's rings for a
    # few milliseconds; a lossy codec (MP3) smears a cut over up to a frame: at 44.1 kHz and
    # 128 kb/s the audio beside a cut comes down through 10-20 ms of quantisation noise near
    # 2^-14, which read as a gate's fade. On 200 train files so coded (scripts/gate_study.py
    # --saved-as mp3:128, bench/results/detection-gated/reach.md) 5 ms called 35.4 % of the
    # cuts into speech fades, 25 ms 1.0 %, and the gates' pauses 99.6 / 99.3 % as before;
    # uncoded, nothing moved by more than one run in 685.
    ring_reach_ms: float = 25.0
    # Opus takes a cut down through a decay at -65..-85 dBFS before its zeros, 20-300 ms long:
    # a ringing tail past ``ring_reach_ms`` counts up to ``codec_tail_reach_ms`` where its power
    # lies ``fade_below_floor_db`` under the room's floor (a real pause beside a cut does not).
    # Train files, the floor read clear of the zeros: through Opus 24 kb/s (60) cuts found with
    # their edges 112 -> 130 of 589, zeroed packets 177 -> 190 of 594; through AAC 64 kb/s 448
    # -> 450 and 493 -> 497; uncoded (120) none moved, 2 more false detections in gated files.
    # Without the floor's bound the Opus cuts rose to 169, but the quality bench's blind regions
    # beside a pause grew by 30-170 ms over real audio (10 of 13 000 cases; none with it).
    codec_tail_reach_ms: float = 200.0
    # Past ``ring_reach_ms`` the step that ends a codec's tail need only be ``codec_ring_db``:
    # Opus decays smoothly from a cut for up to 200 ms, and where the speech before the cut was
    # quiet the decay starts only 12-20 dB under it. A tail so ended must also decay into the
    # run, its outer half ``codec_decline_db`` over its inner half: a quiet pause beside a cut
    # is steady (one in a 2 s excerpt of the quality bench, 13 dB under that excerpt's floor,
    # was taken for a 122 ms tail without it), and a gate's release rises outwards gradually,
    # with no such step. Train files, near-silent frames left out of the floor: through Opus 24
    # kb/s (60) cuts found with their edges 130 -> 150 of 589, zeroed packets 192 -> 214 of 594,
    # cuts into gated speech 132 -> 171 of 591, false detections unchanged; uncoded (120)
    # nothing moved. 12 dB with no decline asked: 155, 219, 185, and uncoded 1 more gated false
    # detection; 15 dB: 147, 209, 161; 9 dB: 163, 228, 199, with 3 gated false detections
    # against 1; a decline of 3 dB kept 154, 217, 179, with the uncoded false detection; 10 dB
    # 143, 208, 164. A reach of 300 or 400 ms found no more.
    codec_ring_db: float = 12.0
    codec_decline_db: float = 6.0
    # A noise gate (or an editor's fade) takes the audio into digital silence through a fade:
    # its last millisecond before the run lies far under the room's floor, where a cut leaves
    # the audio at its own level. A run with one edge ``fade_below_floor_db`` under the floor
    # and the other under ``fade_other_above_floor_db`` over it (a gate opens on a speech
    # onset, rarely at full level), or with one edge ``fade_deep_below_floor_db`` under, is a
    # pause, kept out at ``fade_confidence``; the quiet edge must also lie
    # ``fade_below_speech_db`` under loud speech, since where the floor is high (no pauses,
    # loud noise) a millisecond between two glottal pulses can dip 12 dB under it. On 200
    # train files through random gates (``scripts/gate_study.py``) this called 99.2 % of the
    # pauses of linear-release gates fades and 99.4 % of exponential ones, 0.1 % of the zero
    # runs cut into active speech, 2.9 % of those cut into gated speech (where a cut can meet
    # the gate's silence) and 3.8 % of runs cut anywhere, pauses included. 12 dB under the
    # floor instead of 9 lost 2.5 % of the latter, but let an exponential release in a quiet,
    # wide-ranging file (its 1 ms edge where the fade crosses 2^-14, only 9-12 dB under the
    # floor) through: 45 against 21 false detections on 150 other gated train files.
    fade_below_floor_db: float = 9.0
    fade_other_above_floor_db: float = 20.0
    fade_deep_below_floor_db: float = 24.0
    fade_below_speech_db: float = 40.0
    fade_confidence: float = 0.25
    # A cut of 10-20 ms in a file published as MP3 leaves no run at 2^-14: the codec fills it
    # with quantisation noise near -70..-100 dBFS. It is still a dip no voice makes: 0.5 ms
    # windows under ``dip_db`` for ``dip_min_ms``-``dip_max_ms``, with audio ``dip_above_db``
    # over the dip's loudest window within ``dip_side_ms`` on both sides (a voice fades out
    # over several milliseconds). Longer cuts keep a silent run and are found as one. None in
    # the 168 min of the train split, as it is or saved as MP3 128 kb/s, nor in the dev split;
    # on the dev files saved as MP3 it took the 10 ms cuts found from 41 to 119 of 149 (128
    # kb/s) and from 0 to 30 (64 kb/s) (bench/results/detection-dev-mp3*).
    dip_db: float = -60.0
    dip_above_db: float = 35.0
    dip_min_ms: float = 3.0
    dip_max_ms: float = 30.0
    dip_side_ms: float = 2.0
    # An AAC decoder leaves exact zeros of a cut shorter than ``min_ms``: of a 10 ms cut at
    # 128 kb/s a run of 2-2.5 ms, its quantisation noise around it too loud for a dip. Runs of
    # ``short_min_ms`` to ``min_ms`` count too where the audio on both sides (``neighbour_ms``
    # each) is within ``short_below_speech_db`` of the file's loud speech: the short near-zero
    # runs of a quiet passage (a 16-bit file's last bits) lie far under it, and a gate that
    # closes for a moment does so beside a quiet side. On the train split (2 cuts of 10 and of
    # 20 ms a file), 10 ms cuts through AAC 128 kb/s found 329 -> 774 of 944 (half the split),
    # 20 ms through MP3 128 kb/s 755 -> 853; clean-file detections unchanged (32 in 168 min
    # uncoded, 7 and 11 in 85 min coded), gated ones 144 -> 146, 75 -> 76, 84 -> 85 (at 20 dB:
    # 690 and 839 found, none added; louder side only: 8 more clean-file detections).
    short_min_ms: float = 2.0
    short_below_speech_db: float = 30.0
    # Speech quantised to a coarse grid (8-bit: steps of 2^-7, -42 dBFS) falls to exact zero
    # for milliseconds wherever it is quiet, and those runs sit between samples of a step or
    # two. There a silent run or burst counts only where the audio ``quantum_edge_ms`` beside
    # one of its edges lies ``quantum_edge_db`` over one step (engine.detect.levels
    # .sample_quantum): a cut leaves the speech at its edge. Train files (40, 7.8 min, peaks at
    # 0.3-0.95) saved as 8-bit, with one 10-100 ms cut each in active speech: at 16 kHz false
    # detections 3 045 -> 11, cuts found 40 -> 35; at 8 kHz 3 719 -> 12, 40 -> 37 (6 dB: 79 and
    # 89, 39 and 40; 18 dB: 2 and 4, 25 and 26). 16-bit and µ-law copies: unchanged (2 and 6).
    quantum_edge_db: float = 12.0
    quantum_edge_ms: float = 2.0


def zero_runs(
    x: np.ndarray, sample_rate: int, settings: SilenceSettings, min_ms: float | None = None
) -> list[tuple[int, int]]:
    """The runs of near-zero samples the search weighs: ``min_ms`` (the settings' unless
    given) to ``max_ms`` long, not touching either end of ``x``."""
    quiet = np.abs(x) <= settings.threshold
    shortest = settings.min_ms if min_ms is None else min_ms
    min_len = max(1, int(shortest / 1000 * sample_rate))
    max_len = int(settings.max_ms / 1000 * sample_rate)
    runs = [(a, b) for a, b in true_runs(quiet, min_len) if b - a <= max_len]
    return [(a, b) for a, b in runs if a > 0 and b < x.size]


def find_silence_runs(
    x: np.ndarray,
    sample_rate: int,
    profile: LevelProfile,
    settings: SilenceSettings,
    power: WindowPower | None = None,
) -> list[Detection]:
    """Zero runs of at least ``min_ms`` that do not touch the ends and sit between audible audio
    (and shorter ones, down to ``short_min_ms``, beside audio near the file's loud speech)."""
    runs = zero_runs(x, sample_rate, settings, min(settings.min_ms, settings.short_min_ms))
    if not runs:
        return []
    power = WindowPower.of(x, power)
    starts = np.array([a for a, _ in runs])
    ends = np.array([b for _, b in runs])
    nb = max(1, int(settings.neighbour_ms / 1000 * sample_rate))
    edge = max(1, int(settings.edge_ms / 1000 * sample_rate))
    before_db = power_db(power.mean(starts - nb, starts))
    after_db = power_db(power.mean(ends, ends + nb))
    edge_before_db = power_db(power.mean(starts - edge, starts))
    edge_after_db = power_db(power.mean(ends, ends + edge))
    # whether the run sits in active audio is read beyond a codec's tail: MP3 at 22.05 kHz
    # fills 16-40 ms beside a cut with noise near -75 dBFS, which reads as a pause
    bounds = [beyond_tails(power, a, b, sample_rate, settings, profile.floor_db) for a, b in runs]
    lo, hi = (np.array(side) for side in zip(*bounds, strict=True))
    outer_before_db = power_db(power.mean(lo - nb, lo))
    outer_after_db = power_db(power.mean(hi, hi + nb))
    active_db = float(power_db(settings.threshold**2)) + settings.active_margin_db
    short_len = int(settings.min_ms / 1000 * sample_rate)
    short_db = profile.speech_db - settings.short_below_speech_db
    out = []
    for i, (a, b) in enumerate(runs):
        louder = max(outer_before_db[i], outer_after_db[i])
        quieter = min(outer_before_db[i], outer_after_db[i])
        if louder < active_db or (b - a < short_len and quieter < short_db):
            continue
        if fades(*_edges_at(power, lo[i], hi[i], sample_rate, settings), profile, settings):
            region = Region(int(a), int(b))
            out.append(Detection(region, DropoutKind.DIGITAL_SILENCE, settings.fade_confidence))
            continue
        # A cut leaves full-level audio right at the edge; a natural fade to zero does not.
        edge_level = max(edge_before_db[i] - before_db[i], edge_after_db[i] - after_db[i])
        abrupt = float(np.clip((edge_level + 12.0) / 12.0, 0.0, 1.0))
        loud = float(np.clip((louder - profile.floor_db) / 20.0, 0.0, 1.0))
        confidence = 0.5 + 0.5 * max(abrupt, loud)
        out.append(Detection(Region(int(a), int(b)), DropoutKind.DIGITAL_SILENCE, confidence))
    return out


# Around a held run, the audio judged as a zero run would be: the neighbours, edges and
# codec tails the silence search reads all lie within this
HELD_CONTEXT_S = 0.5
# The coarsest grid holds are sought on: 12 bits (see find_held_runs)
HELD_MAX_QUANTUM = 2.0**-11


def find_held_runs(
    x: np.ndarray, sample_rate: int, profile: LevelProfile, s: SilenceSettings
) -> list[Detection]:
    """Runs of one repeated value other than zero and the rails: a converter or driver that
    stalled and held its last sample, as a dropout. Each is judged as :func:`find_silence_runs`
    judges a zero run (long enough, between audible audio, cut rather than faded into), around
    the held value. Speech never repeats a value for milliseconds: the 3 h speech set (16-bit)
    holds no run of 20 equal samples other than zeros. Stored with 12 bits or fewer (8-bit) it
    does, wherever it is quiet and slow, so on such a grid (``profile.quantum`` over
    :data:`HELD_MAX_QUANTUM`) holds are not sought: in 8-bit copies of 30 train files the
    search made 34 false detections, where the others made 10. (A 16-bit file raised 6 dB in
    float lies on a grid of twice the step: its speech spans thousands of steps, and its holds
    are sought.)"""
    if profile.quantum > HELD_MAX_QUANTUM:
        return []
    shortest = max(1, int(min(s.min_ms, s.short_min_ms) / 1000 * sample_rate) - 1)
    reach = int(HELD_CONTEXT_S * sample_rate)
    out = []
    for a, b in _repeat_runs(x, shortest):
        a -= 1  # the sample the others repeat
        value = float(x[a])
        at_rail = profile.top is not None and not profile.bottom < value < profile.top
        if abs(value) <= s.threshold or at_rail:
            continue  # zero runs and clipping have their own searches
        lo, hi = max(0, a - reach), min(x.size, b + reach)
        around = x[lo:hi].astype(np.float64) - value
        for d in find_silence_runs(around, sample_rate, profile, s):
            if d.region.start <= a - lo < d.region.end:
                out.append(Detection(d.region.shifted(lo), DropoutKind.HELD, d.confidence))
    return out


def _repeat_runs(x: np.ndarray, shortest: int) -> list[tuple[int, int]]:
    """The runs [a, b) of samples equal to the one before, ``shortest`` or longer. (From the
    few such samples' indices: a mask of the whole block and its runs took 14 times as long.)"""
    same = np.flatnonzero(x[1:] == x[:-1]) + 1
    if same.size < shortest:
        return []
    breaks = np.flatnonzero(np.diff(same) != 1)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [same.size - 1]])
    keep = last - first + 1 >= shortest
    return list(zip(same[first[keep]].tolist(), (same[last[keep]] + 1).tolist(), strict=True))


def clear_of_quantum(
    x: np.ndarray,
    sample_rate: int,
    found: list[Detection],
    quantum: float,
    s: SilenceSettings,
    power: WindowPower | None = None,
) -> list[Detection]:
    """``found`` less the silent runs and bursts that a coarse grid of step ``quantum`` makes
    of quiet speech (see ``quantum_edge_db``); all of it where the grid is no coarser than the
    silence threshold."""
    if quantum <= s.threshold:
        return found
    power = WindowPower.of(x, power)
    side = max(1, round(s.quantum_edge_ms / 1000 * sample_rate))
    need_db = float(power_db(quantum**2)) + s.quantum_edge_db
    out = []
    for d in found:
        if d.kind in (DropoutKind.DIGITAL_SILENCE, DropoutKind.PACKET_LOSS):
            a, b = d.region.start, d.region.end
            edge_db = max(power_db(power.mean(a - side, a)), power_db(power.mean(b, b + side)))
            if edge_db < need_db:
                continue
        out.append(d)
    return out


def find_dips(
    x: np.ndarray,
    sample_rate: int,
    s: SilenceSettings,
    taken: list[Detection],
    power: WindowPower | None = None,
) -> list[Detection]:
    """Short near-silent dips cut into loud audio (see ``dip_db``) that nothing in ``taken``
    (the silence runs and bursts found, with their exact edges) covers, padded ``ring_pad_ms``
    a side as a ringing tail is."""
    half = max(1, round(0.0005 * sample_rate))
    n = x.size // half
    if n < 3:
        return []
    starts = np.arange(n) * half
    levels = power_db(WindowPower.of(x, power).mean(starts, starts + half))
    side = max(1, round(s.dip_side_ms / 0.5))
    pad = round(s.ring_pad_ms * sample_rate / 1000)
    out = []
    for a, b in true_runs(levels <= s.dip_db, max(1, round(s.dip_min_ms / 0.5))):
        if b - a > s.dip_max_ms / 0.5 or a == 0 or b >= n:
            continue
        inside = float(levels[a:b].max())
        if min(levels[max(0, a - side) : a].max(), levels[b : b + side].max()) < (
            inside + s.dip_above_db
        ):
            continue
        region = Region(max(0, a * half - pad), min(x.size, b * half + pad))
        if not any(t.region.overlaps_or_touches(region) for t in taken):
            out.append(Detection(region, DropoutKind.DIGITAL_SILENCE, 1.0))
    return out


def fades(
    edge_before_db: float, edge_after_db: float, profile: LevelProfile, s: SilenceSettings
) -> bool:
    """Whether silence with these edge levels was faded into (a gate, an edit), not cut."""
    quiet, other = sorted((edge_before_db, edge_after_db))
    floor = profile.floor_db
    if quiet >= profile.speech_db - s.fade_below_speech_db:
        return False
    if quiet < floor - s.fade_deep_below_floor_db:
        return True
    return quiet < floor - s.fade_below_floor_db and other < floor + s.fade_other_above_floor_db


def faded_into(
    power: WindowPower,
    a: int,
    b: int,
    sample_rate: int,
    profile: LevelProfile,
    s: SilenceSettings,
) -> bool:
    """Whether the silent run [a, b) was faded into (a gate, an edit), not cut: :func:`fades`
    on its edges beyond any ringing tail."""
    return fades(*edge_levels_db(power, a, b, sample_rate, s, profile.floor_db), profile, s)


def ring_extent(
    power: WindowPower,
    at: int,
    outwards: int,
    sample_rate: int,
    s: SilenceSettings,
    floor_db: float | None = None,
) -> int:
    """How far the ringing tail of a cut reaches out from a run's edge ``at`` (``outwards``: -1
    before the run, 1 after), in samples; 0 where there is none. A cut made before the audio was
    resampled or filtered rings into the run: its tail falls away smoothly over up to a few
    milliseconds, as a fade does, but it starts with a sudden drop from the audio's own level.
    So the side is searched outwards, in 0.5 ms windows up to ``ring_reach_ms``, for a window
    ``ring_db`` or more over its neighbour and over every window passed through (a tail stays
    under the audio beyond it; a rise within speech further out is no tail's end); the tail
    ends at the first one found. Given the room's ``floor_db``, a longer tail, up to
    ``codec_tail_reach_ms`` and ended by a step of ``codec_ring_db`` (where it decays into the
    run by ``codec_decline_db``), counts where its power lies ``fade_below_floor_db`` under that
    floor: no room is left in it, only a codec's decay after the cut."""
    half = max(1, round(0.5 * sample_rate / 1000))
    reach_ms = s.ring_reach_ms if floor_db is None else max(s.ring_reach_ms, s.codec_tail_reach_ms)
    windows = max(1, round(reach_ms / 0.5))
    k = np.arange(windows + 1)  # half-windows out from the run
    near = at + outwards * k * half
    far = near + outwards * half
    levels = power_db(power.mean(np.minimum(near, far), np.maximum(near, far)))
    passed_db = np.maximum.accumulate(levels[:-1])  # the loudest window passed through
    step_db = np.where(k[1:] * 0.5 <= s.ring_reach_ms, s.ring_db, s.codec_ring_db)
    ends = np.flatnonzero(levels[1:] - passed_db >= step_db)
    if not ends.size:
        return 0
    end = int(ends[0] + 1)
    if end * 0.5 <= s.ring_reach_ms:
        return end * half
    tail_end, mid = at + outwards * end * half, at + outwards * (end * half // 2)
    tail_db = float(power_db(power.mean(*sorted((at, tail_end)))))
    codec = floor_db is not None and tail_db < floor_db - s.fade_below_floor_db
    if codec and levels[end] - passed_db[end - 1] < s.ring_db:
        # ended by the smaller step: the tail must decay into the run
        inner_db = float(power_db(power.mean(*sorted((at, mid)))))
        outer_db = float(power_db(power.mean(*sorted((mid, tail_end)))))
        codec = outer_db - inner_db >= s.codec_decline_db
    return end * half if codec else 0


def beyond_tails(
    power: WindowPower,
    a: int,
    b: int,
    sample_rate: int,
    s: SilenceSettings,
    floor_db: float | None = None,
) -> tuple[int, int]:
    """The run [a, b) with the ringing tails beside it (:func:`ring_extent`)."""
    lo = a - ring_extent(power, a, -1, sample_rate, s, floor_db)
    return lo, b + ring_extent(power, b, 1, sample_rate, s, floor_db)


def edge_levels_db(
    power: WindowPower,
    a: int,
    b: int,
    sample_rate: int,
    s: SilenceSettings,
    floor_db: float | None = None,
) -> tuple[float, float]:
    """The level of ``edge_ms`` either side of the run [a, b), beyond a ringing tail
    (:func:`ring_extent`), since the tail would read as a fade."""
    return _edges_at(power, *beyond_tails(power, a, b, sample_rate, s, floor_db), sample_rate, s)


def _edges_at(
    power: WindowPower, lo: int, hi: int, sample_rate: int, s: SilenceSettings
) -> tuple[float, float]:
    """The level of ``edge_ms`` before ``lo`` and after ``hi``."""
    edge = max(1, round(s.edge_ms * sample_rate / 1000))
    return (
        float(power_db(power.mean(lo - edge, lo))),
        float(power_db(power.mean(hi, hi + edge))),
    )


def past_ringing(
    x: np.ndarray,
    sample_rate: int,
    detections: list[Detection],
    s: SilenceSettings,
    floor_db: float | None = None,
    power: WindowPower | None = None,
) -> list[Detection]:
    """``detections`` (silence runs of ``x``) widened over the ringing tails beside them
    (:func:`ring_extent`) and ``ring_pad_ms`` beyond, since the window where the tail ends
    still holds part of the drop: a repair reads the audio next to a region as true, and a tail
    left there misleads it. Repaired by ``lsar`` (gap +- 20 ms, 30 train files, a 20 and a 60 ms
    cut each), saved at 8 kHz: 57 of 60 runs widened, SI-SDR -0.53 dB not widened, +1.01 over
    5 ms tails without the pad, +2.50 now (+3.10 over the true region); through pedalboard's
    ``Resample(8000)`` at 16 kHz 49 of 49, -2.72 / +1.03 / +2.44 (true +2.63); saved as MP3
    128 kb/s at 44.1 kHz 46 of 60, -0.58 / +2.49 (true +3.42); saved at 48 kHz (where
    :func:`pad_ringing` widens by 1 ms first) and cut at the file's own rate, 0 and 2 of 60
    widened, within 0.03 dB (``scripts/ring_widening.py``, ``bench/results/ring-widening``)."""
    if not detections:
        return detections  # no cumulative power to build
    power = WindowPower.of(x, power)

    pad = round(s.ring_pad_ms * sample_rate / 1000)

    def past(at: int, outwards: int) -> int:
        tail = ring_extent(power, at, outwards, sample_rate, s, floor_db)
        return tail + pad if tail else 0

    def widened(r: Region) -> Region:
        return Region(max(0, r.start - past(r.start, -1)), min(x.size, r.end + past(r.end, 1)))

    return [replace(det, region=widened(det.region)) for det in detections]


def faded_silence(
    x: np.ndarray,
    sample_rate: int,
    detections: list[Detection],
    profile: LevelProfile,
    s: SilenceSettings,
    power: WindowPower | None = None,
) -> list[Detection]:
    """``detections`` of ``x`` (packet loss) whose region is mostly digital silence faded into,
    as :func:`find_silence_runs` judges a run, at ``fade_confidence``: a gate's closing can
    look like a zeroed burst to the packet-loss search too."""
    if not detections:
        return detections
    power = WindowPower.of(x, power)
    out = []
    for det in detections:
        a, b = det.region.start, det.region.end
        if (
            a > 0
            and b < x.size
            and np.mean(np.abs(x[a:b]) <= s.threshold) >= 0.5
            and faded_into(power, a, b, sample_rate, profile, s)
        ):  # the edges are measured only for a silent run inside the audio
            det = replace(det, confidence=min(det.confidence, s.fade_confidence))
        out.append(det)
    return out


def pad_ringing(
    x: np.ndarray,
    sample_rate: int,
    detections: list[Detection],
    settings: SilenceSettings,
    power: WindowPower | None = None,
) -> list[Detection]:
    """``detections`` (silence runs of a band-limited channel ``x``) widened by
    ``ring_pad_ms`` on each side where the audio next to them rings (see ``ring_db``)."""
    if not detections:
        return detections
    near, far = max(1, round(0.5 * sample_rate / 1000)), max(1, round(sample_rate / 1000))
    pad = round(settings.ring_pad_ms * sample_rate / 1000)
    power = WindowPower.of(x, power)

    def rings(lo: int, hi: int, beyond_lo: int, beyond_hi: int) -> bool:
        if beyond_lo < 0 or beyond_hi > x.size:
            return False
        step = power_db(power.mean(lo, hi)) - power_db(power.mean(beyond_lo, beyond_hi))
        return bool(step <= -settings.ring_db)

    out = []
    for det in detections:
        a, b = det.region.start, det.region.end
        left = rings(a - near, a, a - near - far, a - near)
        right = rings(b, b + near, b + near, b + near + far)
        region = Region(max(0, a - pad) if left else a, min(x.size, b + pad) if right else b)
        out.append(replace(det, region=region))
    return out
