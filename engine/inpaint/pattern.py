"""Pitch-period pattern repetition (ITU-T G.711 Appendix I style), run from both sides of a gap.

Each side repeats its last one to three pitch periods with overlap-add at the loop point; the two
extensions are joined where they line up best (WSOLA-like), so long gaps do not fade to silence.
Unvoiced edges get LPC-shaped noise at the context's level instead of a buzzy loop.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from voicemend.engine.crossfade import equal_power_ramp
from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lpc import estimate_ar
from voicemend.engine.inpaint.pitch import PitchEstimate, estimate_period

HISTORY_MS = 60.0
NOISE_ORDER_PER_KHZ = 1.0
NOISE_CONTEXT_MS = 30.0
# G.711 grows the repeated history from one period to three as the loss lengthens.
PERIODS_BY_GAP_MS = ((10.0, 1), (20.0, 2))
MAX_PERIODS = 3


class Pattern(Inpainter):
    """Periodic extension for voiced speech, from both edges, joined at the best-matching point.

    ``decay_db_per_10ms`` attenuates each extension after ``hold_ms`` (as G.711 Appendix I does),
    so long gaps do not buzz with one repeated period.
    """

    name = "pattern"

    def __init__(self, hold_ms: float = 0.0, decay_db_per_10ms: float = 0.0) -> None:
        self.hold_ms = hold_ms
        self.decay_db_per_10ms = decay_db_per_10ms

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return int(HISTORY_MS / 1000 * sample_rate) + 2 * int(sample_rate / 60)

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        return int(0.005 * sample_rate)

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        n_span = ctx.fade_left + ctx.gap_frames + ctx.fade_right
        out = np.empty((ctx.window.shape[0], n_span))
        notes = []
        rng = np.random.default_rng(ctx.seed)
        for ch, x in enumerate(ctx.window):
            out[ch], note = self._fill_channel(x, ctx, n_span, rng)
            notes.append(note)
        return out, notes[0] if len(set(notes)) == 1 else "; ".join(notes)

    def _envelope(self, n: int, offset: int, sample_rate: int) -> np.ndarray:
        """1 for ``hold_ms`` into the gap, then falling by ``decay_db_per_10ms``."""
        t_ms = (np.arange(n) - offset) * 1000.0 / sample_rate
        over = np.maximum(t_ms - self.hold_ms, 0.0)
        return 10 ** (-self.decay_db_per_10ms * over / 10.0 / 20.0)

    def _fill_channel(
        self, x: np.ndarray, ctx: GapContext, n_span: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, str]:
        span_start = ctx.gap_start - ctx.fade_left
        span_end = ctx.gap_end + ctx.fade_right
        left_run = ctx.known_run_before()
        right_run = ctx.known_run_after()
        left = x[ctx.gap_start - left_run : span_start] if left_run > ctx.fade_left else None
        right = x[span_end : ctx.gap_end + right_run] if right_run > ctx.fade_right else None
        gap_ms = 1000 * ctx.gap_frames / ctx.sample_rate
        if left is None and right is None:
            return np.zeros(n_span), "no context"
        ext_l = ext_r = None
        kinds = []
        if left is not None:
            ext_l, kind = extend(left, n_span, ctx.sample_rate, gap_ms, rng)
            kinds.append(kind)
        if right is not None:
            ext_r, kind = extend(right[::-1], n_span, ctx.sample_rate, gap_ms, rng)
            ext_r = ext_r[::-1]
            kinds.append(kind)
        if self.decay_db_per_10ms:
            if ext_l is not None:
                ext_l = ext_l * self._envelope(n_span, ctx.fade_left, ctx.sample_rate)
            if ext_r is not None:
                ext_r = ext_r * self._envelope(n_span, ctx.fade_right, ctx.sample_rate)[::-1]
        if ext_l is None:
            return ext_r, "right only: " + kinds[0]
        if ext_r is None:
            return ext_l, "left only: " + kinds[0]
        return join(ext_l, ext_r, ctx.fade_left, ctx.fade_right, ctx.sample_rate), "/".join(kinds)


def extend(
    history: np.ndarray, n_out: int, sample_rate: int, gap_ms: float, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """Continue ``history`` (time order, ending at the gap) by ``n_out`` frames."""
    pitch = estimate_period(history, sample_rate)
    if pitch.voiced and history.size >= 2 * pitch.period_frames:
        return periodic_extension(history, n_out, pitch, gap_ms), f"voiced T={pitch.period_frames}"
    return noise_extension(history, n_out, sample_rate, rng), "unvoiced"


def periodic_extension(
    history: np.ndarray, n_out: int, pitch: PitchEstimate, gap_ms: float
) -> np.ndarray:
    """Loop the last k periods of ``history``; the loop point is smoothed by a T/4 overlap-add."""
    period = pitch.period_frames
    periods = MAX_PERIODS
    for limit_ms, count in PERIODS_BY_GAP_MS:
        if gap_ms <= limit_ms:
            periods = count
            break
    ola = max(1, period // 4)
    periods = max(1, min(periods, (history.size - ola) // period))
    loop_len = periods * period
    loop = history[-loop_len:].copy()
    # The loop's tail is blended into what preceded its head, so tail → head is seamless. The two
    # are correlated, so the weights sum to one (a linear fade), not their squares.
    fade_in = (np.arange(ola) + 0.5) / ola
    fade_out = 1.0 - fade_in
    before_head = history[-loop_len - ola : -loop_len]
    loop[-ola:] = loop[-ola:] * fade_out + before_head * fade_in
    reps = int(np.ceil(n_out / loop_len))
    return np.tile(loop, reps)[:n_out]


def noise_extension(
    history: np.ndarray, n_out: int, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Noise with the spectral envelope and level of the last few milliseconds of ``history``."""
    n_ctx = min(history.size, int(NOISE_CONTEXT_MS / 1000 * sample_rate))
    recent = history[-n_ctx:] if n_ctx else history
    if recent.size < 8 or not np.any(recent):
        return np.zeros(n_out)
    order = int(min(max(4, NOISE_ORDER_PER_KHZ * sample_rate / 1000), recent.size // 2))
    coeffs = estimate_ar([recent], order)
    excitation = rng.standard_normal(n_out + order * 4)
    shaped = lfilter([1.0], coeffs, excitation)[order * 4 :]
    target_rms = float(np.sqrt(np.mean(recent**2)))
    rms = float(np.sqrt(np.mean(shaped**2))) or 1.0
    return shaped * (target_rms / rms)


def join(
    ext_l: np.ndarray, ext_r: np.ndarray, fade_left: int, fade_right: int, sample_rate: int
) -> np.ndarray:
    """Cross-fade left and right extensions where they correlate best inside the gap."""
    n = ext_l.size
    g0, g1 = fade_left, n - fade_right  # the gap inside the span
    gap = g1 - g0
    width = min(max(int(0.005 * sample_rate), 8), max(gap // 2, 1))
    if gap <= 2 * width:
        return _crossfade(ext_l, ext_r, g0, gap, equal_power=True)
    lo, hi = g0 + gap // 4, g1 - gap // 4 - width
    if hi <= lo:
        return _crossfade(ext_l, ext_r, g0, gap, equal_power=True)
    step = max(1, width // 8)
    starts = np.arange(lo, hi + 1, step)
    idx = starts[:, None] + np.arange(width)[None, :]
    a, b = ext_l[idx], ext_r[idx]
    num = np.sum(a * b, axis=1)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1)) + 1e-12
    score = num / den
    best = int(np.argmax(score))
    if score[best] < 0.5:
        # Nothing lines up: blend slowly across the middle half, equal power for unrelated signals.
        return _crossfade(ext_l, ext_r, g0 + gap // 4, gap // 2, equal_power=True)
    return _crossfade(ext_l, ext_r, int(starts[best]), width, equal_power=False)


def _crossfade(
    a: np.ndarray, b: np.ndarray, start: int, width: int, equal_power: bool
) -> np.ndarray:
    out = b.copy()
    out[:start] = a[:start]
    if equal_power:
        fade_in, fade_out = equal_power_ramp(width)
    else:
        fade_in = (np.arange(width) + 0.5) / width
        fade_out = 1.0 - fade_in
    sl = slice(start, start + width)
    out[sl] = a[sl] * fade_out + b[sl] * fade_in
    return out
