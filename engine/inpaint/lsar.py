"""Least-squares AR interpolation (Janssen, Veldhuis & Vries 1986), without a 128-sample cap.

For an AR model with prediction-error filter ``c``, the missing samples ``x_u`` minimise the total
forward and backward prediction error ``||A x||² + ||B x||²`` over the window, where ``A`` and
``B`` are the banded convolution matrices of ``c`` and of ``c`` reversed. (Inside the window both
give the same equations; the backward term keeps gaps at a file edge well determined.) The normal
equations ``(A_uᵀA_u + B_uᵀB_u) x_u = -(A_uᵀA_k + B_uᵀB_k) x_k`` have a symmetric band matrix of
half-bandwidth ``p`` (the AR order). For one gap at least ``p`` samples from the window's ends (the
usual case) that matrix is Toeplitz, twice the autocorrelation of ``c``. Conjugate gradients
preconditioned by its circulant (Strang) approximation solve it in O(M log M) per step, with FFTs,
in some 30-100 steps, which beats Levinson recursion's O(M²) from a few thousand unknowns; Levinson
is the fallback, and LAPACK's banded Cholesky (O(M p²)) solves every other case. A few unknowns
(clicks, clipped peaks) in a short window have their equations formed densely and solved
directly, which avoids the others' fixed costs.

The AR model is re-estimated from the filled window and the gap solved again, ``iterations``
times in all. The first model, fitted to the context alone, is too damped to carry a voice across
a long gap; re-fitting lets the fill keep its level (see :class:`LsarSettings`). Above 24 kHz
those iterations run on the window taken to 16 kHz, where a solve has a third of the unknowns,
and the full-rate fill starts from their result (see :meth:`Lsar.fill`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.linalg import LinAlgError, cho_factor, cho_solve, solve_toeplitz, solveh_banded
from scipy.signal import butter, oaconvolve, sosfiltfilt

from voicemend.engine.blas import one_blas_thread
from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lpc import estimate_ar
from voicemend.engine.rates import mask_to_rate, to_rate
from voicemend.engine.runs import true_runs

# Ridge added to the band matrix diagonal, relative to its main value, for numerical safety.
RIDGE = 1e-9
# A Toeplitz solve (conjugate gradients, else Levinson) is kept when it reaches this relative
# residual; else banded Cholesky solves the system.
TOEPLITZ_TOLERANCE = 1e-6
# Conjugate gradients from this many unknowns (Levinson below: it is quick there, and the
# circulant preconditioner needs the band to fit at least twice).
CG_MIN_UNKNOWNS = 2048
CG_MAX_STEPS = 400  # then Levinson: a solve that has not converged by now is better done directly
# Conjugate gradients stop at this relative residual, far below TOEPLITZ_TOLERANCE, so that their
# answer matches Levinson's to float32 precision despite the system's conditioning.
CG_TOLERANCE = 1e-10
# Where the unknowns times the rows that span them stay under this, the normal equations are
# formed densely and solved by Cholesky: a clipped peak or click (a few to a hundred samples)
# then costs tens of microseconds, where the FFT convolutions and band assembly of the general
# path cost milliseconds in overhead alone (a heavily clipped file holds thousands of such runs).
DENSE_MAX_ENTRIES = 40_000
# Entries of the band worked on at once where the unknowns are several runs (see _band_entries).
BAND_BLOCK_ENTRIES = 1 << 18
# Above this rate the iterations run at LOW_RATE_HZ first (a solve costs O(M log M) per CG step,
# O(M²) by Levinson or O(M p²) by Cholesky, all growing with the rate).
MULTIRATE_ABOVE_HZ = 24_000
LOW_RATE_HZ = 16_000


@dataclass(frozen=True)
class LsarSettings:
    """AR order and context follow the gap: about 3× the gap, within [min, max] milliseconds.

    A long order (up to 25 ms) spans several pitch periods, which keeps voiced fills from decaying
    in long gaps; the frame cap bounds the O(M p²) solve at high sample rates.

    Ten iterations rather than two: on 80 train-split cases per length (never the dev files the
    bench uses) they raised PLCMOS at every length from 20 to 400 ms (0.01-0.03 up to 80 ms,
    0.11-0.13 at 200-400 ms) and PESQ by 0.01-0.14 at 20-80 ms (even at 200 ms, 0.03-0.04 lower
    at 400 ms): the middle of a 200 ms fill no longer sinks 17 dB under the speech it replaces
    but stays about 5 dB under.
    """

    min_order_ms: float = 1.0
    max_order_ms: float = 25.0
    max_order_frames: int = 512
    order_per_gap: float = 3.0
    min_context_ms: float = 20.0
    max_context_ms: float = 300.0
    context_per_order: float = 6.0
    iterations: int = 10
    # Above MULTIRATE_ABOVE_HZ, after the low-rate iterations; 0 keeps the 16 kHz fill, band-
    # limited to 8 kHz (for a caller that keeps only a low band: ``hybrid``).
    full_rate_iterations: int = 2
    # Above MULTIRATE_ABOVE_HZ, the fill's band under this comes from the 16 kHz iterations and
    # only the band over it from the full-rate passes (gaps of short_gap_ms and more; None: all
    # from the full-rate passes). Their AR order is capped at max_order_frames (10.7 ms at
    # 48 kHz, under one pitch period of a low voice, where 16 kHz reaches 25 ms), and re-fitting
    # it moved the voice's band away from the better 16 kHz solution: on 60 dev excerpts at
    # 48 kHz stereo, keeping that band raised PESQ-WB by 0.06 / 0.14 / 0.02 and PLCMOS by
    # 0.05 / 0.03 / 0.12 at 40 / 200 / 400 ms (bench/results/lsar-48k).
    low_rate_band_hz: float | None = 7_000.0
    # Gaps under short_gap_ms (clicks, clipped peaks, codec glitches) need fewer: on 8 dev
    # files, three iterations filled 0.5-10 ms gaps and clipped peaks as well as ten (SNR within
    # 0.4 dB, ahead at 10 ms and on clipping) in a third of the time, and a heavily clipped file
    # holds a thousand such runs a minute.
    short_gap_ms: float = 10.0
    short_gap_iterations: int = 3


class Lsar(Inpainter):
    """Janssen's LSAR interpolation, per channel, with AR re-estimation iterations."""

    name = "lsar"

    def __init__(self, settings: LsarSettings | None = None) -> None:
        self.settings = settings or LsarSettings()

    def order(self, gap_frames: int, sample_rate: int) -> int:
        s = self.settings
        lo = max(2, round(s.min_order_ms / 1000 * sample_rate))
        hi = max(lo, min(round(s.max_order_ms / 1000 * sample_rate), s.max_order_frames))
        return int(np.clip(round(s.order_per_gap * gap_frames), lo, hi))

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        s = self.settings
        want = max(s.context_per_order * self.order(gap_frames, sample_rate), gap_frames)
        lo, hi = s.min_context_ms / 1000 * sample_rate, s.max_context_ms / 1000 * sample_rate
        return int(np.clip(want, lo, hi))

    def iterations(self, gap_frames: int, sample_rate: int) -> int:
        s = self.settings
        short = gap_frames < s.short_gap_ms / 1000 * sample_rate
        return min(s.iterations, s.short_gap_iterations) if short else s.iterations

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        # The LSAR solution is continuous with its context by construction; no fade is needed.
        return 0

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        """Per channel. Above 24 kHz the AR re-estimation iterations run on the window at
        16 kHz, where a solve has a third of the unknowns, and a few more at the full rate start
        from that fill (upsampled)."""
        sr = ctx.sample_rate
        order = self.order(ctx.gap_frames, sr)
        iterations = self.iterations(ctx.gap_frames, sr)
        filled = np.empty((ctx.window.shape[0], ctx.gap_frames))
        if sr <= MULTIRATE_ABOVE_HZ:
            for ch, x in enumerate(ctx.window):
                y = lsar_interpolate(x, ctx.known, order, iterations)
                filled[ch] = y[ctx.gap_start : ctx.gap_end]
            return filled, f"order {order}"
        guesses = self._low_rate_fill(ctx.window, ctx.known, sr, iterations)
        if self.settings.full_rate_iterations == 0:  # the band under 8 kHz is all that is wanted
            return guesses[:, ctx.gap_start : ctx.gap_end], f"at {LOW_RATE_HZ // 1000} kHz"
        split = self._low_band_filter(ctx.gap_frames, sr)
        for ch, (x, guess) in enumerate(zip(ctx.window, guesses, strict=True)):
            y = lsar_interpolate(
                x, ctx.known, order, self.settings.full_rate_iterations, initial=guess
            )
            if split is not None:  # y's band over the split, the 16 kHz fill's under it
                y = y + sosfiltfilt(split, guess - y)
            filled[ch] = y[ctx.gap_start : ctx.gap_end]
        note = f"order {order} (iterations at {LOW_RATE_HZ // 1000} kHz"
        if split is not None:
            note += f", its fill kept under {self.settings.low_rate_band_hz / 1000:g} kHz"
        return filled, note + ")"

    def _low_band_filter(self, gap_frames: int, sample_rate: int) -> np.ndarray | None:
        """The low-pass that takes the 16 kHz fill's band (see ``low_rate_band_hz``), or None."""
        s = self.settings
        if s.low_rate_band_hz is None or gap_frames < s.short_gap_ms / 1000 * sample_rate:
            return None
        return butter(8, s.low_rate_band_hz, btype="low", fs=sample_rate, output="sos")

    def _low_rate_fill(
        self, window: np.ndarray, known: np.ndarray, sample_rate: int, iterations: int
    ) -> np.ndarray:
        """(channels, n): the unknowns filled by LSAR run at LOW_RATE_HZ, back at the full rate."""
        low = to_rate(np.where(known, window, 0.0), sample_rate, LOW_RATE_HZ)
        unknown = mask_to_rate(~known, sample_rate, LOW_RATE_HZ, low.shape[1])
        order = self.order(max(1, int(unknown.sum())), LOW_RATE_HZ)
        for ch in range(low.shape[0]):
            low[ch] = lsar_interpolate(low[ch], ~unknown, order, iterations)
        back = to_rate(low, LOW_RATE_HZ, sample_rate, n_out=window.shape[1])
        return np.where(known, window, back)


