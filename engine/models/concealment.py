"""A small frame classifier that hears where a call's decoder concealed lost packets.

A VoIP decoder fills a lost packet by repeating the last pitch period through a frozen
spectral envelope, fading as the loss goes on. Ears catch it as a buzz or a smear; the
detector's level rules do not, since nothing drops to silence. This network reads log-mel
frames (10 ms) and gives each the log-odds that a decoder made it up. It is a stack of dilated
1-D convolutions, about 0.3 s of context each side, small enough to scan an hour on a CPU in
seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from voicemend.engine.models.checkpoint import WEIGHTS_NAME, load_config, load_weights, save_state
from voicemend.engine.models.mel import LogMel, MelConfig

# log-mel of speech at -20 dBFS sits around -2; the network sees it centred and scaled
LEVEL_OFFSET = 4.0
LEVEL_SCALE = 4.0


@dataclass(frozen=True)
class ConcealmentNetConfig:
    mel: MelConfig = field(default_factory=MelConfig)
    channels: int = 64
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "concealment_net", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConcealmentNetConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("mel"), dict):
            known["mel"] = MelConfig.from_dict(known["mel"])
        if "dilations" in known:
            known["dilations"] = tuple(int(d) for d in known["dilations"])
        return cls(**known)

    @property
    def reach_frames(self) -> int:
        """How many frames either side one output hears."""
        return (self.kernel // 2) * (1 + sum(self.dilations))


class _Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        pad = dilation * (kernel // 2)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.norm = nn.GroupNorm(1, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(nn.functional.gelu(self.norm(self.conv(x))))


class ConcealmentNet(nn.Module):
    """waveform (B, T) at ``config.mel.sample_rate`` -> per-frame log-odds (B, frames) that
    the frame was concealed by a decoder."""

    def __init__(self, config: ConcealmentNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ConcealmentNetConfig()
        self.mel = LogMel(c.mel)
        # the frame-to-frame change is the clue (a concealed spectrum barely moves), so the
        # network gets it beside the frames themselves
        self.inp = nn.Conv1d(2 * c.mel.n_mels, c.channels, c.kernel, padding=c.kernel // 2)
        self.blocks = nn.ModuleList(_Block(c.channels, c.kernel, d) for d in c.dilations)
        self.out = nn.Conv1d(c.channels, 1, 1)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> ConcealmentNet:
        model = cls(ConcealmentNetConfig.from_dict(load_config(folder)))
        model.load_state_dict(load_weights(Path(folder) / WEIGHTS_NAME))
        return model.eval()

    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())

    def frames(self, n_samples: int) -> int:
        return self.mel.n_frames(n_samples)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        log_mel = self.mel(wave)[..., : self.frames(wave.shape[-1])]
        x = (log_mel + LEVEL_OFFSET) / LEVEL_SCALE
        delta = torch.diff(x, dim=-1, prepend=x[..., :1])
        h = self.inp(torch.cat([x, delta], dim=1))
        for block in self.blocks:
            h = block(h)
        return self.out(h)[:, 0]
