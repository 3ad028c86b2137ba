"""Presets: versioned JSON, round trips, clear errors, no code execution, external plugins."""

import json

import numpy as np
import pedalboard
import pytest

from voicemend.plugin.chain import Chain
from voicemend.plugin.presets import (
    ExternalPlugin,
    PresetError,
    apply_parameters,
    builtin_parameters,
    chain_from_preset,
    load_preset,
    shipped_presets,
)
from voicemend.plugin.processors import DetectDropouts, Inpaint


def test_round_trip(tmp_path):
    chain = Chain(
        [
            pedalboard.HighpassFilter(cutoff_frequency_hz=80),
            DetectDropouts(0.6),
            Inpaint(regions=[(1.0, 1.2)], method="lsar"),
            pedalboard.Compressor(threshold_db=-18, ratio=3),
            pedalboard.Resample(
                target_sample_rate=16000, quality=pedalboard.Resample.Quality.Linear
            ),
        ],
        tail_s=0.25,
        name="t",
        description="d",
    )
    path = chain.save(tmp_path / "c.json")
    loaded = Chain.load(path)
    assert loaded.to_dict() == chain.to_dict()
    assert loaded.stages[4].quality == pedalboard.Resample.Quality.Linear
    with pytest.raises(Exception, match="exists"):
        chain.save(path)


@pytest.mark.parametrize("name", shipped_presets())
def test_shipped_presets_load_and_run(name):
    chain = load_preset(name)
    x = np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32) * 0.1
    assert chain(x, 48000).shape == x.shape
    assert len(shipped_presets()) >= 2


def test_the_call_preset_seeks_concealed_losses_and_the_podcast_one_does_not():
    from voicemend.engine.detect import DropoutKind

    def kinds(name):
        return load_preset(name).stages[0].detector.settings.kinds

    assert DropoutKind.CONCEALED in kinds("call-recording-repair")
    assert DropoutKind.CONCEALED not in kinds("podcast-dropout-repair")


def test_the_edited_speech_preset_takes_out_a_splice_click():
    """Two takes joined with no crossfade: a jump the voice cannot make. The edit preset finds
    and repairs it (the join comes out smooth); the podcast one leaves it."""
    from voicemend.engine.detect import DropoutKind

    from ..conftest import speech_like

    rate = 48000
    a, b = speech_like(1.0, rate, seed=1), speech_like(1.0, rate, seed=2, f0_hz=190.0)
    joined = np.concatenate([a, b[int(0.3 * rate) :]])  # both mid-syllable: a step at 1.0 s
    x = np.stack([joined, joined])
    edit = load_preset("edited-speech-repair")
    assert DropoutKind.CLICK in edit.stages[0].detector.settings.kinds
    out = edit(x, rate)
    assert [d.kind for d in edit.stages[0].detections] == [DropoutKind.CLICK]
    [det] = edit.stages[0].detections
    assert det.region.start <= rate < det.region.end

    def jump(y):
        return float(np.max(np.abs(np.diff(y[0, rate - 48 : rate + 48]))))

    podcast = load_preset("podcast-dropout-repair")
    plain = podcast(x, rate)
    assert podcast.stages[0].detections == []
    assert jump(out) < 0.5 * jump(plain)


def base(stages, **extra):
    return {"format": "voicemend-chain", "format_version": 1, "stages": stages, **extra}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stages": []}, "not a voicemend chain preset"),
        (base([], format_version=99), "unsupported preset format_version"),
        (base([{"type": "Flanger"}]), "unknown stage type 'Flanger'"),
        (base([{"type": "__import__('os').system('x')"}]), "unknown stage type"),
        (base([{"type": "Compressor", "params": {"treshold_db": -3}}]), "unknown parameter"),
        (base([{"type": "Compressor", "params": {"ratio": "lots"}}]), "Compressor"),
        (base([{"type": "Resample", "params": {"quality": "Best"}}]), "must be one of"),
        (base([{"type": "voicemend.Inpaint", "params": {"method": "magic"}}]), "unknown repair"),
        (base([{"type": "voicemend.Inpaint", "params": {"bogus": 1}}]), "bad parameters"),
        (base([{"type": "vst3", "path": "/nope/Plugin.vst3"}]), "not found"),
        (base([{"type": "vst3"}]), "needs the plugin file"),
        (base([{"type": "Gain", "code": "print(1)"}]), "unknown key"),
        (base([], extra_key=1), "unknown preset key"),
        (base("x"), "'stages' list"),
    ],
)
def test_bad_presets_get_clear_errors(data, message):
    with pytest.raises(PresetError, match=message):
        chain_from_preset(data)


def test_unreadable_preset_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PresetError, match="cannot read preset"):
        load_preset(bad)
    with pytest.raises(PresetError, match="no such preset"):
        load_preset(tmp_path / "missing.json")


def test_vst3_load_error_path(tmp_path):
    fake = tmp_path / "Fake.vst3"
    fake.write_bytes(b"not a plugin")
    with pytest.raises(PresetError, match="cannot load plugin"):
        ExternalPlugin(str(fake))
    with pytest.raises(PresetError, match="not found"):
        ExternalPlugin(str(tmp_path / "Missing.vst3"))


def test_parameter_mapping_with_builtins():
    comp = pedalboard.Compressor()
    apply_parameters(comp, {"threshold_db": -12.0, "ratio": 4.0}, "Compressor")
    assert (comp.threshold_db, comp.ratio) == (-12.0, 4.0)
    with pytest.raises(PresetError, match="cannot set"):
        apply_parameters(comp, {"no_such_knob": 1.0}, "Compressor")
    assert builtin_parameters(pedalboard.Compressor) == [
        "threshold_db",
        "ratio",
        "attack_ms",
        "release_ms",
    ]
    assert builtin_parameters(pedalboard.Convolution)[0] == "impulse_response_filename"


def test_presets_are_plain_json(tmp_path):
    path = Chain([Inpaint(auto=True)]).save(tmp_path / "p.json")
    data = json.loads(path.read_text())
    assert data["format"] == "voicemend-chain" and data["format_version"] == 1
    assert data["stages"] == [
        {
            "type": "voicemend.Inpaint",
            "params": {
                "regions": [],
                "auto": True,
                "method": "auto",
                "device": "auto",
                "snap": True,
            },
        }
    ]


def test_splices_are_sought_as_clicks_and_the_stage_says_so():
    from voicemend.engine.detect.clicks import SPLICE_FORWARD_RATIO
    from voicemend.engine.errors import VoicemendError
    from voicemend.plugin.processors import DetectDropouts

    stage = DetectDropouts(kinds=["click"], splices=True)
    assert stage.params()["splices"] is True
    assert stage.detector.settings.clicks.forward_ratio == SPLICE_FORWARD_RATIO
    assert np.isinf(DetectDropouts(kinds=["click"]).detector.settings.clicks.forward_ratio)
    with pytest.raises(VoicemendError, match="add 'click' to kinds"):
        DetectDropouts(kinds=["packet_loss"], splices=True)
