"""The peak pyramid against brute-force min/max."""

import numpy as np
import pytest

from voicemend.gui.peaks import BIN_FRAMES, FANOUT, PeakPyramid, copy_pyramid


def _reader(x):
    return lambda a, b: x[:, a:b]


@pytest.fixture
def signal():
    rng = np.random.default_rng(0)
    return rng.standard_normal((2, 300_001)).astype(np.float32)


def test_levels_hold_the_min_and_max_over_channels_and_bins(signal):
    pyr = PeakPyramid(signal.shape[1], _reader(signal))
    for level in (0, 1, 3):
        size = BIN_FRAMES * FANOUT**level
        lo, hi = pyr.levels[level]
        for b in (0, 7, lo.size - 1):
            block = signal[:, b * size : (b + 1) * size]
            assert lo[b] == block.min() and hi[b] == block.max()
    assert pyr.levels[-1][0].size == 1 and pyr.levels[-1][1][0] == signal.max()


def test_envelope_fits_the_width_and_brackets_the_samples(signal):
    pyr = PeakPyramid(signal.shape[1], _reader(signal))
    x, y = pyr.envelope(1000, 250_000, max_points=500)
    assert 0 < x.size <= 2 * 500
    assert y.max() <= signal.max() and y.min() >= signal.min()
    fine_x, _ = pyr.envelope(1000, 250_000, max_points=5000)
    assert fine_x.size > x.size  # a wider screen gets a finer level
    assert pyr.envelope(10, 10, 100)[0].size == 0


def test_update_after_an_edit_changes_only_what_it_touches(signal):
    edited = signal.copy()
    pyr = PeakPyramid(edited.shape[1], _reader(edited))
    twin = copy_pyramid(pyr, _reader(signal))
    edited[:, 100_000:100_500] = 5.0
    pyr.update(100_000, 100_500)
    for level in range(len(pyr.levels)):
        size = BIN_FRAMES * FANOUT**level
        b = 100_000 // size
        assert pyr.levels[level][1][b] == 5.0
        assert twin.levels[level][1][b] < 5.0  # the original's pyramid is its own copy
    np.testing.assert_array_equal(pyr.levels[0][1][:300], twin.levels[0][1][:300])
