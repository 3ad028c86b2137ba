"""``exemplar``: fill a gap with the speaker's own audio from around it.

What an editor does by hand for a long dropout, pasting the same sound from elsewhere, guided by
the mel predictor: it says what the gap's 10 ms frames should look like, and unit selection
(Hunt & Black, 1996) picks clean frames of the context that follow that prediction, charging
for every jump between stretches (so a long gap gets one or two real stretches of speech rather
than a buzz or a fade) and for a poor join with the speech either side of the gap. Each stretch
is then nudged by up to half a hop so that its waveform meets the context in phase. Their audio
is overlap-added at the input's own rate and channels, so the copy is full band and keeps the
stereo image. It is real speech at the right level and in the right voice, though rarely the
right words: on studio-clean train-split speech PLCMOS rated it above LSAR from 400 ms
(``bench/results/fill-variants``); on the dev bench's noisier recordings it trails LSAR on
PLCMOS (by 0.002-0.004 from 300 to 600 ms) and passes it on PESQ from 400 ms
(``bench/results/quality-dev-exemplar``), so ``auto`` does not choose it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lsar import Lsar
from voicemend.engine.inpaint.neural import level_match
from voicemend.engine.models.device import resolve_device
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import heard_frames
from voicemend.engine.models.mel_transformer import MelTransformer
from voicemend.engine.rates import mask_to_rate, to_rate

CONTEXT_S = 2.0  # each side: the pool of speech to copy from
JUMP_COST = 30.0  # per jump between stretches, in mean |log-mel| units: in effect one stretch
EDGE_COST = 30.0  # weight of the join costs with the gap's edges (see edge_costs)
ALIGN_MS = 20.0  # context next to each edge that a copied stretch is lined up with (edge_offsets)


def unit_path(
    target: np.ndarray,
    pool: np.ndarray,
    candidates: np.ndarray,
    jump: float,
    entry: np.ndarray | None = None,
    leave: np.ndarray | None = None,
) -> np.ndarray:
    """Unit selection by Viterbi: for each predicted frame in ``target`` (T, n_mels) one frame
    of ``pool`` (F, n_mels) out of ``candidates`` (sorted indices), minimising the mean absolute
    log-mel distance to the prediction plus ``jump`` for every pick that does not continue the
    previous one (so a large ``jump`` copies one stretch). ``entry`` and ``leave`` (U,) add a cost
    for starting and ending on each candidate (see :func:`edge_costs`)."""
    units = pool[candidates]
    target_cost = np.abs(target[:, None, :] - units[None]).mean(-1)  # (T, U)
    join = np.full((units.shape[0], units.shape[0]), jump)
    join[candidates[:, None] + 1 == candidates[None, :]] = 0.0
    if entry is not None:
        target_cost[0] += entry
    if leave is not None:
        target_cost[-1] += leave
    acc = target_cost[0].copy()
    back = np.zeros(target_cost.shape, dtype=np.int64)
    for t in range(1, target_cost.shape[0]):
        total = acc[:, None] + join
        back[t] = total.argmin(0)
        acc = total[back[t], np.arange(units.shape[0])] + target_cost[t]
    path = np.zeros(target_cost.shape[0], dtype=np.int64)
    path[-1] = int(acc.argmin())
    for t in range(target_cost.shape[0] - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return candidates[path]


def edge_costs(
    pool: np.ndarray, candidates: np.ndarray, run: np.ndarray, heard: np.ndarray, weight: float
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Join costs with the gap's edges, as between any two units: a stretch whose first frame
    came after a frame like the last one heard before the gap (the frames ``run`` replaces), and
    whose last came before one like the first heard after it, continues the speech on both
    sides. ``weight`` times the mean absolute log-mel distance; None where that edge frame is
    not clean context (the window's end, or another gap)."""
    costs: list[np.ndarray | None] = []
    for edge, step in ((int(run[0]) - 1, -1), (int(run[-1]) + 1, 1)):
        if weight <= 0 or not 0 <= edge < heard.size or heard[edge]:
            costs.append(None)
            continue
        neighbours = pool[candidates + step]
        costs.append(weight * np.abs(neighbours - pool[edge]).mean(-1))
    return costs[0], costs[1]


