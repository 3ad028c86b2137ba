"""Experimental fills beside lsar and pattern: does one keep lsar's PLCMOS and reach pattern's PESQ?

Issue #5 asks `auto` to be no worse than either `lsar` (which leads PLCMOS at every length) or
`pattern` (which leads PESQ-WB at 200-400 ms). No per-gap choice among the shipped methods gets
there at 300-400 ms (`selection_bound.py`), so it takes a different fill. This scores candidate
fills on the quality bench's informed cases, drawn from TRAIN-split files so that trying many
ideas does not tune them to the dev files the bench reports, and writes:
- `variants.json.gz`: every case's PLCMOS and PESQ-WB per variant, and the settings;
- `variants.md`: means per gap length and whether a variant clears both bars;
- `variants.png`: PLCMOS against PESQ per gap length, with the bar's corner drawn in.

Variants (each is a function of the damaged excerpt and its gap, nothing from inside the gap):
- `two-model-lsar`: Etter's interpolation, with the left context's AR model predicting forwards
  and the right's backwards, weighted by a ramp across the gap, re-fitted on the fill as lsar is.
- `envelope-transfer`: lsar's fill with neural-mel's spectral shape imposed by STFT band gains
  (half strength, frame energy kept): lsar's fine structure, the prediction's formants.
- `envelope-transfer-full`: the same at full strength with the prediction's level too (gains up
  to 20 dB): lsar's fine structure, neural-mel's band energies.
- `level-up` / `limiter`: lsar's fill's 20 ms level pulled up to / capped at the context's level,
  interpolated across the gap.
- `pattern-edges-20ms` / `-40ms`: pattern's periodic extension for the first and last k ms,
  lsar across the rest with those extensions as its known edges.
- `long-loop-120ms`: pattern looping the whole pitch periods of the last 120 ms of each side.
- `lsar+0.1-neural-mel`: lsar's fill plus a tenth of neural-mel's.
- `exemplar-units` / `exemplar-copy`: the `exemplar` method (the context's own audio, chosen
  frame by frame by unit selection against the mel predictor's prediction and copied in, no
  vocoder) with a jump between stretches costing 3 (many short stretches) or 30 (about one copied
  stretch), without join costs at the gap's edges or waveform alignment (as first shipped).
- `exemplar-edges-10` / `-30` / `-100` / `-300`: `exemplar-copy` plus join costs with the gap's
  edges of that weight (a stretch whose source neighbours look like the frames either side of the
  gap).
- `exemplar-aligned`: `exemplar-edges-30` with each copied stretch shifted by up to half a hop to
  line its waveform up with the 20 ms of context at the edges it meets (the shipped default).
- `lsar-from-exemplar` / `-pattern` / `-neural-mel`: one LSAR solve (lsar's window and order) whose
  AR model is fitted to the window with that method's fill in the gap rather than to the context
  alone: the other fill's spectrum and pitch, LSAR's seamless continuation; `-N` re-fits on its
  own fill until N solves in all, as lsar does; `lsar-from-pattern+lsar` fits the first model
  with the mean of pattern's and lsar's fills in the gap; `lsar-from-pattern-2+W-pattern` moves the
  two-solve fill W of the way to pattern's.
- `lsar+0.2-neural-mel`: lsar's fill plus a fifth of neural-mel's; `lsar-W-toward-neural-mel`:
  lsar's fill moved W of the way to neural-mel's (a crossfade of the two fills).
- `neural-mel-dip-Xdb`: neural-mel's fill lowered by up to X dB at the gap's middle.
- `lsar-low-E-to-M-in-Xms-neural-mel-high`: the split at E Hz within X ms of the gap's edges
  and at M Hz in its middle (crossfaded over X ms): lsar's whole band where it continues the
  context, more of neural-mel's where lsar has drifted.
- `hybrid`: the engine's `hybrid` method (lsar under 700 Hz, neural-mel above, each pasted with
  its crossfade and split in the window); `hybrid-order-40ms` / `-60ms`: its LSAR half with the
  AR order allowed up to 40 / 60 ms instead of 25 (a longer memory for low voices' pitch);
  `hybrid-lsar-edges-Xms`: `hybrid` with `lsar`'s whole band for the gap's first and last X ms.
- `A-low-HZ-B-high`: A's fill below HZ and B's above (zero-phase Butterworth crossover inside
  the gap): e.g. pattern's or neural-mel's pitch and formants under lsar's noise-like texture.
- `gv-*`: neural-mel with a global-variance post-filter on the predicted mel before the decoder
  (`gv_postfilter`): the predicted frames' spread over time per band scaled toward the context's,
  around the gap's mean (`gv-time-S`) or around the straight line across the gap (`gv-line-S`;
  the engine's `MEL_POSTFILTER` differs in its reference spread), strength S, scale capped at 3
  (`-cap6`: 6); `gv-freq-1` scales
  each frame's contrast across bands instead, `+freq` both; `-decoder` voices with the decoder
  trained on true mel (`neural-mel-decoder`: that decoder without a post-filter).
- `neural-mel-gv`: the shipped neural-mel with the engine's length-matched post-filter
  (`MEL_POSTFILTER`, opt-in); `neural-mel-plain` is neural-mel through this script's own path
  with no post-filter (the same fill as `neural-mel`).

Usage: fill_variants.py [--files 40] [--gap-ms 100,200,300,400] [--variants NAME,...]
       [--workers 2] [--out DIR]
       fill_variants.py --from-scores DIR/variants.json.gz [--out DIR]   (table and plot again)
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import scipy.fft as sfft
from scipy.linalg import LinAlgError, solveh_banded
from scipy.signal import istft, stft

from voicemend.engine.audio import Audio
from voicemend.engine.data import list_speech
from voicemend.engine.errors import VoicemendError
from voicemend.engine.evaluation.quality import QualityConfig, iter_excerpts
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.inpaint.exemplar import ALIGN_MS, EDGE_COST, JUMP_COST
from voicemend.engine.inpaint.lpc import estimate_ar
from voicemend.engine.inpaint.lsar import Lsar, lsar_interpolate
from voicemend.engine.io import atomic_path, save_figure
from voicemend.engine.regions import Region

RATE = 16_000
FILE_ORDER_SEED = 5  # the train files are shuffled so that the first N span the corpora
BASELINES = ("lsar", "pattern")
N_FFT, HOP = 512, 128
N_BANDS = 40
LEVEL_WINDOW_MS = 20.0
LEVEL_REFERENCE_MS = 100.0
EDGE_TAPER_MS = 10.0
MAX_GAIN_DB = 9.0

Fill = Callable[[np.ndarray, Region], np.ndarray]


# --- two-model LSAR -------------------------------------------------------------------------


def weighted_normal_band(h: np.ndarray, row_weights: np.ndarray, n: int) -> np.ndarray:
    """(p+1, n): entry [d, i] = sum_j w_j h[i-j] h[i+d-j], the band of AᵀWA for the convolution
    matrix A whose row j holds ``h`` from column j. Each diagonal is the row weights convolved with
    the products h[k] h[k+d], so all of them come from one batch of FFTs."""
    p = h.size - 1
    products = np.zeros((p + 1, p + 1))
    for d in range(p + 1):
        products[d, : p + 1 - d] = h[: p + 1 - d] * h[d:]
    n_fft = sfft.next_fast_len(n + p, real=True)
    spectrum = sfft.rfft(products, n_fft, axis=1) * sfft.rfft(row_weights, n_fft)[None]
    return sfft.irfft(spectrum, n_fft, axis=1)[:, :n]


def two_model_solve(
    x: np.ndarray, g0: int, g1: int, left: np.ndarray, right: np.ndarray, ramp: bool = True
) -> np.ndarray:
    """The gap's samples minimising the left model's forward prediction error weighted by a ramp
    that falls from 1 to 0 across the gap, plus the right model's backward error weighted by the
    rising ramp. With one model for both sides and ``ramp=False`` (every row weighted 1) this is
    Janssen's LSAR."""
    n, p, m = x.size, left.size - 1, g1 - g0
    rows = np.arange(n - p)
    forward_w, backward_w = np.zeros(n), np.zeros(n)
    if ramp:
        falling = np.clip((g1 - 0.5 - np.arange(n)) / m, 0.0, 1.0)
        forward_w[rows] = falling[rows + p]  # forward row j predicts sample j + p
        backward_w[rows] = 1.0 - falling[rows]  # backward row j predicts sample j
    else:
        forward_w[rows] = backward_w[rows] = 1.0
    known = x.copy()
    known[g0:g1] = 0.0
    band = np.zeros((p + 1, n))
    rhs = np.zeros(n)
    for h, w in ((left[::-1], forward_w), (right, backward_w)):
        band += weighted_normal_band(h, w, n)
        error = np.convolve(known, h[::-1], mode="valid") * w[: n - p]
        rhs -= np.convolve(error, h, mode="full")[:n]
    lower = np.zeros((p + 1, m))
    for d in range(min(p + 1, m)):
        lower[d, : m - d] = band[d, g0 : g1 - d]
    lower[0] += 1e-9 * max(float(lower[0].max()), 1e-300)
    try:
        values = solveh_banded(lower, rhs[g0:g1], lower=True, check_finite=False)
    except (LinAlgError, ValueError):
        values = np.zeros(m)
    known[g0:g1] = values
    return known


