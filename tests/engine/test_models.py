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


def test_decoder_training_smoke_and_resume(tmp_path):
    """One-step training on CPU from a plain folder of audio, then a resumed second step."""
    import soundfile as sf

    from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(str(data / f"{i}.wav"), speech_like(1.0, 16000, seed=i), 16000)
    small = VocosConfig(dim=16, intermediate_dim=32, num_layers=1)
    config = DecoderTrainConfig(
        segment_frames=16, batch_size=2, max_steps=1, gan_start_step=1, log_every=1
    )
    out = tmp_path / "run"
    export = train_decoder(out, config, data_root=data, model_config=small)
    assert VocosDecoder.from_pretrained(export).config == small
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 1
    first = (out / "checkpoint" / "generator.safetensors").read_bytes()
    config2 = DecoderTrainConfig(
        segment_frames=16, batch_size=2, max_steps=2, gan_start_step=1, log_every=1
    )
    train_decoder(out, config2, data_root=data, model_config=small)
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 2
    assert (out / "checkpoint" / "generator.safetensors").read_bytes() != first
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logged] == [1, 2] and "loss_d" in logged[1]


def test_ift_training_smoke_and_export(tmp_path):
    import soundfile as sf

    from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig
    from voicemend.engine.training.ift import IftTrainConfig, train_ift

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.0, 16000), 16000)
    encoder = HubertConfig(**{**TINY, "num_hidden_layers": 1})
    model_config = MelInpainterConfig(encoder=encoder)
    config = IftTrainConfig(
        window_frames=32, batch_size=2, max_steps=2, log_every=1, max_gap_ms=200.0
    )
    export = train_ift(tmp_path / "run", config, data_root=data, model_config=model_config)
    model = MelInpainter.from_pretrained(export)
    assert model.config == model_config
    rows = [json.loads(r) for r in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(np.isfinite(r["loss"]) for r in rows)


def test_frame_mask_covers_every_frame_that_hears_the_gap():
    from voicemend.engine.models.mel_inpainter import MelInpainter, MelInpainterConfig

    model = MelInpainter(MelInpainterConfig(encoder=HubertConfig(**TINY)))
    gap = torch.zeros(1, 6400, dtype=torch.bool)
    gap[0, 1000:1100] = True
    frames = model.frame_mask(gap)[0]
    # frame t hears samples [320 t, 320 t + 400): frames 2 and 3 overlap 1000-1100
    assert frames.nonzero().flatten().tolist() == [2, 3]


def test_pretrain_smoke_mfcc_and_masks(tmp_path):
    import soundfile as sf

    from voicemend.engine.training.pretrain import Mfcc, PretrainConfig, span_mask, train_pretrain

    from ..conftest import speech_like

    mfcc = Mfcc()
    feats = mfcc(torch.randn(2, 16000))
    assert feats.shape == (2, 50, 39)
    mask = span_mask(4, 100, 0.08, 10, np.random.default_rng(0))
    assert 0.3 < mask.mean() < 0.8
    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(5.0, 16000), 16000)
    config = PretrainConfig(
        n_clusters=8, kmeans_frames=400, window_frames=32, batch_size=2, max_steps=2, log_every=1
    )
    export = train_pretrain(
        tmp_path / "run",
        config,
        data_root=data,
        encoder_config=HubertConfig(**{**TINY, "num_hidden_layers": 1}),
    )
    assert HubertEncoder.from_pretrained(export).config.hidden_size == 32
    assert (tmp_path / "run" / "codebook.safetensors").exists()


def test_ipt_training_smoke(tmp_path):
    import soundfile as sf

    from voicemend.engine.training.decoder import DecoderTrainConfig
    from voicemend.engine.training.ift import IftTrainConfig
    from voicemend.engine.training.ipt import IptTrainConfig, train_ipt

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.0, 16000), 16000)
    encoder = HubertEncoder(HubertConfig(**{**TINY, "num_hidden_layers": 1}))
    encoder.save_pretrained(tmp_path / "encoder")
    config = IptTrainConfig(
        decoder=DecoderTrainConfig(max_steps=2, gan_start_step=1, log_every=1),
        gaps=IftTrainConfig(max_gap_ms=100.0),
        window_frames=24,
        batch_size=2,
    )
    export = train_ipt(
        tmp_path / "run",
        config,
        encoder_dir=tmp_path / "encoder",
        data_root=data,
        decoder_config=VocosConfig(
            input_channels=32, dim=16, intermediate_dim=32, num_layers=1, hop_length=320, n_fft=1280
        ),
    )
    decoder = VocosDecoder.from_pretrained(export / "decoder")
    with torch.no_grad():
        feats = HubertEncoder.from_pretrained(export / "encoder")(torch.randn(1, 6400))
        assert decoder(feats.transpose(1, 2)).shape[-1] == feats.shape[1] * 320


def test_training_continues_from_a_weights_only_checkpoint(tmp_path):
    import shutil

    import soundfile as sf

    from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(1.0, 16000), 16000)
    small = VocosConfig(dim=16, intermediate_dim=32, num_layers=1)
    first = DecoderTrainConfig(segment_frames=16, batch_size=2, max_steps=1, log_every=1)
    train_decoder(tmp_path / "a", first, data_root=data, model_config=small)
    committed = tmp_path / "committed"
    shutil.copytree(tmp_path / "a" / "checkpoint", committed)
    (committed / "optim.pt").unlink()  # what gets committed: weights and state only
    second = DecoderTrainConfig(segment_frames=16, batch_size=2, max_steps=2, log_every=1)
    train_decoder(tmp_path / "b", second, data_root=data, model_config=small, init_from=committed)
    assert json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())["step"] == 2
    # The generator may live with the shipped models instead, named in links.json.
    shipped = tmp_path / "weights" / "decoder"
    shipped.mkdir(parents=True)
    (committed / "generator.safetensors").rename(shipped / "model.safetensors")
    (committed / "links.json").write_text('{"generator": "../weights/decoder/model.safetensors"}')
    train_decoder(tmp_path / "c", second, data_root=data, model_config=small, init_from=committed)
    assert json.loads((tmp_path / "c" / "checkpoint" / "state.json").read_text())["step"] == 2
    assert not (tmp_path / "c" / "checkpoint" / "links.json").exists()
