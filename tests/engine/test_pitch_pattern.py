import numpy as np
import pytest

from voicemend.engine.inpaint.pattern import join, periodic_extension
from voicemend.engine.inpaint.pitch import estimate_period

from ..conftest import speech_like


@pytest.mark.parametrize("f0", [80.0, 120.0, 200.0, 310.0])
@pytest.mark.parametrize("rate", [16000, 48000])
def test_period_of_a_harmonic_tone(f0, rate):
    t = np.arange(int(0.1 * rate)) / rate
    x = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 6))
    est = estimate_period(x, rate)
    assert est.voiced
    assert abs(est.period_frames - rate / f0) <= 1.5


def test_noise_is_unvoiced():
    x = np.random.default_rng(0).standard_normal(1600)
    assert not estimate_period(x, 16000).voiced


def test_periodic_extension_continues_the_waveform():
    rate, f0 = 16000, 125.0
    t = np.arange(4000) / rate
    x = np.sin(2 * np.pi * f0 * t)
    est = estimate_period(x[:2000], rate)
    ext = periodic_extension(x[:2000], 800, est, gap_ms=50)
    np.testing.assert_allclose(ext, x[2000:2800], atol=0.05)


def test_join_prefers_aligned_point():
    x = speech_like(0.2, 16000)
    left, right = x[:1600].astype(float), x[:1600].astype(float)
    out = join(left, right, 0, 0, 16000)
    np.testing.assert_allclose(out, left, atol=1e-6)
