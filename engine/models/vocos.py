"""A Vocos-style decoder: ConvNeXt blocks at frame rate and an inverse-STFT head.

Everything runs at the frame rate (100 Hz), so it trains far faster on a CPU than a HiFi-GAN,
whose layers run at the sample rate (Siuzdak, "Vocos", 2023).
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
class VocosConfig:
    input_channels: int = 80
    dim: int = 256
    intermediate_dim: int = 768
    num_layers: int = 6
    kernel_size: int = 7
    n_fft: int = 640
    hop_length: int = 160
    mel: MelConfig = field(default_factory=MelConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "vocos", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VocosConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("mel"), dict):
            known["mel"] = MelConfig.from_dict(known["mel"])
        return cls(**known)


class ConvNeXtBlock(nn.Module):
    def __init__(
        self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        x = self.dwconv(x).transpose(1, 2)
        x = self.pwconv2(self.act(self.pwconv1(self.norm(x))))
        return residual + (self.gamma * x).transpose(1, 2)


class VocosDecoder(nn.Module):
    """features (B, C, frames) -> waveform (B, frames * hop_length)."""

    def __init__(self, config: VocosConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VocosConfig()
        self.embed = nn.Conv1d(c.input_channels, c.dim, c.kernel_size, padding=c.kernel_size // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        scale = 1.0 / c.num_layers
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c.dim, c.intermediate_dim, c.kernel_size, scale)
            for _ in range(c.num_layers)
        )
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, c.n_fft + 2)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)

    @classmethod
    def from_config(cls, config: VocosConfig) -> VocosDecoder:
        return cls(config)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> VocosDecoder:
        config = VocosConfig.from_dict(load_config(folder))
        model = cls(config)
        model.load_state_dict(load_weights(Path(folder) / WEIGHTS_NAME))
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())

    @property
    def reach_frames(self) -> int:
        """How many frames either side of a frame its audio depends on: the embedding's and
        every block's convolution, plus the frames whose inverse-STFT windows overlap it."""
        c = self.config
        return (c.num_layers + 1) * (c.kernel_size // 2) + -(-c.n_fft // (2 * c.hop_length))

    def forward_span(self, features: torch.Tensor, first: int, stop: int) -> torch.Tensor:
        """Samples ``[first * hop, stop * hop)`` of ``forward(features)`` (the same values up
        to float rounding), computed from only the frames they depend on: a gap's repair needs
        its own audio, not its whole context window's."""
        if not 0 <= first < stop <= features.shape[-1]:
            raise ValueError(f"frames {first}..{stop} are not within 0..{features.shape[-1]}")
        a = max(0, first - self.reach_frames)
        b = min(features.shape[-1], stop + self.reach_frames)
        hop = self.config.hop_length
        return self.forward(features[..., a:b])[..., (first - a) * hop : (stop - a) * hop]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = self.embed(features)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)
        # The spectral head runs in float32 even under fp16 autocast: torch.polar takes no half
        # tensors, and exp() of a log-magnitude overflows half precision.
        with torch.autocast(x.device.type, enabled=False):
            log_mag, phase = x.float().chunk(2, dim=1)
            mag = torch.clamp(torch.exp(log_mag), max=1e2)
            spec = torch.polar(mag, phase)
            return istft_same(spec, c.n_fft, c.hop_length, self.window)


def istft_same(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Inverse STFT with "same" padding: frames * hop samples out (as Vocos does)."""
    pad = (n_fft - hop) // 2
    frames = spec.shape[-1]
    ifft = torch.fft.irfft(spec, n_fft, dim=1, norm="backward") * window[None, :, None]
    out_len = (frames - 1) * hop + n_fft
    y = torch.nn.functional.fold(
        ifft, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop)
    )[:, 0, 0, pad:-pad]
    env = torch.nn.functional.fold(
        (window**2)[None, :, None].expand(1, -1, frames),
        output_size=(1, out_len),
        kernel_size=(1, n_fft),
        stride=(1, hop),
    )[0, 0, 0, pad:-pad]
    return y / torch.clamp(env, min=1e-11)
