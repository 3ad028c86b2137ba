"""Chains of pedalboard effects and voicemend stages, and the processors' call shape."""

import numpy as np
import pedalboard
import pytest

from voicemend.engine.errors import InvalidAudioError, VoicemendError
from voicemend.plugin.chain import Chain
from voicemend.plugin.presets import BUILTINS
from voicemend.plugin.processors import DetectDropouts, Inpaint

from ..conftest import speech_like

RATE = 48000
GAP = slice(24000, 26400)  # 50 ms


@pytest.fixture
def damaged():
    x = np.stack([speech_like(1.0, RATE, seed=1), speech_like(1.0, RATE, seed=2)])
    x[:, GAP] = 0.0
    return x


def make_builtin(name, tmp_path):
    if name == "Convolution":
        ir = np.zeros(256, dtype=np.float32)
        ir[0], ir[100] = 1.0, 0.3
        return pedalboard.Convolution(ir, sample_rate=RATE)
    return BUILTINS[name]()


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_effect_chains_around_inpaint(name, damaged, tmp_path):
    effect = make_builtin(name, tmp_path)
    chain = Chain(
        [effect, DetectDropouts(), Inpaint(regions=[(0.5, 0.55)]), make_builtin(name, tmp_path)]
    )
    out = chain(damaged, RATE)
    assert out.shape == damaged.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert len(chain.last_context.reports) >= 1  # the gap was repaired between the effects


def test_inpaint_alone_matches_pedalboard_shapes(damaged):
    mono = damaged[0].copy()
    out = Inpaint(regions=[(0.5, 0.55)], method="lsar")(mono, RATE)
    assert out.shape == mono.shape and out.dtype == np.float32
    assert np.any(out[GAP] != 0)
    np.testing.assert_array_equal(out[: GAP.start], mono[: GAP.start])
    stereo = Inpaint(auto=True)(damaged, float(RATE))
    assert stereo.shape == damaged.shape and np.any(stereo[:, GAP] != 0)


def test_detect_feeds_inpaint_and_empty_chain_is_identity(damaged):
    detect = DetectDropouts()
    chain = Chain([detect, pedalboard.Gain(gain_db=0.0), Inpaint()])
    out = chain(damaged, RATE)
    assert len(detect.detections) == 1
    assert np.any(out[:, GAP] != 0)
    np.testing.assert_array_equal(Chain([])(damaged, RATE), damaged)


def test_segments_group_native_plugins():
    chain = Chain(
        [pedalboard.Gain(), pedalboard.HighpassFilter(), Inpaint(), pedalboard.Compressor()]
    )
    kinds = [type(s).__name__ for s in chain.segments()]
    assert kinds == ["Pedalboard", "Inpaint", "Pedalboard"]


def test_tail_lets_a_reverb_ring_out():
    x = np.zeros((1, 4800), dtype=np.float32)
    x[0, 0] = 1.0
    out = Chain([pedalboard.Reverb(room_size=0.9)], tail_s=0.5)(x, RATE)
    assert out.shape == (1, 4800 + 24000)
    assert np.abs(out[0, 4800:]).max() > 1e-4


def test_latency_is_compensated():
    # a plugin with latency (here a look-ahead limiter) must not shift the audio in time
    x = np.zeros((1, RATE), dtype=np.float32)
    x[0, 10000] = 0.5
    out = Chain([pedalboard.Limiter(threshold_db=0.0)])(x, RATE)
    assert abs(int(np.argmax(np.abs(out[0]))) - 10000) <= 2


def test_layout_and_input_errors(damaged):
    with pytest.raises(InvalidAudioError, match="looks like"):
        Inpaint()(damaged.T.copy(), RATE)
    with pytest.raises(InvalidAudioError, match="whole number"):
        Inpaint()(damaged, 44100.5)
    with pytest.raises(VoicemendError, match="not"):
        Chain([object()])  # type: ignore[list-item]
    with pytest.raises(VoicemendError, match="unknown repair method"):
        Inpaint(method="magic")
    assert Inpaint()(np.zeros((2, 0), dtype=np.float32), RATE).shape == (2, 0)


