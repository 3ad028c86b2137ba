"""The concealment detector: its network, its labels and loss, its regions, its recipe."""

import numpy as np
import pytest
import torch

from voicemend.engine import Audio
from voicemend.engine.detect import DetectorSettings, DropoutDetector, DropoutKind
from voicemend.engine.detect.concealment import ConcealmentSettings, find_concealment
from voicemend.engine.models.concealment import ConcealmentNet, ConcealmentNetConfig
from voicemend.engine.models.mel import MelConfig
from voicemend.engine.opus import opus_available
from voicemend.engine.training.concealment import (
    IGNORE,
    ConcealmentTrainConfig,
    LossConfig,
    concealed_example,
    concealment_loss,
    frame_labels,
    train_concealment,
)

from ..conftest import speech_like

TINY = ConcealmentNetConfig(
    mel=MelConfig(n_fft=512, win_length=400, n_mels=16), channels=8, dilations=(1, 2)
)


class ScriptedNet(ConcealmentNet):
    """A network whose frame probabilities the test sets (``self.prob`` per 10 ms frame)."""

    def __init__(self, prob: np.ndarray) -> None:
        super().__init__(TINY)
        self.prob = prob

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        p = torch.zeros(wave.shape[0], self.frames(wave.shape[-1]))
        n = min(p.shape[-1], self.prob.size)
        p[:, :n] = torch.from_numpy(self.prob[:n]).float()
        return torch.logit(p.clamp(1e-4, 1 - 1e-4))


def test_the_network_gives_one_log_odds_per_frame_and_reloads_the_same(tmp_path):
    net = ConcealmentNet(TINY).eval()
    wave = torch.from_numpy(speech_like(0.5, 16000))[None]
    out = net(wave)
    assert out.shape == (1, 50)
    net.save_pretrained(tmp_path)
    again = ConcealmentNet.from_pretrained(tmp_path)
    assert again.config == TINY
    assert torch.equal(again(wave), out)
    assert TINY.reach_frames == 4


def test_frame_labels_count_losses_in_speech_and_skip_pauses_and_recovery():
    hop, sr = 160, 16000
    reference = np.zeros(100 * hop, np.float32)
    reference[: 60 * hop] = 0.1 * np.sin(np.arange(60 * hop) * 0.3)  # speech, then a pause
    concealed = np.zeros(reference.size, bool)
    concealed[10 * hop : 14 * hop] = True  # lost in speech
    concealed[70 * hop : 72 * hop] = True  # lost in the pause
    labels = frame_labels(concealed, reference, hop, LossConfig(recovery_ms=30.0), sr)
    assert labels[10:14].tolist() == [1.0] * 4
    assert labels[14:17].tolist() == [IGNORE] * 3  # the decoder finding its way back
    assert labels[17] == 0.0 and labels[9] == 0.0
    assert labels[70:72].tolist() == [IGNORE] * 2
    assert labels[72:75].tolist() == [IGNORE] * 3
    assert np.sum(labels == 1.0) == 4


def test_the_loss_skips_frames_that_are_not_counted():
    labels = torch.tensor([[1.0, 0.0, IGNORE, IGNORE]])
    a = concealment_loss(torch.tensor([[2.0, -2.0, 5.0, -5.0]]), labels, 2.0)
    b = concealment_loss(torch.tensor([[2.0, -2.0, -9.0, 9.0]]), labels, 2.0)
    assert torch.isclose(a["loss"], b["loss"])
    assert float(a["accuracy"]) == 1.0 and float(a["recall"]) == 1.0
    c = concealment_loss(torch.tensor([[-2.0, -2.0, 0.0, 0.0]]), labels, 2.0)
    assert float(c["loss"]) > float(a["loss"]) and float(c["recall"]) == 0.0


def test_an_uncoded_example_has_no_concealed_frame():
    x = speech_like(1.0, 16000)
    rng = np.random.default_rng(0)
    y, labels = concealed_example(x, rng, LossConfig(uncoded_prob=1.0), 16000, 160)
    assert np.array_equal(y, x) and labels.shape == (100,) and not labels.any()


