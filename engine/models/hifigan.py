"""HiFi-GAN generator (Kong et al. 2020) with the V1/V2/V3 configurations of the reference code.

Checkpoints in the original jik876 format load directly: ``{"generator": state_dict}`` saved by
``torch.save`` (read here with ``weights_only=True``) next to its ``config.json``. Their old-style
weight-norm tensors (``weight_g``/``weight_v``) are mapped onto torch's parametrisations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from voicemend.engine.models.checkpoint import CheckpointError, load_weights, save_state

LRELU_SLOPE = 0.1


@dataclass(frozen=True)
class HifiGanConfig:
    resblock: str = "1"
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    num_mels: int = 80
    sampling_rate: int = 22_050
    hop_size: int = 256
    n_fft: int = 1024
    win_size: int = 1024
    fmin: float = 0.0
    fmax: float = 8000.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def hop_length(self) -> int:
        product = 1
        for r in self.upsample_rates:
            product *= r
        return product

    @classmethod
    def v1(cls) -> HifiGanConfig:
        return cls()

    @classmethod
    def v2(cls) -> HifiGanConfig:
        return cls(upsample_initial_channel=128)

    @classmethod
    def v3(cls) -> HifiGanConfig:
        return cls(
            resblock="2",
            upsample_rates=(8, 8, 4),
            upsample_kernel_sizes=(16, 16, 8),
            upsample_initial_channel=256,
            resblock_kernel_sizes=(3, 5, 7),
            resblock_dilation_sizes=((1, 2), (2, 6), (3, 12)),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HifiGanConfig:
        """From a jik876 ``config.json`` (unknown keys such as learning rates are kept aside)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "extra"}
        for key in ("upsample_rates", "upsample_kernel_sizes", "resblock_kernel_sizes"):
            if key in known:
                known[key] = tuple(known[key])
        if "resblock_dilation_sizes" in known:
            known["resblock_dilation_sizes"] = tuple(
                tuple(d) for d in known["resblock_dilation_sizes"]
            )
        if "resblock" in known:
            known["resblock"] = str(known["resblock"])
        extra = {k: v for k, v in data.items() if k not in cls.__dataclass_fields__}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {"model_type": "hifigan", **extra, **data}


def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(
                nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d))
            )
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, 1, padding=_padding(kernel)))
            for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = xt + x
        return x


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            weight_norm(
                nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d))
            )
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = c(F.leaky_relu(x, LRELU_SLOPE)) + x
        return x


class HifiGanGenerator(nn.Module):
    """mel (B, num_mels, frames) -> waveform (B, frames * hop_length)."""

    def __init__(self, config: HifiGanConfig | None = None) -> None:
        super().__init__()
        self.config = h = config or HifiGanConfig()
        self.num_kernels = len(h.resblock_kernel_sizes)
        self.conv_pre = weight_norm(
            nn.Conv1d(h.num_mels, h.upsample_initial_channel, 7, 1, padding=3)
        )
        block = ResBlock1 if h.resblock == "1" else ResBlock2
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(h.upsample_rates, h.upsample_kernel_sizes, strict=True)):
            self.ups.append(
                weight_norm(
                    nn.ConvTranspose1d(
                        h.upsample_initial_channel // 2**i,
                        h.upsample_initial_channel // 2 ** (i + 1),
                        k,
                        u,
                        padding=(k - u) // 2,
                    )
                )
            )
        self.resblocks = nn.ModuleList()
        ch = h.upsample_initial_channel
        for i in range(len(self.ups)):
            ch = h.upsample_initial_channel // 2 ** (i + 1)
            for k, d in zip(h.resblock_kernel_sizes, h.resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(ch, k, tuple(d)))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))

    @classmethod
    def from_config(cls, config: HifiGanConfig) -> HifiGanGenerator:
        return cls(config)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = sum(self.resblocks[i * self.num_kernels + j](x) for j in range(self.num_kernels))
            x = xs / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x).squeeze(1)

    def remove_weight_norm(self) -> HifiGanGenerator:
        """Fold the weight-norm parametrisations into plain weights for faster inference."""
        for module in self.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        return self

    def load_jik876_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load a state dict with old-style ``weight_g``/``weight_v`` names (or new ones)."""
        mapped = {}
        for key, value in state.items():
            if key.endswith(".weight_g"):
                key = key[: -len(".weight_g")] + ".parametrizations.weight.original0"
            elif key.endswith(".weight_v"):
                key = key[: -len(".weight_v")] + ".parametrizations.weight.original1"
            mapped[key] = value
        missing, unexpected = self.load_state_dict(mapped, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"HiFi-GAN checkpoint does not match its config: missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}"
            )

    @classmethod
    def from_pretrained(
        cls, path: str | Path, config_path: str | Path | None = None
    ) -> HifiGanGenerator:
        """From a voicemend folder (config.json + model.safetensors) or a jik876 ``g_XXXXXXXX``
        file with its ``config.json`` (beside it, or named by ``config_path``)."""
        p = Path(path)
        weights = p / "model.safetensors" if p.is_dir() else p
        cfg_file = (
            Path(config_path) if config_path else (p if p.is_dir() else p.parent) / "config.json"
        )
        if not cfg_file.exists():
            raise CheckpointError(
                f"{cfg_file} is missing: a HiFi-GAN checkpoint needs its config.json"
            )
        config = HifiGanConfig.from_dict(json.loads(cfg_file.read_text(encoding="utf-8")))
        state = load_weights(weights)
        if "generator" in state and isinstance(state["generator"], dict):
            state = state["generator"]
        model = cls(config)
        model.load_jik876_state(state)
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())