def edge_offsets(
    window: np.ndarray,
    known: np.ndarray,
    run: np.ndarray,
    sources: np.ndarray,
    hop_frames: float,
    gap: tuple[int, int],
    reach_frames: int,
) -> np.ndarray:
    """Per picked frame, a shift in samples (within ± half a hop) that lines the copied
    stretches' waveforms up with the context where they meet it (WSOLA's criterion: the
    greatest normalised cross-correlation over ``reach_frames`` next to each edge), so the
    crossfades at the edges blend two signals in phase rather than two that half cancel. The
    first stretch is aligned with the left edge, the last with the right, one stretch with both,
    each only over the samples it is pasted on (a stretch that reaches no edge context keeps its
    place); a shift that would read a sample outside the clean context is never chosen, and of
    equally good shifts the smallest wins (silence stays put)."""
    offsets = np.zeros(sources.size, dtype=np.int64)
    mono = window.mean(axis=0)
    n = mono.size
    holes = np.concatenate([[0], np.cumsum(~known)])  # unknown samples before each index
    limit = int(hop_frames // 2)
    deltas = np.arange(-limit, limit + 1)
    nearest_first = np.argsort(np.abs(deltas), kind="stable")  # ties go to the smallest shift
    stretches = np.split(np.arange(sources.size), np.flatnonzero(np.diff(sources) != 1) + 1)
    edges = {0: [(gap[0] - reach_frames, gap[0])]}
    edges.setdefault(len(stretches) - 1, []).append((gap[1], gap[1] + reach_frames))
    for k, spans in edges.items():
        members = stretches[k]
        base = round(float((sources[members[0]] - run[members[0]]) * hop_frames))
        start = (run[members[0]] - 0.5) * hop_frames  # the samples the stretch is pasted over
        stop = (run[members[-1]] + 1.5) * hop_frames
        lo = np.floor(start + base + deltas).astype(np.int64)
        hi = np.ceil(stop + base + deltas).astype(np.int64) + 1
        valid = (lo >= 0) & (hi <= n)
        valid[valid] = holes[hi[valid]] == holes[lo[valid]]
        score = np.where(valid, 0.0, -np.inf)
        compared = False
        for a, b in spans:
            a, b = max(a, int(np.ceil(start)), 0), min(b, int(np.floor(stop)), n)
            if b - a < 2:
                continue
            compared = True
            ref = mono[a:b]
            # the source samples for every shift, zero-padded where a shift would leave the
            # window (those shifts are invalid and never chosen)
            first_read = a + base - limit
            reads = np.zeros(b - a + 2 * limit)
            lo, hi = max(first_read, 0), min(first_read + reads.size, n)
            if hi > lo:
                reads[lo - first_read : hi - first_read] = mono[lo:hi]
            dots = np.correlate(reads, ref, mode="valid")
            energy = np.concatenate([[0.0], np.cumsum(reads**2)])
            got_energy = energy[b - a :] - energy[: deltas.size]
            den = np.sqrt(np.dot(ref, ref) * np.maximum(got_energy, 0.0))
            score += np.divide(dots, den, out=np.zeros(deltas.size), where=den > 0)
        if compared and valid.any():
            offsets[members] = int(deltas[nearest_first[int(np.argmax(score[nearest_first]))]])
    return offsets


def copy_frames(
    window: np.ndarray,
    frames: np.ndarray,
    sources: np.ndarray,
    hop_frames: float,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """``window`` (channels, n) with frame ``frames[i]`` replaced by the audio of frame
    ``sources[i]``: frame t is centred on sample (t + 1/2)·hop and weighted by a raised cosine
    two hops wide. Those weights sum to one at any hop, whole or not, so every sample outside
    the replaced frames' reach is returned exactly and a replaced run fades in and out over one
    hop. ``offsets`` (samples, per frame) moves each source further (see :func:`edge_offsets`)."""
    out = window.copy()
    n = window.shape[1]
    if offsets is None:
        offsets = np.zeros(len(frames), dtype=np.int64)
    for t, src, extra in zip(frames, sources, offsets, strict=True):
        centre = (t + 0.5) * hop_frames
        lo, hi = (
            max(0, int(np.ceil(centre - hop_frames))),
            min(n, int(np.floor(centre + hop_frames)) + 1),
        )
        idx = np.arange(lo, hi)
        weight = 0.5 * (1.0 + np.cos(np.pi * (idx - centre) / hop_frames))
        shift = round(float((src - t) * hop_frames)) + int(extra)
        source = np.clip(idx + shift, 0, n - 1)
        out[:, idx] += weight * (window[:, source] - window[:, idx])
    return out


class Exemplar(Inpainter):
    """See the module docstring. ``predictor`` is a mel transformer at 16 kHz."""

    name = "exemplar"
    uses_torch_device = True

    def __init__(
        self,
        predictor: MelTransformer,
        device: str = "auto",
        context_s: float = CONTEXT_S,
        jump_cost: float = JUMP_COST,
        edge_cost: float = EDGE_COST,
        align_ms: float = ALIGN_MS,
    ) -> None:
        self.device = resolve_device(device)
        self.predictor = predictor.to(self.device).eval()
        self.mel = LogMel(predictor.config.mel).to(self.device)
        self.context_s = context_s
        self.jump_cost = jump_cost
        self.edge_cost = edge_cost
        self.align_ms = align_ms

    def context_frames(self, gap_frames: int, sample_rate: int) -> int:
        return int(self.context_s * sample_rate)

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        """Predict the mel of every frame that hears the gap, pick context frames for them,
        copy those frames' audio in at the input rate, and match the copy's level to the
        context's at both edges (as the neural methods do); the engine crossfades the edges."""
        mel_rate = self.predictor.config.mel.sample_rate
        hop = self.predictor.config.mel.hop_length
        sr = ctx.sample_rate
        mono = to_rate(np.where(ctx.known, ctx.window.mean(axis=0), 0.0), sr, mel_rate)
        n_frames = mono.size // hop
        mono = mono[: n_frames * hop]
        unknown = mask_to_rate(~ctx.known, sr, mel_rate, mono.size)
        mono[unknown] = 0.0
        with torch.inference_mode():
            wave = torch.from_numpy(mono.astype(np.float32))[None].to(self.device)
            gap = torch.from_numpy(unknown)[None].to(self.device)
            log_mel = self.mel(wave)
            hidden = heard_frames(gap, log_mel.shape[-1], self.mel.config)
            predicted = self.predictor(log_mel, hidden)
        pool = log_mel[0].T.float().cpu().numpy()
        heard = hidden[0].cpu().numpy()[:n_frames]
        run = _heard_run(heard, ctx.gap_start, ctx.gap_end, hop * sr / mel_rate)
        candidates = np.flatnonzero(~heard)
        candidates = candidates[(candidates >= 1) & (candidates < n_frames - 1)]
        if candidates.size == 0 or run.size == 0:
            out = ctx.window.copy()  # the context itself under the crossfades
            out[:, ctx.gap_start : ctx.gap_end] = Lsar().fill(
                replace(ctx, fade_left=0, fade_right=0)
            )[0]
            return out[:, ctx.span], "exemplar: no clean context to copy from; lsar"
        target = predicted[0].T.float().cpu().numpy()[run]
        entry, leave = edge_costs(pool, candidates, run, heard, self.edge_cost)
        sources = unit_path(target, pool, candidates, self.jump_cost, entry, leave)
        known = np.where(ctx.known, ctx.window, 0.0)  # never a sample from inside a gap
        hop_frames = hop * sr / mel_rate
        offsets = None
        if self.align_ms > 0:
            gap = (ctx.gap_start, ctx.gap_end)
            reach = int(self.align_ms / 1000 * sr)
            offsets = edge_offsets(known, ctx.known, run, sources, hop_frames, gap, reach)
        copied = copy_frames(known, run, sources, hop_frames, offsets)
        copied = level_match(copied, known, ~ctx.known, (ctx.gap_start, ctx.gap_end), sr)
        stretches = 1 + int(np.count_nonzero(np.diff(sources) != 1))
        note = f"exemplar on {self.device.type}: {stretches} stretch(es) of context"
        return copied[:, ctx.span], note


def _heard_run(heard: np.ndarray, gap_start: int, gap_end: int, hop_frames: float) -> np.ndarray:
    """The frames to replace: the run of heard frames around this gap (another region in the
    window has its own run), i.e. every frame whose analysis window hears this gap."""
    centres = (np.arange(heard.size) + 0.5) * hop_frames
    inside = np.flatnonzero(heard & (centres >= gap_start) & (centres < gap_end))
    if inside.size == 0:
        inside = np.flatnonzero(heard & (np.abs(centres - (gap_start + gap_end) / 2) <= hop_frames))
    if inside.size == 0:
        return inside
    lo, hi = int(inside[0]), int(inside[-1])
    while lo > 0 and heard[lo - 1]:
        lo -= 1
    while hi + 1 < heard.size and heard[hi + 1]:
        hi += 1
    return np.arange(lo, hi + 1)


class ShippedExemplar(Exemplar):
    """The exemplar method driven by the mel predictor that ships with voicemend."""

    def __init__(self, device: str = "auto") -> None:
        from voicemend.engine.models.shipped import verified_folder

        super().__init__(MelTransformer.from_pretrained(verified_folder("mel")), device=device)
