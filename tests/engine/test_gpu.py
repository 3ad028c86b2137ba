"""The neural engine on a CUDA GPU: the repair contract, agreement with the CPU, fp16 safety, and
one step of each training recipe. Skipped where no CUDA GPU is present (CI has none); run them
with ``bash scripts/gpu_check.sh`` on a machine that has one."""

import json

import numpy as np
import pytest
import torch

from voicemend.engine import Audio, Region
from voicemend.engine.crossfade import MAX_CROSSFADE_MS
from voicemend.engine.inpaint import INPAINTERS, get_inpainter

from ..conftest import speech_like

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
CUDA = torch.device("cuda")
# hybrid: LSAR on the CPU under 700 Hz, neural-mel on the GPU above, in a thread beside it.
NEURAL = [m for m in ("neural", "neural-ipt", "neural-mel", "hybrid") if m in INPAINTERS]


def _damaged(rate: int, channels: int, gap_ms: float = 200.0, level: float = 1.0):
    rng = np.random.default_rng(3)
    n = int(2.5 * rate)
    x = np.stack([speech_like(2.5, rate, seed=c) for c in range(channels)])
    x = level * (x + 0.01 * rng.standard_normal((channels, n))).astype(np.float32)
    gap = Region(int(1.2 * rate), int(1.2 * rate) + round(gap_ms * rate / 1000))
    damaged = x.copy()
    damaged[:, gap.start : gap.end] = 0
    return Audio(damaged, rate), gap


def _outside(audio: Audio, gap: Region) -> np.ndarray:
    xf = int(MAX_CROSSFADE_MS / 1000 * audio.sample_rate)
    keep = np.ones(audio.n_frames, dtype=bool)
    keep[gap.start - xf : gap.end + xf] = False
    return keep


def _snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    noise = np.sum((reference - other) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / max(noise, 1e-20)))


@pytest.mark.parametrize("method", NEURAL)
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2)])
def test_shipped_model_on_cuda_keeps_the_contract_and_agrees_with_the_cpu(method, rate, channels):
    damaged, gap = _damaged(rate, channels)
    on_gpu = get_inpainter(method, device="cuda").inpaint(damaged, [gap])
    out = on_gpu.audio.samples
    assert np.all(np.isfinite(out)) and "on cuda" in on_gpu.reports[0].notes
    keep = _outside(damaged, gap)
    np.testing.assert_array_equal(out[:, keep], damaged.samples[:, keep])
    again = get_inpainter(method, device="cuda").inpaint(damaged, [gap]).audio.samples
    np.testing.assert_array_equal(out, again)  # deterministic on the GPU too
    on_cpu = get_inpainter(method, device="cpu").inpaint(damaged, [gap]).audio.samples
    inside = slice(gap.start, gap.end)
    # fp16 on the GPU, fp32 on the CPU: the same fill, up to rounding.
    assert _snr_db(on_cpu[:, inside], out[:, inside]) > 15.0


@pytest.mark.parametrize("method", NEURAL)
def test_fp16_survives_full_scale_input(method):
    """Loud input must not overflow half precision (inf/NaN) anywhere in the chain."""
    damaged, gap = _damaged(16000, 1, gap_ms=400.0, level=4.0)
    peak = np.max(np.abs(damaged.samples))
    damaged = damaged.with_samples(damaged.samples / peak)  # 0 dBFS peaks
    out = get_inpainter(method, device="cuda").inpaint(damaged, [gap]).audio.samples
    fill = out[:, gap.start : gap.end]
    assert np.all(np.isfinite(out)) and 1e-3 < np.sqrt(np.mean(fill**2)) <= 1.0


@pytest.mark.parametrize("method", NEURAL)
def test_batched_regions_on_cuda_match_one_at_a_time(method):
    rate = 48000
    x = np.stack([speech_like(9.0, rate, seed=c) for c in range(2)])
    regions = [Region(int(s * rate), int(s * rate) + int(0.2 * rate)) for s in (1.5, 4.0, 6.5)]
    for r in regions:
        x[:, r.start : r.end] = 0
    audio = Audio(x, rate)
    inpainter = get_inpainter(method, device="cuda")
    batched = inpainter.inpaint(audio, regions)
    assert all("batch of 3" in r.notes for r in batched.reports)
    inpainter.max_batch = 1
    single = inpainter.inpaint(audio, regions).audio.samples
    for r in regions:
        gap = slice(r.start, r.end)
        # Both runs are fp16, with different matrix shapes: rounding apart, not a different fill
        # (a batching bug, such as one region's context in another's window, gives about 0 dB).
        # The 14.9 M-parameter mel predictor measured 29.6 dB here on an H100 (the 5.1 M one
        # it replaced kept above 30 dB); fp16 against the fp32 CPU is held to 15 dB above.
        assert _snr_db(single[:, gap], batched.audio.samples[:, gap]) > 25.0


