"""Recipe: the concealment detector, from train speech sent through Opus with lost packets.

Each example is a crop of train speech (augmented as a caller's microphone might have heard
it) sent through libopus at a random bit rate, packet length and loss pattern; the decoder
conceals the lost packets. Each 10 ms frame is labelled: concealed (inside a lost packet, in
active speech), clean, or not counted (a lost packet in a pause, where concealment is as quiet
as the truth, and the frames right after a loss, while the decoder finds its way back). Some
crops skip the codec, so the detector also learns that plain recordings hold no concealment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import RELEASE_CURVES, GateSettings, noise_gate
from voicemend.engine.models.concealment import ConcealmentNet, ConcealmentNetConfig
from voicemend.engine.opus import OpusCodec, burst_losses
from voicemend.engine.training.batches import batch_source
from voicemend.engine.training.data import AugmentConfig, SpeechPool, augment, train_pool
from voicemend.engine.training.run import Progress, RecipeConfig, optimise, run_recipe, start_run

IGNORE = -1.0  # a frame's label that the loss skips

BITRATES = (8000, 12000, 16000, 24000, 32000, 48000)
PACKETS_MS = (10, 20, 20, 20, 40)


@dataclass(frozen=True)
class LossConfig:
    """How the examples are damaged."""

    uncoded_prob: float = 0.15  # crops that never meet the codec
    lossless_prob: float = 0.15  # coded crops with no packet lost
    bursts_per_s: tuple[float, float] = (0.3, 2.5)
    max_burst_ms: int = 200
    recovery_ms: float = 30.0  # frames after a loss that are not counted
    # sounds the detector must not take for concealment: cuts to digital silence and a noise
    # gate's closings (the first network, trained without them, fired there)
    cut_prob: float = 0.0
    gate_prob: float = 0.0
    active_below_top_db: float = 35.0  # a frame this far under the crop's loud frames is a pause


@dataclass(frozen=True)
class ConcealmentTrainConfig(RecipeConfig, LossConfig):
    window_s: float = 4.0
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    max_steps: int = 6000
    positive_weight: float = 2.0
    data_workers: int = 1


def frame_labels(
    concealed: np.ndarray, reference: np.ndarray, hop: int, config: LossConfig, sample_rate: int
) -> np.ndarray:
    """Per frame (``hop`` samples, as :class:`LogMel` frames them): 1 concealed, 0 clean,
    :data:`IGNORE` not counted. ``concealed`` marks the samples the decoder made up;
    ``reference`` is the sound the frames should have held (to tell speech from pauses)."""
    n = concealed.size // hop
    lost = concealed[: n * hop].reshape(n, hop).mean(axis=1) > 0.5
    power = np.mean(reference[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    top = np.percentile(level, 95) if n else 0.0
    active = level > top - config.active_below_top_db
    labels = np.where(lost, np.where(active, 1.0, IGNORE), 0.0)
    recovery = round(config.recovery_ms * sample_rate / 1000 / hop)
    lost_ends = np.flatnonzero(lost[:-1] & ~lost[1:]) + 1
    for end in lost_ends:
        after = labels[end : end + recovery]
        after[after == 0.0] = IGNORE
    return labels.astype(np.float32)


def concealed_example(
    x: np.ndarray, rng: np.random.Generator, config: LossConfig, sample_rate: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` through a random Opus call (or none), and its frame labels."""
    if rng.random() < config.uncoded_prob:
        return x.astype(np.float32), np.zeros(x.size // hop, np.float32)
    codec = OpusCodec(
        int(rng.choice(BITRATES)),
        sample_rate,
        int(rng.choice(PACKETS_MS)),
        complexity=int(rng.integers(3, 11)),
    )
    n_packets = x.size // codec.packet
    lost: set[int] = set()
    if rng.random() >= config.lossless_prob:
        per_packet = rng.uniform(*config.bursts_per_s) * codec.packet_ms / 1000
        max_burst = max(1, config.max_burst_ms // codec.packet_ms)
        lost = burst_losses(n_packets, rng, per_packet, max_burst)
    y = np.zeros_like(x)
    y[: n_packets * codec.packet] = codec.roundtrip(x, lost)
    mask = codec.lost_mask(x.size, lost)
    # the truth the lost frames stand for, in the output's time
    d = codec.delay if lost else 0
    reference = np.concatenate([np.zeros(d, x.dtype), x[: x.size - d]])
    return y, frame_labels(mask, reference, hop, config, sample_rate)


def silenced(
    y: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    config: LossConfig,
    sample_rate: int,
    hop: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` maybe through a random noise gate and maybe with 1-3 cuts to digital silence of
    10-400 ms; frames a cut touches are not concealment (label 0)."""
    if rng.random() < config.gate_prob:
        gate = GateSettings(
            above_floor_db=float(rng.uniform(6.0, 15.0)),
            attack_ms=float(rng.uniform(0.5, 5.0)),
            hold_ms=float(rng.uniform(0.0, 50.0)),
            release_ms=float(rng.uniform(5.0, 100.0)),
            release_curve=str(rng.choice(RELEASE_CURVES)),
        )
        y = noise_gate(Audio.from_array(y, sample_rate), gate).samples[0]
    if rng.random() < config.cut_prob:
        y, labels = y.copy(), labels.copy()
        for _ in range(int(rng.integers(1, 4))):
            n = int(rng.uniform(0.01, 0.4) * sample_rate)
            start = int(rng.integers(0, max(1, y.size - n)))
            y[start : start + n] = 0.0
            labels[start // hop : -(-(start + n) // hop)] = 0.0
    return y, labels


@dataclass
class ConcealedBatches:
    """``(waves, labels)``: augmented crops sent through random Opus calls."""

    pool: SpeechPool
    n_samples: int
    batch_size: int
    augment: AugmentConfig | None
    loss: LossConfig
    hop: int

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        waves, labels = [], []
        sr = self.pool.sample_rate
        for _ in range(self.batch_size):
            x = self.pool.crop(self.n_samples, rng)
            if self.augment is not None:
                x = augment(x, rng, self.augment, sr)
            y, lab = concealed_example(x, rng, self.loss, sr, self.hop)
            y, lab = silenced(y, lab, rng, self.loss, sr, self.hop)
            # the level the call is recorded at: anything from quiet to hot
            gain = 10 ** (rng.uniform(-20.0, 6.0) / 20)
            y = np.clip(y * gain, -1.0, 1.0)
            waves.append(y.astype(np.float32))
            labels.append(lab)
        return np.stack(waves), np.stack(labels)


def concealment_loss(
    logits: torch.Tensor, labels: torch.Tensor, positive_weight: float
) -> dict[str, torch.Tensor]:
    """Binary cross-entropy over the counted frames, plus the counted frames' accuracy."""
    n = min(logits.shape[-1], labels.shape[-1])
    logits, labels = logits[..., :n], labels[..., :n]
    counted = labels != IGNORE
    target = labels.clamp(min=0.0)
    weight = counted.float() * (1.0 + (positive_weight - 1.0) * target)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, weight=weight, reduction="sum"
    ) / weight.sum().clamp(min=1.0)
    with torch.no_grad():
        hit = ((logits > 0).float() == target) & counted
        positives = (target > 0) & counted
        recall = (hit & positives).sum() / positives.sum().clamp(min=1)
        accuracy = hit.sum() / counted.sum().clamp(min=1)
    return {"loss": bce, "accuracy": accuracy, "recall": recall}


def train_concealment(
    out_dir: Path,
    config: ConcealmentTrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    model_config: ConcealmentNetConfig | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> Path:
    """Train (or resume) the concealment detector; export it to ``out_dir / "export"``."""
    device = device or torch.device("cpu")
    model_config = model_config or ConcealmentNetConfig()
    model = ConcealmentNet(model_config).to(device)
    opt, run = start_run(
        out_dir, "concealment", config, {"model": model}, model_config.to_dict(), init_from
    )
    sr = model_config.mel.sample_rate
    pool = train_pool(data_root, sr)
    hop = model_config.mel.hop_length
    n_samples = int(config.window_s * sr) // hop * hop
    # the recipe's settings are themselves a LossConfig
    make = ConcealedBatches(pool, n_samples, config.batch_size, config.augmentation(), config, hop)
    next_batch = batch_source(make, run.rng, run.seed, run.step, config.data_workers)
    model.train()

    def step() -> dict[str, torch.Tensor]:
        wave, labels = (t.to(device) for t in next_batch())
        losses = concealment_loss(model(wave), labels, config.positive_weight)
        optimise(opt, losses["loss"], model.parameters(), max_norm=5.0)
        return {k: v.detach() for k, v in losses.items()}

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    model.cpu().eval().save_pretrained(export)
    return export