def two_model_lsar(damaged: np.ndarray, gap: Region, iterations: int = 10) -> np.ndarray:
    lsar = Lsar()
    g0, g1 = gap.start, gap.end
    order = lsar.order(g1 - g0, RATE)
    ctx = lsar.context_frames(g1 - g0, RATE)
    a, b = max(0, g0 - ctx), min(damaged.size, g1 + ctx)
    x = damaged[a:b].astype(np.float64)
    h0, h1 = g0 - a, g1 - a
    order = min(order, max(2, min(h0, x.size - h1) // 3))
    estimate = x.copy()
    for it in range(iterations):
        if it == 0:
            left, right = estimate_ar([x[:h0]], order), estimate_ar([x[h1:]], order)
        else:  # each side's model from its context and the half of the fill next to it
            mid = (h0 + h1) // 2
            left, right = estimate_ar([estimate[:mid]], order), estimate_ar([estimate[mid:]], order)
        estimate = two_model_solve(x, h0, h1, left, right)
    out = damaged.astype(np.float64).copy()
    out[g0:g1] = estimate[h0:h1]
    return out


# --- fills shaped from lsar's ---------------------------------------------------------------


def _edge_taper(n: int) -> np.ndarray:
    """0 at both edges of the gap rising to 1 over EDGE_TAPER_MS: lsar's fill joins its context
    seamlessly, so changes start only inside."""
    edge = max(1, int(EDGE_TAPER_MS * RATE / 1000))
    d = np.minimum(np.arange(n), n - 1 - np.arange(n))
    return np.sin(0.5 * np.pi * np.clip(d / edge, 0.0, 1.0)) ** 2


def envelope_transfer(
    fill: np.ndarray,
    target: np.ndarray,
    gap: Region,
    strength: float = 0.5,
    keep_energy: bool = True,
    max_gain_db: float = MAX_GAIN_DB,
):
    """``fill`` with the band energies of ``target`` imposed inside the gap: only their shape
    (each frame's energy kept) or, with ``keep_energy=False``, their level too."""
    import librosa

    bands = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_BANDS, norm=None)
    to_bins = bands / np.maximum(bands.sum(0, keepdims=True), 1e-12)
    uncovered = 1.0 - to_bins.sum(0)
    kw = {"nperseg": N_FFT, "noverlap": N_FFT - HOP, "window": "hann"}
    _, _, spec_f = stft(fill, **kw)
    _, _, spec_t = stft(target, **kw)
    power_f = bands @ np.abs(spec_f) ** 2 + 1e-10
    power_t = bands @ np.abs(spec_t) ** 2 + 1e-10
    gain = np.sqrt(power_t / power_f)
    if keep_energy:
        gain *= np.sqrt(power_f.sum(0) / (gain**2 * power_f).sum(0))
    limit = 10 ** (max_gain_db / 20)
    gain = np.clip(gain, 1 / limit, limit) ** strength
    centres = np.arange(spec_f.shape[1]) * HOP
    inside = np.minimum(centres - gap.start, gap.end - centres) - N_FFT // 2
    weight = np.clip(inside / (EDGE_TAPER_MS * RATE / 1000), 0.0, 1.0)
    gain = np.exp(np.log(gain) * weight[None])
    _, y = istft(spec_f * (to_bins.T @ gain + uncovered[:, None]), **kw)
    out = fill.copy()
    out[gap.start : gap.end] = y[gap.start : gap.end]
    return out


def band_split(low_fill: np.ndarray, high_fill: np.ndarray, gap: Region, cutoff_hz: float):
    """``low_fill`` below ``cutoff_hz`` and ``high_fill`` above it inside the gap (4th-order
    Butterworth, zero phase, the two bands summing to the input): one method's pitch and
    formants where speech has most of its energy, the other's texture above."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, cutoff_hz, btype="low", fs=RATE, output="sos")
    low = sosfiltfilt(sos, low_fill)
    high = high_fill - sosfiltfilt(sos, high_fill)
    out = low_fill.copy()
    out[gap.start : gap.end] = low[gap.start : gap.end] + high[gap.start : gap.end]
    return out


def band_split_in_time(
    low_fill: np.ndarray,
    high_fill: np.ndarray,
    gap: Region,
    edge_hz: float,
    middle_hz: float,
    edge_ms: float,
) -> np.ndarray:
    """:func:`band_split` at ``edge_hz`` within ``edge_ms`` of the gap's edges and at
    ``middle_hz`` in its middle, crossfaded over ``edge_ms`` (raised cosine): ``low_fill`` over
    more of the band where it continues the context, ``high_fill`` over more in the middle."""
    at_edges = band_split(low_fill, high_fill, gap, edge_hz)
    in_middle = band_split(low_fill, high_fill, gap, middle_hz)
    n = gap.end - gap.start
    t = np.arange(n) / RATE * 1000
    ramp = np.clip((np.minimum(t, t[::-1]) - edge_ms) / edge_ms, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * ramp)
    out = at_edges.copy()
    seg = slice(gap.start, gap.end)
    out[seg] = (1 - w) * at_edges[seg] + w * in_middle[seg]
    return out


def relevel(fill: np.ndarray, gap: Region, direction: str) -> np.ndarray:
    """``fill`` with its 20 ms level inside the gap moved to the context's (the 100 ms each side,
    interpolated in dB): ``up`` only raises it, ``down`` only lowers it (a limiter)."""
    win = int(LEVEL_WINDOW_MS * RATE / 1000)
    ref = int(LEVEL_REFERENCE_MS * RATE / 1000)
    g0, g1 = gap.start, gap.end
    left = np.sqrt(np.mean(fill[max(0, g0 - ref) : g0] ** 2) + 1e-12)
    right = np.sqrt(np.mean(fill[g1 : g1 + ref] ** 2) + 1e-12)
    n = g1 - g0
    t = (np.arange(n) + 0.5) / n
    target = np.exp((1 - t) * np.log(left) + t * np.log(right))
    level = np.sqrt(np.convolve(fill**2, np.ones(win) / win, mode="same")[g0:g1] + 1e-12)
    gain = target / level
    gain = np.maximum(gain, 1.0) if direction == "up" else np.minimum(gain, 1.0)
    limit = 10 ** (MAX_GAIN_DB / 20)
    gain = np.exp(np.log(np.clip(gain, 1 / limit, limit)) * _edge_taper(n))
    gain = np.convolve(np.pad(gain, win // 2, mode="edge"), np.ones(win) / win, mode="valid")[:n]
    out = fill.copy()
    out[g0:g1] *= gain
    return out


def dip(fill: np.ndarray, gap: Region, depth_db: float) -> np.ndarray:
    """``fill`` lowered inside the gap by up to ``depth_db`` at its middle (a half-sine in dB, 0 at
    the edges): quieter where the prediction is least certain, as lsar's fill is."""
    n = gap.end - gap.start
    shape = np.sin(np.pi * (np.arange(n) + 0.5) / n)
    out = fill.copy()
    out[gap.start : gap.end] *= 10 ** (-depth_db * shape / 20)
    return out


