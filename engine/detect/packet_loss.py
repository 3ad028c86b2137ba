"""Packet-loss bursts: speech cut to a low (comfort-noise) floor and back, with hard edges.

A lost VoIP frame is replaced by zeros or by a low noise floor, so the level falls within a
sample and comes back as abruptly, and the floor in between is stationary, spectrally flat noise.
Natural pauses and stop closures decay over milliseconds and stay coloured (room noise, voicing),
so a candidate needs both edges, a steady plateau below them, and either a flat plateau spectrum
or very deep edges. Measured on the dev split, see ``voicemend bench detection``.

A burst next to quiet speech has one edge only: the noise meets speech at its own level. There
the plateau's far end is where the noise stops being white (speech and room noise are coloured),
and such a one-sided burst must be white throughout, which natural pauses after a word rarely are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import welch

from voicemend.engine.detect.levels import LevelProfile, WindowPower, power_db
from voicemend.engine.detect.silence import SilenceSettings
from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region
from voicemend.engine.runs import true_runs

SILENCE_THRESHOLD = SilenceSettings().threshold
# A one-sided plateau ends where this many windows in a row fail (they overlap, so fewer are
# one chance stretch: with three, one 100 ms white burst in ten ended early).
END_WINDOWS = 6


@dataclass(frozen=True)
class PacketLossSettings:
    min_ms: float = 15.0
    max_ms: float = 1000.0
    window_ms: float = 3.0  # power windows either side of a candidate edge
    guard_ms: float = 0.5  # skipped next to the edge, where the cut straddles the window
    grid_ms: float = 0.25
    edge_db: float = 8.0  # fall (and rise) across an edge, to be a candidate
    deep_edge_db: float = 24.0  # edges this deep need only a somewhat flat plateau
    flat_plateau: float = 0.7  # spectral flatness of comfort noise (white noise ≈ 0.9)
    some_flatness: float = 0.3
    plateau_margin_db: float = 6.0  # the plateau stays this far below both edges
    # A filled frame is stationary: its level barely moves. 3 ms windows of white noise at 16 kHz
    # spread over 4 dB by chance in about 1.5 % of 20-40 ms bursts, 0.2-0.5 % over 4.5 dB.
    plateau_spread_db: float = 4.5
    active_below_speech_db: float = 40.0  # edge audio must be within this of loud speech
    refine_ms: float = 1.0
    # A filled (not zeroed) region reaches this far past the edges found; a zeroed one keeps its
    # exact edges, which the digital-silence check finds too. A repair method reads the audio
    # next to a region as true, and a fraction of a millisecond of comfort noise left there
    # misleads it: LSAR's fill of a 60 ms burst found 2 samples late had the log-spectral
    # distance of no repair. Over 247 dev bursts repaired by LSAR, 1 ms took the mean distance
    # from 7.28 to 7.00 dB (6.79 with the true edges); replacing 1 ms of good audio costs nothing
    # measurable.
    pad_ms: float = 1.0
    # The audio either side is sustained, not a lone transient: the next window out from each
    # edge's window is above the plateau too (a stop's release burst, then its aspiration noise,
    # is not a lost packet). On the dev bench this took the false alarms in 2 600 2.2 s excerpts
    # from 20 to 0, and in whole files from 1 to 0, at 2 comfort-noise bursts of 940.
    outer_margin_db: float = 0.0
    # One-sided bursts: one edge as above, the other where white noise meets speech or room
    # noise at about its level. On the dev bench this found 32 of the 45 comfort-noise bursts
    # the two-edged search missed, with no false alarm in its clean speech, and 4 (19-40 ms) in
    # the train split's 168 min, where the two-edged search has 41; see ``_one_sided``.
    one_sided: bool = True
    # Box-Pierce statistic of lags 1..6 over 4 ms windows: white noise has a mean of 6 and
    # exceeds 22.5 once in a thousand windows (chi-squared, 6 degrees of freedom).
    white_window_ms: float = 4.0
    white_lags: int = 6
    white_q: float = 22.5
    white_mean_q: float = 8.0  # over the whole plateau; most pauses there reach 9-20
    # Above the white-noise estimate's 1st percentile from 20 ms (0.87); coloured pauses that
    # pass the other checks reach 0.72-0.85.
    one_sided_flatness: float = 0.85
    one_sided_level_db: float = 3.0  # each window's level within this of the plateau's start
    # A hole: loud speech cut to far below itself and back. Opus fills a cut to digital silence
    # with a coloured floor 20-30 dB under the speech beside it, often decaying by 0.1-0.4
    # dB/ms (browser recorders save WebM/Opus), neither white nor steady, so the checks above
    # miss it. Both edges this deep, three quarters of the floor ``hole_margin_db`` under the
    # quieter edge, and both edges within ``hole_below_speech_db`` of the file's loud speech (a
    # noise gate closes where speech is already quiet); and no digital silence inside (there
    # the silence detector tells a gate's fade from a cut). Set on 60 train files coded as
    # Opus at 48 kHz: cuts of 10-400 ms found 46 -> 113 of 589 (182 with digital silence
    # allowed, but then a voice fading out into a gate's silence passed too), zeroed packet
    # bursts 50 -> 177 of 594, no added false alarm in their clean or gated forms; on 120
    # uncoded: every count as before (without the silence rule, 25 dB for the speech bound
    # made the gated false alarms 1 -> 17); 60 coded as MP3 128 kb/s: none added. ``None``:
    # no such detections.
    hole_edge_db: float | None = 24.0
    hole_margin_db: float = 20.0
    hole_below_speech_db: float = 20.0


def find_packet_loss(
    x: np.ndarray,
    sample_rate: int,
    profile: LevelProfile,
    settings: PacketLossSettings,
    power: WindowPower | None = None,
) -> list[Detection]:
    s = settings
    ms = sample_rate / 1000.0
    win, guard = max(2, round(s.window_ms * ms)), max(0, round(s.guard_ms * ms))
    step = max(1, round(s.grid_ms * ms))
    if x.size < 2 * (win + guard) + 1:
        return []
    power = WindowPower.of(x, power)
    t = np.arange(win + guard, x.size - win - guard, step)
    before = power_db(power.mean(t - guard - win, t - guard))
    after = power_db(power.mean(t + guard, t + guard + win))
    change = after - before
    active = profile.speech_db - s.active_below_speech_db
    span = max(1, round(2.0 / s.grid_ms))
    is_drop = (-change >= s.edge_db) & (before >= active)
    is_drop &= -change >= maximum_filter1d(-change, 2 * span + 1)
    is_rise = (change >= s.edge_db) & (after >= active)
    is_rise &= change >= maximum_filter1d(change, 2 * span + 1)
    drops, rises = np.flatnonzero(is_drop), np.flatnonzero(is_rise)
    if drops.size == 0 and rises.size == 0:
        return []
    mid = power_db(power.mean(t - win // 2, t + win - win // 2))
    outer_before = power_db(power.mean(t - guard - 2 * win, t - guard - win))
    outer_after = power_db(power.mean(t + guard + win, t + guard + 2 * win))
    out: list[Detection] = []
    min_len, max_len = s.min_ms * ms, s.max_ms * ms
    busy_until = -1
    for d in drops if rises.size else ():
        if t[d] < busy_until:
            continue
        k = np.searchsorted(rises, d + 1)
        if k >= rises.size:
            break
        r = rises[k]
        length = t[r] - t[d]
        if not min_len <= length <= max_len:
            continue
        edge_level = min(before[d], after[r])
        inner = mid[d + span : r - span + 1] if r - d > 2 * span else mid[d:r]
        if inner.size == 0 or inner.max() > edge_level - s.plateau_margin_db:
            continue
        hole = (
            s.hole_edge_db is not None
            and min(-change[d], change[r]) >= s.hole_edge_db
            and np.percentile(inner, 75) <= edge_level - s.hole_margin_db
            and edge_level >= profile.speech_db - s.hole_below_speech_db
            # digital silence is the silence detector's: it tells a gate's fade from a cut
            and not _holds_digital_silence(x[t[d] : t[r]], ms)
        )
        spread = np.percentile(inner, 95) - np.percentile(inner, 5)
        if spread > s.plateau_spread_db and not hole:
            continue
        if min(outer_before[d], outer_after[r]) < inner.max() + s.outer_margin_db:
            continue
        start = _refine(power, int(t[d]), sample_rate, s.refine_ms, falling=True)
        end = _refine(power, int(t[r]), sample_rate, s.refine_ms, falling=False)
        if end - start < min_len:
            continue
        depth = min(-change[d], change[r])
        flatness = spectral_flatness(x[start + guard : end - guard])
        if flatness >= s.flat_plateau:
            confidence = 0.6 + 0.4 * min(1.0, depth / s.deep_edge_db)
        elif depth >= s.deep_edge_db and flatness >= s.some_flatness:
            confidence = 0.5 + 0.5 * flatness
        elif hole:
            confidence = 0.5
        else:
            continue
        out.append(_detection(x, start, end, confidence, ms, s))
        busy_until = out[-1].region.end
    if not s.one_sided:
        return out
    drops = drops[_white_beside(x, t[drops] + guard, True, ms, s)]
    rises = rises[_white_beside(x, t[rises] - guard, False, ms, s)]
    edges = [(int(i), True, before[i], -change[i], outer_before[i]) for i in drops]
    edges += [(int(i), False, after[i], change[i], outer_after[i]) for i in rises]
    margin = 2 * win  # an edge this near a burst found already is that burst's
    for i, falling, edge_db, depth, outer_db in sorted(edges):
        edge = _refine(power, int(t[i]), sample_rate, s.refine_ms, falling=falling)
        if any(d.region.start - margin <= edge < d.region.end + margin for d in out):
            continue
        found = _one_sided(x, power, edge, falling, edge_db, outer_db, ms, s)
        if found is not None:
            start, end = found
            confidence = 0.5 + 0.3 * min(1.0, depth / s.deep_edge_db)
            out.append(_detection(x, start, end, confidence, ms, s))
    return sorted(out, key=lambda d: d.region.start)


def _holds_digital_silence(x: np.ndarray, ms: float) -> bool:
    """Whether ``x`` holds a run of digital silence as long as the silence detector's
    shortest: there, that detector tells a gate's fade from a cut by the silence's edges."""
    quiet = np.abs(x) <= SILENCE_THRESHOLD
    return bool(true_runs(quiet, max(1, round(SilenceSettings().min_ms * ms))))


def _detection(
    x: np.ndarray, start: int, end: int, confidence: float, ms: float, s: PacketLossSettings
) -> Detection:
    filled = np.abs(x[start:end]).max() > SILENCE_THRESHOLD
    pad = round(s.pad_ms * ms) if filled else 0
    region = Region(max(0, start - pad), min(x.size, end + pad))
    return Detection(region, DropoutKind.PACKET_LOSS, float(confidence))


def _one_sided(
    x: np.ndarray,
    power: WindowPower,
    edge: int,
    falling: bool,
    edge_db: float,
    outer_db: float,
    ms: float,
    s: PacketLossSettings,
) -> tuple[int, int] | None:
    """(start, end) of white noise that runs from ``edge`` (after it if ``falling``, else
    before it) until the signal turns coloured, or None.

    The plateau is scanned in 4 ms windows a millisecond apart, in chunks. It ends at the
    first of ``END_WINDOWS`` windows in a row that are coloured or off its level, two thirds of
    them coloured; the far edge is then put where the lag-1 correlation changes most (white
    noise has none, speech and room noise much)."""
    guard = max(0, round(s.guard_ms * ms))
    w, hop = max(16, round(s.white_window_ms * ms)), max(1, round(ms))
    limit = round(s.max_ms * ms)
    direction = 1 if falling else -1
    first = edge + guard if falling else edge - guard - w  # the first window's start
    ok: list[np.ndarray] = []
    coloured: list[np.ndarray] = []
    reference: float | None = None
    n_scanned, ended_at = 0, -1
    chunk = 16
    while ended_at < 0 and n_scanned * hop < limit:
        starts = first + direction * hop * np.arange(n_scanned, n_scanned + chunk)
        starts = starts[(starts >= 0) & (starts + w <= x.size)]
        if starts.size == 0:
            return None  # ran into the file's edge: no far side to see
        level = power_db(power.mean(starts, starts + w))
        if reference is None:
            if np.max(np.abs(x[starts[0] : starts[0] + w])) <= SILENCE_THRESHOLD:
                return None  # digital silence: the silence detector finds its exact edges
            reference = float(np.median(level[:5]))
        white = box_pierce(x, starts, w, s.white_lags) < s.white_q
        steady = np.abs(level - reference) <= s.one_sided_level_db
        ok.append(white & steady & (level <= edge_db - s.plateau_margin_db))
        coloured.append(~white)
        good = np.concatenate(ok)
        bad_runs = np.convolve(~good, np.ones(END_WINDOWS, dtype=int), "valid") == END_WINDOWS
        if bad_runs.any():
            ended_at = int(np.argmax(bad_runs))
        n_scanned += chunk
        chunk *= 2
    if ended_at <= 0:
        return None  # white to the length limit (a hiss), or not white at all
    if np.concatenate(coloured)[ended_at : ended_at + END_WINDOWS].sum() * 3 < END_WINDOWS * 2:
        return None  # it ends in a level step, not in coloured sound: a two-edged case
    last = first + direction * hop * (ended_at - 1)  # the last good window's start
    near_end = last + w if falling else last
    far = _colour_change(x, near_end, w, ms, falling)
    start, end = (edge, far) if falling else (far, edge)
    if not s.min_ms * ms <= end - start <= s.max_ms * ms:
        return None
    plateau = x[start + guard : end - guard]
    if spectral_flatness(plateau) < s.one_sided_flatness:
        return None
    starts = np.arange(start + guard, end - guard - w + 1, max(1, w // 4))
    if starts.size == 0 or box_pierce(x, starts, w, s.white_lags).mean() > s.white_mean_q:
        return None
    level = power_db(power.mean(starts, starts + w))
    if np.percentile(level, 95) - np.percentile(level, 5) > s.plateau_spread_db:
        return None
    # the speech side is sustained, not a lone transient (as ``outer_margin_db`` above)
    if outer_db < float(power_db(power.mean(start, end))) + s.outer_margin_db:
        return None
    return start, end


def _white_beside(
    x: np.ndarray, at: np.ndarray, falling: bool, ms: float, s: PacketLossSettings
) -> np.ndarray:
    """Which edges have white sound next to them on their quiet side (after ``at`` for drops,
    before it for rises), a first cut, since most level steps in speech are onsets and offsets
    with voiced or room sound beside them: two of four windows 0-3 ms out pass the Box-Pierce
    test. It runs only where one of the first and third window has a lag-1 correlation within
    4 standard errors of white noise's (0 +- 1/sqrt(w)), which takes out most edges cheaply
    and lets white noise through all but about once in 10^8."""
    w = max(16, round(s.white_window_ms * ms))
    offsets = np.arange(4) * max(1, round(ms))
    starts = at[:, None] + offsets if falling else at[:, None] - w - offsets
    keep = np.all((starts >= 0) & (starts + w <= x.size), axis=1)
    if keep.any():
        pair = starts[keep][:, [0, 2]]
        r1 = np.abs(_lag1(x, pair.ravel(), w)).reshape(pair.shape)
        keep[keep] = np.any(r1 <= 4.0 / np.sqrt(w), axis=1)
    if keep.any():
        q = box_pierce(x, starts[keep].ravel(), w, s.white_lags).reshape(-1, offsets.size)
        keep[keep] = np.sum(q < s.white_q, axis=1) >= 2
    return keep


def _colour_change(x: np.ndarray, around: int, w: int, ms: float, falling: bool) -> int:
    """The sample within ``w`` of ``around`` where white noise on one side meets correlated
    signal on the other: the largest rise (``falling``: noise before) in |lag-1 correlation|
    between the 2 ms before and the 2 ms after."""
    half = max(8, round(2 * ms))
    k = np.arange(max(half, around - w), min(x.size - half, around + w) + 1)
    if k.size == 0:
        return around
    after, before = _lag1(x, k, half), _lag1(x, k - half, half)
    step = np.abs(after) - np.abs(before)
    return int(k[int(np.argmax(step if falling else -step))])


def _lag1(x: np.ndarray, starts: np.ndarray, w: int) -> np.ndarray:
    """Per window [start, start + w), the lag-1 autocorrelation around the window's mean."""
    return autocorrelations(x, starts, w, 1)[:, 0]


