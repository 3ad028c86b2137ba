"""Global-variance post-filter for predicted log-mel frames.

A predictor trained with an L1/L2 loss predicts the middle of what might follow the context, so
the longer the gap the flatter its frames: a held vowel that the vocoder voices as a steady hum,
which listeners (and PLCMOS) mark down. Statistical speech synthesis met the same over-smoothing
and answered it with global-variance compensation (Toda & Tokuda, 2007): scale each parameter
track's spread back up to what natural speech has. Here the reference is the recording itself:
per mel band, the spread of the predicted frames around the straight line across the gap is
scaled towards the spread that the context's own frames have around straight lines of the same
length (short gaps hardly stray from a line in real speech either, long ones do). The line meets
the context at both edges, so the frames beside the gap (and the joins) stay where the
predictor put them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from voicemend.engine.models.mel_transformer import interpolate_gaps


@dataclass(frozen=True)
class GlobalVarianceConfig:
    """``strength`` 1 gives the gap the spread the context has around lines of its length, 0
    leaves the prediction as it is; the scale never goes below 1 (a lively prediction is not
    flattened) or above ``max_scale``."""

    strength: float = 1.0
    max_scale: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 4.0:
            raise ValueError(f"global-variance strength must be 0 to 4, not {self.strength}")
        if not self.max_scale >= 1.0:
            raise ValueError(f"global-variance max_scale must be at least 1, not {self.max_scale}")


def global_variance(
    log_mel: torch.Tensor, gap: torch.Tensor, config: GlobalVarianceConfig
) -> torch.Tensor:
    """``log_mel`` (B, n_mels, F) with its ``gap`` frames (B, F) bool given back the spread that
    the recording's own frames have around a straight line of the gap's length; frames outside
    the gap are returned unchanged. Examples with no gap frames, or without a stretch of context
    as long as the gap, are left alone. Computed in float32."""
    if config.strength == 0.0:
        return log_mel
    x = log_mel.float()
    line = interpolate_gaps(x, gap)
    out = x.clone()
    for i in range(x.shape[0]):
        hidden = gap[i]
        n_gap = int(hidden.sum())
        if n_gap == 0:
            continue
        reference = spread_around_lines(x[i], ~hidden, n_gap)
        if reference is None:
            continue
        d = (x[i] - line[i])[:, hidden]
        spread = d.pow(2).mean(-1, keepdim=True).sqrt()
        scale = (reference[:, None] / spread.clamp(min=1e-6)).clamp(1.0, config.max_scale)
        # x + (scale - 1)(x - line) rather than line + scale (x - line): exact where it is 1
        out[i][:, hidden] = x[i][:, hidden] + d * (scale**config.strength - 1.0)
    return out.to(log_mel.dtype)


def spread_around_lines(
    log_mel: torch.Tensor, seen: torch.Tensor, n_frames: int
) -> torch.Tensor | None:
    """Per band, the RMS distance of real frames from the straight line joining the frames
    either side of them, over every run of ``n_frames`` frames whose ``seen`` neighbours and
    itself are all seen: how far speech strays from a line across a gap of this length (short
    gaps little, long ones as far as the speech moves). (n_mels, F), (F,) -> (n_mels,), or None
    where no such run exists."""
    span = n_frames + 2
    if log_mel.shape[-1] < span:
        return None
    windows = log_mel.unfold(-1, span, 1)  # (n_mels, starts, span)
    whole = seen.float().unfold(0, span, 1).amin(-1) > 0
    if not bool(whole.any()):
        return None
    windows = windows[:, whole]
    t = torch.arange(1, span - 1, device=log_mel.device, dtype=log_mel.dtype) / (span - 1)
    first, last = windows[..., :1], windows[..., -1:]
    d = windows[..., 1:-1] - (first + (last - first) * t)
    return d.pow(2).mean((-2, -1)).sqrt()