def edges_from(
    edge_fill: np.ndarray, middle_fill: np.ndarray, gap: Region, edge_ms: float, fade_ms: float
) -> np.ndarray:
    """``edge_fill`` for the first and last ``edge_ms`` of the gap, ``middle_fill`` between,
    crossfaded over ``fade_ms`` (raised cosine): lsar's seamless joins with the prediction's
    content in the middle."""
    n = gap.end - gap.start
    t = np.arange(n) / RATE * 1000
    from_edge = np.minimum(t, t[::-1])  # ms to the nearer edge
    ramp = np.clip((from_edge - edge_ms) / fade_ms, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * ramp)  # 0 at the edges, 1 in the middle
    out = edge_fill.copy()
    seg = slice(gap.start, gap.end)
    out[seg] = (1 - w) * edge_fill[seg] + w * middle_fill[seg]
    return out


def pattern_edges(pattern_fill: np.ndarray, gap: Region, edge_ms: float) -> np.ndarray:
    """pattern's fill for the first and last ``edge_ms``, lsar across the middle."""
    k = int(edge_ms * RATE / 1000)
    if gap.end - gap.start - 2 * k < RATE // 1000:
        return pattern_fill
    middle = Region(gap.start + k, gap.end - k)
    y = pattern_fill.copy()
    y[middle.start : middle.end] = 0.0
    return get_inpainter("lsar")(Audio.from_array(y, RATE), [middle]).samples[0]


