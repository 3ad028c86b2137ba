import itertools

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
from voicemend.engine.detect.clicks import ar_residual, find_clicks, levinson, two_sided_error

from ..conftest import speech_like

RATES = [16_000, 48_000]


def with_clicks(x: np.ndarray, rate: int, at: list[int], above_db: float = 30.0) -> np.ndarray:
    """One-sample clicks of alternating sign, ``above_db`` over the level of the 40 ms around
    each (``engine.corrupt.add_click``)."""
    from voicemend.engine.corrupt import add_click

    audio = Audio.from_array(x, rate)
    for n, sign in zip(at, np.resize([1.0, -1.0], len(at)), strict=True):
        audio = add_click(audio, n, np.array([sign]), above_db)[0]
    return audio.samples[0]


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
    found = find_clicks(with_clicks(x, rate, at), rate, ClickSettings())
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
    found = [
        find_clicks(with_clicks(x, rate, [8000], db), rate, ClickSettings())
        for db in (10.0, 18.0, 26.0)
    ]
    assert [len(f) for f in found] == [1, 1, 1]
    confidence = [f[0].confidence for f in found]
    assert 0.5 <= confidence[0] < confidence[1] < confidence[2] <= 1.0


def test_a_quiet_click_stands_out_further_once_its_blocks_are_fitted_without_it():
    """A click 10 dB over the voice holds a fair share of its 64 ms block's energy, and the
    model fitted with it predicts the voice around it worse. Fitted again without it, the
    model makes the click stand out further; the click alone is flagged, not the samples
    whose prediction it spoiled."""
    rate = 16_000
    x = speech_like(2.0, rate, seed=3)
    at = [5000, 13_000, 24_000]
    y = with_clicks(x, rate, at, 10.0)
    refit = find_clicks(y, rate, ClickSettings())
    once = find_clicks(y, rate, ClickSettings(suspect_ratio=np.inf))
    for found in (refit, once):
        assert [d.region.start <= n < d.region.end for d, n in zip(found, at, strict=True)] == [
            True
        ] * 3
        assert all(d.region.n_frames <= 2 * rate // 1000 + 2 for d in found)
    assert all(a.confidence > b.confidence for a, b in zip(refit, once, strict=True))


def test_the_two_sided_error_piles_a_click_up_at_its_sample():
    """Forward, a click spoils the ``order`` predictions after it; filtered backwards by the
    same model, its error gathers at the click, times the sum of the squared coefficients."""
    a = np.array([[1.0, -1.6, 0.8]])
    e = np.zeros(64)
    e[30] = 1.0  # a click's forward error: a at 30, 31, 32 (here the error itself)
    e = np.convolve(e, a[0])[:64]
    d = two_sided_error(e, a, 64)
    assert np.argmax(np.abs(d)) == 30
    assert d[30] == pytest.approx(np.sum(a**2))
    assert np.count_nonzero(np.abs(d) > 1e-12) == 5  # 28..32: the model's autocorrelation


@pytest.mark.parametrize("shape", ["doublet", "ring"])
def test_a_click_of_several_samples_is_repaired_over_its_own_samples(shape):
    from voicemend.engine.corrupt import add_click, click_shape

    rate = 16_000
    audio = Audio.from_array(speech_like(1.0, rate, seed=12), rate)
    click = click_shape(shape, rate, np.random.default_rng(2))
    clicked, truth = add_click(audio, 8000, click, 25.0)
    [found] = find_clicks(clicked.samples[0], rate, ClickSettings())
    pad = rate // 2000
    assert found.region.start <= truth.start and found.region.end >= truth.end - 2
    # no more than a millisecond past its end (a ring's faint tail still spoils what follows)
    assert found.region.n_frames <= truth.n_frames + 2 * pad + rate // 1000


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
    y = with_clicks(speech_like(1.5, rate, seed=6), rate, [12_000])
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
    # all but what reading finds (NaN samples, engine.nonfinite), which is never sought
    assert set(kinds_sought(True, True)) == set(DropoutKind) - {DropoutKind.NON_FINITE}


def test_add_click_sets_the_peak_over_the_speech_around_it():
    from voicemend.engine.corrupt import CLICK_SHAPES, add_click, click_shape

    rate = 16_000
    audio = Audio.from_array(speech_like(1.0, rate, seed=8), rate)
    level = np.sqrt(np.mean(audio.samples[0, 7680:8320].astype(np.float64) ** 2))
    rng = np.random.default_rng(0)
    for kind in CLICK_SHAPES:
        shape = click_shape(kind, rate, rng)
        assert np.max(np.abs(shape)) == pytest.approx(1.0) and shape.size <= 2 * rate // 1000
        clicked, region = add_click(audio, 8000, shape, 30.0)
        added = clicked.samples[0].astype(np.float64) - audio.samples[0]
        assert region.start == 8000 and region.n_frames == shape.size
        assert np.flatnonzero(added).min() >= 8000 and np.flatnonzero(added).max() < region.end
        assert 20 * np.log10(np.max(np.abs(added)) / level) == pytest.approx(30.0, abs=0.01)
    with pytest.raises(ValueError, match="unknown click shape"):
        click_shape("pop", rate, rng)


def test_the_detection_bench_click_scenario_puts_clicks_in_speech():
    from voicemend.engine.evaluation.detection import click_scenario

    rate = 16_000
    audio = Audio.from_array(speech_like(4.0, rate, seed=9), rate)
    damaged, truth = click_scenario(audio, np.random.default_rng(0), 5)
    assert len(truth) == 5 and truth == sorted(truth)
    assert all(b.start - a.end >= 0.025 * rate for a, b in itertools.pairwise(truth))
    changed = np.flatnonzero(damaged.samples[0] != audio.samples[0])
    assert all(any(r.start <= n < r.end for r in truth) for n in changed)
    found = DropoutDetector(DetectorSettings(kinds=(DropoutKind.CLICK,))).regions(damaged)
    assert sum(any(f.start <= t.start < f.end for f in found) for t in truth) >= 4


def test_a_click_in_a_call_saved_at_a_higher_rate_is_found_at_the_calls_rate():
    """Clicked at 16 kHz, then resampled to 48 kHz: the click is as band-limited as the voice,
    and at 48 kHz the model predicts both nearly perfectly. The detector seeks it at the rate
    the band fits."""
    from voicemend.engine.rates import to_rate

    y16 = with_clicks(speech_like(2.0, 16_000, seed=10), 16_000, [16_000], 35.0)
    y48 = to_rate(y16, 16_000, 48_000).astype(np.float32)
    detector = DropoutDetector(DetectorSettings(kinds=(DropoutKind.CLICK,)))
    [found] = detector(Audio.from_array(y48, 48_000))
    assert found.region.start <= 48_000 < found.region.end
    assert found.region.n_frames <= 48 * 3


def test_sound_starting_from_digital_silence_is_no_click_but_a_blip_in_it_is():
    """A gate opening on a voice (exact zeros, then speech at once) is an edge the silence
    search handles; one sample alone in exact zeros is a click."""
    rate = 16_000
    t = np.arange(rate) / rate  # a steady hum: its prediction error is next to nothing
    noise = 1e-4 * np.random.default_rng(0).standard_normal(rate)
    x = 0.3 * np.sin(2 * np.pi * 150 * t + 1.0) + noise
    x[:6000] = 0.0  # opens at 6000
    x[10_000:12_000] = 0.0  # closes at 10 000, opens again at 12 000
    assert find_clicks(x, rate, ClickSettings()) == []
    x[11_000] = 0.05
    [blip] = find_clicks(x, rate, ClickSettings())
    assert blip.region.start <= 11_000 < blip.region.end


def test_a_click_in_speech_saved_at_8_khz_is_not_its_own_neighbour():
    """At 8 kHz the 2 ms left out around a sample are 16 samples, fewer than the 20 over
    which a click's own two-sided error spreads; were they all that is left out, a click's
    error would be its own neighbour and cap its score."""
    from voicemend.engine.rates import to_rate

    at = [5000, 13_000, 24_000]
    clean = speech_like(2.0, 16_000, seed=3)
    y8 = to_rate(with_clicks(clean, 16_000, at, 25.0), 16_000, 8000)
    found = find_clicks(y8, 8000, ClickSettings())
    assert [d.region.start <= n // 2 < d.region.end for d, n in zip(found, at, strict=True)] == [
        True
    ] * 3
    assert find_clicks(to_rate(clean, 16_000, 8000), 8000, ClickSettings()) == []


def test_clicks_in_speech_saved_at_22_khz_are_found(dev_files):
    """16 kHz speech saved at 22.05 kHz measures a band of 8.3-9.2 kHz, over 80 % of the
    file's: read as full band, it was analysed at 22.05 kHz, where the empty top band made
    every click predictable (0 of 100 found on 10 dev files). It is analysed at 16 kHz."""
    from voicemend.engine.evaluation.detection import click_scenario
    from voicemend.engine.io import load
    from voicemend.engine.rates import to_rate

    rate = 22_050
    detector = DropoutDetector(DetectorSettings(kinds=(DropoutKind.CLICK,)))
    found = total = 0
    for i, f in enumerate(dev_files[:2]):
        damaged, truth = click_scenario(load(f.path), np.random.default_rng([0, i, 3]), 8)
        saved = Audio(to_rate(damaged.samples, 16_000, rate).astype(np.float32), rate)
        regions = detector.regions(saved)
        at = [round(t.start * rate / 16_000) for t in truth]
        found += sum(any(r.start - 2 <= n < r.end + 2 for r in regions) for n in at)
        total += len(truth)
    assert found >= 0.75 * total
