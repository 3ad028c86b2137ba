"""``choice``: per gap, the candidate a linear model rates best, built from two methods' fills."""

import json
import math

import numpy as np
import pytest

from voicemend.engine import INPAINTERS, Audio, Region
from voicemend.engine.errors import CheckpointError
from voicemend.engine.inpaint import Lsar, Pattern
from voicemend.engine.inpaint.choice import Choice, LinearChoice
from voicemend.engine.inpaint.crossover import Crossover
from voicemend.engine.inpaint.gap_features import RATE

from ..conftest import speech_like


def _model(tmp_path, bias: float, gap_range=(250.0, 450.0), name="m.json", **over):
    """A model whose only feature is the gap length and whose only alternative is the high
    method's fill ("neural-mel"): predicted PESQ change = ``bias``, PLCMOS change 0."""
    data = {
        "features": ["gap_ms"],
        "mean": [0.0],
        "scale": [1.0],
        "alternatives": ["neural-mel"],
        "pesq": {"neural-mel": [0.0, bias]},
        "plcmos": {"neural-mel": [0.0, -1.0]},
        "lambda_by_gap_ms": [[300.0, 0.0], [400.0, 0.0]],
        "gap_range_ms": list(gap_range),
        **over,
    }
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return LinearChoice.from_json(path)


@pytest.fixture
def damaged():
    x = speech_like(1.5, RATE, seed=3)
    gap = Region(12_000, 12_000 + 4_800)  # 300 ms
    y = x.copy()
    y[gap.start : gap.end] = 0.0
    return Audio.from_array(y, RATE), gap


def _choice(model):
    return Choice(Lsar(), Pattern(), model)  # "neural-mel" is the high method: pattern here


def test_it_takes_the_alternative_only_when_the_model_says_so(tmp_path, damaged):
    audio, gap = damaged
    hybrid = Crossover(Lsar(), Pattern()).inpaint(audio, [gap])
    keep = _choice(_model(tmp_path, -0.1)).inpaint(audio, [gap])
    np.testing.assert_array_equal(keep.audio.samples, hybrid.audio.samples)
    assert keep.reports[0].notes.startswith("chose hybrid")
    switch = _choice(_model(tmp_path, +0.1)).inpaint(audio, [gap])
    assert switch.reports[0].notes.startswith("chose neural-mel")
    high_alone = Pattern().inpaint(audio, [gap]).audio.samples
    inside = slice(gap.start, gap.end)
    np.testing.assert_allclose(switch.audio.samples[:, inside], high_alone[:, inside], atol=1e-6)


def test_samples_outside_the_gap_stay_bit_identical(tmp_path, damaged):
    audio, gap = damaged
    out = _choice(_model(tmp_path, +0.1)).inpaint(audio, [gap]).audio.samples
    fade = int(0.010 * RATE)
    keep = np.ones(audio.n_frames, bool)
    keep[gap.start - fade : gap.end + fade] = False
    np.testing.assert_array_equal(out[:, keep], audio.samples[:, keep])


def test_gaps_outside_the_models_range_take_hybrid(tmp_path, damaged):
    audio, gap = damaged
    result = _choice(_model(tmp_path, +0.1, gap_range=(350.0, 450.0))).inpaint(audio, [gap])
    assert result.reports[0].notes.startswith("chose hybrid")


def test_stereo_gets_one_choice_for_both_channels(tmp_path):
    rate = 48_000
    left, right = speech_like(1.5, rate, seed=1), speech_like(1.5, rate, seed=2)
    gap = Region(36_000, 36_000 + 14_400)
    samples = np.stack([left, right])
    samples[:, gap.start : gap.end] = 0.0
    result = _choice(_model(tmp_path, +0.1)).inpaint(Audio(samples, rate), [gap])
    assert result.reports[0].notes.startswith("chose neural-mel")
    assert np.all(np.isfinite(result.audio.samples))


