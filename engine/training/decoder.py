"""Recipe: train the mel decoder (vocoder) that I_FT keeps frozen.

Reconstruction losses (multi-resolution STFT + log-mel L1) from the start; a multi-resolution
spectrogram discriminator joins after ``gan_start_step`` for sharper harmonics and phase.

With a mel predictor, the decoder is fine-tuned on that predictor's output instead of the true
mel ("ground-truth-aligned" training, as TTS vocoders are adapted to their acoustic model): each
example is a window with one gap, the predictor fills the gap's frames, and the decoder learns to
turn that averaged, over-smooth prediction into the real waveform, the GAN keeping it sharp.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from voicemend.engine.models.checkpoint import CheckpointError
from voicemend.engine.models.discriminators import MultiResolutionDiscriminator
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import heard_frames
from voicemend.engine.models.mel_transformer import MelTransformer
from voicemend.engine.models.postfilter import GlobalVarianceConfig, global_variance
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder
from voicemend.engine.training.data import AugmentConfig, SpeechPool, random_batch, train_pool
from voicemend.engine.training.ift import GapConfig, gap_masks
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
    # Ground-truth-aligned fine-tuning (with a predictor): the window the predictor reads and
    # the gaps it fills, as in the mel recipe's training.
    gta_window_s: float = 3.0
    gta_gaps: GapConfig = field(
        default_factory=lambda: GapConfig(min_gap_ms=20.0, max_gap_ms=500.0, min_context_s=0.3)
    )
    # The predictor's gap frames through this global-variance post-filter before the decoder
    # sees them, so the decoder learns to voice what ``NeuralMel(postfilter=...)`` hands it.
    gta_postfilter: GlobalVarianceConfig | None = None


def train_decoder(
    out_dir: Path,
    config: DecoderTrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    model_config: VocosConfig | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
    init_from: Path | None = None,
    predictor_dir: Path | None = None,
) -> Path:
    """Train (or resume) and export the decoder to ``out_dir / "export"``; returns that folder.

    ``predictor_dir``: a mel predictor (voicemend mel transformer) to fine-tune the decoder on.
    """
    device = device or torch.device("cpu")
    model_config = model_config or recorded_decoder(out_dir, init_from) or VocosConfig()
    predictor = None
    if predictor_dir is not None:
        predictor = MelTransformer.from_pretrained(predictor_dir).to(device).eval()
        if predictor.config.mel != model_config.mel:
            raise ValueError(f"{predictor_dir} uses other mel settings than the decoder")
    gen = VocosDecoder(model_config).to(device)
    disc = MultiResolutionDiscriminator().to(device)
    mel = LogMel(model_config.mel).to(device)
    opt_g = config.optimizer(gen.parameters())
    opt_d = config.optimizer(disc.parameters())
    run = TrainingRun(
        out_dir,
        {"generator": gen, "discriminator": disc},
        {"generator": opt_g, "discriminator": opt_d},
        {
            "recipe": "decoder",
            "train": asdict(config),
            "model": model_config.to_dict(),
            "predictor": None if predictor_dir is None else str(predictor_dir),
        },
        seed=config.seed,
    )
    run.start(init_from)
    pool = train_pool(data_root, model_config.mel.sample_rate)
    n_samples = config.segment_frames * model_config.hop_length
    aug = config.augmentation()

    def step() -> dict[str, float]:
        if predictor is None:
            batch = random_batch(pool, n_samples, config.batch_size, run.rng, aug)
            wave = torch.from_numpy(batch).to(device)
            features = mel(wave)
        else:
            features, wave = predicted_segments(predictor, mel, pool, config, run.rng, aug, device)
        return vocoder_step(
            VocoderParts(gen, disc, opt_g, opt_d, mel),
            features,
            wave,
            run.step >= config.gan_start_step,
            config,
        )

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    gen.cpu().save_pretrained(export)
    return export


def recorded_decoder(out_dir: Path, init_from: Path | None) -> VocosConfig | None:
    """The decoder a run's own checkpoint, else the checkpoint it starts from, was trained as
    (its ``state.json``), so that continuing a decoder of another size needs no settings."""
    for folder in (Path(out_dir) / "checkpoint", init_from):
        path = None if folder is None else Path(folder) / "state.json"
        if path is None or not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))["config"]["model"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot read the model settings in {path}: {exc}") from None
        if isinstance(data, dict) and data.get("model_type") == "vocos":
            return VocosConfig.from_dict(data)
    return None


def predicted_segments(
    predictor: MelTransformer,
    mel: LogMel,
    pool: SpeechPool,
    config: DecoderTrainConfig,
    rng: np.random.Generator,
    aug: AugmentConfig | None,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch for ground-truth-aligned training: (B, n_mels, segment_frames) mel whose gap
    frames are the predictor's, and the (B, segment_frames * hop) clean waveform they stand
    for. Each segment holds its example's whole gap where it fits, at a random offset."""
    sr, hop = mel.config.sample_rate, mel.config.hop_length
    seg = config.segment_frames
    n_window = max(int(config.gta_window_s * sr) // hop * hop, seg * hop)
    wave = torch.from_numpy(random_batch(pool, n_window, config.batch_size, rng, aug)).to(device)
    gap = torch.from_numpy(gap_masks(config.batch_size, n_window, sr, config.gta_gaps, rng))
    with torch.no_grad():
        true_mel = mel(wave)
        hidden = heard_frames(gap.to(device), true_mel.shape[-1], mel.config)
        filled = predictor(true_mel, hidden)
        if config.gta_postfilter is not None:
            filled = global_variance(filled, hidden, config.gta_postfilter)
    n_frames = min(filled.shape[-1], wave.shape[-1] // hop)
    features, targets = [], []
    for b in range(config.batch_size):
        idx = torch.nonzero(hidden[b]).flatten()
        first, last = int(idx[0]), int(idx[-1])
        lo, hi = max(0, last + 1 - seg), min(first, n_frames - seg)
        start = int(rng.integers(lo, hi + 1)) if lo <= hi else max(0, min(first, n_frames - seg))
        features.append(filled[b, :, start : start + seg])
        targets.append(wave[b, start * hop : (start + seg) * hop])
    return torch.stack(features), torch.stack(targets)


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