def test_clipped_runs_merged_upstream_into_dropouts_keep_their_rail():
    """DetectDropouts reports a dropout running into a clipped peak as the dropout; the
    Inpaint stage after it still repairs the peak beyond the rail."""
    x = speech_like(1.5, 16000, seed=7)
    x = np.stack([x, 0.9 * x]) / np.max(np.abs(x))
    x = np.clip(x, -0.8, 0.8).astype(np.float32)
    detect = DetectDropouts()
    Chain([detect])(x, 16000)
    runs, last_end = [], -(10**9)
    for d in sorted(detect.detections, key=lambda d: d.region.start):
        if d.kind.value == "clipping" and d.region.start - 1000 > last_end:
            runs.append(d.region)
            last_end = d.region.end
    for run in runs:
        x[:, run.start - 480 : run.start] = 0.0  # 30 ms of digital silence up to each peak
    chain = Chain([DetectDropouts(), Inpaint(method="auto")])
    y = chain(x, 16000)
    checked = 0
    for run in runs:
        (merged,) = [
            d
            for d in chain.last_context.detections
            if d["start_frame"] <= run.start < d["end_frame"]
        ]
        assert merged["kind"] != "clipping"
        assert [run.start, run.end] in merged["clipped_frames"]
        seg = x[:, run.start : run.end]
        at_rail = np.abs(seg) >= 0.8 - 1e-6
        assert np.all((np.sign(seg) * y[:, run.start : run.end])[at_rail] >= 0.8 - 1e-6)
        checked += int(at_rail.sum())
    assert len(runs) >= 3 and checked >= 10


@pytest.mark.parametrize("upstream", [True, False])
def test_clipped_runs_found_upstream_or_by_inpaint_stay_beyond_the_rail(upstream):
    x = speech_like(2.0, 16000, seed=7)
    x = (0.8 * np.clip(x / np.max(np.abs(x)), -0.75, 0.75) / 0.75).astype(np.float32)
    stages = [DetectDropouts(), Inpaint(method="lsar")] if upstream else [Inpaint(auto=True)]
    chain = Chain(stages)
    y = chain(x, 16000)
    runs = list(chain.last_context.reports)
    assert len(runs) > 5
    at_rail = np.zeros(x.size, dtype=bool)
    for r in runs:
        a, b = round(r["start_s"] * 16000), round(r["end_s"] * 16000)
        at_rail[a:b] = np.abs(x[a:b]) >= 0.8 - 1e-6
    assert at_rail.sum() > 20
    assert np.all(np.sign(x[at_rail]) * y[at_rail] >= 0.8 - 1e-6)


def test_inpaint_snaps_given_regions_to_the_dropout_and_records_it(damaged):
    from voicemend.plugin.processors import ChainContext

    context = ChainContext()
    short = (GAP.start / RATE + 0.002, GAP.stop / RATE - 0.001)
    Inpaint(regions=[short], method="lsar").process(damaged, RATE, context)
    (moved,) = context.snaps
    assert moved["snapped_s"] == [GAP.start / RATE, GAP.stop / RATE]
    assert context.reports[0]["start_s"] == GAP.start / RATE
    exact = ChainContext()
    Inpaint(regions=[short], method="lsar", snap=False).process(damaged, RATE, exact)
    assert exact.snaps == [] and Inpaint(snap=False).params()["snap"] is False


def test_regions_a_detector_stage_found_are_not_snapped_again(damaged, monkeypatch):
    import voicemend.plugin.processors as processors
    from voicemend.plugin.processors import ChainContext

    asked = []
    real = processors.snap_regions
    monkeypatch.setattr(
        processors,
        "snap_regions",
        lambda audio, regions: asked.append(regions) or real(audio, regions),
    )
    context = ChainContext()
    Chain([DetectDropouts(), Inpaint(method="lsar")]).process(damaged, RATE, context)
    assert asked == [] and len(context.reports) == 1
    given = (GAP.start / RATE + 0.002, GAP.stop / RATE - 0.001)
    Chain([DetectDropouts(), Inpaint(regions=[given], method="lsar")]).process(damaged, RATE)
    assert len(asked) == 1 and len(asked[0]) == 1  # only the stage's own span


@pytest.mark.parametrize("stages", ["detect+inpaint", "inpaint-auto"])
@pytest.mark.parametrize("in_blocks", [False, True])
def test_a_dropout_in_one_channel_is_repaired_there_only(stages, in_blocks, tmp_path):
    import soundfile as sf

    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    x = np.stack([left, right]).astype(np.float32)
    chain = Chain(
        [DetectDropouts(), Inpaint()] if stages == "detect+inpaint" else [Inpaint(auto=True)]
    )
    if in_blocks:
        src = tmp_path / "in.wav"
        sf.write(str(src), x.T, 48000, subtype="FLOAT")
        chain.process_file(src, tmp_path / "out.wav", block_s=1.0)
        out = sf.read(str(tmp_path / "out.wav"), dtype="float32", always_2d=True)[0].T
    else:
        out = chain(x, 48000)
    np.testing.assert_array_equal(out[0], x[0])
    assert np.sqrt(np.mean(out[1, 72000:76800] ** 2)) > 0.01
