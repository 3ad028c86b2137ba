"""I_FT: a HuBERT-architecture encoder fine-tuned to predict the decoder's input (log-mel frames).

The waveform enters with the gap zeroed and the gap's encoder frames replaced by the learned mask
embedding; a LayerNorm + Linear head turns every 20 ms encoder frame into the two 10 ms mel frames
the decoder expects (as in the paper's I_FT, whose head is LayerNorm + Linear(1024 → 80)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from voicemend.engine.models.checkpoint import WEIGHTS_NAME, load_config, load_weights, save_state
from voicemend.engine.models.hubert import HubertConfig, HubertEncoder
from voicemend.engine.models.mel import MelConfig


def small_encoder_config() -> HubertConfig:
    """Sized to train on two CPU cores: 6 layers of 256, a 128-channel waveform front end."""
    return HubertConfig(
        hidden_size=256,
        num_hidden_layers=6,
        num_attention_heads=4,
        intermediate_size=1024,
        conv_dim=(128,) * 7,
        num_conv_pos_embeddings=64,
        num_conv_pos_embedding_groups=16,
    )


@dataclass(frozen=True)
class MelInpainterConfig:
    encoder: HubertConfig = field(default_factory=small_encoder_config)
    mel: MelConfig = field(default_factory=MelConfig)

    @property
    def mel_per_frame(self) -> int:
        return self.encoder.frame_stride // self.mel.hop_length

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_type": "mel_inpainter",
            "encoder": self.encoder.to_dict(),
            "mel": asdict(self.mel),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelInpainterConfig:
        return cls(
            encoder=HubertConfig.from_dict(data["encoder"]), mel=MelConfig.from_dict(data["mel"])
        )


class MelInpainter(nn.Module):
    """(wave (B, T), gap zeroed; frame mask (B, frames)) -> log-mel (B, n_mels, 2·frames)."""

    def __init__(self, config: MelInpainterConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MelInpainterConfig()
        if c.encoder.frame_stride % c.mel.hop_length:
            raise ValueError("the encoder frame stride must be a multiple of the mel hop")
        self.encoder = HubertEncoder(c.encoder)
        self.head_norm = nn.LayerNorm(c.encoder.hidden_size)
        self.head = nn.Linear(c.encoder.hidden_size, c.mel.n_mels * c.mel_per_frame)

    @classmethod
    def from_config(cls, config: MelInpainterConfig) -> MelInpainter:
        return cls(config)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> MelInpainter:
        model = cls(MelInpainterConfig.from_dict(load_config(folder)))
        model.load_state_dict(load_weights(Path(folder) / WEIGHTS_NAME))
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())

    def frame_mask(self, gap_mask: torch.Tensor) -> torch.Tensor:
        """Encoder frames whose receptive field touches a masked sample: (B, T) -> (B, frames)."""
        return receptive_frame_mask(self.encoder, gap_mask)

    def forward(self, wave: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder(wave, frame_mask)
        out = self.head(self.head_norm(h))  # (B, frames, n_mels * k)
        b, t, _ = out.shape
        k, n_mels = self.config.mel_per_frame, self.config.mel.n_mels
        return out.view(b, t, k, n_mels).reshape(b, t * k, n_mels).transpose(1, 2)


def mel_gap_frames(
    gap: torch.Tensor, n_frames: int, hop: int, reach: int | None = None
) -> torch.Tensor:
    """Mel frames whose centre lies within ``reach`` samples (default one hop) of a masked
    sample: (B, T) -> (B, n_frames). With ``reach`` = half the analysis window these are all
    the frames whose window hears the gap."""
    reach = hop if reach is None else reach
    centres = torch.arange(n_frames, device=gap.device) * hop + hop // 2
    csum = torch.nn.functional.pad(gap.float().cumsum(-1), (1, 0))
    lo = torch.clamp(centres - reach, 0, gap.shape[-1])
    hi = torch.clamp(centres + reach, 0, gap.shape[-1])
    return (csum[:, hi] - csum[:, lo]) > 0


def heard_frames(gap: torch.Tensor, n_frames: int, mel: MelConfig) -> torch.Tensor:
    """Mel frames whose analysis window hears a gap sample: (B, T) -> (B, n_frames). These are
    the frames a mel inpainter must predict, in training and at inference alike."""
    return mel_gap_frames(gap, n_frames, mel.hop_length, reach=mel.win_length // 2)


def receptive_frame_mask(encoder: HubertEncoder, gap_mask: torch.Tensor) -> torch.Tensor:
    """Encoder frames whose receptive field touches a masked sample: (B, T) -> (B, frames)."""
    c = encoder.config
    n = encoder.n_frames(gap_mask.shape[-1])
    field_len = c.conv_kernel[0] + sum(
        (k - 1) * _prod(c.conv_stride[:i]) for i, k in enumerate(c.conv_kernel) if i > 0
    )
    starts = torch.arange(n, device=gap_mask.device) * c.frame_stride
    csum = torch.nn.functional.pad(gap_mask.float().cumsum(-1), (1, 0))
    ends = torch.clamp(starts + field_len, max=gap_mask.shape[-1])
    return (csum[:, ends] - csum[:, starts]) > 0


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out
