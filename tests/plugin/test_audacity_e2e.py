"""End to end against the real Audacity (Debian package `audacity`), headless under Xvfb.

A fresh HOME, a first start that registers mod-script-pipe, the module enabled in the settings
file, a second start, then the `voicemend audacity` commands as a user runs them. Skipped where
no `audacity` binary exists, unless VOICEMEND_REQUIRE_AUDACITY=1 (set by CI), which makes a
missing Audacity a failure.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine.metrics import log_spectral_distance
from voicemend.plugin.audacity import AudacityError, AudacityPipe
from voicemend.plugin.audacity_headless import HeadlessAudacity
from voicemend.plugin.audacity_ops import LABEL_TRACK_NAME

REQUIRED = os.environ.get("VOICEMEND_REQUIRE_AUDACITY") == "1"
if not REQUIRED and (shutil.which("audacity") is None or shutil.which("Xvfb") is None):
    pytest.skip(
        "the real Audacity and xvfb-run are needed (apt-get install audacity xvfb); "
        "CI installs them and sets VOICEMEND_REQUIRE_AUDACITY=1",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture(scope="module")
def audacity(tmp_path_factory):
    home = tmp_path_factory.mktemp("audacity-home")
    runner = HeadlessAudacity(home)
    try:
        pipe = runner.__enter__()
    except AudacityError as exc:
        if "another Audacity" in str(exc) and not REQUIRED:
            pytest.skip(str(exc))
        raise
    yield {"pipe": pipe, "home": home, "runner": runner}
    runner.__exit__()


def _fresh_project(pipe: AudacityPipe, path: Path) -> None:
    if pipe.tracks():
        pipe.command("SelectAll")
        pipe.command("RemoveTracks")
    pipe.command("Import2", Filename=str(path))


def _export(pipe: AudacityPipe, path: Path, seconds: float, channels: int) -> np.ndarray:
    pipe.command("Select", Start=0.0, End=seconds, Track=0.0, TrackCount=1.0, Mode="Set")
    pipe.command("Export2", Filename=str(path), NumChannels=channels)
    return sf.read(str(path), dtype="int16", always_2d=True)[0]


def _voicemend(*args: str, home: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "voicemend.plugin.cli", "audacity", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def speech(dev_utterance):
    x, sr = sf.read(str(dev_utterance), dtype="int16")
    assert sr == 16000
    return x[: 5 * sr]


def test_status_lists_the_tracks(audacity, speech, tmp_path):
    path = tmp_path / "talk.wav"
    sf.write(str(path), speech, 16000, subtype="PCM_16")
    _fresh_project(audacity["pipe"], path)
    out = _voicemend("status", home=audacity["home"]).stdout
    assert "connected to Audacity 3." in out and "'talk' (wave, 1 channel(s)" in out
    assert "project rate: 16000 Hz" in out


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2)])
def test_repair_selection_fills_the_gap_in_place(audacity, speech, tmp_path, rate, channels):
    from scipy.signal import resample_poly

    pipe = audacity["pipe"]
    mono = speech if rate == 16000 else resample_poly(speech / 32768, rate // 16000, 1)
    mono = mono if rate == 16000 else np.round(np.clip(mono, -1, 1 - 2**-15) * 32768)
    clean = np.stack([mono] * channels, axis=1).astype(np.int16)
    damaged = clean.copy()
    a, b = 2 * rate, int(2.2 * rate)
    damaged[a:b] = 0
    path = tmp_path / "gap.wav"
    sf.write(str(path), damaged, rate, subtype="PCM_16")
    _fresh_project(pipe, path)
    # at 48 kHz the selection stops 2 ms short of each edge: it is snapped to the zeros' edges
    inset = 0.0 if rate == 16000 else 0.002
    pipe.command(
        "Select", Start=2.0 + inset, End=2.2 - inset, Track=0.0, TrackCount=1.0, Mode="Set"
    )
    out = _voicemend("repair-selection", "--method", "lsar", home=audacity["home"]).stdout
    assert "repaired 'gap' 2.000-2.200 s (200 ms, lsar)" in out
    assert ("snapped to a dropout's edges: +2.0 ms before, +2.0 ms after" in out) == bool(inset)
    repaired = _export(pipe, tmp_path / "out.wav", 5.0, channels)
    assert repaired.shape == damaged.shape
    crossfade = rate // 100  # 10 ms
    outside = np.ones(len(damaged), bool)
    outside[a - crossfade : b + crossfade] = False
    np.testing.assert_array_equal(repaired[outside], damaged[outside])  # sample-exact
    m0, m1 = a - rate // 20, b + rate // 20
    for ch in range(channels):
        before = log_spectral_distance(clean[m0:m1, ch] / 32768, damaged[m0:m1, ch] / 32768, rate)
        after = log_spectral_distance(clean[m0:m1, ch] / 32768, repaired[m0:m1, ch] / 32768, rate)
        assert after < before
    pipe.command("Undo")  # one step takes the repair back
    np.testing.assert_array_equal(_export(pipe, tmp_path / "undone.wav", 5.0, channels), damaged)


def test_detect_labels_three_dropouts_then_repair_labels(audacity, speech, tmp_path):
    pipe = audacity["pipe"]
    damaged = speech.copy()
    truth = [(1.0, 1.1), (2.5, 2.65), (3.8, 3.86)]
    for s, e in truth:
        damaged[round(s * 16000) : round(e * 16000)] = 0
    path = tmp_path / "three.wav"
    sf.write(str(path), damaged, 16000, subtype="PCM_16")
    _fresh_project(pipe, path)
    _voicemend("detect", home=audacity["home"])
    if os.environ.get("VOICEMEND_AUDACITY_SCREENSHOT"):  # scripts/audacity_screenshot.sh
        audacity["runner"].screenshot(Path(os.environ["VOICEMEND_AUDACITY_SCREENSHOT"]))
    tracks = pipe.tracks()
    label_track = next(t for t in tracks if t.kind == "label")
    assert label_track.name == LABEL_TRACK_NAME
    labels = pipe.labels()[label_track.index]
    assert len(labels) == 3
    for (s, e), (a, b, text) in zip(truth, labels, strict=True):
        assert abs(a - s) <= 0.010 and abs(b - e) <= 0.010
        assert text.startswith("digital_silence")
    _voicemend("repair-labels", "--method", "lsar", home=audacity["home"])
    repaired = _export(pipe, tmp_path / "fixed.wav", 5.0, 1)[:, 0]
    for s, e in truth:
        assert (
            np.count_nonzero(repaired[round(s * 16000) : round(e * 16000)]) > 0.9 * (e - s) * 16000
        )


def _newest_labels(pipe) -> list:
    """The labels of the project's last label track."""
    track = next(t for t in reversed(pipe.tracks()) if t.kind == "label")
    return pipe.labels().get(track.index, [])


