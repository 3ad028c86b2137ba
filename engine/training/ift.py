"""Recipe I_FT: fine-tune the encoder to predict the frozen decoder's mel frames inside a gap.

Each example is a crop of training speech with one gap (20-450 ms, anywhere with at least
``min_context_s`` on both sides) zeroed in the waveform and masked in the encoder. The loss is
L1 + (1 - cosine) on the mel frames the gap touches, plus a small L1 on the rest so the head
stays anchored to the visible context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from voicemend.engine.models.hubert import HubertEncoder
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig, mel_gap_frames
from voicemend.engine.training.data import random_batch, train_pool
from voicemend.engine.training.run import (
    Progress,
    RecipeConfig,
    optimise,
    run_recipe,
    start_run,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GapConfig:
    """Where training gaps fall: one per example, anywhere with enough context on both sides."""

    min_gap_ms: float = 20.0
    max_gap_ms: float = 450.0
    min_context_s: float = 0.2


@dataclass(frozen=True)
class IftTrainConfig(RecipeConfig, GapConfig):
    window_frames: int = 128  # encoder frames per example (2.56 s at 20 ms)
    cosine_weight: float = 1.0
    context_weight: float = 0.1


def gap_masks(
    batch: int, n_samples: int, sample_rate: int, config: GapConfig, rng: np.random.Generator
) -> np.ndarray:
    """(batch, n_samples) bool: one random gap per example."""
    masks = np.zeros((batch, n_samples), dtype=bool)
    margin = int(config.min_context_s * sample_rate)
    for i in range(batch):
        length = int(rng.uniform(config.min_gap_ms, config.max_gap_ms) * sample_rate / 1000)
        start = int(rng.integers(margin, max(margin + 1, n_samples - margin - length)))
        masks[i, start : start + length] = True
    return masks


@dataclass(frozen=True)
class GapMasks:
    """:func:`gap_masks` at one sample rate, called as ``(batch, n_samples, rng)`` (what
    :class:`~voicemend.engine.training.batches.CropBatches` asks of its masks)."""

    sample_rate: int
    config: GapConfig

    def __call__(self, batch: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        return gap_masks(batch, n_samples, self.sample_rate, self.config, rng)


def inpainting_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    frames: torch.Tensor,
    cosine_weight: float,
    context_weight: float,
) -> dict[str, torch.Tensor]:
    """pred/target (B, n_mels, F), frames (B, F) bool marking the gap."""
    err = (pred - target).abs().mean(dim=1)  # (B, F)
    inside = frames.float()
    n_in = inside.sum().clamp(min=1)
    l1_gap = (err * inside).sum() / n_in
    l1_ctx = (err * (1 - inside)).sum() / (1 - inside).sum().clamp(min=1)
    cos = F.cosine_similarity(pred, target, dim=1)  # (B, F)
    cos_gap = ((1 - cos) * inside).sum() / n_in
    total = l1_gap + cosine_weight * cos_gap + context_weight * l1_ctx
    return {"loss": total, "l1_gap": l1_gap, "cos_gap": cos_gap, "l1_context": l1_ctx}


def train_ift(
    out_dir: Path,
    config: IftTrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    model_config: MelInpainterConfig | None = None,
    init_encoder: Path | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> Path:
    """Train (or resume) and export the mel inpainter to ``out_dir / "export"``."""
    device = device or torch.device("cpu")
    model_config = model_config or MelInpainterConfig()
    model = MelInpainter(model_config)
    if init_encoder is not None:
        model.encoder.load_state_dict(HubertEncoder.from_pretrained(init_encoder).state_dict())
        log.info("encoder initialised from %s", init_encoder)
    model.to(device)
    mel = LogMel(model_config.mel).to(device)
    opt, run = start_run(
        out_dir, "ift", config, {"model": model}, model_config.to_dict(), init_from
    )
    sr = model_config.mel.sample_rate
    pool = train_pool(data_root, sr)
    n_samples = config.window_frames * model_config.encoder.frame_stride
    aug = config.augmentation()
    hop = model_config.mel.hop_length

    def step() -> dict[str, float]:
        wave = torch.from_numpy(random_batch(pool, n_samples, config.batch_size, run.rng, aug))
        gap = torch.from_numpy(gap_masks(config.batch_size, n_samples, sr, config, run.rng))
        wave, gap = wave.to(device), gap.to(device)
        with torch.no_grad():
            target = mel(wave)
        pred = model(wave.masked_fill(gap, 0.0), model.frame_mask(gap))
        n = min(pred.shape[-1], target.shape[-1])
        frames = mel_gap_frames(gap, n, hop)
        losses = inpainting_loss(
            pred[..., :n], target[..., :n], frames, config.cosine_weight, config.context_weight
        )
        optimise(opt, losses["loss"], model.parameters())
        return {k: v.item() for k, v in losses.items()}

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    model.cpu().save_pretrained(export)
    return export