def test_a_bad_model_file_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"bad\.json"):
        LinearChoice.from_json(bad)
    with pytest.raises(CheckpointError, match="unknown fills"):
        _model(
            tmp_path,
            0.0,
            alternatives=["rm -rf"],
            pesq={"rm -rf": [0.0, 0.0]},
            plcmos={"rm -rf": [0.0, 0.0]},
        )
    with pytest.raises(CheckpointError, match="wrong shape"):
        _model(tmp_path, 0.0, mean=[0.0, 1.0])


@pytest.fixture(scope="module")
def tiny_exemplar():
    import torch

    from voicemend.engine.inpaint.exemplar import Exemplar
    from voicemend.engine.models.mel_transformer import MelTransformer, MelTransformerConfig

    torch.manual_seed(0)
    config = MelTransformerConfig(
        d_model=32, num_layers=1, num_heads=4, ff_dim=64, pos_kernel=7, pos_groups=4, dropout=0.0
    )
    return Exemplar(MelTransformer(config), device="cpu")


def _exemplar_model(tmp_path, bias: float, **over):
    """A model that measures the exemplar fill (its one feature: that fill's level) and may
    pick it: predicted PESQ change ``bias`` for ``exemplar``, -1 for ``neural-mel``."""
    over = {
        "features": ["exemplar_level"],
        "alternatives": ["neural-mel", "exemplar"],
        "pesq": {"neural-mel": [0.0, -1.0], "exemplar": [0.0, bias]},
        "plcmos": {"neural-mel": [0.0, 0.0], "exemplar": [0.0, 0.0]},
        "measured": ["lsar", "pattern", "neural-mel", "hybrid", "exemplar"],
        **over,
    }
    return _model(tmp_path, 0.0, name="exemplar.json", **over)


def test_a_model_that_reads_the_exemplar_fill_gets_it(tmp_path, damaged, tiny_exemplar):
    """A model may measure and pick the context's copy (``exemplar``); inside the gap the
    pick is what ``exemplar`` alone makes, and outside gap and crossfades nothing changes."""
    audio, gap = damaged
    model = _exemplar_model(tmp_path, +0.1)
    with pytest.raises(ValueError, match="exemplar"):
        Choice(Lsar(), Pattern(), model)
    choice = Choice(Lsar(), Pattern(), model, tiny_exemplar)
    result = choice.inpaint(audio, [gap])
    assert result.reports[0].notes.startswith("chose exemplar")
    assert "stretch(es) of context" in result.reports[0].notes  # the copy's own note
    alone = tiny_exemplar.inpaint(audio, [gap]).audio.samples
    inside = slice(gap.start, gap.end)
    np.testing.assert_allclose(result.audio.samples[:, inside], alone[:, inside], atol=1e-6)
    fade = int(0.010 * RATE)
    keep = np.ones(audio.n_frames, bool)
    keep[gap.start - fade : gap.end + fade] = False
    np.testing.assert_array_equal(result.audio.samples[:, keep], audio.samples[:, keep])
    keep_hybrid = Choice(Lsar(), Pattern(), _exemplar_model(tmp_path, -0.1), tiny_exemplar)
    assert keep_hybrid.inpaint(audio, [gap]).reports[0].notes.startswith("chose hybrid")
    # a model without it never makes the copy
    assert Choice(Lsar(), Pattern(), _model(tmp_path, 0.1), tiny_exemplar).exemplar is None


def test_pitch_repetitions_fill_is_the_one_it_makes_alone(tmp_path, damaged):
    """The model was fitted on features of ``pattern``'s fill as it repairs a gap alone, so the
    choice makes that fill: with pattern's own crossfades, whose start is where its history
    ends (without them the fill differed by up to 9 dB in the gap's middle)."""
    audio, gap = damaged
    model = _model(
        tmp_path,
        0.0,
        alternatives=["pattern"],
        pesq={"pattern": [0.0, 0.1]},
        plcmos={"pattern": [0.0, 0.0]},
    )
    result = _choice(model).inpaint(audio, [gap])
    assert result.reports[0].notes.startswith("chose pattern")
    alone = Pattern().inpaint(audio, [gap]).audio.samples
    inside = slice(gap.start, gap.end)
    np.testing.assert_allclose(result.audio.samples[:, inside], alone[:, inside], atol=1e-6)


