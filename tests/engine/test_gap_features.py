"""What a per-gap choice sees: the context and the fills, never the damaged gap itself."""

import numpy as np
import pytest

from voicemend.engine.inpaint.gap_features import RATE, gap_features, periodicity

from ..conftest import speech_like


def _case(seed: int = 0):
    x = speech_like(3.0, RATE, seed=seed).astype(np.float64)
    gap = (20_000, 20_000 + 4_800)  # 300 ms, 1.25 s in
    damaged = x.copy()
    damaged[gap[0] : gap[1]] = 0.0
    quiet = damaged.copy()
    quiet[gap[0] : gap[1]] = 0.01 * x[gap[0] : gap[1]]
    return x, damaged, gap, {"loud": x, "quiet": quiet}


def test_the_damaged_gap_is_never_read():
    _, damaged, gap, fills = _case()
    noisy = damaged.copy()
    noisy[gap[0] : gap[1]] = np.random.default_rng(1).standard_normal(gap[1] - gap[0])
    assert gap_features(damaged, gap, fills) == gap_features(noisy, gap, fills)


def test_fills_are_measured_against_the_edges():
    _, damaged, gap, fills = _case()
    f = gap_features(damaged, gap, fills)
    assert f["gap_ms"] == pytest.approx(300.0)
    assert abs(f["loud_level"]) < 3.0  # the true audio sits at the edges' level
    assert f["quiet_level"] == pytest.approx(f["loud_level"] - 40.0, abs=0.5)
    assert f["lsd_loud_quiet"] > 5.0  # 40 dB apart where the quiet fill is above the floor
    same = gap_features(damaged, gap, {"loud": fills["loud"], "copy": fills["loud"].copy()})
    assert same["lsd_copy_loud"] == 0.0
    assert f["periodic_left"] > 0.8 and f["periodic_right"] > 0.8  # voiced either side


def test_periodicity_finds_the_pitch_period():
    t = np.arange(800) / RATE
    r, lag_ms = periodicity(np.sin(2 * np.pi * 125.0 * t))
    assert r > 0.95
    assert lag_ms == pytest.approx(8.0, abs=0.1)
    r_noise, _ = periodicity(np.random.default_rng(0).standard_normal(800))
    assert r_noise < 0.3


def test_only_a_second_either_side_counts():
    _, damaged, gap, fills = _case()
    far = damaged.copy()
    far[:3000] *= 10.0  # more than 1 s before the gap
    assert gap_features(damaged, gap, fills) == gap_features(far, gap, fills)


def test_other_unknown_samples_do_not_count_as_context():
    _, damaged, gap, fills = _case()
    known = np.ones(damaged.size, bool)
    known[gap[0] : gap[1]] = False
    loud = damaged.copy()
    loud[12_000:13_000] = 1.0  # another damaged stretch, not yet repaired
    known[12_000:13_000] = False
    assert gap_features(loud, gap, fills, known)["level_context"] == pytest.approx(
        gap_features(damaged, gap, fills, known)["level_context"], abs=0.01
    )
