"""Training audio: the train split held in memory, random crops, and augmentation.

Augmentation (gain, noise, reverb, band-limiting) makes models serve real recordings, not only
clean read speech.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

from voicemend.engine.data import SpeechFile, list_speech, speech_root
from voicemend.engine.errors import VoicemendError
from voicemend.engine.io import load

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AugmentConfig:
    gain_db: tuple[float, float] = (-18.0, 3.0)  # relative to a -20 dBFS RMS level
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (15.0, 45.0)
    reverb_prob: float = 0.2
    rt60_s: tuple[float, float] = (0.1, 0.5)
    bandlimit_prob: float = 0.15
    cutoff_hz: tuple[float, float] = (3500.0, 7500.0)


def train_pool(data_root: Path | None, sample_rate: int = SAMPLE_RATE) -> SpeechPool:
    """The ``train`` split of the speech corpus (the dev split never trains anything)."""
    files = list_speech(data_root, split="train")
    if not files:
        folder = Path(data_root) if data_root is not None else speech_root()
        if (folder / "manifest.csv").exists():
            raise VoicemendError(
                f"no training audio in {folder}: its manifest.csv lists no file of the train "
                "split (the dev split is held out); give a folder with train rows, or a plain "
                "folder of audio files without a manifest"
            )
        raise VoicemendError(f"no training audio in {folder}: it holds no audio files")
    pool = SpeechPool(files, sample_rate)
    log.info("training audio: %.2f h", pool.hours)
    return pool


class SpeechPool:
    """All training audio, mono float32 at 16 kHz, and seeded random crops from it."""

    def __init__(self, files: Sequence[SpeechFile], sample_rate: int = SAMPLE_RATE) -> None:
        waves = []
        for f in files:
            audio = load(f.path).to_mono().resampled(sample_rate)
            waves.append(audio.samples[0])
        if not waves:
            raise ValueError("no training audio")
        self.waves = waves
        self.sample_rate = sample_rate
        lengths = np.array([w.size for w in waves], dtype=np.float64)
        self._weights = lengths / lengths.sum()

    @property
    def hours(self) -> float:
        return sum(w.size for w in self.waves) / self.sample_rate / 3600

    def crop(self, n_samples: int, rng: np.random.Generator, min_rms: float = 1e-3) -> np.ndarray:
        """A random crop (zero-padded if the file is short); retries to avoid silent crops."""
        for _ in range(8):
            wave = self.waves[rng.choice(len(self.waves), p=self._weights)]
            if wave.size <= n_samples:
                out = np.zeros(n_samples, dtype=np.float32)
                out[: wave.size] = wave
            else:
                start = int(rng.integers(0, wave.size - n_samples))
                out = wave[start : start + n_samples].copy()
            if np.sqrt(np.mean(out**2)) >= min_rms:
                break
        return out


def augment(
    x: np.ndarray, rng: np.random.Generator, config: AugmentConfig, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """One random augmentation chain; the result is float32 and never clips."""
    y = x.astype(np.float64)
    if rng.random() < config.reverb_prob:
        y = _reverb(y, rng, config, sample_rate)
    if rng.random() < config.bandlimit_prob:
        cutoff = rng.uniform(*config.cutoff_hz)
        y = sosfilt(butter(8, cutoff, fs=sample_rate, output="sos"), y)
    rms = np.sqrt(np.mean(y**2)) + 1e-9
    y *= 10 ** ((rng.uniform(*config.gain_db) - 20.0) / 20) / rms
    if rng.random() < config.noise_prob:
        snr = rng.uniform(*config.snr_db)
        noise = rng.standard_normal(y.size)
        if rng.random() < 0.5:  # pinkish noise: a one-pole low-pass
            noise = sosfilt(butter(1, 1000, fs=sample_rate, output="sos"), noise)
        noise *= np.sqrt(np.mean(y**2)) / (np.sqrt(np.mean(noise**2)) + 1e-12) * 10 ** (-snr / 20)
        y += noise
    peak = np.max(np.abs(y))
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def _reverb(
    y: np.ndarray, rng: np.random.Generator, config: AugmentConfig, sample_rate: int
) -> np.ndarray:
    rt60 = rng.uniform(*config.rt60_s)
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    ir[0] = 1.0
    ir /= np.sqrt(np.sum(ir**2))
    wet = fftconvolve(y, ir)[: y.size]
    mix = rng.uniform(0.2, 0.6)
    return (1 - mix) * y + mix * wet * (np.sqrt(np.mean(y**2)) / (np.sqrt(np.mean(wet**2)) + 1e-12))


def random_batch(
    pool: SpeechPool,
    n_samples: int,
    batch_size: int,
    rng: np.random.Generator,
    aug: AugmentConfig | None,
) -> np.ndarray:
    """(batch_size, n_samples) float32 crops, augmented when ``aug`` is given."""
    crops = [pool.crop(n_samples, rng) for _ in range(batch_size)]
    return np.stack([augment(x, rng, aug) if aug is not None else x for x in crops])
