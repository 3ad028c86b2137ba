"""Global-variance post-filter for predicted log-mel frames.

A predictor trained with an L1/L2 loss predicts the middle of what might follow the context, so
the longer the gap the flatter its frames: a held vowel that the vocoder voices as a steady hum,
which listeners (and PLCMOS) mark down. Statistical speech synthesis met the same over-smoothing
and answered it with global-variance compensation (Toda & Tokuda, 2007): scale each parameter
track's spread back up to what natural speech has. Here the reference is the recording itself:
per mel band, the spread of the predicted frames around the straight line across the gap is
scaled towards the spread of the context's own frames over time. The line meets the context at
both edges, so the frames beside the gap (and the joins) stay where the predictor put them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from voicemend.engine.models.mel_transformer import interpolate_gaps


@dataclass(frozen=True)
class GlobalVarianceConfig:
    """``strength`` 1 matches the context's spread, 0 leaves the prediction as it is; the
    scale never goes below 1 (a lively prediction is not flattened) or above ``max_scale``."""

    strength: float = 1.0
    max_scale: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 4.0:
            raise ValueError(f"global-variance strength must be 0 to 4, not {self.strength}")
        if not self.max_scale >= 1.0:
            raise ValueError(f"global-variance max_scale must be at least 1, not {self.max_scale}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def global_variance(
    log_mel: torch.Tensor, gap: torch.Tensor, config: GlobalVarianceConfig
) -> torch.Tensor:
    """``log_mel`` (B, n_mels, F) with its ``gap`` frames (B, F) bool given back the spread over
    time of the context's frames; frames outside the gap are returned unchanged. Examples with
    no context frames or no gap frames are left alone. Computed in float32."""
    if config.strength == 0.0:
        return log_mel
    x = log_mel.float()
    hidden = gap[:, None, :]
    seen = (~hidden).float()
    unseen = hidden.float()
    n_seen = seen.sum(-1, keepdim=True)
    n_unseen = unseen.sum(-1, keepdim=True).clamp(min=1.0)
    mean = (x * seen).sum(-1, keepdim=True) / n_seen.clamp(min=1.0)
    context_spread = (((x - mean) ** 2 * seen).sum(-1, keepdim=True) / n_seen.clamp(min=1.0)).sqrt()
    line = interpolate_gaps(x, gap)
    spread = (((x - line) ** 2 * unseen).sum(-1, keepdim=True) / n_unseen).sqrt()
    scale = (context_spread / spread.clamp(min=1e-6)).clamp(1.0, config.max_scale)
    scale = torch.where(n_seen > 1, scale, torch.ones_like(scale)) ** config.strength
    # x + (scale - 1)(x - line) rather than line + scale (x - line): exact where the scale is 1
    out = torch.where(hidden, x + (x - line) * (scale - 1.0), x)
    return out.to(log_mel.dtype)
