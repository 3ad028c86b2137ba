"""Multi-resolution spectrogram discriminator (as in UnivNet/Vocos) for decoder training."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from voicemend.engine.models.mel_transformer import context_level

RESOLUTIONS = ((1024, 256, 1024), (512, 128, 512), (256, 64, 256))


class SpectrogramDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, win: int, channels: int = 32) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (7, 5), padding=(3, 2))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), stride=(2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), stride=(2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), stride=(2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, 3, padding=1)),
            ]
        )
        self.out = weight_norm(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wave, self.n_fft, self.hop, self.win, self.window, return_complex=True)
        x = torch.log1p(spec.abs()).unsqueeze(1)  # (B, 1, freq, frames)
        feats = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), 0.1)
            feats.append(x)
        return self.out(x), feats


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, resolutions: Sequence[tuple[int, int, int]] = RESOLUTIONS) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(*r) for r in resolutions)

    def forward(self, wave: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        scores, feats = [], []
        for d in self.discriminators:
            s, f = d(wave)
            scores.append(s)
            feats.append(f)
        return scores, feats


class MelPatchDiscriminator(nn.Module):
    """Judges log-mel frames around a gap: (level-free log-mel, gap mask) -> a score per frame.

    The mel predictor's L1 loss settles on the mean of what could fill a long gap, which sounds
    smooth and buzzy; this critic gives it a reason to produce speech-like detail instead. It
    sees the gap mask so it knows which frames are in question; real and predicted inputs carry
    the same mask.
    """

    def __init__(self, n_mels: int = 80, channels: int = 32, level_scale: float = 4.0) -> None:
        super().__init__()
        self.level_scale = level_scale
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(2, channels, (5, 5), padding=(2, 2))),
                weight_norm(nn.Conv2d(channels, channels, (5, 5), stride=(2, 1), padding=(2, 2))),
                weight_norm(
                    nn.Conv2d(
                        channels, channels, (5, 5), stride=(2, 1), padding=(2, 4), dilation=(1, 2)
                    )
                ),
                weight_norm(
                    nn.Conv2d(
                        channels, channels, (5, 5), stride=(2, 1), padding=(2, 8), dilation=(1, 4)
                    )
                ),
            ]
        )
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, log_mel: torch.Tensor, gap: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, F), (B, F) bool -> (B, F) scores (the mean over the frequency axis)."""
        level = context_level(log_mel, gap)[:, None, None]
        x = (log_mel - level) / self.level_scale
        mask = gap[:, None, :].to(x.dtype).expand_as(x)
        h = torch.stack([x, mask], dim=1)  # (B, 2, n_mels, F)
        for conv in self.convs:
            h = nn.functional.leaky_relu(conv(h), 0.1)
        return self.out(h).mean(dim=(1, 2))
