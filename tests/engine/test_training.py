"""Training recipes on tiny data: each runs, resumes, exports, and continues from a committed
weights-only checkpoint."""

import json

import numpy as np
import pytest
import torch

from voicemend.engine.models.hubert import HubertConfig, HubertEncoder
from voicemend.engine.models.vocos import VocosConfig, VocosDecoder

from .test_models import TINY

# I_PT's decoder reads 32-dim encoder features at the encoder's 20 ms stride.
TINY_IPT_DECODER = VocosConfig(
    input_channels=32, dim=16, intermediate_dim=32, num_layers=1, hop_length=320, n_fft=1280
)


def tiny_ipt_config():
    """Two I_PT steps on 24-frame windows, the GAN from the second."""
    from voicemend.engine.training.decoder import DecoderTrainConfig
    from voicemend.engine.training.ift import GapConfig
    from voicemend.engine.training.ipt import IptTrainConfig

    return IptTrainConfig(
        decoder=DecoderTrainConfig(max_steps=2, gan_start_step=1, log_every=1),
        gaps=GapConfig(max_gap_ms=100.0),
        window_frames=24,
        batch_size=2,
    )


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


def _tiny_predictor(folder):
    from voicemend.engine.models.mel_transformer import MelTransformer

    from .test_mel_transformer import TINY as TINY_MEL

    torch.manual_seed(0)
    predictor = MelTransformer(TINY_MEL).eval()
    # A visible output layer, so that the prediction differs from the straight line it starts at.
    torch.nn.init.normal_(predictor.out.weight, std=0.5)
    predictor.save_pretrained(folder)
    return predictor


def _gta_segments(tmp_path, predictor, postfilter=None):
    """Four ground-truth-aligned segments of 48 frames (100-300 ms gaps in 1.5 s windows) of
    one synthetic file, drawn with seed 3, and the log-mel that made them."""
    import soundfile as sf

    from voicemend.engine.models.mel import LogMel
    from voicemend.engine.training.data import train_pool
    from voicemend.engine.training.decoder import DecoderTrainConfig, predicted_segments
    from voicemend.engine.training.ift import GapConfig

    from ..conftest import speech_like

    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        sf.write(str(data / "a.wav"), speech_like(3.0, 16000), 16000)
    mel = LogMel(predictor.config.mel)
    config = DecoderTrainConfig(
        segment_frames=48,
        batch_size=4,
        augment=False,
        gta_window_s=1.5,
        gta_gaps=GapConfig(min_gap_ms=100.0, max_gap_ms=300.0, min_context_s=0.3),
        gta_postfilter=postfilter,
    )
    rng = np.random.default_rng(3)
    features, wave = predicted_segments(
        predictor, mel, train_pool(data), config, rng, None, torch.device("cpu")
    )
    return features, wave, mel


def test_ground_truth_aligned_segments_put_the_prediction_in_the_gap(tmp_path):
    """Each segment holds its example's whole gap with the predictor's frames there, the true
    mel elsewhere, and the clean waveform those frames were computed from."""
    predictor = _tiny_predictor(tmp_path / "predictor")
    features, wave, mel = _gta_segments(tmp_path, predictor)
    assert features.shape == (4, 80, 48) and wave.shape == (4, 48 * 160)
    true_mel = mel(wave)[..., :48]
    err = (features - true_mel).abs().mean(dim=1)  # (B, frames)
    for b in range(4):
        # the frames whose window lies inside the segment and away from the gap match the
        # true mel; somewhere a predicted gap frame does not
        far = err[b, 3:-3]
        assert float(far.min()) < 1e-3
        assert float(far.max()) > 0.1
        # the gap (silence in the damaged copy, speech here) is wholly inside: the edges of
        # the segment are visible frames
        assert float(err[b, 2]) < 1e-3 or float(err[b, -3]) < 1e-3


def test_ground_truth_aligned_segments_can_come_through_the_post_filter(tmp_path):
    """With ``gta_postfilter`` the decoder sees the predictor's gap frames as the post-filter
    leaves them: the same batch, the gap's frames moved, every other frame as it was."""
    from voicemend.engine.models.postfilter import GlobalVarianceConfig

    predictor = _tiny_predictor(tmp_path / "predictor")
    with torch.no_grad():  # a flat prediction, near the line across the gap, as a trained one is
        predictor.out.weight.mul_(0.02)
    plain, wave, mel = _gta_segments(tmp_path, predictor)
    filtered, wave2, _ = _gta_segments(tmp_path, predictor, GlobalVarianceConfig())
    assert torch.equal(wave, wave2)
    moved = (filtered - plain).abs().amax(dim=1) > 1e-5  # (B, frames)
    predicted = (plain - mel(wave)[..., :48]).abs().mean(dim=1) > 1e-3
    assert bool(moved.any())
    assert not bool((moved & ~predicted).any())  # only predicted (gap) frames move


