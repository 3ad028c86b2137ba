"""Model loaders on tiny random checkpoints in every supported format, and safe loading."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from voicemend.engine.models.checkpoint import CheckpointError, load_weights
from voicemend.engine.models.hifigan import HifiGanConfig, HifiGanGenerator
from voicemend.engine.models.hubert import HubertConfig, HubertEncoder, fairseq_to_hf
from voicemend.engine.models.mel import LogMel, MelConfig, mel_filterbank
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "conv_dim": (16,) * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


@pytest.mark.parametrize("stable", [False, True])
def test_hugging_face_hubert_loads_and_matches(tmp_path, transformers, stable):
    torch.manual_seed(0)
    extra = {"do_stable_layer_norm": True, "feat_extract_norm": "layer"} if stable else {}
    reference = transformers.HubertModel(transformers.HubertConfig(**TINY, **extra)).eval()
    reference.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    ours = HubertEncoder.from_pretrained(tmp_path)
    wave = torch.randn(2, 8000)
    with torch.no_grad():
        expected = reference(wave).last_hidden_state
        got = ours(wave)
    assert got.shape == expected.shape == (2, ours.n_frames(8000), 32)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def _to_fairseq(state):
    """Inverse of the loader's mapping, to write a fairseq-format state dict."""
    out = {}
    for k, v in state.items():
        k = k.replace(".parametrizations.weight.original0", ".weight_g")
        k = k.replace(".parametrizations.weight.original1", ".weight_v")
        k = k.replace(
            "feature_extractor.conv_layers.0.layer_norm.", "feature_extractor.conv_layers.0.2."
        )
        for i in range(7):
            k = k.replace(
                f"feature_extractor.conv_layers.{i}.conv.", f"feature_extractor.conv_layers.{i}.0."
            )
        k = k.replace("feature_projection.layer_norm.", "layer_norm.")
        k = k.replace("feature_projection.projection.", "post_extract_proj.")
        k = k.replace("encoder.pos_conv_embed.conv.", "encoder.pos_conv.0.")
        k = k.replace(".attention.", ".self_attn.")
        k = k.replace(".feed_forward.intermediate_dense.", ".fc1.")
        k = k.replace(".feed_forward.output_dense.", ".fc2.")
        if k.startswith("encoder.layers.") and ".layer_norm." in k:
            k = k.replace(".layer_norm.", ".self_attn_layer_norm.")
        k = "mask_emb" if k == "masked_spec_embed" else k
        out[k] = v
    out["final_proj.weight"] = torch.zeros(4, 32)  # pre-training head, ignored by the loader
    return out


def test_fairseq_hubert_state_dict_loads(tmp_path):
    torch.manual_seed(1)
    config = HubertConfig(**TINY)
    model = HubertEncoder(config).eval()
    cfg = {
        "model": {
            "encoder_embed_dim": 32,
            "encoder_layers": 2,
            "encoder_attention_heads": 4,
            "encoder_ffn_embed_dim": 64,
            "conv_pos": 16,
            "conv_pos_groups": 4,
            "conv_feature_layers": "[(16,10,5)] + [(16,3,2)] * 4 + [(16,2,2)] * 2",
            "extractor_mode": "default",
            "layer_norm_first": False,
        }
    }
    path = tmp_path / "hubert_tiny.pt"
    torch.save({"cfg": cfg, "model": _to_fairseq(model.state_dict())}, path)
    loaded = HubertEncoder.from_pretrained(path)
    assert loaded.config == config
    wave = torch.randn(1, 6000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave), model(wave))
    assert set(fairseq_to_hf(_to_fairseq(model.state_dict()))) >= {"masked_spec_embed"}


def _jik876_state(model):
    return {
        k.replace(".parametrizations.weight.original0", ".weight_g").replace(
            ".parametrizations.weight.original1", ".weight_v"
        ): v
        for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_jik876_hifigan_checkpoint_loads(tmp_path, resblock):
    torch.manual_seed(2)
    config = HifiGanConfig(
        resblock=resblock,
        upsample_rates=(4, 4),
        upsample_kernel_sizes=(8, 8),
        upsample_initial_channel=16,
        resblock_kernel_sizes=(3, 5),
        resblock_dilation_sizes=((1, 3, 5), (1, 3, 5)) if resblock == "1" else ((1, 2), (2, 6)),
    )
    model = HifiGanGenerator(config).eval()
    torch.save({"generator": _jik876_state(model)}, tmp_path / "g_00001000")
    jik_config = {
        "resblock": resblock,
        "num_gpus": 0,
        "batch_size": 16,
        "learning_rate": 0.0002,
        "upsample_rates": [4, 4],
        "upsample_kernel_sizes": [8, 8],
        "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [list(d) for d in config.resblock_dilation_sizes],
        "segment_size": 8192,
        "num_mels": 80,
        "num_freq": 1025,
        "n_fft": 1024,
        "hop_size": 16,
        "win_size": 1024,
        "sampling_rate": 22050,
        "fmin": 0,
        "fmax": 8000,
    }
    (tmp_path / "config.json").write_text(json.dumps(jik_config))
    loaded = HifiGanGenerator.from_pretrained(tmp_path / "g_00001000")
    assert loaded.config.extra["learning_rate"] == 0.0002
    mel = torch.randn(1, 80, 12)
    with torch.no_grad():
        expected = model(mel)
        torch.testing.assert_close(loaded(mel), expected)
        assert expected.shape == (1, 12 * 16)
        torch.testing.assert_close(loaded.remove_weight_norm()(mel), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("factory", [HifiGanConfig.v1, HifiGanConfig.v2, HifiGanConfig.v3])
def test_reference_configs_upsample_by_their_hop(factory):
    config = factory()
    assert config.hop_length == 256
    with torch.no_grad():
        out = HifiGanGenerator(config)(torch.zeros(1, 80, 3))
    assert out.shape == (1, 3 * 256)


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_malicious_pickle_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"generator": Exploit()}, f)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_weights(path)
    with pytest.raises(CheckpointError):
        HifiGanGenerator.from_pretrained(path, config_path=tmp_path / "missing.json")
    assert not (tmp_path / "pwned-by-pickle").exists()


