import itertools

import numpy as np
import pytest

from voicemend.engine.audio import Audio
from voicemend.engine.corrupt import (
    GateSettings,
    active_mask,
    noise_gate,
    packet_region,
    speech_positions,
)
from voicemend.engine.evaluation.detection import Score, call_scenario, match
from voicemend.engine.metrics import band_energy_db, log_spectral_distance, si_sdr
from voicemend.engine.opus import OpusCodec, opus_available
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


def test_noise_gate_silences_the_pauses_and_leaves_the_speech():
    sr = 16000
    rng = np.random.default_rng(1)
    t = np.arange(sr) / sr
    x = 0.001 * rng.standard_normal(sr)  # room noise at -60 dBFS
    x[4000:8000] += 0.3 * np.sin(2 * np.pi * 200 * t[4000:8000])  # a 250 ms tone burst
    audio = Audio.from_array(x.astype(np.float32), sr)
    gated = noise_gate(audio, GateSettings(attack_ms=1.0, hold_ms=20.0, release_ms=20.0))
    y = gated.samples[0]
    assert np.all(y[:3500] == 0.0) and np.all(y[9500:] == 0.0)  # closed: exact zeros
    assert np.array_equal(y[4100:8000], audio.samples[0][4100:8000])  # open: untouched
    hold_end = 8000 + int(0.02 * sr)
    assert np.array_equal(y[8000:hold_end], audio.samples[0][8000:hold_end])  # held open
    gain = y[8000:9500] / audio.samples[0][8000:9500]
    assert np.all(np.diff(gain) <= 1e-6)  # then fades out, within hold + release + 5 ms
    assert np.any(gain < 0.99) and np.all(gain[int(0.045 * sr) :] == 0.0)
    assert np.array_equal(noise_gate(audio).samples, noise_gate(audio).samples)


def test_noise_gate_exponential_release_falls_in_db_and_bad_curves_are_refused():
    sr = 16000
    x = np.full(sr, 0.3, dtype=np.float32)
    x[sr // 2 :] = 1e-3  # a step down to -60 dBFS, under the threshold: the gate closes
    audio = Audio.from_array(x, sr)
    s = GateSettings(hold_ms=0.0, release_ms=50.0, release_curve="exponential")
    y = noise_gate(audio, s).samples[0]
    falling = np.flatnonzero((y > 0) & (y < 1e-3))
    level_db = 20 * np.log10(y[falling])
    steps = np.diff(level_db)
    assert falling.size > 0.045 * sr  # nearly the whole 50 ms release
    assert np.allclose(steps, -100.0 / (0.05 * sr), atol=1e-3)  # linear in dB
    assert np.all(y[falling[-1] + 1 :] == 0.0)  # then exactly 0
    with pytest.raises(ValueError, match="release_curve"):
        GateSettings(release_curve="cosine")


@pytest.mark.skipif(not opus_available(), reason="libopus0 is not installed")
@pytest.mark.parametrize("rate", [16000, 48000])
def test_a_call_scenario_loses_whole_packets_in_speech(rate):
    """Bursts of whole 20 ms packets, apart from each other, named on the file's own samples;
    the lossless decode differs from the lossy one only from the first burst on."""
    audio = Audio.from_array(speech_like(4.0, rate, seed=3), rate)
    codec = OpusCodec(24000, 16000)
    coded, concealed, truth = call_scenario(audio, codec, np.random.default_rng(1), 3)
    assert coded.sample_rate == concealed.sample_rate == rate
    assert 1 <= len(truth) <= 3
    packet = 0.02 * rate
    for r in truth:
        assert r.start % packet == 0 and r.n_frames % packet == 0 and r.n_frames <= 6 * packet
    assert all(b.start - a.end >= packet for a, b in itertools.pairwise(truth))
    first = truth[0].start
    margin = int(0.004 * rate)  # the resampler's reach
    assert np.allclose(coded.samples[0, : first - margin], concealed.samples[0, : first - margin])
    assert not np.allclose(
        coded.samples[0, truth[0].start : truth[0].end],
        concealed.samples[0, truth[0].start : truth[0].end],
    )
