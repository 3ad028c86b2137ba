"""Log-mel spectrograms in torch (no torchaudio), with the Slaney mel scale that librosa and
HiFi-GAN use, so features match checkpoints trained with librosa's filterbank."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

LOG_FLOOR = 1e-5


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16_000
    n_fft: int = 1024
    win_length: int = 640
    hop_length: int = 160  # 10 ms at 16 kHz
    n_mels: int = 80
    f_min_hz: float = 0.0
    f_max_hz: float = 8_000.0
    center: bool = True

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MelConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min_hz: float, f_max_hz: float
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised (librosa's default)."""
    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(f_min_hz), _hz_to_mel(f_max_hz), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """waveform (B, T) -> natural-log mel magnitudes (B, n_mels, frames)."""

    def __init__(self, config: MelConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MelConfig()
        fb = mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min_hz, c.f_max_hz)
        self.register_buffer("filterbank", torch.from_numpy(fb), persistent=False)
        self.register_buffer("window", torch.hann_window(c.win_length), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.center:
            pad = (c.n_fft - c.hop_length) // 2
            wave = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            wave,
            c.n_fft,
            c.hop_length,
            c.win_length,
            self.window,
            center=False,
            return_complex=True,
        )
        # float32 even under fp16 autocast: a loud frame's magnitudes overflow half precision.
        with torch.autocast(wave.device.type, enabled=False):
            mag = spec.abs().float()
            return torch.log(torch.clamp(self.filterbank @ mag, min=LOG_FLOOR))

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.config.hop_length
