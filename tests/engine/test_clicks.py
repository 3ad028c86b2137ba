import numpy as np
import pytest
from scipy.signal import lfilter

from voicemend.engine.audio import Audio
from voicemend.engine.detect import (
    DEFAULT_KINDS,
    ClickSettings,
    DetectorSettings,
    DropoutDetector,
    DropoutKind,
    kinds_sought,
)
from voicemend.engine.detect.clicks import ar_residual, find_clicks, levinson

from ..conftest import speech_like

RATES = [16_000, 48_000]


def with_clicks(x: np.ndarray, at: list[int], above_db: float = 30.0) -> np.ndarray:
    """One-sample clicks ``above_db`` over the level of the 40 ms around each."""
    y = x.astype(np.float64).copy()
    for n, sign in zip(at, np.resize([1, -1], len(at)), strict=True):
        half = x.size // 100
        level = np.sqrt(np.mean(x[max(0, n - half) : n + half].astype(np.float64) ** 2))
        y[n] += sign * level * 10 ** (above_db / 20)
    return y.astype(np.float32)


def test_levinson_recovers_an_ar_process_and_its_innovations():
    rng = np.random.default_rng(0)
    innovations = rng.standard_normal(20_000)
    x = lfilter([1.0], [1.0, -1.6, 0.8], innovations)
    r = np.array([[np.dot(x[: x.size - k], x[k:]) for k in range(3)]])
    assert np.allclose(levinson(r, 2)[0], [1.0, -1.6, 0.8], atol=0.02)
    e = ar_residual(x, 2, 1024, 512)
    assert np.corrcoef(e[100:], innovations[100:])[0, 1] > 0.99


def test_levinson_leaves_a_silent_block_unfiltered():
    a = levinson(np.zeros((1, 5)), 4)
    assert np.array_equal(a, [[1.0, 0.0, 0.0, 0.0, 0.0]])


@pytest.mark.parametrize("rate", RATES)
def test_finds_each_click_where_it_is_and_nothing_else(rate):
    x = speech_like(2.0, rate, seed=3)
    at = [int(rate * t) for t in (0.31, 0.82, 1.47)]
    found = find_clicks(with_clicks(x, at), rate, ClickSettings())
    assert len(found) == 3
    for det, n in zip(found, at, strict=True):
        assert det.kind is DropoutKind.CLICK
        assert det.region.start <= n < det.region.end
        assert det.region.n_frames <= 2 * rate // 1000  # the sample and 0.5 ms a side
        assert 0.5 <= det.confidence <= 1.0
    assert find_clicks(x, rate, ClickSettings()) == []  # the clean voice: pulses, no click


def test_louder_clicks_are_surer():
    rate = 16_000
    x = speech_like(1.0, rate, seed=4)
    soft = find_clicks(with_clicks(x, [8000], 22.0), rate, ClickSettings())
    loud = find_clicks(with_clicks(x, [8000], 45.0), rate, ClickSettings())
    assert len(soft) == len(loud) == 1 and soft[0].confidence < loud[0].confidence


def test_a_burst_of_noise_is_no_click():
    """Each sample of a 10 ms burst has others as large around it (the other kinds look for
    bursts)."""
    rate = 16_000
    x = speech_like(1.0, rate, seed=5).astype(np.float64)
    x[8000:8160] += 2.0 * np.random.default_rng(1).standard_normal(160)
    assert find_clicks(x, rate, ClickSettings()) == []


def test_silence_and_short_input_have_no_clicks():
    assert find_clicks(np.zeros(16_000), 16_000, ClickSettings()) == []
    assert find_clicks(np.ones(10), 16_000, ClickSettings()) == []


def test_the_detector_seeks_clicks_only_when_asked():
    rate = 16_000
    y = with_clicks(speech_like(1.5, rate, seed=6), [12_000])
    audio = Audio.from_array(y, rate)
    assert DropoutKind.CLICK not in DEFAULT_KINDS
    assert DropoutDetector()(audio) == []
    found = DropoutDetector(DetectorSettings(kinds=kinds_sought(clicks=True)))(audio)
    assert [d.kind for d in found] == [DropoutKind.CLICK]
    assert found[0].region.start <= 12_000 < found[0].region.end


def test_kinds_sought_adds_each_opt_in_kind_asked_for():
    assert kinds_sought() == DEFAULT_KINDS
    assert kinds_sought(concealed=True) == (*DEFAULT_KINDS, DropoutKind.CONCEALED)
    assert kinds_sought(clicks=True) == (*DEFAULT_KINDS, DropoutKind.CLICK)
    assert set(kinds_sought(True, True)) == set(DropoutKind)