def lsar_from(
    damaged: np.ndarray, other: np.ndarray, gap: Region, iterations: int = 1
) -> np.ndarray:
    """LSAR whose first AR model is fitted to the window with ``other``'s fill in the gap (not
    to the context alone), re-fitted ``iterations`` - 1 times on its own fill as lsar is; lsar's
    window and order for the gap's length."""
    lsar = Lsar()
    n_gap = gap.end - gap.start
    reach = lsar.context_frames(n_gap, RATE)
    lo, hi = max(0, gap.start - reach), min(damaged.size, gap.end + reach)
    known = np.ones(hi - lo, dtype=bool)
    known[gap.start - lo : gap.end - lo] = False
    order = lsar.order(n_gap, RATE)
    out = damaged.copy()
    out[lo:hi] = lsar_interpolate(damaged[lo:hi], known, order, iterations, initial=other[lo:hi])
    return out


def long_loop(damaged: np.ndarray, gap: Region, loop_ms: float) -> np.ndarray:
    """pattern, looping the whole periods in the last ``loop_ms`` of each side (a syllable) instead
    of one to three periods (a buzz). pattern reads its history and loop length from module
    constants, patched here for the one call."""
    from unittest import mock

    import voicemend.engine.inpaint.pattern as pattern_module

    with mock.patch.multiple(
        pattern_module, HISTORY_MS=loop_ms + 20.0, MAX_PERIODS=10_000, PERIODS_BY_GAP_MS=()
    ):
        return pattern_module.Pattern()(Audio.from_array(damaged, RATE), [gap]).samples[0]


# --- exemplar fills: the context's own audio, picked by the mel prediction ------------------


# --- global-variance post-filter on the predicted mel ----------------------------------------


def gv_postfilter(
    log_mel,
    hidden,
    time_strength: float,
    freq_strength: float,
    max_scale: float = 3.0,
    around_line: bool = False,
):
    """Toda & Tokuda's (2007) global-variance compensation, from the context alone: the predicted
    gap frames' spread over time per band (and across bands per frame) scaled up towards the
    context frames' spread, ``strength`` of the way in log terms. ``around_line``: the spread
    around the straight line across the gap (which meets the context at both edges, so the edges
    stay put) rather than around the gap's mean."""
    import torch

    from voicemend.engine.models.mel_transformer import interpolate_gaps

    line_all = interpolate_gaps(log_mel, hidden)
    out = log_mel.clone()
    for i in range(log_mel.shape[0]):
        gap = hidden[i]
        if not bool(gap.any()) or bool(gap.all()):
            continue
        ctx, pred = log_mel[i][:, ~gap], log_mel[i][:, gap]
        if freq_strength:

            def contrast(x):
                return (x - x.mean(0, keepdim=True)).std(0).mean()

            s = (contrast(ctx) / contrast(pred).clamp(min=1e-6)).clamp(1.0, max_scale)
            mean_f = pred.mean(0, keepdim=True)
            pred = mean_f + (pred - mean_f) * s**freq_strength
        if time_strength and pred.shape[1] > 1:
            base = line_all[i][:, gap] if around_line else pred.mean(1, keepdim=True)
            spread = (pred - base).pow(2).mean(1, keepdim=True).sqrt()
            s = (ctx.std(1, keepdim=True) / spread.clamp(min=1e-6)).clamp(1.0, max_scale)
            pred = base + (pred - base) * s**time_strength
        out[i][:, gap] = pred
    return torch.where(hidden[:, None, :], out, log_mel)


def postfiltered_neural_mel(
    time_strength: float, freq_strength: float, decoder: str, max_scale: float, around_line: bool
):
    from voicemend.engine.inpaint.neural import NeuralMel, _voice
    from voicemend.engine.models.mel_inpainter import heard_frames
    from voicemend.engine.models.mel_transformer import MelTransformer
    from voicemend.engine.models.shipped import verified_folder
    from voicemend.engine.models.vocos import VocosDecoder

    class PostFiltered(NeuralMel):
        def _decode(self, masked, gap, needed):
            context_mel = self.mel(masked)
            hidden = heard_frames(gap, context_mel.shape[-1], self.mel.config)
            pred = self.predictor(context_mel, hidden)
            pred = gv_postfilter(pred, hidden, time_strength, freq_strength, max_scale, around_line)
            return _voice(self.decoder, pred, needed)

    return PostFiltered(
        MelTransformer.from_pretrained(verified_folder("mel")),
        VocosDecoder.from_pretrained(verified_folder(decoder)),
        device="cpu",
    )


def shifted_neural_mel(shifts: tuple[int, ...], context_crops_s: tuple[float, ...] = (0.0,)):
    """neural-mel whose prediction is the mean of several views of the same context: the
    mel prefixed by ``shift`` copies of its first frame (the predictor reads two frames per
    token, so a one-frame shift puts the token boundaries elsewhere) and the context cut by
    ``crop`` seconds on the left."""
    import torch

    from voicemend.engine.inpaint.neural import NeuralMel, _voice
    from voicemend.engine.models.mel_inpainter import heard_frames
    from voicemend.engine.models.mel_transformer import MelTransformer
    from voicemend.engine.models.shipped import verified_folder
    from voicemend.engine.models.vocos import VocosDecoder

    class Shifted(NeuralMel):
        def _decode(self, masked, gap, needed):
            mel = self.mel(masked)
            hidden = heard_frames(gap, mel.shape[-1], self.mel.config)
            preds = []
            for crop_s in context_crops_s:
                c = int(crop_s * 100)
                for k in shifts:
                    m = torch.cat([mel[..., c : c + 1].expand(-1, -1, k), mel[..., c:]], -1)
                    h = torch.cat([hidden[:, c : c + 1].expand(-1, k), hidden[:, c:]], -1)
                    p = self.predictor(m, h)[..., k:]
                    preds.append(torch.cat([mel[..., :c], p], -1))
            return _voice(self.decoder, torch.stack(preds).mean(0), needed)

    return Shifted(
        MelTransformer.from_pretrained(verified_folder("mel")),
        VocosDecoder.from_pretrained(verified_folder("mel-decoder")),
        device="cpu",
    )