@pytest.mark.skipif(not opus_available(), reason="libopus0 is not installed")
def test_a_coded_example_labels_its_lost_packets():
    x = speech_like(3.0, 16000, seed=4)
    config = LossConfig(uncoded_prob=0.0, lossless_prob=0.0, bursts_per_s=(3.0, 3.0))
    y, labels = concealed_example(x, np.random.default_rng(3), config, 16000, 160)
    assert y.shape == x.shape and labels.shape == (300,)
    assert 0 < np.sum(labels == 1.0) < 150
    assert np.sum(labels == IGNORE) > 0


def test_probable_frames_become_padded_regions_and_short_ones_count_half():
    prob = np.zeros(200)
    prob[50:60] = 0.9  # 100 ms
    prob[61:66] = 0.9  # joined to it across a 10 ms dip
    prob[120:122] = 0.8  # 20 ms: listed, at half confidence
    prob[150] = 0.99  # 10 ms: too short
    settings = ConcealmentSettings(pad_before_ms=5.0, pad_after_ms=10.0)
    found = find_concealment(np.zeros(32000, np.float32), 16000, ScriptedNet(prob), settings)
    assert [d.kind for d in found] == [DropoutKind.CONCEALED] * 2
    first, second = found
    assert (first.region.start, first.region.end) == (50 * 160 - 80, 66 * 160 + 160)
    # a mean frame probability of sure_probability (0.7) is confidence 0.5, and 1 is 1
    assert first.confidence == pytest.approx(0.5 + 0.5 * (0.9 * 15 / 16 - 0.7) / 0.3, abs=1e-4)
    assert (second.region.start, second.region.end) == (120 * 160 - 80, 122 * 160 + 160)
    assert second.confidence == pytest.approx((0.5 + 0.5 * 0.1 / 0.3) / 2, abs=1e-4)


def test_regions_land_on_the_files_own_rate():
    prob = np.zeros(100)
    prob[40:50] = 0.9
    settings = ConcealmentSettings(pad_before_ms=0.0, pad_after_ms=0.0)
    found = find_concealment(np.zeros(48000, np.float32), 48000, ScriptedNet(prob), settings)
    assert [(d.region.start, d.region.end) for d in found] == [(19200, 24000)]


def test_the_detector_uses_the_network_its_settings_name(tmp_path):
    ConcealmentNet(TINY).save_pretrained(tmp_path / "net")
    settings = DetectorSettings(
        concealment=ConcealmentSettings(model=tmp_path / "net"),
        kinds=(DropoutKind.CONCEALED,),
        min_confidence=0.0,
    )
    detector = DropoutDetector(settings)
    found = detector(Audio.from_array(speech_like(1.0, 16000), 16000))
    assert detector.concealment_net is not None
    assert detector.concealment_net.config == TINY
    assert all(d.kind is DropoutKind.CONCEALED for d in found)


def test_a_run_beside_a_hole_leaves_the_hole_its_exact_edges():
    """Around a zeroed stretch the network hears a fade; the level rule's edges stand, and a
    run elsewhere is still listed."""
    from voicemend.engine.detect import DEFAULT_KINDS

    x = speech_like(2.0, 16000, seed=4)
    x[16000:17600] = 0.0
    prob = np.zeros(200)
    prob[95:115] = 0.9  # over the hole and 50 ms around it
    prob[150:160] = 0.9
    detector = DropoutDetector(DetectorSettings(kinds=(*DEFAULT_KINDS, DropoutKind.CONCEALED)))
    detector.concealment_net = ScriptedNet(prob)
    found = detector(Audio.from_array(x, 16000))
    assert [d.kind for d in found] == [DropoutKind.DIGITAL_SILENCE, DropoutKind.CONCEALED]
    hole, run = found
    assert abs(hole.region.start - 16000) <= 16 and abs(hole.region.end - 17600) <= 16
    assert run.region.start == 150 * 160 - 80


@pytest.mark.skipif(not opus_available(), reason="libopus0 is not installed")
def test_the_recipe_trains_resumes_and_exports(tmp_path):
    import json

    import soundfile as sf

    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        sf.write(str(data / f"{i}.wav"), speech_like(2.0, 16000, seed=i), 16000)
    config = ConcealmentTrainConfig(
        window_s=1.0, batch_size=2, max_steps=1, log_every=1, data_workers=0
    )
    out = tmp_path / "run"
    export = train_concealment(out, config, data_root=data, model_config=TINY)
    assert ConcealmentNet.from_pretrained(export).config == TINY
    later = ConcealmentTrainConfig(
        window_s=1.0, batch_size=2, max_steps=2, log_every=1, data_workers=0
    )
    train_concealment(out, later, data_root=data, model_config=TINY)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert {"loss", "accuracy", "recall"} <= set(logged[-1])


