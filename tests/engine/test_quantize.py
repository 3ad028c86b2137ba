"""int8 weight storage: a quarter of the size, float32 again on load, and only files that say so
are touched."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from voicemend.engine.errors import CheckpointError
from voicemend.engine.models.checkpoint import load_weights
from voicemend.engine.models.mel_transformer import MelTransformer, MelTransformerConfig
from voicemend.engine.models.quantize import (
    MIN_QUANTIZED_ELEMENTS,
    SCALE_SUFFIX,
    dequantize,
    quantize_int8,
)

TINY = MelTransformerConfig(
    d_model=64, num_layers=1, num_heads=4, ff_dim=128, pos_kernel=7, pos_groups=4, dropout=0.0
)


def _random_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "conv.weight": torch.randn(32, 16, 9, generator=g) * 0.1,
        "linear.weight": torch.randn(128, 64, generator=g) * torch.linspace(0.01, 2, 128)[:, None],
        "linear.bias": torch.randn(128, generator=g),
        "small.weight": torch.randn(4, 4, generator=g),
        "steps": torch.tensor([3, 4], dtype=torch.int64),
    }


def test_int8_round_trip_keeps_every_row_within_half_a_step(tmp_path):
    state = _random_state()
    stored, metadata = quantize_int8(state)
    assert stored["conv.weight"].dtype == torch.int8 and stored["linear.weight"].dtype == torch.int8
    assert stored["linear.bias"].dtype == torch.float16  # 1-D: kept in float16
    assert stored["small.weight"].dtype == torch.float16  # under MIN_QUANTIZED_ELEMENTS
    assert state["small.weight"].numel() < MIN_QUANTIZED_ELEMENTS
    assert torch.equal(stored["steps"], state["steps"])
    back = dequantize(stored, metadata)
    assert set(back) == set(state)
    for name in ("conv.weight", "linear.weight"):
        w = state[name].reshape(state[name].shape[0], -1)
        err = (back[name] - state[name]).abs().reshape(w.shape[0], -1).amax(1)
        step = w.abs().amax(1) / 127
        assert torch.all(err <= 0.5 * step * (1 + 1e-5))  # per row, not per tensor
        assert back[name].dtype == torch.float32
    path, plain = tmp_path / "q.safetensors", tmp_path / "f16.safetensors"
    save_file(stored, str(path), metadata=metadata)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(plain))
    assert path.stat().st_size < 0.6 * plain.stat().st_size
    loaded = load_weights(path)
    for k in state:
        assert torch.equal(loaded[k], back[k])


def test_a_model_loads_int8_weights_and_predicts_nearly_the_same(tmp_path):
    torch.manual_seed(1)
    model = MelTransformer(TINY).eval()
    torch.nn.init.normal_(model.out.weight, std=0.05)  # not the zero start, so the output moves
    stored, metadata = quantize_int8(model.state_dict())
    save_file(stored, str(tmp_path / "model.safetensors"), metadata=metadata)
    again = MelTransformer(TINY)
    again.load_state_dict(load_weights(tmp_path / "model.safetensors"))
    again.eval()
    mel = torch.randn(2, 80, 60)
    gap = torch.zeros(2, 60, dtype=torch.bool)
    gap[:, 20:40] = True
    with torch.no_grad():
        a, b = model(mel, gap), again(mel, gap)
    change = (a - mel)[:, :, 20:40]
    err = (a - b)[:, :, 20:40]
    snr_db = 10 * torch.log10(change.pow(2).mean() / err.pow(2).mean())
    assert snr_db > 25


def test_files_without_the_mark_load_as_written(tmp_path):
    tensors = {"w": torch.arange(-5, 5, dtype=torch.int8).reshape(2, 5), "x": torch.ones(3)}
    tensors["w" + SCALE_SUFFIX] = torch.ones(2)  # looks quantised, but the file does not say so
    save_file(tensors, str(tmp_path / "plain.safetensors"))
    loaded = load_weights(tmp_path / "plain.safetensors")
    assert loaded["w"].dtype == torch.int8 and set(loaded) == set(tensors)


def test_bad_int8_files_and_names_are_refused(tmp_path):
    stored, metadata = quantize_int8({"w": torch.randn(64, 128)})
    stored["w" + SCALE_SUFFIX] = torch.ones(3)  # wrong number of row scales
    save_file(stored, str(tmp_path / "bad.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="one scale per row"):
        load_weights(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        quantize_int8({"w" + SCALE_SUFFIX: torch.randn(64, 128)})


def test_ship_int8_writes_a_quarter_size_model_that_loads(tmp_path, monkeypatch):
    from voicemend.engine.models import shipped

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(shipped, "MANIFEST", tmp_path / "weights" / "manifest.json")
    torch.manual_seed(2)
    model = MelTransformer(TINY)
    export = model.save_pretrained(tmp_path / "export")
    half = shipped.ship("mel", export, "mel_transformer")
    half_size = (half / "model.safetensors").stat().st_size
    target = shipped.ship("mel-int8", export, "mel_transformer", storage="int8")
    assert (target / "model.safetensors").stat().st_size < 0.65 * half_size
    card = (target / "MODEL_CARD.md").read_text()
    n = sum(p.numel() for p in model.parameters())
    assert f"parameters: {n:,}" in card and "int8 weights" in card
    loaded = MelTransformer.from_pretrained(shipped.verified_folder("mel-int8"))
    for k, v in model.state_dict().items():
        got = loaded.state_dict()[k]
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), v.numpy(), atol=float(v.abs().max()) / 127)
    assert any(t.dtype == torch.int8 for t in load_file(str(target / "model.safetensors")).values())
    with pytest.raises(CheckpointError, match="unknown weight storage"):
        shipped.ship("mel", export, "mel_transformer", storage="int4")