def box_pierce(x: np.ndarray, starts: np.ndarray, w: int, lags: int) -> np.ndarray:
    """Per window [start, start + w): w times the summed squared autocorrelations at lags
    1..``lags`` (the Box-Pierce statistic), about chi-squared with ``lags`` degrees of freedom
    for white noise and large for anything coloured. Digital silence counts as white (0)."""
    return w * np.sum(autocorrelations(x, starts, w, lags) ** 2, axis=1)


def autocorrelations(x: np.ndarray, starts: np.ndarray, w: int, lags: int) -> np.ndarray:
    """(windows, lags): per window [start, start + w), its autocorrelations at lags
    1..``lags`` around the window's mean (0 for digital silence)."""
    seg = x[starts[:, None] + np.arange(w)].astype(np.float64)
    seg -= seg.mean(axis=1, keepdims=True)
    energy = np.sum(seg * seg, axis=1) + 1e-30
    return np.stack(
        [np.sum(seg[:, k:] * seg[:, :-k], axis=1) / energy for k in range(1, lags + 1)], axis=1
    )


def _refine(
    power: WindowPower, centre: int, sample_rate: int, window_ms: float, falling: bool
) -> int:
    """The sample where the level step is steepest, searched within ± one window of ``centre``."""
    w = max(2, round(window_ms * sample_rate / 1000))
    k = np.arange(centre - 2 * w, centre + 2 * w + 1)
    k = k[(k - w >= 0) & (k + w <= power.n)]
    if k.size == 0:
        return centre
    before = power_db(power.mean(k - w, k))
    after = power_db(power.mean(k, k + w))
    step = before - after if falling else after - before
    return int(k[int(np.argmax(step))])


def spectral_flatness(x: np.ndarray) -> float:
    """Geometric over arithmetic mean of the Welch power spectrum (1 = white, 0 = tonal)."""
    if x.size < 16:
        return 0.0
    # Short segments average enough periodograms: a single one of white noise scores only ≈ 0.56.
    _, pxx = welch(x, nperseg=int(np.clip(x.size // 4, 16, 256)))
    pxx = pxx[1:] + 1e-24
    return float(np.exp(np.mean(np.log(pxx))) / np.mean(pxx))
