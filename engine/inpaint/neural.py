"""The neural inpainter (I_FT): the encoder predicts mel frames, the decoder voices them.

Per region: the context window is resampled to the models' 16 kHz, the gap is zeroed and masked,
the encoder predicts the mel frames of the gap (every frame whose window hears it), corrected by
the predictor's own bias measured on the clean frames beside the gap; they replace those frames
in the context's own mel, and the decoder turns that mel into audio. The result is level-matched
to the context, put back at the input rate and, above 8 kHz, completed with noise shaped like the
context's high band so that no spectral hole remains. Only the gap (± crossfade) is pasted back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from voicemend.engine.inpaint.base import GapContext, Inpainter
from voicemend.engine.inpaint.pattern import noise_extension
from voicemend.engine.models.device import resolve_device
from voicemend.engine.models.hubert import HubertEncoder
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import (
    MelInpainter,
    heard_frames,
    receptive_frame_mask,
)
from voicemend.engine.models.mel_transformer import MelTransformer
from voicemend.engine.models.postfilter import GlobalVarianceConfig, global_variance
from voicemend.engine.models.vocos import VocosDecoder
from voicemend.engine.rates import mask_to_rate, to_rate

MODEL_RATE = 16_000
LEVEL_MATCH_MS = 60.0
MAX_LEVEL_CORRECTION = 2.0
HIGH_BAND_HZ = 7_600.0
CALIBRATION_FRAMES = 5  # clean mel frames each side that measure the predictor's local bias
DC_MS = 50.0  # context each side whose mean is the DC the fill continues
HIGH_BAND_LEVEL_MS = 100.0  # context each side whose high band sets the level of the gap's
# Audio voiced either side of a gap's span (gap plus crossfade): the level match reads
# LEVEL_MATCH_MS of it, and the resampler to the input rate a few samples more.
VOICED_MARGIN_MS = LEVEL_MATCH_MS + 20.0
# Windows are a whole number of these: gaps of similar length get windows of one length, which
# go through the network together without padding (10-400 ms dropouts all get 2.5 s windows).
WINDOW_BUCKET_S = 0.5
MAX_BATCH_REGIONS = 16
# On a GPU every new input shape costs a kernel choice (cuDNN, fp16) the first time it is seen:
# a 2-minute podcast's 40 dropouts took 4.1 s cold and 1.0 s warm on an H100, its 16-region
# batches slower than the CPU. So there the batch is padded to a power of two (the last window
# repeated) and the decoded span rounded out to whole buckets of this many frames, which leaves
# few shapes; the CPU, which pays per sample and not per shape, decodes exactly what it needs.
SPAN_BUCKET_FRAMES = 16
# The post-filter setting screened for neural-mel (opt-in: ShippedNeuralMel(postfilter=...)):
# the spread the context has around lines of the gap's length, at most 3x the predicted. On the
# full dev bench it raised PLCMOS by 0.07 / 0.08 / 0.08 at 200 / 300 / 400 ms and lowered PESQ-WB
# by 0.05-0.10 at every length, STOI, SI-SDR and the gap's spectral distance with it
# (bench/results/mel-postfilter-dev), so it is not the default.
MEL_POSTFILTER = GlobalVarianceConfig(strength=1.0, max_scale=3.0)


@dataclass(frozen=True)
class NeuralModels:
    """The two halves of I_FT, loaded once and shared by every region."""

    inpainter: MelInpainter
    decoder: VocosDecoder

    @classmethod
    def from_folders(cls, inpainter_dir: str | Path, decoder_dir: str | Path) -> NeuralModels:
        return cls(
            MelInpainter.from_pretrained(inpainter_dir), VocosDecoder.from_pretrained(decoder_dir)
        )


class NeuralInpainter(Inpainter):
    """What both neural configurations share: context at 16 kHz, masking, level match, paste-back.

    Subclasses turn the masked 16 kHz waveform into a resynthesis of the frames around the
    gaps that are pasted back (the decoder need not voice the rest of the context window).
    """

    uses_torch_device = True
    label = "neural"
    max_batch = MAX_BATCH_REGIONS

    def __init__(
        self,
        modules: list[torch.nn.Module],
        frame_stride: int,
        device: str = "auto",
        context_s: float = 1.0,
    ) -> None:
        self.device = resolve_device(device)
        for module in modules:
            module.to(self.device).eval()
        self.frame_stride = frame_stride
        self.context_s = context_s
        self.shape_buckets = self.device.type != "cpu"

    def context_frames(self, gap_frames: int, sample_rate: int) -> tuple[int, int]:
        """At least ``context_s`` each side; the window rounded up to whole buckets."""
        bucket = int(WINDOW_BUCKET_S * sample_rate)
        least = gap_frames + 2 * int(self.context_s * sample_rate)
        total = -(-least // bucket) * bucket
        before = (total - gap_frames) // 2
        return before, total - gap_frames - before

    def fill(self, ctx: GapContext) -> tuple[np.ndarray, str]:
        return self.fill_many([ctx])[0]

    @torch.inference_mode()
    def fill_many(self, contexts: Sequence[GapContext]) -> list[tuple[np.ndarray, str]]:
        """Every window through the network in one batch (they have one length: see
        :meth:`context_frames`); resampling and level matching per window."""
        lows, unknowns, baselines, spans = [], [], [], []
        for ctx in contexts:
            baselines.append(_baseline(ctx))
            low = to_rate(ctx.window - baselines[-1], ctx.sample_rate, MODEL_RATE)
            unknown16 = mask_to_rate(~ctx.known, ctx.sample_rate, MODEL_RATE, low.shape[1])
            lows.append(low)
            unknowns.append(np.broadcast_to(unknown16, low.shape))
            spans.append(_voiced_span(ctx, low.shape[1]))
        needed = (min(a for a, _ in spans), max(b for _, b in spans))
        voiced_all = self._synthesise(np.concatenate(lows), np.concatenate(unknowns), needed)
        out, row = [], 0
        for ctx, low, unknown, baseline in zip(contexts, lows, unknowns, baselines, strict=True):
            voiced = voiced_all[row : row + low.shape[0]]
            row += low.shape[0]
            out.append(self._finish(ctx, voiced, low, unknown[0], baseline))
        return out

    def _finish(
        self,
        ctx: GapContext,
        voiced: np.ndarray,
        low: np.ndarray,
        unknown16: np.ndarray,
        baseline: np.ndarray,
    ) -> tuple[np.ndarray, str]:
        """Level-match the 16 kHz resynthesis, bring it to the input rate, put the context's
        DC back, add the high band."""
        sr = ctx.sample_rate
        window = ctx.window
        gap16 = (
            int(np.floor(ctx.gap_start * MODEL_RATE / sr)),
            min(low.shape[1], int(np.ceil(ctx.gap_end * MODEL_RATE / sr))),
        )
        voiced = level_match(voiced, low, unknown16, gap16)
        fill = to_rate(voiced, MODEL_RATE, sr, n_out=window.shape[1])
        fill = fill[:, ctx.span] + baseline[:, ctx.span]
        note = f"{self.label} on {self.device.type}"
        if sr > 2 * HIGH_BAND_HZ + 1000:
            fill = fill + _high_band(window, ctx, np.random.default_rng(ctx.seed))
            note += " + high band"
        return fill, note

    def _synthesise(
        self, low: np.ndarray, unknown: np.ndarray, needed: tuple[int, int]
    ) -> np.ndarray:
        """(rows, n) at 16 kHz with ``unknown`` (rows, n) samples -> resynthesised (rows, n),
        voiced over the samples ``needed`` (start, stop) and zero elsewhere."""
        rows, n = low.shape
        padded = int(np.ceil(n / self.frame_stride) * self.frame_stride)
        if self.shape_buckets:
            low, unknown = _pad_rows(low, unknown, 1 << (rows - 1).bit_length())
            bucket = SPAN_BUCKET_FRAMES * self.frame_stride
            needed = (needed[0] // bucket * bucket, min(n, -(-needed[1] // bucket) * bucket))
        wave = torch.zeros((low.shape[0], padded), dtype=torch.float32)
        wave[:, :n] = torch.from_numpy(low.astype(np.float32))
        gap = torch.zeros((low.shape[0], padded), dtype=torch.bool)
        gap[:, :n] = torch.from_numpy(np.ascontiguousarray(unknown))
        wave, gap = wave.to(self.device), gap.to(self.device)
        use_half = self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=use_half):
            audio, first = self._decode(wave.masked_fill(gap, 0.0), gap, needed)
        out = np.zeros((rows, n))
        m = min(n - first, audio.shape[-1])
        out[:, first : first + m] = audio[:rows, :m].float().cpu().numpy()
        return out

    def _decode(
        self, masked: torch.Tensor, gap: torch.Tensor, needed: tuple[int, int]
    ) -> tuple[torch.Tensor, int]:
        """The masked window -> (audio covering at least its samples ``needed``, the sample
        where that audio starts)."""
        raise NotImplementedError


class Neural(NeuralInpainter):
    """I_FT: the fine-tuned encoder predicts the gap's mel frames; a frozen decoder voices them."""

    name = "neural"
    label = "I_FT"

    def __init__(self, models: NeuralModels, device: str = "auto", context_s: float = 1.0) -> None:
        self.models = models
        super().__init__(
            [models.inpainter, models.decoder],
            models.inpainter.config.encoder.frame_stride,
            device,
            context_s,
        )
        self.mel = LogMel(models.inpainter.config.mel).to(self.device)

    def _decode(
        self, masked: torch.Tensor, gap: torch.Tensor, needed: tuple[int, int]
    ) -> tuple[torch.Tensor, int]:
        predicted = self.models.inpainter(masked, self.models.inpainter.frame_mask(gap)).float()
        context_mel = self.mel(masked)
        m = min(predicted.shape[-1], context_mel.shape[-1])
        # Every frame whose analysis window hears the gap comes from the prediction: the
        # context's own mel there is computed over the zeroed gap and would voice a dip.
        frames = heard_frames(gap, context_mel.shape[-1], self.mel.config)
        frames[:, m:] = False
        predicted = _calibrated(
            predicted[..., :m], context_mel[..., :m], frames[:, :m], CALIBRATION_FRAMES
        )
        merged = context_mel.clone()
        merged[..., :m] = torch.where(frames[:, None, :m], predicted, context_mel[..., :m])
        return _voice(self.models.decoder, merged, needed)


