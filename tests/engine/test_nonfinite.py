"""NaN/Inf samples are read as silence, noted, and repaired; without a log they are refused."""

import numpy as np
import pytest
import soundfile as sf

from voicemend.engine import blockwise
from voicemend.engine.audio import Audio
from voicemend.engine.blockwise import detect_in_blocks, repair_in_blocks
from voicemend.engine.corrupt import zero_gap
from voicemend.engine.detect import DropoutDetector, DropoutKind
from voicemend.engine.detect.types import DEFAULT_KINDS
from voicemend.engine.errors import AudioFileError
from voicemend.engine.inpaint import get_inpainter
from voicemend.engine.io import AudioReader, load
from voicemend.engine.nonfinite import NonfiniteLog
from voicemend.engine.regions import Region

from ..conftest import speech_like

SR = 16000
PAD = 8  # PAD_MS at 16 kHz


def test_take_zeroes_and_notes_each_run_by_channel():
    x = np.ones((2, 100), np.float32)
    x[0, 10:13] = np.nan
    x[1, 40] = np.inf
    x[1, 41] = -np.inf
    log = NonfiniteLog()
    y = log.take(x, first_frame=1000)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert (y[0, 10:13] == 0).all() and (y[1, 40:42] == 0).all()
    assert np.count_nonzero(y == 0) == 5  # nothing else touched
    assert log.runs == [(0, 1010, 1013), (1, 1040, 1042)]
    assert log.n_samples == 5
    clean = np.ones((1, 10), np.float32)
    assert log.take(clean) is clean  # no copy where nothing is wrong


def test_detections_are_padded_merged_across_channels_and_cut_to_a_block():
    log = NonfiniteLog({(0, 100, 103), (1, 104, 105), (0, 500, 501)})
    first, second = log.detections(SR, 1000)
    # the two channels' runs meet once padded: one detection in both channels
    assert first.region == Region(100 - PAD, 105 + PAD) and first.channels == (0, 1)
    assert first.kind is DropoutKind.NON_FINITE and first.confidence == 1.0
    assert second.region == Region(500 - PAD, 501 + PAD) and second.channels == (0,)
    # a block's view: frames from its start, cut to it, and only what reaches into it
    [cut] = log.detections(SR, 1000, start=496, end=800)
    assert cut.region == Region(0, 501 + PAD - 496)
    assert log.detections(SR, 1000, start=600, end=800) == []
    # at the file's edges the padding stops there
    [edge] = NonfiniteLog({(0, 0, 2)}).detections(SR, 4)
    assert edge.region == Region(0, 4)


def test_a_run_read_across_two_blocks_is_one_run(tmp_path):
    x = speech_like(1.0, SR)
    x[900:1100] = np.nan
    sf.write(str(tmp_path / "nan.wav"), x, SR, subtype="FLOAT")
    log = NonfiniteLog()
    with AudioReader(tmp_path / "nan.wav", log) as reader:
        a, b = reader.read(1000), reader.read(1000)
        reader.seek(0)
        reader.read(2000)  # read again after a seek: still one run
    assert np.isfinite(a).all() and np.isfinite(b).all()
    assert log.n_samples == 200
    [det] = log.detections(SR, x.size)
    assert det.region == Region(900 - PAD, 1100 + PAD)


def test_load_refuses_them_unless_given_a_log(tmp_path):
    x = speech_like(1.0, SR)
    x[1234] = np.nan
    sf.write(str(tmp_path / "nan.wav"), x, SR, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"NaN or Inf.*frame 1234.*voicemend repair"):
        load(tmp_path / "nan.wav")
    log = NonfiniteLog()
    audio = load(tmp_path / "nan.wav", nonfinite=log)
    assert np.isfinite(audio.samples).all() and log.runs == [(0, 1234, 1235)]


def test_the_detector_merges_known_damage_whatever_it_seeks():
    """A NaN run inside a zero run the detector finds is one region; the known kinds are not
    among the kinds sought, yet what is known is always reported."""
    assert DropoutKind.NON_FINITE not in DEFAULT_KINDS
    audio = zero_gap(Audio.from_array(speech_like(2.0, SR), SR), Region(SR, SR + 800))
    known = NonfiniteLog({(0, SR + 300, SR + 310)}).detections(SR, audio.n_frames)
    found = DropoutDetector()(audio, known=known)
    assert len(found) == 1 and found[0].region.start <= SR and found[0].region.end >= SR + 800
    [only] = DropoutDetector()(Audio.from_array(speech_like(2.0, SR), SR), known=known)
    assert only.kind is DropoutKind.NON_FINITE


