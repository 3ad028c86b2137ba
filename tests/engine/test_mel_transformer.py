"""The mel-domain transformer: visible frames pass through, the gap starts at interpolation,
no information leaks from the hidden frames, it saves/loads, and its recipe trains."""

import json

import numpy as np
import pytest
import torch

from voicemend.engine.models.mel import MelConfig
from voicemend.engine.models.mel_transformer import (
    MelTransformer,
    MelTransformerConfig,
    interpolate_gaps,
)
from voicemend.engine.models.postfilter import GlobalVarianceConfig

TINY = MelTransformerConfig(
    d_model=32, num_layers=1, num_heads=4, ff_dim=64, pos_kernel=7, pos_groups=4, dropout=0.0
)


def _gap(b: int, n: int, runs: list[tuple[int, int]]) -> torch.Tensor:
    gap = torch.zeros(b, n, dtype=torch.bool)
    for lo, hi in runs:
        gap[:, lo:hi] = True
    return gap


def test_interpolation_is_a_straight_line_between_visible_neighbours():
    n = 12
    mel = torch.arange(n, dtype=torch.float32).pow(2).expand(1, 3, n).clone()
    gap = _gap(1, n, [(3, 7), (10, 12)])
    line = interpolate_gaps(mel, gap)
    # frames 3..6 lie between frame 2 (4.0) and frame 7 (49.0)
    np.testing.assert_allclose(line[0, 0, 2:8].numpy(), np.linspace(4.0, 49.0, 6), rtol=1e-6)
    # a run that reaches the end is held at its last visible frame (9 -> 81)
    np.testing.assert_allclose(line[0, 1, 10:].numpy(), [81.0, 81.0])
    assert torch.equal(line[~gap[:, None, :].expand_as(line)], mel[~gap[:, None, :].expand_as(mel)])


def test_untrained_model_returns_interpolation_and_keeps_visible_frames():
    torch.manual_seed(0)
    model = MelTransformer(TINY).eval()
    mel = torch.randn(2, 80, 41) - 5
    gap = _gap(2, 41, [(15, 24)])
    out = model(mel, gap)
    assert out.shape == mel.shape  # odd frame counts survive the 2-frame tokens
    torch.testing.assert_close(out, interpolate_gaps(mel, gap))
    assert torch.equal(out[..., :15], mel[..., :15]) and torch.equal(out[..., 24:], mel[..., 24:])


def test_hidden_frames_do_not_leak_into_the_prediction():
    torch.manual_seed(0)
    model = MelTransformer(TINY).eval()
    torch.nn.init.normal_(model.out.weight, std=0.5)  # a model that does predict something
    mel = torch.randn(1, 80, 40) - 5
    gap = _gap(1, 40, [(10, 20)])
    other = mel.clone()
    other[..., 10:20] = 100.0  # what lies under the gap must not matter
    a, b = model(mel, gap), model(other, gap)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[..., 10:20], interpolate_gaps(mel, gap)[..., 10:20])


def test_level_shift_moves_the_prediction_by_the_same_amount():
    """The level is removed before the network, so a gain change (a constant in log-mel)
    shifts the prediction by exactly that constant."""
    torch.manual_seed(0)
    model = MelTransformer(TINY).eval()
    torch.nn.init.normal_(model.out.weight, std=0.5)
    mel = torch.randn(1, 80, 40) - 5
    gap = _gap(1, 40, [(12, 22)])
    torch.testing.assert_close(model(mel + 2.0, gap), model(mel, gap) + 2.0, atol=1e-4, rtol=0)