# name: (time strength, frequency strength, decoder, largest scale, spread around "mean"/"line")
GV_VARIANTS = {
    "gv-time-0.5": (0.5, 0.0, "mel-decoder", 3.0, "mean"),
    "gv-time-1": (1.0, 0.0, "mel-decoder", 3.0, "mean"),
    "gv-freq-1": (0.0, 1.0, "mel-decoder", 3.0, "mean"),
    "gv-both-1-decoder": (1.0, 1.0, "decoder", 3.0, "mean"),
    "neural-mel-decoder": (0.0, 0.0, "decoder", 3.0, "mean"),
    "gv-time-1-cap6": (1.0, 0.0, "mel-decoder", 6.0, "mean"),
    "gv-line-1": (1.0, 0.0, "mel-decoder", 3.0, "line"),
    "gv-line-1-cap6": (1.0, 0.0, "mel-decoder", 6.0, "line"),
    "gv-line-1.5-cap6": (1.5, 0.0, "mel-decoder", 6.0, "line"),
    "gv-line-1+freq": (1.0, 1.0, "mel-decoder", 6.0, "line"),
    "neural-mel-plain": (0.0, 0.0, "mel-decoder", 3.0, "mean"),
}


# --- the registry ---------------------------------------------------------------------------


class Fills:
    """Each variant as ``fill(damaged, gap) -> repaired``; shared fills computed once per case."""

    def __init__(self) -> None:
        self._inpainters: dict[str, object] = {}
        self._memo: dict[str, np.ndarray] = {}

    def method(self, name: str, damaged: np.ndarray, gap: Region) -> np.ndarray:
        if name not in self._memo:
            if name not in self._inpainters:
                self._inpainters[name] = self._make(name)
            inp = self._inpainters[name]
            self._memo[name] = inp(Audio.from_array(damaged, RATE), [gap]).samples[0]  # type: ignore[operator]
        return self._memo[name]

    @staticmethod
    def _make(name: str) -> object:
        """The inpainter behind a method name: a post-filter key (``gv:...``), the shipped
        neural-mel with the engine's post-filter, or a registered method."""
        if name.startswith("gv:"):
            _, t, f, dec, cap, around = name.split(":")
            return postfiltered_neural_mel(float(t), float(f), dec, float(cap), around == "line")
        if name.startswith("hybrid-order:"):  # hybrid whose LSAR half reaches further back
            from voicemend.engine.inpaint.crossover import Crossover
            from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

            order_ms = float(name.split(":")[1])
            settings = LsarSettings(max_order_ms=order_ms, max_order_frames=4096)
            return Crossover(Lsar(settings), get_inpainter("hybrid", device="cpu").high)
        if name.startswith("tta:"):  # neural-mel averaged over views; hybrid with it above
            from voicemend.engine.inpaint.crossover import Crossover
            from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

            _, kind, shifts, crops = name.split(":")
            fill = shifted_neural_mel(
                tuple(int(k) for k in shifts.split(",")), tuple(float(c) for c in crops.split(","))
            )
            if kind == "neural-mel":
                return fill
            return Crossover(Lsar(LsarSettings(full_rate_iterations=0)), fill)
        if name == "neural-mel-gv":
            from voicemend.engine.inpaint.neural import MEL_POSTFILTER, ShippedNeuralMel

            return ShippedNeuralMel("cpu", postfilter=MEL_POSTFILTER)
        return get_inpainter(name, device="cpu")

    def exemplar(
        self, jump: float, damaged: np.ndarray, gap: Region, edge: float = 0.0, align: float = 0.0
    ) -> np.ndarray:
        """The shipped ``exemplar`` method with ``jump`` as its cost per jump between stretches
        and ``edge`` as the weight of its join costs with the gap's edges; ``align`` ms of context
        at each edge to line the copy up with (0: no alignment)."""
        key = f"exemplar-{jump}-{edge}-{align}"
        if key not in self._inpainters:
            from voicemend.engine.inpaint.exemplar import Exemplar
            from voicemend.engine.models.mel_transformer import MelTransformer
            from voicemend.engine.models.shipped import verified_folder

            predictor = MelTransformer.from_pretrained(verified_folder("mel"))
            self._inpainters[key] = Exemplar(
                predictor, device="cpu", jump_cost=jump, edge_cost=edge, align_ms=align
            )
        if key not in self._memo:  # blends reuse the case's copy
            inp = self._inpainters[key]
            self._memo[key] = inp(Audio.from_array(damaged, RATE), [gap]).samples[0]  # type: ignore[operator]
        return self._memo[key]

    def variants(self) -> dict[str, Fill]:
        m = self.method
        return {
            "lsar": lambda d, g: m("lsar", d, g),
            "pattern": lambda d, g: m("pattern", d, g),
            "neural-mel": lambda d, g: m("neural-mel", d, g),
            "neural-mel-gv": lambda d, g: m("neural-mel-gv", d, g),
            "hybrid": lambda d, g: m("hybrid", d, g),
            "hybrid-order-40ms": lambda d, g: m("hybrid-order:40", d, g),
            "neural-mel-shift2": lambda d, g: m("tta:neural-mel:0,1:0", d, g),
            "hybrid-shift2": lambda d, g: m("tta:hybrid:0,1:0", d, g),
            "neural-mel-shift2-crop2": lambda d, g: m("tta:neural-mel:0,1:0,0.25", d, g),
            "hybrid-shift2-crop2": lambda d, g: m("tta:hybrid:0,1:0,0.25", d, g),
            "hybrid-order-60ms": lambda d, g: m("hybrid-order:60", d, g),
            "two-model-lsar": two_model_lsar,
            "envelope-transfer": self.shaped("lsar", 0.5),
            "envelope-transfer-full": self.shaped("lsar", 1.0, level=True),
            "exemplar-envelope": self.shaped("exemplar", 0.5),
            "exemplar-envelope-full": self.shaped("exemplar", 1.0, level=True),
            "exemplar-envelope-0.5-level": self.shaped("exemplar", 0.5, level=True),
            "level-up": lambda d, g: relevel(m("lsar", d, g), g, "up"),
            "limiter": lambda d, g: relevel(m("lsar", d, g), g, "down"),
            "pattern-edges-20ms": lambda d, g: pattern_edges(m("pattern", d, g), g, 20.0),
            "pattern-edges-40ms": lambda d, g: pattern_edges(m("pattern", d, g), g, 40.0),
            "long-loop-120ms": lambda d, g: long_loop(d, g, 120.0),
            "lsar+0.1-neural-mel": lambda d, g: _add(
                m("lsar", d, g), m("neural-mel", d, g), g, 0.1
            ),
            "exemplar-units": lambda d, g: self.exemplar(3.0, d, g),
            "exemplar-copy": lambda d, g: self.exemplar(30.0, d, g),
            "exemplar-edges-10": lambda d, g: self.exemplar(30.0, d, g, 10.0),
            "exemplar-edges-30": lambda d, g: self.exemplar(30.0, d, g, 30.0),
            "exemplar-edges-100": lambda d, g: self.exemplar(30.0, d, g, 100.0),
            "exemplar-edges-300": lambda d, g: self.exemplar(30.0, d, g, 300.0),
            "exemplar-aligned": lambda d, g: self.exemplar(JUMP_COST, d, g, EDGE_COST, ALIGN_MS),
            "lsar-from-exemplar": lambda d, g: lsar_from(d, m("exemplar", d, g), g),
            "lsar-from-pattern": lambda d, g: lsar_from(d, m("pattern", d, g), g),
            "lsar-from-neural-mel": lambda d, g: lsar_from(d, m("neural-mel", d, g), g),
            "lsar-from-exemplar-3": lambda d, g: lsar_from(d, m("exemplar", d, g), g, 3),
            "lsar-from-pattern-2": lambda d, g: lsar_from(d, m("pattern", d, g), g, 2),
            "lsar-from-pattern-3": lambda d, g: lsar_from(d, m("pattern", d, g), g, 3),
            "lsar-from-pattern-5": lambda d, g: lsar_from(d, m("pattern", d, g), g, 5),
            "lsar-from-pattern-10": lambda d, g: lsar_from(d, m("pattern", d, g), g, 10),
            "lsar-from-pattern-2+0.25-pattern": lambda d, g: self.toward(
                lsar_from(d, m("pattern", d, g), g, 2), m("pattern", d, g), g, 0.25
            ),
            "lsar-from-pattern-2+0.5-pattern": lambda d, g: self.toward(
                lsar_from(d, m("pattern", d, g), g, 2), m("pattern", d, g), g, 0.5
            ),
            "lsar-from-pattern+lsar": lambda d, g: lsar_from(
                d, 0.5 * (m("pattern", d, g) + m("lsar", d, g)), g
            ),
            "lsar+0.2-neural-mel": lambda d, g: _add(
                m("lsar", d, g), m("neural-mel", d, g), g, 0.2
            ),
            "lsar-0.3-toward-neural-mel": lambda d, g: self.toward(
                m("lsar", d, g), m("neural-mel", d, g), g, 0.3
            ),
            "lsar-0.5-toward-neural-mel": lambda d, g: self.toward(
                m("lsar", d, g), m("neural-mel", d, g), g, 0.5
            ),
            "neural-mel-dip-4db": lambda d, g: dip(m("neural-mel", d, g), g, 4.0),
            "neural-mel-dip-8db": lambda d, g: dip(m("neural-mel", d, g), g, 8.0),
            "lsar-from-neural-mel-3": lambda d, g: lsar_from(d, m("neural-mel", d, g), g, 3),
            "lsar-edges-20ms-neural-mel": lambda d, g: edges_from(
                m("lsar", d, g), m("neural-mel", d, g), g, 20.0, 20.0
            ),
            **{f"hybrid-lsar-edges-{ms}ms": self.hybrid_edges(float(ms)) for ms in (10, 20, 30)},
            "lsar-edges-50ms-neural-mel": lambda d, g: edges_from(
                m("lsar", d, g), m("neural-mel", d, g), g, 50.0, 30.0
            ),
            "exemplar-units-aligned-3": lambda d, g: self.exemplar(3.0, d, g, EDGE_COST, ALIGN_MS),
            "exemplar-units-aligned-10": lambda d, g: self.exemplar(
                10.0, d, g, EDGE_COST, ALIGN_MS
            ),
            "exemplar-aligned-0.2-toward-neural-mel": lambda d, g: self.toward(
                self.exemplar(JUMP_COST, d, g, EDGE_COST, ALIGN_MS), m("neural-mel", d, g), g, 0.2
            ),
            "exemplar-aligned-0.35-toward-neural-mel": lambda d, g: self.toward(
                self.exemplar(JUMP_COST, d, g, EDGE_COST, ALIGN_MS), m("neural-mel", d, g), g, 0.35
            ),
            "exemplar-aligned+0.2-neural-mel": lambda d, g: _add(
                self.exemplar(JUMP_COST, d, g, EDGE_COST, ALIGN_MS), m("neural-mel", d, g), g, 0.2
            ),
            **{
                f"{lo}-low-{hz}-lsar-high": self.split(lo, "lsar", hz)
                for lo in ("pattern", "neural-mel")
                for hz in (500, 1000, 2000)
            },
            **{
                f"lsar-low-{hz}-{hi}-high": self.split("lsar", hi, hz)
                for hi, cutoffs in (
                    ("neural-mel", (500, 700, 1000, 1400, 2000, 3000, 4000)),
                    ("pattern", (1000, 2000)),
                    ("exemplar-aligned", (1000, 2000)),
                )
                for hz in cutoffs
            },
            **{
                f"lsar-low-{e}-to-{mid}-in-{ms}ms-neural-mel-high": self.split_in_time(e, mid, ms)
                for e, mid, ms in (
                    (2000, 500, 40),
                    (1000, 500, 40),
                    (2000, 300, 40),
                    (1000, 400, 80),
                )
            },
            "lsar-from-pattern-5-low-700-neural-mel-high": self.split(
                "lsar-from-pattern-5", "neural-mel", 700
            ),
            "lsar-low-500-mixed-1000-neural-mel-high": lambda d, g: (
                0.5
                * (
                    self.split("lsar", "neural-mel", 500)(d, g)
                    + self.split("lsar", "neural-mel", 1000)(d, g)
                )
            ),
            **{
                f"level-up-low-{hz}-neural-mel-high": self.split("level-up", "neural-mel", hz)
                for hz in (1000, 2000)
            },
            **{name: self.postfiltered(spec) for name, spec in GV_VARIANTS.items()},
        }

    def hybrid_edges(self, edge_ms: float) -> Fill:
        """``hybrid`` with ``lsar``'s whole fill for the first and last ``edge_ms`` of the gap
        (its upper band too), crossfaded into ``hybrid``'s over 20 ms."""
        return lambda d, g: edges_from(
            self.method("lsar", d, g), self.method("hybrid", d, g), g, edge_ms, 20.0
        )

    def shaped(self, base: str, strength: float, level: bool = False) -> Fill:
        """``base``'s fill with ``neural-mel``'s band shape imposed at ``strength`` (see
        :func:`envelope_transfer`); with ``level`` its band levels too, by up to ±20 dB."""
        return lambda d, g: envelope_transfer(
            self.method(base, d, g),
            self.method("neural-mel", d, g),
            g,
            strength,
            keep_energy=not level,
            max_gain_db=20.0 if level else MAX_GAIN_DB,
        )

    def split(self, low: str, high: str, cutoff_hz: float) -> Fill:
        """``low``'s fill below ``cutoff_hz``, ``high``'s above (see :func:`band_split`)."""

        def fill(d: np.ndarray, g: Region) -> np.ndarray:
            fills = self.variants()
            return band_split(fills[low](d, g), fills[high](d, g), g, cutoff_hz)

        return fill

    def split_in_time(self, edge_hz: float, middle_hz: float, edge_ms: float) -> Fill:
        """lsar under ``edge_hz`` near the edges and under ``middle_hz`` in the middle,
        neural-mel above (see :func:`band_split_in_time`)."""
        return lambda d, g: band_split_in_time(
            self.method("lsar", d, g),
            self.method("neural-mel", d, g),
            g,
            edge_hz,
            middle_hz,
            edge_ms,
        )

    def postfiltered(self, spec: tuple) -> Fill:
        """neural-mel through ``gv_postfilter`` with the settings ``spec`` (see GV_VARIANTS)."""
        key = "gv:" + ":".join(map(str, spec))
        return lambda d, g: self.method(key, d, g)

    @staticmethod
    def toward(fill: np.ndarray, other: np.ndarray, gap: Region, weight: float) -> np.ndarray:
        """``fill`` moved ``weight`` of the way to ``other`` inside the gap."""
        return _add(fill, other - fill, gap, weight)

    def reset(self) -> None:
        self._memo.clear()