def test_checksum_is_verified(tmp_path):
    model = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1))
    folder = model.save_pretrained(tmp_path / "vocos")
    with pytest.raises(CheckpointError, match="sha256"):
        load_weights(folder / "model.safetensors", expected_sha256="0" * 64)


def test_vocos_round_trip(tmp_path):
    torch.manual_seed(3)
    model = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=2)).eval()
    loaded = VocosDecoder.from_pretrained(model.save_pretrained(tmp_path / "v"))
    mel = torch.randn(1, 80, 20)
    with torch.no_grad():
        torch.testing.assert_close(loaded(mel), model(mel))
    assert model(mel).shape == (1, 20 * 160)


@pytest.mark.parametrize(
    ("layers", "kernel", "hop", "n_fft"), [(1, 7, 160, 640), (3, 5, 320, 1280)]
)
def test_vocos_span_is_the_slice_of_the_whole(layers, kernel, hop, n_fft):
    """forward_span reads only reach_frames around the span yet gives the whole forward's
    samples there: at the start, in the middle, at the end and over everything."""
    torch.manual_seed(0)
    config = VocosConfig(
        dim=16,
        intermediate_dim=32,
        num_layers=layers,
        kernel_size=kernel,
        hop_length=hop,
        n_fft=n_fft,
    )
    decoder = VocosDecoder(config).eval()
    features = torch.randn(2, config.input_channels, 90)
    with torch.inference_mode():
        whole = decoder(features)
        for first, stop in [(0, 5), (40, 47), (80, 90), (0, 90), (30, 31)]:
            span = decoder.forward_span(features, first, stop)
            assert span.shape == (2, (stop - first) * hop)
            torch.testing.assert_close(
                span, whole[:, first * hop : stop * hop], atol=1e-6, rtol=1e-5
            )
        # The span's audio depends on the frame reach_frames before it and not on the one
        # before that (and likewise after): the reach is exact.
        first, stop, reach = 40, 47, decoder.reach_frames
        for frame, moves in [
            (first - reach, True),
            (first - reach - 1, False),
            (stop - 1 + reach, True),
            (stop + reach, False),
        ]:
            nudged = features.clone()
            nudged[..., frame] += 50.0
            change = (decoder(nudged) - whole)[:, first * hop : stop * hop].abs().max()
            assert (change > 0) == moves, (frame, float(change))
    for bad in [(-1, 3), (5, 5), (10, 91)]:
        with pytest.raises(ValueError, match="frames"):
            decoder.forward_span(features, *bad)


def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(16000, 1024, 80, 0.0, 8000.0)
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_log_mel_frames():
    mel = LogMel(MelConfig())
    out = mel(torch.randn(2, 16000))
    assert out.shape == (2, 80, 100)
    assert torch.isfinite(out).all()


def test_frame_mask_covers_every_frame_that_hears_the_gap():
    from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig

    model = MelInpainter(MelInpainterConfig(encoder=HubertConfig(**TINY)))
    gap = torch.zeros(1, 6400, dtype=torch.bool)
    gap[0, 1000:1100] = True
    frames = model.frame_mask(gap)[0]
    # frame t hears samples [320 t, 320 t + 400): frames 2 and 3 overlap 1000-1100
    assert frames.nonzero().flatten().tolist() == [2, 3]


def test_spectral_parts_stay_float32_under_autocast():
    """GPU inference runs under fp16 autocast; the iSTFT head and the log-mel must not drop to
    half precision (torch.polar refuses it, and loud frames overflow it). bf16 on the CPU shows
    the same failure without a GPU."""
    decoder = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1)).eval()
    mel = LogMel(MelConfig())
    wave = torch.randn(1, 16000)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        feats = mel(100.0 * wave)  # far louder than full scale
        out = decoder(feats)
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