def test_detect_concealed_labels_a_calls_concealed_loss_only_when_asked(audacity, speech, tmp_path):
    from voicemend.engine.corrupt import speech_positions
    from voicemend.engine.opus import OpusCodec, opus_available

    if not opus_available():
        pytest.skip("libopus0 is not installed")
    pipe = audacity["pipe"]
    codec = OpusCodec(24000, 16000)
    x = speech / 32768.0
    place = speech_positions(x, 16000, 6 * 320, 1, np.random.default_rng(5))[0]
    first = -(-place.start // 320)
    call = codec.roundtrip(x, set(range(first, first + 5)))
    path = tmp_path / "call.wav"
    sf.write(str(path), np.clip(call, -1, 1), 16000, subtype="PCM_16")
    burst = (first * 320 / 16000, (first + 5) * 320 / 16000)

    _fresh_project(pipe, path)
    _voicemend("detect", home=audacity["home"])
    assert _newest_labels(pipe) == []
    _fresh_project(pipe, path)
    _voicemend("detect", "--concealed", home=audacity["home"])
    found = _newest_labels(pipe)
    assert any(
        a < burst[1] and b > burst[0] and text.startswith("concealed") for a, b, text in found
    )


def test_detect_clicks_labels_a_click_only_when_asked(audacity, speech, tmp_path):
    pipe = audacity["pipe"]
    from voicemend.engine.audio import Audio
    from voicemend.engine.corrupt import add_click

    at = round(2.345 * 16000)
    voice = Audio.from_array(speech / 32768.0, 16000)
    x = add_click(voice, at, np.ones(1), 35.0)[0].samples[0]
    path = tmp_path / "click.wav"
    sf.write(str(path), np.clip(x, -1, 1), 16000, subtype="PCM_16")

    _fresh_project(pipe, path)
    _voicemend("detect", home=audacity["home"])
    assert _newest_labels(pipe) == []
    _fresh_project(pipe, path)
    _voicemend("detect", "--clicks", home=audacity["home"])
    [(a, b, text)] = _newest_labels(pipe)
    assert a <= at / 16000 < b and b - a < 0.003 and text.startswith("click")


def test_a_one_side_dropout_is_labelled_and_repaired_on_that_side_only(audacity, speech, tmp_path):
    pipe = audacity["pipe"]
    left, right = speech.copy(), np.roll(speech, 8000)
    right[round(2.0 * 16000) : round(2.1 * 16000)] = 0
    path = tmp_path / "two.wav"
    sf.write(str(path), np.stack([left, right], 1), 16000, subtype="PCM_16")
    _fresh_project(pipe, path)
    _voicemend("detect", home=audacity["home"])
    label_track = next(t for t in pipe.tracks() if t.kind == "label")
    labels = pipe.labels()[label_track.index]
    assert len(labels) == 1 and labels[0][2].endswith("[R]")
    _voicemend("repair-labels", "--method", "lsar", home=audacity["home"])
    repaired = _export(pipe, tmp_path / "fixed.wav", 5.0, 2)
    assert np.array_equal(repaired[:, 0], left)
    assert np.count_nonzero(repaired[32000:33600, 1]) > 1400


def test_editor_fetches_the_selection_and_sends_repairs_back(audacity, speech, tmp_path, qtbot):
    from PyQt6.QtCore import QSettings

    from voicemend.gui.main_window import MainWindow

    pipe = audacity["pipe"]
    damaged = speech.copy()
    damaged[2 * 16000 : int(2.15 * 16000)] = 0
    path = tmp_path / "edit.wav"
    sf.write(str(path), damaged, 16000, subtype="PCM_16")
    _fresh_project(pipe, path)
    pipe.command("Select", Start=1.0, End=3.0, Track=0.0, TrackCount=1.0, Mode="Set")
    window = MainWindow(settings=QSettings(str(tmp_path / "e.ini"), QSettings.Format.IniFormat))
    window.ask = lambda _q, choices=("Yes", "No"): choices[-1]
    qtbot.addWidget(window)
    window.fetch_from_audacity()
    qtbot.waitUntil(lambda: window.job is None and window.document is not None, timeout=60000)
    assert window.document.duration_s == pytest.approx(2.0, abs=1e-3)
    window.waveform.select(1.0, 1.15)  # the gap, in the fetched excerpt's own time
    window.method.setCurrentText("lsar")
    window.repair_selection()
    qtbot.waitUntil(lambda: window.job is None and bool(window.document.patches), timeout=60000)
    window.send_to_audacity()
    qtbot.waitUntil(lambda: window.job is None, timeout=60000)
    assert window.last_sent_to_audacity == 1, window.last_error
    repaired = _export(pipe, tmp_path / "sent.wav", 5.0, 1)[:, 0]
    a, b, xf = 2 * 16000, int(2.15 * 16000), 160
    assert np.count_nonzero(repaired[a:b]) > 0.9 * (b - a)
    outside = np.ones(len(damaged), bool)
    outside[a - xf : b + xf] = False
    np.testing.assert_array_equal(repaired[outside], damaged[outside])
    window.undo_stack.setClean()
