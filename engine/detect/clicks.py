"""Clicks: a few samples that the speech around them cannot have made (a bad edit, a digital
glitch, a dropped buffer, a spark on a cable).

Speech is well predicted from its last few milliseconds by a short autoregressive model; a
click is not, so the model's prediction error (its residual) spikes there. Voiced speech spikes
too, once per glottal pulse, but its pulses come in trains of like size a pitch period apart.
Two things make a click stand out further from them than the residual alone does:

- The residual is filtered again backwards by the same model (the two-sided error, a matched
  filter for a click: Vaseghi and Rayner 1990). A click's error gathers at its sample, times
  the sum of the model's squared coefficients; a glottal pulse, shaped by the resonances the
  model undoes, is spread out instead.
- A click whitens the model fitted on a block holding it (at 20 dB over the voice a single
  sample holds a third of a 64 ms block's energy), so that the model predicts the voice
  around it poorly. The blocks holding a suspect (``suspect_ratio``) are fitted again with
  the suspect's samples taken out (as in Godsill and Rayner's iterated detection).

A sample counts as a click where its two-sided error is ``ratio`` times the largest in the
``context_ms`` either side (the nearest ``exclude_ms`` left out, where the click's own error
lies): another pulse of the train, within 40 ms (a 25 Hz voice), keeps a glottal pulse under
that. Each flagged group is predicted again sample by sample, every suspect replaced by its
prediction, so that the click's own samples, not those whose prediction it spoiled, become
the region (padded by ``pad_ms``); a group longer than ``max_ms`` is something else (a burst
the other kinds look for), and so is one with digital silence on one side only (sound
starting from it, as a gate opens, or stopping).

``ratio`` 12 was chosen on 200 train files (41.6 min, 1 200 clicks added 0-40 dB over the
speech's RMS in the 40 ms around them): 5 detections in the clean files against 12 for the
residual alone at ratio 8 (the earlier search), and 21 / 55 / 82 / 95 % of the clicks found
at 0-10 / 10-20 / 20-30 / 30-40 dB against 4 / 24 / 68 / 97 %. Read speech has mouth clicks
of its own, so this kind is sought only where asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region

# ``forward_ratio`` where splices are sought: the earlier search's ratio, which finds a step
# where two takes were joined mid-syllable (at the cost of more false detections, see below)
SPLICE_FORWARD_RATIO = 8.0


@dataclass(frozen=True)
class ClickSettings:
    order: int = 20  # the AR model's order (1.25 ms at 16 kHz)
    block_ms: float = 64.0  # the span each model is fitted on, hopped by half
    ratio: float = 12.0  # two-sided error over the neighbours' largest
    exclude_ms: float = 2.0  # either side of a sample, left out of its neighbours
    context_ms: float = 40.0  # either side of a sample, its neighbours
    max_ms: float = 5.0  # a longer flagged group is no click
    pad_ms: float = 0.5  # each side of a click's samples, repaired with them
    floor_db: float = -60.0  # residuals under the channel's peak by more are never clicks
    # over the neighbours' largest, a suspect: its blocks are fitted again without it, and in
    # a click, one of the click's own samples
    suspect_ratio: float = 3.0
    # forward error (of the first models) over its neighbours' largest that also counts: a
    # splice's step. Off by default: at 8 the clean train split's detections went from 29 to
    # 62 (45 for the forward error alone, the earlier search); the edited-speech preset sets it
    forward_ratio: float = np.inf


def find_clicks(x: np.ndarray, sample_rate: int, settings: ClickSettings) -> list[Detection]:
    """One detection per click in ``x`` (one channel), confidence 0.5 at ``ratio`` and 1.0 at
    16 times it."""
    s = settings
    block = max(4 * s.order, round(s.block_ms * sample_rate / 1000))
    hop = block // 2
    if x.size < block:
        return []
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return []
    x = x.astype(np.float64)
    # a click's own two-sided error reaches ``order`` samples either side of it (a doublet's,
    # order + 1 past its first): never its own neighbour, at 8 kHz either, where 2 ms is 16
    exclude = max(round(s.exclude_ms * sample_rate / 1000), s.order + 2)
    reach = max(exclude + 1, round(s.context_ms * sample_rate / 1000))
    floor = peak * 10 ** (s.floor_db / 20)
    models = ar_models(x, s.order, block, hop)
    e, d, limit = _errors(x, models, hop, floor)
    # a step (a splice's jump) is no impulse: the backward pass spreads its error out, while
    # the forward error of the first models still spikes at it (the search before the
    # two-sided one); where ``forward_ratio`` is set, a sample that stands out so counts too
    steps = np.zeros(x.size, dtype=bool)
    if np.isfinite(s.forward_ratio):
        steps = (e > s.forward_ratio * _neighbours(e, exclude, reach, floor)) & (e > floor)
    scale = _neighbours(d, exclude, reach, limit)
    suspects = _groups(d > s.suspect_ratio * scale, exclude)
    if suspects:
        # A click shapes the model of every block it lies in: 20 dB over the voice, a single
        # sample holds a third of a 64 ms block's energy, and the model it whitens predicts
        # the voice around it so poorly that the click no longer stands out. So the blocks
        # holding a suspect are fitted again with its samples taken out.
        models = _refit(x, suspects, models, hop, block, exclude)
        e, d, limit = _errors(x, models, hop, floor)
        scale = _neighbours(d, exclude, reach, limit)
    forward_scale = _neighbours(e, exclude, reach, floor)
    score = d / scale
    groups = _groups((score > s.ratio) | steps, exclude)
    if not groups:
        return []
    pad = round(s.pad_ms * sample_rate / 1000)
    longest = s.max_ms * sample_rate / 1000
    zeros = np.concatenate([[0], np.cumsum(x == 0)])  # exact zeros before each sample
    out = []
    for group in groups:
        own = _own_samples(x, models, hop, group, s.suspect_ratio * forward_scale[group[0] :])
        if own.size == 0:
            own = group[[int(np.argmax(d[group]))]]
        first, last = int(own[0]), int(own[-1]) + 1
        if last - first > longest:
            continue
        # where sound starts from digital silence (a gate opening) or stops into it, the model
        # predicted zeros, or its speech, across the edge: that is an edge (the silence search
        # finds it), not a click. A blip with silence on both sides is a click.
        before = first >= s.order and zeros[first] - zeros[first - s.order] == s.order
        after = last + s.order <= x.size and zeros[last + s.order] - zeros[last] == s.order
        if before != after:
            continue
        # a step found by the forward error alone counts as just over the ratio
        top = max(float(np.max(score[group])), s.ratio)
        confidence = 0.5 + 0.5 * np.log(top / s.ratio) / np.log(16.0)
        region = Region(max(0, first - pad), min(x.size, last + pad))
        out.append(Detection(region, DropoutKind.CLICK, float(np.clip(confidence, 0.5, 1.0))))
    return out


def _errors(
    x: np.ndarray, models: np.ndarray, hop: int, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The size of the forward prediction error, of the two-sided error and, per sample, the
    two-sided error a click at ``floor`` would make (under which nothing counts). The
    two-sided error is the forward one filtered again backwards by the same model: a click's
    error piles up at the click (times the sum of the model's squared coefficients, 5-30 in
    voiced speech), while a glottal pulse, which the model's own resonances shaped, is
    spread out by the backward pass: a click stands further above the pulses there."""
    order = models.shape[1] - 1
    e = ar_filter(x, models, hop)
    d = np.abs(two_sided_error(e, models, hop))
    e = np.abs(e)
    e[:order] = 0.0  # the model has no past there
    d[:order] = 0.0
    d[-order:] = 0.0  # nor a future here
    gain = np.repeat(np.sum(models**2, axis=1), hop)[: x.size]
    limit = floor * gain
    d[d <= limit] = 0.0
    return e, d, limit