def test_save_and_load_round_trip(tmp_path):
    model = MelTransformer(TINY)
    model.save_pretrained(tmp_path)
    loaded = MelTransformer.from_pretrained(tmp_path)
    assert loaded.config == TINY
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_mel_training_smoke_resume_and_export(tmp_path):
    import soundfile as sf

    from voicemend.engine.training.mel import MelTrainConfig, train_mel

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.5, 16000), 16000)
    config = MelTrainConfig(window_s=1.0, batch_size=2, max_steps=2, log_every=1, max_gap_ms=200)
    run = tmp_path / "run"
    train_mel(run, config, data_root=data, model_config=TINY)
    config3 = MelTrainConfig(window_s=1.0, batch_size=2, max_steps=3, log_every=1, max_gap_ms=200)
    export = train_mel(run, config3, data_root=data, model_config=TINY)
    assert MelTransformer.from_pretrained(export).config == TINY
    rows = [json.loads(r) for r in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(np.isfinite(r["l1_gap"]) and r["l1_gap"] > 0 for r in rows)


def test_mel_training_in_bfloat16_autocast_tracks_float32_and_keeps_float32_weights(tmp_path):
    """``bf16`` runs the forward pass under bfloat16 autocast (meant for a GPU; the CPU has it
    too). On the same batches (the seed draws them, whatever the precision) its losses follow
    float32's within bfloat16's rounding, but not to the bit (autocast was on); the weights and
    the logged losses stay float32."""
    import soundfile as sf

    from voicemend.engine.training.mel import MelTrainConfig, train_mel

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(1.2, 16000), 16000)
    losses = {}
    for bf16 in (False, True):
        config = MelTrainConfig(
            window_s=1.0,
            batch_size=2,
            max_steps=12,
            log_every=1,
            max_gap_ms=200,
            warmup_steps=0,
            learning_rate=3e-3,
            augment=False,
            bf16=bf16,
        )
        run = tmp_path / f"run-{bf16}"
        export = train_mel(run, config, data_root=data, model_config=TINY)
        model = MelTransformer.from_pretrained(export)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        rows = [json.loads(r) for r in (run / "log.jsonl").read_text().splitlines()]
        losses[bf16] = np.array([r["loss"] for r in rows])
    fp32, bf16 = losses[False], losses[True]
    assert len(bf16) == 12 and np.isfinite(bf16).all()
    assert np.abs(bf16 - fp32).max() < 0.15 * fp32.mean()
    assert np.abs(bf16 - fp32).max() > 1e-4


def test_adversarial_fine_tuning_seeds_from_an_l1_checkpoint_and_resumes(tmp_path):
    """An L1 model's weights-only checkpoint seeds an adversarial run: the predictor keeps its
    weights, the critic starts fresh, both train, the predictor heeds the critic from the start
    step on, and the run resumes with both optimisers."""
    import shutil

    import soundfile as sf
    from safetensors.torch import load_file

    from voicemend.engine.training.mel import MelTrainConfig, train_mel

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.5, 16000), 16000)
    small = {"window_s": 1.0, "batch_size": 2, "log_every": 1, "max_gap_ms": 200}
    l1_run = tmp_path / "l1"
    train_mel(l1_run, MelTrainConfig(max_steps=2, **small), data_root=data, model_config=TINY)
    seed = tmp_path / "seed"  # weights only, as a committed checkpoint
    seed.mkdir()
    for name in ("model.safetensors", "state.json"):
        shutil.copy(l1_run / "checkpoint" / name, seed / name)
    seeded = load_file(str(seed / "model.safetensors"))

    adv = {"adversarial_weight": 0.5, "adversarial_start_step": 3, **small}
    run = tmp_path / "adv"
    train_mel(
        run, MelTrainConfig(max_steps=3, **adv), data_root=data, model_config=TINY, init_from=seed
    )
    assert (run / "checkpoint" / "discriminator.safetensors").exists()
    trained = load_file(str(run / "checkpoint" / "model.safetensors"))
    assert any(not torch.equal(trained[k], seeded[k]) for k in seeded)
    train_mel(run, MelTrainConfig(max_steps=4, **adv), data_root=data, model_config=TINY)
    rows = [json.loads(r) for r in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 4]  # continued from the seed's step 2
    assert all(np.isfinite(r["critic"]) for r in rows)
    assert "adversarial" not in rows[0] and np.isfinite(rows[1]["adversarial"])


def test_mel_critic_scores_each_frame_from_its_neighbourhood_and_the_mask():
    from voicemend.engine.models.discriminators import MelPatchDiscriminator

    torch.manual_seed(0)
    critic = MelPatchDiscriminator(n_mels=80)
    x = torch.randn(2, 80, 200)
    gap = _gap(2, 200, [(90, 110)])
    scores = critic(x, gap)
    assert scores.shape == (2, 200)
    far = x.clone()
    far[..., :10] += 3.0  # a change 70+ frames before the gap, beyond the critic's reach,
    far[..., 10:20] -= 3.0  # that leaves the context's level (which it removes) as it was
    assert torch.allclose(critic(far, gap)[:, 90:110], scores[:, 90:110], atol=1e-5)
    near = x.clone()
    near[..., 95:105] += 3.0
    assert not torch.allclose(critic(near, gap)[:, 90:110], scores[:, 90:110])
    moved = _gap(2, 200, [(120, 140)])
    assert not torch.allclose(critic(x, moved), scores)  # it reads the mask


