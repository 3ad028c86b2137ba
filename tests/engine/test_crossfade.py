import numpy as np
import pytest

from voicemend.engine.crossfade import adaptive_ramp, equal_power_ramp, paste


def test_equal_power_ramp_sums_to_unit_power():
    fade_in, fade_out = equal_power_ramp(64)
    np.testing.assert_allclose(fade_in**2 + fade_out**2, 1.0)
    assert np.all(np.diff(fade_in) > 0)


def test_paste_touches_only_the_span():
    target = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    original = target.copy()
    fill = np.ones((2, 10 + 100 + 5))
    paste(target, fill, 400, 500, 10, 5)
    np.testing.assert_array_equal(target[:, :390], original[:, :390])
    np.testing.assert_array_equal(target[:, 505:], original[:, 505:])
    np.testing.assert_array_equal(target[:, 400:500], 1.0)
    # inside the fades, the result moves from the original towards the fill
    assert not np.array_equal(target[:, 390:400], original[:, 390:400])


def test_paste_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        paste(np.zeros((1, 100)), np.zeros((1, 5)), 10, 20, 0, 0)
    with pytest.raises(ValueError, match="outside"):
        paste(np.zeros((1, 100)), np.zeros((1, 25)), 5, 20, 10, 0)


def test_adaptive_ramp_preserves_power_for_correlated_and_uncorrelated_signals():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4000)
    fade_in, fade_out = adaptive_ramp(4000, a, a)  # identical: a linear fade keeps the level
    np.testing.assert_allclose(fade_in + fade_out, 1.0, atol=1e-9)
    b = rng.standard_normal(4000)
    fade_in, fade_out = adaptive_ramp(4000, a, b)  # unrelated: close to equal power
    np.testing.assert_allclose(fade_in**2 + fade_out**2, 1.0, atol=0.05)
