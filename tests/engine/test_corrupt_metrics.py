import itertools

import numpy as np

from voicemend.engine.corrupt import active_mask, packet_region, speech_positions
from voicemend.engine.evaluation.detection import Score, match
from voicemend.engine.metrics import band_energy_db, log_spectral_distance, si_sdr
from voicemend.engine.regions import Region

from ..conftest import speech_like


def test_positions_lie_in_active_speech_and_are_seeded():
    x = np.zeros(48000, dtype=np.float32)
    x[16000:40000] = speech_like(1.5, 16000)
    a = speech_positions(x, 16000, 1600, 5, np.random.default_rng(7))
    b = speech_positions(x, 16000, 1600, 5, np.random.default_rng(7))
    assert a == b and len(a) == 5
    active = active_mask(x, 16000)
    for r in a:
        assert active[r.start : r.end].mean() >= 0.9
        assert r.start >= 16000 and r.end <= 40000
    for r, s in itertools.pairwise(a):
        assert r.end <= s.start


def test_packet_region_is_grid_aligned():
    r = packet_region(1000, 3, 16000, grid_offset=100)
    assert (r.start - 100) % 320 == 0 and r.n_frames == 960 and r.start >= 1000


def test_lsd_and_si_sdr_on_known_signals():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000)
    assert log_spectral_distance(x, x, 16000) == 0.0
    assert abs(log_spectral_distance(x, 0.5 * x, 16000) - 20 * np.log10(2)) < 1e-3  # floor
    assert si_sdr(x, 3 * x) > 100
    noisy = x + 0.1 * rng.standard_normal(16000)
    assert abs(si_sdr(x, noisy) - 20) < 0.5


def test_band_energy():
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * 1000 * t)
    assert band_energy_db(x, 16000, 900, 1100) > band_energy_db(x, 16000, 3000, 5000) + 60


def test_match_scores():
    truth = [Region(0, 100), Region(1000, 1100)]
    found = [Region(5, 98), Region(2000, 2100)]
    score, errors = match(truth, found, tolerance=10)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 1, 1)
    assert errors == [5]
    assert Score(9, 1, 0).f1 == 2 * 0.9 / 1.9
