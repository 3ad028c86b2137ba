"""Recipe I_PT: a decoder trained on the frozen pre-trained encoder's features.

The encoder sees each crop with one gap zeroed and masked (as at inference) and stays frozen; the
decoder learns to turn its last-layer features (20 ms frames) into the clean waveform, gap
included, so the encoder's masked prediction is what fills the gap. Nothing oracle is used: no F0
or speaker embedding from the clean signal (the authors' released I_PT took both from it).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from voicemend.engine.models.discriminators import MultiResolutionDiscriminator
from voicemend.engine.models.hubert import HubertEncoder
from voicemend.engine.models.mel import LogMel, MelConfig
from voicemend.engine.models.mel_inpainter import receptive_frame_mask
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder
from voicemend.engine.training.data import random_batch, train_pool
from voicemend.engine.training.decoder import DecoderTrainConfig, VocoderParts, vocoder_step
from voicemend.engine.training.ift import GapConfig, gap_masks
from voicemend.engine.training.run import Progress, TrainingRun, run_recipe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IptTrainConfig:
    decoder: DecoderTrainConfig = field(default_factory=DecoderTrainConfig)
    gaps: GapConfig = field(default_factory=GapConfig)
    window_frames: int = 64  # encoder frames per example (1.28 s)
    batch_size: int = 8


def feature_decoder_config(encoder: HubertEncoder) -> VocosConfig:
    """A decoder reading encoder frames (hidden_size channels, one per frame stride)."""
    stride = encoder.config.frame_stride
    return VocosConfig(
        input_channels=encoder.config.hidden_size,
        hop_length=stride,
        n_fft=4 * stride,
        mel=MelConfig(),
    )


def train_ipt(
    out_dir: Path,
    config: IptTrainConfig,
    encoder_dir: Path,
    max_hours: float | None = None,
    data_root: Path | None = None,
    decoder_config: VocosConfig | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
) -> Path:
    """Train (or resume) the I_PT decoder; exports ``export/encoder`` and ``export/decoder``."""
    device = device or torch.device("cpu")
    encoder = HubertEncoder.from_pretrained(encoder_dir).to(device).eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    decoder_config = decoder_config or feature_decoder_config(encoder)
    gen = VocosDecoder(decoder_config).to(device)
    disc = MultiResolutionDiscriminator().to(device)
    d = config.decoder
    opt_g = d.optimizer(gen.parameters())
    opt_d = d.optimizer(disc.parameters())
    run = TrainingRun(
        out_dir,
        {"generator": gen, "discriminator": disc},
        {"generator": opt_g, "discriminator": opt_d},
        {
            "recipe": "ipt",
            "train": asdict(config),
            "model": decoder_config.to_dict(),
            "encoder": str(encoder_dir),
        },
        seed=d.seed,
    )
    run.start(init_from)
    sr = 16_000
    pool = train_pool(data_root, sr)
    n_samples = config.window_frames * encoder.config.frame_stride
    parts = VocoderParts(gen, disc, opt_g, opt_d, LogMel(MelConfig()).to(device))
    aug = d.augmentation()

    def step() -> dict[str, float]:
        wave = torch.from_numpy(random_batch(pool, n_samples, config.batch_size, run.rng, aug)).to(
            device
        )
        gap = torch.from_numpy(
            gap_masks(config.batch_size, n_samples, sr, config.gaps, run.rng)
        ).to(device)
        with torch.no_grad():
            features = encoder(wave.masked_fill(gap, 0.0), receptive_frame_mask(encoder, gap))
        return vocoder_step(parts, features.transpose(1, 2), wave, run.step >= d.gan_start_step, d)

    run_recipe(run, d, step, max_hours, progress)
    export = out_dir / "export"
    gen.cpu().save_pretrained(export / "decoder")
    encoder.cpu().save_pretrained(export / "encoder")
    return export
