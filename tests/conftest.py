"""Shared fixtures: tiny synthetic signals and paths to the shared speech data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from voicemend.engine import Audio
from voicemend.engine.data import list_speech, speech_root

# Qt windows in any test (the editor, its Audacity round trip) run offscreen even under plain
# `pytest`; this must be set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def speech_like(
    duration_s: float, sample_rate: int, seed: int = 0, f0_hz: float = 140.0
) -> np.ndarray:
    """A voiced, syllable-modulated harmonic signal over a low noise floor (float32, mono)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = f0_hz * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 12) if k * f0_hz < sample_rate / 2.2)
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = 0.2 * syllables * harmonics + 0.002 * rng.standard_normal(n)
    return x.astype(np.float32)


@pytest.fixture
def mono16k() -> Audio:
    return Audio.from_array(speech_like(2.0, 16_000), 16_000)


@pytest.fixture
def stereo48k() -> Audio:
    left = speech_like(1.5, 48_000, seed=1)
    right = speech_like(1.5, 48_000, seed=2, f0_hz=180.0)
    return Audio(np.stack([left, right]), 48_000)


@pytest.fixture(scope="session")
def dev_files():
    root = speech_root()
    if not (root / "manifest.csv").exists():
        pytest.skip(f"shared speech data not found at {root}")
    return list_speech(root, split="dev")


@pytest.fixture(scope="session")
def dev_utterance(dev_files) -> Path:
    """A dev-split utterance of at least 6 s."""
    return next(f.path for f in dev_files if f.duration_s >= 6.0)


@pytest.fixture(scope="session")
def example_clip() -> Path:
    """The bundled LJ Speech clip (public domain; plugin/examples/ATTRIBUTION.md), 16 kHz."""
    return Path(__file__).resolve().parents[1] / "plugin" / "examples" / "LJ001-0001.flac"
