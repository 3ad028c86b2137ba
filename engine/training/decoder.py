"""Recipe: train the mel decoder (vocoder) that I_FT keeps frozen.

Reconstruction losses (multi-resolution STFT + log-mel L1) from the start; a multi-resolution
spectrogram discriminator joins after ``gan_start_step`` for sharper harmonics and phase.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from voicemend.engine.models.discriminators import MultiResolutionDiscriminator
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder
from voicemend.engine.training.data import random_batch, train_pool
from voicemend.engine.training.losses import (
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    multi_resolution_stft_loss,
)
from voicemend.engine.training.run import Progress, RecipeConfig, TrainingRun, optimise, run_recipe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecoderTrainConfig(RecipeConfig):
    warmup_steps: int = 0
    lr_decay_per_1k: float = 0.97
    betas: tuple[float, float] = (0.8, 0.99)
    segment_frames: int = 64  # 0.64 s at a 10 ms hop
    mel_weight: float = 15.0
    stft_weight: float = 2.0
    gan_start_step: int = 3000
    feature_weight: float = 2.0


def train_decoder(
    out_dir: Path,
    config: DecoderTrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    model_config: VocosConfig | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
    init_from: Path | None = None,
) -> Path:
    """Train (or resume) and export the decoder to ``out_dir / "export"``; returns that folder."""
    device = device or torch.device("cpu")
    model_config = model_config or VocosConfig()
    gen = VocosDecoder(model_config).to(device)
    disc = MultiResolutionDiscriminator().to(device)
    mel = LogMel(model_config.mel).to(device)
    opt_g = config.optimizer(gen.parameters())
    opt_d = config.optimizer(disc.parameters())
    run = TrainingRun(
        out_dir,
        {"generator": gen, "discriminator": disc},
        {"generator": opt_g, "discriminator": opt_d},
        {"recipe": "decoder", "train": asdict(config), "model": model_config.to_dict()},
    )
    run.start(init_from)
    pool = train_pool(data_root, model_config.mel.sample_rate)
    n_samples = config.segment_frames * model_config.hop_length
    aug = config.augmentation()

    def step() -> dict[str, float]:
        batch = random_batch(pool, n_samples, config.batch_size, run.rng, aug)
        wave = torch.from_numpy(batch).to(device)
        return vocoder_step(
            VocoderParts(gen, disc, opt_g, opt_d, mel),
            mel(wave),
            wave,
            run.step >= config.gan_start_step,
            config,
        )

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    gen.cpu().save_pretrained(export)
    return export


@dataclass
class VocoderParts:
    """A waveform generator with its discriminator, optimisers and the mel used by the loss."""

    generator: torch.nn.Module
    discriminator: MultiResolutionDiscriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    mel: LogMel


def vocoder_step(
    parts: VocoderParts,
    features: torch.Tensor,
    wave: torch.Tensor,
    use_gan: bool,
    config: DecoderTrainConfig,
) -> dict[str, float]:
    """One update of a generator turning ``features`` into ``wave`` (decoder and I_PT recipes)."""
    y_hat = parts.generator(features)
    n = min(y_hat.shape[-1], wave.shape[-1])
    y_hat, wave = y_hat[..., :n], wave[..., :n]
    metrics: dict[str, float] = {}
    disc = parts.discriminator
    if use_gan:
        real_scores, _ = disc(wave)
        fake_scores, _ = disc(y_hat.detach())
        loss_d = hinge_discriminator_loss(real_scores, fake_scores)
        optimise(parts.opt_d, loss_d)
        metrics["loss_d"] = loss_d.item()
    with torch.no_grad():
        target_mel = parts.mel(wave)
    loss_mel = F.l1_loss(parts.mel(y_hat), target_mel)
    loss_stft = multi_resolution_stft_loss(y_hat, wave)
    loss_g = config.mel_weight * loss_mel + config.stft_weight * loss_stft
    if use_gan:
        fake_scores, fake_feats = disc(y_hat)
        _, real_feats = disc(wave)
        loss_adv = hinge_generator_loss(fake_scores)
        loss_fm = feature_matching_loss(real_feats, fake_feats)
        loss_g = loss_g + loss_adv + config.feature_weight * loss_fm
        metrics.update(loss_adv=loss_adv.item(), loss_fm=float(loss_fm.detach()))
    optimise(parts.opt_g, loss_g, parts.generator.parameters())
    metrics.update(loss_mel=loss_mel.item(), loss_stft=loss_stft.item(), loss_g=loss_g.item())
    return metrics