def test_concealment_is_sought_only_when_asked():
    from voicemend.engine.detect import DEFAULT_KINDS

    assert DropoutKind.CONCEALED not in DetectorSettings().kinds
    opt_in = {DropoutKind.CONCEALED, DropoutKind.CLICK}
    assert set(DEFAULT_KINDS) | opt_in | {DropoutKind.NON_FINITE} == set(DropoutKind)
    detector = DropoutDetector()
    detector(Audio.from_array(speech_like(1.0, 16000), 16000))
    assert "concealment_net" not in vars(detector)  # the network is not even loaded


@pytest.mark.data
@pytest.mark.skipif(not opus_available(), reason="libopus0 is not installed")
def test_the_shipped_network_finds_a_concealed_burst_and_not_the_coded_speech(dev_utterance):
    """A dev utterance (a speaker never trained on) through Opus with 100 ms of packets lost in
    its speech: the shipped detector marks that burst, surely, and nothing in the same speech
    decoded without loss."""
    from voicemend.engine.corrupt import speech_positions
    from voicemend.engine.io import load
    from voicemend.engine.opus import OpusCodec

    x = load(dev_utterance).to_mono().resampled(16000).samples[0]
    codec = OpusCodec(24000, 16000)
    place = speech_positions(x, 16000, 6 * 320, 1, np.random.default_rng(5))[0]
    first = -(-place.start // 320)
    lost = set(range(first, first + 5))
    settings = DetectorSettings(kinds=(DropoutKind.CONCEALED,))
    found = DropoutDetector(settings)(Audio.from_array(codec.roundtrip(x, lost), 16000))
    burst = (first * 320, (first + 5) * 320)
    hits = [d for d in found if d.region.start < burst[1] and d.region.end > burst[0]]
    assert hits and hits[0].confidence >= 0.5
    assert not DropoutDetector(settings)(Audio.from_array(codec.roundtrip(x), 16000))


def test_silence_negatives_gate_and_cut_and_mark_the_cuts_clean():
    from voicemend.engine.runs import true_runs
    from voicemend.engine.training.concealment import silenced

    x = speech_like(2.0, 16000, seed=6)
    x[12000:20000] *= 0.01  # a pause, for the gate to close on
    labels = np.ones(200, np.float32)
    cut, cut_labels = silenced(
        x, labels, np.random.default_rng(2), LossConfig(cut_prob=1.0), 16000, 160
    )
    runs = [r for r in true_runs(cut == 0.0) if r[1] - r[0] >= 160]
    assert runs and labels.all()  # cut, and the caller's labels left alone
    for lo, hi in runs:
        assert np.all(cut_labels[-(-lo // 160) : hi // 160] == 0.0)
    assert np.sum(cut_labels == 0.0) <= sum(hi - lo for lo, hi in runs) // 160 + 2 * len(runs)
    gated, gated_labels = silenced(
        x, labels, np.random.default_rng(2), LossConfig(gate_prob=1.0), 16000, 160
    )
    assert np.sum(gated == 0.0) > 0 and np.array_equal(gated_labels, labels)
    same, same_labels = silenced(x, labels, np.random.default_rng(2), LossConfig(), 16000, 160)
    assert np.array_equal(same, x) and np.array_equal(same_labels, labels)


def test_a_detection_in_one_channel_also_names_a_channel_with_the_same_signal():
    """A mono call saved as two channels (here with a −60 dB difference) is one dropout in
    both; a second, different voice is left out."""
    from voicemend.engine.detect.detector import _with_twins
    from voicemend.engine.detect.types import Detection
    from voicemend.engine.regions import Region

    x = speech_like(1.0, 16000, seed=3)
    rng = np.random.default_rng(0)
    twin = x + 1e-3 * np.sqrt(np.mean(x**2)) * rng.standard_normal(x.size)
    other = speech_like(1.0, 16000, seed=4)
    det = Detection(Region(4000, 5600), DropoutKind.CONCEALED, 0.55, (0,))
    audio = Audio(np.stack([x, twin, other]).astype(np.float32), 16000)
    assert _with_twins(audio, det).channels == (0, 1)
    assert _with_twins(Audio(np.stack([x, other]).astype(np.float32), 16000), det).channels == (0,)
