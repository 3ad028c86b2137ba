"""Clicks: a few samples that the speech around them cannot have made (a bad edit, a digital
glitch, a dropped buffer, a spark on a cable).

Speech is well predicted from its last few milliseconds by a short autoregressive model; a
click is not, so the model's prediction error (its residual) spikes there. Voiced speech spikes
too, once per glottal pulse, but its pulses come in trains of like size a pitch period apart.
A sample counts as a click where its residual is ``ratio`` times the largest residual in the
``context_ms`` either side (the nearest ``exclude_ms`` left out, where the click's own ringing
lies): another pulse of the train, within 40 ms (a 25 Hz voice), keeps a glottal pulse under
that. The flagged samples, grouped, become one region each, padded by ``pad_ms``; a group
longer than ``max_ms`` is something else (a burst the other kinds look for), and so is one
with digital silence on one side only (sound starting from it, as a gate opens, or stopping).

On the 100 dev files (12.5 min of read speech; ``scripts/click_study.py``), with clicks added
0-40 dB over the speech's RMS in the 40 ms around them, ``ratio`` 8 found 96 % of those 30-40 dB
over, 66 % at 20-30 dB and 25 % at 10-20 dB, and made no detection in the clean files; on the
2.8 h of the train split it made 45 (not checked by ear: read speech has mouth clicks of its
own), so this kind is sought only where asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from voicemend.engine.detect.types import Detection, DropoutKind
from voicemend.engine.regions import Region


@dataclass(frozen=True)
class ClickSettings:
    order: int = 20  # the AR model's order (1.25 ms at 16 kHz)
    block_ms: float = 64.0  # the span each model is fitted on, hopped by half
    ratio: float = 8.0  # residual over the neighbours' largest
    exclude_ms: float = 2.0  # either side of a sample, left out of its neighbours
    context_ms: float = 40.0  # either side of a sample, its neighbours
    max_ms: float = 5.0  # a longer flagged group is no click
    pad_ms: float = 0.5  # each side of a click's samples, repaired with them
    floor_db: float = -60.0  # residuals under the channel's peak by more are never clicks


def find_clicks(x: np.ndarray, sample_rate: int, settings: ClickSettings) -> list[Detection]:
    """One detection per click in ``x`` (one channel), confidence 0.5 at ``ratio`` and 1.0 at
    four times it."""
    s = settings
    block = max(4 * s.order, round(s.block_ms * sample_rate / 1000))
    hop = block // 2
    if x.size < block:
        return []
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        return []
    e = np.abs(ar_residual(x.astype(np.float64), s.order, block, hop))
    e[: s.order] = 0.0  # the model has no past there
    exclude = max(1, round(s.exclude_ms * sample_rate / 1000))
    reach = max(exclude + 1, round(s.context_ms * sample_rate / 1000))
    neighbours = np.maximum(_side_max(e, exclude, reach, -1), _side_max(e, exclude, reach, +1))
    floor = peak * 10 ** (s.floor_db / 20)
    score = e / np.maximum(neighbours, floor)
    hit = (score > s.ratio) & (e > floor)
    if not hit.any():
        return []
    # flagged samples within exclude_ms of each other are one click
    flagged = np.flatnonzero(hit)
    groups = np.split(flagged, np.flatnonzero(np.diff(flagged) > exclude) + 1)
    pad = round(s.pad_ms * sample_rate / 1000)
    longest = s.max_ms * sample_rate / 1000
    zeros = np.concatenate([[0], np.cumsum(x == 0)])  # exact zeros before each sample
    out = []
    for group in groups:
        first, last = int(group[0]), int(group[-1]) + 1
        if last - first > longest:
            continue
        # where sound starts from digital silence (a gate opening) or stops into it, the model
        # predicted zeros, or its speech, across the edge: that is an edge (the silence search
        # finds it), not a click. A blip with silence on both sides is a click.
        before = first >= s.order and zeros[first] - zeros[first - s.order] == s.order
        after = last + s.order <= x.size and zeros[last + s.order] - zeros[last] == s.order
        if before != after:
            continue
        confidence = 0.5 + 0.5 * np.log(float(score[group].max()) / s.ratio) / np.log(4.0)
        region = Region(max(0, first - pad), min(x.size, last + pad))
        out.append(Detection(region, DropoutKind.CLICK, float(np.clip(confidence, 0.5, 1.0))))
    return out


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
    n_hops = -(-x.size // hop)
    starts = np.arange(n_hops) * hop + hop // 2 - block // 2
    padded = np.pad(x, (block, block))
    idx = starts[:, None] + block + np.arange(block)[None, :]
    frames = padded[idx] * np.hanning(block)[None, :]
    size = 2 * block  # enough zeros that the lags wanted do not wrap around
    power = np.abs(np.fft.rfft(frames, n=size, axis=1)) ** 2
    # the first order + 1 lags of the inverse transform only: a product with their cosines
    bins = np.arange(size // 2 + 1)
    weight = np.where((bins == 0) | (bins == size // 2), 1.0, 2.0) / size
    r = power @ (weight[:, None] * np.cos(2 * np.pi * np.outer(bins, np.arange(order + 1)) / size))
    a = levinson(r, order)
    # e[n] = sum_k a[k] x[n - k], each hop with its own model
    past = np.pad(x, (order, n_hops * hop - x.size))
    e = np.zeros((n_hops, hop))
    for k in range(order + 1):
        e += a[:, k : k + 1] * past[order - k : order - k + n_hops * hop].reshape(n_hops, hop)
    return e.reshape(-1)[: x.size]


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