def test_decoder_trains_on_a_predictor_and_records_it(tmp_path):
    import soundfile as sf

    from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder
    from voicemend.engine.training.ift import GapConfig

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.0, 16000), 16000)
    _tiny_predictor(tmp_path / "predictor")
    small = VocosConfig(dim=16, intermediate_dim=32, num_layers=1)
    config = DecoderTrainConfig(
        segment_frames=32,
        batch_size=2,
        max_steps=2,
        gan_start_step=0,
        log_every=1,
        gta_window_s=1.2,
        gta_gaps=GapConfig(min_gap_ms=20.0, max_gap_ms=200.0, min_context_s=0.3),
    )
    out = tmp_path / "run"
    export = train_decoder(
        out, config, data_root=data, model_config=small, predictor_dir=tmp_path / "predictor"
    )
    assert VocosDecoder.from_pretrained(export).config == small
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and state["config"]["predictor"] == str(tmp_path / "predictor")
    assert state["config"]["train"]["gta_gaps"]["max_gap_ms"] == 200.0
    rows = [json.loads(r) for r in (out / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss_g"]) and "loss_adv" in r for r in rows)


def test_decoder_refuses_a_predictor_with_other_mel_settings(tmp_path):
    from voicemend.engine.models.mel import MelConfig
    from voicemend.engine.training.decoder import DecoderTrainConfig, train_decoder

    _tiny_predictor(tmp_path / "predictor")
    other = VocosConfig(dim=16, intermediate_dim=32, num_layers=1, mel=MelConfig(n_mels=64))
    with pytest.raises(ValueError, match="other mel settings"):
        train_decoder(
            tmp_path / "run",
            DecoderTrainConfig(max_steps=1),
            model_config=other,
            predictor_dir=tmp_path / "predictor",
        )


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

    from voicemend.engine.training.ipt import train_ipt

    from ..conftest import speech_like

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.0, 16000), 16000)
    encoder = HubertEncoder(HubertConfig(**{**TINY, "num_hidden_layers": 1}))
    encoder.save_pretrained(tmp_path / "encoder")
    export = train_ipt(
        tmp_path / "run",
        tiny_ipt_config(),
        encoder_dir=tmp_path / "encoder",
        data_root=data,
        decoder_config=TINY_IPT_DECODER,
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
    # Without model settings the run takes the checkpoint's (not the default, larger decoder).
    export = train_decoder(tmp_path / "b2", second, data_root=data, init_from=committed)
    assert VocosDecoder.from_pretrained(export).config == small
    # The generator may live with the shipped models instead, named in links.json.
    shipped = tmp_path / "weights" / "decoder"
    shipped.mkdir(parents=True)
    (committed / "generator.safetensors").rename(shipped / "model.safetensors")
    (committed / "links.json").write_text('{"generator": "../weights/decoder/model.safetensors"}')
    train_decoder(tmp_path / "c", second, data_root=data, model_config=small, init_from=committed)
    assert json.loads((tmp_path / "c" / "checkpoint" / "state.json").read_text())["step"] == 2
    assert not (tmp_path / "c" / "checkpoint" / "links.json").exists()


def test_recipe_schedule_warms_up_then_decays():
    from voicemend.engine.training.decoder import DecoderTrainConfig
    from voicemend.engine.training.run import RecipeConfig

    config = RecipeConfig(learning_rate=1e-3, warmup_steps=100, lr_decay_per_1k=0.5)
    assert config.learning_rate_at(0) == pytest.approx(1e-5)
    assert config.learning_rate_at(49) == pytest.approx(5e-4 * 0.5**0.049)
    assert config.learning_rate_at(2000) == pytest.approx(1e-3 * 0.25)
    # An optimiser started afresh at step 2 000 (a run continued from weights alone) warms up
    # again from there, to the schedule's rate at that point.
    assert config.learning_rate_at(2000, warm_from=2000) == pytest.approx(1e-3 * 0.25 / 100)
    assert config.learning_rate_at(2049, warm_from=2000) == pytest.approx(5e-4 * 0.5**2.049)
    assert config.learning_rate_at(2100, warm_from=2000) == pytest.approx(1e-3 * 0.5**2.1)
    no_warmup = DecoderTrainConfig()  # the decoder starts at its full rate
    assert no_warmup.learning_rate_at(0) == no_warmup.learning_rate
    opt = config.optimizer([torch.nn.Parameter(torch.zeros(2))])
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["weight_decay"] == 0.01


def test_train_pool_names_the_folder_when_it_holds_no_training_audio(tmp_path):
    """A corpus with only dev rows, or an empty folder, fails before training, saying why."""
    from voicemend.engine.errors import VoicemendError
    from voicemend.engine.training.data import train_pool

    (tmp_path / "manifest.csv").write_text("path,speaker,split\na.flac,s1,dev\n")
    with pytest.raises(VoicemendError, match=r"no training audio in .*train split"):
        train_pool(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VoicemendError, match=r"no training audio in .*empty: it holds no audio"):
        train_pool(empty)


def test_a_run_seeds_from_shipped_weights_stored_as_int8(tmp_path):
    """A committed checkpoint links to shipped weights; stored as int8 (scales in the file) they
    still seed the run, within the storage's rounding."""
    from voicemend.engine.models.shipped import copy_weights
    from voicemend.engine.training.run import TrainingRun

    torch.manual_seed(0)
    model = torch.nn.Linear(128, 64)
    exported = tmp_path / "export.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(exported))
    shipped = tmp_path / "weights" / "model.safetensors"
    shipped.parent.mkdir()
    copy_weights(exported, shipped, "int8")
    committed = tmp_path / "committed"
    committed.mkdir()
    (committed / "state.json").write_text(
        json.dumps({"step": 5, "numpy_rng": np.random.default_rng(0).bit_generator.state})
    )
    (committed / "links.json").write_text('{"model": "../weights/model.safetensors"}')
    fresh = torch.nn.Linear(128, 64)
    opt = torch.optim.AdamW(fresh.parameters())
    run = TrainingRun(tmp_path / "run", {"model": fresh}, {"model": opt}, {}).start(committed)
    assert run.step == 5
    err = (fresh.weight - model.weight).abs().max() / model.weight.abs().max()
    assert 0 < err < 0.01  # int8 rounding, not a fresh initialisation


def test_a_run_continued_from_weights_alone_warms_up_again_and_remembers_where(tmp_path):
    """A weights-only checkpoint gives the run its step but a fresh optimiser, so the warm-up
    counts from that step; the run's own checkpoints (with optimiser state) keep that step."""
    from voicemend.engine.training.run import RecipeConfig, TrainingRun, run_recipe

    committed = tmp_path / "committed"
    committed.mkdir()
    model = torch.nn.Linear(4, 1)
    from safetensors.torch import save_file

    save_file(dict(model.state_dict()), str(committed / "model.safetensors"))
    (committed / "state.json").write_text(
        json.dumps({"step": 3000, "numpy_rng": np.random.default_rng(0).bit_generator.state})
    )
    config = RecipeConfig(learning_rate=1e-3, warmup_steps=100, max_steps=3002, log_every=1)

    def make_run() -> tuple[TrainingRun, torch.optim.Optimizer]:
        net = torch.nn.Linear(4, 1)
        opt = config.optimizer(net.parameters())
        return TrainingRun(tmp_path / "run", {"model": net}, {"model": opt}, {}), opt

    run, opt = make_run()
    run.start(committed)
    assert (run.step, run.warm_from) == (3000, 3000)
    rates = []

    def step() -> dict[str, torch.Tensor]:
        rates.append(opt.param_groups[0]["lr"])
        loss = run.modules["model"](torch.ones(1, 4)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}  # a tensor: read only when logged

    run_recipe(run, config, step)
    assert rates == pytest.approx([config.learning_rate_at(s, 3000) for s in (3000, 3001)])
    assert rates[0] < 0.02 * config.learning_rate_at(3000)  # not the full rate at once
    logged = [json.loads(r) for r in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [3001, 3002]
    assert all(isinstance(r["loss"], float) for r in logged)
    resumed, _ = make_run()
    resumed.start(committed)  # the run's own checkpoint wins, optimiser state and all
    assert (resumed.step, resumed.warm_from) == (3002, 3000)


def test_a_run_draws_from_its_own_seed_and_a_resumed_run_keeps_it(tmp_path):
    """The recipe's seed reaches the run's generator (it used to read a key the config dict
    nests, so every run drew as seed 0); resuming restores the saved seed, not the new one."""
    from voicemend.engine.training.run import TrainingRun

    def run(folder, seed):
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.AdamW(model.parameters())
        return TrainingRun(tmp_path / folder, {"m": model}, {"m": opt}, {}, seed=seed).start()

    a, b, c = run("a", 3), run("b", 3), run("c", 4)
    draws = [r.rng.integers(1 << 30, size=4).tolist() for r in (a, b, c)]
    assert draws[0] == draws[1] != draws[2]
    a.save()
    resumed = run("a", 9)
    assert resumed.seed == 3
    after = [r.rng.integers(1 << 30, size=4).tolist() for r in (resumed, a)]
    assert after[0] == after[1]


def _linear_run(folder, init_from=None):
    from voicemend.engine.training.run import TrainingRun

    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    return TrainingRun(folder, {"model": net}, {"model": opt}, {}).start(init_from), opt


def _signalling_step(run, opt, signals_at: dict[int, list[int]]):
    """A training step that sends this process the given signals in the middle of the step
    numbered by the dict's keys (counting from 0), before the optimiser update."""
    import os

    def step() -> dict[str, float]:
        loss = run.modules["model"](torch.ones(1, 4)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        for sig in signals_at.get(run.step, []):
            os.kill(os.getpid(), sig)
        opt.step()
        return {"loss": float(loss.detach())}

    return step


@pytest.mark.parametrize("sig_name", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_training_after_the_step_under_way_and_checkpoints_it(tmp_path, sig_name):
    """Ctrl-C (or a kill) lets the step under way finish, checkpoints the run there and raises
    TrainingStopped; running again resumes at that step. The handlers are put back after."""
    import signal

    from voicemend.engine.training.run import Budget, TrainingStopped, train_steps

    def unhandled(signum, frame):  # so that a regression fails the test, not kills pytest
        raise RuntimeError(f"signal {signum} reached the default handling")

    sig = getattr(signal, sig_name)
    original_term = signal.signal(signal.SIGTERM, unhandled)
    try:
        before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        run, opt = _linear_run(tmp_path / "run")
        step = _signalling_step(run, opt, {2: [sig]})
        with pytest.raises(TrainingStopped) as stopped:
            train_steps(run, Budget(100), step, log_every=1, checkpoint_every_s=1e9)
        after = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, original_term)
    assert after == before
    assert (stopped.value.step, stopped.value.signal_name) == (3, sig_name)
    assert stopped.value.folder == tmp_path / "run"
    assert isinstance(stopped.value, KeyboardInterrupt)  # what cancelling callers catch
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3
    weights = run.modules["model"].weight.detach().clone()
    resumed, _ = _linear_run(tmp_path / "run")
    assert resumed.step == 3
    assert torch.equal(resumed.modules["model"].weight, weights)  # the third update included


def test_a_second_signal_stops_training_at_once(tmp_path):
    import signal

    from voicemend.engine.training.run import Budget, TrainingStopped, train_steps

    # what Ctrl-C did before (Python's default, or ignored where the tests run in the
    # background of a shell without job control): training puts that back
    before = signal.getsignal(signal.SIGINT)
    run, opt = _linear_run(tmp_path / "run")
    step = _signalling_step(run, opt, {1: [signal.SIGINT, signal.SIGINT]})
    with pytest.raises(KeyboardInterrupt) as raised:
        train_steps(run, Budget(100), step, log_every=1, checkpoint_every_s=1e9)
    assert not isinstance(raised.value, TrainingStopped)
    assert run.step == 1  # the step under way did not finish
    assert signal.getsignal(signal.SIGINT) is before


def test_a_run_whose_save_was_interrupted_resumes_from_the_last_complete_checkpoint(tmp_path):
    """Between moving the old checkpoint aside and the new one in, only checkpoint.old holds a
    complete checkpoint: the run resumes from it instead of starting over (or being seeded)."""
    run, _ = _linear_run(tmp_path / "run")
    run.step = 7
    run.save()
    (tmp_path / "run" / "checkpoint").rename(tmp_path / "run" / "checkpoint.old")
    (tmp_path / "run" / "checkpoint.part").mkdir()  # the new one, half written
    seed = tmp_path / "seed"
    seed.mkdir()
    from safetensors.torch import save_file

    save_file(dict(torch.nn.Linear(4, 1).state_dict()), str(seed / "model.safetensors"))
    (seed / "state.json").write_text(json.dumps({"step": 1}))
    resumed, _ = _linear_run(tmp_path / "run", init_from=seed)
    assert resumed.step == 7
    assert torch.equal(resumed.modules["model"].weight, run.modules["model"].weight)
