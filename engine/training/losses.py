"""Reconstruction and adversarial losses for waveform decoders."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

STFT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (256, 64, 256))


def multi_resolution_stft_loss(
    y_hat: torch.Tensor,
    y: torch.Tensor,
    resolutions: Sequence[tuple[int, int, int]] = STFT_RESOLUTIONS,
) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over resolutions (Yamamoto et al. 2020)."""
    total = y.new_zeros(())
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=y.device)
        s_hat = (
            torch.stft(y_hat, n_fft, hop, win, window, return_complex=True).abs().clamp(min=1e-7)
        )
        s = torch.stft(y, n_fft, hop, win, window, return_complex=True).abs().clamp(min=1e-7)
        sc = torch.linalg.norm(s - s_hat) / torch.linalg.norm(s).clamp(min=1e-7)
        total = total + sc + F.l1_loss(torch.log(s_hat), torch.log(s))
    return total / len(resolutions)


def hinge_discriminator_loss(
    real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]
) -> torch.Tensor:
    return sum(
        torch.mean(F.relu(1 - r)) + torch.mean(F.relu(1 + f))
        for r, f in zip(real, fake, strict=True)
    )


def hinge_generator_loss(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean(F.relu(1 - f)) for f in fake)


def feature_matching_loss(
    real_feats: Sequence[Sequence[torch.Tensor]], fake_feats: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    total = 0.0
    for rs, fs in zip(real_feats, fake_feats, strict=True):
        for r, f in zip(rs, fs, strict=True):
            total = total + torch.mean(torch.abs(r.detach() - f))
    return total