class NeuralMel(NeuralInpainter):
    """The mel transformer predicts the gap's mel frames from the context's; a decoder voices
    them (the shipped one was fine-tuned on this predictor's output, since a decoder trained on
    true mel renders the over-smooth prediction as a dull hum). Every frame whose analysis
    window hears the gap is predicted. ``postfilter``: global-variance compensation of the
    predicted frames before they are voiced (None: the prediction as it is)."""

    name = "neural-mel"
    label = "mel transformer"

    def __init__(
        self,
        predictor: MelTransformer,
        decoder: VocosDecoder,
        device: str = "auto",
        context_s: float = 1.0,
        postfilter: GlobalVarianceConfig | None = None,
    ) -> None:
        if predictor.config.mel != decoder.config.mel:
            raise ValueError("the mel predictor and the decoder use different mel settings")
        self.predictor, self.decoder = predictor, decoder
        hop = predictor.config.mel.hop_length
        super().__init__([predictor, decoder], hop, device, context_s)
        self.mel = LogMel(predictor.config.mel).to(self.device)
        self.postfilter = postfilter

    def _decode(
        self, masked: torch.Tensor, gap: torch.Tensor, needed: tuple[int, int]
    ) -> tuple[torch.Tensor, int]:
        context_mel = self.mel(masked)
        hidden = heard_frames(gap, context_mel.shape[-1], self.mel.config)
        predicted = self.predictor(context_mel, hidden)
        if self.postfilter is not None:
            predicted = global_variance(predicted, hidden, self.postfilter)
        return _voice(self.decoder, predicted, needed)