def test_cli_repairs_on_cuda(tmp_path, capsys):
    from voicemend.engine import save
    from voicemend.plugin.cli import main

    damaged, gap = _damaged(44100, 2)
    src = save(damaged, tmp_path / "in.wav")
    region = f"{gap.start / 44100:.4f}:{gap.end / 44100:.4f}"
    report = tmp_path / "report.json"
    method = NEURAL[-1]
    argv = ["repair", str(src), "-o", str(tmp_path / "out.wav"), "--region", region]
    code = main([*argv, "--method", method, "--device", "cuda", "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    notes = json.dumps(json.loads(report.read_text()))
    assert "on cuda" in notes


def _write_speech(folder, seconds: float = 5.0) -> None:
    import soundfile as sf

    folder.mkdir()
    for i in range(2):
        sf.write(str(folder / f"{i}.wav"), speech_like(seconds, 16000, seed=i), 16000)


@pytest.mark.parametrize("bf16", [False, True])
def test_mel_recipe_trains_on_cuda_and_exports_cpu_weights(tmp_path, bf16):
    from voicemend.engine.models.mel_transformer import MelTransformer
    from voicemend.engine.training.mel import MelTrainConfig, train_mel

    from .test_mel_transformer import TINY

    _write_speech(tmp_path / "data")
    config = MelTrainConfig(
        window_s=1.0, batch_size=2, max_steps=2, log_every=1, max_gap_ms=200, bf16=bf16
    )
    export = train_mel(
        tmp_path / "run", config, data_root=tmp_path / "data", model_config=TINY, device=CUDA
    )
    model = MelTransformer.from_pretrained(export)  # loads on a machine without a GPU
    assert next(model.parameters()).device.type == "cpu"
    rows = [json.loads(r) for r in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert rows and all(np.isfinite(r["loss"]) for r in rows)


def test_decoder_recipe_takes_a_gan_step_on_cuda(tmp_path):
    from voicemend.engine.models.vocos import VocosConfig, VocosDecoder
    from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder

    _write_speech(tmp_path / "data", 1.0)
    small = VocosConfig(dim=16, intermediate_dim=32, num_layers=1)
    config = DecoderTrainConfig(
        segment_frames=16, batch_size=2, max_steps=2, gan_start_step=1, log_every=1
    )
    export = train_decoder(
        tmp_path / "run", config, data_root=tmp_path / "data", model_config=small, device=CUDA
    )
    assert VocosDecoder.from_pretrained(export).config == small
    rows = [json.loads(r) for r in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "loss_d" in rows[-1] and np.isfinite(rows[-1]["loss_d"])


def test_encoder_recipes_train_on_cuda(tmp_path):
    """Pretraining (k-means on the GPU), I_FT fine-tuning and I_PT decoder training."""
    from voicemend.engine.models.hubert import HubertConfig, HubertEncoder
    from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig
    from voicemend.engine.training.ift import IftTrainConfig, train_ift
    from voicemend.engine.training.ipt import train_ipt
    from voicemend.engine.training.pretrain import PretrainConfig, train_pretrain

    from .test_models import TINY
    from .test_training import TINY_IPT_DECODER, tiny_ipt_config

    data = tmp_path / "data"
    _write_speech(data)
    encoder_config = HubertConfig(**{**TINY, "num_hidden_layers": 1})
    pre = PretrainConfig(
        n_clusters=8, kmeans_frames=400, window_frames=32, batch_size=2, max_steps=2, log_every=1
    )
    encoder_dir = train_pretrain(
        tmp_path / "pre", pre, data_root=data, encoder_config=encoder_config, device=CUDA
    )
    assert HubertEncoder.from_pretrained(encoder_dir).config == encoder_config

    ift = IftTrainConfig(window_frames=32, batch_size=2, max_steps=2, log_every=1, max_gap_ms=200)
    model_config = MelInpainterConfig(encoder=encoder_config)
    export = train_ift(
        tmp_path / "ift", ift, data_root=data, model_config=model_config, device=CUDA
    )
    assert MelInpainter.from_pretrained(export).config == model_config

    out = train_ipt(
        tmp_path / "ipt",
        tiny_ipt_config(),
        encoder_dir=encoder_dir,
        data_root=data,
        decoder_config=TINY_IPT_DECODER,
        device=CUDA,
    )
    assert (out / "decoder" / "config.json").exists()