def _stereo_with_nan(tmp_path, seconds=6.0):
    left, right = speech_like(seconds, SR, seed=1), speech_like(seconds, SR, seed=2, f0_hz=190)
    x = np.stack([left, 0.8 * right], axis=1)
    clean = x.copy()
    x[int(1.5 * SR) : int(1.5 * SR) + 3, 0] = np.nan  # a glitch in the left channel only
    x[int(3.2 * SR) : int(3.2 * SR) + 320, :] = np.nan  # 20 ms lost in both
    x[int(4.99 * SR) : int(5.01 * SR), :] = np.inf  # across a 2 s block's edge region
    src = tmp_path / "nan.wav"
    sf.write(str(src), x, SR, subtype="FLOAT")
    return src, x, clean


def test_a_repair_fills_them_and_leaves_the_rest_as_it_was(tmp_path):
    from voicemend.plugin.jobs import RepairJob, run_repair

    src, x, clean = _stereo_with_nan(tmp_path)
    outcome = run_repair(RepairJob(src, tmp_path / "out.wav", method="lsar"))
    y, _ = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert np.isfinite(y).all()
    assert outcome.nonfinite.n_samples == 3 + 2 * 320 + 2 * 320
    assert {d.kind for d in outcome.detections} == {DropoutKind.NON_FINITE}
    # outside each run's padding and crossfade (10 ms at most), bit for bit the input
    touched = np.zeros(len(y), bool)
    for r in outcome.reports:
        touched[max(0, r.region.start - 160) : r.region.end + 160] = True
    assert np.array_equal(y[~touched], x[~touched])
    # the left channel's glitch leaves the right channel as it was
    glitch = slice(int(1.5 * SR) - 200, int(1.5 * SR) + 200)
    assert np.array_equal(y[glitch, 1], x[glitch, 1])
    # the 20 ms are filled with speech, not left silent: near the clean signal's level
    lost = slice(int(3.2 * SR), int(3.2 * SR) + 320)
    level = np.sqrt(np.mean(y[lost] ** 2)) / np.sqrt(np.mean(clean[lost] ** 2))
    assert 0.3 < level < 3.0


def test_block_by_block_gives_the_whole_file_repair(tmp_path, monkeypatch):
    from voicemend.plugin.jobs import RepairJob, run_repair

    monkeypatch.setattr(blockwise, "MARGIN_S", 1.0)
    src, _, _ = _stereo_with_nan(tmp_path)
    whole = run_repair(RepairJob(src, tmp_path / "whole.wav", method="lsar"))
    log = NonfiniteLog()
    parts = repair_in_blocks(
        src, tmp_path / "parts.wav", get_inpainter("lsar"), block_s=2.0, nonfinite=log
    )
    assert parts.blocks > 1
    assert [r.region for r in parts.reports] == [r.region for r in whole.reports]
    a, _ = sf.read(str(tmp_path / "whole.wav"), dtype="float32")
    b, _ = sf.read(str(tmp_path / "parts.wav"), dtype="float32")
    np.testing.assert_allclose(b, a, atol=1e-6)
    assert log.runs == whole.nonfinite.runs
    _, _, found = detect_in_blocks(src, block_s=2.0)
    assert [d.region for d in found] == [d.region for d in whole.detections]


def test_a_run_too_long_to_fill_is_left_as_silence_and_said_so(tmp_path, monkeypatch):
    """A filter that blew up leaves NaN to the end of the file: seconds no method can fill."""
    from voicemend.engine.nonfinite import LONGEST_FILL_S
    from voicemend.plugin.jobs import RepairJob, run_repair

    x = speech_like(6.0, SR)
    x[SR : SR + 5] = np.nan  # a glitch, filled
    tail = int(3.5 * SR)
    x[-tail:] = np.nan  # 3.5 s to the end, left as silence
    src = tmp_path / "blown.wav"
    sf.write(str(src), x, SR, subtype="FLOAT")
    outcome = run_repair(RepairJob(src, tmp_path / "out.wav", auto=True, method="lsar"))
    y, _ = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert np.isfinite(y).all() and not np.any(y[-tail:])
    assert [r.region.start < SR < r.region.end for r in outcome.reports] == [True]
    log = outcome.nonfinite
    assert log.too_long(SR) == [(0, x.size - tail, x.size)] and tail > LONGEST_FILL_S * SR
    assert [d.region.end < SR + 100 for d in log.detections(SR, x.size)] == [True]
    assert log.outcome(SR).endswith(
        "read as silence; 1 run(s) over 2 s (the first at 2.500 s) left so, too long to fill; "
        "the rest repaired"
    )
    assert NonfiniteLog({(0, 10, 12)}).outcome(SR).endswith("read as silence and repaired")
    # block by block the run is read in parts, each short: it is still left whole
    monkeypatch.setattr(blockwise, "MARGIN_S", 0.5)
    blocks = repair_in_blocks(src, tmp_path / "parts.wav", get_inpainter("lsar"), block_s=1.0)
    assert blocks.blocks > 1
    assert [r.region for r in blocks.reports] == [r.region for r in outcome.reports]
    parts, _ = sf.read(str(tmp_path / "parts.wav"), dtype="float32")
    np.testing.assert_allclose(parts, y, atol=1e-6)