class NeuralIpt(NeuralInpainter):
    """I_PT: the frozen pre-trained encoder reads the masked context; a decoder voices it."""

    name = "neural-ipt"
    label = "I_PT"

    def __init__(
        self,
        encoder: HubertEncoder,
        decoder: VocosDecoder,
        device: str = "auto",
        context_s: float = 1.0,
    ) -> None:
        self.encoder, self.decoder = encoder, decoder
        super().__init__([encoder, decoder], encoder.config.frame_stride, device, context_s)

    def _decode(
        self, masked: torch.Tensor, gap: torch.Tensor, needed: tuple[int, int]
    ) -> tuple[torch.Tensor, int]:
        features = self.encoder(masked, receptive_frame_mask(self.encoder, gap))
        return _voice(self.decoder, features.transpose(1, 2), needed)


def _voice(
    decoder: VocosDecoder, features: torch.Tensor, needed: tuple[int, int]
) -> tuple[torch.Tensor, int]:
    """The decoder's audio for the whole frames that cover the samples ``needed`` (start,
    stop), and the sample where it starts."""
    hop, total = decoder.config.hop_length, features.shape[-1]
    first = min(needed[0] // hop, total - 1)
    stop = max(first + 1, min(-(-needed[1] // hop), total))
    return decoder.forward_span(features, first, stop), first * hop


def _pad_rows(low: np.ndarray, unknown: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The batch grown to ``rows`` by repeating its last window (real audio, so nothing in
    the network meets an input it was not made for); the extra rows' output is dropped."""
    extra = rows - low.shape[0]
    if extra <= 0:
        return low, unknown
    return (
        np.concatenate([low, np.repeat(low[-1:], extra, axis=0)]),
        np.concatenate([unknown, np.repeat(unknown[-1:], extra, axis=0)]),
    )


def _voiced_span(ctx: GapContext, n16: int) -> tuple[int, int]:
    """The 16 kHz samples of the window that this gap's repair reads: its span (gap and
    crossfade) and VOICED_MARGIN_MS either side."""
    margin = int(VOICED_MARGIN_MS / 1000 * MODEL_RATE)
    sr = ctx.sample_rate
    start = int(np.floor(ctx.span.start * MODEL_RATE / sr)) - margin
    stop = int(np.ceil(ctx.span.stop * MODEL_RATE / sr)) + margin
    return max(0, start), min(n16, stop)


def _calibrated(
    predicted: torch.Tensor, context: torch.Tensor, gap: torch.Tensor, n: int
) -> torch.Tensor:
    """The prediction with its own error next to the gap taken out.

    Where the context is clean, the model's prediction and the true mel are both known; their
    per-band difference over ``n`` frames on each side is the model's local bias, and that
    offset, interpolated across the gap, corrects the gap's frames. (B, n_mels, F) tensors,
    ``gap`` (B, F) bool.
    """
    out = predicted.clone()
    for b in range(predicted.shape[0]):
        idx = torch.nonzero(gap[b]).flatten()
        if idx.numel() == 0:
            continue
        g0, g1 = int(idx[0]), int(idx[-1]) + 1
        left = slice(max(0, g0 - n), g0)
        right = slice(g1, min(predicted.shape[-1], g1 + n))
        diff = context[b] - predicted[b]
        have_l, have_r = left.stop > left.start, right.stop > right.start
        if not (have_l or have_r):
            continue
        off_l = diff[:, left].mean(dim=-1) if have_l else diff[:, right].mean(dim=-1)
        off_r = diff[:, right].mean(dim=-1) if have_r else off_l
        w = torch.linspace(0.0, 1.0, g1 - g0, device=predicted.device)
        out[b, :, g0:g1] += (1 - w) * off_l[:, None] + w * off_r[:, None]
    return out


def _edge_runs(unknown: np.ndarray, gap: tuple[int, int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the known samples within ``n`` before and after ``gap`` (start, end). Another
    region not yet repaired may lie in the window; only this gap's edges count."""
    g0, g1 = gap
    left = np.zeros(unknown.size, dtype=bool)
    right = np.zeros(unknown.size, dtype=bool)
    left[max(0, g0 - n) : g0] = True
    right[g1 : g1 + n] = True
    return left & ~unknown, right & ~unknown


def _across_gap(left: np.ndarray, right: np.ndarray, gap: tuple[int, int], n: int) -> np.ndarray:
    """(channels,) values at the two edges -> (channels, n): ``left`` up to the gap, a straight
    line across it, ``right`` after it."""
    g0, g1 = gap
    out = np.repeat(left[:, None], n, axis=1)
    out[:, g1:] = right[:, None]
    w = (np.arange(g1 - g0) + 0.5) / max(g1 - g0, 1)
    out[:, g0:g1] = left[:, None] * (1 - w) + right[:, None] * w
    return out


def _baseline(ctx: GapContext) -> np.ndarray:
    """The context's DC on each side of the gap, joined by a straight line across it.

    The models neither see nor make DC (a vocoder's output has none), so it is taken out of the
    window before them and put back under the fill: an offset then continues through the gap
    instead of stepping at its edges.
    """
    n = int(DC_MS / 1000 * ctx.sample_rate)
    gap = (ctx.gap_start, ctx.gap_end)
    left, right = _edge_runs(~ctx.known, gap, n)
    if not left.any() and not right.any():
        return np.zeros_like(ctx.window)
    left = left if left.any() else right
    right = right if right.any() else left
    at_left = ctx.window[:, left].mean(axis=1)
    at_right = ctx.window[:, right].mean(axis=1)
    return _across_gap(at_left, at_right, gap, ctx.window.shape[1])


def level_match(
    voiced: np.ndarray,
    reference: np.ndarray,
    unknown: np.ndarray,
    gap: tuple[int, int],
    sample_rate: int = MODEL_RATE,
) -> np.ndarray:
    """Scale each channel so the resynthesis matches the original level next to each edge of
    ``gap``; the gain moves in a straight line across it, so a level that differs between the
    two sides (a fader move, a cut between takes) is met at both edges."""
    n = int(LEVEL_MATCH_MS / 1000 * sample_rate)
    left, right = _edge_runs(unknown, gap, n)
    if not left.any() and not right.any():
        return voiced

    def gain(near: np.ndarray) -> np.ndarray:
        ref = np.sqrt(np.mean(reference[:, near] ** 2, axis=1))
        got = np.sqrt(np.mean(voiced[:, near] ** 2, axis=1))
        ratio = np.where((got > 0) & (ref > 0), ref / np.maximum(got, 1e-12), 1.0)
        return np.clip(ratio, 1 / MAX_LEVEL_CORRECTION, MAX_LEVEL_CORRECTION)

    at_left = gain(left if left.any() else right)
    at_right = gain(right if right.any() else left)
    return voiced * _across_gap(at_left, at_right, gap, voiced.shape[1])


def _high_band(window: np.ndarray, ctx: GapContext, rng: np.random.Generator) -> np.ndarray:
    """Noise shaped like the context's band above ~8 kHz on each side of the gap, faded from the
    left edge's to the right edge's across the gap: (channels, span length).

    The shape comes from the 30 ms next to each edge, the level from the nearest 100 ms on that
    side, so the gap's high band meets the energy of the 200 ms around it even where the few
    milliseconds at an edge happen to be quiet. Only that context is filtered, not the window.
    """
    sr = ctx.sample_rate
    sos = butter(8, HIGH_BAND_HZ, btype="highpass", fs=sr, output="sos")
    padlen = 3 * (2 * len(sos) + 1)
    reach = int(HIGH_BAND_LEVEL_MS / 1000 * sr)
    left_run = min(ctx.known_run_before(), reach)
    right_run = min(ctx.known_run_after(), reach)
    n = ctx.span.stop - ctx.span.start
    g0 = ctx.fade_left
    fade = np.zeros(n)
    fade[g0 + ctx.gap_frames :] = 1.0
    fade[g0 : g0 + ctx.gap_frames] = np.linspace(0.0, 1.0, ctx.gap_frames)
    out = np.zeros((window.shape[0], n))

    def extension(side: np.ndarray) -> np.ndarray | None:
        """``side`` runs towards the gap; noise like its end, at its whole level."""
        if side.size <= 16:
            return None
        high = sosfiltfilt(sos, side, padlen=min(padlen, side.size - 1))
        noise = noise_extension(high, n, sr, rng)
        got = float(np.sqrt(np.mean(noise**2)))
        return noise * (float(np.sqrt(np.mean(high**2))) / got) if got > 0 else noise

    for ch in range(window.shape[0]):
        from_left = extension(window[ch, ctx.gap_start - left_run : ctx.gap_start])
        from_right = extension(window[ch, ctx.gap_end : ctx.gap_end + right_run][::-1])
        if from_left is None and from_right is None:
            continue
        from_left = from_left if from_left is not None else from_right
        from_right = from_right if from_right is not None else from_left
        # Equal power: the two noises are independent, so a linear fade would dip 3 dB midway.
        out[ch] = np.cos(0.5 * np.pi * fade) * from_left + np.sin(0.5 * np.pi * fade) * from_right
    return out


class ShippedNeural(Neural):
    """The I_FT models that ship with voicemend (verified by sha256 before use)."""

    def __init__(self, device: str = "auto") -> None:
        from voicemend.engine.models.shipped import verified_folder

        models = NeuralModels.from_folders(verified_folder("ift"), verified_folder("decoder"))
        super().__init__(models, device=device)


class ShippedNeuralMel(NeuralMel):
    """The mel transformer and its decoder that ship with voicemend (verified by sha256 before
    use); the decoder is the I_FT one fine-tuned on the transformer's predictions.
    ``postfilter``: e.g. :data:`MEL_POSTFILTER` (off by default)."""

    def __init__(
        self, device: str = "auto", postfilter: GlobalVarianceConfig | None = None
    ) -> None:
        from voicemend.engine.models.shipped import verified_folder

        predictor = MelTransformer.from_pretrained(verified_folder("mel"))
        decoder = VocosDecoder.from_pretrained(verified_folder("mel-decoder"))
        super().__init__(predictor, decoder, device=device, postfilter=postfilter)


class ShippedNeuralIpt(NeuralIpt):
    """The I_PT models that ship with voicemend (verified by sha256 before use)."""

    def __init__(self, device: str = "auto") -> None:
        from voicemend.engine.models.shipped import verified_folder

        encoder = HubertEncoder.from_pretrained(verified_folder("ipt-encoder"))
        decoder = VocosDecoder.from_pretrained(verified_folder("ipt-decoder"))
        super().__init__(encoder, decoder, device=device)
