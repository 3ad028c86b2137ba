"""Given regions grown to the edges of the dropout they cut into (engine.detect.snap)."""

import numpy as np
import pytest

from voicemend.engine import Audio, Region, save
from voicemend.engine.corrupt import packet_burst, zero_gap
from voicemend.engine.detect import DropoutKind
from voicemend.engine.detect.snap import Snap, SnapSettings, snap_regions, snap_regions_in_file
from voicemend.engine.inpaint import get_inpainter

from ..conftest import speech_like

RATE = 16000
BURST = Region(24000, 24000 + 960)  # 60 ms at 1.5 s
MS = RATE // 1000


@pytest.fixture
def clean():
    return Audio.from_array(speech_like(3.0, RATE, seed=5), RATE)


@pytest.fixture
def noise_burst(clean):
    return packet_burst(clean, BURST, -60.0, np.random.default_rng(1))


def short_of(region: Region, start_ms: float, end_ms: float) -> Region:
    return Region(region.start + round(start_ms * MS), region.end - round(end_ms * MS))


def test_a_selection_short_of_zeroed_samples_grows_to_their_exact_edges(clean):
    damaged = zero_gap(clean, BURST)
    (snap,) = snap_regions(damaged, [short_of(BURST, 3, 0.5)])
    assert snap.moved and snap.snapped == BURST
    assert snap.kind is DropoutKind.DIGITAL_SILENCE
    assert snap.describe(RATE) == "+3.0 ms before, +0.5 ms after (digital_silence)"


def test_a_selection_short_of_comfort_noise_grows_past_it(noise_burst):
    (snap,) = snap_regions(noise_burst, [short_of(BURST, 2, 4)])
    assert snap.kind is DropoutKind.PACKET_LOSS
    # the packet-loss detector pads filled bursts by 1 ms; no comfort noise may remain beside
    assert BURST.start - 2 * MS <= snap.snapped.start <= BURST.start
    assert BURST.end <= snap.snapped.end <= BURST.end + 2 * MS


def test_a_selection_short_of_comfort_noise_beside_quiet_speech_grows_past_it():
    """Comfort noise that ends in speech at its own level has one level step; the snap still
    finds the other edge, where the noise stops being white."""

    def at(x: np.ndarray, dbfs: float) -> np.ndarray:
        return (x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20)).astype(np.float32)

    loud = at(speech_like(1.5, RATE, seed=5), -20)
    quiet = at(speech_like(1.5, RATE, seed=6, f0_hz=110.0), -55)
    noise = at(np.random.default_rng(1).standard_normal(BURST.n_frames), -55)
    damaged = Audio.from_array(np.concatenate([loud, noise, quiet]), RATE)
    burst = Region(loud.size, loud.size + noise.size)
    (snap,) = snap_regions(damaged, [short_of(burst, 2, 4)])
    assert snap.kind is DropoutKind.PACKET_LOSS
    assert burst.start - 2 * MS <= snap.snapped.start <= burst.start
    assert burst.end <= snap.snapped.end <= burst.end + 3 * MS


def test_regions_over_clean_speech_or_covering_the_dropout_are_left_alone(clean, noise_burst):
    speech = [Region(8000, 8800), Region(40000, 41600)]
    assert all(not s.moved for s in snap_regions(clean, speech))
    wide = Region(BURST.start - 5 * MS, BURST.end + 5 * MS)
    assert snap_regions(noise_burst, [wide]) == [Snap(wide, wide)]


def test_an_edge_moves_at_most_max_extend_ms(clean):
    long_gap = Region(16000, 16000 + 400 * MS)
    damaged = zero_gap(clean, long_gap)
    middle = Region(long_gap.start + 100 * MS, long_gap.end - 100 * MS)
    (snap,) = snap_regions(damaged, [middle], SnapSettings(max_extend_ms=20.0))
    assert snap.snapped == Region(middle.start - 20 * MS, middle.end + 20 * MS)


def test_each_region_snaps_on_its_own_and_order_is_kept(clean):
    a, b = Region(12000, 12000 + 480), Region(36000, 36000 + 800)
    damaged = zero_gap(zero_gap(clean, a), b)
    snaps = snap_regions(damaged, [short_of(b, 1, 1), short_of(a, 2, 0)])
    assert [s.snapped for s in snaps] == [b, a]


def test_stereo_dropout_in_one_channel_snaps(clean):
    other = Audio.from_array(speech_like(3.0, RATE, seed=9, f0_hz=190.0), RATE)
    stereo = Audio(np.stack([clean.samples[0], other.samples[0]]), RATE)
    samples = stereo.samples.copy()
    samples[1, BURST.start : BURST.end] = 0.0
    (snap,) = snap_regions(stereo.with_samples(samples), [short_of(BURST, 2, 2)])
    assert snap.snapped == BURST


def test_the_file_version_matches_the_in_memory_one(tmp_path, noise_burst):
    path = save(noise_burst, tmp_path / "burst.wav", subtype="FLOAT")
    given = [short_of(BURST, 2, 4), Region(8000, 8800)]
    assert snap_regions_in_file(path, given) == snap_regions(noise_burst, given)
    assert snap_regions_in_file(path, []) == []


def test_snapping_is_what_lets_lsar_fill_a_burst_cut_short(clean, noise_burst):
    """The reason for snapping: comfort noise left beside the region misleads the fill."""
    given = short_of(BURST, 1, 1)
    (snap,) = snap_regions(noise_burst, [given])
    lsar = get_inpainter("lsar")
    window = slice(BURST.start - 10 * MS, BURST.end + 10 * MS)
    truth = clean.samples[0, window]

    def error_db(region: Region) -> float:
        filled = lsar.inpaint(noise_burst, [region]).audio.samples[0, window]
        return float(10 * np.log10(np.mean((filled - truth) ** 2) / np.mean(truth**2)))

    assert error_db(snap.snapped) < error_db(given) - 3.0


def test_to_dict_names_both_spans_in_seconds(clean):
    damaged = zero_gap(clean, BURST)
    (snap,) = snap_regions(damaged, [short_of(BURST, 2, 2)])
    assert snap.to_dict(RATE) == {
        "given_s": [1.502, 1.558],
        "snapped_s": [1.5, 1.56],
        "dropout": "digital_silence",
    }
