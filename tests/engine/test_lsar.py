import numpy as np
import pytest

from voicemend.engine.inpaint.lpc import estimate_ar
from voicemend.engine.inpaint.lsar import lsar_interpolate
from voicemend.engine.runs import true_runs


def dense_lsar(x, known, coeffs):
    """Reference: forward + backward prediction error minimised with dense matrices."""
    n, p = x.size, coeffs.size - 1
    fwd, bwd = np.zeros((n - p, n)), np.zeros((n - p, n))
    for k in range(n - p):
        fwd[k, k : k + p + 1] = coeffs[::-1]
        bwd[k, k : k + p + 1] = coeffs
    m = np.vstack([fwd, bwd])
    u, kn = ~known, known
    rhs = -m[:, u].T @ (m[:, kn] @ x[kn])
    return np.linalg.solve(m[:, u].T @ m[:, u], rhs)


@pytest.mark.parametrize("gaps", [[(200, 240)], [(100, 130), (150, 170)], [(0, 20)], [(380, 400)]])
def test_banded_solve_matches_dense_reference(gaps):
    rng = np.random.default_rng(1)
    x = np.convolve(rng.standard_normal(400), [1, 0.8, 0.3], mode="same")
    known = np.ones(400, dtype=bool)
    for a, b in gaps:
        known[a:b] = False
    coeffs = estimate_ar([x[a:b] for a, b in true_runs(known)], 12)
    expected = dense_lsar(x, known, coeffs)
    got = lsar_interpolate(x, known, order=12, iterations=1)[~known]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_recovers_a_tonal_gap_closely():
    t = np.arange(4000) / 16000
    noise = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    x = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t + 1) + noise
    known = np.ones(x.size, dtype=bool)
    known[2000:2480] = False  # 30 ms
    y = lsar_interpolate(x, known, order=40, iterations=2)
    err = np.sqrt(np.mean((y[~known] - x[~known]) ** 2)) / np.sqrt(np.mean(x**2))
    assert err < 0.1


def test_known_samples_are_returned_unchanged():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(1000)
    known = np.ones(1000, dtype=bool)
    known[400:450] = False
    y = lsar_interpolate(x, known, 20)
    np.testing.assert_array_equal(y[known], x[known])