def _add(fill: np.ndarray, other: np.ndarray, gap: Region, gain: float) -> np.ndarray:
    out = fill.copy()
    out[gap.start : gap.end] += gain * other[gap.start : gap.end]
    return out


VARIANTS = tuple(Fills().variants())


# --- scoring --------------------------------------------------------------------------------


def train_files(count: int) -> list:
    files = list_speech(split="train")
    order = np.random.default_rng(FILE_ORDER_SEED).permutation(len(files))
    return [files[i] for i in order[:count]]


def score_file(job: tuple[object, int, tuple[int, ...], tuple[str, ...]]) -> list[dict]:
    """Every case of one file: {file, gap_ms, variant, plcmos, pesq}."""
    from threadpoolctl import threadpool_limits

    from voicemend.engine.evaluation import scores

    speech_file, index, gaps, names = job
    config = QualityConfig(gaps_ms=gaps, positions_short=1, positions_long=1)
    fills = Fills()
    table = fills.variants()
    rows = []
    with threadpool_limits(limits=1):
        for case, clean, gap in iter_excerpts([speech_file], RATE, config, first_index=index):
            damaged = clean.astype(np.float64).copy()
            damaged[gap.start : gap.end] = 0.0
            fills.reset()
            for name in names:
                y = table[name](damaged, gap)
                rows.append(
                    {
                        "file": case.file,
                        "gap_ms": case.gap_ms,
                        "variant": name,
                        "plcmos": scores.plcmos(y),
                        "pesq": scores.pesq_score(clean, y, RATE),
                    }
                )
    return rows


