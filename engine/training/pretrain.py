"""Recipe: HuBERT masked-prediction pre-training of the encoder (iteration 1: MFCC k-means targets).

Targets are k-means clusters of 39-dimensional MFCCs (13 + deltas + delta-deltas) at the
encoder's 20 ms frame rate. About half of the frames are masked in spans of 10 (mask embedding
in place of their features, as in HuBERT), and the encoder learns to predict the masked frames'
clusters from the context — the skill an inpainter needs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from scipy.cluster.vq import kmeans2
from torch import nn

from voicemend.engine.models.hubert import HubertConfig, HubertEncoder
from voicemend.engine.models.mel import LogMel, MelConfig
from voicemend.engine.models.mel_inpainter import small_encoder_config
from voicemend.engine.training.data import SpeechPool, random_batch, train_pool
from voicemend.engine.training.run import (
    Progress,
    RecipeConfig,
    optimise,
    run_recipe,
    start_run,
)

log = logging.getLogger(__name__)
N_MFCC = 13


@dataclass(frozen=True)
class PretrainConfig(RecipeConfig):
    n_clusters: int = 100
    kmeans_frames: int = 60_000
    window_frames: int = 128
    mask_prob: float = 0.08
    mask_length: int = 10


class Mfcc(nn.Module):
    """39-dim MFCC (13 DCT-II coefficients of the log-mel, + deltas) at the encoder frame rate."""

    def __init__(self, frame_stride: int = 320) -> None:
        super().__init__()
        self.mel = LogMel(
            MelConfig(n_mels=40, f_max_hz=8000.0, hop_length=160, win_length=400, n_fft=512)
        )
        n = self.mel.config.n_mels
        k = torch.arange(N_MFCC)[:, None]
        dct = torch.cos(math.pi / n * (torch.arange(n)[None, :] + 0.5) * k) * math.sqrt(2.0 / n)
        dct[0] /= math.sqrt(2.0)
        self.register_buffer("dct", dct, persistent=False)
        self.pool = frame_stride // self.mel.config.hop_length

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, frames, 39)."""
        c = torch.einsum("kn,bnf->bkf", self.dct, self.mel(wave))
        d1 = _delta(c)
        feats = torch.cat([c, d1, _delta(d1)], dim=1)
        frames = feats.shape[-1] // self.pool
        pooled = (
            feats[..., : frames * self.pool].reshape(*feats.shape[:2], frames, self.pool).mean(-1)
        )
        return pooled.transpose(1, 2)


def _delta(x: torch.Tensor) -> torch.Tensor:
    padded = F.pad(x, (2, 2), mode="replicate")
    return (padded[..., 3:-1] - padded[..., 1:-3] + 2 * (padded[..., 4:] - padded[..., :-4])) / 10.0


class Codebook:
    """Standardised MFCC k-means centroids; ``labels`` maps frames to cluster ids."""

    def __init__(self, centroids: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.centroids, self.mean, self.std = centroids, mean, std

    @classmethod
    def fit(cls, features: np.ndarray, n_clusters: int, seed: int) -> Codebook:
        mean, std = features.mean(0), features.std(0) + 1e-6
        centroids, _ = kmeans2((features - mean) / std, n_clusters, minit="++", seed=seed)
        return cls(
            *(torch.from_numpy(np.asarray(a, dtype=np.float32)) for a in (centroids, mean, std))
        )

    def labels(self, feats: torch.Tensor) -> torch.Tensor:
        z = (feats - self.mean.to(feats)) / self.std.to(feats)
        return torch.cdist(z, self.centroids.to(feats)[None].expand(z.shape[0], -1, -1)).argmin(-1)

    def save(self, path: Path) -> None:
        save_file({"centroids": self.centroids, "mean": self.mean, "std": self.std}, str(path))

    @classmethod
    def load(cls, path: Path) -> Codebook:
        t = load_file(str(path))
        return cls(t["centroids"], t["mean"], t["std"])


def span_mask(
    batch: int, frames: int, prob: float, length: int, rng: np.random.Generator
) -> np.ndarray:
    """HuBERT / wav2vec 2.0 masking: span starts with probability ``prob``, spans of ``length``."""
    mask = np.zeros((batch, frames), dtype=bool)
    n_spans = max(1, round(prob * frames))
    for b in range(batch):
        for start in rng.choice(max(1, frames - length), n_spans, replace=False):
            mask[b, start : start + length] = True
    return mask


class PretrainHead(nn.Module):
    def __init__(self, hidden: int, n_clusters: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden, n_clusters)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj(h)


def train_pretrain(
    out_dir: Path,
    config: PretrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    encoder_config: HubertConfig | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> Path:
    """Pre-train (or resume) and export the encoder to ``out_dir / "export"``."""
    device = device or torch.device("cpu")
    encoder_config = encoder_config or small_encoder_config()
    encoder = HubertEncoder(encoder_config).to(device)
    head = PretrainHead(encoder_config.hidden_size, config.n_clusters).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    opt, run = start_run(
        out_dir,
        "pretrain-encoder",
        config,
        {"encoder": encoder, "head": head},
        encoder_config.to_dict(),
        init_from,
    )
    sr = 16_000
    pool = train_pool(data_root, sr)
    mfcc = Mfcc(encoder_config.frame_stride).to(device)
    codebook_path = out_dir / "codebook.safetensors"
    if codebook_path.exists():
        codebook = Codebook.load(codebook_path)
    else:
        codebook = _fit_codebook(pool, mfcc, config, device)
        codebook.save(codebook_path)
    n_samples = config.window_frames * encoder_config.frame_stride
    aug = config.augmentation()

    def step() -> dict[str, float]:
        wave = torch.from_numpy(random_batch(pool, n_samples, config.batch_size, run.rng, aug)).to(
            device
        )
        frames = encoder.n_frames(n_samples)
        mask = torch.from_numpy(
            span_mask(config.batch_size, frames, config.mask_prob, config.mask_length, run.rng)
        ).to(device)
        with torch.no_grad():
            targets = codebook.labels(mfcc(wave))
        logits = head(encoder(wave, mask))
        n = min(logits.shape[1], targets.shape[1])
        m = mask[:, :n]
        loss = F.cross_entropy(logits[:, :n][m], targets[:, :n][m])
        optimise(opt, loss, params)
        accuracy = (logits[:, :n][m].argmax(-1) == targets[:, :n][m]).float().mean()
        return {"loss": loss.item(), "masked_accuracy": accuracy.item()}

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    encoder.cpu().save_pretrained(export)
    return export


def _fit_codebook(
    pool: SpeechPool, mfcc: Mfcc, config: PretrainConfig, device: torch.device
) -> Codebook:
    rng = np.random.default_rng(config.seed)
    feats, total = [], 0
    with torch.no_grad():
        while total < config.kmeans_frames:
            wave = torch.from_numpy(random_batch(pool, 16_000 * 4, 8, rng, None)).to(device)
            f = mfcc(wave).reshape(-1, 3 * N_MFCC).cpu().numpy()
            feats.append(f)
            total += f.shape[0]
    data = np.concatenate(feats)[: config.kmeans_frames].astype(np.float64)
    log.info("k-means of %d MFCC frames into %d clusters", data.shape[0], config.n_clusters)
    return Codebook.fit(data, config.n_clusters, config.seed)