def test_mel_loss_counts_only_the_gap():
    from voicemend.engine.training.mel import mel_loss

    target = torch.zeros(1, 4, 10)
    pred = target.clone()
    pred[..., :3] = 7.0  # wrong, but outside the gap and its edges
    hidden = _gap(1, 10, [(5, 7)])
    losses = mel_loss(pred, target, hidden, 1.0)
    assert losses["loss"].item() == 0.0
    pred[..., 5] = 1.0
    assert mel_loss(pred, target, hidden, 1.0)["l1_gap"].item() == pytest.approx(0.5)


def test_mel_settings_must_match_the_decoder():
    from voicemend.engine.inpaint.neural import NeuralMel
    from voicemend.engine.models.vocos import VocosConfig, VocosDecoder

    decoder = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1))
    other = MelTransformerConfig(**{**TINY.__dict__, "mel": MelConfig(n_mels=64)})
    with pytest.raises(ValueError, match="mel settings"):
        NeuralMel(MelTransformer(other), decoder, device="cpu")


@pytest.mark.parametrize(
    ("rate", "channels", "postfilter"), [(16000, 1, False), (48000, 2, False), (16000, 1, True)]
)
def test_neural_mel_keeps_the_contract(rate, channels, postfilter):
    from voicemend.engine import Audio, Region
    from voicemend.engine.crossfade import MAX_CROSSFADE_MS
    from voicemend.engine.inpaint.neural import NeuralMel
    from voicemend.engine.models.vocos import VocosConfig, VocosDecoder

    from ..conftest import speech_like

    torch.manual_seed(0)
    predictor = MelTransformer(TINY)
    torch.nn.init.normal_(predictor.out.weight, std=0.1)
    decoder = VocosDecoder(VocosConfig(dim=16, intermediate_dim=32, num_layers=1))
    x = np.stack([speech_like(1.5, rate, seed=c) for c in range(channels)])
    gap = Region(int(0.7 * rate), int(0.9 * rate))
    x[:, gap.start : gap.end] = 0
    damaged = Audio(x, rate)
    gv = GlobalVarianceConfig() if postfilter else None
    result = NeuralMel(predictor, decoder, device="cpu", postfilter=gv).inpaint(damaged, [gap])
    out = result.audio.samples
    xf = int(MAX_CROSSFADE_MS / 1000 * rate)
    keep = np.ones(damaged.n_frames, dtype=bool)
    keep[gap.start - xf : gap.end + xf] = False
    np.testing.assert_array_equal(out[:, keep], damaged.samples[:, keep])
    assert np.all(np.isfinite(out)) and np.abs(out[:, gap.start : gap.end]).max() > 0
    assert result.reports[0].method == "neural-mel"
    again = NeuralMel(predictor, decoder, device="cpu", postfilter=gv).inpaint(damaged, [gap])
    np.testing.assert_array_equal(out, again.audio.samples)
    if postfilter:  # the post-filter reaches the decoder: the fill is not the plain one
        plain = NeuralMel(predictor, decoder, device="cpu").inpaint(damaged, [gap]).audio.samples
        assert np.abs(plain[:, gap.start : gap.end] - out[:, gap.start : gap.end]).max() > 1e-4


def test_model_sizes_grow_and_base_is_the_shipped_model():
    from voicemend.engine.models.mel_transformer import MODEL_SIZES, sized_config
    from voicemend.engine.models.shipped import verified_folder

    params = {
        s: sum(p.numel() for p in MelTransformer(sized_config(s)).parameters()) for s in MODEL_SIZES
    }
    assert params["small"] < params["base"] < params["large"]
    shipped = MelTransformer.from_pretrained(verified_folder("mel")).config
    assert sized_config("base") == shipped
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        sized_config("huge")


def test_a_run_continues_with_the_model_it_started_with(tmp_path):
    from voicemend.engine.errors import CheckpointError
    from voicemend.engine.models.mel_transformer import sized_config
    from voicemend.engine.models.shipped import verified_folder
    from voicemend.engine.training.mel import resolve_model

    run = tmp_path / "run"
    assert resolve_model(run, None, None) == sized_config("small")  # a new run
    assert resolve_model(run, None, "base") == sized_config("base")
    (run / "checkpoint").mkdir(parents=True)
    state = {"step": 5, "config": {"model": TINY.to_dict()}}
    (run / "checkpoint" / "state.json").write_text(json.dumps(state))
    assert resolve_model(run, None, None) == TINY  # resuming needs no size
    with pytest.raises(CheckpointError, match="not the 'base' size"):
        resolve_model(run, None, "base")
    # seeded from a shipped model folder (its config.json): that model, whatever the default
    assert resolve_model(tmp_path / "new", verified_folder("mel"), None) == sized_config("base")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read the model settings"):
        resolve_model(tmp_path / "other", tmp_path / "bad", None)