def summarise(rows: Sequence[dict], names: Sequence[str]) -> dict[int, dict[str, tuple]]:
    """gap -> variant -> (cases, mean PLCMOS, mean PESQ), NaN PESQ cases left out of its mean."""
    out: dict[int, dict[str, tuple]] = {}
    for gap in sorted({r["gap_ms"] for r in rows}):
        out[gap] = {}
        for name in names:
            sel = [r for r in rows if r["gap_ms"] == gap and r["variant"] == name]
            if sel:
                out[gap][name] = (
                    len(sel),
                    float(np.mean([r["plcmos"] for r in sel])),
                    float(np.nanmean([r["pesq"] for r in sel])),
                )
    return out


def clears_bar(summary: dict[str, tuple], name: str) -> bool | None:
    """PLCMOS ≥ the better baseline's and PESQ ≥ the better baseline's; None without both."""
    if not all(b in summary for b in BASELINES):
        return None
    plcmos_bar = max(summary[b][1] for b in BASELINES)
    pesq_bar = max(summary[b][2] for b in BASELINES)
    return summary[name][1] >= plcmos_bar and summary[name][2] >= pesq_bar


def markdown(summary: dict[int, dict[str, tuple]], names: Sequence[str]) -> str:
    gaps = list(summary)
    head = " | ".join(f"{g} ms" for g in gaps)
    lines = [
        f"| variant | {head} |",
        "|---|" + "---|" * len(gaps),
    ]
    for name in names:
        cells = []
        for g in gaps:
            if name not in summary[g]:
                cells.append("–")
                continue
            _, pl, pe = summary[g][name]
            ok = clears_bar(summary[g], name)
            mark = " ✓" if ok and name not in BASELINES else ""
            cells.append(f"{pl:.3f} / {pe:.3f}{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    n = {g: next(iter(summary[g].values()))[0] for g in gaps}
    counts = ", ".join(f"{c} at {g} ms" for g, c in n.items())
    return (
        "\n".join(lines)
        + f"\n\nMean PLCMOS v2 / PESQ-WB per gap length (cases: {counts}); ✓ marks a variant that"
        " reaches both the better baseline's PLCMOS and the better baseline's PESQ."
    )


def paired_markdown(rows: Sequence[dict], names: Sequence[str]) -> str:
    """Per case, each variant's PLCMOS minus lsar's and PESQ minus pattern's (the bar at 200-400
    ms): the mean and its 95% interval, which pairing makes far narrower than the means'."""
    cases: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        cases.setdefault((r["file"], r["gap_ms"]), {})[r["variant"]] = r
    gaps = sorted({g for _, g in cases})
    lines = [
        "| variant | " + " | ".join(f"{g} ms" for g in gaps) + " |",
        "|---|" + "---|" * len(gaps),
    ]
    for name in names:
        cells = []
        for g in gaps:
            both = [c for (_, gg), c in cases.items() if gg == g and {name, *BASELINES} <= set(c)]
            d_plcmos = np.array([c[name]["plcmos"] - c["lsar"]["plcmos"] for c in both])
            d_pesq = np.array([c[name]["pesq"] - c["pattern"]["pesq"] for c in both], float)
            d_pesq = d_pesq[np.isfinite(d_pesq)]
            if d_plcmos.size < 2 or d_pesq.size < 2:
                cells.append("–")
                continue
            half = [1.96 * d.std(ddof=1) / np.sqrt(d.size) for d in (d_plcmos, d_pesq)]
            cells.append(
                f"{d_plcmos.mean():+.3f} ± {half[0]:.3f} / {d_pesq.mean():+.3f} ± {half[1]:.3f}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        "\n\nPaired per case: PLCMOS minus `lsar`'s / PESQ-WB minus `pattern`'s, mean ± 95%"
        " interval. Clearing the bar at a length needs both at or above zero."
    )


def plot(summary: dict[int, dict[str, tuple]], names: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gaps = list(summary)
    fig, axes = plt.subplots(1, len(gaps), figsize=(4.2 * len(gaps), 4.2), squeeze=False)
    markers = "osD^v<>phX*"
    for ax, gap in zip(axes[0], gaps, strict=True):
        s = summary[gap]
        for k, name in enumerate(n for n in names if n in s):
            _, pl, pe = s[name]
            ax.scatter(pe, pl, marker=markers[k % len(markers)], s=46, label=name, zorder=3)
        if all(b in s for b in BASELINES):
            pl_bar = max(s[b][1] for b in BASELINES)
            pe_bar = max(s[b][2] for b in BASELINES)
            ax.axhline(pl_bar, color="grey", lw=0.8, ls="--")
            ax.axvline(pe_bar, color="grey", lw=0.8, ls="--")
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            x1, y1 = max(x1, pe_bar + 0.02 * (x1 - x0)), max(y1, pl_bar + 0.02 * (y1 - y0))
            ax.fill_between([pe_bar, x1], pl_bar, y1, color="green", alpha=0.12, zorder=0)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
        ax.set_title(f"{gap} ms gap")
        ax.set_xlabel("PESQ-WB (mean)")
        ax.set_ylabel("PLCMOS v2 (mean)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Fills vs the bar (shaded: ≥ both baselines on both metrics)")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=40, help="train-split files (1 case per length)")
    p.add_argument("--gap-ms", default="100,200,300,400", help="comma-separated gap lengths")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"from {','.join(VARIANTS)}")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="folder for variants.json.gz/.md/.png")
    p.add_argument("--from-scores", type=Path, default=None, help="re-tabulate a saved run")
    a = p.parse_args(argv)
    if a.from_scores is not None:
        try:
            record = read_record(a.from_scores)
        except (OSError, ValueError, KeyError) as exc:
            p.error(f"cannot read {a.from_scores}: {exc}")
        return report(record, a.out)
    try:
        gaps = tuple(int(g) for g in a.gap_ms.split(",") if g)
    except ValueError:
        p.error(f"--gap-ms takes whole milliseconds separated by commas, not {a.gap_ms!r}")
    names = tuple(n for n in a.variants.split(",") if n)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if a.files < 1 or not gaps or min(gaps) < 5 or a.workers < 1:
        p.error("--files and --workers must be at least 1 and every --gap-ms at least 5")
    try:
        files = train_files(a.files)
    except VoicemendError as exc:
        p.error(str(exc))
    from tqdm import tqdm

    jobs = [(f, i, gaps, names) for i, f in enumerate(files)]
    rows: list[dict] = []
    if a.workers == 1:
        for job in tqdm(jobs, desc="files", unit="file"):
            rows += score_file(job)
    else:
        with ProcessPoolExecutor(a.workers) as pool:
            for part in tqdm(
                pool.map(score_file, jobs), total=len(jobs), desc="files", unit="file"
            ):
                rows += part
    record = {
        "files": [Path(f.path).name for f in files],
        "split": "train",
        "gaps_ms": list(gaps),
        "variants": list(names),
        "cases": rows,
    }
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        with (
            atomic_path(a.out / "variants.json.gz") as tmp,
            gzip.open(tmp, "wt", encoding="utf-8") as f,
        ):
            json.dump(record, f)
    return report(record, a.out)


def read_record(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        record = json.load(f)
    if not isinstance(record.get("cases"), list) or not record.get("variants"):
        raise ValueError("not a fill_variants.py record")
    return record


def report(record: dict, out: Path | None) -> int:
    """Print the table; with ``out``, write it and the plot there."""
    names = record["variants"]
    summary = summarise(record["cases"], names)
    text = markdown(summary, names)
    if all(b in names for b in BASELINES):
        text += "\n\n" + paired_markdown(record["cases"], names)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / "variants.md") as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
        plot(summary, names, out / "variants.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