def _own_samples(
    x: np.ndarray, models: np.ndarray, hop: int, group: np.ndarray, threshold: np.ndarray
) -> np.ndarray:
    """The samples of a flagged ``group`` that the click itself made. Each click sample also
    spoils the prediction of the ``order`` after it, which the residual flags too; so the
    group is predicted again sample by sample, each flagged sample (residual over
    ``threshold``, which starts at the group's first sample) replaced by its prediction before
    the next is predicted."""
    order = models.shape[1] - 1
    first, stop = int(group[0]), int(group[-1]) + 1
    if first < order:
        return group[:0]
    y = x[first - order : stop].copy()  # the past it needs, then the group's samples
    own = []
    for i, n in enumerate(range(first, stop)):
        a = models[n // hop]
        error = float(np.dot(a, y[i + order :: -1][: order + 1]))
        if abs(error) > threshold[i]:
            own.append(n)
            y[i + order] -= error  # the prediction, in place of the click's sample
    return np.asarray(own, dtype=np.int64)


def _neighbours(e: np.ndarray, exclude: int, reach: int, floor: float | np.ndarray) -> np.ndarray:
    """Per sample, the largest residual of its neighbours (or ``floor``)."""
    neighbours = np.maximum(_side_max(e, exclude, reach, -1), _side_max(e, exclude, reach, +1))
    return np.maximum(neighbours, floor)


def _groups(flags: np.ndarray, gap: int) -> list[np.ndarray]:
    """The flagged samples' indices, split where two lie more than ``gap`` apart."""
    flagged = np.flatnonzero(flags)
    if flagged.size == 0:
        return []
    return np.split(flagged, np.flatnonzero(np.diff(flagged) > gap) + 1)


def _refit(
    x: np.ndarray,
    suspects: list[np.ndarray],
    models: np.ndarray,
    hop: int,
    block: int,
    exclude: int,
) -> np.ndarray:
    """``models`` with those of the hops whose blocks hold a suspect fitted again without the
    suspects' samples (each group's first to ``exclude`` past its last, a ring's length)."""
    fit_on = x.copy()
    touched = np.zeros(models.shape[0], dtype=bool)
    reach = block // 2 - hop // 2  # from a hop's ends to its block's ends
    for group in suspects:
        first, last = max(0, int(group[0]) - 1), min(x.size, int(group[-1]) + exclude + 1)
        fit_on[first:last] = 0.0
        touched[max(0, (first - reach) // hop) : (last + reach) // hop + 1] = True
    hops = np.flatnonzero(touched)
    models = models.copy()
    models[hops] = ar_models(fit_on, models.shape[1] - 1, block, hop, hops)
    return models


def _side_max(e: np.ndarray, exclude: int, reach: int, side: int) -> np.ndarray:
    """Per sample n, the largest of ``e`` over n + side * [exclude, reach] (the signal's ends
    count as zeros)."""
    width = reach - exclude + 1
    m = maximum_filter1d(e, size=width, mode="constant", cval=0.0, origin=-(width // 2))
    # m[n] is the max over e[n : n + width]
    out = np.zeros_like(e)
    if side > 0:
        out[: e.size - exclude] = m[exclude:]
    else:
        # the window e[n - reach : n - exclude + 1] starts at n - reach; nearer the start, the
        # part of it there is
        out[reach:] = m[: max(0, e.size - reach)]
        head = min(reach, e.size)
        upto = np.arange(head) - exclude  # the window's last sample
        prefix = np.maximum.accumulate(e[:head])
        out[:head] = np.where(upto >= 0, prefix[np.clip(upto, 0, None)], 0.0)
    return out


def ar_residual(x: np.ndarray, order: int, block: int, hop: int) -> np.ndarray:
    """The prediction error of ``x`` under AR models of ``order`` fitted (autocorrelation
    method, Hann window) on ``block`` samples centred on each ``hop`` of it, each hop filtered
    by its own model."""
    return ar_filter(x, ar_models(x, order, block, hop), hop)


def ar_models(
    x: np.ndarray, order: int, block: int, hop: int, hops: np.ndarray | None = None
) -> np.ndarray:
    """One row ``[1, a1, ..., a_order]`` per ``hop`` of ``x`` (only the ``hops`` listed, where
    given): the AR model fitted on the ``block`` samples centred on it."""
    n_hops = -(-x.size // hop)
    hops = np.arange(n_hops) if hops is None else np.asarray(hops)
    starts = hops * hop + hop // 2 - block // 2
    padded = np.pad(x, (block, block))
    idx = starts[:, None] + block + np.arange(block)[None, :]
    frames = padded[idx] * np.hanning(block)[None, :]
    size = 2 * block  # enough zeros that the lags wanted do not wrap around
    power = np.abs(np.fft.rfft(frames, n=size, axis=1)) ** 2
    # the first order + 1 lags of the inverse transform only: a product with their cosines
    bins = np.arange(size // 2 + 1)
    weight = np.where((bins == 0) | (bins == size // 2), 1.0, 2.0) / size
    r = power @ (weight[:, None] * np.cos(2 * np.pi * np.outer(bins, np.arange(order + 1)) / size))
    return levinson(r, order)


def ar_filter(x: np.ndarray, a: np.ndarray, hop: int) -> np.ndarray:
    """``e[n] = sum_k a[k] x[n - k]``, each ``hop`` of ``x`` with its own row of ``a``."""
    order = a.shape[1] - 1
    past = np.pad(x, (order, a.shape[0] * hop - x.size))
    return _per_hop(past, a[:, ::-1], hop)[: x.size]


def two_sided_error(e: np.ndarray, a: np.ndarray, hop: int) -> np.ndarray:
    """``d[n] = sum_k a[k] e[n + k]``: the forward error ``e`` filtered backwards, each ``hop``
    by its own row of ``a`` (the signal's end counts as zeros)."""
    order = a.shape[1] - 1
    ahead = np.pad(e, (0, a.shape[0] * hop - e.size + order))
    return _per_hop(ahead, a, hop)[: e.size]


def _per_hop(signal: np.ndarray, taps: np.ndarray, hop: int) -> np.ndarray:
    """``out[n] = sum_k taps[h, k] signal[n + k]`` for n in hop h: one product per hop with a
    view of the signal's windows (no copy of them)."""
    n_hops, width = taps.shape
    windows = sliding_window_view(signal, width)[: n_hops * hop].reshape(n_hops, hop, width)
    return np.matmul(windows, taps[:, :, None]).reshape(-1)


def levinson(r: np.ndarray, order: int) -> np.ndarray:
    """AR coefficients ``[1, a1, ..., a_order]`` from autocorrelations ``r`` (one row per
    block), by the Levinson-Durbin recursion over all rows at once; a silent block gets
    ``[1, 0, ...]`` (its residual is the signal itself)."""
    r = r.astype(np.float64).copy()
    r[:, 0] = r[:, 0] * (1 + 1e-9) + 1e-20  # a little white noise keeps the recursion stable
    a = np.zeros((r.shape[0], order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1 : 0 : -1], axis=1)
        k = -acc / err
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a
