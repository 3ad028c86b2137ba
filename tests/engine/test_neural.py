"""The neural inpainter with tiny random models: the contract, devices, rates, the high band."""

import numpy as np
import pytest
import torch

from voicemend.engine import Audio, Region
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint.neural import Neural, NeuralModels
from voicemend.engine.metrics import band_energy_db
from voicemend.engine.models.hubert import HubertConfig
from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder

from ..conftest import speech_like

TINY_ENCODER = HubertConfig(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=64,
    conv_dim=(16,) * 7,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)


@pytest.fixture(scope="module")
def tiny_models():
    torch.manual_seed(0)
    encoder = TINY_ENCODER
    inpainter = MelInpainter(MelInpainterConfig(encoder=encoder))
    decoder = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1))
    return NeuralModels(inpainter, decoder)


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (48000, 2), (8000, 1)])
def test_contract_at_rates_and_channels(tiny_models, rate, channels):
    x = np.stack([speech_like(1.5, rate, seed=c) for c in range(channels)])
    audio = Audio(x, rate)
    gap = Region(int(0.7 * rate), int(0.9 * rate))
    damaged = audio.samples.copy()
    damaged[:, gap.start : gap.end] = 0
    damaged = audio.with_samples(damaged)
    result = Neural(tiny_models, device="cpu").inpaint(damaged, [gap])
    out = result.audio.samples
    xf = int(MAX_CROSSFADE_MS / 1000 * rate)
    keep = np.ones(audio.n_frames, dtype=bool)
    keep[gap.start - xf : gap.end + xf] = False
    np.testing.assert_array_equal(out[:, keep], damaged.samples[:, keep])
    assert np.all(np.isfinite(out)) and result.reports[0].method == "neural"
    again = Neural(tiny_models, device="cpu").inpaint(damaged, [gap]).audio.samples
    np.testing.assert_array_equal(out, again)  # deterministic


def test_high_band_has_no_hole_at_48k(tiny_models):
    rate = 48000
    rng = np.random.default_rng(0)
    x = speech_like(1.5, rate) + 0.02 * rng.standard_normal(int(1.5 * rate)).astype(np.float32)
    audio = Audio.from_array(x, rate)
    gap = Region(int(0.7 * rate), int(0.9 * rate))
    damaged = audio.samples.copy()
    damaged[:, gap.start : gap.end] = 0
    out = Neural(tiny_models, device="cpu")(audio.with_samples(damaged), [gap]).samples[0]
    around = np.concatenate(
        [out[gap.start - int(0.1 * rate) : gap.start], out[gap.end : gap.end + int(0.1 * rate)]]
    )
    inside = out[gap.start : gap.end]
    high_in = band_energy_db(inside, rate, 8000, 20000)
    high_around = band_energy_db(around[: inside.size], rate, 8000, 20000)
    assert abs(high_in - high_around) < 6.0