def lsar_interpolate(
    x: np.ndarray,
    known: np.ndarray,
    order: int,
    iterations: int = 1,
    initial: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``x`` with every sample where ``known`` is False replaced by the LSAR estimate.

    ``initial``, a whole window with the unknowns already filled, makes the first AR model come
    from it (as later iterations do) instead of from the known runs alone."""
    x = np.asarray(x, dtype=np.float64)
    unknown = np.flatnonzero(~known)
    if unknown.size == 0:
        return x.copy()
    n_known = int(known.sum())
    order = int(min(order, max(1, n_known // 3)))
    if n_known == 0 or x.size <= order:
        return np.where(known, x, 0.0)
    estimate = np.where(known, x, 0.0 if initial is None else np.asarray(initial, np.float64))
    with one_blas_thread():  # small solves: see voicemend.engine.blas
        for iteration in range(max(1, iterations)):
            first = iteration == 0 and initial is None
            segments = [x[a:b] for a, b in true_runs(known)] if first else [estimate]
            coeffs = estimate_ar(segments, order)
            guess = None if first else estimate[unknown]
            estimate = _solve(x, known, unknown, coeffs, guess)
    return estimate


def _solve(
    x: np.ndarray,
    known: np.ndarray,
    unknown: np.ndarray,
    coeffs: np.ndarray,
    guess: np.ndarray | None = None,
) -> np.ndarray:
    """The unknowns' least-squares values for AR filter ``coeffs``; ``guess`` (the last
    iteration's values) starts conjugate gradients closer to the answer."""
    n, p = x.size, coeffs.size - 1
    x0 = np.where(known, x, 0.0)
    ridge = RIDGE * 2.0 * float(np.dot(coeffs, coeffs))
    rows = np.arange(max(0, unknown[0] - p), min(unknown[-1], n - 1 - p) + 1)
    if unknown.size * rows.size <= DENSE_MAX_ENTRIES:
        values = _solve_dense(x0, unknown, rows, coeffs, ridge)
        if values is not None:
            x0[unknown] = values
            return x0
    rhs = np.zeros(unknown.size)
    # Row k of the forward matrix: e_k = sum_l h[l] x[k + l] with h = c reversed; the backward
    # matrix is the same with h = c.
    for h in (coeffs[::-1], coeffs):
        e0 = oaconvolve(x0, h[::-1], mode="valid")  # the error with unknowns set to zero
        rhs -= _apply_transpose(e0, h, n)[unknown]
    values = None
    if _is_toeplitz(unknown, p, n):
        # Each diagonal is twice the autocorrelation of c (c and its reverse share it).
        lags = min(p + 1, unknown.size)
        column = np.zeros(unknown.size)
        column[:lags] = 2.0 * np.correlate(coeffs, coeffs, mode="full")[p : p + lags]
        column[0] += ridge
        values = _solve_toeplitz(column, rhs, guess)
    if values is None:
        band = _band(coeffs[::-1], unknown, n) + _band(coeffs, unknown, n)
        band[0] += ridge
        try:
            values = solveh_banded(band, rhs, lower=True, check_finite=False)
        except (LinAlgError, ValueError):
            values = np.zeros(unknown.size)
    out = x0
    out[unknown] = values
    return out


def _solve_dense(
    x0: np.ndarray, unknown: np.ndarray, rows: np.ndarray, coeffs: np.ndarray, ridge: float
) -> np.ndarray | None:
    """The same normal equations for a few unknowns, from ``rows`` of the forward and backward
    matrices (those that span them), formed densely and solved by Cholesky; None if the matrix
    is not positive definite in floating point (the band solvers take over)."""
    p = coeffs.size - 1
    windows = np.lib.stride_tricks.sliding_window_view(x0, p + 1)[rows]  # x0[k + l]
    offsets = unknown[None, :] - rows[:, None]  # l = u - k for row k and unknown u
    inside = (offsets >= 0) & (offsets <= p)
    taps = np.where(inside, offsets, 0)
    normal = np.diag(np.full(unknown.size, ridge))
    rhs = np.zeros(unknown.size)
    for h in (coeffs[::-1], coeffs):
        a = h[taps] * inside
        normal += a.T @ a
        rhs -= a.T @ (windows @ h)
    try:
        factor = cho_factor(normal, lower=True, check_finite=False)
    except (LinAlgError, ValueError):
        return None
    values = cho_solve(factor, rhs, check_finite=False)
    return values if np.all(np.isfinite(values)) else None


def _is_toeplitz(unknown: np.ndarray, p: int, n: int) -> bool:
    """One run of unknowns, each at least ``p`` from the window's ends: every row of the
    normal matrix then sees the whole filter, so its band is constant along each diagonal."""
    m = unknown.size
    return bool(unknown[-1] - unknown[0] + 1 == m and unknown[0] >= p and unknown[-1] <= n - 1 - p)


def _solve_toeplitz(
    column: np.ndarray, rhs: np.ndarray, guess: np.ndarray | None = None
) -> np.ndarray | None:
    """The symmetric Toeplitz system with first ``column`` (zero beyond the band): conjugate
    gradients for large systems, else (or when they stall) Levinson; None when neither reaches
    the residual bar."""
    k = int(np.flatnonzero(column)[-1]) + 1 if np.any(column) else 1
    if column.size >= max(CG_MIN_UNKNOWNS, 2 * k):
        values = _toeplitz_cg(column[:k], rhs, guess)
        if values is not None:
            return values
    try:
        values = solve_toeplitz(column, rhs, check_finite=False)
    except (LinAlgError, ValueError):
        return None
    if not np.all(np.isfinite(values)):
        return None
    kernel = np.concatenate((column[1:k][::-1], column[:k]))
    residual = oaconvolve(values, kernel, mode="same") - rhs
    if np.linalg.norm(residual) > TOEPLITZ_TOLERANCE * max(np.linalg.norm(rhs), 1e-300):
        return None
    return values


def _toeplitz_cg(
    band: np.ndarray, rhs: np.ndarray, guess: np.ndarray | None = None
) -> np.ndarray | None:
    """Preconditioned conjugate gradients on the SPD banded Toeplitz matrix whose first column
    starts with ``band`` (length k, with 2k - 1 <= M). The matrix-vector product is a linear
    convolution by FFT; the preconditioner is the circulant that wraps the same band (Strang),
    whose eigenvalues are the filter's power spectrum sampled at M points, so inverting it is
    two FFTs. The matrix differs from that circulant only in its corners (rank <= 2k - 2), so
    the preconditioned spectrum is clustered at 1: on speech, 30-100 steps reach the bar.
    None if CG_MAX_STEPS do not."""
    m, k = rhs.size, band.size
    n_fft = sfft.next_fast_len(m + k - 1, real=True)
    kernel = np.zeros(n_fft)
    kernel[:k] = band
    kernel[n_fft - k + 1 :] = band[1:][::-1]
    kernel_f = sfft.rfft(kernel)
    wrapped = np.zeros(m)
    wrapped[:k] = band
    wrapped[m - k + 1 :] += band[1:][::-1]
    eigen = sfft.rfft(wrapped).real
    if not np.all(eigen > 0):
        return None

    def matvec(v: np.ndarray) -> np.ndarray:
        return sfft.irfft(kernel_f * sfft.rfft(v, n_fft), n_fft)[:m]

    def precondition(r: np.ndarray) -> np.ndarray:
        return sfft.irfft(sfft.rfft(r) / eigen, m)

    values = np.zeros(m) if guess is None else np.array(guess, dtype=np.float64)
    residual = rhs - matvec(values)
    bar = CG_TOLERANCE * max(float(np.linalg.norm(rhs)), 1e-300)
    z = precondition(residual)
    direction = z.copy()
    rz = float(residual @ z)
    for _ in range(CG_MAX_STEPS):
        if np.linalg.norm(residual) <= bar:
            return values if np.all(np.isfinite(values)) else None
        q = matvec(direction)
        curvature = float(direction @ q)
        if not curvature > 0:
            return None
        step = rz / curvature
        values += step * direction
        residual -= step * q
        z = precondition(residual)
        rz_next = float(residual @ z)
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    return None


def _apply_transpose(e: np.ndarray, h: np.ndarray, n: int) -> np.ndarray:
    """``Aᵀ e``: (Aᵀe)_i = sum_k h[i - k] e_k, a full convolution of length n."""
    return oaconvolve(e, h, mode="full")[:n]


def _band_entries(band: np.ndarray, prefix: np.ndarray, unknown: np.ndarray, n_rows: int) -> None:
    """Every entry of ``band`` (lower storage, diagonals d = 0..p) by the general formula: the
    sum over the rows holding both unknown j and unknown j + d, from the prefix sums. A block of
    diagonals at a time, so that a long window's arrays stay small."""
    p = band.shape[0] - 1
    m = unknown.size
    step = max(1, BAND_BLOCK_ENTRIES // m)
    j = np.arange(m)[None, :]
    for first in range(0, min(p + 1, m), step):
        d = np.arange(first, min(first + step, p + 1, m))[:, None]
        inside = j + d < m
        i = np.broadcast_to(unknown[None, :], inside.shape)
        off = unknown[np.minimum(j + d, m - 1)] - i
        valid = inside & (off <= p)
        off_v = np.where(valid, off, 0)
        lo = np.maximum(0, i - (n_rows - 1))
        hi = np.minimum(i, p - off_v)
        vals = prefix[off_v, np.maximum(hi + 1, lo)] - prefix[off_v, lo]
        band[d[:, 0]] = np.where(valid & (hi >= lo), vals, 0.0)


def _band(h: np.ndarray, unknown: np.ndarray, n: int) -> np.ndarray:
    """Lower band storage of (AᵀA) restricted to ``unknown`` (sorted indices), half-bandwidth p.

    (AᵀA)[i, i + off] = sum of h[l] h[l + off] over the rows that contain both samples, a
    difference of prefix sums. Away from the window edges every row is complete and the entry
    is the autocorrelation of h; only the edges need the general formula.
    """
    p = h.size - 1
    m = unknown.size
    products = np.zeros((p + 1, p + 1))
    for off in range(p + 1):
        products[off, : p + 1 - off] = h[: p + 1 - off] * h[off:]
    # prefix[off, l] = sum_{l' < l} h[l'] h[l' + off]
    prefix = np.concatenate((np.zeros((p + 1, 1)), np.cumsum(products, axis=1)), axis=1)
    band = np.zeros((p + 1, m))
    n_rows = n - p
    if unknown[-1] - unknown[0] + 1 != m:
        # Several runs (a clipped peak with its neighbours in one window): all diagonals at
        # once, since the per-diagonal loop's overhead dominates at these sizes.
        _band_entries(band, prefix, unknown, n_rows)
        return band
    for d in range(min(p + 1, m)):
        i = unknown[: m - d]
        band[d, : m - d] = prefix[d, p + 1 - d]
        edge = (i < p - d) | (i > n_rows - 1)
        if not edge.any():
            continue
        i = i[edge]
        lo = np.maximum(0, i - (n_rows - 1))
        hi = np.minimum(i, p - d)
        vals = prefix[d, np.maximum(hi + 1, lo)] - prefix[d, lo]
        band[d, np.flatnonzero(edge)] = np.where(hi >= lo, vals, 0.0)
    return band
