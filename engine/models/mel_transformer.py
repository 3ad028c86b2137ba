"""A mel-domain transformer inpainter: voicemend's own configuration beside the paper's I_FT.

I_FT reads the masked *waveform* through a HuBERT front end whose GroupNorm throws away the
absolute level, so on two CPU cores it learns little beyond the level-free shape of the gap.
This model reads the context's own log-mel frames instead. The gap's frames start as the straight
line (in log-mel) between the last and first visible frames, and the transformer predicts the
correction to that line, so training starts from interpolation and only has to learn what
speech does beyond it. The frozen decoder voices the result, exactly as in I_FT.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from voicemend.engine.models.checkpoint import WEIGHTS_NAME, load_config, load_weights, save_state
from voicemend.engine.models.mel import MelConfig


@dataclass(frozen=True)
class MelTransformerConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    d_model: int = 256
    num_layers: int = 6
    num_heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.1
    frames_per_token: int = 2  # 20 ms tokens: half the sequence, a quarter of the attention
    input_kernel: int = 5
    pos_kernel: int = 31  # convolutional position embedding (wav2vec 2.0), any length works
    pos_groups: int = 16
    level_scale: float = 4.0  # log-mel units per network unit, after the level is removed

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "mel_transformer", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelTransformerConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("mel"), dict):
            known["mel"] = MelConfig.from_dict(known["mel"])
        return cls(**known)


MODEL_SIZES: dict[str, dict[str, int]] = {
    "small": {"d_model": 256, "num_layers": 6, "num_heads": 4, "ff_dim": 1024},
    "base": {"d_model": 384, "num_layers": 8, "num_heads": 6, "ff_dim": 1536},
    "large": {"d_model": 512, "num_layers": 12, "num_heads": 8, "ff_dim": 2048},
}


def sized_config(size: str) -> MelTransformerConfig:
    """A named model size: ``small`` (5.1 M parameters) trains on two CPU cores; ``base``
    (14.9 M, the shipped one, trained on a GPU) and ``large`` (38.8 M) are for a GPU: ``small``
    was not over-fitting its data but learning slowly."""
    if size not in MODEL_SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {', '.join(MODEL_SIZES)}")
    return MelTransformerConfig(**MODEL_SIZES[size])


class MelTransformer(nn.Module):
    """(log-mel (B, n_mels, F), gap (B, F) bool) -> log-mel with the gap's frames predicted.

    Visible frames pass through unchanged, so only the gap's frames ever differ from the input.
    """

    def __init__(self, config: MelTransformerConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MelTransformerConfig()
        k = c.frames_per_token
        self.inp = nn.Conv1d(
            (c.mel.n_mels + 1) * k, c.d_model, c.input_kernel, padding=c.input_kernel // 2
        )
        self.pos_conv = nn.Conv1d(
            c.d_model, c.d_model, c.pos_kernel, padding=c.pos_kernel // 2, groups=c.pos_groups
        )
        layer = nn.TransformerEncoderLayer(
            c.d_model,
            c.num_heads,
            c.ff_dim,
            c.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, c.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.out = nn.Linear(c.d_model, c.mel.n_mels * k)
        nn.init.zeros_(self.out.weight)  # start exactly at the interpolation
        nn.init.zeros_(self.out.bias)

    @classmethod
    def from_config(cls, config: MelTransformerConfig) -> MelTransformer:
        return cls(config)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MelTransformer:
        model = cls(MelTransformerConfig.from_dict(load_config(folder)))
        model.load_state_dict(load_weights(Path(folder) / WEIGHTS_NAME))
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())

    def forward(self, log_mel: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
        c = self.config
        hidden = gap[:, None, :]
        level = context_level(log_mel, gap)
        line = interpolate_gaps(log_mel, gap)
        x = (line - level[:, None, None]) / c.level_scale
        x = torch.cat([x, hidden.to(x.dtype)], dim=1)  # (B, n_mels + 1, F)
        b, ch, n = x.shape
        k = c.frames_per_token
        tokens = -(-n // k)
        x = nn.functional.pad(x, (0, tokens * k - n), mode="replicate")
        x = x.view(b, ch, tokens, k).permute(0, 1, 3, 2).reshape(b, ch * k, tokens)
        h = self.inp(x)
        h = h + nn.functional.gelu(self.pos_conv(h))
        h = self.transformer(h.transpose(1, 2))  # (B, tokens, d)
        out = self.out(self.norm(h)).view(b, tokens, k, -1)  # (B, tokens, k, n_mels)
        correction = out.reshape(b, tokens * k, -1).transpose(1, 2)[..., :n] * c.level_scale
        return torch.where(hidden, line + correction, log_mel)


def context_level(log_mel: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
    """The mean log-mel of the visible frames, per example: (B, n_mels, F), (B, F) -> (B,).
    Models take it out so that they see the shape of speech, not its recording level."""
    visible = (~gap).float()
    n_visible = (visible.sum(-1) * log_mel.shape[1]).clamp(min=1)
    return (log_mel * visible[:, None, :]).sum((1, 2)) / n_visible


def interpolate_gaps(log_mel: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
    """Each run of gap frames replaced by the straight line between its visible neighbours
    (held flat where the run touches an end). (B, n_mels, F), (B, F) bool -> (B, n_mels, F)."""
    b, _, n = log_mel.shape
    idx = torch.arange(n, device=log_mel.device).expand(b, n)
    visible = ~gap
    prev = torch.where(visible, idx, torch.full_like(idx, -1)).cummax(-1).values
    nxt = torch.where(visible, idx, torch.full_like(idx, n)).flip(-1).cummin(-1).values.flip(-1)
    no_prev, no_next = prev < 0, nxt >= n
    prev = torch.where(no_prev, nxt, prev).clamp(0, n - 1)
    nxt = torch.where(no_next, prev, nxt).clamp(0, n - 1)
    span = (nxt - prev).clamp(min=1).to(log_mel.dtype)
    w = ((idx - prev).to(log_mel.dtype) / span).clamp(0, 1)[:, None, :]
    left = torch.gather(log_mel, 2, prev[:, None, :].expand_as(log_mel))
    right = torch.gather(log_mel, 2, nxt[:, None, :].expand_as(log_mel))
    line = (1 - w) * left + w * right
    return torch.where(gap[:, None, :], line, log_mel)