def test_a_model_must_measure_the_four_fills_and_only_known_ones(tmp_path):
    with pytest.raises(CheckpointError, match="must measure"):
        _exemplar_model(tmp_path, 0.0, measured=["lsar", "hybrid", "exemplar"])
    with pytest.raises(CheckpointError, match="must measure"):
        _exemplar_model(tmp_path, 0.0, measured=["lsar", "pattern", "neural-mel", "hybrid", "x"])


def test_lambda_follows_the_gap_length(tmp_path):
    model = _model(tmp_path, 0.0, lambda_by_gap_ms=[[300.0, 0.7], [400.0, 0.5]])
    assert model.weight(300.0) == pytest.approx(0.7)
    assert model.weight(350.0) == pytest.approx(0.6)
    assert model.weight(450.0) == pytest.approx(0.5)  # held past the last point


@pytest.mark.skipif("choice" not in INPAINTERS, reason="the choice model is not shipped")
def test_the_shipped_model_chooses_in_stereo_at_48k(example_clip):
    """Real speech (the bundled clip) at 48 kHz stereo, 300 ms gaps: each gap gets one of the
    model's fills, and nothing outside the gaps ± crossfade changes."""
    from voicemend.engine import load
    from voicemend.engine.inpaint import get_inpainter

    rate = 48_000
    x = load(example_clip).to_mono().resampled(rate).samples[0]
    samples = np.stack([x, 0.5 * x])
    gaps = [Region(int(t * rate), int((t + 0.3) * rate)) for t in (1.0, 2.5, 4.0, 5.5)]
    for g in gaps:
        samples[:, g.start : g.end] = 0.0
    choice = get_inpainter("choice", device="cpu")
    result = choice.inpaint(Audio(samples, rate), gaps)
    picks = {r.notes.split()[1] for r in result.reports}
    assert picks <= {"hybrid", *choice.model.alternatives}
    keep = np.ones(samples.shape[1], bool)
    fade = int(0.010 * rate)
    for g in gaps:
        keep[g.start - fade : g.end + fade] = False
    np.testing.assert_array_equal(result.audio.samples[:, keep], samples[:, keep])
    filled = result.audio.samples[:, gaps[0].start : gaps[0].end]
    assert np.all(np.isfinite(filled)) and np.abs(filled).max() > 1e-3


def test_a_bench_knows_it_as_hybrid_outside_the_models_range(tmp_path):
    from voicemend.engine.inpaint import Auto

    choice = _choice(_model(tmp_path, +0.1))
    assert [choice.same_as(ms) for ms in (200.0, 300.0, 450.0, 600.0)] == [
        "hybrid",
        "choice",
        "choice",
        "hybrid",
    ]
    auto = Auto(table=((100.0, "lsar"), (math.inf, "pattern")), device="cpu")
    assert (auto.same_as(50.0), auto.same_as(300.0)) == ("lsar", "pattern")


def test_a_picked_copy_takes_hybrids_band_over_the_models():
    """Above the 8 kHz the models see, a picked exemplar copy is hybrid's fill, whose high band
    follows the context (the copy's may be a fricative's where a vowel was); at 16 kHz there
    is no such band and the copy is kept whole."""
    from scipy.signal import butter, sosfiltfilt

    from voicemend.engine.inpaint.choice import _in_band

    rng = np.random.default_rng(0)
    copy, hybrid = rng.standard_normal((2, 1, 48_000))
    np.testing.assert_array_equal(
        _in_band(copy[:, :16_000], hybrid[:, :16_000], RATE), copy[:, :16_000]
    )
    mixed = _in_band(copy, hybrid, 48_000)
    high = butter(8, 9_000, btype="highpass", fs=48_000, output="sos")
    low = butter(8, 5_000, btype="lowpass", fs=48_000, output="sos")
    inner = slice(4_000, -4_000)
    for band, like in ((high, hybrid), (low, copy)):
        error = sosfiltfilt(band, mixed - like)[:, inner]
        assert np.sqrt(np.mean(error**2)) < 0.02 * np.sqrt(np.mean(sosfiltfilt(band, like) ** 2))
