"""``hybrid``: one method's fill below a crossover frequency, another's above it.

LSAR's fill of a long gap keeps the voice's pitch and first formant but goes dull up high: its
AR model, fitted to speech whose energy sits under 1 kHz, lets the weak upper harmonics and
fricative noise die away across the gap. The mel predictor's fill has the right spectral shape up
high, but its low band (the pitch and the first formant, voiced by the decoder) sounds buzzy. On
100 train-split cases per length (``bench/results/fill-variants``: ``band-split``, ``lsar-low``,
``crossover``), LSAR under 700 Hz with neural-mel above raised PLCMOS over LSAR by 0.02-0.05 and
PESQ-WB by 0.05-0.11 at 200-400 ms. A higher crossover gains PLCMOS and loses PESQ (at 3 kHz:
+0.09-0.12 and +0.005-0.025), a lower one the reverse; the opposite split, and pitch repetition in
either band, lost on both.

The two fills are each made as their methods make them (LSAR from its own context window, the
neural one batched), pasted into copies of the window, and split there by a zero-phase
Butterworth crossover whose two halves sum to the input, so that near the gap's edges, where both
fills meet the context, the split returns the context. Only the gap ± crossfade is pasted back.

Above 24 kHz the shipped pair's LSAR stops at its 16 kHz iterations (``full_rate_iterations=0``):
its two passes at the full rate fit an AR model capped at 512 frames (10.7 ms at 48 kHz, under
one pitch period of a low voice) and add nothing under 700 Hz but that shorter memory. On 60 dev
excerpts at 48 kHz stereo (a 200 and a 400 ms gap each, scored at 16 kHz), the 16 kHz fill
raised PESQ-WB by 0.071 ± 0.049 and 0.057 ± 0.043 and PLCMOS by 0.053 ± 0.018 and 0.079 ± 0.033
over the full-rate one, and took the repair from 0.45 to 0.33 s and 1.40 to 0.43 s
(``bench/results/hybrid-48k``). At 16 kHz, where the quality bench runs, nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
from scipy.signal import butter, sosfiltfilt

from voicemend.engine.crossfade import paste
from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.lsar import Lsar, LsarSettings

CROSSOVER_HZ = 700.0
CROSSOVER_ORDER = 4


class Crossover(Inpainter):
    """``low``'s fill under ``crossover_hz``, ``high``'s above it (see the module's notes)."""

    name = "hybrid"
    uses_torch_device = True

    def __init__(self, low: Inpainter, high: Inpainter, crossover_hz: float = CROSSOVER_HZ) -> None:
        if not crossover_hz > 0:
            raise ValueError(f"the crossover must be above 0 Hz, not {crossover_hz}")
        self.low, self.high = low, high
        self.crossover_hz = float(crossover_hz)
        self.max_batch = high.max_batch

    def context_frames(self, gap_frames: int, sample_rate: int) -> tuple[int, int]:
        """Enough for both methods; each is given its own share of the window."""
        wants = [
            either_side(m.context_frames(gap_frames, sample_rate)) for m in (self.low, self.high)
        ]
        return max(w[0] for w in wants), max(w[1] for w in wants)

    def crossfade_frames(self, gap_frames: int, sample_rate: int) -> int:
        return self.high.crossfade_frames(gap_frames, sample_rate)

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return self.fill_many([ctx])[0]

    def fill_many(self, contexts: Sequence[GapContext]) -> list[tuple[np.ndarray, str]]:
        sos = self._filter(contexts[0].sample_rate)  # a batch shares one rate
        out = []
        for ctx, (low_full, high_full, low_note, high_note) in zip(
            contexts, self.component_windows(contexts), strict=True
        ):
            mixed = band_split(low_full, high_full, sos)
            note = f"{self.low.name} below {self.crossover_hz:g} Hz ({low_note}), "
            note += f"{self.high.name} above ({high_note})"
            out.append((mixed[:, ctx.span], note))
        return out

    def component_windows(
        self, contexts: Sequence[GapContext]
    ) -> list[tuple[np.ndarray, np.ndarray, str, str]]:
        """Per context: its whole window with ``low``'s fill pasted in, the same with ``high``'s,
        and the two methods' notes."""
        high_contexts = [self._crop(ctx, self.high, keep_fades=True) for ctx in contexts]
        low_contexts = [self._crop(ctx, self.low, keep_fades=False) for ctx in contexts]
        # The two methods share nothing, so the high one (a network, on the GPU where there is
        # one) runs beside the low one (numpy on the CPU).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self.high.fill_many, high_contexts)
            lows = [self.low.fill(c) for c in low_contexts]
            highs = pending.result()
        return [
            (pasted(ctx, lc, low_fill), pasted(ctx, hc, high_fill), low_note, high_note)
            for ctx, lc, hc, (low_fill, low_note), (high_fill, high_note) in zip(
                contexts, low_contexts, high_contexts, lows, highs, strict=True
            )
        ]

    def _filter(self, sample_rate: int) -> np.ndarray | None:
        return crossover_filter(self.crossover_hz, sample_rate)

    @staticmethod
    def _crop(ctx: GapContext, method: Inpainter, keep_fades: bool) -> GapContext:
        """The part of ``ctx``'s window that ``method`` asks for around the gap, with ``ctx``'s
        crossfades or none (the gap alone)."""
        before, after = either_side(method.context_frames(ctx.gap_frames, ctx.sample_rate))
        lo = max(0, ctx.gap_start - before)
        hi = min(ctx.window.shape[1], ctx.gap_end + after)
        return replace(
            ctx,
            window=ctx.window[:, lo:hi],
            known=ctx.known[lo:hi],
            gap_start=ctx.gap_start - lo,
            gap_end=ctx.gap_end - lo,
            fade_left=ctx.fade_left if keep_fades else 0,
            fade_right=ctx.fade_right if keep_fades else 0,
            window_start=ctx.window_start + lo,
        )


def crossover_filter(crossover_hz: float, sample_rate: int) -> np.ndarray | None:
    """The low-pass half of the crossover (second-order sections); None where ``crossover_hz``
    is above the band ``sample_rate`` holds."""
    if crossover_hz >= 0.45 * sample_rate:
        return None
    return butter(CROSSOVER_ORDER, crossover_hz, btype="low", fs=sample_rate, output="sos")


def band_split(low_full: np.ndarray, high_full: np.ndarray, sos: np.ndarray | None) -> np.ndarray:
    """``low_full`` under the crossover ``sos`` and ``high_full`` above it (zero-phase, so the two
    halves of one signal sum back to it); all ``low_full`` without a filter."""
    if sos is None:
        return low_full
    return sosfiltfilt(sos, low_full, axis=-1) + (high_full - sosfiltfilt(sos, high_full, axis=-1))


def either_side(want: int | tuple[int, int]) -> tuple[int, int]:
    """A method's context want as (before, after): one number means both."""
    return want if isinstance(want, tuple) else (want, want)


def pasted(ctx: GapContext, sub: GapContext, fill: np.ndarray) -> np.ndarray:
    """``ctx``'s whole window with ``fill`` (made for the cropped ``sub``) pasted in as the
    engine pastes it, crossfade included."""
    full = ctx.window.copy()
    paste(full, fill, ctx.gap_start, ctx.gap_end, sub.fade_left, sub.fade_right)
    return full


class ShippedHybrid(Crossover):
    """LSAR under 700 Hz and the shipped mel predictor and decoder (``neural-mel``) above."""

    def __init__(self, device: str = "auto") -> None:
        from voicemend.engine.inpaint.neural import ShippedNeuralMel

        low = Lsar(LsarSettings(full_rate_iterations=0))  # see the module's notes
        super().__init__(low, ShippedNeuralMel(device=device))