def test_unknown_device_is_a_clear_error(tiny_models):
    with pytest.raises(VoicemendError, match="unknown device"):
        Neural(tiny_models, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(VoicemendError, match="no CUDA GPU"):
            Neural(tiny_models, device="cuda")


def test_ipt_configuration_keeps_the_contract():
    from voicemend.engine.inpaint.neural import NeuralIpt
    from voicemend.engine.models.hubert import HubertEncoder

    torch.manual_seed(1)
    encoder = HubertEncoder(TINY_ENCODER)
    decoder = VocosDecoder(
        VocosConfig(
            input_channels=32, dim=16, intermediate_dim=32, num_layers=1, hop_length=320, n_fft=1280
        )
    )
    audio = Audio.from_array(speech_like(1.2, 22050), 22050)
    gap = Region(11025, 13230)
    result = NeuralIpt(encoder, decoder, device="cpu").inpaint(audio, [gap])
    keep = np.ones(audio.n_frames, dtype=bool)
    keep[gap.start - 220 : gap.end + 220] = False
    np.testing.assert_array_equal(result.audio.samples[:, keep], audio.samples[:, keep])
    assert result.reports[0].method == "neural-ipt" and "I_PT" in result.reports[0].notes


def test_ship_writes_card_and_manifest(tmp_path, monkeypatch, tiny_models):
    from voicemend.engine.models import shipped

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(shipped, "MANIFEST", tmp_path / "weights" / "manifest.json")
    export = tiny_models.decoder.save_pretrained(tmp_path / "export")
    run = tmp_path / "run" / "checkpoint"
    run.mkdir(parents=True)
    (run / "state.json").write_text(
        '{"step": 1234, "train_seconds": 7200, "config": {"recipe": "decoder"}}'
    )
    target = shipped.ship("decoder", export, "vocos", tmp_path / "run")
    card = (target / "MODEL_CARD.md").read_text()
    assert "steps: 1234" in card and "2.0 h" in card and "CC BY 4.0" in card
    assert "ground-truth-aligned" not in card
    (run / "state.json").write_text(
        '{"step": 9, "config": {"recipe": "decoder", "predictor": "engine/weights/mel"}}'
    )
    tuned = shipped.ship("mel-decoder", export, "vocos", tmp_path / "run")
    assert "predicted by `engine/weights/mel`" in (tuned / "MODEL_CARD.md").read_text()
    assert shipped.verified_folder("decoder") == target
    from safetensors.torch import load_file

    from voicemend.engine.models.vocos import VocosDecoder

    assert all(
        t.dtype == torch.float16 for t in load_file(str(target / "model.safetensors")).values()
    )
    loaded = VocosDecoder.from_pretrained(target)  # float16 on disk, float32 in the model
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.randn(1, loaded.config.input_channels, 20)
    with torch.no_grad():
        a, b = tiny_models.decoder.eval()(x), loaded(x)
    assert torch.allclose(a, b, atol=1e-2 * float(a.abs().max()) + 1e-4)


def test_cli_ships_a_model_with_its_bench_table(tmp_path, monkeypatch, tiny_models, capsys):
    from voicemend.engine.models import shipped
    from voicemend.plugin.cli import main

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(shipped, "MANIFEST", tmp_path / "weights" / "manifest.json")
    export = tiny_models.decoder.save_pretrained(tmp_path / "export")
    bench = tmp_path / "bench.md"
    bench.write_text("| method | 200 ms |\n|---|---|\n| neural | 3.1 |\n")
    assert (
        main(
            [
                "models",
                "ship",
                "decoder",
                "--from",
                str(export),
                "--kind",
                "vocos",
                "--bench",
                str(bench),
                "--hardware",
                "two CPU threads",
            ]
        )
        == 0
    )
    card = (tmp_path / "weights" / "decoder" / "MODEL_CARD.md").read_text()
    assert "| neural | 3.1 |" in card and "on two CPU threads" in card
    assert main(["models", "list"]) == 0 and "decoder" in capsys.readouterr().out
    missing = ["models", "ship", "decoder", "--from", str(export), "--kind", "vocos"]
    assert main([*missing, "--bench", str(tmp_path / "nope.md")]) != 0
    assert main([*missing, "--storage", "int8"]) == 0
    card = (tmp_path / "weights" / "decoder" / "MODEL_CARD.md").read_text()
    assert "int8 weights" in card
    assert main(["models", "list"]) == 0  # the int8 file verifies and is listed


def test_calibration_removes_the_model_s_own_bias_next_to_the_gap():
    from voicemend.engine.inpaint.neural import _calibrated

    torch.manual_seed(0)
    truth = torch.randn(2, 80, 60)
    bias = torch.linspace(-1.0, 2.0, 80)[None, :, None]  # per band, the same on both sides
    predicted = truth - bias
    gap = torch.zeros(2, 60, dtype=torch.bool)
    gap[0, 20:30] = True
    gap[1, 0:10] = True  # no context on the left: the right side alone calibrates
    out = _calibrated(predicted, truth, gap, 5)
    assert torch.allclose(out[0, :, 20:30], truth[0, :, 20:30], atol=1e-5)
    assert torch.allclose(out[1, :, 0:10], truth[1, :, 0:10], atol=1e-5)
    assert torch.equal(out[0, :, :20], predicted[0, :, :20])  # outside the gap: untouched


def test_many_regions_go_through_the_network_together(tiny_models):
    """Dropouts of different lengths get windows of one length, so one forward pass serves
    them; the fills match a region-by-region pass up to float rounding."""
    rate = 44100
    x = np.stack([speech_like(9.0, rate, seed=c) for c in range(2)])
    starts_s, lengths_ms = (1.5, 4.0, 6.5), (40, 150, 380)
    regions = [
        Region(int(s * rate), int(s * rate) + int(ms * rate / 1000))
        for s, ms in zip(starts_s, lengths_ms, strict=True)
    ]
    damaged = x.copy()
    for r in regions:
        damaged[:, r.start : r.end] = 0
    audio = Audio(damaged, rate)
    inpainter = Neural(tiny_models, device="cpu")
    windows = {sum(inpainter.context_frames(r.n_frames, rate)) + r.n_frames for r in regions}
    assert windows == {int(2.5 * rate)}
    batched = inpainter.inpaint(audio, regions)
    assert all("batch of 3" in r.notes for r in batched.reports)
    inpainter.max_batch = 1
    single = inpainter.inpaint(audio, regions)
    assert not any("batch" in r.notes for r in single.reports)
    np.testing.assert_allclose(batched.audio.samples, single.audio.samples, atol=1e-5)
    keep = np.ones(audio.n_frames, dtype=bool)
    for r in regions:
        keep[r.start - 441 : r.end + 441] = False
    np.testing.assert_array_equal(batched.audio.samples[:, keep], damaged[:, keep])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


@pytest.mark.parametrize("rate", [16000, 48000])
def test_dc_offset_continues_through_the_gap(tiny_models, rate):
    """The vocoder makes no DC; the fill must carry the context's offset, not step at the edges."""
    x = speech_like(2.0, rate) + 0.2
    gap = Region(int(0.9 * rate), int(1.15 * rate))
    x[gap.start : gap.end] = 0
    out = Neural(tiny_models, device="cpu")(Audio.from_array(x, rate), [gap]).samples[0]
    edge = int(0.01 * rate)
    for part in (
        out[gap.start : gap.end],
        out[gap.start : gap.start + edge],
        out[gap.end - edge : gap.end],
    ):
        assert abs(part.mean() - 0.2) < 0.03


def test_a_level_change_across_the_gap_is_met_at_both_edges():
    """Quiet before the gap, four times louder after it (a cut between takes): the gain moves
    across the gap, so the resynthesis meets each side at that side's level; another unknown
    run in the window does not move the edges."""
    from voicemend.engine.inpaint.neural import level_match

    rng = np.random.default_rng(0)
    n, g0, g1 = 16000, 7000, 10000
    reference = rng.standard_normal((1, n))
    reference[:, :g0] *= 0.25
    unknown = np.zeros(n, dtype=bool)
    unknown[g0:g1] = True
    unknown[2000:2500] = True  # another region, not yet repaired, in the same window
    reference[:, unknown] = 0
    voiced = 0.5 * rng.standard_normal((1, n))  # a resynthesis at one level throughout
    out = level_match(voiced, reference, unknown, (g0, g1))[0]
    w = 800
    assert abs(_rms(out[g0 - w : g0]) / 0.25 - 1) < 0.1
    assert abs(_rms(out[g1 : g1 + w]) / 1.0 - 1) < 0.1
    assert (
        _rms(out[g0 : g0 + w])
        < _rms(out[(g0 + g1) // 2 : (g0 + g1) // 2 + w])
        < _rms(out[g1 - w : g1])
    )


@pytest.mark.parametrize("configuration", ["neural", "neural-mel", "neural-ipt"])
def test_voicing_only_around_the_gaps_changes_nothing(tiny_models, monkeypatch, configuration):
    """The decoder voices only the frames around each gap's span that the paste-back and the
    level match read; voicing the whole window instead gives the same repair (to float
    rounding), for several gaps in one batch at 44.1 kHz stereo."""
    import voicemend.engine.inpaint.neural as neural

    torch.manual_seed(2)
    inpainter = _tiny_inpainter(configuration, tiny_models)
    audio, regions = _stereo_with_gaps(44100, 6.0, ((1.2, 30), (2.9, 240), (4.6, 400)))
    spans = []
    real_span = neural._voiced_span

    def recorded(ctx, n16):
        spans.append((real_span(ctx, n16), n16))
        return spans[-1][0]

    monkeypatch.setattr(neural, "_voiced_span", recorded)
    around = inpainter.inpaint(audio, regions).audio.samples
    assert all(b - a < n16 // 2 for (a, b), n16 in spans)  # far less than the window
    monkeypatch.setattr(neural, "_voiced_span", lambda ctx, n16: (0, n16))
    whole = inpainter.inpaint(audio, regions).audio.samples
    np.testing.assert_allclose(around, whole, atol=1e-6)
    assert not np.array_equal(around, audio.samples)  # the gaps were filled


@pytest.mark.parametrize("configuration", ["neural", "neural-mel"])
def test_gpu_shape_buckets_pad_the_batch_and_span_without_changing_the_repair(
    tiny_models, monkeypatch, configuration
):
    """On a GPU the batch is padded to a power of two and the voiced span rounded to whole
    buckets, so that few shapes reach the network; the repair is the same (float rounding).
    Forced on here on the CPU, where it is off by default."""
    import voicemend.engine.inpaint.neural as neural

    torch.manual_seed(3)
    inpainter = _tiny_inpainter(configuration, tiny_models)
    assert inpainter.shape_buckets is False
    audio, regions = _stereo_with_gaps(48000, 9.0, ((1.5, 30), (4.5, 240), (7.5, 90)))
    exact = inpainter.inpaint(audio, regions).audio.samples
    shapes = []
    real_decode = inpainter._decode

    def recorded(masked, gap, needed):
        audio_out, first = real_decode(masked, gap, needed)
        shapes.append((masked.shape[0], tuple(audio_out.shape), first))
        return audio_out, first

    monkeypatch.setattr(inpainter, "_decode", recorded)
    inpainter.shape_buckets = True
    bucketed = inpainter.inpaint(audio, regions).audio.samples
    ((rows, out_shape, first),) = shapes
    bucket = neural.SPAN_BUCKET_FRAMES * inpainter.frame_stride
    assert rows == 8  # three stereo windows: 6 rows, padded to 8
    assert first % bucket == 0 and out_shape[-1] % bucket == 0
    np.testing.assert_allclose(bucketed, exact, atol=1e-5)


def _tiny_inpainter(configuration: str, tiny_models: NeuralModels):
    """A neural configuration with tiny random weights, on the CPU."""
    import voicemend.engine.inpaint.neural as neural
    from voicemend.engine.models.hubert import HubertEncoder
    from voicemend.engine.models.mel_transformer import MelTransformer

    from .test_mel_transformer import TINY as TINY_MEL

    if configuration == "neural":
        return Neural(tiny_models, device="cpu")
    if configuration == "neural-mel":
        decoder = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=2))
        return neural.NeuralMel(MelTransformer(TINY_MEL), decoder, device="cpu")
    ipt_decoder = VocosConfig(
        input_channels=32, dim=16, intermediate_dim=32, num_layers=1, hop_length=320, n_fft=1280
    )
    return neural.NeuralIpt(HubertEncoder(TINY_ENCODER), VocosDecoder(ipt_decoder), device="cpu")


def _stereo_with_gaps(rate: int, seconds: float, gaps) -> tuple[Audio, list[Region]]:
    """Two channels of speech-like audio and regions (start s, length ms) to repair in it."""
    x = np.stack([speech_like(seconds, rate, seed=c) for c in range(2)])
    regions = [Region(int(s * rate), int(s * rate) + int(ms * rate / 1000)) for s, ms in gaps]
    return Audio(x, rate), regions
